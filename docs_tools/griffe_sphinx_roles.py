# ruff: noqa: INP001 (loaded by path from mkdocs.yml, never imported as part of a package)
"""A griffe extension for the docs site: render the docstrings' Sphinx roles as cross-references.

cloudkit's docstrings name other objects the Sphinx way, ``:class:`~cloudkit.Secret```, ``:meth:`stop```,
``:func:`load_scenario```, ``:data:``, ``:mod:``, ``:attr:``, ``:exc:`` and ``:obj:`` (``~`` shows the
last name only; ``title <target>`` shows the title). mkdocstrings knows none of that and would print
the roles literally, so, before griffe parses a docstring, each role is rewritten here into
mkdocstrings' cross-reference ``[`text`][dotted.path]``, or into inline code ```text``` when the target
is not an entry of the site: under ``mkdocs build --strict`` a reference to an anchor no page has fails
the build, so a reference is only made to an object an API page renders.

An object the pages render is a name in the ``__all__`` of a package with a page under docs/reference/
(``::: package`` there), and, for a class, its public members; its anchor is the public path
(``cloudkit.billing.BillingClient``), while the docstrings often give the path it is defined at
(``cloudkit.billing._client.BillingClient``) or a bare name. A target is tried as written, then relative
to the class and the module of the docstring's object, then through that module's imports; each
candidate is followed to the object it names and mapped to where a page renders it. Last, a bare name
with a dot or a capital (``PortalBackend.add_customer``, ``Secret``) that ends exactly one rendered
path is taken as that one.

Loaded by path from mkdocs.yml (``extensions:`` of the mkdocstrings python handler), after
``griffe_members.py``, whose hidden re-exports are not entries.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import griffe

_ROLE = re.compile(r":(?:py:)?(?P<role>class|meth|func|data|mod|attr|exc|obj|const):`(?P<body>[^`]+)`")
_TITLED = re.compile(r"^(?P<title>.+?)\s*<(?P<target>[^<>]+)>$")
_DIRECTIVE = re.compile(r"^:::\s+(?P<path>[\w.]+)\s*$", re.MULTILINE)


def documented_packages(reference: Path = Path("docs/reference")) -> list[str]:
    """The packages with an API page: every ``::: package`` line under docs/reference/."""
    return sorted(
        {m["path"] for page in reference.glob("*.md") for m in _DIRECTIVE.finditer(page.read_text())}
    )


class SphinxRoles(griffe.Extension):
    """Rewrite ``:role:`target``` into a cross-reference to the rendered entry, or inline code."""

    def __init__(self, reference: str = "docs/reference") -> None:
        """``reference``: the folder of the API pages (their ``::: package`` lines say what is rendered)."""
        super().__init__()
        self.packages = documented_packages(Path(reference))

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:  # noqa: ARG002 (griffe's hook signature)
        """Once the package is loaded (aliases resolvable): rewrite every docstring in it."""
        collection = pkg.modules_collection
        rendered = _rendered(
            collection, [p for p in self.packages if p == pkg.path or p.startswith(pkg.path + ".")]
        )
        if not rendered:
            return
        for obj in _objects(pkg, seen=set()):
            if obj.docstring is not None and ":" in obj.docstring.value:
                obj.docstring.value = _ROLE.sub(
                    lambda m, o=obj: _rewrite(m, o, collection, rendered), obj.docstring.value
                )


def _rendered(collection: griffe.ModulesCollection, packages: list[str]) -> dict[str, str]:
    """Every path (public or canonical) of an object an API page renders, mapped to its anchor."""
    anchors: dict[str, str] = {}

    def add(obj: griffe.Object | griffe.Alias, anchor: str) -> None:
        anchors[anchor] = anchor
        try:
            target = obj.final_target if obj.is_alias else obj
        except (griffe.AliasResolutionError, griffe.CyclicAliasError):
            return
        anchors.setdefault(target.path, anchor)
        if target.is_class:
            for name, member in target.members.items():
                if member.is_alias or not member.is_public or name == "__init__":
                    continue
                add(member, f"{anchor}.{name}")

    for path in packages:
        package = collection[path]
        anchors.setdefault(path, path)
        for name in package.exports or ():
            member = package.members.get(name) if isinstance(name, str) else None
            if member is not None and member.is_public:
                add(member, f"{path}.{name}")
    return anchors


def _objects(obj: griffe.Object, seen: set[str]) -> list[griffe.Object]:
    """The object and everything defined in it (not what it imports)."""
    if obj.path in seen:
        return []
    seen.add(obj.path)
    found = [obj]
    for member in obj.members.values():
        if not member.is_alias:
            found.extend(_objects(member, seen))
    return found


def _rewrite(
    match: re.Match[str], obj: griffe.Object, collection: griffe.ModulesCollection, rendered: dict[str, str]
) -> str:
    body = match["body"].strip()
    titled = _TITLED.match(body)
    if titled:
        title, target = titled["title"], titled["target"].strip()
    else:
        target = body
        title = body.lstrip("~.")
        if body.startswith("~"):
            title = title.rsplit(".", 1)[-1]
    target = target.lstrip("~.!")
    anchor = _resolve(target, obj, collection, rendered)
    return f"[`{title}`][{anchor}]" if anchor else f"`{title}`"


def _resolve(
    target: str, obj: griffe.Object, collection: griffe.ModulesCollection, rendered: dict[str, str]
) -> str | None:
    for candidate in _candidates(target, obj):
        if candidate in rendered:
            return rendered[candidate]
        try:
            found = collection[candidate]
            final = found.final_target if found.is_alias else found
        except (KeyError, ValueError, griffe.AliasResolutionError, griffe.CyclicAliasError):
            continue
        if final.path in rendered:
            return rendered[final.path]
    if "." not in target and not target[:1].isupper():
        return None  # a bare function or method name: too common to guess which one
    ends = [anchor for anchor in set(rendered.values()) if anchor.endswith("." + target)]
    return ends[0] if len(ends) == 1 else None


def _candidates(target: str, obj: griffe.Object) -> list[str]:
    """The paths ``target`` may mean in the docstring of ``obj``, most specific first."""
    candidates = [target]
    scope: griffe.Object | None = obj
    while scope is not None:
        if scope.is_class or scope.is_module:
            candidates.append(f"{scope.path}.{target}")
        scope = scope.parent
    module = obj.module
    head, _, rest = target.partition(".")
    imported = module.imports.get(head)
    if imported:
        candidates.append(f"{imported}.{rest}" if rest else imported)
    return candidates
