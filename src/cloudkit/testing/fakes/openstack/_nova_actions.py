"""Nova server actions (stop, start, reboot, lock, shelve, ...) and volume attachments of the fake.

Routed by `_nova` (``POST /servers/{id}/action`` and ``/servers/{id}/os-volume_attachments``).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from cloudkit.testing.fakes._kit import Reply, Request
from cloudkit.testing.fakes.openstack._cloud import Cloud, Ctx, pick_action
from cloudkit.testing.fakes.openstack._state import (
    POWER_RUNNING,
    POWER_SHUTDOWN,
    Attachment,
    Json,
    Server,
)
from cloudkit.testing.fakes.openstack._wire import STATUS_GOOD, ApiError, as_bool, as_int, body_of, empty

_ATTACHABLE = ("active", "stopped", "paused", "suspended", "resized")


# ================================================================================== guards
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
    """``POST /servers/{id}/action``: one action, answered 202 without a body."""
    server = cloud.server(ctx, params["id"])
    handler, args = pick_action(req, _ACTIONS)
    handler(cloud, server, ctx, args)
    return empty(202)


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


_ACTIONS: dict[str, Callable[[Cloud, Server, Ctx, Any], None]] = {
    "os-stop": _stop,
    "os-start": _start,
    "reboot": _reboot,
    "lock": _lock,
    "unlock": _unlock,
    "shelve": _shelve,
    "unshelve": _unshelve,
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
