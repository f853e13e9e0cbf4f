# ruff: noqa: INP001 (loaded by path from mkdocs.yml, never imported as part of a package)
"""A griffe extension for the docs site: which members the API pages show.

The pages select members with mkdocstrings' ``filters: public`` (a package page shows its ``__all__``).
That option cannot be combined with name patterns (it is either ``public`` or a list of regexes), so the
two refinements below are made here, on the objects griffe loaded for the site (never on the source):

- **no dunder methods**: a class's ``__repr__``, ``__enter__``, ``__exit__``, ``__getitem__``,
  ``__attrs_post_init__``, ... are Python protocol, not API to look up, and crowd the tables of
  contents. ``__call__`` stays (calling the object is its API), and ``__init__`` is left alone: it is
  merged into its class (``merge_init_into_class``).
- **each object documented once**: a name that a package re-exports from another documented package
  (``hide`` in mkdocs.yml, e.g. ``cloudkit.Platform``, documented on the ``cloudkit.platform`` page) is
  left off the re-exporting page (its ``public`` flag, which ``filters: public`` reads, set to false);
  the page says where it is, and cross-references go to the one entry.

Loaded by path from mkdocs.yml (``extensions:`` of the mkdocstrings python handler).
"""

from __future__ import annotations

from typing import Any

import griffe

_KEPT_DUNDERS = frozenset({"__init__", "__call__"})


class PublicMembers(griffe.Extension):
    """Drop dunder methods from the loaded classes; mark re-exports documented on another page not public."""

    def __init__(self, hide: dict[str, list[str]] | None = None) -> None:
        """``hide``: for a package path, the exported names its page leaves to another page."""
        super().__init__()
        self.hide = hide or {}

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:  # noqa: ARG002 (griffe's hook signature)
        """Once the package is loaded: drop the dunders of every class, hide the listed re-exports."""
        _hide_dunders(pkg, seen=set())
        for package_path, names in self.hide.items():
            if package_path != pkg.path and not package_path.startswith(pkg.path + "."):
                continue
            package = pkg.modules_collection[package_path]
            for name in names:
                package.members[name].public = False  # a KeyError names a stale entry in mkdocs.yml


def _hide_dunders(obj: griffe.Object, seen: set[str]) -> None:
    if obj.path in seen:
        return
    seen.add(obj.path)
    for name, member in list(obj.members.items()):
        if member.is_alias:
            continue  # documented where it is defined
        if obj.is_class and name.startswith("__") and name not in _KEPT_DUNDERS:
            # dropped, not flagged: a page renders a class through its public alias, whose members are
            # fresh aliases that do not carry a ``public`` flag set here
            obj.del_member(name)
        elif member.is_module or member.is_class:
            _hide_dunders(member, seen)
