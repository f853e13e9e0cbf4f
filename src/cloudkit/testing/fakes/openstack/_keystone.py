"""Keystone v3 of the OpenStack fake: tokens (issue, validate, revoke), users, projects, roles, grants."""

from __future__ import annotations

import math
import secrets
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from cloudkit.testing.fakes._kit import Reply, Request, RouteMiss, Router
from cloudkit.testing.fakes.openstack._cloud import UNAUTHORIZED, Cloud, Ctx, Routes, dispatch
from cloudkit.testing.fakes.openstack._state import Json, Project, Token, User, hex5
from cloudkit.testing.fakes.openstack._wire import (
    STATUS_GOOD,
    STATUS_MULTIPLE,
    ApiError,
    as_bool,
    body_of,
    empty,
    iso,
)

_DOMAIN = {"id": "default", "name": "Default"}
_REGION = "RegionOne"

ROUTES = Routes()
_PUBLIC: Router[Callable[[Cloud, Request, dict[str, str]], Reply]] = Router()  # answered without a token


def serve(cloud: Cloud, req: Request) -> Reply:
    """Answer a request below ``/identity``."""
    path = req.path
    if path == "/identity" and req.method in ("GET", "HEAD"):
        return Reply.json(STATUS_MULTIPLE, {"versions": {"values": [_version(cloud)]}})
    if path == "/identity/v3" and req.method in ("GET", "HEAD"):
        return Reply.json(STATUS_GOOD, {"version": _version(cloud)})
    rest = path.removeprefix("/identity/v3")
    if rest == path:
        raise ApiError(404, "The resource could not be found.")
    try:
        public, params = _PUBLIC.resolve(req.method, rest)
    except RouteMiss:
        return dispatch(ROUTES, cloud, req, cloud.context(req), rest)
    return public(cloud, req, params)


def _version(cloud: Cloud) -> Json:
    return {
        "id": "v3.14",  # assumption: Keystone 30's version id
        "status": "stable",
        "updated": "2020-04-07T00:00:00Z",
        "links": [{"rel": "self", "href": f"{cloud.base_url}/identity/v3/"}],
        "media-types": [{"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}],
    }


# ================================================================================== tokens
def _identity_user(cloud: Cloud, identity: Json) -> User:
    methods = identity.get("methods") or []
    state = cloud.state
    if "password" in methods:
        spec = (identity.get("password") or {}).get("user") or {}
        user = state.users.get(str(spec.get("id", "")))
        if user is None and spec.get("name"):
            _check_domain(spec.get("domain") or {})
            user = state.user_by_name(str(spec["name"]))
        if user is None or not secrets.compare_digest(
            user.password.encode(), str(spec.get("password", "")).encode()
        ):
            raise ApiError(401, UNAUTHORIZED)
        return user
    if "token" in methods:
        token_id = str((identity.get("token") or {}).get("id", ""))
        if cloud.token_problem(token_id) is not None:
            raise ApiError(401, UNAUTHORIZED)
        return state.users[state.tokens[token_id].user_id]
    raise ApiError(401, UNAUTHORIZED)  # assumption: other methods are not served


def _check_domain(domain: Mapping[str, Any]) -> None:
    if domain.get("id", "default") != "default" or domain.get("name", "Default") != "Default":
        raise ApiError(401, UNAUTHORIZED)  # assumption: only the Default domain exists


def _scope_project(cloud: Cloud, scope: Json | None, user: User) -> Project | None:
    state = cloud.state
    if not scope:
        # Keystone scopes a login without a scope to the user's default project, when the user
        # has a role there (keystone.auth: "default_project_id"); otherwise the token is unscoped.
        default = state.projects.get(user.default_project_id or "")
        if default is not None and default.enabled and state.roles_of(user.id, default.id):
            return default
        return None
    spec = scope.get("project")
    if not isinstance(spec, dict):
        # assumption: domain and system scope are not served; keystone would need roles there
        raise ApiError(401, UNAUTHORIZED)
    project = state.projects.get(str(spec.get("id", "")))
    if project is None and spec.get("name"):
        _check_domain(spec.get("domain") or {})
        project = state.project_by_name(str(spec["name"]))
    if project is None:
        raise ApiError(401, UNAUTHORIZED)
    if not project.enabled or not state.roles_of(user.id, project.id):
        raise ApiError(401, UNAUTHORIZED)
    return project


@_PUBLIC.route("POST", "/auth/tokens")
def _issue_token(cloud: Cloud, req: Request, _params: dict[str, str]) -> Reply:
    auth = body_of(req).get("auth")
    if not isinstance(auth, dict) or not isinstance(auth.get("identity"), dict):
        raise ApiError(400, "Expecting to find identity in auth. The server could not comply.")
    user = _identity_user(cloud, auth["identity"])
    if not user.enabled:
        raise ApiError(401, UNAUTHORIZED)
    project = _scope_project(cloud, auth.get("scope"), user)
    now = cloud.now()
    token = Token(
        id=f"gAAAAA{secrets.token_urlsafe(96)}",
        user_id=user.id,
        project_id=project.id if project else None,
        issued=now,
        expires=now + cloud.options.token_ttl,
        methods=tuple(auth["identity"].get("methods") or ("password",)),
        audit_id=secrets.token_urlsafe(16)[:22],
    )
    cloud.state.tokens[token.id] = token
    catalog = req.arg("nocatalog") is None
    headers = [("X-Subject-Token", token.id), ("Vary", "X-Auth-Token")]
    return Reply.json(201, _token_body(cloud, token, catalog=catalog), headers)


def _token_body(cloud: Cloud, token: Token, *, catalog: bool) -> Json:
    state = cloud.state
    user = state.users[token.user_id]
    issued = math.floor(token.issued)  # fernet tokens carry whole seconds
    body: Json = {
        "methods": list(token.methods),
        "user": {"domain": dict(_DOMAIN), "id": user.id, "name": user.name, "password_expires_at": None},
        "audit_ids": [token.audit_id],
        "expires_at": iso(cloud.wall(issued + cloud.options.token_ttl), style="keystone"),
        "issued_at": iso(cloud.wall(issued), style="keystone"),
    }
    project = state.projects.get(token.project_id or "")
    if project is not None:
        body["project"] = {"domain": dict(_DOMAIN), "id": project.id, "name": project.name}
        body["is_domain"] = False
        body["roles"] = [{"id": state.roles[r], "name": r} for r in state.roles_of(user.id, project.id)]
        if catalog:
            body["catalog"] = _catalog(cloud.base_url, project.id)
    return {"token": body}


def _catalog(base: str, project_id: str) -> list[Json]:
    services = (
        ("identity", "keystone", f"{base}/identity"),
        ("compute", "nova", f"{base}/compute/v2.1"),
        ("volumev3", "cinderv3", f"{base}/volume/v3/{project_id}"),
        ("block-storage", "cinder", f"{base}/volume/v3/{project_id}"),
        ("image", "glance", f"{base}/image"),
        ("network", "neutron", f"{base}/networking"),
        ("placement", "placement", f"{base}/placement"),
    )
    return [
        {
            "type": kind,
            "name": name,
            "id": hex5(f"service:{kind}"),
            "endpoints": [
                {
                    "id": hex5(f"endpoint:{kind}:{interface}"),
                    "interface": interface,
                    "region": _REGION,
                    "region_id": _REGION,
                    "url": url,
                }
                for interface in ("public", "internal", "admin")
            ],
        }
        for kind, name, url in services
    ]


def _subject_token(cloud: Cloud, req: Request, ctx: Ctx, action: str) -> Token:
    subject = req.headers.get("x-subject-token", "")
    problem = cloud.token_problem(subject)
    if problem is not None:
        raise ApiError(404, problem)
    token = cloud.state.tokens[subject]
    if not ctx.is_admin and token.user_id != ctx.user.id:
        # assumption: policy lets the admin or the token's own user validate or revoke it
        raise ApiError(403, f"You are not authorized to perform the requested action: identity:{action}.")
    return token


@ROUTES.route("GET", "/auth/tokens")
def _validate_token(cloud: Cloud, req: Request, ctx: Ctx, _params: dict[str, str]) -> Reply:
    token = _subject_token(cloud, req, ctx, "validate_token")
    headers = [("X-Subject-Token", token.id), ("Vary", "X-Auth-Token")]
    body = _token_body(cloud, token, catalog=req.arg("nocatalog") is None)
    return Reply.json(STATUS_GOOD, body, headers)


@ROUTES.route("DELETE", "/auth/tokens")
def _revoke_token(cloud: Cloud, req: Request, ctx: Ctx, _params: dict[str, str]) -> Reply:
    _subject_token(cloud, req, ctx, "revoke_token").revoked = True
    return empty(204)


def _revoke_user(cloud: Cloud, user: User) -> None:
    cloud.state.revocations.setdefault(user.id, []).append(cloud.now())


@_PUBLIC.route("POST", "/users/{id}/password")
def _change_password(cloud: Cloud, req: Request, params: dict[str, str]) -> Reply:
    spec = body_of(req).get("user")
    if not isinstance(spec, dict) or "password" not in spec or "original_password" not in spec:
        raise ApiError(400, "Invalid input for field 'user': 'password' is a required property")
    user = cloud.state.users.get(params["id"])
    if user is None:
        raise ApiError(404, f"Could not find user: {params['id']}.")
    if not secrets.compare_digest(user.password.encode(), str(spec["original_password"]).encode()):
        raise ApiError(401, UNAUTHORIZED)
    user.password = str(spec["password"])
    _revoke_user(cloud, user)  # quirk (e): every earlier token of the user is dead from now on
    return empty(204)


# ================================================================================== users and projects
def _require_admin(ctx: Ctx, action: str) -> None:
    if not ctx.is_admin:
        raise ApiError(403, f"You are not authorized to perform the requested action: identity:{action}.")


def _user_view(cloud: Cloud, user: User) -> Json:
    view: Json = {
        "id": user.id,
        "name": user.name,
        "domain_id": "default",
        "enabled": user.enabled,
        "password_expires_at": None,
        "options": {},
        "links": {"self": f"{cloud.base_url}/identity/v3/users/{user.id}"},
    }
    if user.default_project_id:
        view["default_project_id"] = user.default_project_id
    if user.email:
        view["email"] = user.email
    return view


def _project_view(cloud: Cloud, project: Project) -> Json:
    return {
        "id": project.id,
        "name": project.name,
        "domain_id": "default",
        "description": project.description,
        "enabled": project.enabled,
        "parent_id": "default",
        "is_domain": False,
        "tags": list(project.tags),
        "options": {},
        "links": {"self": f"{cloud.base_url}/identity/v3/projects/{project.id}"},
    }


def _listing(cloud: Cloud, key: str, items: list[Json], collection: str) -> Reply:
    links = {"self": f"{cloud.base_url}/identity/v3/{collection}", "previous": None, "next": None}
    return Reply.json(STATUS_GOOD, {key: items, "links": links})


def _find_user(cloud: Cloud, ctx: Ctx, user_id: str, action: str) -> User:
    if not ctx.is_admin and user_id != ctx.user.id:
        _require_admin(ctx, action)
    user = cloud.state.users.get(user_id)
    if user is None:
        raise ApiError(404, f"Could not find user: {user_id}.")
    return user


def _projects_of(cloud: Cloud, user: User, collection: str) -> Reply:
    state = cloud.state
    projects = [_project_view(cloud, p) for p in state.projects.values() if state.roles_of(user.id, p.id)]
    return _listing(cloud, "projects", projects, collection)


# Keystone's duplicate-entry texts: exception.Conflict "Conflict occurred attempting to store %(type)s -
# %(details)s." with resource.core's project detail, which names the id the refused create would have had
# (checked against the lab's Keystone 30); the user's is identity's DuplicateEntry text.
_CONFLICTS = {
    "user": "Conflict occurred attempting to store user - Duplicate entry found with name {name} at "
    "domain ID default.",
    "project": "Conflict occurred attempting to store project - it is not permitted to have two projects "
    "with either the same name or same id in the same domain: name is {name}, project id {id}.",
}


def _named(cloud: Cloud, req: Request, ctx: Ctx, kind: str) -> tuple[Json, str]:
    """The admin's create request for a ``kind`` (``user``, ``project``) and its new name; 400, 409."""
    _require_admin(ctx, f"create_{kind}")
    spec = body_of(req).get(kind)
    if not isinstance(spec, dict) or not spec.get("name"):
        raise ApiError(400, f"Invalid input for field '{kind}': 'name' is a required property")
    name = str(spec["name"])
    state = cloud.state
    domain_id = spec.get("domain_id", "default")
    if domain_id != "default":  # assumption: only the Default domain exists
        raise ApiError(404, f"Could not find domain: {domain_id}.")
    if (state.user_by_name(name) if kind == "user" else state.project_by_name(name)) is not None:
        raise ApiError(409, _CONFLICTS[kind].format(name=name, id=uuid.uuid4().hex))
    return spec, name


@ROUTES.route("GET", "/auth/projects")
def _auth_projects(cloud: Cloud, _req: Request, ctx: Ctx, _params: dict[str, str]) -> Reply:
    return _projects_of(cloud, ctx.user, "auth/projects")


@ROUTES.route("GET", "/users")
def _list_users(cloud: Cloud, req: Request, ctx: Ctx, _params: dict[str, str]) -> Reply:
    _require_admin(ctx, "list_users")
    name = req.arg("name")
    users = cloud.state.users.values() if req.arg("domain_id") in (None, "default") else ()
    return _listing(cloud, "users", [_user_view(cloud, u) for u in users if name in (None, u.name)], "users")


@ROUTES.route("POST", "/users")
def _create_user(cloud: Cloud, req: Request, ctx: Ctx, _params: dict[str, str]) -> Reply:
    spec, name = _named(cloud, req, ctx, "user")
    project_id = spec.get("default_project_id")
    user = User(
        uuid.uuid4().hex,
        name,
        str(spec.get("password") or secrets.token_hex(16)),
        str(project_id) if project_id else None,
        as_bool(spec.get("enabled", True)),
        spec.get("email"),
    )
    cloud.state.users[user.id] = user
    return Reply.json(201, {"user": _user_view(cloud, user)})


@ROUTES.route("GET", "/users/{id}")
def _get_user(cloud: Cloud, _req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    user = _find_user(cloud, ctx, params["id"], "get_user")
    return Reply.json(STATUS_GOOD, {"user": _user_view(cloud, user)})


@ROUTES.route("PATCH", "/users/{id}")
def _update_user(cloud: Cloud, req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    _require_admin(ctx, "update_user")
    user = _find_user(cloud, ctx, params["id"], "update_user")
    spec = body_of(req).get("user")
    if not isinstance(spec, dict):
        raise ApiError(400, "Invalid input for field 'user'")
    revoke = False
    if "password" in spec:
        user.password, revoke = str(spec["password"]), True
    if "enabled" in spec:
        user.enabled = as_bool(spec["enabled"])
        revoke = revoke or not user.enabled
    if spec.get("name"):
        user.name = str(spec["name"])
    if "email" in spec:
        user.email = spec["email"]
    if revoke:  # reference §5.2: an admin password reset or a disable revokes like a change
        _revoke_user(cloud, user)
    return Reply.json(STATUS_GOOD, {"user": _user_view(cloud, user)})


@ROUTES.route("GET", "/users/{id}/projects")
def _user_projects(cloud: Cloud, _req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    return _projects_of(cloud, _find_user(cloud, ctx, params["id"], "list_user_projects"), "projects")


@ROUTES.route("GET", "/projects")
def _list_projects(cloud: Cloud, req: Request, ctx: Ctx, _params: dict[str, str]) -> Reply:
    _require_admin(ctx, "list_projects")
    name, tags = req.arg("name"), [t for t in (req.arg("tags") or "").split(",") if t]
    every = cloud.state.projects.values() if req.arg("domain_id") in (None, "default") else ()
    projects = [
        _project_view(cloud, p) for p in every if name in (None, p.name) and all(t in p.tags for t in tags)
    ]
    return _listing(cloud, "projects", projects, "projects")


@ROUTES.route("POST", "/projects")
def _create_project(cloud: Cloud, req: Request, ctx: Ctx, _params: dict[str, str]) -> Reply:
    spec, name = _named(cloud, req, ctx, "project")
    project = Project(uuid.uuid4().hex, name, str(spec.get("description") or ""))
    project.enabled = as_bool(spec.get("enabled", True))
    project.tags = [str(t) for t in spec.get("tags") or []]
    cloud.state.projects[project.id] = project
    return Reply.json(201, {"project": _project_view(cloud, project)})


@ROUTES.route("GET", "/projects/{id}")
def _get_project(cloud: Cloud, _req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    project = cloud.state.projects.get(params["id"])
    if project is not None and (ctx.is_admin or ctx.project_id == project.id):
        return Reply.json(STATUS_GOOD, {"project": _project_view(cloud, project)})
    if not ctx.is_admin:
        _require_admin(ctx, "get_project")
    raise ApiError(404, f"Could not find project: {params['id']}.")


@ROUTES.route("DELETE", "/projects/{id}")
def _delete_project(cloud: Cloud, _req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    _require_admin(ctx, "delete_project")
    state = cloud.state
    if state.projects.pop(params["id"], None) is None:
        raise ApiError(404, f"Could not find project: {params['id']}.")
    for key in [k for k in state.assignments if k[1] == params["id"]]:
        del state.assignments[key]  # Keystone deletes the project's assignments with it
    return empty(204)


@ROUTES.route("DELETE", "/users/{id}")
def _delete_user(cloud: Cloud, _req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    _require_admin(ctx, "delete_user")
    state = cloud.state
    user = state.users.pop(params["id"], None)
    if user is None:
        raise ApiError(404, f"Could not find user: {params['id']}.")
    for key in [k for k in state.assignments if k[0] == user.id]:
        del state.assignments[key]
    _revoke_user(cloud, user)
    return empty(204)


def _domain_view(cloud: Cloud) -> Json:
    view = {**_DOMAIN, "description": "The default domain", "enabled": True, "tags": [], "options": {}}
    view["links"] = {"self": f"{cloud.base_url}/identity/v3/domains/default"}
    return view


@ROUTES.route("GET", "/domains")
def _list_domains(cloud: Cloud, req: Request, ctx: Ctx, _params: dict[str, str]) -> Reply:
    _require_admin(ctx, "list_domains")
    views = [_domain_view(cloud)] if req.arg("name") in (None, "Default") else []
    return _listing(cloud, "domains", views, "domains")


@ROUTES.route("GET", "/domains/{id}")
def _get_domain(cloud: Cloud, _req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    # assumption: Keystone's default policy lets an admin read any domain and a user its own (default)
    if params["id"] != _DOMAIN["id"]:
        _require_admin(ctx, "get_domain")
        raise ApiError(404, f"Could not find domain: {params['id']}.")
    return Reply.json(STATUS_GOOD, {"domain": _domain_view(cloud)})


# ================================================================================== roles
def _role_view(cloud: Cloud, name: str) -> Json:
    role_id = cloud.state.roles[name]
    return {
        "id": role_id,
        "name": name,
        "domain_id": None,
        "description": None,
        "options": {},
        "links": {"self": f"{cloud.base_url}/identity/v3/roles/{role_id}"},
    }


def _role_name(cloud: Cloud, role_id: str) -> str:
    name = next((n for n, i in cloud.state.roles.items() if i == role_id), None)
    if name is None:
        raise ApiError(404, f"Could not find role: {role_id}.")
    return name


@ROUTES.route("GET", "/roles")
def _list_roles(cloud: Cloud, req: Request, _ctx: Ctx, _params: dict[str, str]) -> Reply:
    name = req.arg("name")
    roles = [_role_view(cloud, r) for r in cloud.state.roles if name in (None, r)]
    return _listing(cloud, "roles", roles, "roles")


@ROUTES.route("GET", "/roles/{id}")
def _get_role(cloud: Cloud, _req: Request, _ctx: Ctx, params: dict[str, str]) -> Reply:
    return Reply.json(STATUS_GOOD, {"role": _role_view(cloud, _role_name(cloud, params["id"]))})


@ROUTES.route("PUT", "/projects/{project}/users/{user}/roles/{role}")
def _assign_role(cloud: Cloud, _req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    key, name = _grant(cloud, ctx, params, "create_grant")
    cloud.state.assignments.setdefault(key, set()).add(name)  # a second PUT of the same grant: 204 again
    return empty(204)


def _grant(cloud: Cloud, ctx: Ctx, params: dict[str, str], action: str) -> tuple[tuple[str, str], str]:
    """The (user, project) key and role name of a grant path, after Keystone's checks (403, 404)."""
    _require_admin(ctx, action)
    project_id, user_id = params["project"], params["user"]
    if project_id not in cloud.state.projects:
        raise ApiError(404, f"Could not find project: {project_id}.")
    if user_id not in cloud.state.users:
        raise ApiError(404, f"Could not find user: {user_id}.")
    return (user_id, project_id), _role_name(cloud, params["role"])


def _no_assignment(params: dict[str, str]) -> ApiError:
    return ApiError(
        404,
        f"Could not find role assignment with role: {params['role']}, user or group: {params['user']}, "
        f"project, domain, or system: {params['project']}.",
    )


@ROUTES.route("GET", "/projects/{project}/users/{user}/roles/{role}")  # HEAD too: Keystone's check_grant
def _check_role(cloud: Cloud, _req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    key, name = _grant(cloud, ctx, params, "check_grant")
    if name not in cloud.state.assignments.get(key, set()):
        raise _no_assignment(params)
    return empty(204)


@ROUTES.route("DELETE", "/projects/{project}/users/{user}/roles/{role}")
def _revoke_role(cloud: Cloud, _req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    key, name = _grant(cloud, ctx, params, "revoke_grant")
    roles = cloud.state.assignments.get(key, set())
    if name not in roles:
        raise _no_assignment(params)
    roles.discard(name)
    return empty(204)


@ROUTES.route("GET", "/projects/{project}/users/{user}/roles")
def _list_grants(cloud: Cloud, _req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    _require_admin(ctx, "list_grants")
    project_id, user_id = params["project"], params["user"]
    if project_id not in cloud.state.projects:
        raise ApiError(404, f"Could not find project: {project_id}.")
    if user_id not in cloud.state.users:
        raise ApiError(404, f"Could not find user: {user_id}.")
    direct = cloud.state.assignments.get((user_id, project_id), set())  # direct only, as Keystone lists them
    roles = [_role_view(cloud, r) for r in cloud.state.roles if r in direct]
    return _listing(cloud, "roles", roles, f"projects/{project_id}/users/{user_id}/roles")


@ROUTES.route("GET", "/role_assignments")
def _list_role_assignments(cloud: Cloud, req: Request, ctx: Ctx, _params: dict[str, str]) -> Reply:
    """Project assignments of users, filtered by ``user.id``, ``scope.project.id`` and ``role.id``.

    With ``effective`` the implied roles are listed too (admin ⊃ member ⊃ reader), each with a
    ``prior_role`` link to the role that implies it, as Keystone expands them.
    """
    _require_admin(ctx, "list_role_assignments")
    wanted_user, wanted_project = req.arg("user.id"), req.arg("scope.project.id")
    wanted_role = req.arg("role.id")
    effective = req.arg("effective") is not None
    base = f"{cloud.base_url}/identity/v3"
    assignments: list[Json] = []
    for (user_id, project_id), direct in sorted(cloud.state.assignments.items()):
        if wanted_user not in (None, user_id) or wanted_project not in (None, project_id):
            continue
        names = cloud.state.roles_of(user_id, project_id) if effective else sorted(direct)
        for name in names:
            role_id = cloud.state.roles[name]
            if wanted_role not in (None, role_id):
                continue
            links: Json = {"assignment": f"{base}/projects/{project_id}/users/{user_id}/roles/{role_id}"}
            if name not in direct:  # implied by the role before it in the chain admin > member > reader
                prior = names[names.index(name) - 1]
                links = {**links, "prior_role": f"{base}/roles/{cloud.state.roles[prior]}"}
            assignments.append(
                {
                    "links": links,
                    "role": {"id": role_id},
                    "scope": {"project": {"id": project_id}},
                    "user": {"id": user_id},
                }
            )
    return _listing(cloud, "role_assignments", assignments, "role_assignments")
