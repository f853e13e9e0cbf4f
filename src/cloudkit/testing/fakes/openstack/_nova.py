"""Nova (compute v2.1 with microversions) of the OpenStack fake: versions, flavors, servers.

Server actions and volume attachments are in `_nova_actions`, the other resources (flavor management,
keypairs, limits, quota sets, zones, aggregates, server groups) in `_nova_resources`; their routes are
here, in one table.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import re
import secrets
import uuid
from urllib.parse import urlencode

from cloudkit.testing.fakes._kit import Reply, Request
from cloudkit.testing.fakes.openstack import _nova_actions as actions
from cloudkit.testing.fakes.openstack import _nova_resources as resources
from cloudkit.testing.fakes.openstack import _nova_tags as tags
from cloudkit.testing.fakes.openstack._cloud import COMPUTE_MIN, Cloud, Ctx, Routes, dispatch
from cloudkit.testing.fakes.openstack._nova_resources import flavor_view
from cloudkit.testing.fakes.openstack._state import POWER_RUNNING, Flavor, Json, Server, hex5
from cloudkit.testing.fakes.openstack._wire import (
    STATUS_GOOD,
    ApiError,
    as_int,
    body_of,
    empty,
    iso,
    sanitize_hostname,
    version_text,
)

_GIB = 1024**3
ROUTES = Routes()


def serve(cloud: Cloud, req: Request) -> Reply:
    """Answer a request below ``/compute``."""
    path = req.path
    if path == "/compute" and req.method in ("GET", "HEAD"):
        return Reply.json(STATUS_GOOD, {"versions": _versions(cloud)})
    if path in ("/compute/v2.1", "/compute/v2") and req.method in ("GET", "HEAD"):
        version = _versions(cloud)[1 if path.endswith("2.1") else 0]
        return Reply.json(STATUS_GOOD, {"version": version})
    rest = path.removeprefix("/compute/v2.1")
    if rest == path:
        raise ApiError(404, "The resource could not be found.")
    microversion = cloud.microversion(req, "compute")
    reply = dispatch(ROUTES, cloud, req, cloud.context(req, microversion=microversion), rest)
    text = version_text(microversion)
    headers = (
        ("OpenStack-API-Version", f"compute {text}"),
        ("X-OpenStack-Nova-API-Version", text),
        ("Vary", "OpenStack-API-Version, X-OpenStack-Nova-API-Version"),
    )
    return dataclasses.replace(reply, headers=reply.headers + headers)


def _versions(cloud: Cloud) -> list[Json]:
    base = cloud.base_url
    described = {"rel": "describedby", "type": "text/html", "href": "http://docs.openstack.org/"}
    return [
        {
            "id": "v2.0",
            "status": "SUPPORTED",
            "version": "",
            "min_version": "",
            "updated": "2011-01-21T11:33:21Z",
            "links": [{"rel": "self", "href": f"{base}/compute/v2/"}],
        },
        {
            "id": "v2.1",
            "status": "CURRENT",
            "version": version_text(cloud.options.compute_max),
            "min_version": version_text(COMPUTE_MIN),
            "updated": "2013-07-23T11:33:21Z",
            "links": [{"rel": "self", "href": f"{base}/compute/v2.1/"}, described],
            "media-types": [
                {"base": "application/json", "type": "application/vnd.openstack.compute+json;version=2.1"}
            ],
        },
    ]


# ================================================================================== flavors
@ROUTES.route("GET", "/flavors")
@ROUTES.route("GET", "/flavors/detail")
def _list_flavors(cloud: Cloud, req: Request, ctx: Ctx, _params: dict[str, str]) -> Reply:
    detail = req.path.endswith("/detail")
    flavors, marker = resources.listed_flavors(cloud, req, ctx)
    doc: Json = {"flavors": [flavor_view(cloud, f, ctx, detail=detail) for f in flavors]}
    if marker is not None:
        params = {k: v[-1] for k, v in req.query.items() if k != "marker"} | {"marker": marker}
        doc["flavors_links"] = [{"rel": "next", "href": f"{cloud.base_url}{req.path}?{urlencode(params)}"}]
    return Reply.json(STATUS_GOOD, doc)


@ROUTES.route("GET", "/flavors/{id}")
def _get_flavor(cloud: Cloud, _req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    flavor = resources.visible_flavor(cloud, ctx, params["id"])
    return Reply.json(STATUS_GOOD, {"flavor": flavor_view(cloud, flavor, ctx, detail=True)})


# ================================================================================== server views
def _server_links(cloud: Cloud, server_id: str) -> list[Json]:
    return [
        {"rel": "self", "href": f"{cloud.base_url}/compute/v2.1/servers/{server_id}"},
        {"rel": "bookmark", "href": f"{cloud.base_url}/compute/servers/{server_id}"},
    ]


def _server_view(cloud: Cloud, server: Server, ctx: Ctx, *, single: bool = False) -> Json:
    flavor = cloud.state.flavors.get(server.flavor_id) or Flavor(server.flavor_id, "deleted", 0, 0, 0)
    volumes: list[Json] = []
    for attachment in cloud.guest_attachments(server):
        item: Json = {"id": attachment.volume_id}
        if ctx.at_least(2, 3):
            item["delete_on_termination"] = attachment.delete_on_termination
        volumes.append(item)
    flavor_view: Json
    if ctx.at_least(2, 47):
        flavor_view = {
            "vcpus": flavor.vcpus,
            "ram": flavor.ram,
            "disk": flavor.disk,
            "ephemeral": 0,
            "swap": 0,
            "original_name": flavor.name,
            "extra_specs": {},
        }
    else:
        flavor_view = {
            "id": flavor.id,
            "links": [{"rel": "bookmark", "href": f"{cloud.base_url}/compute/flavors/{flavor.id}"}],
        }
    view: Json = {
        "id": server.id,
        "name": server.name,
        "status": server.status,
        "tenant_id": server.project_id,
        "user_id": server.user_id,
        "metadata": dict(server.metadata),
        "hostId": hashlib.sha224(f"{server.project_id}fake-compute-1".encode()).hexdigest(),
        "image": "",  # a volume-backed server has no image object (reference §2.2)
        "flavor": flavor_view,
        "created": iso(cloud.wall(server.created), style="nova"),
        "updated": iso(cloud.wall(server.updated), style="nova"),
        "addresses": {k: [dict(a) for a in v] for k, v in server.addresses.items()},
        "accessIPv4": "",
        "accessIPv6": "",
        "links": _server_links(cloud, server.id),
        "OS-DCF:diskConfig": "MANUAL",
        "progress": 0,
        "OS-EXT-AZ:availability_zone": "nova",
        "config_drive": "",
        "key_name": server.key_name,
        "OS-SRV-USG:launched_at": (
            iso(cloud.wall(server.launched), style="cinder") if server.launched is not None else None
        ),
        "OS-SRV-USG:terminated_at": None,
        "OS-EXT-STS:task_state": server.task_state,
        "OS-EXT-STS:vm_state": server.vm_state,
        "OS-EXT-STS:power_state": server.power_state,
        "os-extended-volumes:volumes_attached": volumes,
    }
    if server.fault is not None:
        view["fault"] = dict(server.fault)
    if server.addresses:
        view["security_groups"] = [{"name": "default"}]
    _server_view_versioned(view, server, ctx)
    if single and ctx.at_least(2, 71):  # only GET /servers/{id} lists them, not /servers/detail (lab)
        view["server_groups"] = []
    return view


def _server_view_versioned(view: Json, server: Server, ctx: Ctx) -> None:
    for version, key, value in (
        ((2, 9), "locked", server.locked),
        ((2, 19), "description", server.description),
        ((2, 26), "tags", list(server.tags)),
        ((2, 63), "trusted_image_certificates", None),
        ((2, 73), "locked_reason", server.locked_reason),
        # every user sees the guest hostname from 2.90 (as the lab's Nova 34 shows it)
        ((2, 90), "OS-EXT-SRV-ATTR:hostname", sanitize_hostname(server.name)),
        ((2, 96), "pinned_availability_zone", None),
    ):
        if ctx.at_least(*version):
            view[key] = value
    if ctx.is_admin:  # assumption: one fake hypervisor host
        view["OS-EXT-SRV-ATTR:host"] = "fake-compute-1"
        view["OS-EXT-SRV-ATTR:hypervisor_hostname"] = "fake-compute-1"
        view["OS-EXT-SRV-ATTR:instance_name"] = f"instance-{server.seq:08x}"
        if ctx.at_least(2, 3):  # the admin-only extended attributes, as the lab's Nova 34 shows them
            view["OS-EXT-SRV-ATTR:reservation_id"] = f"r-{hex5(server.id)[:8]}"
            view["OS-EXT-SRV-ATTR:launch_index"] = 0
            view["OS-EXT-SRV-ATTR:kernel_id"] = ""
            view["OS-EXT-SRV-ATTR:ramdisk_id"] = ""
            view["OS-EXT-SRV-ATTR:root_device_name"] = "/dev/vda"
            view["OS-EXT-SRV-ATTR:user_data"] = None


# ================================================================================== servers
@ROUTES.route("GET", "/servers")
@ROUTES.route("GET", "/servers/detail")
def _list_servers(cloud: Cloud, req: Request, ctx: Ctx, _params: dict[str, str]) -> Reply:
    servers = cloud.visible(req, ctx, cloud.state.servers.values())  # Nova's default: newest first
    name, status = req.arg("name"), req.arg("status")
    if name:
        servers = [s for s in servers if re.search(name, s.name)]
    if status:
        servers = [s for s in servers if s.status.lower() == status.lower()]
    servers = [s for s in servers if tags.list_filter(req, ctx)(s)]
    view = functools.partial(_server_view, cloud, ctx=ctx)
    return cloud.paged(req, "servers", servers, view, functools.partial(_server_links, cloud))


@ROUTES.route("POST", "/servers")
def _create_server(cloud: Cloud, req: Request, ctx: Ctx, _params: dict[str, str]) -> Reply:
    spec = body_of(req).get("server")
    if not isinstance(spec, dict):
        raise ApiError(400, "Invalid input for field/attribute server. 'server' is a required property")
    name = spec.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ApiError(400, f"Invalid input for field/attribute name. Value: {name}.")
    flavor_ref = str(spec.get("flavorRef") or "").rstrip("/").rsplit("/", 1)[-1]
    if flavor_ref not in cloud.state.flavors:
        raise ApiError(400, f"Flavor {flavor_ref} could not be found.")
    server_tags = tags.create_tags(spec, ctx)
    metadata = tags.checked_metadata(spec.get("metadata"))
    addresses = _server_networks(cloud, spec, ctx)
    plan = _boot_plan(cloud, spec.get("block_device_mapping_v2"), ctx)
    now = cloud.now()
    server = Server(
        id=str(uuid.uuid4()),
        project_id=ctx.project_id,
        user_id=ctx.user.id,
        name=name,
        flavor_id=flavor_ref,
        root_volume_id="",
        seq=cloud.state.next_seq(),
        created=now,
        updated=now,
        admin_pass=secrets.token_urlsafe(9),
        description=spec.get("description"),
        metadata=metadata,
        addresses=addresses,
        key_name=spec.get("key_name"),
        tags=server_tags,
    )
    server.root_volume_id = _materialise(cloud, server, plan)
    cloud.state.servers[server.id] = server
    cloud.later(lambda: _finish_build(cloud, server))
    body = {
        "server": {
            "id": server.id,
            "links": _server_links(cloud, server.id),
            "OS-DCF:diskConfig": "MANUAL",
            "security_groups": [{"name": "default"}],
            "adminPass": server.admin_pass,
        }
    }
    location = f"{cloud.base_url}/compute/v2.1/servers/{server.id}"
    return Reply.json(202, body, [("Location", location)])


def _server_networks(cloud: Cloud, spec: Json, ctx: Ctx) -> dict[str, list[Json]]:
    networks = spec.get("networks")
    if networks is None:
        if ctx.at_least(2, 37):
            raise ApiError(400, "Invalid input for field/attribute server. 'networks' is a required property")
        networks = "auto"
    if isinstance(networks, str):
        if not ctx.at_least(2, 37) or networks not in ("none", "auto"):
            raise ApiError(400, f"Invalid input for field/attribute networks. Value: {networks}.")
    elif not isinstance(networks, list):
        raise ApiError(400, f"Invalid input for field/attribute networks. Value: {networks}.")
    if networks == "none":
        return {}
    # assumption: no Neutron here; "auto" or any network list gives one fixed private address
    host = 10 + len(cloud.state.servers) % 240
    return {"private": [{"addr": f"10.0.0.{host}", "version": 4, "OS-EXT-IPS:type": "fixed"}]}


def _boot_plan(cloud: Cloud, mappings: object, ctx: Ctx) -> list[Json]:
    """Validate ``block_device_mapping_v2``; return the mappings, root first."""
    if not isinstance(mappings, list) or not all(isinstance(m, dict) for m in mappings):
        mappings = []
    root = [m for m in mappings if str(m.get("boot_index")) == "0"]
    if len(root) != 1 or root[0].get("destination_type") != "volume":
        # assumption: this fake serves boot-from-volume servers only (the team's policy)
        raise ApiError(
            400,
            "Block Device Mapping is Invalid: this cloud boots from volume only; give "
            "block_device_mapping_v2 with boot_index 0 and destination_type volume.",
        )
    ordered = root + [m for m in mappings if m is not root[0]]
    for mapping in ordered:
        _check_mapping(cloud, mapping, ctx)
    return ordered


def _check_mapping(cloud: Cloud, mapping: Json, ctx: Ctx) -> None:
    source = mapping.get("source_type")
    if mapping.get("destination_type") != "volume" or source not in ("image", "volume", "blank"):
        raise ApiError(400, "Block Device Mapping is Invalid: only volume destinations are served.")
    if source == "volume":
        volume = cloud.volume(ctx, str(mapping.get("uuid", "")))
        if volume.status != "available":
            raise ApiError(400, f"Invalid volume: Volume {volume.id} status must be available.")
        return
    size = as_int(mapping.get("volume_size") or 0, "volume_size")
    if size <= 0:
        raise ApiError(400, "Images with destination_type 'volume' need to have a non-zero size specified")
    if source == "image":
        image = cloud.state.images.get(str(mapping.get("uuid", "")))
        if image is None or not cloud.image_visible(image, ctx):
            raise ApiError(400, f"Image {mapping.get('uuid')} could not be found.")
        if size < image.min_disk:
            raise ApiError(
                400,
                "Volume is smaller than the minimum size specified in image metadata. Volume size is "
                f"{size * _GIB} bytes, minimum size is {image.min_disk * _GIB} bytes.",
            )


def _materialise(cloud: Cloud, server: Server, plan: list[Json]) -> str:
    """Make or take the volumes of a new server; they attach while it builds. Returns the root id."""
    root_id = ""
    for index, mapping in enumerate(plan):
        if mapping.get("source_type") == "volume":
            volume = cloud.state.volumes[str(mapping["uuid"])]
        else:
            image_id = str(mapping["uuid"]) if mapping.get("source_type") == "image" else None
            size = as_int(mapping["volume_size"], "volume_size")
            volume = cloud.new_volume(server.project_id, server.user_id, "", size, image_id=image_id)
        device = "/dev/vda" if index == 0 else actions.next_device(cloud, server)
        volume.status = "attaching"
        volume.attachments.append(actions.block_device(volume.id, server.id, device, mapping))
        if index == 0:
            root_id = volume.id
            cloud.state.servers[server.id] = server  # so next_device sees the root device
    return root_id


def _finish_build(cloud: Cloud, server: Server) -> None:
    if server.id not in cloud.state.servers or server.task_state != "scheduling":
        return
    now = cloud.now()
    if cloud.state.build_failures > 0:  # a build that fails as Nova's scheduler reports it
        cloud.state.build_failures -= 1
        server.status, server.vm_state, server.task_state, server.updated = "ERROR", "error", None, now
        server.fault = {
            "code": 500,
            "message": "No valid host was found. ",
            "created": iso(cloud.wall(now), style="nova"),
        }
        if cloud.state.leaky_build_failures > 0:
            cloud.state.leaky_build_failures -= 1
            _leave_volumes(cloud, server, now)
        return
    server.status, server.vm_state, server.task_state = "ACTIVE", "active", None
    server.power_state, server.launched, server.updated = POWER_RUNNING, now, now
    for attachment in cloud.guest_attachments(server):
        cloud.complete_attach(attachment)


def _leave_volumes(cloud: Cloud, server: Server, now: float) -> None:
    """Nova's ``_cleanup_volumes`` after a failed build: the volumes are detached, and the delete of
    those with ``delete_on_termination`` failed and was only logged (reference lifecycle.md section 4),
    so they stay ``available`` in the project with no server.
    """  # noqa: D205 (the summary needs the cause)
    for attachment in cloud.guest_attachments(server):
        volume = cloud.state.volumes[attachment.volume_id]
        volume.attachments.remove(attachment)
        volume.status, volume.updated = "available", now
    server.root_volume_id = ""


@ROUTES.route("GET", "/servers/{id}")
def _get_server(cloud: Cloud, _req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    server = cloud.server(ctx, params["id"])
    return Reply.json(STATUS_GOOD, {"server": _server_view(cloud, server, ctx, single=True)})


@ROUTES.route("DELETE", "/servers/{id}")
def _delete_server(cloud: Cloud, _req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    server = cloud.server(ctx, params["id"])
    actions.ensure_unlocked(server, ctx)
    if server.task_state == "deleting":
        return empty(204)
    server.task_state, server.updated = "deleting", cloud.now()
    cloud.later(lambda: _finish_delete(cloud, server))
    return empty(204)


def _finish_delete(cloud: Cloud, server: Server) -> None:
    if cloud.state.servers.pop(server.id, None) is None:
        return
    for attachment in cloud.guest_attachments(server):
        volume = cloud.state.volumes[attachment.volume_id]
        volume.attachments.remove(attachment)
        volume.updated = cloud.now()
        if attachment.delete_on_termination:
            del cloud.state.volumes[volume.id]
        elif not volume.attachments:
            volume.status = "available"
    # Attachments Cinder alone recorded (os-attach) stay behind, pointing at a gone server: Nova
    # never knew them (realistic; see quirk a).


ROUTES.add("POST", "/servers/{id}/action", actions.server_action)
ROUTES.add("GET", "/servers/{id}/os-volume_attachments", actions.list_attachments)
ROUTES.add("POST", "/servers/{id}/os-volume_attachments", actions.attach)
ROUTES.add("GET", "/servers/{id}/os-volume_attachments/{volume}", actions.get_attachment)
ROUTES.add("DELETE", "/servers/{id}/os-volume_attachments/{volume}", actions.detach)
ROUTES.add("GET", "/servers/{id}/tags", tags.list_server_tags)
ROUTES.add("PUT", "/servers/{id}/tags", tags.replace_server_tags)
ROUTES.add("DELETE", "/servers/{id}/tags", tags.delete_server_tags)
ROUTES.add("GET", "/servers/{id}/tags/{tag}", tags.check_server_tag)
ROUTES.add("PUT", "/servers/{id}/tags/{tag}", tags.add_server_tag)
ROUTES.add("DELETE", "/servers/{id}/tags/{tag}", tags.delete_server_tag)
ROUTES.add("POST", "/flavors", resources.create_flavor)
ROUTES.add("PUT", "/flavors/{id}", resources.update_flavor)
ROUTES.add("DELETE", "/flavors/{id}", resources.delete_flavor)
ROUTES.add("POST", "/flavors/{id}/action", resources.flavor_action)
ROUTES.add("GET", "/flavors/{id}/os-flavor-access", resources.list_flavor_access)
ROUTES.add("GET", "/flavors/{id}/os-extra_specs", resources.list_extra_specs)
ROUTES.add("POST", "/flavors/{id}/os-extra_specs", resources.create_extra_specs)
ROUTES.add("GET", "/flavors/{id}/os-extra_specs/{key}", resources.get_extra_spec)
ROUTES.add("PUT", "/flavors/{id}/os-extra_specs/{key}", resources.update_extra_spec)
ROUTES.add("DELETE", "/flavors/{id}/os-extra_specs/{key}", resources.delete_extra_spec)
ROUTES.add("GET", "/os-keypairs", resources.list_keypairs)
ROUTES.add("POST", "/os-keypairs", resources.create_keypair)
ROUTES.add("GET", "/os-keypairs/{name}", resources.get_keypair)
ROUTES.add("DELETE", "/os-keypairs/{name}", resources.delete_keypair)
ROUTES.add("GET", "/limits", resources.limits)
ROUTES.add("GET", "/os-quota-sets/{project}", resources.show_quota_set)
ROUTES.add("PUT", "/os-quota-sets/{project}", resources.update_quota_set)
ROUTES.add("DELETE", "/os-quota-sets/{project}", resources.revert_quota_set)
ROUTES.add("GET", "/os-quota-sets/{project}/detail", resources.quota_set_detail)
ROUTES.add("GET", "/os-quota-sets/{project}/defaults", resources.quota_set_defaults)
ROUTES.add("GET", "/os-availability-zone", resources.availability_zones)
ROUTES.add("GET", "/os-availability-zone/detail", resources.availability_zones)
ROUTES.add("GET", "/os-aggregates", resources.list_aggregates)
ROUTES.add("POST", "/os-aggregates", resources.create_aggregate)
ROUTES.add("GET", "/os-aggregates/{id}", resources.get_aggregate)
ROUTES.add("PUT", "/os-aggregates/{id}", resources.update_aggregate)
ROUTES.add("DELETE", "/os-aggregates/{id}", resources.delete_aggregate)
ROUTES.add("POST", "/os-aggregates/{id}/action", resources.aggregate_action)
ROUTES.add("GET", "/os-server-groups", resources.list_server_groups)
ROUTES.add("POST", "/os-server-groups", resources.create_server_group)
ROUTES.add("GET", "/os-server-groups/{id}", resources.get_server_group)
ROUTES.add("DELETE", "/os-server-groups/{id}", resources.delete_server_group)
ROUTES.add("GET", "/os-hypervisors", resources.list_hypervisors)
ROUTES.add("GET", "/os-hypervisors/detail", resources.list_hypervisors)
ROUTES.add("GET", "/os-hypervisors/{id}", resources.get_hypervisor)
ROUTES.add("GET", "/os-services", resources.list_services)
ROUTES.add("GET", "/extensions", resources.list_extensions)
ROUTES.add("GET", "/extensions/{alias}", resources.get_extension)
