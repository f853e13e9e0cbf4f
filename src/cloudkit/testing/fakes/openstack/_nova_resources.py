"""Nova's resource APIs beside servers: keypairs, limits, quota sets (enforced at server create too),
server groups (with their members); and the policy and validation helpers `_nova_flavors` (flavor
management) and `_nova_hosts` (zones, aggregates, hypervisors, services, extensions) share.

Wire facts follow Nova's API reference and its controllers (nova/api/openstack/compute/): the policy
defaults (an admin manages flavors, aggregates and quotas; a member gets ``403 Policy doesn't allow
<rule> to be performed.``), the microversion steps (keypair ``type`` 2.2, keypair ``user_id`` 2.10,
server group ``project_id``/``user_id`` 2.13 and ``policy``/``rules`` 2.64, network proxy limits and
quotas gone at 2.36, ``maxImageMeta`` at 2.39, personality at 2.57, keypair generation at 2.92) and the
quota defaults of a devstack ``nova.conf``.
"""  # noqa: D205 (the summary names every resource)

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import re
import uuid
from collections.abc import Iterable
from typing import Any

from cloudkit.testing.fakes._kit import Reply, Request
from cloudkit.testing.fakes.openstack._cloud import Cloud, Ctx
from cloudkit.testing.fakes.openstack._state import (
    Flavor,
    Json,
    Keypair,
    ServerGroup,
)
from cloudkit.testing.fakes.openstack._wire import (
    STATUS_GOOD,
    ApiError,
    as_bool,
    as_int,
    body_of,
    empty,
    iso,
    page,
)

MAX_INT = 0x7FFFFFFF
NAME_MAX = 255

# A devstack nova.conf's [quota] defaults (Nova's own defaults), in the order Nova's api-ref shows them.
QUOTA_DEFAULTS: dict[str, int] = {
    "cores": 20,
    "fixed_ips": -1,
    "floating_ips": 10,
    "injected_file_content_bytes": 10240,
    "injected_file_path_bytes": 255,
    "injected_files": 5,
    "instances": 10,
    "key_pairs": 100,
    "metadata_items": 128,
    "ram": 51200,
    "security_group_rules": 20,
    "security_groups": 10,
    "server_group_members": 10,
    "server_groups": 10,
}
_NETWORK_QUOTAS = ("fixed_ips", "floating_ips", "security_group_rules", "security_groups")  # gone at 2.36
_PERSONALITY_QUOTAS = ("injected_file_content_bytes", "injected_file_path_bytes", "injected_files")  # 2.57


def forbidden(rule: str) -> ApiError:
    return ApiError(403, f"Policy doesn't allow os_compute_api:{rule} to be performed.")


def require_admin(ctx: Ctx, rule: str) -> None:
    if not ctx.is_admin:
        raise forbidden(rule)


def invalid(field: str, value: object, problem: str = "") -> ApiError:
    text = f"Invalid input for field/attribute {field}. Value: {value}."
    return ApiError(400, f"{text} {problem}" if problem else text)


def unexpected(section: str, doc: object, keys: Iterable[str]) -> ApiError:
    names = ", ".join(repr(k) for k in sorted(keys))
    verb = "were" if "," in names else "was"
    return invalid(section, doc, f"Additional properties are not allowed ({names} {verb} unexpected)")


def section(req: Request, key: str) -> Json:
    doc = body_of(req).get(key)
    if not isinstance(doc, dict):
        raise invalid(key, doc, f"'{key}' is a required property")
    return doc


def checked_name(value: object, field: str = "name") -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > NAME_MAX or value != value.strip():
        raise invalid(field, value)
    return value


def checked_count(value: object, field: str, minimum: int) -> int:
    number = as_int(value, field)
    if not minimum <= number <= MAX_INT:
        raise invalid(field, value, f"{value} is less than the minimum of {minimum}")
    return number


def db_time(cloud: Cloud, t: float | None) -> str | None:
    # Nova's API database keeps whole seconds; its views print them with ".000000" and no zone.
    return None if t is None else iso(cloud.wall(t), style="cinder")


# ================================================================================== metadata keys (flavor
# extra specs and aggregate metadata share Nova's rules)
SPEC_KEY = re.compile(r"^[a-zA-Z0-9-_:. ]{1,255}$")


def spec_value(key: str, value: object) -> str:
    # Nova takes strings, numbers and booleans and stores them as text (a DictOfStrings field).
    if isinstance(value, bool | int | float):
        value = str(value)
    if not isinstance(value, str) or len(value) > NAME_MAX:
        raise invalid(key, value)
    return value


# ================================================================================== keypairs
_KEYPAIR_SAFE = re.compile(r"^[a-zA-Z0-9_ -]+$")
_KEYPAIR_SAFE_2_92 = re.compile(r"^[a-zA-Z0-9_ @.-]+$")  # assumption: 2.92 adds "@" and "." only


def _keypair_owner(req: Request, ctx: Ctx, rule: str, given: object = None) -> str:
    """Whose keypairs a request means: the caller's, or (2.10+) ``user_id``, an admin's choice."""
    user_id = given if given is not None else (req.arg("user_id") if ctx.at_least(2, 10) else None)
    if user_id is None or user_id == ctx.user.id:
        return ctx.user.id
    if not isinstance(user_id, str):
        raise invalid("user_id", user_id)
    require_admin(ctx, f"os-keypairs:{rule}")  # policy: admin or the owner
    return user_id  # Nova does not ask Keystone whether the user exists


def _fingerprint(public_key: str, key_type: str) -> str:
    from cryptography import x509  # noqa: PLC0415 - cryptography loads only when a keypair is made
    from cryptography.hazmat.primitives import hashes, serialization  # noqa: PLC0415

    try:
        if key_type == "x509":
            digest = x509.load_pem_x509_certificate(public_key.encode()).fingerprint(hashes.SHA1())  # noqa: S303
            return ":".join(f"{b:02x}" for b in digest)
        serialization.load_ssh_public_key(public_key.encode())
        raw = hashlib.md5(base64.b64decode(public_key.split(" ")[1]), usedforsecurity=False).hexdigest()
    except (ValueError, IndexError, TypeError) as exc:
        if key_type == "x509":
            raise ApiError(
                400, f"Keypair data is invalid: failed to generate X509 fingerprint. Error message: {exc}"
            ) from None
        raise ApiError(400, "Keypair data is invalid: failed to generate fingerprint") from None
    return ":".join(raw[i : i + 2] for i in range(0, len(raw), 2))


def _generated(key_type: str, user_id: str) -> tuple[str, str]:
    """A new key pair as Nova makes one: (private key PEM, public key or certificate)."""
    from cryptography import x509  # noqa: PLC0415 - cryptography loads only when a keypair is made
    from cryptography.hazmat.primitives import hashes, serialization  # noqa: PLC0415
    from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: PLC0415
    from cryptography.x509.oid import NameOID  # noqa: PLC0415

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    if key_type == "ssh":
        public = key.public_key().public_bytes(
            serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
        )
        return private, f"{public.decode()} Generated-by-Nova"
    # Nova's generate_winrm_x509_cert: a self-signed certificate naming the user, valid for ten years
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, user_id)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=3650))
        .sign(key, hashes.SHA256())
    )
    return private, cert.public_bytes(serialization.Encoding.PEM).decode()


def _keypair_view(cloud: Cloud, keypair: Keypair, ctx: Ctx, *, full: bool = False) -> Json:
    view: Json = {"name": keypair.name, "public_key": keypair.public_key, "fingerprint": keypair.fingerprint}
    if full:
        view.update(
            {
                "user_id": keypair.user_id,
                "created_at": db_time(cloud, keypair.created),
                "deleted": False,
                "deleted_at": None,
                "id": keypair.id,
                "updated_at": None,
            }
        )
    if ctx.at_least(2, 2):
        view["type"] = keypair.type
    return view


def _keypair_spec(req: Request, ctx: Ctx) -> tuple[Json, str, str]:
    """The ``keypair`` of a create, its name and its type, checked as Nova's schema and API do."""
    spec = section(req, "keypair")
    allowed = {"name", "public_key"} | ({"type"} if ctx.at_least(2, 2) else set())
    allowed |= {"user_id"} if ctx.at_least(2, 10) else set()
    if set(spec) - allowed:
        raise unexpected("keypair", spec, set(spec) - allowed)
    if ctx.at_least(2, 92) and "public_key" not in spec:
        raise invalid("keypair", spec, "'public_key' is a required property")
    name = spec.get("name")
    if not isinstance(name, str) or not 1 <= len(name) <= NAME_MAX:
        raise ApiError(
            400, "Keypair data is invalid: Keypair name must be string and between 1 and 255 characters long"
        )
    if not (_KEYPAIR_SAFE_2_92 if ctx.at_least(2, 92) else _KEYPAIR_SAFE).match(name):
        raise ApiError(400, "Keypair data is invalid: Keypair name contains unsafe characters")
    key_type = spec.get("type", "ssh")
    if key_type not in ("ssh", "x509"):
        raise invalid("type", key_type, f"{key_type!r} is not one of ['ssh', 'x509']")
    return spec, name, key_type


def create_keypair(cloud: Cloud, req: Request, ctx: Ctx, _params: dict[str, str]) -> Reply:
    """``POST /os-keypairs``: import ``public_key``, or (below 2.92) make a pair and show its private key."""
    spec, name, key_type = _keypair_spec(req, ctx)
    user_id = _keypair_owner(req, ctx, "create", spec.get("user_id"))
    owned = [k for (owner, _), k in cloud.state.keypairs.items() if owner == user_id]
    if len(owned) >= quota(cloud, ctx.project_id, "key_pairs") >= 0:
        raise ApiError(403, "Quota exceeded, too many key pairs.")
    if (user_id, name) in cloud.state.keypairs:
        raise ApiError(409, f"Key pair '{name}' already exists.")
    public_key = spec.get("public_key")
    private_key = None
    if public_key is None:
        private_key, public_key = _generated(key_type, user_id)
    elif not isinstance(public_key, str):
        raise invalid("public_key", public_key)
    keypair = Keypair(
        id=cloud.state.next_seq(),
        user_id=user_id,
        name=name,
        type=key_type,
        public_key=public_key,
        fingerprint=_fingerprint(public_key, key_type),
        created=cloud.now(),
    )
    cloud.state.keypairs[(user_id, name)] = keypair
    view = _keypair_view(cloud, keypair, ctx)
    view["user_id"] = user_id
    if private_key is not None:
        view["private_key"] = private_key
    return Reply.json(201 if ctx.at_least(2, 2) else STATUS_GOOD, {"keypair": view})


def list_keypairs(cloud: Cloud, req: Request, ctx: Ctx, _params: dict[str, str]) -> Reply:
    """``GET /os-keypairs``: the user's keypairs by name; ``limit``/``marker`` from 2.35."""
    user_id = _keypair_owner(req, ctx, "index")
    keypairs = sorted(
        (k for (owner, _), k in cloud.state.keypairs.items() if owner == user_id), key=lambda k: k.name
    )
    marker = None
    if ctx.at_least(2, 35):
        if req.arg("marker") is not None and not any(k.name == req.arg("marker") for k in keypairs):
            raise ApiError(400, f"Marker {req.arg('marker')} could not be found.")
        keypairs, marker = page(keypairs, req, lambda k: k.name, cloud.max_page_size)
    doc: Json = {"keypairs": [{"keypair": _keypair_view(cloud, k, ctx)} for k in keypairs]}
    if marker is not None:
        query = f"limit={len(keypairs)}&marker={marker}"
        if req.arg("user_id"):
            query = f"user_id={req.arg('user_id')}&{query}"
        doc["keypairs_links"] = [
            {"rel": "next", "href": f"{cloud.base_url}/compute/v2.1/os-keypairs?{query}"}
        ]
    return Reply.json(STATUS_GOOD, doc)


def _keypair(cloud: Cloud, req: Request, ctx: Ctx, name: str, rule: str) -> Keypair:
    user_id = _keypair_owner(req, ctx, rule)
    keypair = cloud.state.keypairs.get((user_id, name))
    if keypair is None:
        raise ApiError(404, f"Keypair {name} not found for user {user_id}")
    return keypair


def get_keypair(cloud: Cloud, req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    """``GET /os-keypairs/{name}``."""
    keypair = _keypair(cloud, req, ctx, params["name"], "show")
    return Reply.json(STATUS_GOOD, {"keypair": _keypair_view(cloud, keypair, ctx, full=True)})


def delete_keypair(cloud: Cloud, req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    """``DELETE /os-keypairs/{name}``: 202, 204 from 2.2."""
    keypair = _keypair(cloud, req, ctx, params["name"], "delete")
    del cloud.state.keypairs[(keypair.user_id, keypair.name)]
    return empty(204 if ctx.at_least(2, 2) else 202)


# ================================================================================== quotas and limits
def quota(cloud: Cloud, project_id: str, resource: str) -> int:
    return cloud.state.compute_quotas.get(project_id, {}).get(resource, QUOTA_DEFAULTS[resource])


def usage(cloud: Cloud, project_id: str) -> dict[str, int]:
    """What the project uses, as Nova counts it (servers until they are gone, their flavors' size)."""
    servers = [s for s in cloud.state.servers.values() if s.project_id == project_id]
    return {
        "instances": len(servers),
        "cores": sum(s.flavor.vcpus for s in servers),
        "ram": sum(s.flavor.ram for s in servers),
        "server_groups": sum(1 for g in cloud.state.server_groups.values() if g.project_id == project_id),
    }


def check_instance_quota(cloud: Cloud, ctx: Ctx, flavor: Flavor) -> None:
    """Nova's ``check_num_instances_quota`` for one new server: 403 with TooManyInstances' text."""
    deltas = {"instances": 1, "cores": flavor.vcpus, "ram": flavor.ram}
    used = usage(cloud, ctx.project_id)
    limits = {name: quota(cloud, ctx.project_id, name) for name in deltas}
    overs = [name for name, delta in deltas.items() if 0 <= limits[name] < used[name] + delta]
    if overs:
        overs_text = ", ".join(overs)
        requested = ", ".join(str(deltas[name]) for name in overs)
        already = ", ".join(str(used[name]) for name in overs)
        allowed = ", ".join(str(limits[name]) for name in overs)
        raise ApiError(
            403,
            f"Quota exceeded for {overs_text}: Requested {requested}, but already used {already} of "
            f"{allowed} {overs_text}",
        )


def _shown_quotas(ctx: Ctx) -> list[str]:
    hidden = set(_NETWORK_QUOTAS if ctx.at_least(2, 36) else ()) | set(
        _PERSONALITY_QUOTAS if ctx.at_least(2, 57) else ()
    )
    return [name for name in QUOTA_DEFAULTS if name not in hidden]


def limits(cloud: Cloud, req: Request, ctx: Ctx, _params: dict[str, str]) -> Reply:
    """``GET /limits``: the project's absolute limits and use; ``tenant_id`` names another (admin)."""
    project_id = ctx.project_id
    if req.arg("tenant_id") is not None:
        project_id = req.arg("tenant_id") or ""
        if project_id != ctx.project_id:
            require_admin(ctx, "limits:other_project")
    shown = set(_shown_quotas(ctx))
    names = {
        "ram": ["maxTotalRAMSize"],
        "instances": ["maxTotalInstances"],
        "cores": ["maxTotalCores"],
        "key_pairs": ["maxTotalKeypairs"],
        "floating_ips": ["maxTotalFloatingIps"],
        "metadata_items": ["maxServerMeta"] + ([] if ctx.at_least(2, 39) else ["maxImageMeta"]),
        "injected_files": ["maxPersonality"],
        "injected_file_content_bytes": ["maxPersonalitySize"],
        "security_groups": ["maxSecurityGroups"],
        "security_group_rules": ["maxSecurityGroupRules"],
        "server_groups": ["maxServerGroups"],
        "server_group_members": ["maxServerGroupMembers"],
    }
    absolute: Json = {
        limit: quota(cloud, project_id, resource)
        for resource, limit_names in names.items()
        if resource in shown
        for limit in limit_names
    }
    used = usage(cloud, project_id)
    for limit, resource in (
        ("totalRAMUsed", "ram"),
        ("totalCoresUsed", "cores"),
        ("totalInstancesUsed", "instances"),
        ("totalFloatingIpsUsed", "floating_ips"),  # no nova-network: nothing counts them
        ("totalSecurityGroupsUsed", "security_groups"),
        ("totalServerGroupsUsed", "server_groups"),
    ):
        if resource in shown:
            absolute[limit] = used.get(resource, 0)
    return Reply.json(STATUS_GOOD, {"limits": {"rate": [], "absolute": absolute}})


def _quota_project(ctx: Ctx, params: dict[str, str], rule: str) -> str:
    project_id = params["project"]
    if project_id != ctx.project_id:
        require_admin(ctx, f"os-quota-sets:{rule}")
    # assumption: per-user quotas (``?user_id=``) are not modeled; the project's quotas answer
    return project_id


def show_quota_set(cloud: Cloud, _req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    """``GET /os-quota-sets/{project}``: its limits (its own project for a member)."""
    project_id = _quota_project(ctx, params, "show")
    doc: Json = {"id": project_id} | {n: quota(cloud, project_id, n) for n in _shown_quotas(ctx)}
    return Reply.json(STATUS_GOOD, {"quota_set": doc})


def quota_set_detail(cloud: Cloud, _req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    """``GET /os-quota-sets/{project}/detail``: each limit with its ``in_use`` and ``reserved``."""
    project_id = _quota_project(ctx, params, "detail")
    used = usage(cloud, project_id)
    doc: Json = {"id": project_id}
    for name in _shown_quotas(ctx):
        doc[name] = {"in_use": used.get(name, 0), "limit": quota(cloud, project_id, name), "reserved": 0}
    return Reply.json(STATUS_GOOD, {"quota_set": doc})


def quota_set_defaults(_cloud: Cloud, _req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    """``GET /os-quota-sets/{project}/defaults``: anyone may read the defaults."""
    doc: Json = {"id": params["project"]} | {n: QUOTA_DEFAULTS[n] for n in _shown_quotas(ctx)}
    return Reply.json(STATUS_GOOD, {"quota_set": doc})


def update_quota_set(cloud: Cloud, req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    """``PUT /os-quota-sets/{project}`` (admin): 400 below what is in use unless ``force``."""
    require_admin(ctx, "os-quota-sets:update")
    project_id = params["project"]
    spec = section(req, "quota_set")
    allowed = set(_shown_quotas(ctx)) | {"force"}
    if set(spec) - allowed:
        raise unexpected("quota_set", spec, set(spec) - allowed)
    force = as_bool(spec.pop("force", False))
    wanted = {name: as_int(value, name) for name, value in spec.items()}
    used = usage(cloud, project_id)
    for name, value in wanted.items():
        if not -1 <= value <= MAX_INT:
            raise invalid(name, value, f"{value} is less than the minimum of -1")
        minimum = used.get(name, 0)
        if not force and value != -1 and value < minimum:
            raise ApiError(
                400,
                f"Quota limit {value} for {name} must be greater than or equal to already used and "
                f"reserved {minimum}.",
            )
    cloud.state.compute_quotas.setdefault(project_id, {}).update(wanted)
    doc = {n: quota(cloud, project_id, n) for n in _shown_quotas(ctx)}
    return Reply.json(STATUS_GOOD, {"quota_set": doc})


def revert_quota_set(cloud: Cloud, _req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    """``DELETE /os-quota-sets/{project}`` (admin): back to the defaults, 202."""
    require_admin(ctx, "os-quota-sets:delete")
    cloud.state.compute_quotas.pop(params["project"], None)
    return empty(202)


# ================================================================================== server groups
def _group_policies(ctx: Ctx) -> tuple[str, ...]:
    hard = ("anti-affinity", "affinity")
    return (*hard, "soft-anti-affinity", "soft-affinity") if ctx.at_least(2, 15) else hard


def _group_view(group: ServerGroup, ctx: Ctx) -> Json:
    view: Json = {"id": group.id, "name": group.name}
    if ctx.at_least(2, 64):
        view.update({"policy": group.policy, "rules": dict(group.rules)})
    else:
        view.update({"policies": [group.policy], "metadata": {}})
    view["members"] = list(group.members)
    if ctx.at_least(2, 13):
        view.update({"project_id": group.project_id, "user_id": group.user_id})
    return view


def _group_rules(policy: str, rules: object) -> dict[str, int]:
    if rules is None or rules == {}:
        return {}
    if not isinstance(rules, dict) or set(rules) - {"max_server_per_host"}:
        raise invalid("rules", rules, "Additional properties are not allowed")
    if policy != "anti-affinity":
        raise ApiError(400, "Only anti-affinity policy supports rules.")
    return {"max_server_per_host": checked_count(rules["max_server_per_host"], "max_server_per_host", 1)}


def create_server_group(cloud: Cloud, req: Request, ctx: Ctx, _params: dict[str, str]) -> Reply:
    """``POST /os-server-groups``: ``policies`` (one) below 2.64, ``policy`` and ``rules`` from it."""
    spec = section(req, "server_group")
    allowed = {"name", "policy", "rules"} if ctx.at_least(2, 64) else {"name", "policies"}
    if set(spec) - allowed:
        raise unexpected("server_group", spec, set(spec) - allowed)
    name = checked_name(spec.get("name"))
    known = _group_policies(ctx)
    rules: dict[str, int] = {}
    if ctx.at_least(2, 64):
        policy: Any = spec.get("policy")
        if policy not in known:
            raise invalid("policy", policy, f"{policy!r} is not one of {list(known)}")
        rules = _group_rules(policy, spec.get("rules"))
    else:
        policies = spec.get("policies")
        if not isinstance(policies, list) or len(policies) != 1 or policies[0] not in known:
            raise invalid("policies", policies, f"it takes one of {list(known)}")
        policy = policies[0]
    groups = [g for g in cloud.state.server_groups.values() if g.project_id == ctx.project_id]
    if len(groups) >= quota(cloud, ctx.project_id, "server_groups") >= 0:
        raise ApiError(403, "Quota exceeded, too many server groups.")
    group = ServerGroup(
        str(uuid.uuid4()), ctx.project_id, ctx.user.id, name, policy, rules, cloud.state.next_seq()
    )
    cloud.state.server_groups[group.id] = group
    return Reply.json(STATUS_GOOD, {"server_group": _group_view(group, ctx)})


def list_server_groups(cloud: Cloud, req: Request, ctx: Ctx, _params: dict[str, str]) -> Reply:
    """``GET /os-server-groups``: the project's (every project's for an admin with ``all_projects``)."""
    everyone = ctx.is_admin and "all_projects" in req.query  # Nova tests presence, whatever the value
    groups = sorted(
        (g for g in cloud.state.server_groups.values() if everyone or g.project_id == ctx.project_id),
        key=lambda g: g.seq,
    )
    offset = as_int(req.arg("offset") or 0, "offset")
    limit = req.arg("limit")
    chosen = groups[offset:] if limit is None else groups[offset : offset + as_int(limit, "limit")]
    return Reply.json(STATUS_GOOD, {"server_groups": [_group_view(g, ctx) for g in chosen]})


def requested_group(cloud: Cloud, ctx: Ctx, hints: dict[str, list[Any]]) -> ServerGroup | None:
    """The server group a create's ``group`` hint names (Nova's 400 when there is none), if it has room.

    Nova looks the group up by uuid alone (any project's) and counts the members the caller made
    against ``server_group_members`` (403 GroupMemberLimitExceeded).
    """
    if not hints.get("group"):
        return None
    group_id = str(hints["group"][0])
    group = cloud.state.server_groups.get(group_id)
    if group is None:
        raise ApiError(400, f"Instance group {group_id} could not be found.")
    mine = [m for m in group.members if (s := cloud.state.servers.get(m)) and s.user_id == ctx.user.id]
    if len(mine) >= quota(cloud, ctx.project_id, "server_group_members") >= 0:
        raise ApiError(403, "Quota exceeded, too many servers in group")
    return group


def leave_groups(cloud: Cloud, server_id: str) -> None:
    """A deleted server leaves its server groups, as Nova's instance destroy removes its membership."""
    for group in cloud.state.server_groups.values():
        if server_id in group.members:
            group.members.remove(server_id)


def _server_group(cloud: Cloud, ctx: Ctx, group_id: str) -> ServerGroup:
    group = cloud.state.server_groups.get(group_id)
    if group is None or not (ctx.is_admin or group.project_id == ctx.project_id):
        raise ApiError(404, f"Instance group {group_id} could not be found.")
    return group


def get_server_group(cloud: Cloud, _req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    """``GET /os-server-groups/{id}``."""
    return Reply.json(
        STATUS_GOOD, {"server_group": _group_view(_server_group(cloud, ctx, params["id"]), ctx)}
    )


def delete_server_group(cloud: Cloud, _req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    """``DELETE /os-server-groups/{id}``: 204."""
    del cloud.state.server_groups[_server_group(cloud, ctx, params["id"]).id]
    return empty(204)
