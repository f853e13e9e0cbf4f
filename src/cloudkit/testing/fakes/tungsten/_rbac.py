"""Authorisation as contrail-api does it: keystonemiddleware's token check, aaa modes, rbac rules, perms2.

Also the detector of the scope-capture scenario: TF's integration identity arriving with a token
scoped to a customer project (see `TungstenScopeCapture`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from cloudkit.testing.fakes._kit import Request
from cloudkit.testing.fakes.tungsten._keystone_client import Identity
from cloudkit.testing.fakes.tungsten._schema import (
    CLOUD_ADMIN_ROLE,
    DOMAIN,
    MODE_WORDS,
    PERMS_R,
    TfError,
    bare,
    uuid5,
)

if TYPE_CHECKING:
    from cloudkit.testing.fakes.tungsten._store import Obj, Store

CaptureEffect = Literal["denied", "narrowed", "over-privileged"]
"""What a scope capture met: refused, a narrowed view, or every tenant's objects."""

OPS = {"GET": "R", "HEAD": "R", "POST": "C", "PUT": "U", "DELETE": "D"}
UNAUTHORIZED = {
    "error": {
        "code": 401,
        "title": "Unauthorized",
        "message": "The request you have made requires authentication.",
    }
}
DEFAULT_RBAC_RULES = (
    # contrail-api's own default-api-access-list (_create_default_rbac_rule)
    "fqname-to-id => *:CRUD",
    "id-to-fqname => *:CRUD",
    "useragent-kv => *:CRUD",
    "documentation => *:R",
    "/ => *:R",
    "watch => *:R",
    "logical-router.logical_router_gateway_external => *:R",
)


@dataclass(frozen=True, slots=True)
class TungstenScopeCapture:
    """TF's integration identity arrived with a token scoped to a customer project.

    contrail-api has no identity of its own: it authorises, filters and assigns ownership with the
    scope of the token it is given (reference §2.5). When the shared admin account the portal uses
    for TF is switched to a customer's scope, TF "takes on" that scope. ``effect`` is what the
    request met: ``"denied"`` (403: no ``admin`` role there), ``"narrowed"`` (rbac: the admin
    project's routing objects drop out of view and new config-root objects get the customer as
    owner) or ``"over-privileged"`` (the account holds ``admin`` on the customer project too, so
    that scope sees and changes every tenant's objects).

    Example:
        >>> c = TungstenScopeCapture("admin", "cust1", "ab12", ("member",), "GET", "/logical-routers", 403,
        ...                          "denied", "why")
        >>> c.effect
        'denied'
    """

    user: str
    project: str
    project_id: str
    roles: tuple[str, ...]
    method: str
    path: str
    status: int
    effect: CaptureEffect
    reason: str


@dataclass(frozen=True, slots=True)
class Caller:
    identity: Identity | None
    admin: bool
    project_id: str | None  # what HTTP_X_PROJECT_ID holds (hex, no dashes)

    @property
    def roles(self) -> tuple[str, ...]:
        return self.identity.roles if self.identity else ()


@dataclass(frozen=True, slots=True)
class Rule:
    obj: str
    fld: str  # "*" for the whole object
    perms: tuple[tuple[str, str], ...]  # (role, crud)


def parse_rule(text: str) -> Rule:
    """``"<object>[.<field>] => <role>:<CRUD>[, <role>:<CRUD>]"`` (provision_rbac.py's notation)."""
    left, sep, right = text.partition("=>")
    if not sep:
        raise ValueError(f"an rbac rule looks like 'virtual-network => member:CRUD', got {text!r}")
    target = left.strip()
    obj, _, fld = target.partition(".") if target not in ("/", "*") else (target, "", "")
    perms: list[tuple[str, str]] = []
    for part in right.split(","):
        role, colon, crud = part.strip().partition(":")
        if not colon or not role or not set(crud) <= set("CRUD"):
            raise ValueError(f"bad role:CRUD part {part!r} in rbac rule {text!r}")
        perms.append((role, crud))
    return Rule(obj, fld or "*", tuple(perms))


def merge(first: Rule | None, second: Rule) -> Rule:
    """get_rbac_rules: rules for the same object.field collapse, CRUD letters unioned per role."""
    if first is None:
        return second
    perms = dict(first.perms)
    for role, crud in second.perms:
        perms[role] = "".join(sorted(set(perms.get(role, "")) | set(crud), key="CRUD".index))
    return Rule(first.obj, first.fld, tuple(perms.items()))


def merge_all(rules: Sequence[Rule]) -> Rule | None:
    merged: Rule | None = None
    for rule in rules:
        merged = merge(merged, rule)
    return merged


def first_level_fields(body: object, obj_key: str) -> set[str]:
    """The body's first-level fields vnc_rbac matches field rules against (uuid and fq_name dropped)."""
    if not isinstance(body, dict):
        return set()
    inner = body[obj_key] if isinstance(body.get(obj_key), dict) else body
    return set(inner) - {"uuid", "fq_name"}


def identity(st: Store, token: str) -> Identity | None:
    """keystonemiddleware: the cached identity of a token, or Keystone's answer."""
    now = st.clock()
    cached = st.token_cache.get(token)
    if cached is not None:
        ident, at = cached
        if now >= ident.expires:
            del st.token_cache[token]
            return None
        if now - at < st.options.token_cache_seconds:
            return ident
    fresh = st.keystone.validate(token)
    if fresh is None or now >= fresh.expires:
        st.token_cache.pop(token, None)
        return None
    st.token_cache[token] = (fresh, now)
    return fresh


def rbac_on(st: Store, caller: Caller) -> bool:
    return st.aaa_mode == "rbac" and not caller.admin


def granted(caller: Caller, perms2: Mapping[str, Any], mode: int) -> int:
    """The bits of ``mode`` that perms2 grants the caller's project (owner, share, global)."""
    owner = bare(str(perms2.get("owner") or ""))
    perms = int(perms2.get("owner_access", 0)) << 6 | int(perms2.get("global_access", 0))
    mask = 0o7
    if caller.project_id == owner:
        mask |= 0o700
    domain_id = bare(uuid5(f"domain:{DOMAIN}"))
    for item in perms2.get("share") or []:
        share_type, _, share_id = str(item.get("tenant", "")).rpartition(":")
        mine = caller.project_id if (share_type or "tenant") == "tenant" else domain_id
        if mine == bare(share_id):
            perms |= int(item.get("tenant_access", 0)) << 3
            mask |= 0o070
            break
    ok = mask & perms & (mode | mode << 3 | mode << 6)
    return (ok & 0o7) | (ok >> 3 & 0o7) | (ok >> 6 & 0o7)


def check(
    st: Store,
    caller: Caller,
    msg_uuid: str | None,
    perms2: Mapping[str, Any],
    mode: int,
    *,
    owner_for_delete: str | None = None,
) -> None:
    """vnc_perms.validate_perms_rbac: 403 with contrail-api's message when the mode is not granted."""
    if not rbac_on(st, caller):
        return
    ident = caller.identity
    err = (
        f"Permission Denied for {list(caller.roles)} to {MODE_WORDS[mode]} operation in domain "
        f"'{DOMAIN}' and project '{ident.project if ident else None}' "
    )
    owner = bare(str(perms2.get("owner") or ""))
    if not owner:
        raise TfError(403, err + f"RBAC: {msg_uuid} doesn't have  perms2 owner set ")
    ok = granted(caller, perms2, mode) != 0
    if ok and owner_for_delete is not None:
        ok = caller.project_id == bare(owner_for_delete)
    if not ok:
        user = ident.user if ident else None
        raise TfError(
            403, err + f"RBAC: {user} doesn't have {MODE_WORDS[mode]} permission in project '{owner}'"
        )


def can_read(st: Store, caller: Caller, obj: Obj) -> bool:
    try:
        check(st, caller, obj.uuid, obj.perms2, PERMS_R)
    except TfError:
        return False
    return True


def api_rules(st: Store, req: Request, caller: Caller, obj_key: str, body: object) -> None:
    """vnc_rbac.validate_request: the api-access-list layer (global rules plus the configured ones)."""
    if not rbac_on(st, caller):
        return
    roles = list(caller.roles)
    if not roles:
        raise TfError(401, "roles empty!!")
    op = OPS.get(req.method, "R")
    ident = caller.identity
    err = TfError(
        403,
        f"Permission Denied for {ident.user if ident else None} as {roles} to {op} {obj_key} in "
        f"{ident.project if ident else None}",
    )
    obj_rule, field_rules, wildcard = _rules_for(st, obj_key)

    def match(rule: Rule) -> bool:
        return any(role in [*roles, "*"] and op in crud for role, crud in rule.perms)

    fields = first_level_fields(body, obj_key)
    if field_rules and fields:
        for name in fields & field_rules.keys():
            if not match(field_rules[name]):
                raise err
        if not fields - field_rules.keys():
            return
    chosen = obj_rule or wildcard
    if chosen is None or not match(chosen):
        raise err


def _rules_for(st: Store, obj_key: str) -> tuple[Rule | None, dict[str, Rule], Rule | None]:
    """get_rbac_rules, collapsed: the object rule, its field rules and the wildcard rule."""
    rules = [parse_rule(r) for r in DEFAULT_RBAC_RULES] + list(st.options.rbac_rules)
    obj_rule = None
    field_rules: dict[str, Rule] = {}
    for rule in rules:
        if rule.obj == obj_key and rule.fld == "*":
            obj_rule = merge(obj_rule, rule)
        elif rule.obj == obj_key:
            field_rules[rule.fld] = merge(field_rules.get(rule.fld), rule)
    return obj_rule, field_rules, merge_all([r for r in rules if r.obj == "*"])


def authenticate(st: Store, req: Request) -> Caller:
    if st.aaa_mode == "no-auth":
        # with auth off nothing strips client headers: X-Project-Id is whatever the client sent
        project_id = req.headers.get("x-project-id")
        return Caller(None, admin=True, project_id=bare(project_id) if project_id else None)
    token = req.headers.get("x-auth-token")
    ident = identity(st, token) if token else None
    if ident is None:
        # assumption: keystonemiddleware's JSON 401 with WWW-Authenticate (not contrail-api's text)
        raise TfError(
            401,
            json.dumps(UNAUTHORIZED),
            content_type="application/json",
            headers=(("WWW-Authenticate", f'Keystone uri="{st.keystone.www_authenticate}"'),),
        )
    admin = CLOUD_ADMIN_ROLE in (r.lower() for r in ident.roles)
    return Caller(ident, admin=admin, project_id=ident.project_id)


def gate(st: Store, caller: Caller) -> None:
    """AuthPostKeystone: in cloud-admin mode only tokens with role ``admin`` get through."""
    if st.aaa_mode == "cloud-admin" and not caller.admin:
        raise TfError(403, "403 Permission Denied", content_type="text/plain")


def detect_capture(st: Store, request: Request, caller: Caller | None, status: int) -> str | None:
    ident = caller.identity if caller else None
    user, _password, home = st.options.keystone_admin
    if not st.options.capture_scope or ident is None or ident.user != user:
        return None
    if ident.project in (None, home):
        return None
    roles = tuple(ident.roles)
    effect: CaptureEffect
    if status == 403:  # noqa: PLR2004 - refused
        effect = "denied"
        consequence = "TF refuses the call (403), so routing objects of the admin project cannot be managed"
    elif CLOUD_ADMIN_ROLE in (r.lower() for r in roles):
        effect = "over-privileged"
        consequence = (
            "the account holds admin there too, so this scope sees and changes every tenant's objects"
        )
    else:
        effect = "narrowed"
        consequence = (
            f"objects owned by project {home!r} (external VN, FIP pools, routers, route tables) drop "
            f"out of view and new config-root objects become owned by {ident.project!r}"
        )
    reason = (
        f"scope captured: TF's integration identity {user!r} arrived with a token scoped to project "
        f"{ident.project!r} (roles {list(roles)}) instead of {home!r}; TF authorises and assigns "
        f"ownership with the caller's scope: {consequence}"
    )
    st.captures.append(
        TungstenScopeCapture(
            user=user,
            project=str(ident.project),
            project_id=str(ident.project_id),
            roles=roles,
            method=request.method,
            path=request.raw_path,
            status=status,
            effect=effect,
            reason=reason,
        )
    )
    return reason
