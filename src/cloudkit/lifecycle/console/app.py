"""The console's Flask application: routes, the login, and the checks every request passes.

Checks, in order, before any view runs:

1. **Host** (DNS rebinding): the ``Host`` header must name a loopback host (``127.0.0.1``,
   ``localhost``, ``::1``) or one the caller allowed; else 400. A page on ``evil.example`` whose name
   an attacker re-points at 127.0.0.1 still sends ``Host: evil.example``.
2. **Origin** on every POST: ``Origin`` (or, when a browser sends none, the ``Referer``'s origin) must
   be the console's own ``scheme://host``; a missing or foreign origin is 403.
3. **CSRF token** on every POST: the form's ``csrf_token`` must equal the session's, compared in
   constant time; else 403. The login form carries one too (a session is made on the first GET).
4. **Login**: every page but the login form needs a session that logged in with the operator token;
   a GET is sent to the login form, a POST is 403.

Responses carry a strict Content-Security-Policy (no script at all, styles and forms from the console
only, no framing) and ``Cache-Control: no-store``.
"""

from __future__ import annotations

import datetime as dt
import hmac
import logging
import re
import secrets
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import attrs
from flask import Flask, abort, current_app, flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException

from cloudkit._core._secret import Secret
from cloudkit.errors import ConfigError, ConflictError, NotFoundError
from cloudkit.lifecycle._models import Saga, SagaState, StepState
from cloudkit.lifecycle._opstore import (
    DecisionRecord,
    FindingRecord,
    OpStore,
    ReconcileRunRecord,
    SweepRecord,
)

if TYPE_CHECKING:
    from werkzeug.wrappers import Response

    from cloudkit.lifecycle._lifecycle import Lifecycle

__all__ = ["LOOPBACK_HOSTS", "MIN_TOKEN_LENGTH", "Overview", "create_app"]

log = logging.getLogger("cloudkit.lifecycle.console")
SYSTEM = "lifecycle"

LOOPBACK_HOSTS: tuple[str, ...] = ("127.0.0.1", "localhost", "::1")
"""Host names the console answers to by default (the ``Host`` header without its port)."""
MIN_TOKEN_LENGTH = 16
"""The shortest operator token accepted: the token is the only thing between a local process and retry."""
SESSION_HOURS = 8  # a login lasts a working day; the cookie is also gone when the browser closes
_SAGA_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
_NEEDS_OPERATOR = (SagaState.NEEDS_OPERATOR, SagaState.FAILED)


@attrs.frozen(kw_only=True)
class Overview:
    """What the page shows, read from the stores in one request.

    Attributes:
        sagas: sagas needing an operator (``NEEDS_OPERATOR`` and ``FAILED``), newest update first.
        decisions: the stop rules' recent decisions (``OpStore.recent_decisions``), newest first.
        sweeps: the recent sweeps (``OpStore.sweeps``), newest first.
        findings: the latest finished reconciliation run's findings (``OpStore.latest_findings``).
        reconcile_run: that run, or ``None`` before the first one finished.

    Example:
        >>> from cloudkit.lifecycle.console.app import Overview
        >>> Overview().sagas, Overview().reconcile_run
        ((), None)
    """

    sagas: tuple[Saga, ...] = ()
    decisions: tuple[DecisionRecord, ...] = ()
    sweeps: tuple[SweepRecord, ...] = ()
    findings: tuple[FindingRecord, ...] = ()
    reconcile_run: ReconcileRunRecord | None = None


def _host_name(host: str) -> str:
    """``Host`` header without its port, brackets off an IPv6 literal, lower case."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _origin_of(url: str) -> str | None:
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}".lower()


def _when(value: dt.datetime | None) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S") if value else "-"


def _counts(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{name} {n}" for name, n in sorted(counts.items())) or "-"


def _failed_step(saga: Saga) -> str | None:
    """The step the saga stopped at: the first one failed, else the first one started and not done."""
    for wanted in (StepState.FAILED, StepState.STARTED):
        for step in saga.steps:
            if step.state is wanted:
                return step.name
    return None


def create_app(
    lifecycle: Lifecycle,
    *,
    token: Secret,
    allowed_hosts: Iterable[str] = LOOPBACK_HOSTS,
    overview: Callable[[], Overview] | None = None,
) -> Flask:
    """The console as a Flask application (serve it with :func:`~cloudkit.lifecycle.console.serve`).

    Args:
        lifecycle: the lifecycle whose store the page reads and whose ``retry`` the button calls.
        token: the operator token the login form asks for (at least :data:`MIN_TOKEN_LENGTH` characters).
        allowed_hosts: host names the ``Host`` header may carry (default: loopback only).
        overview: what the page shows (default: read from ``lifecycle``'s store); tests may inject one.

    Raises:
        ConfigError: the token is shorter than :data:`MIN_TOKEN_LENGTH` characters.

    Example:
        >>> from cloudkit import Secret
        >>> from cloudkit.lifecycle import Lifecycle
        >>> from cloudkit.lifecycle.console import create_app
        >>> from cloudkit.platform import Platform
        >>> with Lifecycle(Platform(), db_url="sqlite://") as lifecycle:
        ...     client = create_app(lifecycle, token=Secret("a-long-operator-token-1234")).test_client()
        ...     client.get("/login", headers={"Host": "evil.example"}).status_code
        400
        >>> create_app(None, token=Secret("short"))  # type: ignore[arg-type]
        Traceback (most recent call last):
        ...
        cloudkit.errors.ConfigError: console token: at least 16 characters are needed ...
    """
    expected = token.get_secret_value().encode()
    if len(expected) < MIN_TOKEN_LENGTH:
        raise ConfigError(
            f"console token: at least {MIN_TOKEN_LENGTH} characters are needed (CLOUDKIT_CONSOLE_TOKEN)",
            system=SYSTEM,
            operation="console",
        )
    app = Flask(__name__)
    app.config.update(
        # A new key per start: a restart logs everyone out, and no key is ever written anywhere.
        SECRET_KEY=secrets.token_bytes(32),
        SESSION_COOKIE_NAME="cloudkit_console",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        PERMANENT_SESSION_LIFETIME=dt.timedelta(hours=SESSION_HOURS),
        MAX_CONTENT_LENGTH=64 * 1024,  # forms here are a token and a CSRF field
    )
    app.extensions[_EXTENSION] = _Console(
        lifecycle=lifecycle,
        token=expected,
        hosts=frozenset(_host_name(h) for h in allowed_hosts),
        overview=overview or (lambda: read_store(lifecycle)),
    )
    app.jinja_env.filters.update(when=_when, counts=_counts)
    app.jinja_env.globals.update(failed_step=_failed_step, csrf_token=_csrf_token)
    app.before_request(_checks)
    app.after_request(_security_headers)
    app.register_error_handler(HTTPException, _problem)
    app.add_url_rule("/favicon.ico", "favicon", _favicon)
    app.add_url_rule("/login", "login", _login, methods=["GET", "POST"])
    app.add_url_rule("/logout", "logout", _logout, methods=["POST"])
    app.add_url_rule("/", "index", _index)
    app.add_url_rule("/sagas/<saga_id>/retry", "retry", _retry, methods=["POST"])
    return app


@attrs.frozen(kw_only=True)
class _Console:
    """What the views need, kept in ``app.extensions`` (no module globals: two apps never share it)."""

    lifecycle: Lifecycle
    token: bytes = attrs.field(repr=False)
    hosts: frozenset[str]
    overview: Callable[[], Overview]


_EXTENSION = "cloudkit_console"


def _console() -> _Console:
    console: _Console = current_app.extensions[_EXTENSION]
    return console


# ---------------------------------------------------------------------------------------- checks
def _checks() -> ResponseReturnValue | None:
    if _host_name(request.host) not in _console().hosts:
        log.warning("console: refused a request for host %r", request.host[:100])
        abort(400, "unknown host: the console answers to loopback names only")
    if request.method not in ("GET", "HEAD"):
        _check_origin()
        _check_csrf()
    if request.endpoint not in ("login", "static", "favicon") and not session.get("operator"):
        if request.method in ("GET", "HEAD"):
            return redirect(url_for("login"), code=303)
        abort(403, "log in first")
    return None


def _check_origin() -> None:
    own = f"{request.scheme}://{request.host}".lower()
    sent = request.headers.get("Origin")
    origin = _origin_of(sent) if sent and sent != "null" else None
    if sent is None:  # a browser that sends no Origin still sends the Referer on a same-origin form
        referer = request.headers.get("Referer")
        origin = _origin_of(referer) if referer else None
    if origin != own:
        log.warning("console: refused a POST from origin %r", (sent or "")[:100])
        abort(403, "cross-origin request refused")


def _check_csrf() -> None:
    given = request.form.get("csrf_token", "")
    wanted = session.get("csrf")
    if not wanted or not hmac.compare_digest(given.encode(), str(wanted).encode()):
        log.warning("console: refused a POST without a valid CSRF token")
        abort(403, "missing or wrong CSRF token")


def _csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return str(session["csrf"])


def _security_headers(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = _CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Cache-Control"] = "no-store"
    return response


def _problem(exc: HTTPException) -> ResponseReturnValue:
    # Werkzeug's own page would do, but this one keeps the style and says what was refused.
    code = exc.code or 500
    return render_template("error.html", code=code, name=exc.name, description=exc.description), code


# ---------------------------------------------------------------------------------------- views
def _favicon() -> ResponseReturnValue:
    return "", 204  # browsers ask for it; nothing to show, and no login redirect in the log


def _login() -> ResponseReturnValue:
    if request.method == "POST":
        given = request.form.get("token", "").encode()
        if hmac.compare_digest(given, _console().token):
            session.clear()  # a fresh session (and CSRF token) after login: no fixation
            session.permanent = True
            session["operator"] = True
            session["csrf"] = secrets.token_urlsafe(32)
            log.info("console: operator logged in")
            return redirect(url_for("index"), code=303)
        log.warning("console: a login with a wrong token")
        return render_template("login.html", error="wrong token"), 403
    return render_template("login.html", error=None)


def _logout() -> ResponseReturnValue:
    session.clear()
    return redirect(url_for("login"), code=303)


def _index() -> ResponseReturnValue:
    return render_template("index.html", view=_console().overview())


def _retry(saga_id: str) -> ResponseReturnValue:
    if not _SAGA_ID.match(saga_id):
        abort(404)
    log.info("console: operator retries saga %s", saga_id)
    try:
        saga = _console().lifecycle.retry(saga_id)
    except NotFoundError:
        abort(404)
    except ConflictError as exc:
        flash(f"Not retried: {exc}", "error")
    else:
        kind = "ok" if saga.state is SagaState.DONE else "error" if saga.state.final else "info"
        what = f"Saga {saga.id[:8]} (item {saga.item}, {saga.operation.value})"
        flash(f"{what} is now {saga.state.value}.", kind)
    return redirect(url_for("index") + "#sagas", code=303)


def read_store(lifecycle: Lifecycle, *, limit: int = 100, decisions: int = 50, sweeps: int = 5) -> Overview:
    """The page's content from the lifecycle's saga store and the operations tables next to it.

    Example:
        >>> from cloudkit.lifecycle import Lifecycle
        >>> from cloudkit.lifecycle.console.app import read_store
        >>> from cloudkit.platform import Platform
        >>> with Lifecycle(Platform(), db_url="sqlite://") as lifecycle:
        ...     view = read_store(lifecycle)
        ...     view.sagas, view.decisions, view.findings
        ((), (), ())
    """
    found: list[Saga] = []
    for state in _NEEDS_OPERATOR:
        found += lifecycle.sagas(state=state, limit=limit)
    oldest = dt.datetime.min.replace(tzinfo=dt.UTC)
    found.sort(key=lambda s: s.updated_at or s.created_at or oldest, reverse=True)
    ops = OpStore(lifecycle.store)
    # latest_findings() reads the latest *finished* run: name that run, not a newer one still running.
    finished = next((run for run in ops.reconcile_runs(limit=20) if run.state == "done"), None)
    return Overview(
        sagas=tuple(found[:limit]),
        decisions=tuple(ops.recent_decisions(limit=decisions)),
        sweeps=tuple(ops.sweeps(limit=sweeps)),
        findings=tuple(ops.latest_findings()),
        reconcile_run=finished,
    )
