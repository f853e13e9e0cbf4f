"""Stable recordings: what changes on every recording of the same scenario, made the same.

Recording one scenario twice against the fakes gives different bytes where nothing changed: the fakes'
ports, ids made with ``uuid4`` (servers, volumes, request ids, client markers), timestamps, the
``Date`` header, Keystone audit ids. :class:`CassetteNormalizer` rewrites each of them to a placeholder
that depends only on the order things were first seen in the cassette, so a re-recording diffs only
where behaviour changed, and replay still matches:

- an id first seen in a *reply* becomes ``00000000-0000-4000-a000-<n>`` (same spelling: dashed, or 32
  hex digits as Keystone writes them) everywhere in the cassette; the client then sends the
  placeholder it read from the cassette, which is left alone, so the request matches;
- an id first seen in a *request* (a client-side marker or uuid) becomes ``00000000-0000-4000-b000-<n>``;
  vcrpy runs the same request filter on a replayed request, so the n-th new id of the replay gets the
  same placeholder;
- ids that are already stable are kept: uuid5s (the fakes' seeded users, projects, images) and the
  ``00000000-0000-4000-...`` family (:func:`~cloudkit.testing.deterministic_uuids`, placeholders);
- a loopback ``host:port`` becomes ``127.0.0.1:9`` (the discard port: nothing answers there), unless the
  ports mean something (lab recordings match on them);
- timestamps become ``2000-01-01T00:00:<n>`` in order of first sight (format, separator, fraction
  length and zone kept); a token's ``expires_at`` becomes far future (a replayed token never expires);
  ``Date`` is fixed and ``Content-Length`` follows the body; Nova's ``adminPass`` is ``REDACTED``.

Every filter is a fixed point on its own output: vcrpy runs the filters again on the interactions it
loads from a cassette, and placeholders are left as they are.

A cassette written with normalization says ``normalized: true`` in its header. Cassettes without it
(recorded before) replay exactly as they were: the filter is off for them.

Example:
    >>> from types import SimpleNamespace
    >>> from cloudkit.testing._normalize import CassetteNormalizer
    >>> norm = CassetteNormalizer()
    >>> reply = {"headers": {"Date": ["Mon, 02 Jun 2025 10:00:00 GMT"]},
    ...          "body": {"string": b'{"server": {"id": "3f1c9a52-2b7e-4c1d-9a8e-5d6f7a8b9c0d",'
    ...                             b' "created": "2025-06-02T10:00:00Z"}}'}}
    >>> norm.response(reply)["body"]["string"]
    b'{"server": {"id": "00000000-0000-4000-a000-000000000001", "created": "2000-01-01T00:00:01Z"}}'
    >>> request = SimpleNamespace(uri="http://127.0.0.1:41234/servers/3f1c9a52-2b7e-4c1d-9a8e-5d6f7a8b9c0d",
    ...                           body=None, headers={})
    >>> norm.request(request).uri
    'http://127.0.0.1:9/servers/00000000-0000-4000-a000-000000000001'
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Any

__all__ = ["NORMALIZED_LINE", "CassetteNormalizer"]

NORMALIZED_LINE = "normalized: true"
"""The header line of a cassette written with normalization."""

FAR_FUTURE = "2099-12-31T23:59:59.000000Z"
FIXED_DATE = "Sat, 01 Jan 2000 00:00:00 GMT"
_STABLE_PREFIX = "0000000000004000"  # deterministic_uuids() and the placeholders below
_UUID = re.compile(
    r"(?<![0-9A-Za-z])(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{32})(?![0-9A-Za-z])"
)
_LOOPBACK = re.compile(r"(?<![0-9A-Za-z.])(?:127\.0\.0\.1|localhost|\[::1\]):\d{1,5}(?!\d)")
_TIMESTAMP = re.compile(
    r"(?<!\d)(\d{4})-(\d{2})-(\d{2})([T ])(\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(Z|[+-]\d{2}:?\d{2})?(?!\d)"
)
_TF_UUID = re.compile(r'"uuid_lslong":\s*(\d+),\s*"uuid_mslong":\s*(\d+)')  # TF's id_perms.uuid
_EXPIRES = re.compile(r'("expires_at"\s*:\s*")[^"]*(")')
_AUDIT_IDS = re.compile(r'("audit_ids"\s*:\s*\[)[^\]]*(\])')
_ADMIN_PASS = re.compile(r'("adminPass"\s*:\s*")[^"]*(")')
_EPOCH = dt.datetime(2000, 1, 1)  # noqa: DTZ001 (a placeholder: the zone, if any, is the recorded one's)


class CassetteNormalizer:
    """Rewrites one cassette's volatile values to stable placeholders (see the module docs).

    One instance per cassette: the placeholders follow the order values are first seen in it.
    ``ports=False`` keeps loopback ports (recordings from the lab, whose matcher compares them).
    """

    def __init__(self, *, ports: bool = True) -> None:
        """Start with nothing seen."""
        self.ports = ports
        self._ids: dict[str, str] = {}  # 32 hex digits -> the placeholder's 32 hex digits
        self._counts = {"a": 0, "b": 0}
        self._times: dict[str, str] = {}
        self._learning_times = False

    # ------------------------------------------------------------------------------ values
    def _placeholder(self, hex32: str, family: str) -> str:
        known = self._ids.get(hex32)
        if known is None:
            self._counts[family] += 1
            known = f"{_STABLE_PREFIX}{family}000{self._counts[family]:012d}"
            self._ids[hex32] = known
        return known

    @staticmethod
    def _stable(hex32: str) -> bool:
        return hex32.startswith(_STABLE_PREFIX) or uuid.UUID(hex32).version == 5  # noqa: PLR2004 (uuid5)

    def _ids_in(self, text: str, *, learn: str | None) -> str:
        """Replace known ids; with ``learn`` (a placeholder family), new unstable ids become known too."""

        def one(found: str) -> str:
            hex32 = found.replace("-", "")
            if self._stable(hex32):
                return found
            if hex32 not in self._ids and learn is None:
                return found
            new = self._placeholder(hex32, learn or "a")
            return str(uuid.UUID(new)) if "-" in found else new

        def swap_longs(match: re.Match[str]) -> str:
            value = int(one(uuid.UUID(int=(int(match.group(2)) << 64) | int(match.group(1))).hex), 16)
            return f'"uuid_lslong": {value & (2**64 - 1)}, "uuid_mslong": {value >> 64}'

        return _TF_UUID.sub(swap_longs, _UUID.sub(lambda match: one(match.group(0)), text))

    def _time(self, match: re.Match[str]) -> str:
        found = match.group(0)
        if match.group(1) >= "2090" or found.startswith("2000-01-01"):
            return found  # far future on purpose (token expiry), or already a placeholder: keep
        known = self._times.get(found)
        if known is None and not self._learning_times:
            return found
        if known is None:
            moment = _EPOCH + dt.timedelta(seconds=len(self._times) + 1)
            fraction = match.group(8) or ""
            text = moment.strftime(f"%Y-%m-%d{match.group(4)}%H:%M:%S")
            known = text + ("." + "0" * (len(fraction) - 1) if fraction else "") + (match.group(9) or "")
            self._times[found] = known
        return known

    def _text(self, text: str, *, learn: str | None, reply: bool) -> str:
        """``reply``: new timestamps are learned and reply-only fields rewritten; else known ones only."""
        text = self._ids_in(text, learn=learn)
        if self.ports:
            text = _LOOPBACK.sub("127.0.0.1:9", text)
        if reply:
            text = _EXPIRES.sub(rf"\g<1>{FAR_FUTURE}\g<2>", text)
            text = _AUDIT_IDS.sub(r'\g<1>"AUDIT"\g<2>', text)
            text = _ADMIN_PASS.sub(r"\g<1>REDACTED\g<2>", text)
        self._learning_times = reply
        return _TIMESTAMP.sub(self._time, text)

    # ------------------------------------------------------------------------------ vcrpy filters
    def request(self, request: Any) -> Any:
        """The ``before_record_request`` filter: ids learned so far, new ids of the request, the port."""
        if request is None:
            return None
        request.uri = self._text(str(request.uri), learn="b", reply=False)
        text = _as_text(request.body)
        if text:
            request.body = self._text(text, learn="b", reply=False).encode()
        for name in list(request.headers):
            value = request.headers[name]
            if isinstance(value, str):
                request.headers[name] = self._text(value, learn=None, reply=False)
        return request

    def response(self, response: dict[str, Any]) -> dict[str, Any]:
        """The ``before_record_response`` filter: new ids, timestamps, ports, ``Date``, ``Content-Length``."""
        body = response.get("body", {}).get("string", b"")
        text = _as_text(body)
        if text:
            body = self._text(text, learn="a", reply=True).encode()
            response["body"]["string"] = body
        headers = response.get("headers", {})
        for name in list(headers):
            lowered = name.lower()
            if lowered == "date":
                headers[name] = [FIXED_DATE]
            elif lowered == "content-length":
                headers[name] = [str(len(body) if isinstance(body, bytes) else 0)]
            else:
                headers[name] = [self._text(str(v), learn="a", reply=True) for v in headers[name]]
        return response


def _as_text(body: object) -> str | None:
    """The body as text, or ``None`` when it is empty or not UTF-8 (an image's bytes are kept as they are)."""
    if isinstance(body, str):
        return body or None
    if isinstance(body, bytes) and body:
        try:
            return body.decode("utf-8")
        except UnicodeDecodeError:
            return None
    return None
