"""Pure conversion of openstacksdk resources into cloudkit models: the only place SDK attribute names live.

openstacksdk already parses the JSON; this module reads its resource objects defensively (a field the
cloud omits becomes a default, a wrong type becomes :class:`~cloudkit.errors.ResponseDecodeError`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from cloudkit.errors import InvalidArgumentError, ResponseDecodeError
from cloudkit.openstack._models import Flavor, Image, Server, Snapshot, Volume, VolumeAttachment

SYSTEM = "openstack"
ROOT_DEVICES = frozenset({"/dev/vda", "/dev/sda", "/dev/xvda", "/dev/hda"})
MARKER_KEY = "cloudkit_request"  # metadata key of the client-side marker on creates

# Nova's limits (api-ref parameters.yaml, server-tags.inc; the lab's Nova 34 answers them as 400s):
TAGS_AT_CREATE = (2, 52)  # ``tags`` in the POST /servers body
TAGS_IN_LISTS = (2, 26)  # ``tags`` in server bodies and the four list filters; below it Nova ignores them
MAX_TAGS = 50
MAX_TAG_LENGTH = 60
_METADATA_KEY = re.compile(r"[a-zA-Z0-9\-_:. ]{1,255}")  # Nova's own schema pattern (seen in its 400)
MAX_METADATA_VALUE = 255
# openstacksdk's query names for Nova's tag filters (tags, tags-any, not-tags, not-tags-any)
_TAG_QUERY = {"tags": "tags", "tags_any": "any_tags", "not_tags": "not_tags", "not_tags_any": "not_any_tags"}


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
    """A :class:`Server` from an SDK ``Server`` (cloudkit's own create marker left out of ``metadata``)."""
    return Server(
        id=_text(resource, "id", operation),
        name=_get(resource, "name", ""),
        status=str(_get(resource, "status", "UNKNOWN")).upper(),
        system_volume_id=system_volume,
        volume_ids=attached_volume_ids(resource),
        locked=bool(_get(resource, "is_locked", default=False)),
        locked_reason=_get(resource, "locked_reason"),
        task_state=_get(resource, "task_state"),
        tags=server_tags(resource, operation),
        metadata=server_metadata(resource, operation),
    )


def server_tags(resource: Any, operation: str) -> tuple[str, ...]:
    """The server's tags as Nova lists them (2.26+; an older answer has none)."""
    tags = _get(resource, "tags", [])
    if not isinstance(tags, list | tuple) or not all(isinstance(t, str) for t in tags):
        raise ResponseDecodeError(
            f"openstack {operation} reply has bad tags",
            problems=(f"$.tags: expected a list of strings, got {tags!r}"[:200],),
            system=SYSTEM,
            operation=operation,
        )
    return tuple(tags)


def server_metadata(resource: Any, operation: str) -> dict[str, str]:
    """The server's metadata without cloudkit's create marker."""
    metadata = _get(resource, "metadata", {})
    if not isinstance(metadata, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()
    ):
        raise ResponseDecodeError(
            f"openstack {operation} reply has bad metadata",
            problems=(f"$.metadata: expected an object of strings, got {type(metadata).__name__}",),
            system=SYSTEM,
            operation=operation,
        )
    return {k: v for k, v in metadata.items() if k != MARKER_KEY}


def check_tags(tags: object, *, name: str = "tags", operation: str) -> tuple[str, ...]:
    """``tags`` as Nova will accept them, duplicates dropped (Nova drops them too), or an error.

    Nova's rules: at most 50 tags, each a non-empty string of at most 60 characters without ``/`` or
    ``,``. Tags are case-sensitive when stored (a MySQL/MariaDB Nova matches them case-insensitively in
    list filters: see :func:`tags_match`).

    Raises:
        InvalidArgumentError: a rule is broken; the message names the rule and the tag's position.

    Example:
        >>> from cloudkit.openstack._wire import check_tags
        >>> check_tags(["saga:42", "portal", "saga:42"], operation="create_server")
        ('saga:42', 'portal')
        >>> check_tags(["a/b"], operation="create_server")
        Traceback (most recent call last):
        ...
        cloudkit.errors.InvalidArgumentError: tags[0] must not contain '/' or ',' [openstack create_server]
    """
    if isinstance(tags, str | bytes) or not isinstance(tags, Iterable):
        raise InvalidArgumentError(
            f"{name} must be a list of strings, not a single string", system=SYSTEM, operation=operation
        )
    result: tuple[Any, ...] = tuple(dict.fromkeys(tags))
    for index, tag in enumerate(result):
        where = f"{name}[{index}]"
        if not isinstance(tag, str) or not tag:
            raise InvalidArgumentError(
                f"{where} must be a non-empty string", system=SYSTEM, operation=operation
            )
        if len(tag) > MAX_TAG_LENGTH:
            raise InvalidArgumentError(
                f"{where} is longer than {MAX_TAG_LENGTH} characters", system=SYSTEM, operation=operation
            )
        if "/" in tag or "," in tag:
            raise InvalidArgumentError(
                f"{where} must not contain '/' or ','", system=SYSTEM, operation=operation
            )
    if len(result) > MAX_TAGS:
        raise InvalidArgumentError(
            f"{name}: at most {MAX_TAGS} tags, got {len(result)}", system=SYSTEM, operation=operation
        )
    return result


def check_metadata(metadata: object, *, operation: str) -> dict[str, str]:
    """``metadata`` as Nova will accept it, or an error.

    Nova's rules: keys of 1 to 255 characters from ``[a-zA-Z0-9-_:. ]``, string values of at most 255
    characters. The key ``cloudkit_request`` is cloudkit's own (its create marker). How many items a
    server may carry is a quota (``metadata_items``, 128 by default) that only Nova can check.

    Raises:
        InvalidArgumentError: a rule is broken; the message names the key, never the value.

    Example:
        >>> from cloudkit.openstack._wire import check_metadata
        >>> check_metadata({"saga": "42"}, operation="create_server")
        {'saga': '42'}
        >>> check_metadata({"saga/id": "42"}, operation="create_server")
        Traceback (most recent call last):
        ...
        cloudkit.errors.InvalidArgumentError: metadata key 'saga/id': 1-255 of a-z A-Z 0-9 - _ : . space [...]
    """
    if metadata is None:
        return {}
    if not isinstance(metadata, Mapping):
        raise InvalidArgumentError("metadata must be a mapping", system=SYSTEM, operation=operation)
    for key, value in metadata.items():
        if not isinstance(key, str) or not _METADATA_KEY.fullmatch(key):
            raise InvalidArgumentError(
                f"metadata key {str(key)[:60]!r}: 1-255 of a-z A-Z 0-9 - _ : . space",
                system=SYSTEM,
                operation=operation,
            )
        if key == MARKER_KEY:
            raise InvalidArgumentError(
                f"metadata key {MARKER_KEY!r} is cloudkit's own create marker",
                system=SYSTEM,
                operation=operation,
            )
        if not isinstance(value, str) or len(value) > MAX_METADATA_VALUE:
            raise InvalidArgumentError(
                f"metadata[{key!r}] must be a string of at most {MAX_METADATA_VALUE} characters",
                system=SYSTEM,
                operation=operation,
            )
    return dict(metadata)


def parse_microversion(text: str | None) -> tuple[int, int] | None:
    """``"2.100"`` as ``(2, 100)``; ``None`` for anything else.

    Example:
        >>> from cloudkit.openstack._wire import parse_microversion
        >>> parse_microversion("2.100") > parse_microversion("2.52")
        True
    """
    match = re.fullmatch(r"(\d+)\.(\d+)", text or "")
    return (int(match[1]), int(match[2])) if match else None


def tag_query(filters: Mapping[str, tuple[str, ...]]) -> dict[str, str]:
    """Query arguments (openstacksdk's names) for Nova's tag filters; comma-separated, empty ones left out.

    Example:
        >>> from cloudkit.openstack._wire import tag_query
        >>> tag_query({"tags": ("saga:42", "portal"), "not_tags_any": ("doomed",), "tags_any": ()})
        {'tags': 'saga:42,portal', 'not_any_tags': 'doomed'}
    """
    return {_TAG_QUERY[name]: ",".join(tags) for name, tags in filters.items() if tags}


def tags_match(server_tags: Iterable[str], filters: Mapping[str, tuple[str, ...]]) -> bool:
    """Whether tags satisfy Nova's filters, compared exactly (case-sensitive).

    ``tags``: all of them; ``tags_any``: at least one; ``not_tags``: not all of them; ``not_tags_any``:
    none of them. Nova on MySQL or MariaDB compares case-insensitively (the lab's Nova 34 lists a server
    tagged ``Alpha`` for ``tags=alpha``); cloudkit re-checks what Nova returned with this function.

    Example:
        >>> from cloudkit.openstack._wire import tags_match
        >>> tags_match(["Alpha", "b"], {"tags": ("alpha",)})
        False
        >>> tags_match(["a", "b"], {"tags": ("a",), "not_tags": ("a", "b")})
        False
    """
    have = set(server_tags)
    for name, tags in filters.items():
        want = set(tags)
        if not want:
            continue
        passed = {
            "tags": want <= have,
            "tags_any": bool(want & have),
            "not_tags": not want <= have,
            "not_tags_any": not want & have,
        }[name]
        if not passed:
            return False
    return True


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
        image_id=_volume_image_id(resource),
    )


def _volume_image_id(resource: Any) -> str | None:
    """The image a volume was made from: Cinder's ``volume_image_metadata.image_id`` (absent: None)."""
    meta = _get(resource, "volume_image_metadata")
    value = meta.get("image_id") if isinstance(meta, Mapping) else None
    return value if isinstance(value, str) and value else None


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
