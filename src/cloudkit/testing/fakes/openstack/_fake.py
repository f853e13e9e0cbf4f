"""`OpenStackFake`: the facade over the cloud state and the five services' handlers."""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Iterable
from typing import ClassVar

from cloudkit.testing.fakes._kit import Fault, LoopbackFake, Reply, Request
from cloudkit.testing.fakes.openstack import _cinder, _glance, _keystone, _neutron, _nova, _placement
from cloudkit.testing.fakes.openstack._cloud import COMPUTE_MIN, Cloud, Options
from cloudkit.testing.fakes.openstack._envelopes import (
    SECRET_HEADERS,
    SECRET_KEYS,
    ServiceName,
    fault_reply,
    with_request_id,
)
from cloudkit.testing.fakes.openstack._records import FakeCredentials, FakeServer, FakeSnapshot, FakeVolume
from cloudkit.testing.fakes.openstack._state import (
    ComputeHost,
    Flavor,
    Server,
    add_identity,
    add_image,
    hex5,
    seeded_state,
)
from cloudkit.testing.fakes.openstack._wire import ApiError, parse_version

_SERVICES: dict[str, Callable[[Cloud, Request], Reply]] = {
    "identity": _keystone.serve,
    "compute": _nova.serve,
    "volume": _cinder.serve,
    "image": _glance.serve,
    "network": _neutron.serve,
    "placement": _placement.serve,
}


def _no_service(_cloud: Cloud, _req: Request) -> Reply:
    raise ApiError(404, "not found", envelope="plain")


def service_of(path: str) -> ServiceName:
    """The service a path belongs to, by its first segment (``/networking`` is the ``network`` service).

    Example:
        >>> service_of("/volume/v3/p/volumes"), service_of("/metrics")
        ('volume', 'other')
    """
    first = path.strip("/").split("/", 1)[0]
    if first == "networking":  # Neutron's endpoint, as devstack names it
        return "network"
    return first if first in ("identity", "compute", "volume", "image", "placement") else "other"  # type: ignore[return-value]


class OpenStackFake(LoopbackFake):
    """Keystone, Nova, Cinder, Glance, Neutron and Placement subsets on ``127.0.0.1`` (an OS-chosen port).

    Seed: domain ``Default``; roles ``admin`` ⊃ ``member`` ⊃ ``reader`` and ``service``; user
    ``admin``/``secret`` (role admin on project ``admin``) and user ``portal``/``portal-pass`` (member of
    project ``alice``). With ``seed=True`` (the default) also devstack's flavors ``1`` m1.tiny, ``2``
    m1.small, ``3`` m1.medium, ``4`` m1.large, ``5`` m1.xlarge and public images cirros-0.6.2, debian-12,
    ubuntu-24.04 (``min_disk`` 1, 2, 3).
    Seed ids are fixed (uuid5); resources made over the wire get uuid4 ids.

    Boot: as Nova, a server boots from an image (``imageRef``, a local disk: no volume) or from a volume
    (``block_device_mapping_v2`` with ``boot_index`` 0). ``image_boot_allowed=False`` models a cloud that
    boots from volume only: a create without a volume root mapping is refused with 400 (whatever the
    request's ``imageRef``), as such a cloud's own policy would.

    Time: the fake's time is ``clock()`` plus everything given to `advance`. A transition
    (``BUILD`` → ``ACTIVE``, ``creating`` → ``available``, ``attaching`` → ``in-use``, ...) completes
    ``transition_seconds`` after the request that started it, at the first later request or state
    peek; with 0 it completes at the next one. Tokens live ``token_ttl_seconds``.

    Faults: `inject` takes the one ``Fault`` of every fake; an ``error`` is answered in the service's
    own envelope (``Fault.wsrep`` as each service shows a Galera node that is not ready). The service
    of a request (``FaultMatch.service``, ``Call.service``) is ``identity``, ``compute``, ``volume``,
    ``image``, ``network`` (or ``other``).

    Example:
        >>> import httpx
        >>> with OpenStackFake() as fake, httpx.Client(trust_env=False) as http:
        ...     token = http.post(f"{fake.auth_url}/auth/tokens", json=fake.portal.token_request())
        ...     images = http.get(f"{fake.url}/image/v2/images?limit=2",
        ...                       headers={"X-Auth-Token": token.headers["X-Subject-Token"]}).json()
        >>> [i["name"] for i in images["images"]], images["next"].startswith("/v2/images?limit=2&marker=")
        (['ubuntu-24.04', 'debian-12'], True)
        >>> fake.calls[0].headers.get("x-auth-token"), fake.calls[1].headers["x-auth-token"]
        (None, '***')
    """

    _what = "openstack fake"
    _secret_headers: ClassVar[frozenset[str]] = SECRET_HEADERS
    _secret_keys: ClassVar[frozenset[str]] = SECRET_KEYS

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        transition_seconds: float = 0.0,
        cinder_attach_reaches_guest: bool = False,
        image_boot_allowed: bool = True,
        seed: bool = True,
        port: int = 0,
        token_ttl_seconds: float = 3600.0,
        compute_max_microversion: str = "2.100",
        max_page_size: int | None = None,
    ) -> None:
        """Configure the fake; nothing listens until `start`.

        ``image_boot_allowed`` (see the class) decides whether a server may boot from an image.
        ``compute_max_microversion`` is what Nova's version document announces (2.101 makes a
        volume attach answer 202 without a body). ``max_page_size`` caps every Nova, Cinder and Glance
        list page whatever ``limit`` asked for, as a server's own ``max_limit`` does (None: Nova and
        Cinder answer everything when no ``limit`` is given, Glance 25 per page).

        Example:
            >>> OpenStackFake(transition_seconds=2.0).cinder_attach_reaches_guest
            False
        """
        compute_max = parse_version(compute_max_microversion)
        if compute_max is None or compute_max < COMPUTE_MIN:
            raise ValueError(
                f"compute_max_microversion must look like 2.NN, got {compute_max_microversion!r}"
            )
        if transition_seconds < 0 or token_ttl_seconds <= 0:
            raise ValueError("transition_seconds must be >= 0 and token_ttl_seconds > 0")
        if max_page_size is not None and max_page_size < 1:
            raise ValueError(f"max_page_size must be at least 1, got {max_page_size}")
        super().__init__(port=port)
        self._clock = clock
        self._offset = 0.0
        self._seed = seed
        self._switches = (cinder_attach_reaches_guest, max_page_size, image_boot_allowed)
        self._options = Options(transition_seconds, token_ttl_seconds, compute_max)
        self._cloud = self._new_cloud()
        self.admin = FakeCredentials("admin", "secret", "admin", hex5("user:admin"), hex5("project:admin"))
        """The seeded administrator (role ``admin`` on project ``admin``)."""
        self.portal = FakeCredentials(
            "portal", "portal-pass", "alice", hex5("user:portal"), hex5("project:alice")
        )
        """The seeded portal user (role ``member`` on project ``alice``)."""

    def _now(self) -> float:
        return self._clock() + self._offset

    def _new_cloud(self) -> Cloud:
        now = self._now()
        state = seeded_state(seed=self._seed, now=now)
        # Whole seconds of fake time map to whole seconds of wall time (token times are whole).
        wall0 = float(math.floor(time.time()) - math.floor(now))
        cloud = Cloud(state, self._options, self._now, wall0)
        cloud.reaches_guest, cloud.max_page_size, cloud.image_boot_allowed = self._switches
        cloud.base_url = self.base_url
        return cloud

    # ------------------------------------------------------------------------------ lifecycle
    @property
    def auth_url(self) -> str:
        """Keystone v3 for openstacksdk's ``auth_url``: `url` + ``/identity/v3``.

        Example:
            >>> with OpenStackFake() as fake:
            ...     fake.auth_url.endswith("/identity/v3")
            True
        """
        return f"{self.url}/identity/v3"

    def reset(self) -> None:
        """Go back to the seeded state and the constructor's switches; forget calls, faults, tokens.

        Time offsets given to `advance` are forgotten too.

        Example:
            >>> fake = OpenStackFake()
            >>> image_id = fake.add_image("extra")
            >>> fake.reset()
            >>> fake.image_ids()[-1] == image_id
            False
        """
        super().reset()

    def _reset_state(self) -> None:
        self._offset = 0.0
        self._cloud = self._new_cloud()

    def _before_serving(self) -> None:
        self._cloud.base_url = self.base_url  # links in answers name the fake's own address

    @property
    def cinder_attach_reaches_guest(self) -> bool:
        """Whether Cinder's ``os-attach`` also shows in Nova (False: only Cinder's records change).

        Example:
            >>> fake = OpenStackFake()
            >>> fake.cinder_attach_reaches_guest = True
            >>> fake.cinder_attach_reaches_guest
            True
        """
        return self._cloud.reaches_guest

    @cinder_attach_reaches_guest.setter
    def cinder_attach_reaches_guest(self, value: bool) -> None:
        with self._lock:
            self._cloud.reaches_guest = value

    @property
    def max_page_size(self) -> int | None:
        """The most items one Nova, Cinder or Glance list page holds, whatever ``limit`` asked (None: no cap).

        Example:
            >>> fake = OpenStackFake()
            >>> fake.max_page_size = 2
            >>> fake.max_page_size
            2
        """
        return self._cloud.max_page_size

    @max_page_size.setter
    def max_page_size(self, value: int | None) -> None:
        if value is not None and value < 1:
            raise ValueError(f"max_page_size must be at least 1, got {value}")
        with self._lock:
            self._cloud.max_page_size = value

    def advance(self, seconds: float) -> None:
        """Move the fake's time forward (pending transitions then complete at the next observation).

        Works with any clock: the fake's time is ``clock()`` plus the sum of every advance.

        Example:
            >>> fake = OpenStackFake(clock=lambda: 100.0)
            >>> fake.advance(2.5)
            >>> fake.now()
            102.5
        """
        if seconds < 0:
            raise ValueError("time only moves forward")
        with self._lock:
            self._offset += seconds

    def now(self) -> float:
        """The fake's current time in seconds (``clock()`` plus the `advance` offset).

        Example:
            >>> OpenStackFake(clock=lambda: 7.0).now()
            7.0
        """
        return self._now()

    def fail_next_builds(self, count: int = 1, *, leave_volumes: bool = False) -> None:
        """Make the next ``count`` server builds end in ``ERROR`` ("No valid host was found"), as Nova's
        scheduler reports a build it could not place; the system volume stays until the server is deleted.

        With ``leave_volumes``, each failed build's volumes are detached and left ``available`` in the
        project, as when Nova's clean-up of a failed build could not delete them (it only logs that):
        deleting the server then removes nothing else. What reconciliation finds as ``orphan_volume``.

        Example:
            >>> fake = OpenStackFake()
            >>> fake.fail_next_builds(2)
            >>> fake.fail_next_builds(0)
            Traceback (most recent call last):
            ...
            ValueError: count must be at least 1, got 0
        """  # noqa: D205 (the summary needs the reason)
        if count < 1:
            raise ValueError(f"count must be at least 1, got {count}")
        with self._lock:
            self._cloud.state.build_failures += count
            if leave_volumes:
                self._cloud.state.leaky_build_failures += count

    def set_compute_host(
        self,
        *,
        vcpus: int = 64,
        ram_mb: int = 262144,
        disk_gb: int = 4000,
        reserved_ram_mb: int = 512,
        cpu_allocation_ratio: float = 4.0,
        ram_allocation_ratio: float = 1.0,
        disk_allocation_ratio: float = 1.0,
    ) -> None:
        """Size the one compute host (``fake-compute-1``): Nova's hypervisor view and Placement's inventory.

        The defaults are the fake's own host with Nova's default reserved memory and allocation ratios.
        Nova's scheduler places a build only where Placement has room (used + asked <= (total -
        reserved) * ratio for VCPU, MEMORY_MB and DISK_GB); a build that does not fit ends in ``ERROR``
        with "No valid host was found.", as in Nova. Servers already placed keep their allocations.

        Example:
            >>> fake = OpenStackFake()
            >>> fake.set_compute_host(vcpus=2, cpu_allocation_ratio=1.0)
            >>> fake.set_compute_host(vcpus=0)
            Traceback (most recent call last):
            ...
            ValueError: vcpus, ram_mb and disk_gb must be at least 1 and reserved_ram_mb at least 0
        """
        if min(vcpus, ram_mb, disk_gb) < 1 or reserved_ram_mb < 0:
            raise ValueError("vcpus, ram_mb and disk_gb must be at least 1 and reserved_ram_mb at least 0")
        if min(cpu_allocation_ratio, ram_allocation_ratio, disk_allocation_ratio) <= 0:
            raise ValueError("allocation ratios must be > 0")
        with self._lock:
            self._cloud.state.compute_host = ComputeHost(
                vcpus,
                ram_mb,
                disk_gb,
                reserved_ram_mb,
                cpu_allocation_ratio,
                ram_allocation_ratio,
                disk_allocation_ratio,
            )

    # ------------------------------------------------------------------------------ seeding
    def has_user(self, name: str) -> bool:
        """Whether Keystone has a user ``name``.

        Example:
            >>> fake = OpenStackFake()
            >>> fake.has_user("admin"), fake.has_user("nobody")
            (True, False)
        """
        with self._lock:
            return self._cloud.state.user_by_name(name) is not None

    def add_user(
        self, name: str, password: str, *, project: str, roles: Iterable[str] = ("member",)
    ) -> FakeCredentials:
        """Add a user with roles on a project (made if missing); returns its credentials.

        Example:
            >>> bob = OpenStackFake().add_user("bob", "bob-pass", project="bob")
            >>> bob.project_name, len(bob.user_id)
            ('bob', 32)
        """
        with self._lock:
            if self._cloud.state.user_by_name(name) is not None:
                raise ValueError(f"user {name!r} already exists")
            return add_identity(self._cloud.state, name, password, project, tuple(roles))

    def add_image(
        self, name: str, *, os_distro: str = "ubuntu", os_version: str = "24.04", min_disk: int = 1
    ) -> str:
        """Add a public image owned by project ``admin``; returns its id (newest in listings).

        Example:
            >>> fake = OpenStackFake(seed=False)
            >>> fake.add_image("ubuntu") in fake.image_ids()
            True
        """
        with self._lock:
            owner, now = hex5("project:admin"), self._now()
            return add_image(
                self._cloud.state,
                name,
                distro=os_distro,
                version=os_version,
                min_disk=min_disk,
                owner=owner,
                now=now,
            )

    def add_flavor(self, flavor_id: str, name: str, *, vcpus: int = 1, ram: int = 512, disk: int = 1) -> None:
        """Add a flavor (useful with ``seed=False``).

        Example:
            >>> OpenStackFake(seed=False).add_flavor("42", "m1.custom")
        """
        with self._lock:
            self._cloud.state.flavors[flavor_id] = Flavor(flavor_id, name, vcpus, ram, disk)

    def image_ids(self) -> list[str]:
        """The ids of every image, oldest first.

        Example:
            >>> len(OpenStackFake().image_ids())
            3
        """
        with self._lock:
            return [i.id for i in sorted(self._cloud.state.images.values(), key=lambda i: i.seq)]

    # ------------------------------------------------------------------------------ state peeking
    def project_names(self) -> list[str]:
        """The name of every Keystone project (one entry per project, so a duplicate shows twice), sorted.

        Example:
            >>> OpenStackFake().project_names()
            ['admin', 'alice']
        """
        with self._lock:
            return sorted(p.name for p in self._cloud.state.projects.values())

    def user_names(self) -> list[str]:
        """The name of every Keystone user, sorted.

        Example:
            >>> OpenStackFake().user_names()
            ['admin', 'portal']
        """
        with self._lock:
            return sorted(u.name for u in self._cloud.state.users.values())

    def server(self, server_id: str) -> FakeServer | None:
        """The server as it is now (due transitions applied), or None once deleted.

        Example:
            >>> OpenStackFake().server("nope") is None
            True
        """
        return next((s for s in self.servers() if s.id == server_id), None)

    def servers(self) -> list[FakeServer]:
        """Every server, oldest first.

        Example:
            >>> OpenStackFake().servers()
            []
        """
        with self._lock:
            self._cloud.tick()
            return [
                self._server_record(s)
                for s in sorted(self._cloud.state.servers.values(), key=lambda s: s.seq)
            ]

    def volume(self, volume_id: str) -> FakeVolume | None:
        """The volume as it is now (due transitions applied), or None once deleted.

        Example:
            >>> OpenStackFake().volume("nope") is None
            True
        """
        return next((v for v in self.volumes() if v.id == volume_id), None)

    def volumes(self) -> list[FakeVolume]:
        """Every volume, oldest first.

        Example:
            >>> OpenStackFake().volumes()
            []
        """
        with self._lock:
            self._cloud.tick()
            return [v.record() for v in sorted(self._cloud.state.volumes.values(), key=lambda v: v.seq)]

    def snapshots(self) -> list[FakeSnapshot]:
        """Every volume snapshot, oldest first.

        Example:
            >>> OpenStackFake().snapshots()
            []
        """
        with self._lock:
            self._cloud.tick()
            return [s.record() for s in sorted(self._cloud.state.snapshots.values(), key=lambda s: s.seq)]

    def _server_record(self, server: Server) -> FakeServer:
        volume_ids = tuple(a.volume_id for a in self._cloud.guest_attachments(server))
        return FakeServer(
            server.id,
            server.project_id,
            server.name,
            server.status,
            server.vm_state,
            server.task_state,
            server.power_state,
            server.locked,
            server.locked_reason,
            server.flavor_id,
            server.root_volume_id,
            volume_ids,
            tuple(server.tags),
            dict(server.metadata),
        )

    # ------------------------------------------------------------------------------ kit hooks
    def _classify(self, request: Request) -> Request:
        return dataclasses.replace(request, service=service_of(request.path))

    def _answer(self, request: Request) -> Reply:
        cloud = self._cloud
        cloud.tick()
        try:
            reply = _SERVICES.get(request.service, _no_service)(cloud, request)
        except ApiError as err:
            reply = err.reply(request.service)
        return with_request_id(reply)

    def _fault_reply(self, fault: Fault, request: Request) -> Reply:
        return fault_reply(fault, request.service)
