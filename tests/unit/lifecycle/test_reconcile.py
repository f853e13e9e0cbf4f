"""Reconciliation on the three fakes: each kind of drift made for real, found by a dry run that writes
nothing outside, repaired by a fix, and a second run that finds nothing."""

from __future__ import annotations

import argparse
import io
import json

import attrs
import pytest

from cloudkit._cli_reconcile import add_reconcile, reconcile_table
from cloudkit.billing import BillingClient, BillingSettings
from cloudkit.errors import ConflictError
from cloudkit.lifecycle import SagaState, ServerPlan
from cloudkit.lifecycle._opstore import OpStore
from cloudkit.lifecycle._reconcile import Finding, FindingKind, ReconcileReport, reconcile
from cloudkit.lifecycle._steps import port_name, project_name

# TF reads that travel as POST (name and id lookups); everything else but GET changes something
_TF_READS = ("/fqname-to-id", "/id-to-fqname")
_BILLING_READS = {"auth", "vds", "runningoperation"}


def plan(world, **changes):
    return ServerPlan(**{"image": world.image(), "flavor": "2", "system_volume_gb": 1, **changes})


class WorkerKilled(BaseException):
    """What a SIGKILL looks like from inside: nothing below catches it."""


class Marks:
    """Where each fake's call log stood, to look at the calls made since."""

    def __init__(self, world):
        self.world = world
        self.cloud, self.tf, self.billing = (
            len(world.cloud.calls),
            len(world.tf.calls),
            len(world.billing.calls),
        )

    def writes(self):
        w = self.world
        cloud = [
            f"{c.method} {c.path}"
            for c in w.cloud.calls[self.cloud :]
            if c.method not in ("GET", "HEAD") and not c.path.endswith("/auth/tokens")
        ]
        tf = [
            f"{c.method} {c.path}"
            for c in w.tf.calls[self.tf :]
            if c.method not in ("GET", "HEAD") and not c.path.startswith(_TF_READS)
        ]
        billing = [c.func for c in w.billing.calls[self.billing :] if c.func not in _BILLING_READS]
        return cloud + tf + billing


def delete_in_billing(world, item):
    """Staff delete the service in billing, not through the lifecycle: billing queues a close and
    completes it itself."""
    settings = BillingSettings(url=world.billing.url, username="admin", password="secret")
    with BillingClient(settings) as billing:
        billing.delete_service(item, wait=0)
    world.billing.complete_running_operations()
    assert world.billing.service_status(item) == 4


def delete_server_behind_the_sagas_back(world, lifecycle, account, item):
    (server,) = [s for s in world.cloud.servers() if f"cloudkit-item:{item}" in s.tags]
    cloud = lifecycle.systems.cloud(project_name(lifecycle.settings, account))
    cloud.delete_server(server.id, unlock=True, wait=60)
    return server.id


def server_of(world, item):
    found = [s for s in world.cloud.servers() if f"cloudkit-item:{item}" in s.tags]
    assert len(found) <= 1, found
    return found[0] if found else None


def tf_port(world, account, item):
    found = [p for p in world.tf.objects("virtual-machine-interface") if p["fq_name"][-1] == port_name(item)]
    return found[0] if found else None


def provisioned(world, lifecycle, login):
    account = world.customer(login)
    item = world.service(login)
    saga = lifecycle.provision(item, account, plan(world))
    assert saga.state is SagaState.DONE, saga.last_error
    return account, item


def by_kind(report):
    found = {}
    for f in report.findings:
        found.setdefault(f.kind.value, []).append(f)
    return found


# ================================================================================== a clean world
def test_a_world_without_drift_is_clean_and_the_run_is_recorded(world):
    lifecycle = world.lifecycle()
    provisioned(world, lifecycle, "carol")
    marks = Marks(world)
    report = reconcile(lifecycle)
    assert report.clean, report.to_json()
    assert report.fix is False
    assert marks.writes() == []
    ops = OpStore(lifecycle.store)
    (run,) = ops.reconcile_runs()
    assert (run.id, run.state, run.fix) == (report.run_id, "done", False)
    assert ops.latest_findings() == []


# ================================================================================== every kind at once
def make_every_drift(world, lifecycle):
    """Five customers, one kind of drift each (two for the one whose port has a floating IP)."""
    drift = {}
    # carol: billing deletes her service behind the saga's back -> orphan server and port
    account, item = provisioned(world, lifecycle, "carol")
    delete_in_billing(world, item)
    drift["deleted"] = (account, item)

    # dora: her server is deleted in Nova behind the saga's back -> service without server
    account, item = provisioned(world, lifecycle, "dora")
    gone = delete_server_behind_the_sagas_back(world, lifecycle, account, item)
    drift["vanished"] = (account, item, gone)

    # erin: her build fails and Nova leaves the system volume behind -> orphan volume
    account, item = world.customer("erin"), world.service("erin")
    world.cloud.fail_next_builds(leave_volumes=True)
    failed = lifecycle.provision(item, account, plan(world))
    assert failed.state is SagaState.FAILED
    (volume,) = [v for v in world.cloud.volumes() if v.status == "available"]
    drift["failed_build"] = (account, item, failed.id, volume.id)

    # fred: service deleted in billing and the server deleted in Nova; the TF port stays, with a
    # floating IP on it and a network named for the item -> orphan port, floating IP and network
    account, item = provisioned(world, lifecycle, "fred")
    delete_in_billing(world, item)
    delete_server_behind_the_sagas_back(world, lifecycle, account, item)
    customer = lifecycle.store.get_customer(account)
    tf = lifecycle.systems.tungsten()
    pool = tf.create_floating_ip_pool(network_id=customer.network_id, name="public")
    port = tf_port(world, account, item)
    fip = tf.create_floating_ip(
        pool_id=pool.uuid, project_id=customer.tungsten_project_id, port_id=port["uuid"]
    )
    net = tf.create_virtual_network(
        project_id=customer.tungsten_project_id, name=port_name(item), subnets=["10.9.0.0/24"]
    )
    drift["port_left"] = (account, item, port["uuid"], fip.uuid, net.uuid)

    # gina: the worker running her open dies after the server is built; nobody sweeps
    account, item = world.customer("gina"), world.service("gina")
    original = lifecycle.engine.steps

    def act_then_die(act):
        def die(ctx):
            act(ctx)
            raise WorkerKilled

        return die

    lifecycle.engine.steps = {
        op: tuple(attrs.evolve(s, act=act_then_die(s.act)) if s.name == "server" else s for s in steps)
        for op, steps in original.items()
    }
    with pytest.raises(WorkerKilled):
        lifecycle.provision(item, account, plan(world))
    lifecycle.engine.steps = original
    (stuck,) = lifecycle.sagas(state=SagaState.RUNNING)
    drift["stuck"] = (account, item, stuck.id)
    world.clock.advance(lifecycle.settings.step_wait * 5 + 1)  # past its deadline (and its lease)
    return drift


def assert_found(world, report, drift):
    """Each drift made is found, as what it is, and nothing else."""
    assert report.problems == ()
    found = by_kind(report)
    assert sorted(found) == sorted(k.value for k in FindingKind)
    account, item = drift["deleted"]
    server = server_of(world, item)
    assert [(f.subject, f.item) for f in found["orphan_server"]] == [(f"server {server.id}", item)]
    port_subjects = {f.subject: f.item for f in found["orphan_port"]}
    assert port_subjects == {
        f"port {tf_port(world, account, item)['uuid']}": item,
        f"port {drift['port_left'][2]}": drift["port_left"][1],
    }
    _, vanished, _ = drift["vanished"]
    (missing,) = found["service_without_server"]
    assert (missing.subject, missing.item) == (f"item {vanished}", vanished)
    assert "no server carries" in missing.detail
    _, _, failed_saga, volume = drift["failed_build"]
    (loose,) = found["orphan_volume"]
    assert (loose.subject, loose.saga_id) == (f"volume {volume}", failed_saga)
    _, fred_item, _, fip, net = drift["port_left"]
    assert [(f.subject, f.item) for f in found["orphan_floating_ip"]] == [(f"floating_ip {fip}", fred_item)]
    assert [(f.subject, f.item) for f in found["orphan_network"]] == [(f"network {net}", fred_item)]
    _, _, stuck = drift["stuck"]
    assert [f.subject for f in found["stuck_saga"]] == [f"saga {stuck}"]


def assert_repaired(world, lifecycle, fixed, drift):
    """Every finding repaired, as the fakes show."""
    assert [f for f in fixed.findings if not f.fixed] == [], fixed.to_json()
    account, item = drift["deleted"]
    assert server_of(world, item) is None
    assert tf_port(world, account, item) is None
    rebuilt = server_of(world, drift["vanished"][1])
    assert rebuilt is not None
    assert rebuilt.status == "ACTIVE"
    assert rebuilt.id != drift["vanished"][2]
    assert world.cloud.volume(drift["failed_build"][3]) is None
    _, fred_item, _, fip, net = drift["port_left"]
    assert tf_port(world, account, fred_item) is None
    assert world.tf.get("floating-ip", fip) is None
    assert world.tf.get("virtual-network", net) is None
    assert lifecycle.saga(drift["stuck"][2]).state is SagaState.DONE
    closes = [f.saga_id for f in fixed.findings if f.kind in ("orphan_server", "orphan_port")]
    assert {lifecycle.saga(s).operation for s in closes} == {"close"}


def test_every_kind_of_drift_is_found_read_only_then_fixed_then_clean(world):
    lifecycle = world.lifecycle()
    drift = make_every_drift(world, lifecycle)
    sagas_before = [(s.id, s.state) for s in lifecycle.sagas(limit=1000)]
    volumes_before = world.cloud.volumes()

    marks = Marks(world)
    report = reconcile(lifecycle)
    assert marks.writes() == []  # a dry run reads only
    assert [(s.id, s.state) for s in lifecycle.sagas(limit=1000)] == sagas_before
    assert world.cloud.volumes() == volumes_before
    assert_found(world, report, drift)
    assert all(f.fixed is None and f.repair for f in report.findings)
    recorded = OpStore(lifecycle.store).latest_findings()
    assert [(r.kind, r.subject) for r in recorded] == [(f.kind.value, f.subject) for f in report.findings]
    assert all("[would: " in r.detail for r in recorded)

    fixed = reconcile(lifecycle, fix=True)
    assert {f.subject for f in fixed.findings} == {f.subject for f in report.findings}
    assert_repaired(world, lifecycle, fixed, drift)

    marks = Marks(world)
    again = reconcile(lifecycle)
    assert again.clean, again.to_json()
    assert marks.writes() == []


# ================================================================================== single kinds
def test_a_server_in_error_is_left_for_an_operator_and_reported_again(world):
    lifecycle = world.lifecycle()
    _, item = provisioned(world, lifecycle, "carol")
    server = server_of(world, item)
    with world.cloud._lock:  # Nova put the running server in ERROR (a host failure)
        world.cloud._cloud.state.servers[server.id].status = "ERROR"
    report = reconcile(lifecycle, fix=True)
    (finding,) = report.findings
    assert (finding.kind, finding.fixed) == (FindingKind.SERVICE_WITHOUT_SERVER, False)
    assert "left for an operator" in finding.repair
    assert server_of(world, item).id == server.id  # nothing deleted
    assert [f.subject for f in reconcile(lifecycle).findings] == [f"item {item}"]


def test_a_saga_still_within_its_deadline_is_not_stuck(world):
    lifecycle = world.lifecycle()
    account, item = world.customer(), world.service()
    original = lifecycle.engine.steps

    def die(ctx):
        raise WorkerKilled

    lifecycle.engine.steps = {
        op: tuple(attrs.evolve(s, act=die) if s.name == "server" else s for s in steps)
        for op, steps in original.items()
    }
    with pytest.raises(WorkerKilled):
        lifecycle.provision(item, account, plan(world))
    lifecycle.engine.steps = original
    assert reconcile(lifecycle).findings == ()
    world.clock.advance(120)
    (stuck,) = reconcile(lifecycle, stuck_after=60).findings
    assert stuck.kind is FindingKind.STUCK_SAGA
    # its lease (900 s) is still held by the dead worker: a fix does not take it over
    (held,) = reconcile(lifecycle, fix=True, stuck_after=60).findings
    assert held.fixed is False
    assert "holds its lease" in held.repair


def test_two_fixing_runs_never_overlap(world):
    lifecycle = world.lifecycle()
    ops = OpStore(lifecycle.store)
    assert ops.acquire_lease("reconcile", "someone-else", 600)
    with pytest.raises(ConflictError, match="another reconcile"):
        reconcile(lifecycle, fix=True)
    assert reconcile(lifecycle).clean  # a dry run needs no lease
    ops.release_lease("reconcile", "someone-else")
    assert reconcile(lifecycle, fix=True).clean


def test_a_customer_whose_project_cannot_be_read_is_a_problem_not_a_finding(world):
    lifecycle = world.lifecycle()
    provisioned(world, lifecycle, "carol")
    from cloudkit.lifecycle import Customer

    lifecycle.store.save_customer(
        Customer(account=999, keystone_project_id="p", keystone_user_id="u", tungsten_project_id="t")
    )
    report = reconcile(lifecycle)
    assert report.findings == ()
    (problem,) = report.problems
    assert problem.startswith("account 999: OpenStack project customer-999")
    assert not report.clean


# ================================================================================== report and CLI
def test_the_report_speaks_json_and_the_cli_prints_a_table(world):
    lifecycle = world.lifecycle()
    _, item = provisioned(world, lifecycle, "carol")
    delete_in_billing(world, item)
    parser = argparse.ArgumentParser(prog="cloudkit")
    add_reconcile(parser.add_subparsers(dest="command"))

    out = io.StringIO()
    args = parser.parse_args(["reconcile"])
    assert args.handler(args, out, lifecycle=lifecycle) == 1  # findings
    lines = out.getvalue().splitlines()
    assert lines[0].split()[:4] == ["KIND", "SUBJECT", "ITEM", "ACCOUNT"]
    assert [line.split()[0] for line in lines[1:-1]] == ["orphan_server", "orphan_port"]
    assert lines[-1].startswith("2 findings (orphan_server 1, orphan_port 1); dry run")

    out = io.StringIO()
    args = parser.parse_args(["reconcile", "--fix", "--json"])
    assert args.handler(args, out, lifecycle=lifecycle) == 0
    data = json.loads(out.getvalue())
    assert data["fix"] is True
    assert data["counts"] == {"orphan_server": 1, "orphan_port": 1}
    assert [f["fixed"] for f in data["findings"]] == [True, True]
    assert data["findings"][0]["saga_id"] == data["findings"][1]["saga_id"]  # one close saga for both

    out = io.StringIO()
    args = parser.parse_args(["reconcile"])
    assert args.handler(args, out, lifecycle=lifecycle) == 0
    assert out.getvalue().strip() == "nothing drifted"


def test_finding_and_report_models():
    import datetime as dt

    at = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    finding = Finding("orphan_volume", "volume v1", "left by a failed build", "saga-1", repair="delete")
    fixed = attrs.evolve(finding, fixed=True)
    report = ReconcileReport(run_id="r", fix=True, started_at=at, finished_at=at, findings=[finding, fixed])
    assert report.unfixed == (finding,)
    assert report.counts == {"orphan_volume": 2}
    assert report.to_json()["started_at"] == "2025-01-01T00:00:00+00:00"
    assert "NOT repaired" in reconcile_table(report)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        finding.detail = "x"
    with pytest.raises(ValueError, match="nope"):
        Finding("nope", "x", "y")


def test_cloudkit_reconcile_is_a_command(tmp_path, monkeypatch, capsys):
    from cloudkit.cli import main

    for name in (
        "CLOUDKIT_BILLING_URL",
        "CLOUDKIT_OPENSTACK_AUTH_URL",
        "CLOUDKIT_TUNGSTEN_URL",
        "CLOUDKIT_CONFIG",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CLOUDKIT_LIFECYCLE_DB", f"sqlite:///{tmp_path / 'lc.db'}")
    assert main(["reconcile", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["fix"], data["findings"], data["problems"]) == (False, [], [])
