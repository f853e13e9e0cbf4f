"""The OpenStack fake's state: Keystone, Nova, Cinder, Glance records (Neutron's: `_neutron_state`), seed."""

from __future__ import annotations

import types
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from cloudkit.testing.fakes.openstack._neutron_state import NeutronState, seed_neutron
from cloudkit.testing.fakes.openstack._records import (
    FakeCredentials,
    FakeSnapshot,
    FakeVolume,
    FakeVolumeAttachment,
)

NAMESPACE = uuid.UUID("9a0f3a4e-5c1b-4e0e-9a55-0c5d1e2b7f10")  # seeds get uuid5 ids in it: fixed
ROLE_NAMES = ("admin", "member", "reader", "service")
_IMPLIED = {"admin": ("member", "reader"), "member": ("reader",)}  # keystone-manage bootstrap's chain
POWER_RUNNING, POWER_SHUTDOWN, POWER_NOSTATE = 1, 4, 0

Json = dict[str, Any]


def uuid5(name: str) -> str:
    """A fixed id (uuid5 in the fake's namespace) for ``name``."""
    return str(uuid.uuid5(NAMESPACE, name))


def hex5(name: str) -> str:
    """A fixed Keystone-style id (32 hex digits) for ``name``."""
    return uuid.uuid5(NAMESPACE, name).hex


DEFAULT_VOLUME_TYPE_ID = uuid5("volume-type:__DEFAULT__")  # Cinder's __DEFAULT__ (a fixed id here)
DEFAULT_CGSNAPSHOT_TYPE_ID = uuid5("group-type:default_cgsnapshot_type")


# ================================================================================== records
@dataclass(slots=True)
class User:
    id: str
    name: str
    password: str = field(repr=False)
    default_project_id: str | None
    enabled: bool = True
    email: str | None = None


@dataclass(slots=True)
class Project:
    id: str
    name: str
    description: str = ""
    enabled: bool = True
    tags: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Token:
    id: str = field(repr=False)
    user_id: str
    project_id: str | None
    issued: float
    expires: float
    methods: tuple[str, ...]
    audit_id: str
    revoked: bool = False


@dataclass(slots=True)
class Flavor:
    id: str
    name: str
    vcpus: int
    ram: int
    disk: int
    ephemeral: int = 0
    swap: int = 0
    rxtx_factor: float = 1.0
    is_public: bool = True
    description: str | None = None
    extra_specs: dict[str, str] = field(default_factory=dict)
    access: list[str] = field(default_factory=list)  # projects that may use it when it is private


@dataclass(slots=True)
class ImageMember:
    project_id: str
    status: str  # pending, accepted or rejected
    created: float
    updated: float


@dataclass(slots=True)
class Image:
    id: str
    name: str | None
    os_distro: str  # "" when the image has no such property
    os_version: str
    min_disk: int
    owner: str
    visibility: str
    seq: int
    created: float
    size: int | None = 2 * 1024**2
    status: str = "active"
    disk_format: str | None = "qcow2"
    container_format: str | None = "bare"
    min_ram: int = 0
    protected: bool = False
    os_hidden: bool = False
    updated: float | None = None  # None: never changed since ``created``
    properties: dict[str, str] = field(default_factory=dict)  # the other custom properties
    tags: list[str] = field(default_factory=list)
    members: dict[str, ImageMember] = field(default_factory=dict)  # by project id
    data: bytes | None = None  # uploaded bytes; None: a seeded image (its bytes are made up on demand)
    staged: bytes | None = None  # glance-direct: staged, not yet imported


@dataclass(slots=True)
class GlanceTask:
    id: str
    type: str
    input: Json
    owner: str
    user_id: str
    request_id: str
    seq: int
    created: float
    updated: float
    status: str = "pending"
    message: str = ""
    result: Json | None = None
    image_id: str | None = None
    expires: float | None = None


@dataclass(slots=True)
class MetadefNamespace:
    namespace: str
    owner: str
    seq: int
    created: float
    updated: float
    display_name: str | None = None
    description: str | None = None
    visibility: str = "private"
    protected: bool = False
    properties: dict[str, Json] = field(default_factory=dict)  # name -> property document
    objects: dict[str, Json] = field(default_factory=dict)  # name -> object document (with times)
    tags: dict[str, tuple[float, float]] = field(default_factory=dict)  # name -> (created, updated)
    resource_types: dict[str, Json] = field(default_factory=dict)  # name -> association document


@dataclass(slots=True)
class Attachment:
    id: str
    volume_id: str
    server_id: str | None
    host_name: str | None
    device: str
    attached: bool
    in_guest: bool  # Nova has a block device mapping for it
    nova_owned: bool  # made through Nova: Cinder refuses a user's detach (bug 2004555)
    delete_on_termination: bool = False
    bdm_id: str = ""
    tag: str | None = None
    attached_at: float = 0.0
    # the attachments API (3.27+): "reserved" until a connector arrives, then "attaching", "attached"
    # on os-complete; the older paths (os-attach, Nova) never reserve
    reserved: bool = False
    connector: dict[str, Any] | None = None
    connection_info: dict[str, Any] = field(default_factory=dict)
    attach_mode: str = "null"


@dataclass(slots=True)
class Volume:
    id: str
    project_id: str
    user_id: str
    name: str
    description: str | None
    size: int
    status: str
    bootable: bool
    seq: int
    created: float
    updated: float
    metadata: dict[str, str] = field(default_factory=dict)
    attachments: list[Attachment] = field(default_factory=list)
    image_id: str | None = None
    snapshot_id: str | None = None
    source_volid: str | None = None
    volume_type_id: str = DEFAULT_VOLUME_TYPE_ID  # Cinder resolves the type at creation
    group_id: str | None = None

    def record(self) -> FakeVolume:
        """The public snapshot of this volume."""
        attachments = tuple(
            FakeVolumeAttachment(
                a.id, a.server_id, a.host_name, a.device, a.attached, a.in_guest, a.delete_on_termination
            )
            for a in self.attachments
        )
        return FakeVolume(
            self.id,
            self.project_id,
            self.name,
            self.size,
            self.status,
            self.bootable,
            types.MappingProxyType(dict(self.metadata)),
            attachments,
            self.image_id,
        )


@dataclass(slots=True)
class Server:
    id: str
    project_id: str
    user_id: str
    name: str
    flavor: Flavor  # Nova's embedded instance.flavor: a copy taken at create, unchanged by flavor deletes
    root_volume_id: str
    seq: int
    created: float
    updated: float
    admin_pass: str = field(repr=False)
    hostname: str = ""  # the guest hostname: derived from the name at create, changed only by 2.90's field
    status: str = "BUILD"
    vm_state: str = "building"
    task_state: str | None = "scheduling"
    power_state: int = POWER_NOSTATE
    locked: bool = False
    locked_reason: str | None = None
    locked_by: str | None = None
    launched: float | None = None
    description: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    addresses: dict[str, list[Json]] = field(default_factory=dict)  # of ports Neutron does not hold
    port_ids: list[str] = field(default_factory=list)  # its Neutron ports, in the order asked
    nova_ports: list[str] = field(default_factory=list)  # of those, the ones Nova made (deleted with it)
    key_name: str | None = None
    tags: list[str] = field(default_factory=list)  # as Nova lists them (sorted)
    fault: Json | None = None  # Nova's "fault" of a server in ERROR
    image_id: str = ""  # the imageRef it was booted with ("" for a volume-backed boot without one)
    image_properties: dict[str, str] = field(default_factory=dict)  # of that image, at boot
    user_data: str | None = None  # base64, as given
    config_drive: str = ""  # Nova keeps "True" or ""
    access_ipv4: str = ""
    access_ipv6: str = ""
    pinned_az: str | None = None  # the availability zone the create asked for
    scheduler_hints: dict[str, list[Any]] = field(default_factory=dict)

    @property
    def flavor_id(self) -> str:
        return self.flavor.id


@dataclass(slots=True)
class Snapshot:
    id: str
    project_id: str
    user_id: str
    volume_id: str
    name: str | None
    description: str | None
    size: int
    status: str
    seq: int
    created: float
    updated: float
    metadata: dict[str, str] = field(default_factory=dict)
    group_snapshot_id: str | None = None

    def record(self) -> FakeSnapshot:
        """The public snapshot of this volume snapshot."""
        return FakeSnapshot(self.id, self.volume_id, self.project_id, self.name or "", self.size, self.status)


@dataclass(slots=True)
class Pending:
    due: float
    seq: int
    apply: Callable[[], None]


@dataclass(slots=True)
class Keypair:
    id: int
    user_id: str
    name: str
    type: str  # "ssh" or "x509"
    public_key: str
    fingerprint: str
    created: float


@dataclass(slots=True)
class Aggregate:
    id: int
    uuid: str
    name: str
    created: float
    updated: float | None = None
    hosts: list[str] = field(default_factory=list)
    metadata: dict[str, str] = field(default_factory=dict)  # holds its "availability_zone", as Nova's does


@dataclass(slots=True)
class ComputeHost:
    """The one compute host's size and Nova's capacity settings (its Placement inventory).

    Defaults are Nova's since 2023.1: ``reserved_host_memory_mb`` 512, ``initial_cpu_allocation_ratio``
    4.0, ``initial_ram_allocation_ratio`` 1.0, ``initial_disk_allocation_ratio`` 1.0 (nova/conf/compute.py;
    the lab's real Placement shows the same ratios and reserved memory). The size is the fake's own
    (# assumption: none of Nova's), large enough that the tests of a portal (dozens of servers) never
    meet "No valid host" unless they shrink it with ``OpenStackFake.set_compute_host``.
    """

    vcpus: int = 64
    ram_mb: int = 262144
    disk_gb: int = 4000
    reserved_ram_mb: int = 512
    cpu_allocation_ratio: float = 4.0
    ram_allocation_ratio: float = 1.0
    disk_allocation_ratio: float = 1.0


@dataclass(slots=True)
class ServerGroup:
    id: str
    project_id: str
    user_id: str
    name: str
    policy: str
    rules: dict[str, int]
    seq: int
    members: list[str] = field(default_factory=list)


@dataclass(slots=True)
class State:
    users: dict[str, User] = field(default_factory=dict)
    projects: dict[str, Project] = field(default_factory=dict)
    roles: dict[str, str] = field(default_factory=dict)  # name -> id
    assignments: dict[tuple[str, str], set[str]] = field(default_factory=dict)  # (user, project) -> roles
    tokens: dict[str, Token] = field(default_factory=dict)
    revocations: dict[str, list[float]] = field(default_factory=dict)  # user id -> change times
    flavors: dict[str, Flavor] = field(default_factory=dict)
    images: dict[str, Image] = field(default_factory=dict)
    glance_tasks: dict[str, GlanceTask] = field(default_factory=dict)
    metadef_namespaces: dict[str, MetadefNamespace] = field(default_factory=dict)
    metadef_resource_types: dict[str, float] = field(default_factory=dict)  # name -> created
    servers: dict[str, Server] = field(default_factory=dict)
    volumes: dict[str, Volume] = field(default_factory=dict)
    snapshots: dict[str, Snapshot] = field(default_factory=dict)
    volume_types: dict[str, VolumeType] = field(default_factory=dict)
    volume_quotas: dict[str, dict[str, int]] = field(default_factory=dict)  # project -> Cinder overrides
    keypairs: dict[tuple[str, str], Keypair] = field(default_factory=dict)  # (user id, name) ->
    compute_quotas: dict[str, dict[str, int]] = field(default_factory=dict)  # project -> Nova overrides
    aggregates: dict[int, Aggregate] = field(default_factory=dict)
    last_aggregate_id: int = 0  # Nova's autoincrement: ids are never reused, even after a delete
    server_groups: dict[str, ServerGroup] = field(default_factory=dict)
    group_types: dict[str, GroupType] = field(default_factory=dict)
    volume_groups: dict[str, VolumeGroup] = field(default_factory=dict)
    group_snapshots: dict[str, GroupSnapshot] = field(default_factory=dict)
    transfers: dict[str, Transfer] = field(default_factory=dict)
    default_volume_types: dict[str, str] = field(default_factory=dict)  # project -> volume type id
    neutron: NeutronState = field(default_factory=NeutronState)
    pending: list[Pending] = field(default_factory=list)
    seq: int = 0
    compute_host: ComputeHost = field(default_factory=ComputeHost)
    build_failures: int = 0  # the next builds that end in ERROR (`OpenStackFake.fail_next_builds`)
    leaky_build_failures: int = 0  # of those, how many leave their volumes behind (``leave_volumes``)

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def project_by_name(self, name: str) -> Project | None:
        return next((p for p in self.projects.values() if p.name == name), None)

    def user_by_name(self, name: str) -> User | None:
        return next((u for u in self.users.values() if u.name == name), None)

    def roles_of(self, user_id: str, project_id: str) -> list[str]:
        """The user's roles on the project with the implied ones (admin ⊃ member ⊃ reader)."""
        explicit = self.assignments.get((user_id, project_id), set())
        names = set(explicit)
        for role in explicit:
            names.update(_IMPLIED.get(role, ()))
        return [r for r in ROLE_NAMES if r in names]


# ================================================================================== seed
def seeded_state(*, seed: bool, now: float) -> State:
    """Roles, ``admin`` and ``portal``; with ``seed`` also devstack's five flavors, three public images,
    its ``public`` external network and default subnet pool.
    """  # noqa: D205 (the summary lists the seed)
    state = State()
    for role in ROLE_NAMES:
        state.roles[role] = hex5(f"role:{role}")
    add_identity(state, "admin", "secret", "admin", ("admin",))
    add_identity(state, "portal", "portal-pass", "alice", ("member",))
    # Cinder's schema migration makes __DEFAULT__ in every deployment, seeded or not.
    default_type = VolumeType(
        DEFAULT_VOLUME_TYPE_ID, "__DEFAULT__", "Default Volume Type", is_public=True, seq=0
    )
    state.volume_types[default_type.id] = default_type
    # ... and the group type it keeps for consistency groups migrated to groups
    cg_type = GroupType(
        DEFAULT_CGSNAPSHOT_TYPE_ID,
        "default_cgsnapshot_type",
        "Default group type for migrating cgsnapshot",
        is_public=True,
        seq=0,
        group_specs={"consistent_group_snapshot_enabled": "<is> True"},
    )
    state.group_types[cg_type.id] = cg_type
    if not seed:
        return state
    for flavor_id, name, vcpus, ram, disk in (
        ("1", "m1.tiny", 1, 512, 1),
        ("2", "m1.small", 1, 2048, 20),
        ("3", "m1.medium", 2, 4096, 40),
        ("4", "m1.large", 4, 8192, 80),
        ("5", "m1.xlarge", 8, 16384, 160),
    ):
        state.flavors[flavor_id] = Flavor(flavor_id, name, vcpus, ram, disk)
    admin_project = hex5("project:admin")
    for name, distro, version, min_disk in (
        ("cirros-0.6.2", "cirros", "0.6.2", 1),
        ("debian-12", "debian", "12", 2),
        ("ubuntu-24.04", "ubuntu", "24.04", 3),
    ):
        add_image(
            state, name, distro=distro, version=version, min_disk=min_disk, owner=admin_project, now=now
        )
    seed_neutron(state.neutron, admin_project, now)
    return state


def add_identity(
    state: State, name: str, password: str, project_name: str, roles: Iterable[str]
) -> FakeCredentials:
    """Add a user with ``roles`` on ``project_name`` (made if missing); nothing changes on a bad role."""
    unknown = set(roles) - set(ROLE_NAMES)
    if unknown:
        raise ValueError(f"unknown roles {sorted(unknown)}; the fake knows {list(ROLE_NAMES)}")
    project = state.project_by_name(project_name)
    if project is None:  # assumption: add_user makes the project when it does not exist yet
        project = Project(hex5(f"project:{project_name}"), project_name)
        state.projects[project.id] = project
    user = User(hex5(f"user:{name}"), name, password, project.id)
    state.users[user.id] = user
    state.assignments[(user.id, project.id)] = set(roles)
    return FakeCredentials(name, password, project.name, user.id, project.id)


def add_image(
    state: State, name: str, *, distro: str, version: str, min_disk: int, owner: str, now: float
) -> str:
    """Add a public image; its id."""
    seq = state.next_seq()
    image = Image(uuid5(f"image:{seq}:{name}"), name, distro, version, min_disk, owner, "public", seq, now)
    state.images[image.id] = image
    return image.id


# ================================================================================== Cinder volume types


@dataclass(slots=True)
class VolumeType:
    id: str
    name: str
    description: str | None
    is_public: bool
    seq: int
    extra_specs: dict[str, str] = field(default_factory=dict)
    projects: list[str] = field(default_factory=list)  # who may use a private type, in grant order


# ================================================================================== Cinder groups, transfers


@dataclass(slots=True)
class GroupType:
    id: str
    name: str
    description: str | None
    is_public: bool
    seq: int
    group_specs: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class VolumeGroup:
    id: str
    project_id: str
    user_id: str
    name: str | None
    description: str | None
    group_type_id: str
    volume_type_ids: list[str]
    seq: int
    created: float
    status: str = "creating"
    group_snapshot_id: str | None = None
    source_group_id: str | None = None


@dataclass(slots=True)
class GroupSnapshot:
    id: str
    project_id: str
    user_id: str
    group_id: str
    group_type_id: str
    name: str | None
    description: str | None
    seq: int
    created: float
    status: str = "creating"


@dataclass(slots=True)
class Transfer:
    id: str
    volume_id: str
    name: str | None
    auth_key: str = field(repr=False)  # Cinder keeps a salted hash; the fake compares the key itself
    source_project_id: str
    no_snapshots: bool
    seq: int
    created: float
