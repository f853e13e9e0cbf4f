"""OpenStack models: frozen attrs classes with domain names (SDK attribute names live in ``_wire.py``)."""

from __future__ import annotations

import datetime as dt
import enum
import types
from collections.abc import Iterable, Mapping

import attrs

from cloudkit._core._secret import Secret

__all__ = [
    "AggregateCapacity",
    "AttachStrategy",
    "BuildFailure",
    "ComputeLimits",
    "Flavor",
    "Image",
    "Keypair",
    "QuotaUsage",
    "ResourceCapacity",
    "Server",
    "Snapshot",
    "Volume",
    "VolumeAttachment",
    "VolumeLimits",
]


class AttachStrategy(enum.Enum):
    """How :meth:`OpenStackClient.attach_volume` attaches (quirk ``openstack.cinder-attach-no-device``).

    ``NOVA`` (default): Nova's ``os-volume_attachments``; only Nova (nova-compute, libvirt, os-brick)
    connects a disk to the guest. ``CINDER_THEN_NOVA``: Cinder's ``os-attach`` action first (which only
    writes Cinder's records), then verify through Nova; if Nova does not list the disk within
    ``cinder_attach_verify_seconds``, undo the Cinder-side state and attach through Nova.

    Example:
        >>> from cloudkit.openstack import AttachStrategy
        >>> AttachStrategy.CINDER_THEN_NOVA.value
        'cinder-then-nova'
    """

    NOVA = "nova"
    CINDER_THEN_NOVA = "cinder-then-nova"


def _tuple(value: Iterable[str]) -> tuple[str, ...]:
    return tuple(value)


def _frozen_mapping(value: Mapping[str, str]) -> Mapping[str, str]:
    return types.MappingProxyType(dict(value))


@attrs.frozen(kw_only=True)
class Server:
    """A server; ``system_volume_id`` is its boot volume, which lives and dies with it.

    ``tags`` are Nova's server tags in Nova's order (shown from microversion 2.26); ``metadata`` is the
    server's metadata, read-only, without cloudkit's own create marker. Both are the handles a lifecycle
    step looks for before it acts (see :meth:`OpenStackClient.create_server`).

    Example:
        >>> from cloudkit.openstack import Server
        >>> server = Server(id="s1", name="web-1", status="ACTIVE", system_volume_id="v1",
        ...                 tags=("saga:42",), metadata={"billing_item": "7"})
        >>> server.system_volume_id, server.tags, dict(server.metadata)
        ('v1', ('saga:42',), {'billing_item': '7'})
    """

    id: str
    name: str
    status: str
    system_volume_id: str | None = None
    volume_ids: tuple[str, ...] = ()
    locked: bool = False
    locked_reason: str | None = None
    task_state: str | None = None
    tags: tuple[str, ...] = attrs.field(default=(), converter=_tuple)
    metadata: Mapping[str, str] = attrs.field(factory=dict, converter=_frozen_mapping, hash=False)


@attrs.frozen(kw_only=True)
class Volume:
    """A block-storage volume; ``server_ids`` are the servers Cinder records it attached to.

    ``image_id`` is the Glance image a volume was made from (Cinder's ``volume_image_metadata``), or
    ``None``: how a system volume Nova left behind is told apart from the customer's own volumes.

    Example:
        >>> from cloudkit.openstack import Volume
        >>> Volume(id="v1", name="data-1", status="available", size=20).size
        20
    """

    id: str
    name: str
    status: str
    size: int
    bootable: bool = False
    server_ids: tuple[str, ...] = ()
    image_id: str | None = None


@attrs.frozen(kw_only=True)
class VolumeAttachment:
    """A volume attached to a server, as Nova lists it.

    Example:
        >>> from cloudkit.openstack import VolumeAttachment
        >>> VolumeAttachment(server_id="s1", volume_id="v1", device="/dev/vdb").device
        '/dev/vdb'
    """

    server_id: str
    volume_id: str
    device: str | None = None


@attrs.frozen(kw_only=True)
class Snapshot:
    """A volume snapshot.

    Example:
        >>> from cloudkit.openstack import Snapshot
        >>> Snapshot(id="n1", name="before-upgrade", status="available", volume_id="v1", size=20).volume_id
        'v1'
    """

    id: str
    name: str
    status: str
    volume_id: str
    size: int


@attrs.frozen(kw_only=True)
class Image:
    """A Glance image with its OS metadata.

    Example:
        >>> from cloudkit.openstack import Image
        >>> Image(id="i1", name="ubuntu-24.04", status="active", os_distro="ubuntu").os_distro
        'ubuntu'
    """

    id: str
    name: str
    status: str
    os_distro: str | None = None
    os_version: str | None = None
    min_disk: int = 0


@attrs.frozen(kw_only=True)
class Flavor:
    """A compute flavor.

    Example:
        >>> from cloudkit.openstack import Flavor
        >>> Flavor(id="1", name="m1.small", vcpus=1, ram=2048, disk=0).ram
        2048
    """

    id: str
    name: str
    vcpus: int
    ram: int
    disk: int


@attrs.frozen(kw_only=True)
class Keypair:
    """An SSH keypair of the user (Nova keypairs belong to a user, not to a project).

    ``private_key`` is set only on the answer to :meth:`OpenStackClient.create_keypair` without a public
    key: Nova generated the pair and hands out the private key this once; it is a :class:`Secret`, so
    no repr, log line or error message shows it. Everywhere else it is ``None``.

    Example:
        >>> from cloudkit import Secret
        >>> from cloudkit.openstack import Keypair
        >>> pair = Keypair(name="laptop", fingerprint="ab:cd", public_key="ssh-ed25519 AAAA...",
        ...                private_key=Secret("-----BEGIN OPENSSH PRIVATE KEY-----..."))
        >>> pair.private_key, "PRIVATE" in repr(pair)
        (Secret('***'), False)
    """

    name: str
    fingerprint: str
    public_key: str
    type: str = "ssh"
    private_key: Secret | None = None


@attrs.frozen(kw_only=True)
class QuotaUsage:
    """How much of one quota is used: ``limit`` is ``None`` when unlimited (``-1`` on the wire).

    Example:
        >>> from cloudkit.openstack import QuotaUsage
        >>> QuotaUsage(limit=10, used=3).left, QuotaUsage(limit=None, used=3).left
        (7, None)
        >>> QuotaUsage(limit=2, used=5).left  # over quota (the limit was lowered): nothing left
        0
    """

    limit: int | None
    used: int

    @property
    def left(self) -> int | None:
        """What may still be used: ``None`` when unlimited, never below 0."""
        return None if self.limit is None else max(self.limit - self.used, 0)

    @property
    def unlimited(self) -> bool:
        """Whether the quota has no limit."""
        return self.limit is None


@attrs.frozen(kw_only=True)
class ComputeLimits:
    """The project's compute quotas and what it uses of them (Nova's ``GET /limits``).

    Example:
        >>> from cloudkit.openstack import ComputeLimits, QuotaUsage
        >>> limits = ComputeLimits(instances=QuotaUsage(limit=10, used=2), cores=QuotaUsage(limit=20, used=4),
        ...                        ram_mib=QuotaUsage(limit=51200, used=4096))
        >>> limits.instances.left, limits.ram_mib.left
        (8, 47104)
    """

    instances: QuotaUsage
    cores: QuotaUsage
    ram_mib: QuotaUsage


@attrs.frozen(kw_only=True)
class VolumeLimits:
    """The project's block-storage quotas and what it uses of them (Cinder's ``GET /limits``).

    ``gigabytes`` counts volumes and snapshots together, as Cinder's quota does (unless the cloud sets
    ``no_snapshot_gb_quota``).

    Example:
        >>> from cloudkit.openstack import QuotaUsage, VolumeLimits
        >>> limits = VolumeLimits(volumes=QuotaUsage(limit=10, used=1),
        ...                       gigabytes=QuotaUsage(limit=1000, used=10),
        ...                       snapshots=QuotaUsage(limit=None, used=0))
        >>> limits.gigabytes.left, limits.snapshots.unlimited
        (990, True)
    """

    volumes: QuotaUsage
    gigabytes: QuotaUsage
    snapshots: QuotaUsage


@attrs.frozen(kw_only=True)
class ResourceCapacity:
    """One resource class of Placement's inventory, summed over providers: what can be allocated and what is.

    ``capacity`` is Placement's own ``(total - reserved) * allocation_ratio`` per provider, floored
    (allocations are whole units, so the fraction can never be used), then summed; ``free`` is what
    is left of it and never below 0 (an operator who lowers a ratio can leave ``used`` above it).

    Example:
        >>> from cloudkit.openstack import ResourceCapacity
        >>> vcpu = ResourceCapacity(resource_class="VCPU", capacity=256, used=240)
        >>> vcpu.free, round(vcpu.free_percent, 2)
        (16, 6.25)
    """

    resource_class: str
    capacity: int
    used: int

    @property
    def free(self) -> int:
        """What is left to allocate (never below 0)."""
        return max(self.capacity - self.used, 0)

    @property
    def free_percent(self) -> float:
        """``free`` as a percentage of ``capacity`` (0 when there is no capacity at all)."""
        return 100.0 * self.free / self.capacity if self.capacity > 0 else 0.0


@attrs.frozen(kw_only=True)
class AggregateCapacity:
    """Free and used capacity of one host aggregate, from Placement's resource providers in it.

    ``aggregate`` is the aggregate's uuid (Placement knows aggregates only by uuid; ``None`` gathers the
    providers in no aggregate); ``name`` is Nova's name for it when Nova lists it.

    Example:
        >>> from cloudkit.openstack import AggregateCapacity, ResourceCapacity
        >>> agg = AggregateCapacity(aggregate="a1", name="fast", providers=("cmp-1",),
        ...     resources=(ResourceCapacity(resource_class="VCPU", capacity=32, used=30),))
        >>> agg.label, agg.resource("VCPU").free, agg.resource("DISK_GB") is None
        ('fast', 2, True)
    """

    aggregate: str | None
    name: str | None
    providers: tuple[str, ...]
    resources: tuple[ResourceCapacity, ...]

    @property
    def label(self) -> str:
        """How a person names it: Nova's name, else the uuid, else ``(no aggregate)``."""
        return self.name or self.aggregate or "(no aggregate)"

    def resource(self, resource_class: str) -> ResourceCapacity | None:
        """The capacity of one resource class (``VCPU``, ``MEMORY_MB``, ``DISK_GB``) if a provider has it."""
        return next((r for r in self.resources if r.resource_class == resource_class), None)


@attrs.frozen(kw_only=True)
class BuildFailure:
    """A server whose build failed with a Nova fault, as an admin's server list shows it.

    Example:
        >>> import datetime as dt
        >>> from cloudkit.openstack import BuildFailure
        >>> BuildFailure(server_id="s1", name="web", project_id="p1", message="No valid host was found. ",
        ...              at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC)).server_id
        's1'
    """

    server_id: str
    name: str
    project_id: str | None
    message: str
    at: dt.datetime
