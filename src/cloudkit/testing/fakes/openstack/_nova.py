"""Nova (compute v2.1 with microversions) of the OpenStack fake: versions, flavors, servers.

Server actions and volume attachments are in `_nova_actions`, the other resources in `_nova_flavors`
(flavor management), `_nova_resources` (keypairs, limits, quota sets, server groups) and `_nova_hosts`
(zones, aggregates, hypervisors, services, extensions); their routes are here, in one table.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import functools
import hashlib
import re
import secrets
import uuid
from typing import Any
from urllib.parse import urlencode

from cloudkit.testing.fakes._kit import Reply, Request
from cloudkit.testing.fakes.openstack import _nova_actions as actions
from cloudkit.testing.fakes.openstack import _nova_flavors as flavor_api
from cloudkit.testing.fakes.openstack import _nova_hosts as hosts
from cloudkit.testing.fakes.openstack import _nova_images as images
from cloudkit.testing.fakes.openstack import _nova_metadata as metadata
from cloudkit.testing.fakes.openstack import _nova_network as network
from cloudkit.testing.fakes.openstack import _nova_resources as resources
from cloudkit.testing.fakes.openstack import _nova_tags as tags
from cloudkit.testing.fakes.openstack import _placement as placement
from cloudkit.testing.fakes.openstack._cloud import COMPUTE_MIN, Cloud, Ctx, Routes, dispatch
from cloudkit.testing.fakes.openstack._nova_flavors import flavor_view
from cloudkit.testing.fakes.openstack._state import POWER_RUNNING, Flavor, Image, Json, Server, hex5
from cloudkit.testing.fakes.openstack._wire import (
    STATUS_GOOD,
    ApiError,
    as_int,
    body_of,
    empty,
    iso,
    sanitize_hostname,
    strict_bool,
    version_text,
)

_GIB = 1024**3
_USER_DATA_MAX = 65535
_NOVA_DATETIME = "%Y-%m-%dT%H:%M:%S.%f"  # how Nova's JSON writes a datetime it did not format itself
_PROGRESS_STATUSES = ("ACTIVE", "BUILD", "REBUILD", "RESIZE", "VERIFY_RESIZE", "MIGRATING")
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
    flavors, marker = flavor_api.listed_flavors(cloud, req, ctx)
    doc: Json = {"flavors": [flavor_view(cloud, f, ctx, detail=detail) for f in flavors]}
    if marker is not None:
        params = {k: v[-1] for k, v in req.query.items() if k != "marker"} | {"marker": marker}
        doc["flavors_links"] = [{"rel": "next", "href": f"{cloud.base_url}{req.path}?{urlencode(params)}"}]
    return Reply.json(STATUS_GOOD, doc)


@ROUTES.route("GET", "/flavors/{id}")
def _get_flavor(cloud: Cloud, _req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    flavor = flavor_api.visible_flavor(cloud, ctx, params["id"])
    return Reply.json(STATUS_GOOD, {"flavor": flavor_view(cloud, flavor, ctx, detail=True)})


# ================================================================================== server views
def _server_links(cloud: Cloud, server_id: str) -> list[Json]:
    return [
        {"rel": "self", "href": f"{cloud.base_url}/compute/v2.1/servers/{server_id}"},
        {"rel": "bookmark", "href": f"{cloud.base_url}/compute/servers/{server_id}"},
    ]


def _addresses(cloud: Cloud, server: Server) -> Json:
    if server.vm_state == "building":  # Nova hides them while the server builds
        return {}
    return network.addresses(cloud, server)


def _image_view(cloud: Cloud, server: Server, ctx: Ctx) -> Json | str:
    if not server.image_id:
        return ""  # booted from a volume without an imageRef (reference §2.2)
    href = f"{cloud.base_url}/compute/images/{server.image_id}"
    view: Json = {"id": server.image_id, "links": [{"rel": "bookmark", "href": href}]}
    if ctx.at_least(2, 98):
        view["properties"] = dict(server.image_properties)
    return view


def _server_view(cloud: Cloud, server: Server, ctx: Ctx, *, single: bool = False) -> Json:
    flavor = server.flavor
    host = actions.host_of(server)
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
            "ephemeral": flavor.ephemeral,
            "swap": flavor.swap,
            "original_name": flavor.name,
            "extra_specs": dict(flavor.extra_specs),  # policy show:flavor-extra-specs: any project reader
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
        "hostId": hashlib.sha224(f"{server.project_id}{host}".encode()).hexdigest() if host else "",
        "image": _image_view(cloud, server, ctx),
        "flavor": flavor_view,
        "created": iso(cloud.wall(server.created), style="nova"),
        "updated": iso(cloud.wall(server.updated), style="nova"),
        "addresses": _addresses(cloud, server),
        "accessIPv4": server.access_ipv4,
        "accessIPv6": server.access_ipv6,
        "links": _server_links(cloud, server.id),
        "OS-DCF:diskConfig": "MANUAL",
        # Nova's get_instance_availability_zone: the host's zone, the asked one before it is scheduled
        "OS-EXT-AZ:availability_zone": hosts.host_zone(cloud, host) if host else server.pinned_az or "",
        "config_drive": server.config_drive,
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
    if server.status in _PROGRESS_STATUSES:
        view["progress"] = 0
    if server.fault is not None:
        view["fault"] = dict(server.fault)
    groups = network.security_groups(cloud, server)
    if groups:
        view["security_groups"] = groups
    _server_view_versioned(view, server, ctx, host)
    if single and ctx.at_least(2, 71):  # only GET /servers/{id} lists them, not /servers/detail (lab)
        view["server_groups"] = [g.id for g in cloud.state.server_groups.values() if server.id in g.members]
    return view


def _server_view_versioned(view: Json, server: Server, ctx: Ctx, host: str | None) -> None:
    """The fields later microversions add, in the order of Nova's ``views/servers.py``."""
    if ctx.is_admin:  # the extended attributes (admin-only policy); assumption: one fake hypervisor host
        view["OS-EXT-SRV-ATTR:host"] = host
        view["OS-EXT-SRV-ATTR:hypervisor_hostname"] = host
        view["OS-EXT-SRV-ATTR:instance_name"] = f"instance-{server.seq:08x}"
        if ctx.at_least(2, 3):
            view["OS-EXT-SRV-ATTR:hostname"] = server.hostname
            view["OS-EXT-SRV-ATTR:reservation_id"] = f"r-{hex5(server.id)[:8]}"
            view["OS-EXT-SRV-ATTR:launch_index"] = 0
            view["OS-EXT-SRV-ATTR:kernel_id"] = ""
            view["OS-EXT-SRV-ATTR:ramdisk_id"] = ""
            view["OS-EXT-SRV-ATTR:root_device_name"] = "/dev/vda"
            view["OS-EXT-SRV-ATTR:user_data"] = server.user_data
    if ctx.at_least(2, 16) and ctx.is_admin:  # os_compute_api:servers:show:host_status is admin-only
        view["host_status"] = "UP" if host else ""  # Nova's HostStatus.NONE for no host
    for version, key, value in (
        ((2, 9), "locked", server.locked),
        ((2, 19), "description", server.description),
        ((2, 26), "tags", list(server.tags)),
        ((2, 63), "trusted_image_certificates", None),
        ((2, 73), "locked_reason", server.locked_reason),
        # every user sees the guest hostname from 2.90 (as the lab's Nova 34 shows it)
        ((2, 90), "OS-EXT-SRV-ATTR:hostname", server.hostname),
        ((2, 96), "pinned_availability_zone", server.pinned_az),
        ((2, 100), "scheduler_hints", {k: list(v) for k, v in server.scheduler_hints.items()}),
    ):
        if ctx.at_least(*version):
            view[key] = value


# ================================================================================== servers
@ROUTES.route("GET", "/servers")
@ROUTES.route("GET", "/servers/detail")
def _list_servers(cloud: Cloud, req: Request, ctx: Ctx, _params: dict[str, str]) -> Reply:
    everyone = _all_tenants(req)
    if everyone and not ctx.is_admin:  # Nova's default policy: an admin's filter only
        rule = "detail" if req.path.endswith("/detail") else "index"
        policy = f"os_compute_api:servers:{rule}:get_all_tenants"
        raise ApiError(403, f"Policy doesn't allow {policy} to be performed.")
    servers = sorted(  # Nova's default order: newest first
        (s for s in cloud.state.servers.values() if everyone or s.project_id == ctx.project_id),
        key=lambda s: -s.seq,
    )
    name, status = req.arg("name"), req.arg("status")
    if name:
        servers = [s for s in servers if re.search(name, s.name)]
    if status:
        servers = [s for s in servers if s.status.lower() == status.lower()]
    servers = [s for s in servers if tags.list_filter(req, ctx)(s)]
    view = functools.partial(_server_view, cloud, ctx=ctx)
    return cloud.paged(req, "servers", servers, view, functools.partial(_server_links, cloud))


def _all_tenants(req: Request) -> bool:
    """Nova's ``is_all_tenants``: present without a value means yes; a value must be a boolean (400)."""
    value = req.arg("all_tenants")
    if value is None:
        return False
    if not value:
        return True
    everyone = strict_bool(value)
    if everyone is None:
        # assumption: oslo's strict bool_from_string text, as Nova's InvalidInput passes it on
        raise ApiError(
            400,
            f"Invalid input received: Unrecognized value '{value}', acceptable values are: "
            "'0', '1', 'f', 'false', 'n', 'no', 'off', 'on', 't', 'true', 'y', 'yes'",
        )
    return everyone


@ROUTES.route("POST", "/servers")
def _create_server(cloud: Cloud, req: Request, ctx: Ctx, _params: dict[str, str]) -> Reply:
    spec = body_of(req).get("server")
    if not isinstance(spec, dict):
        raise ApiError(400, "Invalid input for field/attribute server. 'server' is a required property")
    name = spec.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ApiError(400, f"Invalid input for field/attribute name. Value: {name}.")
    flavor_ref = str(spec.get("flavorRef") or "").rstrip("/").rsplit("/", 1)[-1]
    flavor = cloud.state.flavors.get(flavor_ref)
    if flavor is None or not flavor_api.may_use(flavor, ctx):  # a private flavor without access too
        raise ApiError(400, f"Flavor {flavor_ref} could not be found.")
    server_tags = tags.create_tags(spec, ctx)
    metadata = tags.checked_metadata(spec.get("metadata"))
    network_plan = network.plan_networks(cloud, spec, ctx)
    plan, volume_root = _boot_plan(cloud, spec, ctx)
    image = _boot_image(cloud, spec, ctx, flavor, volume_root=volume_root)
    pinned_az = _availability_zone(cloud, spec.get("availability_zone"))
    hints = _scheduler_hints(body_of(req))
    resources.check_instance_quota(cloud, ctx, flavor)
    group = resources.requested_group(cloud, ctx, hints)
    admin_pass = spec.get("adminPass")
    now = cloud.now()
    server = Server(
        id=str(uuid.uuid4()),
        project_id=ctx.project_id,
        user_id=ctx.user.id,
        name=name,
        flavor=dataclasses.replace(flavor, extra_specs=dict(flavor.extra_specs), access=list(flavor.access)),
        root_volume_id="",
        seq=cloud.state.next_seq(),
        created=now,
        updated=now,
        admin_pass=admin_pass if isinstance(admin_pass, str) else secrets.token_urlsafe(9),
        hostname=sanitize_hostname(name),
        description=spec.get("description"),
        metadata=metadata,
        key_name=spec.get("key_name"),
        tags=server_tags,
        image_id=image.id if image is not None else "",
        image_properties=_boot_properties(image),
        user_data=_user_data(spec.get("user_data")),
        config_drive=_config_drive(spec),
        access_ipv4=str(spec.get("accessIPv4") or ""),
        access_ipv6=str(spec.get("accessIPv6") or ""),
        pinned_az=pinned_az,
        scheduler_hints=hints,
    )
    network.plug(cloud, server, network_plan, ctx)
    server.root_volume_id = _materialise(cloud, server, plan, volume_root=volume_root)
    if group is not None:
        group.members.append(server.id)
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


def _boot_plan(cloud: Cloud, spec: Json, ctx: Ctx) -> tuple[list[Json], bool]:
    """Validate ``block_device_mapping_v2``: its mappings (a volume root first), whether the root is one."""
    mappings = spec.get("block_device_mapping_v2")
    if not isinstance(mappings, list) or not all(isinstance(m, dict) for m in mappings):
        mappings = []
    root = [m for m in mappings if str(m.get("boot_index")) == "0"]
    volume_root = len(root) == 1 and root[0].get("destination_type") == "volume"
    if not volume_root and not cloud.image_boot_allowed:
        # the constructor's switch: a cloud whose own policy boots from volume only
        raise ApiError(
            400,
            "Block Device Mapping is Invalid: this cloud boots from volume only; give "
            "block_device_mapping_v2 with boot_index 0 and destination_type volume.",
        )
    if root and not volume_root:
        # assumption: an image root given as a local mapping is not served; imageRef boots from an image
        raise ApiError(400, "Block Device Mapping is Invalid: only volume destinations are served.")
    if not volume_root and not spec.get("imageRef"):
        if mappings:  # Nova: mappings without a root and no image to boot from
            raise ApiError(
                400,
                "Block Device Mapping is Invalid: Boot sequence for the instance and image/block device "
                "mapping combination is not valid.",
            )
        raise ApiError(400, "Missing imageRef attribute")
    ordered = root + [m for m in mappings if not root or m is not root[0]]
    for mapping in ordered:
        _check_mapping(cloud, mapping, ctx)
    return ordered, volume_root


def _boot_image(cloud: Cloud, spec: Json, ctx: Ctx, flavor: Flavor, *, volume_root: bool) -> Image | None:
    """The image of ``imageRef`` (None without one); a local disk must hold it (Nova's 400/403 texts)."""
    ref = spec.get("imageRef")
    if not ref:
        return None
    image_id = str(ref).rstrip("/").rsplit("/", 1)[-1]  # Nova takes the id from an href too
    image = cloud.state.images.get(image_id)
    if image is None or not cloud.image_visible(image, ctx):
        raise ApiError(400, f"Image {image_id} could not be found.")
    if image.status != "active":  # Nova's ImageNotActive (a queued or deactivated Glance image)
        raise ApiError(400, f"Image {image_id} is not active.")
    if volume_root:
        return image
    if flavor.disk == 0 and not ctx.is_admin:  # os_compute_api:servers:create:zero_disk_flavor
        raise ApiError(403, "Only volume-backed servers are allowed for flavors with zero disk.")
    if flavor.disk and flavor.disk < image.min_disk:
        raise ApiError(
            400,
            "Flavor's disk is smaller than the minimum size specified in image metadata. Flavor disk is "
            f"{flavor.disk * _GIB} bytes, minimum size is {image.min_disk * _GIB} bytes.",
        )
    if flavor.disk and flavor.disk * _GIB < (image.size or 0):
        raise ApiError(
            400,
            f"Flavor's disk is too small for requested image. Flavor disk is {flavor.disk * _GIB} bytes, "
            f"image is {image.size} bytes.",
        )
    return image


def _boot_properties(image: Image | None) -> dict[str, str]:
    """The image properties Nova keeps with a server and shows from 2.98: the standard ones only."""
    if image is None:
        return {}
    # assumption: of the fake's properties, os_distro and the hw_/img_/os_ families are Nova's
    # ImageMetaProps fields (os_version and custom keys are not, so Nova leaves them out)
    standard = ("hw_", "img_", "os_")
    found = {k: v for k, v in image.properties.items() if k.startswith(standard) and k != "os_version"}
    if image.os_distro:
        found["os_distro"] = image.os_distro
    return found


def _user_data(value: object) -> str | None:
    if value is None:
        return None
    problem = ApiError(
        400, f"Invalid input for field/attribute user_data. Value: {value}. {value!r} is not a 'base64'"
    )
    if not isinstance(value, str) or len(value) > _USER_DATA_MAX:
        raise problem
    try:
        base64.b64decode(value, validate=True)
    except ValueError:
        raise problem from None
    return value


def _config_drive(spec: Json) -> str:
    """Nova keeps ``config_drive`` as ``"True"`` or ``""``."""
    if "config_drive" not in spec:
        return ""
    value = spec["config_drive"]
    wanted = strict_bool(value, schema=True) if isinstance(value, bool | str) else None
    if wanted is not None:
        return "True" if wanted else ""
    raise ApiError(
        400,
        f"Invalid input for field/attribute config_drive. Value: {value}. {value!r} is not of type "
        "'boolean', 'string'",
    )


def _availability_zone(cloud: Cloud, value: object) -> str | None:
    if value is None:
        return None
    zone = str(value).split(":", 1)[0]  # "zone:host" pins a host (admin); the zone is what is kept
    if zone != hosts.host_zone(cloud, hosts.HOST):  # the one compute host's zone (aggregates)
        raise ApiError(400, "The requested availability zone is not available")
    return str(value) if ":" not in str(value) else zone


def _scheduler_hints(body: Json) -> dict[str, list[Any]]:
    """The hints of a create body, as Nova's RequestSpec keeps them: every value in a list."""
    hints = body.get("OS-SCH-HNT:scheduler_hints", body.get("os:scheduler_hints")) or {}
    if not isinstance(hints, dict):
        raise ApiError(400, f"Invalid input for field/attribute os:scheduler_hints. Value: {hints}.")
    return {str(k): v if isinstance(v, list) else [v] for k, v in hints.items()}


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


def _materialise(cloud: Cloud, server: Server, plan: list[Json], *, volume_root: bool) -> str:
    """Make or take the volumes of a new server; they attach while it builds. Returns the root's id.

    A server booted from an image has its root on a local disk (``/dev/vda``, no volume): "" then.
    """
    root_id = ""
    for index, mapping in enumerate(plan):
        if mapping.get("source_type") == "volume":
            volume = cloud.state.volumes[str(mapping["uuid"])]
        else:
            image_id = str(mapping["uuid"]) if mapping.get("source_type") == "image" else None
            size = as_int(mapping["volume_size"], "volume_size")
            volume = cloud.new_volume(server.project_id, server.user_id, "", size, image_id=image_id)
        is_root = volume_root and index == 0
        device = "/dev/vda" if is_root else actions.next_device(cloud, server)
        volume.status = "attaching"
        volume.attachments.append(actions.block_device(volume.id, server.id, device, mapping))
        if is_root:
            root_id = volume.id
            cloud.state.servers[server.id] = server  # so next_device sees the root device
    return root_id


def _finish_build(cloud: Cloud, server: Server) -> None:
    if server.id not in cloud.state.servers or server.task_state != "scheduling":
        return
    now = cloud.now()
    injected = cloud.state.build_failures > 0
    if injected or not placement.fits(cloud, server):  # a build Nova's scheduler could not place
        cloud.state.build_failures -= 1 if injected else 0
        server.status, server.vm_state, server.task_state, server.updated = "ERROR", "error", None, now
        server.fault = {
            "code": 500,
            "message": "No valid host was found. ",
            "created": iso(cloud.wall(now), style="nova"),
        }
        network.unplug(cloud, server)  # Nova deallocates the network of a build that failed
        if injected and cloud.state.leaky_build_failures > 0:
            cloud.state.leaky_build_failures -= 1
            _leave_volumes(cloud, server, now)
        return
    network.bind(cloud, server)
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


@ROUTES.route("PUT", "/servers/{id}")
def _update_server(cloud: Cloud, req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    """``PUT /servers/{id}``: name, description (2.19), access addresses; answers the server."""
    spec = body_of(req).get("server")
    if not isinstance(spec, dict):
        raise ApiError(400, "Invalid input for field/attribute server. 'server' is a required property")
    allowed = {"name", "accessIPv4", "accessIPv6", "OS-DCF:diskConfig"}
    allowed |= {"description"} if ctx.at_least(2, 19) else set()
    allowed |= {"hostname"} if ctx.at_least(2, 90) else set()
    actions.refuse_extra("server", spec, allowed)
    name = spec.get("name", ...)
    if name is not ... and (not isinstance(name, str) or not name.strip()):
        raise ApiError(400, f"Invalid input for field/attribute name. Value: {name}.")
    server = cloud.server(ctx, params["id"])
    if isinstance(name, str):
        server.name = name  # the guest hostname stays: only the 2.90 field changes it
    if "hostname" in spec:
        server.hostname = _checked_hostname(spec["hostname"], ctx)
    if "description" in spec:
        server.description = spec["description"]
    server.access_ipv4 = str(spec.get("accessIPv4", server.access_ipv4) or "")
    server.access_ipv6 = str(spec.get("accessIPv6", server.access_ipv6) or "")
    server.updated = cloud.now()
    # assumption: Nova answers its show view from 2.75 (server_groups from 2.71); the fake does always
    return Reply.json(STATUS_GOOD, {"server": _server_view(cloud, server, ctx, single=True)})


def _checked_hostname(value: object, ctx: Ctx) -> str:
    """Nova's schema: a hostname from 2.90, an FQDN (dots and underscores too) from 2.94."""
    fqdn = ctx.at_least(2, 94)
    pattern = r"[a-zA-Z0-9-._]*" if fqdn else r"[a-zA-Z0-9]+[a-zA-Z0-9-]*[a-zA-Z0-9]+"
    shortest, longest = (1, 255) if fqdn else (2, 63)
    if (
        not isinstance(value, str)
        or not re.fullmatch(pattern, value)
        or not shortest <= len(value) <= longest
    ):
        raise ApiError(400, f"Invalid input for field/attribute hostname. Value: {value}.")
    return value


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
    network.unplug(cloud, server)
    resources.leave_groups(cloud, server.id)
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


@ROUTES.route("GET", "/os-simple-tenant-usage/{project}")
def _project_usage(cloud: Cloud, req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    """One project's usage between ``start`` and ``end`` (both default to now), its servers' too with
    ``detailed=1``; a member sees its own project's only (Nova's reader-or-admin policy).
    """  # noqa: D205 (the summary needs the policy)
    project_id = params["project"]
    if not ctx.is_admin and project_id != ctx.project_id:
        policy = "os_compute_api:os-simple-tenant-usage:show"
        raise ApiError(403, f"Policy doesn't allow {policy} to be performed.")
    now = dt.datetime.fromtimestamp(cloud.wall(cloud.now()), dt.UTC).replace(tzinfo=None)
    start, end = _usage_time(req.arg("start"), now), _usage_time(req.arg("end"), now)
    if start > end:
        raise ApiError(400, "Invalid start time. The start time cannot occur after the end time.")
    usages = [
        usage
        for server in sorted(cloud.state.servers.values(), key=lambda s: s.seq)
        if server.project_id == project_id and (usage := _server_usage(cloud, server, start, end, now))
    ]
    if not usages:
        return Reply.json(STATUS_GOOD, {"tenant_usage": {}})
    hours = sum(u["hours"] for u in usages)
    doc: Json = {
        "tenant_id": project_id,
        "total_hours": hours,
        "total_vcpus_usage": sum(u["hours"] * u["vcpus"] for u in usages),
        "total_memory_mb_usage": sum(u["hours"] * u["memory_mb"] for u in usages),
        "total_local_gb_usage": sum(u["hours"] * u["local_gb"] for u in usages),
        "start": start.strftime(_NOVA_DATETIME),
        "stop": end.strftime(_NOVA_DATETIME),
    }
    if req.arg("detailed") == "1":
        doc["server_usages"] = usages
    return Reply.json(STATUS_GOOD, {"tenant_usage": doc})


def _usage_time(text: str | None, now: dt.datetime) -> dt.datetime:
    if text is None:
        return now
    for layout in ("%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S.%f", "%Y-%m-%d %H:%M:%S.%f"):
        try:
            return dt.datetime.strptime(text, layout)  # noqa: DTZ007 - Nova reads them as naive UTC
        except ValueError:
            continue
    raise ApiError(400, f"Invalid input for field/attribute start. Value: {text}.")  # assumption: the text


def _server_usage(
    cloud: Cloud, server: Server, start: dt.datetime, end: dt.datetime, now: dt.datetime
) -> Json:
    """The server's usage in the period (empty when it was not running in it)."""
    if server.launched is None:
        return {}
    launched = dt.datetime.fromtimestamp(cloud.wall(server.launched), dt.UTC).replace(tzinfo=None)
    if launched > end:
        return {}
    flavor = server.flavor
    hours = (min(end, now) - max(start, launched)).total_seconds() / 3600
    return {
        "instance_id": server.id,
        "name": server.name,
        "hours": max(hours, 0.0),
        "memory_mb": flavor.ram,
        "local_gb": flavor.disk,
        "vcpus": flavor.vcpus,
        "tenant_id": server.project_id,
        "flavor": flavor.name,
        "started_at": launched.strftime(_NOVA_DATETIME),
        "ended_at": None,
        "state": server.vm_state,
        "uptime": int((now - launched).total_seconds()),
    }


ROUTES.add("POST", "/servers/{id}/action", actions.server_action)
ROUTES.add("POST", "/servers/{id}/remote-consoles", actions.remote_console)
ROUTES.add("GET", "/servers/{id}/os-volume_attachments", actions.list_attachments)
ROUTES.add("POST", "/servers/{id}/os-volume_attachments", actions.attach)
ROUTES.add("GET", "/servers/{id}/os-volume_attachments/{volume}", actions.get_attachment)
ROUTES.add("PUT", "/servers/{id}/os-volume_attachments/{volume}", actions.update_attachment)
ROUTES.add("DELETE", "/servers/{id}/os-volume_attachments/{volume}", actions.detach)
ROUTES.add("GET", "/servers/{id}/metadata", metadata.server_metadata)
ROUTES.add("POST", "/servers/{id}/metadata", metadata.server_metadata)
ROUTES.add("PUT", "/servers/{id}/metadata", metadata.server_metadata)
ROUTES.add("GET", "/servers/{id}/metadata/{key}", metadata.server_metadata_item)
ROUTES.add("PUT", "/servers/{id}/metadata/{key}", metadata.server_metadata_item)
ROUTES.add("DELETE", "/servers/{id}/metadata/{key}", metadata.server_metadata_item)
ROUTES.add("GET", "/images", images.list_images)
ROUTES.add("GET", "/images/detail", images.list_images)
ROUTES.add("GET", "/images/{id}", images.get_image)
ROUTES.add("DELETE", "/images/{id}", images.delete_image)
ROUTES.add("GET", "/images/{id}/metadata", images.image_metadata)
ROUTES.add("POST", "/images/{id}/metadata", images.image_metadata)
ROUTES.add("PUT", "/images/{id}/metadata", images.image_metadata)
ROUTES.add("GET", "/images/{id}/metadata/{key}", images.image_metadata_item)
ROUTES.add("PUT", "/images/{id}/metadata/{key}", images.image_metadata_item)
ROUTES.add("DELETE", "/images/{id}/metadata/{key}", images.image_metadata_item)
ROUTES.add("GET", "/servers/{id}/tags", tags.list_server_tags)
ROUTES.add("PUT", "/servers/{id}/tags", tags.replace_server_tags)
ROUTES.add("DELETE", "/servers/{id}/tags", tags.delete_server_tags)
ROUTES.add("GET", "/servers/{id}/tags/{tag}", tags.check_server_tag)
ROUTES.add("PUT", "/servers/{id}/tags/{tag}", tags.add_server_tag)
ROUTES.add("DELETE", "/servers/{id}/tags/{tag}", tags.delete_server_tag)
ROUTES.add("POST", "/flavors", flavor_api.create_flavor)
ROUTES.add("PUT", "/flavors/{id}", flavor_api.update_flavor)
ROUTES.add("DELETE", "/flavors/{id}", flavor_api.delete_flavor)
ROUTES.add("POST", "/flavors/{id}/action", flavor_api.flavor_action)
ROUTES.add("GET", "/flavors/{id}/os-flavor-access", flavor_api.list_flavor_access)
ROUTES.add("GET", "/flavors/{id}/os-extra_specs", flavor_api.list_extra_specs)
ROUTES.add("POST", "/flavors/{id}/os-extra_specs", flavor_api.create_extra_specs)
ROUTES.add("GET", "/flavors/{id}/os-extra_specs/{key}", flavor_api.get_extra_spec)
ROUTES.add("PUT", "/flavors/{id}/os-extra_specs/{key}", flavor_api.update_extra_spec)
ROUTES.add("DELETE", "/flavors/{id}/os-extra_specs/{key}", flavor_api.delete_extra_spec)
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
ROUTES.add("GET", "/os-availability-zone", hosts.availability_zones)
ROUTES.add("GET", "/os-availability-zone/detail", hosts.availability_zones)
ROUTES.add("GET", "/os-aggregates", hosts.list_aggregates)
ROUTES.add("POST", "/os-aggregates", hosts.create_aggregate)
ROUTES.add("GET", "/os-aggregates/{id}", hosts.get_aggregate)
ROUTES.add("PUT", "/os-aggregates/{id}", hosts.update_aggregate)
ROUTES.add("DELETE", "/os-aggregates/{id}", hosts.delete_aggregate)
ROUTES.add("POST", "/os-aggregates/{id}/action", hosts.aggregate_action)
ROUTES.add("GET", "/os-server-groups", resources.list_server_groups)
ROUTES.add("POST", "/os-server-groups", resources.create_server_group)
ROUTES.add("GET", "/os-server-groups/{id}", resources.get_server_group)
ROUTES.add("DELETE", "/os-server-groups/{id}", resources.delete_server_group)
ROUTES.add("GET", "/os-hypervisors", hosts.list_hypervisors)
ROUTES.add("GET", "/os-hypervisors/detail", hosts.list_hypervisors)
ROUTES.add("GET", "/os-hypervisors/{id}", hosts.get_hypervisor)
ROUTES.add("GET", "/os-services", hosts.list_services)
ROUTES.add("GET", "/extensions", hosts.list_extensions)
ROUTES.add("GET", "/extensions/{alias}", hosts.get_extension)
