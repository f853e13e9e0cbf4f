"""Who is calling: login (``func=auth``), the three ways to authenticate, ``su``, sessions and keys."""

from __future__ import annotations

import secrets
from collections.abc import Mapping

from cloudkit.testing.fakes.billing._context import Ctx, Doc, Options, WireError, doc_ok, text
from cloudkit.testing.fakes.billing._state import ADMIN_LEVEL, FakeAttachment, Session, State, User


def login(state: State, options: Options, params: Mapping[str, str]) -> Doc:
    """``auth``: a new session from a password or a one-time key."""
    now = options.clock()
    if params.get("key"):
        entry = state.keys.pop(params["key"], None)  # a key works once
        if entry is None or now - entry[1] > options.session_idle_timeout:
            raise WireError("auth", "invalid or expired key")
        user = state.users[entry[0]]
    else:
        user = _check_password(state, params.get("username", ""), params.get("password", ""))
    sid = secrets.token_hex(16)
    state.sessions[sid] = Session(sid, user.id, now)
    return {"auth": {"$id": sid, "$level": str(user.level), "$": sid}}


def authenticate(
    state: State, options: Options, func: str, params: Mapping[str, str], files: list[FakeAttachment]
) -> Ctx:
    """The context of a call: its ``authinfo`` or session, and the ``su`` target it acts as."""
    session: Session | None = None
    if "authinfo" in params:
        user, _, password = params["authinfo"].partition(":")
        principal = _check_password(state, user, password)
    elif params.get("auth"):
        session = _session(state, options, params["auth"])
        principal = state.users[session.user_id]
    else:
        raise WireError("auth", "authorization required")
    actor = principal
    if params.get("su"):
        if principal.level < ADMIN_LEVEL:
            raise WireError("access", "access denied: only an administrator may use su")
        target = state.user_by_login(params["su"])
        if target is None:
            raise WireError("missed", "no such user for su", obj="su", value=params["su"])
        actor = target
    return Ctx(state, options, func, params, files, principal, actor, session)


def _check_password(state: State, login: str, password: str) -> User:
    user = state.user_by_login(login)
    if user is None or not secrets.compare_digest(user.password.encode(), password.encode()):
        raise WireError("auth", "invalid username or password")
    return user


def _session(state: State, options: Options, sid: str) -> Session:
    session = state.sessions.get(sid)
    now = options.clock()
    if session is not None and (session.expired or now - session.last_seen > options.session_idle_timeout):
        del state.sessions[sid]
        session = None
    if session is None:
        raise WireError("auth", "the session is invalid or has expired; log in again")
    session.last_seen = now
    return session


def su(ctx: Ctx) -> Doc:
    """``su``: a session of another user, opened from the admin's."""
    user_id = ctx.one_id()
    user = ctx.state.users.get(user_id)
    if user is None:
        raise WireError("missed", f"user {user_id} not found", obj="elid", value=str(user_id))
    sid = ctx.new_session(user, parent=ctx.session.sid if ctx.session else None)
    return {"ok": {}, "auth": text(sid)}


def chlevel(ctx: Ctx) -> Doc:
    """``chlevel``: back to the admin's session (a session opened by ``su`` ends)."""
    if ctx.session is not None and ctx.session.parent is not None:
        del ctx.state.sessions[ctx.session.sid]
    return doc_ok()


def usrparam(ctx: Ctx) -> Doc:
    """The user's own settings form; with ``passwd`` and ``confirm`` it changes the password.

    assumption: BILLmanager's user settings form is ``usrparam`` with ``passwd``/``confirm`` (the
    COREmanager convention); the public docs do not name it. Changing the password ends every session
    of that user (the field notes: the wrapped billing session dies on password change).
    """
    if not ctx.sok:
        return ctx.form({"passwd": ""})
    new = ctx.required("passwd")
    if ctx.params.get("confirm", "") != new:
        raise WireError("value", "The passwords do not match", obj="confirm")
    ctx.actor.password = new
    for sid, session in list(ctx.state.sessions.items()):
        if session.user_id == ctx.actor.id:
            del ctx.state.sessions[sid]
    return doc_ok()


def keepalive(ctx: Ctx) -> Doc:  # noqa: ARG001 - every handler takes the context
    """``keepalive``: ok (authenticating touched the session)."""
    return doc_ok()


def session_newkey(ctx: Ctx) -> Doc:
    """``session.newkey``: a one-time login key for a user (admin)."""
    login_name = ctx.required("username")
    key = ctx.required("key")
    user = ctx.state.user_by_login(login_name)
    if user is None:
        raise WireError("missed", "user not found", obj="username", value=login_name)
    if len(key) < 16:  # noqa: PLR2004 - the documented minimum key length
        raise WireError("value", "the key must be at least 16 characters", obj="key")
    ctx.state.keys[key] = (user.id, ctx.options.clock())
    return doc_ok()
