"""Every OpenStack workaround, each registered as a :class:`~cloudkit.Quirk` with one handler."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from cloudkit._core._quirks import Quirk, quirk
from cloudkit.errors import SystemVolumeError
from cloudkit.openstack import _wire

SYSTEM = "openstack"
_REF = "reference/openstack.md"

CINDER_ATTACH_NO_DEVICE = Quirk(
    id="openstack.cinder-attach-no-device",
    system="openstack",
    summary=(
        "Cinder's os-attach action reports success and marks the volume in-use, but only writes "
        "Cinder's records: nothing connects the disk to the guest, so no device appears in the server."
    ),
    handling=(
        "attach_volume uses Nova's os-volume_attachments by default and waits until Nova lists the "
        "attachment and Cinder shows the volume in-use on that server. AttachStrategy.CINDER_THEN_NOVA "
        "verifies a Cinder-side attach through Nova and, if Nova never sees it, undoes it and attaches "
        "through Nova. A volume that falls back to available during an attach raises VolumeAttachError."
    ),
    evidence="real-service",
    sources=(
        "cassettes/openstack/attach_volume__cinder_then_nova.yaml",
        f"{_REF} §1.1 (who connects the disk to the guest), §3.1, quirk (a)",
        "FIELD-NOTES.md OpenStack 1",
    ),
)

SYSTEM_VOLUME = Quirk(
    id="openstack.system-volume",
    system="openstack",
    summary=(
        "The boot volume cannot be detached: Nova refuses (400 or 403 'root device'), or on older clouds "
        "reports the connection torn down and then refuses operations on the disk."
    ),
    handling=(
        "A server always has its system volume: detach_volume and delete_volume on it raise "
        "SystemVolumeError before any request is sent (when the client knows it) or before any mutating "
        "request (after a read); delete_server removes the system volume with the server; Nova's own "
        "refusal maps to the same error."
    ),
    evidence="real-service",
    sources=(
        "cassettes/openstack/detach_volume__system_volume.yaml",
        f"{_REF} §2.2, quirk (b)",
        "FIELD-NOTES.md OpenStack 2",
    ),
)

WSREP_NOT_READY = Quirk(
    id="openstack.wsrep-not-ready",
    system="openstack",
    summary=(
        "Galera answers 'WSREP has not yet prepared node for application use' during resyncs; the APIs "
        "pass it on as 500 (or 503)."
    ),
    handling=(
        "Idempotent calls are retried with backoff inside a deadline on 5xx naming WSREP, other transient "
        "5xx and connection resets. Creates carry a client-side marker and are retried only after a "
        "read-back shows the first attempt did not land: never a duplicate server, volume or snapshot."
    ),
    evidence="upstream-source",
    sources=(
        "cassettes/openstack/list_servers__wsrep_then_ok.yaml",
        f"{_REF} §6, quirk (c)",
        "FIELD-NOTES.md OpenStack 3",
        "https://wikitech.wikimedia.org/wiki/Portal:Cloud_VPS/Admin/Galera (wsrep_ready must be ON)",
    ),
)

TAG_FILTER_IGNORES_CASE = Quirk(
    id="openstack.tag-filter-ignores-case",
    system="openstack",
    summary=(
        "Nova's server tag filters (tags, tags-any, not-tags, not-tags-any) compare case-insensitively on "
        "MySQL/MariaDB although tags are stored case-sensitively: tags=saga:x lists a server tagged Saga:X. "
        "Below microversion 2.26 Nova ignores the filters altogether and lists every server."
    ),
    handling=(
        "list_servers re-checks Nova's answer against the filters exactly and drops what Nova matched only "
        "by ignoring case; a filter on a Nova older than 2.26 is refused with PolicyError before the list. "
        "The lost-answer read-back of create_server filters by tag and then decides by its own marker."
    ),
    evidence="real-service",
    sources=(
        "cassettes/openstack/list_servers__by_tag.yaml",
        "reference/lifecycle.md §4 (tags as idempotency handles)",
    ),
)

GLANCE_UPLOAD_NEEDS_OCTET_STREAM = Quirk(
    id="openstack.glance-upload-octet-stream",
    system="openstack",
    summary=(
        "Glance refuses image data (PUT /v2/images/{id}/file) with 415 Unsupported Media Type unless the "
        "request says Content-Type: application/octet-stream; an HTTP client's default for a file body "
        "(none, or a guessed type) is refused."
    ),
    handling=(
        "upload_image sends its own headers for the data: Content-Type application/octet-stream and the "
        "size (X-OpenStack-Image-Size), with Content-Length, streaming the file in chunks."
    ),
    evidence="real-service",
    sources=(
        "cassettes/openstack/upload_image__other_content_type_is_415.yaml",
        "cassettes/openstack/upload_image__streamed.yaml",
        "openstack/glance glance/api/v2/image_data.py (RequestDeserializer.upload: 415 unless octet-stream)",
        "https://docs.openstack.org/api-ref/image/v2/index.html#upload-binary-image-data",
        "src/cloudkit/lab/_admin.py (the lab's own seeding met the 415)",
    ),
)

_ROOT_DEVICE = re.compile(r"root[ _-]?device", re.IGNORECASE)
_TRANSIENT_DB = re.compile(r"WSREP|DBConnectionError|Deadlock", re.IGNORECASE)
_ROOT_REFUSAL_STATUSES = frozenset({400, 403})


CAPACITY = Quirk(
    id="openstack.capacity",
    system="openstack",
    summary=(
        "Nova's scheduler places a build only on a host whose Placement inventory has room "
        "(used + asked <= (total - reserved) * allocation_ratio per resource class); when no host has, "
        "the server goes to ERROR with the fault 'No valid host was found.' and nothing warns before "
        "customers hit it."
    ),
    handling=(
        "OpenStackClient.placement_capacity sums free vCPU, RAM and disk per host aggregate from "
        "Placement (Placement's own capacity formula); build_failures lists the failed builds of every "
        "project since a time. cloudkit doctor reports each aggregate whose free share of a resource "
        "class is under a threshold (default 10 %), with the numbers, and the 'No valid host' builds of "
        "the last hour, so compute nodes are added before the queue of failed orders grows."
    ),
    evidence="upstream-source",
    sources=(
        "cassettes/openstack/placement_capacity__one_host.yaml",
        "https://docs.openstack.org/api-ref/placement/ (resource providers, inventories, usages, aggregates)",
        "openstack/placement placement/objects/allocation.py (_check_capacity_exceeded)",
        (
            "https://docs.openstack.org/api-ref/compute/ (List Servers Detailed: all_tenants, status, "
            "changes-since; the fault of a server in ERROR)"
        ),
        "openstack/nova nova/exception.py (NoValidHost: 'No valid host was found.')",
        "FIELD-NOTES.md The beta (compute nodes added during the test)",
    ),
)


@quirk(CAPACITY)
def short_of(free_percent: float, min_free_percent: float) -> bool:
    """Whether a resource class's free share is under the threshold (the doctor's finding).

    Example:
        >>> from cloudkit.openstack._quirks import short_of
        >>> short_of(6.25, 10.0), short_of(10.0, 10.0)
        (True, False)
    """
    return free_percent < min_free_percent


@quirk(CAPACITY)
def no_valid_host(message: str) -> bool:
    """Whether a fault message is the scheduler's ``NoValidHost`` (Nova appends the reason after it).

    Example:
        >>> from cloudkit.openstack._quirks import no_valid_host
        >>> no_valid_host("No valid host was found. There are not enough hosts available.")
        True
    """
    return message.startswith("No valid host was found")


@quirk(SYSTEM_VOLUME)
def refuse_system_volume(operation: str, volume_id: str, server_id: str | None) -> SystemVolumeError:
    """The error for detaching or deleting a server's system volume on its own."""
    SYSTEM_VOLUME.fired(operation)
    owner = f" of server {server_id}" if server_id else ""
    return SystemVolumeError(
        f"volume {volume_id} is the system volume{owner}: it goes only with the server "
        "(delete the server to remove it)",
        system=SYSTEM,
        operation=operation,
        quirk=SYSTEM_VOLUME.id,
    )


def is_root_device_refusal(status: int | None, details: str) -> bool:
    """Whether a Nova error is its refusal to detach a root device (400 or 403)."""
    return status in _ROOT_REFUSAL_STATUSES and bool(_ROOT_DEVICE.search(details))


@quirk(WSREP_NOT_READY)
def transient_quirk(status: int | None, details: str) -> str | None:
    """The quirk id to tag a 5xx with when it names a transient Galera/database failure."""
    if status is not None and status >= 500 and _TRANSIENT_DB.search(details):  # noqa: PLR2004
        WSREP_NOT_READY.fired(details[:80])
        return WSREP_NOT_READY.id
    return None


@quirk(CINDER_ATTACH_NO_DEVICE)
def cinder_attach_not_seen(server_id: str, volume_id: str) -> None:
    """Log that Nova never saw a Cinder-side attach (the handler that follows undoes it)."""
    CINDER_ATTACH_NO_DEVICE.fired(
        f"volume {volume_id} not on server {server_id}; undoing, attaching via Nova"
    )


@quirk(TAG_FILTER_IGNORES_CASE)
def exact_tag_matches(raws: list[Any], filters: Mapping[str, tuple[str, ...]], operation: str) -> list[Any]:
    """The servers of a tag-filtered list that pass the filters exactly (case-sensitive)."""
    kept = [s for s in raws if _wire.tags_match(_wire.server_tags(s, operation), filters)]
    if len(kept) != len(raws):
        TAG_FILTER_IGNORES_CASE.fired(f"{len(raws) - len(kept)} server(s) Nova matched only ignoring case")
    return kept


_OCTET_STREAM = "application/octet-stream"


@quirk(GLANCE_UPLOAD_NEEDS_OCTET_STREAM)
def upload_headers(size: int) -> dict[str, str]:
    """The headers of an image data upload: the one content type Glance accepts, and the size."""
    GLANCE_UPLOAD_NEEDS_OCTET_STREAM.fired(f"{size} bytes")
    return {"Content-Type": _OCTET_STREAM, "X-OpenStack-Image-Size": str(size)}
