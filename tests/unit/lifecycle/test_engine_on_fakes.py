"""The lifecycle sagas on the three fakes over real HTTP: provision, suspend, resume, close, and failures."""

import pytest

from cloudkit.errors import ConflictError, PlanError
from cloudkit.lifecycle import SagaState, ServerPlan, StepState, SuspendReason
from cloudkit.testing.fakes import Fault


def plan(world, **changes):
    return ServerPlan(image=world.image(), flavor="2", system_volume_gb=1, **changes)


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
    assert f"cloudkit-item:{item}" in server.tags and f"cloudkit-saga:{saga.id}" in server.tags
    assert world.billing.service_status(item) == 2 and world.billing.running_operations() == []
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
    assert world.cloud.servers() == [] and world.cloud.volumes() == []
    assert world.tf.objects("virtual-machine-interface") == []
    assert world.tf.objects("instance-ip") == []
    assert world.callbacks("close", item) == 1
