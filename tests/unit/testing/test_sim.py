"""``cloudkit sim``: the three fakes on loopback with customers in all of them, and ``--env``."""

from __future__ import annotations

import io
import queue
import shlex
import threading

import pytest

from cloudkit._cli_sim import run_sim
from cloudkit.billing import BillingClient, BillingSettings
from cloudkit.cli import main
from cloudkit.errors import ConfigError
from cloudkit.platform import Platform


class _Lines(io.StringIO):
    """Output that hands every finished line to the test as it is printed."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: queue.Queue[str] = queue.Queue()

    def write(self, text: str) -> int:
        for line in text.splitlines():
            self.lines.put(line)
        return super().write(text)


@pytest.fixture
def sim():
    """Start a sim in a thread: ``start(**options) -> (stdout, stderr)``; stopped after the test."""
    stop, threads = threading.Event(), []

    def start(**options):
        out, err = _Lines(), _Lines()
        thread = threading.Thread(
            target=run_sim, args=(0, out), kwargs={"stop": stop, "err": err, **options}, daemon=True
        )
        thread.start()
        threads.append(thread)
        _until(err if options.get("env") else out, "Press Ctrl-C")
        return out, err

    yield start
    stop.set()
    for thread in threads:
        thread.join(10)
        assert not thread.is_alive()


def _until(out: _Lines, text: str) -> list[str]:
    seen = []
    while True:
        line = out.lines.get(timeout=60)
        seen.append(line)
        if text in line:
            return seen


def test_env_feeds_platform_from_env_and_a_seeded_customer_lists_their_servers(sim):
    out, err = sim(env=True, customers=["carol"])
    environ = {}
    for line in out.getvalue().splitlines():
        assert line.startswith("export "), line
        key, _, value = line.removeprefix("export ").partition("=")
        environ[key] = shlex.split(value)[0]
    needed = {"CLOUDKIT_BILLING_PASSWORD", "CLOUDKIT_OPENSTACK_PROJECT_NAME", "CLOUDKIT_SESSION_KEYS"}
    assert needed <= set(environ)
    assert "customer   carol / carol-pass" in err.getvalue()

    platform = Platform.from_env(environ)  # every system configured, the session included
    assert platform.billing is not None
    assert platform.openstack is not None
    assert platform.tungsten is not None
    assert platform.session is not None
    manager = platform.session_manager()
    try:
        issued = manager.login("carol", "carol-pass")
        session = manager.verify(issued.token)
        with session.openstack() as cloud:
            assert cloud.list_servers() == []  # carol's own project, through her own token
        with session.billing() as billing:
            assert billing.get_balance() == 100
    finally:
        manager.close()
    with BillingClient(platform.billing) as admin:
        assert {a.name for a in admin.list_accounts()} >= {"alice account", "bob account", "carol account"}


def test_sim_seeds_accounts_a_customer_can_log_into(sim):
    out, _ = sim(accounts=40, seed=3)
    lines = out.getvalue().splitlines()
    url = lines[0].split()[1]
    assert any("+ 40 seeded billing clients cust-1 .. cust-40" in line for line in lines), lines
    with BillingClient(BillingSettings(url=url, username="admin", password="secret", page_size=7)) as admin:
        accounts = list(admin.iter_accounts())
        services = list(admin.iter_services())
    assert len(accounts) == 42  # alice, bob and the 40
    assert len([s for s in services if s.name.startswith("cust-")]) == 80
    with BillingClient(BillingSettings(url=url, username="cust-40", password="cust-40-pass")) as customer:
        assert {s.name for s in customer.list_services()} == {"cust-40-vm-1", "cust-40-vm-2"}


def test_sim_refuses_bad_input():
    with pytest.raises(ConfigError, match="--accounts must be >= 0"):
        run_sim(0, io.StringIO(), stop=threading.Event(), accounts=-1)
    with pytest.raises(ConfigError, match="lowercase logins"):
        run_sim(0, io.StringIO(), stop=threading.Event(), customers=["Bad Name"])
    assert main(["sim", "--accounts", "-5"]) == 2  # a usage error
