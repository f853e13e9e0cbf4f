"""The lifecycle sagas on the three fakes over real HTTP: provision, suspend, resume, close, and failures."""

import re

import attrs
import pytest

from cloudkit.errors import ConflictError, PlanError
from cloudkit.lifecycle import SagaState, ServerPlan, StepState, SuspendReason
from cloudkit.testing.fakes import Fault


def plan(world, **changes):
    return ServerPlan(**{"image": world.image(), "flavor": "2", "system_volume_gb": 1, **changes})


def test_provision_suspend_resume_close(world):
    lifecycle = world.lifecycle()
    account, item = world.customer(), None
    item = world.service()
    ro = world.queue(item, "open")
    saga = lifecycle.provision(item, account, plan(world), running_operation=ro)
    assert saga.state is SagaState.DONE, saga.last_error
    assert [s.state for s in saga.steps] == [StepState.DONE] * 5
    (server,) = world.cloud.servers()
    assert server.status == "ACTIVE"
    assert f"cloudkit-item:{item}" in server.tags
    assert f"cloudkit-saga:{saga.id}" in server.tags
    assert world.billing.service_status(item) == 2
    assert world.billing.running_operations() == []
    assert world.callbacks("open", item) == 1

    ro = world.queue(item, "suspend")
    saga = lifecycle.suspend(item, SuspendReason.NONPAYMENT, running_operation=ro)
    assert saga.state is SagaState.DONE, saga.last_error
    (server,) = world.cloud.servers()
    assert (server.status, server.locked) == ("SHUTOFF", True)
    assert world.billing.service_status(item) == 3

    ro = world.queue(item, "resume")
    saga = lifecycle.resume(item, running_operation=ro)
    assert saga.state is SagaState.DONE, saga.last_error
    (server,) = world.cloud.servers()
    assert (server.status, server.locked) == ("ACTIVE", False)

    ro = world.queue(item, "close")
    saga = lifecycle.close(item, running_operation=ro)
    assert saga.state is SagaState.DONE, saga.last_error
    assert world.cloud.servers() == []
    assert world.cloud.volumes() == []
    assert world.tf.objects("virtual-machine-interface") == []
    assert world.tf.objects("instance-ip") == []
    assert world.callbacks("close", item) == 1


def _shape(calls, *, writes_only=False):
    """Method and path with ids as {id}, query dropped: the order of requests a step sends."""
    out = []
    for c in calls:
        if writes_only and c.method in ("GET", "HEAD"):
            continue
        path = re.sub(r"/[0-9a-f-]{32,36}(?=/|$)", "/{id}", c.path.split("?")[0])
        out.append(f"{c.method} {path}" if c.func is None else c.func)
    return out


def test_a_provision_sends_exactly_these_requests(world):
    lifecycle = world.lifecycle()
    account, item = world.customer(), world.service()
    ro = world.queue(item, "open")
    lifecycle.provision(item, account, plan(world), running_operation=ro)
    compute = [c for c in world.cloud.calls if c.service == "compute"]
    assert _shape(compute) == [
        "GET /compute/v2.1",  # plan check: version discovery, then the flavor
        "GET /compute/v2.1/flavors/2",
        "GET /compute/v2.1",  # the customer's project: discovery again (a new session)
        "GET /compute/v2.1/servers/detail",  # look: servers tagged with the saga (none)
        "POST /compute/v2.1/servers",  # act
        "GET /compute/v2.1/servers/{id}",  # wait for ACTIVE
    ]
    assert compute[3].query.startswith("tags=cloudkit-saga")
    assert _shape(world.tf.calls, writes_only=True) == [
        "POST /fqname-to-id",  # network look by name (none)
        "POST /virtual-networks",
        "POST /fqname-to-id",  # port look by name (none)
        "POST /id-to-fqname",
        "POST /virtual-machine-interfaces",
        "POST /instance-ips",
    ]
    identity_writes = _shape([c for c in world.cloud.calls if c.service == "identity"], writes_only=True)
    assert [w for w in identity_writes if "auth/tokens" not in w] == [
        "POST /identity/v3/projects",
        "POST /identity/v3/users",
        "PUT /identity/v3/projects/{id}/users/{id}/roles/{id}",  # the customer's role
        "PUT /identity/v3/projects/{id}/users/{id}/roles/{id}",  # the lifecycle account's role
    ]
    assert [c.func for c in world.billing.calls] == [
        "auth",
        "runningoperation",  # look: the open is still queued
        "service.postopen",  # act
        "vds",  # read-back: active
        "runningoperation",  # read-back: the operation is gone
    ]


def test_a_second_provision_joins_the_first(world):
    lifecycle = world.lifecycle()
    account, item = world.customer(), world.service()
    ro = world.queue(item, "open")
    first = lifecycle.provision(item, account, plan(world), running_operation=ro)
    sent = len(world.cloud.calls)
    again = lifecycle.provision(item, account, plan(world), running_operation=ro)
    assert again.id == first.id
    assert again.state is SagaState.DONE
    assert [c.method for c in world.cloud.calls[sent:] if c.service == "compute" and c.method != "GET"] == []
    assert len(world.cloud.servers()) == 1
    assert world.callbacks("open", item) == 1


def test_a_lost_create_answer_makes_no_second_server(world):
    lifecycle = world.lifecycle()
    account, item = world.customer(), world.service()
    world.cloud.inject(Fault.drop_after_effect(), method="POST", path="/servers")
    saga = lifecycle.provision(item, account, plan(world))
    assert saga.state is SagaState.DONE, saga.last_error
    assert len(world.cloud.servers()) == 1
    assert len(list(world.cloud.volumes())) == 1


def test_a_build_in_error_is_compensated_then_failed(world):
    lifecycle = world.lifecycle()
    account, item = world.customer(), world.service()
    ro = world.queue(item, "open")
    world.cloud.fail_next_builds()
    saga = lifecycle.provision(item, account, plan(world), running_operation=ro)
    assert saga.state is SagaState.FAILED
    assert "ERROR" in saga.last_error
    assert world.cloud.servers() == []
    assert world.cloud.volumes() == []
    assert world.tf.objects("virtual-machine-interface") == []
    assert world.tf.objects("instance-ip") == []
    steps = {s.name: s.state for s in saga.steps}
    assert steps == {
        "customer": StepState.DONE,  # onboarding and the network are the customer's: kept
        "network": StepState.DONE,
        "port": StepState.COMPENSATED,
        "server": StepState.COMPENSATED,
        "billing": StepState.PENDING,
    }
    (op,) = world.billing.running_operations()
    assert op.manual
    assert "ERROR" in op.errorxml
    assert [t.service_id for t in world.billing.tasks()] == [item]
    assert world.callbacks("open", item) == 0


def test_needs_operator_after_max_attempts_then_retry_finishes(world):
    lifecycle = world.lifecycle(max_attempts=3)
    account, item = world.customer(), world.service()
    ro = world.queue(item, "open")
    world.cloud.inject(Fault.wsrep(), method="POST", path="/servers", times=1000)
    saga = lifecycle.provision(item, account, plan(world), running_operation=ro)
    assert saga.state is SagaState.NEEDS_OPERATOR
    assert saga.attempts == 3
    assert "WSREP" in saga.last_error.upper()
    assert world.cloud.servers() == []
    (op,) = world.billing.running_operations()
    assert op.manual
    assert op.errorxml
    assert len(world.billing.tasks()) == 1
    world.lift_faults()
    again = lifecycle.retry(saga.id)
    assert again.id == saga.id
    assert again.state is SagaState.DONE, again.last_error
    assert len(world.cloud.servers()) == 1
    assert world.billing.running_operations() == []
    assert world.callbacks("open", item) == 1
    assert len(world.billing.tasks()) == 1


def test_an_unknown_image_or_flavor_is_a_plan_error_with_nothing_made(world):
    lifecycle = world.lifecycle()
    account, item = world.customer(), world.service()
    for bad in (
        ServerPlan(image="no-such-image", flavor="2", system_volume_gb=1),
        ServerPlan(image=world.image(), flavor="no-such-flavor", system_volume_gb=1),
    ):
        with pytest.raises(PlanError):
            lifecycle.provision(item, account, bad)
    assert lifecycle.sagas() == []
    assert [
        c for c in world.cloud.calls if c.method not in ("GET", "HEAD") and "auth/tokens" not in c.path
    ] == []
    assert world.tf.calls == []
    assert world.billing.calls == []


def test_the_same_item_with_another_plan_is_a_conflict(world):
    lifecycle = world.lifecycle()
    account, item = world.customer(), world.service()
    lifecycle.provision(item, account, plan(world))
    with pytest.raises(ConflictError):
        lifecycle.provision(item, account, plan(world, system_volume_gb=2))
    assert len(world.cloud.servers()) == 1


class WorkerKilled(BaseException):
    """What a SIGKILL looks like from inside: nothing below catches it."""


def test_a_killed_worker_is_taken_over_after_its_lease(world):
    lifecycle = world.lifecycle(lease_seconds=900)
    account, item = world.customer(), world.service()
    ro = world.queue(item, "open")
    original = lifecycle.engine.steps

    def killing(act):
        def act_then_die(ctx):
            act(ctx)  # the server is built...
            raise WorkerKilled  # ...and the worker dies before it records that

        return act_then_die

    lifecycle.engine.steps = {
        op: tuple(attrs.evolve(s, act=killing(s.act)) if s.name == "server" else s for s in steps)
        for op, steps in original.items()
    }
    with pytest.raises(WorkerKilled):
        lifecycle.provision(item, account, plan(world), running_operation=ro)
    lifecycle.engine.steps = original
    (saga,) = lifecycle.sagas()
    assert saga.state is SagaState.RUNNING
    assert saga.step("server").state is StepState.STARTED
    assert lifecycle.run_due() == []  # the lease is still live
    world.clock.advance(901)
    assert lifecycle.run_due() == [saga.id]
    done = lifecycle.saga(saga.id)
    assert done.state is SagaState.DONE, done.last_error
    assert len(world.cloud.servers()) == 1
    assert len(world.cloud.volumes()) == 1
    assert world.callbacks("open", item) == 1


def test_without_a_tf_aware_neutron_the_server_boots_unplugged_and_the_port_is_recorded(world):
    """server_network="none": the mode for the lab's real Nova, whose Neutron is a stub (Assumption:
    the port is wired to the server outside Nova there)."""
    lifecycle = world.lifecycle(server_network="none")
    account, item = world.customer(), world.service()
    saga = lifecycle.provision(item, account, plan(world))
    assert saga.state is SagaState.DONE, saga.last_error
    (post,) = [c for c in world.cloud.calls if c.method == "POST" and c.path.endswith("/servers")]
    assert '"networks": "none"' in post.body
    assert saga.step("port").outside_ids["port"]
    assert saga.step("port").outside_ids["address"].startswith("10.0.0.")


def test_a_server_plugs_into_the_customers_tf_port(world):
    lifecycle = world.lifecycle()
    account, item = world.customer(), world.service()
    saga = lifecycle.provision(item, account, plan(world))
    (post,) = [c for c in world.cloud.calls if c.method == "POST" and c.path.endswith("/servers")]
    assert f'"networks": [{{"port": "{saga.step("port").outside_ids["port"]}"}}]' in post.body


def test_a_second_attempt_from_the_same_engine_never_runs_a_held_saga(world):
    """Two threads sharing one Lifecycle (a portal's web threads) must not both hold a saga."""
    import attrs

    from cloudkit.lifecycle import ModuleCommand

    lifecycle = world.lifecycle()
    engine = lifecycle.engine
    nested = []
    steps = dict(engine.steps)
    first, *rest = steps[ModuleCommand.OPEN]

    def look_and_try_again(ctx):
        if not nested:  # what a second thread of the same process would do mid-step
            nested.append(engine.attempt(ctx.saga.id))
        return first.look(ctx)

    steps[ModuleCommand.OPEN] = (attrs.evolve(first, look=look_and_try_again), *rest)
    engine.steps = steps
    account, item = world.customer(), world.service()
    saga = lifecycle.provision(item, account, plan(world))
    assert saga.state is SagaState.DONE, saga.last_error
    assert [a.ran for a in nested] == [False]
    assert len(world.cloud.servers()) == 1


def test_wait_runs_a_saga_whose_killed_runner_left_it_once_the_lease_is_out(world):
    """A processing module killed mid-saga: billing runs it again, it joins and waits; nobody sweeps."""
    lifecycle = world.lifecycle(lease_seconds=900)
    account, item = world.customer(), world.service()
    ro = world.queue(item, "open")
    original = lifecycle.engine.steps

    def act_then_die(ctx):
        raise WorkerKilled

    lifecycle.engine.steps = {
        op: tuple(attrs.evolve(s, act=act_then_die) if s.name == "server" else s for s in steps)
        for op, steps in original.items()
    }
    with pytest.raises(WorkerKilled):
        lifecycle.provision(item, account, plan(world), running_operation=ro)
    lifecycle.engine.steps = original
    again = world.lifecycle(lease_seconds=900)  # the next module run, a new process
    joined = again.provision(item, account, plan(world), running_operation=ro)
    assert joined.state is SagaState.RUNNING  # leased by the dead run: not run now
    done = again.wait(joined.id, timeout=3600)  # the fake clock passes the lease while it waits
    assert done.state is SagaState.DONE, done.last_error
    assert len(world.cloud.servers()) == 1
    assert world.callbacks("open", item) == 1


def test_a_nova_conflict_on_suspend_is_retried_not_failed(world):
    """Nova's 409 "Cannot 'stop' instance ... while it is in task_state ..." means another task runs."""
    lifecycle = world.lifecycle()
    account, item = world.customer(), world.service()
    assert lifecycle.provision(item, account, plan(world)).state is SagaState.DONE
    conflict = {
        "conflictingRequest": {
            "code": 409,
            "message": "Cannot 'stop' instance abc while it is in task_state powering-on",
        }
    }
    world.cloud.inject(Fault.server_error(409, conflict), method="POST", path="/servers/{id}/action")
    saga = lifecycle.suspend(item, SuspendReason.NONPAYMENT)
    assert saga.state is SagaState.DONE, saga.last_error
    assert saga.attempts == 2
    assert "ConflictError" in (saga.step("server").last_error or saga.last_error or "")
    (server,) = world.cloud.servers()
    assert (server.status, server.locked) == ("SHUTOFF", True)
