"""``cloudkit lifecycle list|show|retry|sweep`` on a saga store made by real sagas on the fakes."""

from __future__ import annotations

import json

import pytest

from cloudkit.cli import main
from cloudkit.lifecycle import Lifecycle, LifecycleSettings, SagaState, ServerPlan
from cloudkit.testing.fakes import Fault
from cloudkit.testing.lifecycle import LifecycleWorld


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """One done saga and one stopped for an operator (Nova refusing every create)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('lc') / 'lc.db'}"
    with LifecycleWorld() as world:
        settings = LifecycleSettings(db_url=url, max_attempts=1)
        with Lifecycle(world.platform, settings=settings, sleep=lambda _s: None) as lifecycle:
            plan = ServerPlan(image=world.image, flavor="1", system_volume_gb=1)
            item, account = world.order("carol")
            done = lifecycle.provision(item, account, plan)
            world.cloud.inject(Fault.server_error(), method="POST", path="/servers", times=10)
            other, account = world.order("dora")
            stuck = lifecycle.provision(other, account, plan)
    assert (done.state, stuck.state) == (SagaState.DONE, SagaState.NEEDS_OPERATOR)
    return url, done, stuck


@pytest.fixture
def cli(store, monkeypatch, capsys):
    url, _, _ = store
    for name in ("CLOUDKIT_BILLING_URL", "CLOUDKIT_OPENSTACK_AUTH_URL", "CLOUDKIT_TUNGSTEN_URL"):
        monkeypatch.delenv(name, raising=False)

    def run(*argv: str) -> tuple[int, str, str]:
        monkeypatch.setenv("CLOUDKIT_LIFECYCLE_DB", url)
        code = main(["lifecycle", *argv])
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


def test_list_is_a_table_newest_first(cli, store):
    _, done, stuck = store
    code, out, _ = cli("list")
    lines = out.splitlines()
    assert code == 0
    assert lines[0].split()[:4] == ["SAGA", "ITEM", "COMMAND", "STATE"]
    assert [line.split()[0] for line in lines[1:]] == [stuck.id[:8], done.id[:8]]
    assert "needs_operator" in lines[1]
    assert "ServerError" in lines[1]


def test_list_filters_by_state_and_speaks_json(cli, store):
    _, done, _ = store
    code, out, _ = cli("list", "--state", "done", "--json")
    assert code == 0
    (only,) = json.loads(out)
    assert (only["id"], only["state"], only["plan"]["flavor"]) == (done.id, "done", "1")
    assert [s["name"] for s in only["steps"]] == ["customer", "network", "port", "server", "billing"]


def test_show_takes_an_id_prefix(cli, store):
    _, done, _ = store
    code, out, _ = cli("show", done.id[:8])
    assert code == 0
    assert out.startswith(f"saga {done.id}: open item {done.item}")
    assert "server=" in out


def test_show_of_an_unknown_saga_is_a_clear_error(cli):
    code, _, err = cli("show", "no-such-saga")
    assert code == 1
    assert "NotFoundError" in err


def test_show_without_an_id_is_a_usage_error(cli):
    code, _, err = cli("show")
    assert code == 2
    assert "give a saga id" in err


def test_retry_of_a_done_saga_is_refused(cli, store):
    _, done, _ = store
    code, _, err = cli("retry", done.id)
    assert code == 1
    assert "ConflictError" in err
