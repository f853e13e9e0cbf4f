"""The calls a processing module makes back to billing: exact call sequences, verification, scope.

Each test starts from a running operation the admin client queued (``complete_operations=False``), then
forgets those set-up calls, so the asserted sequence is the callback's own.
"""

import pytest

from cloudkit.billing import ModuleCommand, ModuleError, ServiceStatus, module_error_xml
from cloudkit.errors import InvalidArgumentError, NotFoundError, ScopeError, SilentNoOpError
from cloudkit.testing.fakes import Fault

IN_PROGRESS = 5


@pytest.fixture
def queued(billing, billing_fake, billing_calls):
    """Queue ``<command>`` on a service through billing; return the running operation's id."""
    billing_fake.complete_operations = False

    def queue(service_id: int, command: str) -> int:
        action = {"suspend": billing.suspend_service, "resume": billing.resume_service}.get(command)
        if action is not None:
            action(service_id, wait=0)
        else:
            billing.delete_service(service_id, wait=0)
        (op,) = [o for o in billing_fake.running_operations() if o.service_id == service_id]
        billing_calls.clear()
        return op.id

    return queue


# ------------------------------------------------------------------------------ completion
def test_complete_operation_exact_call_sequence(billing, billing_fake, billing_calls, queued):
    queued(301, "suspend")
    service = billing.complete_operation(301, ModuleCommand.SUSPEND)
    assert service.status is ServiceStatus.SUSPENDED
    assert billing_calls.calls == [
        ("service.postsuspend", None),  # the callback, elid=<item> sok=ok
        ("vds", None),  # post-condition: the service is in the command's target status
        ("runningoperation", None),  # ... and no running operation of that command is left
    ]
    callback = billing_fake.calls[-3]
    assert (callback.params["elid"], callback.params["sok"]) == ("301", "ok")
    assert billing_fake.running_operations() == []


@pytest.mark.parametrize(
    "case",
    [
        (303, "resume", ServiceStatus.ACTIVE),
        (302, "close", ServiceStatus.DELETED),
    ],
)
def test_complete_operation_for_each_command(billing, billing_fake, queued, case):
    service_id, command, target = case
    queued(service_id, command)
    assert billing.complete_operation(service_id, command).status is target
    assert billing_fake.running_operations() == []
    assert billing_fake.service_status(service_id) == int(target)


def test_complete_open_of_a_service_in_progress(billing, billing_fake, billing_calls):
    item = billing_fake.add_service("alice", "vm-new", status=IN_PROGRESS)
    assert billing.complete_operation(item, "open").status is ServiceStatus.ACTIVE
    assert billing_calls.funcs() == ["auth", "service.postopen", "vds", "runningoperation"]


def test_complete_operation_answer_lost_is_not_sent_again(billing, billing_fake, billing_calls, queued):
    queued(301, "suspend")
    billing_fake.inject(Fault.drop_after_effect(), func="service.postsuspend")
    assert billing.complete_operation(301, "suspend").status is ServiceStatus.SUSPENDED
    # the read-back showed the first callback landed: it is not repeated
    assert billing_calls.funcs() == ["service.postsuspend", "vds", "runningoperation"]


@pytest.mark.quirk("billing.silent-ok")
def test_complete_operation_swallowed_is_a_silent_no_op(billing, billing_fake, queued):
    ro = queued(301, "suspend")
    billing_fake.inject(Fault.swallow_effect(), func="service.postsuspend")
    with pytest.raises(SilentNoOpError) as info:
        billing.complete_operation(301, "suspend")
    assert info.value.quirk == "billing.silent-ok"
    assert [o.id for o in billing_fake.running_operations()] == [ro]


def test_complete_operation_refuses_unknown_commands_and_services(billing, billing_fake):
    with pytest.raises(InvalidArgumentError):
        billing.complete_operation(301, "reboot")
    assert billing_fake.calls == []
    with pytest.raises(NotFoundError):
        billing.complete_operation(999, "suspend")


# ------------------------------------------------------------------------------ failure path
def test_record_operation_error_exact_call_sequence(billing, billing_fake, billing_calls, queued):
    ro = queued(301, "suspend")
    error = ModuleError(type="server_error", object="server", message="nova said 500 <again>")
    found = billing.record_operation_error(ro, error)
    assert found.error_xml == module_error_xml(error)
    assert billing_calls.calls == [("runningoperation.edit", None), ("runningoperation", None)]
    form = billing_fake.calls[-2]
    assert (form.params["sok"], form.params["elid"], form.params["errorxml"]) == (
        "ok",
        str(ro),
        (
            '<doc><error type="server_error" object="server">'
            "<msg>nova said 500 &lt;again&gt;</msg></error></doc>"
        ),
    )
    assert billing_fake.running_operations()[0].errorxml == found.error_xml


def test_record_operation_error_from_a_message(billing, queued):
    ro = queued(301, "suspend")
    found = billing.record_operation_error(ro, "volume quota exceeded")
    assert found.error_xml == '<doc><error type="processing"><msg>volume quota exceeded</msg></error></doc>'
    with pytest.raises(InvalidArgumentError):
        billing.record_operation_error(ro, " ")


@pytest.mark.quirk("billing.silent-ok")
def test_record_operation_error_swallowed_is_a_silent_no_op(billing, billing_fake, queued):
    ro = queued(301, "suspend")
    billing_fake.inject(Fault.swallow_effect(), func="runningoperation.edit")
    with pytest.raises(SilentNoOpError):
        billing.record_operation_error(ro, "boom")
    assert billing_fake.running_operations()[0].errorxml == ""


def test_record_operation_error_on_an_unknown_operation(billing):
    with pytest.raises(NotFoundError):
        billing.record_operation_error(999, "boom")


def test_set_operation_manual_exact_call_sequence(billing, billing_fake, billing_calls, queued):
    ro = queued(301, "suspend")
    assert billing.set_operation_manual(ro).manual is True
    assert billing_calls.calls == [("runningoperation.setmanual", None), ("runningoperation", None)]
    action = billing_fake.calls[-2]
    assert action.params["elid"] == str(ro)
    assert "sok" not in action.params  # an action, as ISPsystem's example module sends it
    assert billing_fake.running_operations()[0].manual is True


def test_get_running_operation_reads_trycount_error_and_manual(billing, queued):
    ro = queued(301, "suspend")
    before = billing.get_running_operation(ro)
    assert (before.service_id, before.operation, before.attempts, before.error_xml, before.manual) == (
        301,
        "suspend",
        0,
        None,
        False,
    )
    billing.record_operation_error(ro, "boom")
    billing.set_operation_manual(ro)
    after = billing.get_running_operation(ro)
    assert (after.error_xml is not None, after.manual) == (True, True)
    with pytest.raises(NotFoundError):
        billing.get_running_operation(999)


def test_open_staff_task_exact_call_sequence(billing, billing_fake, billing_calls, queued):
    ro = queued(301, "suspend")
    task = billing.open_staff_task(301, ro, ModuleCommand.SUSPEND)
    assert task is not None
    assert (task.service_id, task.running_operation) == (301, ro)
    assert billing_calls.calls == [
        ("task.gettype", None),  # operation=suspend -> task_type
        ("task", None),  # look before creating: no task of that type for the service yet
        ("task.edit", None),  # sok=ok item= runningoperation= type=
        ("task", None),  # post-condition: the task is listed
    ]
    gettype, form = billing_fake.calls[-4], billing_fake.calls[-2]
    assert gettype.params["operation"] == "suspend"
    assert {k: form.params[k] for k in ("sok", "item", "runningoperation", "type")} == {
        "sok": "ok",
        "item": "301",
        "runningoperation": str(ro),
        "type": task.type,
    }


def test_open_staff_task_twice_opens_one_task(billing, billing_fake, billing_calls, queued):
    ro = queued(301, "suspend")
    first = billing.open_staff_task(301, ro, "suspend")
    billing_calls.clear()
    assert billing.open_staff_task(301, ro, "suspend") == first
    assert billing_calls.funcs() == ["task.gettype", "task"]  # found it; task.edit is not sent
    assert len(billing_fake.tasks()) == 1


def test_open_staff_task_answer_dropped_after_the_effect_then_retried_opens_one_task(
    billing, billing_fake, queued
):
    ro = queued(301, "suspend")
    billing_fake.inject(Fault.drop_after_effect(), func="task.edit")
    task = billing.open_staff_task(301, ro, "suspend")
    assert [t.id for t in billing_fake.tasks()] == [task.id]
    assert [c.func for c in billing_fake.calls].count("task.edit") == 1
    # the whole failure path runs again (a retried saga step): still one task
    assert billing.open_staff_task(301, ro, "suspend") == task
    assert len(billing_fake.tasks()) == 1


def test_open_staff_task_when_billing_has_no_task_type(billing, billing_fake, billing_calls, queued):
    ro = queued(301, "suspend")
    assert billing.open_staff_task(301, ro, "sync_item") is None
    assert billing_calls.funcs() == ["task.gettype"]
    assert billing_fake.tasks() == []


@pytest.mark.quirk("billing.silent-ok")
def test_open_staff_task_swallowed_is_a_silent_no_op(billing, billing_fake, queued):
    ro = queued(301, "suspend")
    billing_fake.inject(Fault.swallow_effect(), func="task.edit")
    with pytest.raises(SilentNoOpError):
        billing.open_staff_task(301, ro, "suspend")
    assert billing_fake.tasks() == []


def test_the_whole_failure_path_as_a_module_runs_it(billing, billing_fake, billing_calls, queued):
    """Error recorded, then past the try limit: manual plus one staff task; run twice, still one task."""
    ro = queued(301, "suspend")
    for _ in range(2):
        billing.record_operation_error(ro, ModuleError(type="timeout", message="nova"))
        billing.set_operation_manual(ro)
        billing.open_staff_task(301, ro, "suspend")
    (op,) = billing_fake.running_operations()
    assert (op.manual, "timeout" in op.errorxml) == (True, True)
    assert len(billing_fake.tasks()) == 1
    assert billing_calls.funcs().count("task.edit") == 1


# ------------------------------------------------------------------------------ sync
def test_set_service_status_exact_call_sequence(billing, billing_fake, billing_calls):
    billing.login()
    billing_calls.clear()
    assert billing.set_service_status(303, ServiceStatus.ACTIVE).status is ServiceStatus.ACTIVE
    assert billing_calls.funcs() == ["service.setstatus", "vds"]
    assert billing_fake.calls[-2].params["service_status"] == "2"
    assert billing.set_service_status(303, ServiceStatus.SUSPENDED).status is ServiceStatus.SUSPENDED
    assert billing_fake.calls[-2].params["service_status"] == "8"


def test_set_service_status_refuses_other_statuses_before_any_request(billing, billing_fake):
    with pytest.raises(InvalidArgumentError):
        billing.set_service_status(301, ServiceStatus.DELETED)
    assert billing_fake.calls == []


# ------------------------------------------------------------------------------ scope
ADMIN_ONLY = [
    lambda b: b.get_running_operation(701),
    lambda b: b.complete_operation(301, "suspend"),
    lambda b: b.record_operation_error(701, "boom"),
    lambda b: b.set_operation_manual(701),
    lambda b: b.list_staff_tasks(),
    lambda b: b.open_staff_task(301, 701, "suspend"),
    lambda b: b.set_service_status(301, ServiceStatus.ACTIVE),
]


@pytest.mark.quirk("billing.su-scope")
@pytest.mark.parametrize("operation", ADMIN_ONLY)
def test_admin_callbacks_on_an_as_user_view_are_refused_before_any_request(billing, billing_fake, operation):
    with pytest.raises(ScopeError) as info:
        operation(billing.as_user("alice"))
    assert info.value.quirk == "billing.su-scope"
    assert "alice" in str(info.value)
    assert billing_fake.calls == []


@pytest.mark.quirk("billing.su-scope")
@pytest.mark.parametrize("operation", ADMIN_ONLY)
def test_admin_callbacks_on_a_users_own_client_are_refused(make_billing, billing_fake, operation):
    alice = make_billing(username="alice", password="alice-pass", is_admin=False)
    with pytest.raises(ScopeError):
        operation(alice)
    assert billing_fake.calls == []
