"""Pure conversion of openstacksdk resources into cloudkit models: the only place SDK attribute names live.

openstacksdk already parses the JSON; this module reads its resource objects defensively (a field the
cloud omits becomes a default, a wrong type becomes :class:`~cloudkit.errors.ResponseDecodeError`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from cloudkit.errors import ResponseDecodeError
from cloudkit.openstack._models import Flavor, Image, Server, Snapshot, Volume, VolumeAttachment

SYSTEM = "openstack"
ROOT_DEVICES = frozenset({"/dev/vda", "/dev/sda", "/dev/xvda", "/dev/hda"})
MARKER_KEY = "cloudkit_request"  # metadata key of the client-side marker on creates


def _get(resource: Any, name: str, default: Any = None) -> Any:
    value = getattr(resource, name, default)
    return default if value is None else value


def _text(resource: Any, name: str, operation: str) -> str:
    value = _get(resource, name)
    if not isinstance(value, str) or not value:
        raise ResponseDecodeError(
            f"openstack {operation} reply lacks {name}",
            problems=(f"$.{name}: expected a non-empty string, got {type(value).__name__}",),
            system=SYSTEM,
            operation=operation,
        )
    return value


def _int(resource: Any, name: str, operation: str, default: int = 0) -> int:
    value = _get(resource, name, default)
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ResponseDecodeError(
            f"openstack {operation} reply has a bad {name}",
            problems=(f"$.{name}: expected an integer, got {value!r}",),
            system=SYSTEM,
            operation=operation,
        ) from None


def attached_volume_ids(server: Any) -> tuple[str, ...]:
    """Ids from ``os-extended-volumes:volumes_attached``, in Nova's order."""
    return tuple(
        item["id"]
        for item in _get(server, "attached_volumes", []) or []
        if isinstance(item, Mapping) and isinstance(item.get("id"), str)
    )


def system_volume_id(server: Any, volumes: Iterable[Any]) -> str | None:
    """The boot volume of ``server``: the attached volume Cinder shows at the root device.

    With no Cinder view (``volumes`` empty) and exactly one attached volume, that one is the boot
    volume of a boot-from-volume server (cloudkit creates servers only that way).
    """
    attached = attached_volume_ids(server)
    root_name = _get(server, "root_device_name")
    roots = ROOT_DEVICES | ({root_name} if isinstance(root_name, str) else set())
    server_id = _get(server, "id")
    by_id = {_get(v, "id"): v for v in volumes}
    for volume_id in attached:
        volume = by_id.get(volume_id)
        if volume is None:
            continue
        for attachment in _get(volume, "attachments", []) or []:
            if (
                isinstance(attachment, Mapping)
                and attachment.get("server_id") == server_id
                and attachment.get("device") in roots
            ):
                return volume_id
    if not by_id and len(attached) == 1:
        return attached[0]
    return None


def server(resource: Any, *, system_volume: str | None, operation: str) -> Server:
    """A :class:`Server` from an SDK ``Server``."""
    return Server(
        id=_text(resource, "id", operation),
        name=_get(resource, "name", ""),
        status=str(_get(resource, "status", "UNKNOWN")).upper(),
        system_volume_id=system_volume,
        volume_ids=attached_volume_ids(resource),
        locked=bool(_get(resource, "is_locked", default=False)),
        locked_reason=_get(resource, "locked_reason"),
        task_state=_get(resource, "task_state"),
    )


def volume_server_ids(resource: Any) -> tuple[str, ...]:
    """Servers Cinder records the volume attached to."""
    return tuple(
        a["server_id"]
        for a in _get(resource, "attachments", []) or []
        if isinstance(a, Mapping) and isinstance(a.get("server_id"), str)
    )


def volume_device_on(resource: Any, server_id: str) -> str | None:
    """The device Cinder records for the volume on ``server_id``."""
    for attachment in _get(resource, "attachments", []) or []:
        if isinstance(attachment, Mapping) and attachment.get("server_id") == server_id:
            device = attachment.get("device")
            return device if isinstance(device, str) else None
    return None


def volume_attachment_id_on(resource: Any, server_id: str) -> str | None:
    """Cinder's attachment id of the volume on ``server_id`` (to undo a Cinder-side attach)."""
    for attachment in _get(resource, "attachments", []) or []:
        if isinstance(attachment, Mapping) and attachment.get("server_id") == server_id:
            value = attachment.get("attachment_id") or attachment.get("id")
            return value if isinstance(value, str) else None
    return None


def volume(resource: Any, *, operation: str) -> Volume:
    """A :class:`Volume` from an SDK block-storage ``Volume``."""
    bootable = _get(resource, "is_bootable", default=False)
    return Volume(
        id=_text(resource, "id", operation),
        name=_get(resource, "name", "") or "",
        status=str(_get(resource, "status", "unknown")).lower(),
        size=_int(resource, "size", operation),
        bootable=bootable is True or str(bootable).lower() == "true",
        server_ids=volume_server_ids(resource),
    )


def attachment(resource: Any, *, operation: str) -> VolumeAttachment:
    """A :class:`VolumeAttachment` from an SDK compute ``VolumeAttachment``."""
    return VolumeAttachment(
        server_id=_text(resource, "server_id", operation),
        volume_id=_text(resource, "volume_id", operation),
        device=_get(resource, "device"),
    )


def snapshot(resource: Any, *, operation: str) -> Snapshot:
    """A :class:`Snapshot` from an SDK ``Snapshot``."""
    return Snapshot(
        id=_text(resource, "id", operation),
        name=_get(resource, "name", "") or "",
        status=str(_get(resource, "status", "unknown")).lower(),
        volume_id=_text(resource, "volume_id", operation),
        size=_int(resource, "size", operation),
    )


def image(resource: Any, *, operation: str) -> Image:
    """An :class:`Image` from an SDK image ``Image`` (OS metadata included)."""
    return Image(
        id=_text(resource, "id", operation),
        name=_get(resource, "name", "") or "",
        status=str(_get(resource, "status", "unknown")).lower(),
        os_distro=_get(resource, "os_distro"),
        os_version=_get(resource, "os_version"),
        min_disk=_int(resource, "min_disk", operation),
    )


def flavor(resource: Any, *, operation: str) -> Flavor:
    """A :class:`Flavor` from an SDK ``Flavor``."""
    return Flavor(
        id=_text(resource, "id", operation),
        name=_get(resource, "name", "") or "",
        vcpus=_int(resource, "vcpus", operation),
        ram=_int(resource, "ram", operation),
        disk=_int(resource, "disk", operation),
    )


def has_marker(resource: Any, marker: str) -> bool:
    """Whether a server or volume carries cloudkit's create marker."""
    metadata = _get(resource, "metadata", {}) or {}
    return isinstance(metadata, Mapping) and metadata.get(MARKER_KEY) == marker


def fault_code(body: Any) -> str | None:
    """The upstream's own code in an error body: Nova's and Cinder's fault name, Neutron's type, or ``None``.

    Nova and Cinder answer ``{"itemNotFound": {"code": 404, "message": ...}}``; Neutron
    ``{"NeutronError": {"type": "NetworkNotFound", ...}}``; Keystone's ``{"error": {...}}`` names no code
    beyond its HTTP status.

    Example:
        >>> from cloudkit.openstack._wire import fault_code
        >>> fault_code({"conflictingRequest": {"code": 409, "message": "Instance is locked"}})
        'conflictingRequest'
        >>> fault_code({"error": {"code": 401, "title": "Unauthorized", "message": "..."}}) is None
        True
    """
    if not isinstance(body, Mapping) or len(body) != 1:
        return None
    ((name, fault),) = body.items()
    if not isinstance(name, str) or not isinstance(fault, Mapping) or name == "error":
        return None
    if name == "NeutronError":
        kind = fault.get("type")
        return kind if isinstance(kind, str) and kind else None
    return name if isinstance(fault.get("message"), str) else None
