"""Fixtures for tests against the lab (``cloudkit lab``): a real Keystone, Nova, Cinder, Glance and Neutron.

The lab is used only when asked: ``--cloudkit-lab`` or ``CLOUDKIT_LAB=1`` (:func:`lab_requested`); never
because ``CI`` is set. Not asked, every test that needs it skips. Asked, ``openstack_lab`` (session scope)
is one control plane per test run: a lab already running under ``$CLOUDKIT_LAB_HOME`` (``cloudkit lab
up``) is used as it is; with ``CLOUDKIT_LAB_START=1`` the fixture installs and starts one and stops it
after the run; with neither, the test FAILS (you asked for a lab that is not there). ``lab_tenant``
gives each test a fresh project ``alice`` with a member user ``portal`` (the
embedded fake's names, so cassettes recorded against the lab replay with the same requests) and deletes
their servers, snapshots and volumes in teardown. ``lab_proxies`` puts a :class:`FaultProxy` in front of
Nova and Cinder for the test.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

import attrs
import pytest

if TYPE_CHECKING:  # imported by the fixtures: loading the plugin must not import the lab
    from cloudkit.lab import Lab, LabInfo
    from cloudkit.lab._admin import LabAdmin, LabTenant
    from cloudkit.testing._proxy import FaultProxy

__all__ = [
    "LAB_ENV",
    "LAB_OPTION",
    "LAB_PASSWORD",
    "LabProxies",
    "LabUsers",
    "_lab_proxy_servers",
    "lab_proxies",
    "lab_requested",
    "lab_tenant",
    "lab_users",
    "openstack_lab",
]

LAB_PROJECT, LAB_USER = "alice", "portal"
LAB_PASSWORD = "portal-pass"  # noqa: S105 (the per-test user of a throwaway loopback lab)
_START_ENV = "CLOUDKIT_LAB_START"
LAB_ENV = "CLOUDKIT_LAB"
"""Set to ``1`` to use the lab (as ``--cloudkit-lab`` does); cloudkit's own CI sets it."""
LAB_OPTION = "--cloudkit-lab"
_TRUE = frozenset({"1", "true", "yes", "on"})


def lab_requested(config: pytest.Config) -> bool:
    """Whether this run asked for the lab: ``--cloudkit-lab`` or ``CLOUDKIT_LAB=1`` (``CI`` plays no part)."""
    if config.getoption(LAB_OPTION.removeprefix("--").replace("-", "_"), default=False):
        return True
    return os.environ.get(LAB_ENV, "").strip().lower() in _TRUE


# Fixed, so lab cassettes keep and match ports; below Linux's ephemeral range (32768-60999), where a client
# socket of the same run once held 38774 and the proxy could not bind (a CI run).
NOVA_PROXY_PORT, CINDER_PROXY_PORT = 27774, 27776


@pytest.fixture(scope="session")
def openstack_lab(request: pytest.FixtureRequest) -> Iterator[LabInfo]:
    """The lab control plane for this test run (see the module docs for how it is found or started)."""
    if not lab_requested(request.config):
        pytest.skip(f"the lab is used only when asked: {LAB_OPTION} or {LAB_ENV}=1")
    from cloudkit.lab import Lab  # noqa: PLC0415 (imported only when a test asks for the lab)

    lab = Lab(say=lambda line: print(f"cloudkit lab: {line}", flush=True))  # noqa: T201 (progress)
    info = lab.info()
    if info is not None:
        _require_whole(lab)
        yield info
        return
    if os.environ.get(_START_ENV) == "1":
        lab.install()
        info = lab.up()
        try:
            yield info
        finally:
            lab.down()
        return
    pytest.fail(
        f"the lab was asked for ({LAB_OPTION} or {LAB_ENV}=1) but none is running: start one with "
        f"`cloudkit lab up` (or set {_START_ENV}=1)",
        pytrace=False,
    )


def _require_whole(lab: Lab) -> None:
    """Fail at once when a lab process has died, instead of letting tests wait out their budgets."""
    dead = [state.name for state in lab.status() if not state.alive]
    if dead:
        pytest.fail(
            f"the lab under {lab.home} is running without {', '.join(dead)} (see run/logs/); "
            "restart it: `cloudkit lab down && cloudkit lab up`",
            pytrace=False,
        )


@pytest.fixture
def lab_tenant(openstack_lab: LabInfo) -> Iterator[LabTenant]:
    """A fresh project ``alice`` and member user ``portal``/``portal-pass``, purged in teardown.

    Checks first that every lab process is still alive.
    """
    from cloudkit.lab import Lab  # noqa: PLC0415 (imported only when a test asks for the lab)
    from cloudkit.lab._admin import LabAdmin  # noqa: PLC0415

    _require_whole(Lab(say=lambda _line: None))
    admin = LabAdmin(openstack_lab.ports)
    try:
        admin.purge_project(LAB_PROJECT, LAB_USER)  # whatever an interrupted run left behind
        yield admin.create_tenant(LAB_PROJECT, LAB_USER, LAB_PASSWORD)
        admin.purge_project(LAB_PROJECT, LAB_USER)
    finally:
        admin.close()


@attrs.define
class LabUsers:
    """Extra member users, each in its own project, made for one test and deleted after it."""

    admin: LabAdmin
    made: list[tuple[str, str]] = attrs.field(factory=list)

    def add(self, name: str, password: str, *, project: str) -> LabTenant:
        """A new project ``project`` with member ``name`` (an older one of those names is purged first)."""
        self.admin.purge_project(project, name)
        self.made.append((project, name))
        return self.admin.create_tenant(project, name, password)


@pytest.fixture
def lab_users(openstack_lab: LabInfo) -> Iterator[LabUsers]:
    """Add more lab users for a test (``lab_tenant`` makes the first); all are purged in teardown."""
    from cloudkit.lab._admin import LabAdmin  # noqa: PLC0415 (imported only when a test asks for the lab)

    users = LabUsers(LabAdmin(openstack_lab.ports))
    try:
        yield users
        for project, name in users.made:
            users.admin.purge_project(project, name)
    finally:
        users.admin.close()


@attrs.frozen
class LabProxies:
    """Fault proxies in front of the lab's Nova (``compute``) and Cinder (``volume``)."""

    compute: FaultProxy
    volume: FaultProxy

    @staticmethod
    def fixed_endpoint_overrides() -> dict[str, str]:
        """``OpenStackSettings.endpoint_overrides`` that send Nova and Cinder calls through the proxies.

        The proxies listen on fixed ports, so cassettes recorded through them replay with the same URLs
        (Cinder's project-less ``/v3``: Cinder 29 accepts it, volume API 3.67 and later).
        """
        return {
            "compute": f"http://127.0.0.1:{NOVA_PROXY_PORT}/v2.1",
            "block_storage": f"http://127.0.0.1:{CINDER_PROXY_PORT}/v3",
        }


@pytest.fixture(scope="session")
def _lab_proxy_servers(openstack_lab: LabInfo) -> Iterator[LabProxies]:
    from cloudkit.testing._proxy import FaultProxy  # noqa: PLC0415 (imported only for the lab)

    ports = openstack_lab.ports
    with (
        FaultProxy(f"http://127.0.0.1:{ports.nova}", service="compute", port=NOVA_PROXY_PORT) as compute,
        FaultProxy(f"http://127.0.0.1:{ports.cinder}", service="volume", port=CINDER_PROXY_PORT) as volume,
    ):
        yield LabProxies(compute, volume)


@pytest.fixture
def lab_proxies(_lab_proxy_servers: LabProxies) -> LabProxies:
    """A :class:`FaultProxy` each in front of the lab's Nova and Cinder, with no fault armed."""
    _lab_proxy_servers.compute.reset()
    _lab_proxy_servers.volume.reset()
    return _lab_proxy_servers
