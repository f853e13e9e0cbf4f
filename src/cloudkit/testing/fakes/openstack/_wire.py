"""Wire helpers of the OpenStack fake: error answers, bodies, times, microversions, paging."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar, cast

from cloudkit.testing.fakes._kit import HttpError, Reply, Request
from cloudkit.testing.fakes.openstack._envelopes import Envelope, envelope_of, envelope_reply

_T = TypeVar("_T")
STATUS_GOOD = 200
STATUS_MULTIPLE = 300


@dataclass(eq=False, kw_only=True)
class ApiError(HttpError):
    """An error answer; the envelope follows the service unless given."""

    envelope: Envelope | None = None

    def reply(self, service: str) -> Reply:
        """The answer for this error from ``service``."""
        return envelope_reply(self.envelope or envelope_of(service), self.status, self.message, self.headers)


def empty(status: int = 202, headers: Iterable[tuple[str, str]] = ()) -> Reply:
    """An answer without a body (webob's default content type)."""
    return Reply(status, b"", "text/html; charset=UTF-8", tuple(headers))


def body_of(req: Request) -> dict[str, Any]:
    """The request body as a JSON object; 400 otherwise."""
    try:
        doc = req.json() if req.body else None
    except ValueError:
        raise ApiError(400, "Malformed request body") from None
    if not isinstance(doc, dict):
        raise ApiError(400, "Malformed request body")
    return doc


def iso(wall: float, *, style: Literal["nova", "cinder", "keystone"]) -> str:
    """A wall time as the service prints it."""
    moment = dt.datetime.fromtimestamp(wall, dt.UTC)
    if style == "nova":
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    if style == "cinder":  # MySQL DATETIME keeps whole seconds: the lab's Cinder shows ".000000"
        return moment.strftime("%Y-%m-%dT%H:%M:%S.000000")
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def sanitize_hostname(name: str) -> str:
    """Nova's ``sanitize_hostname``: lower case, spaces and underscores to ``-``, only ``[a-z0-9.-]``."""
    text = re.sub(r"[ _]", "-", name.lower())
    text = re.sub(r"[^\w.-]+", "", text, flags=re.ASCII).strip(".-")
    return text[:63] or "server"


def parse_version(text: str) -> tuple[int, int] | None:
    """``"2.79"`` → ``(2, 79)``; None when it is not ``major.minor``."""
    match = re.fullmatch(r"\s*(\d+)\.(\d+)\s*", text)
    return (int(match.group(1)), int(match.group(2))) if match else None


def version_text(version: tuple[int, int]) -> str:
    """``(2, 79)`` → ``"2.79"``."""
    return f"{version[0]}.{version[1]}"


def as_bool(value: object) -> bool:
    """An API boolean (a JSON boolean or oslo's strings)."""
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on", "t", "y")
    return bool(value)


_TRUE_WORDS = ("1", "t", "true", "on", "y", "yes")
_FALSE_WORDS = ("0", "f", "false", "off", "n", "no")


def strict_bool(value: object, *, schema: bool = False) -> bool | None:
    """A boolean as oslo's ``bool_from_string(strict=True)`` reads it; None for any other word.

    ``schema`` takes Nova's JSON-schema ``boolean`` instead, the same words without the one-letter ones.
    A caller answers None with its own service's 400 text.

    Example:
        >>> strict_bool(" Yes "), strict_bool("t"), strict_bool("t", schema=True), strict_bool(False)
        (True, True, None, False)
    """
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if schema and text in ("t", "f", "y", "n"):
        return None
    return True if text in _TRUE_WORDS else False if text in _FALSE_WORDS else None


def as_int(value: object, name: str) -> int:
    """An API integer; 400 naming ``name`` otherwise."""
    try:
        number = int(cast("Any", value))
    except (TypeError, ValueError):
        raise ApiError(400, f"Invalid input for field/attribute {name}. Value: {value}.") from None
    return number


def page(
    items: list[_T], req: Request, key: Callable[[_T], str], max_size: int | None = None
) -> tuple[list[_T], str | None]:
    """Nova/Cinder paging: ``marker`` (an id) and ``limit``; a full page names the next marker.

    ``max_size`` is the server's own cap (Nova's ``max_limit``): a page never holds more, whatever
    ``limit`` asked for (or when none was given).
    """
    marker = req.arg("marker")
    if marker is not None:
        index = next((n for n, item in enumerate(items) if key(item) == marker), None)
        if index is None:
            # assumption: Nova's MarkerNotFound text
            raise ApiError(400, f"marker [{marker}] not found")
        items = items[index + 1 :]
    limit_text = req.arg("limit")
    if limit_text is None and max_size is None:
        return items, None
    limit = max_size if limit_text is None else as_int(limit_text, "limit")
    if limit is None or limit < 0:
        raise ApiError(400, "limit param must be positive")
    if max_size is not None:
        limit = min(limit, max_size)
    chosen = items[:limit]
    return chosen, (key(chosen[-1]) if chosen and len(chosen) == limit and len(items) > limit else None)
