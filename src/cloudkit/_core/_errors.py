"""The one status-to-error map, the one request-id reader and the one secret scrubber.

Every system turns an HTTP refusal into an :class:`~cloudkit.errors.ApiError` subclass through
:func:`error_for_status`; a system that reads a status differently says so in ``overrides``, nowhere else.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TypeVar

from cloudkit._core._http import redact
from cloudkit.errors import (
    ApiError,
    AuthenticationError,
    CloudkitError,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    ServerError,
)

__all__ = ["REQUEST_ID_HEADERS", "error_for_status", "request_id_from", "scrub"]

_BY_STATUS: Mapping[int, type[ApiError]] = {
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    412: ConflictError,  # a precondition (If-Match, TF's quota check) failed: the state forbids the change
    413: RateLimitedError,  # OpenStack's overLimit (Nova, Cinder): rate or absolute limit reached
    429: RateLimitedError,
}
_SERVER_ERROR = 500
E = TypeVar("E", bound=CloudkitError)

# Header names, lower-cased, in order of preference: the first one present names the request.
REQUEST_ID_HEADERS = (
    "x-openstack-request-id",
    "x-compute-request-id",
    "openstack-request-id",
    "x-request-id",
)


def error_for_status(
    status: int | None, *, system: str, overrides: Mapping[int, type[ApiError]] | None = None
) -> type[ApiError]:
    """The :class:`~cloudkit.errors.ApiError` subclass for an HTTP refusal of ``status`` by ``system``.

    401 authentication, 403 permission, 404 not found, 409 and 412 conflict, 413 and 429 rate-limited,
    5xx server error, anything else the plain ``ApiError``. ``overrides`` (status to class) is how one
    system reads a status differently; ``system`` names who answered (kept for the callers' symmetry and
    for overrides keyed by system in one place).

    Example:
        >>> from cloudkit._core import error_for_status
        >>> from cloudkit.errors import ApiError
        >>> error_for_status(409, system="session").__name__, error_for_status(503, system="billing").__name__
        ('ConflictError', 'ServerError')
        >>> error_for_status(413, system="tungsten", overrides={413: ApiError}).__name__
        'ApiError'
    """
    del system  # every system shares the map; differences arrive through overrides
    if status is None:
        return ApiError
    if overrides and status in overrides:
        return overrides[status]
    if status >= _SERVER_ERROR:
        return ServerError
    return _BY_STATUS.get(status, ApiError)


def request_id_from(headers: Mapping[str, str] | None) -> str | None:
    """The upstream's request id from reply headers (``x-openstack-request-id`` and kin), or ``None``.

    Example:
        >>> from cloudkit._core import request_id_from
        >>> request_id_from({"X-Compute-Request-Id": "req-1"}), request_id_from({})
        ('req-1', None)
    """
    if not headers:
        return None
    lowered = {str(k).lower(): v for k, v in headers.items()}
    return next((lowered[name] for name in REQUEST_ID_HEADERS if lowered.get(name)), None)


def scrub(exc: E, secrets: Iterable[str]) -> E:
    """Remove every known secret from an error (message, text attributes, problems, notes); returns it.

    Works on any error of the tree without knowing its fields: every text attribute, every tuple of
    texts and every note is redacted.

    Example:
        >>> from cloudkit._core import scrub
        >>> from cloudkit.errors import ApiError
        >>> err = scrub(ApiError("login hunter2 refused", detail="password hunter2"), ["hunter2"])
        >>> str(err), err.detail
        ('login *** refused', 'password ***')
    """
    found = [secret for secret in secrets if secret]
    if not found:
        return exc
    for name, value in list(vars(exc).items()):
        if isinstance(value, str):
            setattr(exc, name, redact(value, found))
        elif isinstance(value, tuple) and all(isinstance(item, str) for item in value):
            setattr(exc, name, tuple(redact(item, found) for item in value))
    exc.args = (exc.message,)
    notes = getattr(exc, "__notes__", None)
    if isinstance(notes, list):
        notes[:] = [redact(note, found) if isinstance(note, str) else note for note in notes]
    return exc
