"""Nova server actions (stop, start, reboot, lock, shelve, createImage, ...) and volume attachments.

Routed by `_nova` (``POST /servers/{id}/action`` and ``/servers/{id}/os-volume_attachments``).

Known difference: an image ``createImage`` makes is ``active`` in Glance at once (a real one is
``queued``, then ``saving`` while the server shows task ``image_uploading``).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from cloudkit.testing.fakes._kit import Reply, Request
from cloudkit.testing.fakes.openstack._cloud import Cloud, Ctx, pick_action
from cloudkit.testing.fakes.openstack._state import (
    POWER_RUNNING,
    POWER_SHUTDOWN,
    Attachment,
    Image,
    Json,
    Server,
    Snapshot,
)
from cloudkit.testing.fakes.openstack._wire import (
    STATUS_GOOD,
    ApiError,
    as_bool,
    as_int,
    body_of,
    empty,
    sanitize_hostname,
    strict_bool,
)

_ATTACHABLE = ("active", "stopped", "paused", "suspended", "resized")


_HOST = "fake-compute-1"  # assumption: one fake hypervisor host


def host_of(server: Server) -> str | None:
    """The compute host the server is on: none before it is scheduled, after a failed build or offload."""
    if server.vm_state in ("building", "shelved_offloaded") or server.fault is not None:
        return None
    return _HOST


# ================================================================================== guards
def refuse_extra(field: str, spec: Json, allowed: Iterable[str]) -> None:
    """400 with Nova's jsonschema text when ``spec`` has keys besides ``allowed``."""
    unexpected = sorted(set(spec) - set(allowed))
    if unexpected:
        names, verb = ", ".join(repr(k) for k in unexpected), "was" if len(unexpected) == 1 else "were"
        raise ApiError(
            400,
            f"Invalid input for field/attribute {field}. Additional properties are not allowed "
            f"({names} {verb} unexpected)",
        )


def ensure_unlocked(server: Server, ctx: Ctx) -> None:
    """A locked server refuses a non-admin with 409."""
    if server.locked and not ctx.is_admin:
        raise ApiError(409, f"Instance {server.id} is locked")


def ensure_state(server: Server, action: str, vm_states: Iterable[str]) -> None:
    """409 unless the server is in one of ``vm_states`` with no task running."""
    if server.task_state is not None:
        raise ApiError(
            409, f"Cannot '{action}' instance {server.id} while it is in task_state {server.task_state}"
        )
    if server.vm_state not in vm_states:
        raise ApiError(
            409, f"Cannot '{action}' instance {server.id} while it is in vm_state {server.vm_state}"
        )


def next_device(cloud: Cloud, server: Server) -> str:
    """The first free ``/dev/vdX`` of the server; 403 when all 26 are taken."""
    used = {a.device for a in cloud.guest_attachments(server)}
    for letter in "bcdefghijklmnopqrstuvwxyz":
        if f"/dev/vd{letter}" not in used:
            return f"/dev/vd{letter}"
    raise ApiError(
        403,
        "The maximum allowed number of disk devices (26) to attach to a single instance has been exceeded.",
    )


def block_device(volume_id: str, server_id: str, device: str, spec: Json) -> Attachment:
    """A new attachment Nova makes (a block device mapping), ``attaching`` until its attach completes."""
    return Attachment(
        id=str(uuid.uuid4()),
        volume_id=volume_id,
        server_id=server_id,
        host_name=None,
        device=device,
        attached=False,
        in_guest=True,
        nova_owned=True,
        delete_on_termination=as_bool(spec.get("delete_on_termination", False)),
        bdm_id=str(uuid.uuid4()),
        tag=spec.get("tag"),
    )


# ================================================================================== actions
def server_action(cloud: Cloud, req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    """``POST /servers/{id}/action``: one action, answered 202 without a body unless it has an answer."""
    server = cloud.server(ctx, params["id"])
    handler, args = pick_action(req, _ACTIONS)
    return handler(cloud, server, ctx, args) or empty(202)


def _transition(cloud: Cloud, server: Server, task: str, end: tuple[str, str, int]) -> None:
    """Run ``task`` now; ``transition_seconds`` later the server has ``end`` (status, vm_state, power)."""
    status, vm_state, power = end
    server.task_state, server.updated = task, cloud.now()

    def finish() -> None:
        if server.task_state == task:
            server.status, server.vm_state, server.task_state = status, vm_state, None
            server.power_state, server.updated = power, cloud.now()

    cloud.later(finish)


def _stop(cloud: Cloud, server: Server, ctx: Ctx, _args: object) -> None:
    ensure_unlocked(server, ctx)
    ensure_state(server, "stop", ("active", "error"))
    _transition(cloud, server, "powering-off", ("SHUTOFF", "stopped", POWER_SHUTDOWN))


def _start(cloud: Cloud, server: Server, ctx: Ctx, _args: object) -> None:
    ensure_unlocked(server, ctx)
    ensure_state(server, "start", ("stopped",))
    _transition(cloud, server, "powering-on", ("ACTIVE", "active", POWER_RUNNING))


def _reboot(cloud: Cloud, server: Server, ctx: Ctx, args: object) -> None:
    ensure_unlocked(server, ctx)
    ensure_state(server, "reboot", ("active", "stopped", "error"))
    hard = isinstance(args, dict) and str(args.get("type", "")).upper() == "HARD"
    _transition(cloud, server, "rebooting_hard" if hard else "rebooting", ("ACTIVE", "active", POWER_RUNNING))


def _shelve(cloud: Cloud, server: Server, ctx: Ctx, _args: object) -> None:
    ensure_unlocked(server, ctx)
    ensure_state(server, "shelve", ("active", "stopped", "paused", "suspended"))
    # Volume-backed: no snapshot, straight to SHELVED_OFFLOADED (reference §2.3).
    # assumption: the volumes keep their in-use state (real Cinder shows them reserved)
    _transition(cloud, server, "shelving", ("SHELVED_OFFLOADED", "shelved_offloaded", POWER_SHUTDOWN))


def _unshelve(cloud: Cloud, server: Server, ctx: Ctx, _args: object) -> None:
    ensure_unlocked(server, ctx)
    ensure_state(server, "unshelve", ("shelved", "shelved_offloaded"))
    _transition(cloud, server, "unshelving", ("ACTIVE", "active", POWER_RUNNING))


def _lock(cloud: Cloud, server: Server, ctx: Ctx, args: object) -> None:
    reason: str | None = None
    if isinstance(args, dict):
        if set(args) - {"locked_reason"} or not ctx.at_least(2, 73):
            raise ApiError(400, f"Invalid input for field/attribute lock. Value: {json.dumps(args)}.")
        reason = args.get("locked_reason")
    elif args is not None:
        raise ApiError(400, f"Invalid input for field/attribute lock. Value: {args}.")
    server.locked, server.locked_reason = True, reason
    server.locked_by = "owner" if ctx.project_id == server.project_id else "admin"
    server.updated = cloud.now()


def _unlock(cloud: Cloud, server: Server, ctx: Ctx, _args: object) -> None:
    if server.locked and server.locked_by == "admin" and not ctx.is_admin:
        # assumption: the PolicyNotAuthorized text of Nova's unlock_override rule
        raise ApiError(
            403, "Policy doesn't allow os_compute_api:os-lock-server:unlock:unlock_override to be performed."
        )
    server.locked, server.locked_reason, server.locked_by = False, None, None
    server.updated = cloud.now()


def _create_image(cloud: Cloud, server: Server, ctx: Ctx, args: object) -> Reply:
    """``createImage``: a private Glance snapshot of the server; its id in the body (2.45+) or Location."""
    if not isinstance(args, dict) or set(args) - {"name", "metadata"} or "name" not in args:
        raise ApiError(400, f"Invalid input for field/attribute createImage. Value: {json.dumps(args)}.")
    name, metadata = args["name"], args.get("metadata") or {}
    if not isinstance(name, str) or not name.strip() or len(name) > 255:  # noqa: PLR2004 - Nova's name limit
        raise ApiError(400, f"Invalid input for field/attribute name. Value: {name}.")
    if not isinstance(metadata, dict):
        raise ApiError(400, f"Invalid input for field/attribute metadata. Value: {metadata}.")
    ensure_state(server, "createImage", ("active", "stopped", "paused", "suspended"))
    base = cloud.state.images.get(server.image_id)
    flavor = server.flavor
    now = cloud.now()
    properties = {
        **(base.properties if base is not None else {}),
        "image_type": "snapshot",
        "instance_uuid": server.id,
        "user_id": server.user_id,
        "base_image_ref": server.image_id,
        **{str(k): str(v) for k, v in metadata.items()},
    }
    image = Image(
        id=str(uuid.uuid4()),
        name=name,
        os_distro=base.os_distro if base is not None else "",
        os_version=base.os_version if base is not None else "",
        min_disk=flavor.disk,
        owner=server.project_id,
        visibility="private",
        seq=cloud.state.next_seq(),
        created=now,
        properties=properties,
    )
    if server.root_volume_id:
        # Volume-backed: Nova snapshots the volumes in Cinder; the image holds no data (size 0)
        image.size = 0
        _snapshot_volumes(cloud, server, name)
    cloud.state.images[image.id] = image
    _transition(cloud, server, "image_snapshot", (server.status, server.vm_state, server.power_state))
    if ctx.at_least(2, 45):
        return Reply.json(202, {"image_id": image.id})
    # assumption: Nova's generate_image_url joins Glance's unversioned catalog endpoint and images/{id}
    return empty(202, [("Location", f"{cloud.base_url}/image/images/{image.id}")])


def _snapshot_volumes(cloud: Cloud, server: Server, image_name: str) -> None:
    now = cloud.now()
    for attachment in cloud.guest_attachments(server):
        volume = cloud.state.volumes[attachment.volume_id]
        snapshot = Snapshot(
            id=str(uuid.uuid4()),
            project_id=volume.project_id,
            user_id=server.user_id,
            volume_id=volume.id,
            name=f"snapshot for {image_name}",  # Nova's name for them
            description=None,
            size=volume.size,
            status="creating",
            seq=cloud.state.next_seq(),
            created=now,
            updated=now,
        )
        cloud.state.snapshots[snapshot.id] = snapshot

        def finish(made: Snapshot = snapshot) -> None:
            made.status, made.updated = "available", cloud.now()

        cloud.later(finish)


_CONTROL = re.compile("[\x00-\x08\x0b-\x1f]")  # Nova strips these from the console output


def _console_output(_cloud: Cloud, server: Server, _ctx: Ctx, args: object) -> Reply:
    """``os-getConsoleOutput``: the last ``length`` lines of the guest's console (all: none or -1)."""
    length = args.get("length") if isinstance(args, dict) else None
    if not isinstance(args, dict) or set(args) - {"length"}:
        raise ApiError(400, f"Invalid input for field/attribute os-getConsoleOutput. Value: {args}.")
    if length is not None:
        if isinstance(length, bool) or not re.fullmatch(r"-?[0-9]+", str(length)) or int(length) < -1:
            raise ApiError(400, f"Invalid input for field/attribute length. Value: {length}.")
        length = int(length)
    if host_of(server) is None:
        raise ApiError(409, f"Instance {server.id} is not ready")
    hostname = sanitize_hostname(server.name)
    # assumption: a short boot log in the manner of a cloud image's console
    lines = [
        "[    0.000000] Linux version 6.1.0 (fake-guest)",
        f"[    1.000000] cloud-init: hostname {hostname}",
        f"{hostname} login: ",
    ]
    # Nova keeps log.split("\n")[-length:]: every line when length is more than there are
    chosen = lines if length is None or length == -1 else lines[-length:] if length else []
    return Reply.json(STATUS_GOOD, {"output": _CONTROL.sub("", "\n".join(chosen))})


_CONSOLE_PROTOCOLS = {
    "vnc": ("novnc", "xvpvnc"),
    "spice": ("spice-html5", "spice-direct"),
    "rdp": ("rdp-html5",),
    "serial": ("serial",),
    "mks": ("webmks",),
}


def remote_console(cloud: Cloud, req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    """``POST /servers/{id}/remote-consoles`` (2.6): a noVNC URL, the one console devstack's Nova enables."""
    if not ctx.at_least(2, 6):
        raise ApiError(404, "The resource could not be found.")
    server = cloud.server(ctx, params["id"])
    spec = body_of(req).get("remote_console")
    protocol = spec.get("protocol") if isinstance(spec, dict) else None
    kind = spec.get("type") if isinstance(spec, dict) else None
    if protocol not in _CONSOLE_PROTOCOLS:
        raise ApiError(400, f"Invalid input for field/attribute protocol. Value: {protocol}.")
    if kind not in _CONSOLE_PROTOCOLS[str(protocol)]:
        raise ApiError(400, f"Invalid input for field/attribute type. Value: {kind}.")
    if host_of(server) is None:
        raise ApiError(409, f"Instance {server.id} is not ready")
    if kind != "novnc":
        # assumption: devstack's nova.conf enables [vnc] only (Nova's ConsoleTypeUnavailable)
        raise ApiError(400, f"Unavailable console type {kind}.")
    host = cloud.base_url.rsplit(":", 1)[0] or "http://127.0.0.1"
    url = f"{host}:6080/vnc_lite.html?path=%3Ftoken%3D{uuid.uuid4()}"  # devstack's novncproxy_base_url
    return Reply.json(STATUS_GOOD, {"remote_console": {"protocol": protocol, "type": kind, "url": url}})


_ACTIONS: dict[str, Callable[[Cloud, Server, Ctx, Any], Reply | None]] = {
    "os-stop": _stop,
    "os-start": _start,
    "reboot": _reboot,
    "lock": _lock,
    "unlock": _unlock,
    "shelve": _shelve,
    "unshelve": _unshelve,
    "createImage": _create_image,
    "os-getConsoleOutput": _console_output,
}


# ================================================================================== attachments
def _attachment_view(attachment: Attachment, ctx: Ctx) -> Json:
    view: Json = {
        "serverId": attachment.server_id,
        "volumeId": attachment.volume_id,
        "device": attachment.device,
    }
    if not ctx.at_least(2, 89):
        view["id"] = attachment.volume_id
    if ctx.at_least(2, 70):
        view["tag"] = attachment.tag
    if ctx.at_least(2, 79):
        view["delete_on_termination"] = attachment.delete_on_termination
    if ctx.at_least(2, 89):
        view["attachment_id"] = attachment.id
        view["bdm_uuid"] = attachment.bdm_id
    return view


def list_attachments(cloud: Cloud, req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    """``GET /servers/{id}/os-volume_attachments`` (``offset`` and ``limit``)."""
    attachments = cloud.guest_attachments(cloud.server(ctx, params["id"]))
    offset = as_int(req.arg("offset") or 0, "offset")
    limit = as_int(req.arg("limit") or len(attachments), "limit")
    chosen = attachments[offset : offset + limit]
    return Reply.json(STATUS_GOOD, {"volumeAttachments": [_attachment_view(a, ctx) for a in chosen]})


def _guest_attachment(cloud: Cloud, server: Server, volume_id: str) -> Attachment:
    found = next((a for a in cloud.guest_attachments(server) if a.volume_id == volume_id), None)
    if found is None:
        # assumption: DELETE answers the 404 text the reference gives for GET
        raise ApiError(404, f"Instance {server.id} is not attached to volume {volume_id}")
    return found


def get_attachment(cloud: Cloud, _req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    """``GET /servers/{id}/os-volume_attachments/{volume}``."""
    attachment = _guest_attachment(cloud, cloud.server(ctx, params["id"]), params["volume"])
    return Reply.json(STATUS_GOOD, {"volumeAttachment": _attachment_view(attachment, ctx)})


def attach(cloud: Cloud, req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    """``POST /servers/{id}/os-volume_attachments``: the volume attaches ``transition_seconds`` later."""
    server = cloud.server(ctx, params["id"])
    spec = body_of(req).get("volumeAttachment")
    if not isinstance(spec, dict) or not spec.get("volumeId"):
        raise ApiError(
            400, "Invalid input for field/attribute volumeAttachment. 'volumeId' is a required property"
        )
    for key, version in (("tag", (2, 49)), ("delete_on_termination", (2, 79))):
        if key in spec and not ctx.at_least(*version):
            raise ApiError(
                400,
                "Invalid input for field/attribute volumeAttachment. Additional properties are not "
                f"allowed ('{key}' was unexpected)",
            )
    ensure_unlocked(server, ctx)
    # assumption: the vm_states Nova allows an attach in (and no task_state)
    ensure_state(server, "attach_volume", _ATTACHABLE)
    volume = cloud.volume(ctx, str(spec["volumeId"]))
    if volume.status != "available":
        # assumption: the text of Cinder's refusal to reserve, as Nova passes it on
        raise ApiError(
            400,
            f"Invalid volume: Volume {volume.id} status must be available or downloading to reserve, "
            f"but the current status is {volume.status}.",
        )
    # assumption: like libvirt, the requested device name is ignored; the next free one is used
    attachment = block_device(volume.id, server.id, next_device(cloud, server), spec)
    # assumption: the BDM shows in Nova's list at once (nova-api makes it before the attach ends);
    # Cinder lists the attachment only once attached. The volume is "attaching" meanwhile (the
    # reference's order; real Cinder passes through "reserved" first).
    volume.attachments.append(attachment)
    volume.status, volume.updated = "attaching", cloud.now()
    cloud.later(lambda: cloud.complete_attach(attachment))
    if ctx.at_least(2, 101):
        return empty(202)  # Nova 2.101: 202 without a body
    view: Json = {"id": volume.id, "serverId": server.id, "volumeId": volume.id, "device": attachment.device}
    if ctx.at_least(2, 70):
        view["tag"] = attachment.tag
    if ctx.at_least(2, 79):
        view["delete_on_termination"] = attachment.delete_on_termination
    return Reply.json(STATUS_GOOD, {"volumeAttachment": view})


_UPDATE_KEYS = frozenset({"volumeId", "device", "id", "serverId", "tag", "delete_on_termination"})


def update_attachment(cloud: Cloud, req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    """``PUT /servers/{id}/os-volume_attachments/{volume}``: from 2.85 ``delete_on_termination``; a swap
    (another ``volumeId``, or any PUT below 2.85) is Cinder's call to make (``service`` role) during a
    volume migration.
    """  # noqa: D205 (the summary needs both cases)
    server = cloud.server(ctx, params["id"])
    spec = body_of(req).get("volumeAttachment")
    if not isinstance(spec, dict) or "volumeId" not in spec:
        raise ApiError(
            400, "Invalid input for field/attribute volumeAttachment. 'volumeId' is a required property"
        )
    allowed = _UPDATE_KEYS if ctx.at_least(2, 85) else frozenset({"volumeId"})
    refuse_extra("volumeAttachment", spec, allowed)
    volume_id = params["volume"]
    swap = not ctx.at_least(2, 85) or spec["volumeId"] != volume_id
    if swap and "service" not in ctx.roles:
        # assumption: Nova's swap policy defaults to the service role (Cinder calls it) since 2023.2
        raise ApiError(
            403, "Policy doesn't allow os_compute_api:os-volumes-attachments:swap to be performed."
        )
    if not swap:
        _update_regular(cloud, server, volume_id, spec)
        return empty(202)
    cloud.volume(ctx, volume_id)
    # the fake's Cinder never migrates a volume, so Nova refuses every swap
    raise ApiError(409, f"volume {volume_id} is not migrating; this API should only be called by Cinder")


def _update_regular(cloud: Cloud, server: Server, volume_id: str, spec: Json) -> None:
    attachment = next((a for a in cloud.guest_attachments(server) if a.volume_id == volume_id), None)
    if attachment is None:
        raise ApiError(404, f"No volume Block Device Mapping with id {volume_id}.")
    for key, current in (
        ("id", volume_id),
        ("serverId", server.id),
        ("device", attachment.device),
        ("tag", attachment.tag),
    ):
        if key in spec and spec[key] != current:
            raise ApiError(400, f"The {key} property is not mutable")
    if "delete_on_termination" in spec:
        value = spec["delete_on_termination"]
        wanted = strict_bool(value, schema=True) if isinstance(value, bool | str) else None
        if wanted is None:
            raise ApiError(400, f"Invalid input for field/attribute delete_on_termination. Value: {value}.")
        attachment.delete_on_termination = wanted


def detach(cloud: Cloud, _req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    """``DELETE /servers/{id}/os-volume_attachments/{volume}``; the root volume stays (400)."""
    server = cloud.server(ctx, params["id"])
    ensure_unlocked(server, ctx)
    attachment = _guest_attachment(cloud, server, params["volume"])
    if attachment.volume_id == server.root_volume_id:
        raise ApiError(400, "Cannot detach a root device volume")
    ensure_state(server, "detach_volume", _ATTACHABLE)
    volume = cloud.state.volumes[attachment.volume_id]
    if volume.status == "detaching":
        raise ApiError(400, f"Invalid volume: Volume {volume.id} is already detaching")
    volume.status, volume.updated = "detaching", cloud.now()

    def finish() -> None:
        gone = cloud.state.volumes.get(attachment.volume_id)
        if gone is None or attachment not in gone.attachments:
            return
        gone.attachments.remove(attachment)
        gone.status = "in-use" if gone.attachments else "available"
        gone.updated = cloud.now()

    cloud.later(finish)
    return empty(202)
