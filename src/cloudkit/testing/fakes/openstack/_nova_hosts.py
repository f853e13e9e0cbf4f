"""Nova's host-side APIs of the OpenStack fake: availability zones, aggregates, hypervisors, services
and the legacy extension list.

Split from `_nova_resources` (whose policy and validation helpers it uses); wire facts as there:
an admin manages aggregates and reads hypervisors, services and the zone detail (``403 Policy doesn't
allow <rule> to be performed.`` for a member), aggregate ``uuid`` from 2.41, hypervisor and service
uuids from 2.53. The cloud has one compute host, ``fake-compute-1``, that also runs the control
services, as an all-in-one devstack does; its zone is ``nova`` unless an aggregate names another.
"""  # noqa: D205 (the summary names every resource)

from __future__ import annotations

import re
import uuid

from cloudkit.testing.fakes._kit import Reply, Request
from cloudkit.testing.fakes.openstack._cloud import Cloud, Ctx, pick_action
from cloudkit.testing.fakes.openstack._nova_resources import (
    SPEC_KEY,
    checked_name,
    db_time,
    invalid,
    require_admin,
    section,
    spec_value,
    unexpected,
)
from cloudkit.testing.fakes.openstack._state import Aggregate, Json, uuid5
from cloudkit.testing.fakes.openstack._wire import STATUS_GOOD, ApiError, as_bool, empty

HOST = "fake-compute-1"  # the one compute host, as the server views name it
DEFAULT_ZONE = "nova"  # Nova's default_availability_zone


# ================================================================================== availability zones
def host_zone(cloud: Cloud, host: str) -> str:
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
    zones.append({"zoneName": host_zone(cloud, HOST), "zoneState": {"available": True}, "hosts": compute})
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
    cloud.state.last_aggregate_id += 1
    number = cloud.state.last_aggregate_id
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
    current = host_zone(cloud, host)
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


# ================================================================================== hypervisors, services
# The one host's size is `ComputeHost` in the state (the fake's `set_compute_host` changes it).
_SERVICES = (("nova-conductor", "internal"), ("nova-scheduler", "internal"), ("nova-compute", None))


def _hypervisor_id(ctx: Ctx) -> str | int:
    return uuid5(f"hypervisor:{HOST}") if ctx.at_least(2, 53) else 1


def _service_id(ctx: Ctx, binary: str) -> str | int:
    number = next(n for n, (name, _) in enumerate(_SERVICES, 1) if name == binary)
    return uuid5(f"service:{HOST}:{binary}") if ctx.at_least(2, 53) else number


def _hypervisor_view(cloud: Cloud, req: Request, ctx: Ctx, *, detail: bool) -> Json:
    view: Json = {"id": _hypervisor_id(ctx), "hypervisor_hostname": HOST, "state": "up", "status": "enabled"}
    # a build the scheduler refused (a fault) never reached the host: Nova counts only instances on it
    servers = sorted((s for s in cloud.state.servers.values() if s.fault is None), key=lambda s: s.seq)
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
            size = cloud.state.compute_host
            vcpus_used = sum(s.flavor.vcpus for s in servers)
            ram_used = size.reserved_ram_mb + sum(s.flavor.ram for s in servers)  # Nova reserves 512 MB
            view.update(
                {
                    "cpu_info": {} if ctx.at_least(2, 28) else "{}",
                    "current_workload": 0,
                    "disk_available_least": size.disk_gb,
                    "free_disk_gb": size.disk_gb,
                    "free_ram_mb": size.ram_mb - ram_used,
                    "local_gb": size.disk_gb,
                    "local_gb_used": 0,
                    "memory_mb": size.ram_mb,
                    "memory_mb_used": ram_used,
                    "running_vms": len(servers),
                    "vcpus": size.vcpus,
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
            "zone": zone or host_zone(cloud, HOST),
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
