"""``cloudkit drift``: what changed in an upstream's answers between two recordings.

Two cassettes (or two folders of them, paired by relative path) are compared request by request. A
request is keyed by method, path (UUIDs and numeric segments read ``{id}``) and, for billing, ``func``;
the n-th request with a key in one recording is paired with the n-th in the other. For each pair the
reply status and body are compared: JSON bodies structurally, field by field (``$.doc.elem[0].name``),
other bodies as text.

Known to vary, so never reported as *changed* (still reported when added or missing):

- values of the keys in :data:`VOLATILE_KEYS` (ids, timestamps, request ids, hrefs);
- inside any string: UUIDs, ISO-8601 timestamps, and the port of a URL (``http://h:1234`` reads
  ``http://h:{port}``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qsl, urlsplit

import attrs
import yaml  # type: ignore[import-untyped]  # PyYAML (a vcrpy dependency) ships no stubs

__all__ = ["VOLATILE_KEYS", "Drift", "compare_recordings", "render"]

VOLATILE_KEYS = frozenset({
    "$id", "id", "uuid", "elid", "request_id", "audit_ids", "created", "created_at", "updated_at",
    "last_modified", "issued_at", "expires_at", "href", "timestamp", "date",
})  # fmt: skip
"""JSON keys whose values differ between any two recordings (compared for presence only)."""

_UUID = re.compile(r"[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}", re.IGNORECASE)
_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})?")
_PORT = re.compile(r"(//[^/:\s\"']+):\d+")
_NUMERIC = re.compile(r"/\d+(?=/|$)")
_ABSENT = object()

DriftKind = Literal["changed", "added", "missing"]


@attrs.frozen
class Drift:
    """One difference between recording A and recording B.

    ``kind`` is ``changed`` (both have ``field``, with different values), ``added`` (only B has it) or
    ``missing`` (only A has it); ``field`` is ``status``, a JSON path such as ``$.doc.elem[0].name``,
    ``body`` (a non-JSON body) or ``request`` (the whole request is in one recording only).

    Example:
        >>> from cloudkit.testing import Drift
        >>> drift = Drift("a.yaml", "GET /servers #1", "changed", "$.servers[0].status", "'A'", "'B'")
        >>> print(drift)
        a.yaml: GET /servers #1: changed $.servers[0].status: 'A' -> 'B'
    """

    cassette: str
    request: str
    kind: DriftKind
    field: str
    before: str = ""
    after: str = ""

    def __str__(self) -> str:
        """One line, as ``cloudkit drift`` prints it."""
        values = f": {self.before} -> {self.after}" if self.kind == "changed" else ""
        return f"{self.cassette}: {self.request}: {self.kind} {self.field}{values}"


def _mask(text: str) -> str:
    return _PORT.sub(r"\1:{port}", _TIMESTAMP.sub("{time}", _UUID.sub("{uuid}", text)))


def _body_text(body: Any) -> str:
    value = body.get("string", "") if isinstance(body, dict) else body
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return "" if value is None else str(value)


def _request_key(request: dict[str, Any]) -> str:
    parts = urlsplit(str(request.get("uri", "")))
    path = _NUMERIC.sub("/{id}", _UUID.sub("{id}", parts.path))
    params = dict(parse_qsl(parts.query))
    body = _body_text(request.get("body"))
    if "=" in body and not body.lstrip().startswith(("{", "[")):
        params.update(parse_qsl(body))
    func = f" func={params['func']}" if "func" in params else ""
    return f"{request.get('method', '?')} {path}{func}"


def _load(path: Path) -> list[tuple[str, dict[str, Any]]]:
    """``(request key #n, response)`` of every interaction in a cassette."""
    # libyaml's safe loader when PyYAML was built with it (about ten times faster on big recordings)
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    document = yaml.load(path.read_text(encoding="utf-8"), Loader=loader) or {}  # noqa: S506 - a safe loader
    seen: dict[str, int] = {}
    out = []
    for interaction in document.get("interactions", []):
        key = _request_key(interaction.get("request", {}))
        seen[key] = seen.get(key, 0) + 1
        out.append((f"{key} #{seen[key]}", interaction.get("response", {})))
    return out


def _leaves(node: Any, path: str = "$") -> Iterator[tuple[str, Any]]:
    if isinstance(node, dict):
        if not node:
            yield path, {}
        for key, value in node.items():
            yield from _leaves(value, f"{path}.{key}")
    elif isinstance(node, list):
        if not node:
            yield path, []
        for index, value in enumerate(node):
            yield from _leaves(value, f"{path}[{index}]")
    else:
        yield path, node


def _volatile(field: str) -> bool:
    last = re.sub(r"\[\d+\]$", "", field).rsplit(".", 1)[-1]
    return last in VOLATILE_KEYS


def _compare_bodies(a: str, b: str) -> Iterator[tuple[DriftKind, str, str, str]]:
    try:
        left, right = json.loads(a), json.loads(b)
    except ValueError:
        if _mask(a) != _mask(b):
            yield "changed", "body", repr(a[:60]), repr(b[:60])
        return
    fields_a, fields_b = dict(_leaves(left)), dict(_leaves(right))
    for field in sorted(fields_a.keys() | fields_b.keys()):
        before, after = fields_a.get(field, _ABSENT), fields_b.get(field, _ABSENT)
        if after is _ABSENT:
            yield "missing", field, repr(before), ""
        elif before is _ABSENT:
            yield "added", field, "", repr(after)
        elif not _volatile(field) and _normal(before) != _normal(after):
            yield "changed", field, repr(before), repr(after)


def _normal(value: Any) -> Any:
    return _mask(value) if isinstance(value, str) else value


def _compare_cassettes(name: str, a: Path, b: Path) -> list[Drift]:
    left, right = dict(_load(a)), dict(_load(b))
    drifts = []
    for key in [*left, *(k for k in right if k not in left)]:
        if key not in right:
            drifts.append(Drift(name, key, "missing", "request"))
            continue
        if key not in left:
            drifts.append(Drift(name, key, "added", "request"))
            continue
        status_a = left[key].get("status", {}).get("code")
        status_b = right[key].get("status", {}).get("code")
        if status_a != status_b:
            drifts.append(Drift(name, key, "changed", "status", str(status_a), str(status_b)))
        body_a, body_b = _body_text(left[key].get("body")), _body_text(right[key].get("body"))
        drifts += [Drift(name, key, *diff) for diff in _compare_bodies(body_a, body_b)]
    return drifts


def compare_recordings(a: str | Path, b: str | Path) -> list[Drift]:
    """Every difference between recording ``a`` and recording ``b`` (two cassettes or two folders).

    Example:
        >>> import tempfile
        >>> from pathlib import Path
        >>> from cloudkit.testing import compare_recordings
        >>> folder = Path(tempfile.mkdtemp())
        >>> def cassette(name, body):
        ...     reply = {"status": {"code": 200}, "body": {"string": body}}
        ...     request = {"method": "GET", "uri": "http://h:81/servers/7"}
        ...     text = yaml.safe_dump({"interactions": [{"request": request, "response": reply}]})
        ...     (folder / name).write_text(text)
        ...     return folder / name
        >>> import yaml
        >>> a = cassette("a.yaml", '{"server": {"id": 7, "status": "ACTIVE", "name": "web"}}')
        >>> b = cassette("b.yaml", '{"server": {"id": 8, "status": "SHUTOFF", "zone": "nova"}}')
        >>> for drift in compare_recordings(a, b):
        ...     print(drift)
        a.yaml: GET /servers/{id} #1: missing $.server.name
        a.yaml: GET /servers/{id} #1: changed $.server.status: 'ACTIVE' -> 'SHUTOFF'
        a.yaml: GET /servers/{id} #1: added $.server.zone
    """
    a, b = Path(a), Path(b)
    if a.is_file() and b.is_file():
        return _compare_cassettes(a.name, a, b)
    if not (a.is_dir() and b.is_dir()):
        msg = f"compare two cassette files or two cassette folders, not {a} and {b}"
        raise ValueError(msg)
    names_a = {p.relative_to(a).as_posix() for p in a.rglob("*.yaml")}
    names_b = {p.relative_to(b).as_posix() for p in b.rglob("*.yaml")}
    drifts = []
    for name in sorted(names_a | names_b):
        if name not in names_b:
            drifts.append(Drift(name, "*", "missing", "cassette"))
        elif name not in names_a:
            drifts.append(Drift(name, "*", "added", "cassette"))
        else:
            drifts += _compare_cassettes(name, a / name, b / name)
    return drifts


def render(drifts: list[Drift]) -> str:
    r"""The report ``cloudkit drift`` prints: one line per drift and a count.

    Example:
        >>> from cloudkit.testing._drift import render
        >>> render([])
        'no drift\n'
    """
    if not drifts:
        return "no drift\n"
    lines = [str(drift) for drift in drifts]
    cassettes = len({drift.cassette for drift in drifts})
    lines.append(f"{len(drifts)} differences in {cassettes} cassettes")
    return "\n".join(lines) + "\n"
