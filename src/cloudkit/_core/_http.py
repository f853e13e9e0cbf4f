"""The httpx client factory, transport-error translation and redaction.

Every system client gets its ``httpx.Client`` from :func:`make_http_client` unless the caller injects
one: finite timeouts, transport retries off (``RetryPolicy`` is the one retry layer), a cloudkit
User-Agent, and a debug log line per request that never shows a secret.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Iterable, Iterator
from urllib.parse import quote, quote_plus

import httpx

from cloudkit.errors import RequestTimeoutError, TransportError

__all__ = ["DEFAULT_TIMEOUT", "make_http_client", "redact", "translate_transport_errors"]

log = logging.getLogger("cloudkit.http")

DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=5.0)
USER_AGENT = "cloudkit/0.1 (+https://pypi.org/project/cloudkit)"
_MIN_SECRET_LENGTH = 3  # shorter "secrets" would redact ordinary words out of messages


def redact(text: str, secrets: Iterable[str]) -> str:
    """Replace every occurrence of each secret (raw or URL-encoded) in ``text`` with ``***``.

    Example:
        >>> from cloudkit._core._http import redact
        >>> redact("authinfo=admin:p%40ss&x=1", ["p@ss"])
        'authinfo=admin:***&x=1'
    """
    for secret in secrets:
        if len(secret) < _MIN_SECRET_LENGTH:
            continue
        for form in {secret, quote(secret, safe=""), quote_plus(secret, safe="")}:
            text = text.replace(form, "***")
    return text


_SECRET_PARAMS = re.compile(
    r"((?:^|[?&\s])(?:auth|authinfo|password|passwd|confirm|key)=)[^&\s]*", re.IGNORECASE
)


def redact_params(text: str) -> str:
    """Blank the values of well-known secret parameters in a query or form string.

    Example:
        >>> from cloudkit._core._http import redact_params
        >>> redact_params("func=auth&username=admin&password=hunter2")
        'func=auth&username=admin&password=***'
    """
    return _SECRET_PARAMS.sub(r"\1***", text)


def _log_request(request: httpx.Request) -> None:
    log.debug("%s %s", request.method, redact_params(str(request.url)))


def make_http_client(
    *,
    timeout: httpx.Timeout = DEFAULT_TIMEOUT,
    transport: httpx.BaseTransport | None = None,
    verify: bool = True,
) -> httpx.Client:
    """An ``httpx.Client`` with finite timeouts, no transport retries and request logging.

    Example:
        >>> from cloudkit._core._http import make_http_client
        >>> with make_http_client() as http:
        ...     http.timeout.connect
        5.0
    """
    return httpx.Client(
        timeout=timeout,
        transport=transport or httpx.HTTPTransport(retries=0, verify=verify),
        headers={"User-Agent": USER_AGENT},
        event_hooks={"request": [_log_request]},
        follow_redirects=False,
    )


@contextlib.contextmanager
def translate_transport_errors(system: str, operation: str) -> Iterator[None]:
    """Turn httpx's transport exceptions into cloudkit's, chaining the original.

    The message names the failure kind only: httpx messages can carry URLs, and URLs can carry secrets.

    Example:
        >>> import httpx
        >>> from cloudkit._core._http import translate_transport_errors
        >>> from cloudkit.errors import TransportError
        >>> try:
        ...     with translate_transport_errors("billing", "call"):
        ...         raise httpx.ConnectError("refused")
        ... except TransportError as e:
        ...     print(e)
        connection failed (ConnectError) [billing call]
    """
    try:
        yield
    except httpx.TimeoutException as exc:
        raise RequestTimeoutError(
            f"request timed out ({type(exc).__name__})", system=system, operation=operation
        ) from exc
    except httpx.TransportError as exc:
        raise TransportError(
            f"connection failed ({type(exc).__name__})", system=system, operation=operation
        ) from exc
