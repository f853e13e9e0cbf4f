"""Pure conversion of openstacksdk resources into cloudkit models: the only place SDK attribute names live.

openstacksdk already parses the JSON; this module reads its resource objects defensively (a field the
cloud omits becomes a default, a wrong type becomes :class:`~cloudkit.errors.ResponseDecodeError`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from cloudkit._core._secret import Secret
from cloudkit.errors import InvalidArgumentError, ResponseDecodeError
from cloudkit.openstack._models import (
    ComputeLimits,
    Flavor,
    Image,
    Keypair,
    QuotaUsage,
    Server,
    Snapshot,
    Volume,
    VolumeAttachment,
    VolumeLimits,
)

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


# ------------------------------------------------------------------------------ keypairs, limits, zones
def _decode_error(operation: str, what: str, problem: str) -> ResponseDecodeError:
    return ResponseDecodeError(
        f"openstack {operation} reply has a bad {what}",
        problems=(problem[:200],),
        system=SYSTEM,
        operation=operation,
    )


def _read_attr(resource: Any, name: str, path: str, operation: str) -> Any:
    """An SDK attribute, or a decode error naming ``path`` (a typed SDK field may fail to convert on read)."""
    try:
        return getattr(resource, name, None)
    except Exception as exc:  # noqa: BLE001 (openstacksdk's type conversion raises what it likes)
        raise _decode_error(operation, path, f"{path}: unreadable ({type(exc).__name__})") from None


def keypair(resource: Any, *, operation: str) -> Keypair:
    """A :class:`Keypair` from an SDK compute ``Keypair``; a private key only when Nova sent one.

    A problem report never quotes a value here: the private key must not reach an error message.
    """
    fields: dict[str, str] = {}
    for name in ("name", "fingerprint", "public_key"):
        value = _read_attr(resource, name, f"$.keypair.{name}", operation)
        if not isinstance(value, str) or not value:
            raise _decode_error(
                operation, name, f"$.keypair.{name}: expected a non-empty string, got {type(value).__name__}"
            )
        fields[name] = value
    kind = _read_attr(resource, "type", "$.keypair.type", operation)
    if kind is None:
        kind = "ssh"  # before compute microversion 2.2 Nova knows only ssh keys and names no type
    if not isinstance(kind, str) or not kind:
        problem = f"$.keypair.type: expected a string, got {type(kind).__name__}"
        raise _decode_error(operation, "type", problem)
    private = _read_attr(resource, "private_key", "$.keypair.private_key", operation)
    if private is not None and (not isinstance(private, str) or not private):
        raise _decode_error(
            operation,
            "private_key",
            f"$.keypair.private_key: expected a non-empty string, got {type(private).__name__}",
        )
    return Keypair(**fields, type=kind, private_key=Secret(private) if private else None)


# (SDK attribute, wire name) of each quota's limit and use, in Nova's and Cinder's ``limits.absolute``
_COMPUTE_QUOTAS = {
    "instances": (("instances", "maxTotalInstances"), ("instances_used", "totalInstancesUsed")),
    "cores": (("total_cores", "maxTotalCores"), ("total_cores_used", "totalCoresUsed")),
    "ram_mib": (("total_ram", "maxTotalRAMSize"), ("total_ram_used", "totalRAMUsed")),
}
_VOLUME_QUOTAS = {
    "volumes": (("max_total_volumes", "maxTotalVolumes"), ("total_volumes_used", "totalVolumesUsed")),
    "gigabytes": (
        ("max_total_volume_gigabytes", "maxTotalVolumeGigabytes"),
        ("total_gigabytes_used", "totalGigabytesUsed"),
    ),
    "snapshots": (
        ("max_total_snapshots", "maxTotalSnapshots"),
        ("total_snapshots_used", "totalSnapshotsUsed"),
    ),
}
UNLIMITED = -1  # a quota without limit, as Nova and Cinder show it


def _count(absolute: Any, attribute: str, wire_name: str, operation: str, *, minimum: int) -> int:
    path = f"$.limits.absolute.{wire_name}"
    value = _read_attr(absolute, attribute, path, operation)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise _decode_error(operation, wire_name, f"{path}: expected an integer >= {minimum}, got {value!r}")
    return value


def _quotas(resource: Any, table: Mapping[str, Any], operation: str) -> dict[str, QuotaUsage]:
    absolute = _read_attr(resource, "absolute", "$.limits.absolute", operation)
    if absolute is None:
        raise _decode_error(operation, "limits", "$.limits.absolute: missing")
    quotas = {}
    for field, ((limit_attr, limit_name), (used_attr, used_name)) in table.items():
        limit = _count(absolute, limit_attr, limit_name, operation, minimum=UNLIMITED)
        used = _count(absolute, used_attr, used_name, operation, minimum=0)
        quotas[field] = QuotaUsage(limit=None if limit == UNLIMITED else limit, used=used)
    return quotas


def compute_limits(resource: Any, *, operation: str) -> ComputeLimits:
    """:class:`ComputeLimits` from an SDK compute ``Limits`` (Nova's ``GET /limits``)."""
    return ComputeLimits(**_quotas(resource, _COMPUTE_QUOTAS, operation))


def volume_limits(resource: Any, *, operation: str) -> VolumeLimits:
    """:class:`VolumeLimits` from an SDK block-storage ``Limits`` (Cinder's ``GET /limits``)."""
    return VolumeLimits(**_quotas(resource, _VOLUME_QUOTAS, operation))


def available_zones(resources: Iterable[Any], *, operation: str) -> list[str]:
    """The names of the zones whose state says available, in the service's order, each once.

    Nova and Cinder list zones as ``{"zoneName": ..., "zoneState": {"available": bool}}``; a member sees
    only the zones with a service in them (Nova's ``internal`` zone appears only in the admin's detail).
    """
    names: list[str] = []
    for index, zone in enumerate(resources):
        path = f"$.availabilityZoneInfo[{index}]"
        name = _read_attr(zone, "name", f"{path}.zoneName", operation)
        state = _read_attr(zone, "state", f"{path}.zoneState", operation)
        if not isinstance(name, str) or not name:
            problem = f"{path}.zoneName: expected a non-empty string, got {name!r}"
            raise _decode_error(operation, "zone", problem)
        if not isinstance(state, Mapping) or not isinstance(state.get("available"), bool):
            problem = f"{path}.zoneState: expected {{'available': bool}}, got {state!r}"
            raise _decode_error(operation, "zone", problem)
        if state["available"] and name not in names:
            names.append(name)
    return names


def console_output(body: Any, *, operation: str) -> str:
    """The text of Nova's ``os-getConsoleOutput`` answer (``{"output": "..."}``)."""
    output = body.get("output") if isinstance(body, Mapping) else None
    if not isinstance(output, str):
        raise _decode_error(operation, "output", f"$.output: expected a string, got {type(output).__name__}")
    return output


# ------------------------------------------------------------------------------ checks before a request
_KEYPAIR_NAME = re.compile(r"[a-zA-Z0-9_\- ]{1,255}")  # Nova's safe characters (compute microversions < 2.92)
_PUBLIC_KEY = re.compile(r"(ssh-[a-z0-9-]+|ecdsa-sha2-[a-z0-9-]+|sk-[a-zA-Z0-9@.-]+) [A-Za-z0-9+/=]+( .*)?")
MAX_IMAGE_NAME = 255  # Glance's schema: name is at most 255 characters
# assumption: Glance's default ``disk_formats`` and ``container_formats`` (glance-api.conf [image_format]);
# a cloud that narrows them answers 400 for the rest, one that widens them is rare.
DISK_FORMATS = frozenset({"ami", "ari", "aki", "vhd", "vhdx", "vmdk", "raw", "qcow2", "vdi", "iso", "ploop"})
CONTAINER_FORMATS = frozenset({"ami", "ari", "aki", "bare", "ovf", "ova", "docker", "compressed"})


def check_keypair_name(name: object, *, operation: str) -> str:
    """``name`` as Nova accepts a keypair name, or an error: 1 to 255 of ``a-z A-Z 0-9 _ - space``.

    Leading or trailing spaces are refused too (Nova's name schema refuses them). The characters are
    those the compute microversion openstacksdk uses for keypairs (2.10) allows; 2.92 would add ``@``
    and ``.``.

    Example:
        >>> from cloudkit.openstack._wire import check_keypair_name
        >>> check_keypair_name("alice laptop", operation="create_keypair")
        'alice laptop'
        >>> check_keypair_name("alice@laptop", operation="create_keypair")
        Traceback (most recent call last):
        ...
        cloudkit.errors.InvalidArgumentError: keypair name 'alice@laptop': 1-255 of a-z A-Z 0-9 _ - space, ...
    """
    if not isinstance(name, str) or not _KEYPAIR_NAME.fullmatch(name) or name != name.strip():
        shown = repr(name[:60]) if isinstance(name, str) else type(name).__name__
        raise InvalidArgumentError(
            f"keypair name {shown}: 1-255 of a-z A-Z 0-9 _ - space, not starting or ending with a space",
            system=SYSTEM,
            operation=operation,
        )
    return name


def check_public_key(public_key: object, *, operation: str) -> str:
    r"""An OpenSSH public key line (``ssh-ed25519 AAAA... comment``), surrounding whitespace dropped.

    A private key is refused with a message that does not quote it, so it never reaches Nova, a log or
    an error message.

    Example:
        >>> from cloudkit.openstack._wire import check_public_key
        >>> check_public_key("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA me@laptop\n", operation="create_keypair")
        'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA me@laptop'
        >>> check_public_key("-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbn...", operation="create_keypair")
        Traceback (most recent call last):
        ...
        cloudkit.errors.InvalidArgumentError: public_key is a private key: give the public half (...) [...]
    """
    if not isinstance(public_key, str):
        raise InvalidArgumentError("public_key must be a string", system=SYSTEM, operation=operation)
    text = public_key.strip()
    if "PRIVATE KEY" in text:
        raise InvalidArgumentError(
            "public_key is a private key: give the public half (the .pub file)",
            system=SYSTEM,
            operation=operation,
        )
    if "\n" in text or not _PUBLIC_KEY.fullmatch(text):
        raise InvalidArgumentError(
            "public_key must be one OpenSSH public key line: '<type> <base64> [comment]'",
            system=SYSTEM,
            operation=operation,
        )
    return text


def check_image_spec(
    name: object, disk_format: object, container_format: object, min_disk: object, *, operation: str
) -> None:
    """Refuse an image create Glance would refuse: the name, the two formats and ``min_disk`` (GiB >= 0).

    Example:
        >>> from cloudkit.openstack._wire import check_image_spec
        >>> check_image_spec("debian-13", "qcow2", "bare", 0, operation="upload_image")
        >>> check_image_spec("debian-13", "qcow3", "bare", 0, operation="upload_image")
        Traceback (most recent call last):
        ...
        cloudkit.errors.InvalidArgumentError: disk_format 'qcow3' is not one of aki, ami, ari, iso, ... [...]
    """
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_IMAGE_NAME:
        raise InvalidArgumentError(
            f"name must be a non-empty string of at most {MAX_IMAGE_NAME} characters",
            system=SYSTEM,
            operation=operation,
        )
    for field, value, allowed in (
        ("disk_format", disk_format, DISK_FORMATS),
        ("container_format", container_format, CONTAINER_FORMATS),
    ):
        if value not in allowed:
            raise InvalidArgumentError(
                f"{field} {str(value)[:40]!r} is not one of {', '.join(sorted(allowed))}",
                system=SYSTEM,
                operation=operation,
            )
    if isinstance(min_disk, bool) or not isinstance(min_disk, int) or min_disk < 0:
        raise InvalidArgumentError("min_disk must be an int >= 0 (GiB)", system=SYSTEM, operation=operation)


def image_has_marker(resource: Any, marker: str) -> bool:
    """Whether an SDK image carries cloudkit's create marker (Glance keeps it as an extra property)."""
    properties = _get(resource, "properties", {}) or {}
    return isinstance(properties, Mapping) and properties.get(MARKER_KEY) == marker


def image_size(resource: Any) -> int | None:
    """The size Glance stored for an image's data, in bytes (``None`` before an upload)."""
    size = _get(resource, "size")
    return size if isinstance(size, int) and not isinstance(size, bool) else None


# ------------------------------------------------------------------------------ capacity reads
def failure_view(resource: Any) -> dict[str, Any]:
    """The parts of an SDK server that :func:`cloudkit.openstack._placement.build_failures` reads.

    Example:
        >>> from types import SimpleNamespace
        >>> from cloudkit.openstack._wire import failure_view
        >>> server = SimpleNamespace(id="s1", name="web", project_id="p", fault=None, updated_at=None)
        >>> failure_view(server)["id"]
        's1'
    """
    return {
        "id": _get(resource, "id"),
        "name": _get(resource, "name"),
        "tenant_id": _get(resource, "project_id"),
        "fault": _get(resource, "fault"),
        "updated": _get(resource, "updated_at"),
    }


def aggregate_names(resources: Iterable[Any]) -> dict[str, str]:
    """Nova's aggregate names by uuid (aggregates carry a uuid from microversion 2.41).

    Example:
        >>> from types import SimpleNamespace
        >>> from cloudkit.openstack._wire import aggregate_names
        >>> aggregate_names([SimpleNamespace(uuid="a1", name="fast"), SimpleNamespace(uuid=None, name="x")])
        {'a1': 'fast'}
    """
    found: dict[str, str] = {}
    for resource in resources:
        uuid, name = _get(resource, "uuid"), _get(resource, "name")
        if isinstance(uuid, str) and uuid and isinstance(name, str):
            found[uuid] = name
    return found
