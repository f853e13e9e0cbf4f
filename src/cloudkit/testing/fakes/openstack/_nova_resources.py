"""Nova's resource APIs beside servers: keypairs, limits, quota sets, availability zones, aggregates,
server groups; the read-only hypervisors, services and extensions; and the policy and validation helpers
`_nova_flavors` (flavor management) shares.

Wire facts follow Nova's API reference and its controllers (nova/api/openstack/compute/): the policy
defaults (an admin manages flavors, aggregates and quotas; a member gets ``403 Policy doesn't allow
<rule> to be performed.``), the microversion steps (keypair ``type`` 2.2, keypair ``user_id`` 2.10,
flavor ``description`` 2.55, flavor ``extra_specs`` 2.61, aggregate ``uuid`` 2.41, server group
``project_id``/``user_id`` 2.13 and ``policy``/``rules`` 2.64, network proxy limits and quotas gone at
2.36, ``maxImageMeta`` at 2.39, personality at 2.57, keypair generation at 2.92) and the quota defaults
of a devstack ``nova.conf``. The cloud has one compute host, ``fake-compute-1``, that also runs the
control services, as an all-in-one devstack does; its zone is ``nova`` unless an aggregate names another.
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
from cloudkit.testing.fakes.openstack._cloud import Cloud, Ctx, pick_action
from cloudkit.testing.fakes.openstack._state import (
    Aggregate,
    Json,
    Keypair,
    ServerGroup,
    uuid5,
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

HOST = "fake-compute-1"  # the one compute host, as the server views name it
DEFAULT_ZONE = "nova"  # Nova's default_availability_zone
_MAX_INT = 0x7FFFFFFF
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
    if not minimum <= number <= _MAX_INT:
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
    if len(owned) >= _quota(cloud, ctx.project_id, "key_pairs") >= 0:
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
def _quota(cloud: Cloud, project_id: str, resource: str) -> int:
    return cloud.state.compute_quotas.get(project_id, {}).get(resource, QUOTA_DEFAULTS[resource])


def _usage(cloud: Cloud, project_id: str) -> dict[str, int]:
    """What the project uses, as Nova counts it (servers until they are gone, their flavors' size)."""
    servers = [s for s in cloud.state.servers.values() if s.project_id == project_id]
    flavors = [cloud.state.flavors.get(s.flavor_id) for s in servers]
    return {
        "instances": len(servers),
        "cores": sum(f.vcpus for f in flavors if f is not None),
        "ram": sum(f.ram for f in flavors if f is not None),
        "server_groups": sum(1 for g in cloud.state.server_groups.values() if g.project_id == project_id),
    }


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
        limit: _quota(cloud, project_id, resource)
        for resource, limit_names in names.items()
        if resource in shown
        for limit in limit_names
    }
    used = _usage(cloud, project_id)
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
    doc: Json = {"id": project_id} | {n: _quota(cloud, project_id, n) for n in _shown_quotas(ctx)}
    return Reply.json(STATUS_GOOD, {"quota_set": doc})


def quota_set_detail(cloud: Cloud, _req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    """``GET /os-quota-sets/{project}/detail``: each limit with its ``in_use`` and ``reserved``."""
    project_id = _quota_project(ctx, params, "detail")
    used = _usage(cloud, project_id)
    doc: Json = {"id": project_id}
    for name in _shown_quotas(ctx):
        doc[name] = {"in_use": used.get(name, 0), "limit": _quota(cloud, project_id, name), "reserved": 0}
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
    used = _usage(cloud, project_id)
    for name, value in wanted.items():
        if not -1 <= value <= _MAX_INT:
            raise invalid(name, value, f"{value} is less than the minimum of -1")
        minimum = used.get(name, 0)
        if not force and value != -1 and value < minimum:
            raise ApiError(
                400,
                f"Quota limit {value} for {name} must be greater than or equal to already used and "
                f"reserved {minimum}.",
            )
    cloud.state.compute_quotas.setdefault(project_id, {}).update(wanted)
    doc = {n: _quota(cloud, project_id, n) for n in _shown_quotas(ctx)}
    return Reply.json(STATUS_GOOD, {"quota_set": doc})


def revert_quota_set(cloud: Cloud, _req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    """``DELETE /os-quota-sets/{project}`` (admin): back to the defaults, 202."""
    require_admin(ctx, "os-quota-sets:delete")
    cloud.state.compute_quotas.pop(params["project"], None)
    return empty(202)


# ================================================================================== availability zones
def _host_zone(cloud: Cloud, host: str) -> str:
    for aggregate in sorted(cloud.state.aggregates.values(), key=lambda a: a.id):
        zone = aggregate.metadata.get("availability_zone")
        if zone and host in aggregate.hosts:
            return zone
    return DEFAULT_ZONE


def availability_zones(cloud: Cloud, req: Request, ctx: Ctx, _params: dict[str, str]) -> Reply:
    """``GET /os-availability-zone`` and ``/detail`` (admin): the zones of the compute hosts.

    The detail adds ``internal``, the zone of the control services, and each zone's hosts.
    """
    detail = req.path.endswith("/detail")
    if detail:
        require_admin(ctx, "os-availability-zone:detail")
    updated = db_time(cloud, cloud.now())

    def services(*names: str) -> Json:
        return {n: {"available": True, "active": True, "updated_at": updated} for n in names}

    zones: list[Json] = []
    if detail:
        internal = {HOST: services("nova-conductor", "nova-scheduler")}
        zones.append({"zoneName": "internal", "zoneState": {"available": True}, "hosts": internal})
    compute = {HOST: services("nova-compute")} if detail else None
    zones.append({"zoneName": _host_zone(cloud, HOST), "zoneState": {"available": True}, "hosts": compute})
    return Reply.json(STATUS_GOOD, {"availabilityZoneInfo": zones})


# ================================================================================== aggregates
def _aggregate_view(cloud: Cloud, aggregate: Aggregate, ctx: Ctx, *, members: bool = True) -> Json:
    view: Json = {
        "availability_zone": aggregate.metadata.get("availability_zone"),
        "created_at": db_time(cloud, aggregate.created),
        "deleted": False,
        "deleted_at": None,
        "id": aggregate.id,
        "name": aggregate.name,
        "updated_at": db_time(cloud, aggregate.updated),
    }
    if members:  # a create answers without them, as Nova's controller drops them there
        view["hosts"] = list(aggregate.hosts)
        view["metadata"] = dict(aggregate.metadata)
    if ctx.at_least(2, 41):
        view["uuid"] = aggregate.uuid
    return view


def _aggregate(cloud: Cloud, ctx: Ctx, aggregate_id: str, rule: str) -> Aggregate:
    require_admin(ctx, f"os-aggregates:{rule}")
    if not re.fullmatch(r"-?\d+", aggregate_id):
        raise ApiError(400, "Invalid input received: id must be an integer")  # assumption: Nova's text
    aggregate = cloud.state.aggregates.get(int(aggregate_id))
    if aggregate is None:
        raise ApiError(404, f"Aggregate {aggregate_id} could not be found.")
    return aggregate


def _zone_name(value: object) -> str | None:
    if value is None:
        return None
    name = checked_name(value, "availability_zone")
    if ":" in name:
        raise ApiError(400, "Invalid input received: availability_zone can not contain ':' character")
    return name


def _unique_name(cloud: Cloud, name: str, aggregate: Aggregate | None = None) -> None:
    if any(a.name == name and a is not aggregate for a in cloud.state.aggregates.values()):
        raise ApiError(409, f"Aggregate {name} already exists.")


def list_aggregates(cloud: Cloud, _req: Request, ctx: Ctx, _params: dict[str, str]) -> Reply:
    """``GET /os-aggregates`` (admin)."""
    require_admin(ctx, "os-aggregates:index")
    aggregates = sorted(cloud.state.aggregates.values(), key=lambda a: a.id)
    return Reply.json(STATUS_GOOD, {"aggregates": [_aggregate_view(cloud, a, ctx) for a in aggregates]})


def create_aggregate(cloud: Cloud, req: Request, ctx: Ctx, _params: dict[str, str]) -> Reply:
    """``POST /os-aggregates`` (admin) with a name and an optional availability zone."""
    require_admin(ctx, "os-aggregates:create")
    spec = section(req, "aggregate")
    if set(spec) - {"name", "availability_zone"}:
        raise unexpected("aggregate", spec, set(spec) - {"name", "availability_zone"})
    name = checked_name(spec.get("name"))
    zone = _zone_name(spec.get("availability_zone"))
    _unique_name(cloud, name)
    number = max(cloud.state.aggregates, default=0) + 1
    aggregate = Aggregate(number, str(uuid.uuid4()), name, cloud.now())
    if zone is not None:
        aggregate.metadata["availability_zone"] = zone
    cloud.state.aggregates[number] = aggregate
    return Reply.json(STATUS_GOOD, {"aggregate": _aggregate_view(cloud, aggregate, ctx, members=False)})


def get_aggregate(cloud: Cloud, _req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    """``GET /os-aggregates/{id}`` (admin)."""
    aggregate = _aggregate(cloud, ctx, params["id"], "show")
    return Reply.json(STATUS_GOOD, {"aggregate": _aggregate_view(cloud, aggregate, ctx)})


def update_aggregate(cloud: Cloud, req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    """``PUT /os-aggregates/{id}`` (admin): a new name or availability zone."""
    aggregate = _aggregate(cloud, ctx, params["id"], "update")
    spec = section(req, "aggregate")
    if not spec or set(spec) - {"name", "availability_zone"}:
        raise invalid("aggregate", spec, "it needs 'name' or 'availability_zone' and nothing else")
    if "name" in spec:
        _unique_name(cloud, checked_name(spec["name"]), aggregate)
        aggregate.name = spec["name"]
    if "availability_zone" in spec:
        zone = _zone_name(spec["availability_zone"])
        if zone is None:
            aggregate.metadata.pop("availability_zone", None)
        else:
            aggregate.metadata["availability_zone"] = zone
    aggregate.updated = cloud.now()
    return Reply.json(STATUS_GOOD, {"aggregate": _aggregate_view(cloud, aggregate, ctx)})


def delete_aggregate(cloud: Cloud, _req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    """``DELETE /os-aggregates/{id}`` (admin): 200; 400 while it still has hosts."""
    aggregate = _aggregate(cloud, ctx, params["id"], "delete")
    if aggregate.hosts:
        # assumption: InvalidAggregateActionDelete's text
        raise ApiError(400, f"Cannot delete aggregate {aggregate.id}. Reason: Host aggregate is not empty.")
    del cloud.state.aggregates[aggregate.id]
    return empty(STATUS_GOOD)


def aggregate_action(cloud: Cloud, req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    """``POST /os-aggregates/{id}/action``: ``add_host``, ``remove_host``, ``set_metadata`` (admin)."""
    handler, args = pick_action(
        req, {"add_host": _add_host, "remove_host": _remove_host, "set_metadata": _set_metadata}
    )
    return handler(cloud, ctx, params["id"], args)


def _host_arg(action: str, args: object) -> str:
    host = args.get("host") if isinstance(args, dict) else None
    if not isinstance(host, str) or not host:
        raise invalid(action, args, "'host' is a required property")
    return host


def _add_host(cloud: Cloud, ctx: Ctx, aggregate_id: str, args: object) -> Reply:
    aggregate = _aggregate(cloud, ctx, aggregate_id, "add_host")
    host = _host_arg("add_host", args)
    if host != HOST:
        raise ApiError(404, f"Compute host {host} could not be found.")
    if host in aggregate.hosts:
        raise ApiError(409, f"Aggregate {aggregate.id} already has host {host}.")
    zone = aggregate.metadata.get("availability_zone")
    current = _host_zone(cloud, host)
    if zone and current not in (zone, DEFAULT_ZONE):
        raise ApiError(
            409,
            f"Cannot add host to aggregate {aggregate.id}. Reason: One or more hosts already in "
            f"availability zone(s) ['{current}'].",
        )
    aggregate.hosts.append(host)
    aggregate.updated = cloud.now()
    return Reply.json(STATUS_GOOD, {"aggregate": _aggregate_view(cloud, aggregate, ctx)})


def _remove_host(cloud: Cloud, ctx: Ctx, aggregate_id: str, args: object) -> Reply:
    aggregate = _aggregate(cloud, ctx, aggregate_id, "remove_host")
    host = _host_arg("remove_host", args)
    if host not in aggregate.hosts:
        raise ApiError(404, f"Cannot remove host {host} in aggregate {aggregate.id}")
    aggregate.hosts.remove(host)
    aggregate.updated = cloud.now()
    return Reply.json(STATUS_GOOD, {"aggregate": _aggregate_view(cloud, aggregate, ctx)})


def _set_metadata(cloud: Cloud, ctx: Ctx, aggregate_id: str, args: object) -> Reply:
    aggregate = _aggregate(cloud, ctx, aggregate_id, "set_metadata")
    metadata = args.get("metadata") if isinstance(args, dict) else None
    if not isinstance(metadata, dict):
        raise invalid("set_metadata", args, "'metadata' is a required property")
    for key, value in metadata.items():
        if not SPEC_KEY.match(key):
            raise invalid("metadata", metadata, f"{key!r} does not match any of the regexes")
        if value is None:  # a null value deletes the key
            aggregate.metadata.pop(key, None)
        else:
            aggregate.metadata[key] = spec_value(key, value)
    aggregate.updated = cloud.now()
    return Reply.json(STATUS_GOOD, {"aggregate": _aggregate_view(cloud, aggregate, ctx)})


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
    if len(groups) >= _quota(cloud, ctx.project_id, "server_groups") >= 0:
        raise ApiError(403, "Quota exceeded, too many server groups.")
    group = ServerGroup(
        str(uuid.uuid4()), ctx.project_id, ctx.user.id, name, policy, rules, cloud.state.next_seq()
    )
    cloud.state.server_groups[group.id] = group
    return Reply.json(STATUS_GOOD, {"server_group": _group_view(group, ctx)})


def list_server_groups(cloud: Cloud, req: Request, ctx: Ctx, _params: dict[str, str]) -> Reply:
    """``GET /os-server-groups``: the project's (every project's for an admin with ``all_projects``)."""
    everyone = ctx.is_admin and as_bool(req.arg("all_projects") or "0")
    groups = sorted(
        (g for g in cloud.state.server_groups.values() if everyone or g.project_id == ctx.project_id),
        key=lambda g: g.seq,
    )
    offset = as_int(req.arg("offset") or 0, "offset")
    limit = req.arg("limit")
    chosen = groups[offset:] if limit is None else groups[offset : offset + as_int(limit, "limit")]
    return Reply.json(STATUS_GOOD, {"server_groups": [_group_view(g, ctx) for g in chosen]})


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


# ================================================================================== hypervisors, services
# assumption: the one host's size (a small devstack VM); boot-from-volume servers use none of its disk
_HOST_VCPUS, _HOST_RAM_MB, _HOST_DISK_GB = 16, 32768, 400
_SERVICES = (("nova-conductor", "internal"), ("nova-scheduler", "internal"), ("nova-compute", None))


def _hypervisor_id(ctx: Ctx) -> str | int:
    return uuid5(f"hypervisor:{HOST}") if ctx.at_least(2, 53) else 1


def _service_id(ctx: Ctx, binary: str) -> str | int:
    number = next(n for n, (name, _) in enumerate(_SERVICES, 1) if name == binary)
    return uuid5(f"service:{HOST}:{binary}") if ctx.at_least(2, 53) else number


def _hypervisor_view(cloud: Cloud, req: Request, ctx: Ctx, *, detail: bool) -> Json:
    view: Json = {"id": _hypervisor_id(ctx), "hypervisor_hostname": HOST, "state": "up", "status": "enabled"}
    servers = sorted(cloud.state.servers.values(), key=lambda s: s.seq)
    if detail:
        view.update(
            {
                "host_ip": "127.0.0.1",
                "hypervisor_type": "QEMU",
                "hypervisor_version": 8002002,
                "service": {"host": HOST, "id": _service_id(ctx, "nova-compute"), "disabled_reason": None},
            }
        )
        if ctx.at_least(2, 88):
            view["uptime"] = None  # assumption: the libvirt driver's uptime text is not modeled
        else:  # the resource figures Nova dropped at 2.88
            flavors = [cloud.state.flavors.get(s.flavor_id) for s in servers]
            vcpus_used = sum(f.vcpus for f in flavors if f is not None)
            ram_used = 512 + sum(f.ram for f in flavors if f is not None)  # Nova reserves 512 MB
            view.update(
                {
                    "cpu_info": {} if ctx.at_least(2, 28) else "{}",
                    "current_workload": 0,
                    "disk_available_least": _HOST_DISK_GB,
                    "free_disk_gb": _HOST_DISK_GB,
                    "free_ram_mb": _HOST_RAM_MB - ram_used,
                    "local_gb": _HOST_DISK_GB,
                    "local_gb_used": 0,
                    "memory_mb": _HOST_RAM_MB,
                    "memory_mb_used": ram_used,
                    "running_vms": len(servers),
                    "vcpus": _HOST_VCPUS,
                    "vcpus_used": vcpus_used,
                }
            )
    if ctx.at_least(2, 53) and as_bool(req.arg("with_servers") or "0"):
        view["servers"] = [{"name": f"instance-{s.seq:08x}", "uuid": s.id} for s in servers]
    return view


def list_hypervisors(cloud: Cloud, req: Request, ctx: Ctx, _params: dict[str, str]) -> Reply:
    """``GET /os-hypervisors`` and ``/detail`` (admin): the one compute host."""
    require_admin(ctx, "os-hypervisors:list")
    pattern = req.arg("hypervisor_hostname_pattern") if ctx.at_least(2, 53) else None
    if pattern is not None and pattern not in HOST:  # Nova matches the pattern as a substring
        raise ApiError(404, f"No hypervisor matching '{pattern}' could be found.")
    view = _hypervisor_view(cloud, req, ctx, detail=req.path.endswith("/detail"))
    return Reply.json(STATUS_GOOD, {"hypervisors": [view]})


def get_hypervisor(cloud: Cloud, req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    """``GET /os-hypervisors/{id}`` (admin): a uuid from 2.53, an integer before."""
    require_admin(ctx, "os-hypervisors:show")
    wanted = params["id"]
    if ctx.at_least(2, 53) and not re.fullmatch(r"[0-9a-fA-F-]{32,36}", wanted):
        raise ApiError(400, f"Invalid uuid {wanted}")
    if wanted != str(_hypervisor_id(ctx)):
        raise ApiError(404, f"Hypervisor with ID '{wanted}' could not be found.")
    return Reply.json(STATUS_GOOD, {"hypervisor": _hypervisor_view(cloud, req, ctx, detail=True)})


def list_services(cloud: Cloud, req: Request, ctx: Ctx, _params: dict[str, str]) -> Reply:
    """``GET /os-services`` (admin): the conductor, the scheduler and the compute service of the host."""
    require_admin(ctx, "os-services:list")
    services: list[Json] = []
    for binary, zone in _SERVICES:
        if req.arg("binary") not in (None, binary) or req.arg("host") not in (None, HOST):
            continue
        view: Json = {
            "id": _service_id(ctx, binary),
            "binary": binary,
            "disabled_reason": None,
            "host": HOST,
            "state": "up",
            "status": "enabled",
            "updated_at": db_time(cloud, cloud.now()),
            "zone": zone or _host_zone(cloud, HOST),
        }
        if ctx.at_least(2, 11):
            view["forced_down"] = False
        services.append(view)
    return Reply.json(STATUS_GOOD, {"services": services})


# ================================================================================== extensions
# Nova's v2.1 API still lists its legacy extensions, each with this namespace and date; assumption: the
# few naming what this fake serves stand for Nova's full list of about ninety.
_EXTENSIONS = (
    ("os-aggregates", "Aggregates", "Admin-only aggregate administration."),
    ("os-availability-zone", "AvailabilityZone", "1. Add availability_zone to the Create Server API."),
    ("os-extended-volumes", "ExtendedVolumes", "Extended Volumes support."),
    ("os-flavor-access", "FlavorAccess", "Flavor access support."),
    ("os-flavor-extra-specs", "FlavorExtraSpecs", "Flavors extra specs support."),
    ("os-flavor-manage", "FlavorManage", "Flavor create/delete API support."),
    ("os-hypervisors", "Hypervisors", "Admin-only hypervisor administration."),
    ("os-keypairs", "Keypairs", "Keypair Support."),
    ("os-quota-sets", "Quotas", "Quotas management support."),
    ("os-server-groups", "ServerGroups", "Server group support."),
    ("os-server-tags", "ServerTags", "Server tags support."),
    ("os-services", "Services", "Services support."),
    ("os-volumes", "Volumes", "Volumes support."),
)


def _extension_view(alias: str, name: str, description: str) -> Json:
    return {
        "alias": alias,
        "description": description,
        "links": [],
        "name": name,
        "namespace": "http://docs.openstack.org/compute/ext/fake_xml",
        "updated": "2014-12-03T00:00:00Z",
    }


def list_extensions(_cloud: Cloud, _req: Request, _ctx: Ctx, _params: dict[str, str]) -> Reply:
    """``GET /extensions``."""
    return Reply.json(STATUS_GOOD, {"extensions": [_extension_view(*e) for e in _EXTENSIONS]})


def get_extension(_cloud: Cloud, _req: Request, _ctx: Ctx, params: dict[str, str]) -> Reply:
    """``GET /extensions/{alias}``."""
    found = next((e for e in _EXTENSIONS if e[0] == params["alias"]), None)
    if found is None:
        raise ApiError(404, "The resource could not be found.")  # assumption: webob's plain 404 text
    return Reply.json(STATUS_GOOD, {"extension": _extension_view(*found)})
