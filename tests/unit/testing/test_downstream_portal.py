"""A portal's own test suite, as a downstream project writes it: recorded against the fakes, recorded again
with no diff, replayed with every fake off, under ``-W error`` and with ``CI`` set (no lab asked for).
"""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
SRC = ROOT / "src"

PORTAL_TESTS = """
from decimal import Decimal

import pytest

from cloudkit import RetryPolicy
from cloudkit.billing import BillingClient
from cloudkit.openstack import OpenStackClient
from cloudkit.tungsten import TungstenClient


def _retry(clock):
    return RetryPolicy(attempts=3, deadline=30.0, jitter=0.0, sleep=clock.sleep, clock=clock)


def test_customer_orders_a_server(portal_backend):
    dora = portal_backend.add_customer("dora", balance=Decimal("42.00"))
    clock = portal_backend.clock
    platform = portal_backend.platform()
    with BillingClient(platform.billing, retry=_retry(clock)) as billing:
        assert billing.as_user("dora").get_balance() == Decimal("42.00")
    settings = portal_backend.openstack_settings(dora, poll_interval=1.0)
    with OpenStackClient(settings, retry=_retry(clock), clock=clock, sleep=clock.sleep) as cloud:
        image = cloud.list_images()[0].id
        server = cloud.create_server("web-1", image=image, flavor="1", system_volume_size=10)
        assert [s.id for s in cloud.list_servers()] == [server.id]
    with TungstenClient(platform.tungsten, retry=_retry(clock), clock=clock) as tf:
        net = tf.create_virtual_network(project_id=dora.project_id, name="dora-net", subnets=["10.0.0.0/24"])
        assert [n.uuid for n in tf.list_virtual_networks(project_id=dora.project_id)] == [net.uuid]
    if not portal_backend.live:  # replay: a request the cassette does not hold never reaches anything
        with pytest.raises(Exception) as refused, BillingClient(platform.billing, retry=_retry(clock)) as b:
            b.as_user("dora").list_tickets()
        assert "cassette" in str(refused.value).lower()


def test_plain_fixtures(openstack, billing):
    assert openstack.list_servers() == []
    assert billing.list_accounts()


def test_list_servers__empty(openstack_backend):
    assert openstack_backend.make_client().list_servers() == []
"""

CONFTEST = '''
import pytest

from cloudkit.testing.fakes import LoopbackFake


@pytest.fixture(autouse=True)
def _no_fake_may_start_in_replay(request, monkeypatch):
    """Proof that replay runs with every fake off: starting one fails the test."""
    callspec = getattr(request.node, "callspec", None)
    replay = callspec is not None and callspec.params.get("portal_backend") == "replay"
    if replay and request.config.getoption("--record-mode") == "none":
        def refuse(self):
            raise AssertionError(f"{type(self).__name__} started during replay")

        monkeypatch.setattr(LoopbackFake, "start", refuse)
'''


def _run(folder: Path, *args: str, ci: bool = False) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLOUDKIT_", "PYTEST_"))}
    env.pop("CI", None)
    if ci:
        env["CI"] = "1"  # a downstream CI: must not drag in a lab
    env["CLOUDKIT_LAB_HOME"] = str(folder / "no-lab")
    env["PYTHONPATH"] = os.pathsep.join([str(SRC), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return subprocess.run(
        [
            sys.executable,
            "-W",
            "error",
            "-m",
            "pytest",
            "-W",
            "error",
            "-q",
            "-rs",
            "-p",
            "no:cacheprovider",
            *args,
        ],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _cassettes(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*.yaml"))}


def test_a_portal_records_twice_without_a_diff_and_replays_with_the_fakes_off(tmp_path):
    project = tmp_path / "portal"
    (project / "tests").mkdir(parents=True)
    (project / "tests" / "test_portal.py").write_text(textwrap.dedent(PORTAL_TESTS))
    (project / "tests" / "conftest.py").write_text(textwrap.dedent(CONFTEST))
    (project / "pyproject.toml").write_text('[tool.pytest.ini_options]\nfilterwarnings = ["error"]\n')

    first = _run(project, "--record-mode=all", "-k", "replay or cassette", "tests")
    assert first.returncode == 0, first.stdout + first.stderr
    recorded = _cassettes(project)
    assert set(recorded) == {
        "cassettes/tests/list_servers__empty.yaml",  # an OpenStack cassette, recorded against the fake
        "tests/cassettes/test_portal/test_customer_orders_a_server[replay].yaml",
    }, recorded.keys()
    portal = recorded["tests/cassettes/test_portal/test_customer_orders_a_server[replay].yaml"].decode()
    assert "source: fake" in portal
    assert "normalized: true" in portal
    assert "dora-pass" not in portal  # the customer's password is a secret
    assert "svc-tf-pass" not in portal
    assert "cloudkit-tungsten-fake" not in portal  # the TF fake's own Keystone calls are not recorded
    for volatile in ("127.0.0.1:3", "127.0.0.1:4", "127.0.0.1:5"):  # ephemeral ports are gone
        assert volatile not in portal

    second = _run(project, "--record-mode=all", "-k", "replay or cassette", "tests")
    assert second.returncode == 0, second.stdout + second.stderr
    again = _cassettes(project)
    for name, data in recorded.items():
        assert again[name] == data, f"{name} changed on re-recording"

    replay = _run(project, "tests", ci=True)  # record mode none; CI set, no lab asked for
    out = replay.stdout + replay.stderr
    assert replay.returncode == 0, out
    assert "failed" not in out
    assert "5 passed" in out, (
        out
    )  # portal [replay] and [fake], plain fixtures, OpenStack [cassette] and [fake]
    assert "the lab is used only when asked" in out  # [lab] skipped, though CI is set
    assert _cassettes(project) == recorded  # replay wrote nothing


LAB_TEST = """
def test_needs_the_lab(openstack_lab):
    pass
"""


def test_the_lab_is_used_only_when_asked_and_then_a_missing_lab_fails(tmp_path):
    (tmp_path / "test_lab.py").write_text(LAB_TEST)

    not_asked = _run(tmp_path, "test_lab.py", ci=True)
    assert not_asked.returncode == 0, not_asked.stdout
    assert "1 skipped" in not_asked.stdout
    assert "the lab is used only when asked" in not_asked.stdout

    asked = _run(tmp_path, "test_lab.py", "--cloudkit-lab")
    assert asked.returncode == 1, asked.stdout
    assert "1 error" in asked.stdout
    assert "the lab was asked for" in asked.stdout


def test_a_cassette_recorded_before_normalization_replays_untouched(tmp_path):
    from cloudkit.testing._recording import _normalizes

    old = tmp_path / "old.yaml"
    old.write_text("# recorded against: lab\nsource: lab\ninteractions: []\n")
    new = tmp_path / "new.yaml"
    new.write_text("# recorded against: fake\nsource: fake\nnormalized: true\ninteractions: []\n")
    assert not _normalizes(old, "none")
    assert not _normalizes(old, "new_episodes")
    assert _normalizes(old, "rewrite")  # written anew
    assert _normalizes(new, "none")
    assert _normalizes(tmp_path / "missing.yaml", "once")
