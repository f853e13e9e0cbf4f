"""``cloudkit sim``: the three fakes on loopback with customers in all of them, and ``--env``."""

from __future__ import annotations

import io
import json
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
        _until(err if options.get("env") or options.get("as_json") else out, "Press Ctrl-C")
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
    out, _ = sim(accounts=40, population_seed=3)
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


def test_a_scenario_replaces_alice_and_bob_in_every_system(sim):
    from cloudkit.testing.scenario import load_scenario

    out, _ = sim(scenario=load_scenario("examples/scenario.toml"), customers=["dora"])
    text = out.getvalue()
    assert "scenario   examples/scenario.toml: 3 customers" in text
    assert "customer   carol (password from the scenario)" in text
    assert "carol-demo-pass" not in text  # a password the scenario chose is not printed
    assert "customer   dora / dora-pass" in text
    url = text.splitlines()[0].split()[1]
    with BillingClient(BillingSettings(url=url, username="admin", password="secret")) as admin:
        accounts = {a.name: a for a in admin.list_accounts()}
    assert set(accounts) == {"alice account", "bob account", "carol account", "dora account"}
    assert (accounts["bob account"].balance, accounts["bob account"].credit_limit) == (-12.5, 50)
    with BillingClient(BillingSettings(url=url, username="carol", password="carol-demo-pass")) as carol:
        (service,) = carol.list_services()
    assert (service.name, service.status.name) == ("carol-vps-small-1", "SUSPENDED")


def test_json_is_one_document_on_stdout_without_passwords(sim):
    out, err = sim(as_json=True, accounts=2)
    document = json.loads(out.getvalue())
    assert [c["name"] for c in document["customers"]] == ["alice", "bob"]
    assert document["customers"][0]["balance"] == "150.00"
    assert document["population"] == {"logins": ["cust-1", "cust-2"], "seed": 0}
    assert document["billing_url"].startswith("http://127.0.0.1:")
    assert "-pass" not in out.getvalue()
    assert "Press Ctrl-C" in err.getvalue()


def test_seed_takes_a_file_and_an_integer_names_the_new_option(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["sim", "--seed", "42"])
    assert exit_info.value.code == 2
    assert "--seed now takes a scenario file; the random seed is --population-seed" in capsys.readouterr().err


def test_a_bad_scenario_is_a_config_error_naming_file_and_field(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text('[[customers]]\nname = "ann"\n[[customers.services]]\nproduct = "vps"\nprice = "cheap"\n')
    assert main(["sim", "--seed", str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"scenario {bad}: customers[0].services[0].price" in err
    assert "Traceback" not in err
    with pytest.raises(SystemExit) as usage:  # argparse's usage error: both would print on stdout
        main(["sim", "--env", "--json"])
    assert usage.value.code == 2
    assert "not allowed with argument --env" in capsys.readouterr().err
