"""``cloudkit stoprules run`` and the Celery stop-rule task on a LifecycleWorld (real HTTP fakes)."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from cloudkit.cli import main
from cloudkit.lifecycle import Lifecycle, LifecycleSettings, SagaState, ServerPlan
from cloudkit.testing.lifecycle import LifecycleWorld


@pytest.fixture
def env(tmp_path, monkeypatch):
    """A world with one provisioned, broke customer; the CLI's environment and config file point at it."""
    url = f"sqlite:///{tmp_path / 'lc.db'}"
    config = tmp_path / "cloudkit.toml"
    config.write_text('[stoprules]\nname = "ops"\ngrace_hours = 0\n')
    with LifecycleWorld() as world:
        with Lifecycle(world.platform, settings=LifecycleSettings(db_url=url), sleep=lambda _s: None) as lc:
            item, account = world.order("carol")
            plan = ServerPlan(image=world.image, flavor="1", system_volume_gb=1)
            assert lc.provision(item, account, plan).state is SagaState.DONE
        assert world.billing is not None
        world.billing.charge("carol", Decimal(5))
        for name, value in {
            **world.environ(),
            "CLOUDKIT_LIFECYCLE_DB": url,
            "CLOUDKIT_CONFIG": str(config),
        }.items():
            monkeypatch.setenv(name, value)
        monkeypatch.delenv("CLOUDKIT_CELERY_BROKER", raising=False)
        yield world, item, account


def test_dry_run_json_then_a_real_run_with_a_table(env, capsys):
    world, item, account = env
    assert main(["stoprules", "run", "--dry-run", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["policy"], out["dry_run"], out["state"]) == ("ops", True, "done")
    assert out["counts"]["suspend"] == 1
    (decision,) = out["decisions"]
    assert (decision["account"], decision["action"], decision["credit"]) == (account, "suspend", "-5.00")
    assert world.billing_status(item) == "ACTIVE"

    assert main(["stoprules", "run", "--progress"]) == 0
    captured = capsys.readouterr()
    assert "sweep:" in captured.err  # the progress line, asked for off a terminal
    lines = captured.out.splitlines()
    assert lines[0].startswith("sweep ")
    assert "policy ops  done" in lines[0]
    assert any(line.split() == ["items_suspended", "1"] for line in lines)
    assert any(line.startswith(f"{account} ") and "grace_hours_over" in line for line in lines)
    assert world.billing_status(item) == "SUSPENDED"


def test_a_bad_policy_names_the_field(env, tmp_path, monkeypatch, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text("[stoprules]\ngrace_hours = -1\n")
    monkeypatch.setenv("CLOUDKIT_CONFIG", str(bad))
    assert main(["stoprules", "run"]) == 2  # a configuration error
    assert "StopPolicy.grace_hours" in capsys.readouterr().err


def test_celery_task_runs_the_sweep_and_sends_notices_to_the_signal(env, monkeypatch):
    celery = pytest.importorskip("cloudkit.lifecycle.celery")
    world, item, account = env
    lifecycle = Lifecycle.from_env()
    monkeypatch.setattr(celery, "_worker", lifecycle)
    got = []

    def receiver(sender, notice, **_):
        got.append((sender, notice.account, notice.level))

    celery.stoprule_notice.connect(receiver, weak=False)
    try:
        counts = celery.stoprules_sweep()
    finally:
        celery.stoprule_notice.disconnect(receiver)
        lifecycle.shutdown()
    assert counts["items_suspended"] == 1
    assert got == [(celery.STOPRULES_SWEEP, account, 0)]
    assert world.billing_status(item) == "SUSPENDED"
    schedule = celery.app.conf.beat_schedule["cloudkit-stoprules-sweep"]
    assert (schedule["task"], schedule["schedule"]) == ("cloudkit.stoprules.sweep", 600.0)


def test_celery_task_is_refused_while_another_sweep_runs(env, monkeypatch):
    celery = pytest.importorskip("cloudkit.lifecycle.celery")
    from cloudkit.lifecycle._opstore import OpStore

    lifecycle = Lifecycle.from_env()
    monkeypatch.setattr(celery, "_worker", lifecycle)
    try:
        assert OpStore(lifecycle.store).acquire_lease("stoprules", "elsewhere", 600)
        assert celery.stoprules_sweep() == {"refused": 1}
    finally:
        lifecycle.shutdown()
