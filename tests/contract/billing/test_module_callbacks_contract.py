"""Contract tests of the calls a processing module makes back (``[cassette]`` and ``[fake]``).

The cassettes are recorded against the fake (``source: fake``): no BILLmanager recording exists, so
what they prove is what cloudkit sends; the wire facts behind the fake are reference/billing.md §7.2
and ISPsystem's example module (pmregistrar.php). Each scenario first queues a running operation
(``complete_operations=False`` on the fake; during replay the cassette holds what it answered).
Re-record with ``cloudkit record billing``.
"""

import pytest

from cloudkit.billing import ModuleCommand, ModuleError, ServiceStatus
from cloudkit.errors import SilentNoOpError
from cloudkit.testing.fakes import Fault


def _queue_suspend(backend, billing, service_id=301):
    if backend.fake:
        backend.fake.complete_operations = False
    billing.suspend_service(service_id, wait=0)
    (op,) = [o for o in billing.list_running_operations() if o.service_id == service_id]
    return op.id


def test_complete_operation__suspend(billing_backend):
    billing = billing_backend.make_client()
    _queue_suspend(billing_backend, billing)
    assert billing.complete_operation(301, ModuleCommand.SUSPEND).status is ServiceStatus.SUSPENDED
    assert billing.list_running_operations() == []
    assert billing_backend.make_client.calls.funcs()[-4:] == [
        "service.postsuspend",
        "vds",
        "runningoperation",
        "runningoperation",
    ]


@pytest.mark.quirk("billing.silent-ok")
def test_complete_operation__swallowed(billing_backend):
    billing = billing_backend.make_client()
    ro = _queue_suspend(billing_backend, billing)
    if billing_backend.fake:
        billing_backend.fake.inject(Fault.swallow_effect(), func="service.postsuspend")
    with pytest.raises(SilentNoOpError) as info:
        billing.complete_operation(301, "suspend")
    assert info.value.quirk == "billing.silent-ok"
    assert [op.id for op in billing.list_running_operations()] == [ro]


def test_record_operation_error__then_manual(billing_backend):
    billing = billing_backend.make_client()
    ro = _queue_suspend(billing_backend, billing)
    billing.record_operation_error(ro, ModuleError(type="timeout", object="server", message="nova"))
    billing.set_operation_manual(ro)
    op = billing.get_running_operation(ro)
    assert (op.error_xml, op.manual) == (
        '<doc><error type="timeout" object="server"><msg>nova</msg></error></doc>',
        True,
    )
    assert billing_backend.make_client.calls.funcs()[-5:] == [
        "runningoperation.edit",
        "runningoperation",
        "runningoperation.setmanual",
        "runningoperation",
        "runningoperation",
    ]


def test_open_staff_task__once(billing_backend):
    billing = billing_backend.make_client()
    ro = _queue_suspend(billing_backend, billing)
    first = billing.open_staff_task(301, ro, "suspend")
    assert first is not None
    assert billing.open_staff_task(301, ro, "suspend") == first
    assert billing.list_staff_tasks() == [first]
    assert billing_backend.make_client.calls.funcs().count("task.edit") == 1


def test_set_service_status__sync(billing_backend):
    billing = billing_backend.make_client()
    assert billing.set_service_status(303, ServiceStatus.ACTIVE).status is ServiceStatus.ACTIVE
    assert billing.set_service_status(303, ServiceStatus.SUSPENDED).status is ServiceStatus.SUSPENDED
    assert billing_backend.make_client.calls.funcs() == [
        "auth",
        "service.setstatus",
        "vds",
        "service.setstatus",
        "vds",
    ]
