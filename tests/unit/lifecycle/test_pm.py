"""cloudkit-pm: the processing-module contract, run in-process and as the billing fake's subprocess."""

from __future__ import annotations

import io
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from cloudkit.billing import BillingClient, BillingSettings, OrderState
from cloudkit.errors import PlanError
from cloudkit.lifecycle import Lifecycle, SagaState, SuspendReason
from cloudkit.lifecycle.pm import FEATURES, ITEM_TYPE, main, read_plan
from cloudkit.testing.lifecycle import LifecycleWorld

MODULE = [sys.executable, "-m", "cloudkit.lifecycle.pm"]


def _run(*argv: str) -> tuple[int, ET.Element]:
    out = io.StringIO()
    code = main(list(argv), environ={}, out=out)
    return code, ET.fromstring(out.getvalue().split("\n", 1)[1])  # noqa: S314 - our own output  # noqa: S314 - our own output


def test_features_lists_the_item_type_params_and_features():
    code, doc = _run("--command", "features")
    assert code == 0
    assert [t.get("name") for t in doc.iter("itemtype")] == [ITEM_TYPE]
    assert [f.get("name") for f in doc.iter("feature")] == list(FEATURES)
    assert {"image", "flavor", "system_volume_gb"} <= {p.get("name") for p in doc.iter("param")}


@pytest.mark.parametrize(
    ("argv", "kind"),
    [
        (["--command", "reboot", "--item", "7"], "unknown_command"),
        (["--command", "open"], "usage"),
        (["--item", "7"], "usage"),
        (["--command", "open", "--item", "seven"], "usage"),
    ],
)
def test_bad_calls_print_an_error_document_and_exit_2(argv, kind):
    code, doc = _run(*argv)
    assert code == 2
    assert doc.find("error").get("type") == kind


def test_the_console_script_exits_non_zero_on_an_unknown_command():
    done = subprocess.run(
        [*MODULE, "--command", "transfer", "--item", "1"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 2
    assert '<error type="unknown_command"' in done.stdout


def test_read_plan_refuses_a_malformed_size():
    with pytest.raises(PlanError, match="not a whole number"):
        read_plan({"image": "i", "flavor": "f", "system_volume_gb": "ten"}, item=3)


def _module_reports(billing) -> list[str]:
    """What the module sent to report a failure (the fake's own fallback sends no request)."""
    reports = ("runningoperation.edit", "runningoperation.setmanual", "task.edit")
    return [
        c.func
        for c in billing.calls
        if c.func in reports and (c.func.endswith("setmanual") or c.params.get("sok") == "ok")
    ]


def _order(world: LifecycleWorld, login: str, **params: str) -> int:
    """The customer orders a server through the typed client (``vds.order.param``, paid at once)."""
    assert world.billing is not None
    if world.billing.account_of(login) is None:
        world.billing.add_user(login, f"{login}-pass", account_name=f"{login} Ltd")
    with BillingClient(BillingSettings(url=world.billing.url, username="admin", password="secret")) as admin:
        order = admin.as_user(login).order_service(1, params=params)
    assert order.state is OrderState.PAID
    return order.service_id


def test_an_order_and_a_clients_own_suspend_run_through_the_module(lifecycle_db_url):
    with LifecycleWorld(
        processing_module=MODULE, module_env={"CLOUDKIT_LIFECYCLE_DB": lifecycle_db_url}
    ) as world:
        billing = world.billing
        assert billing is not None
        billing.client_suspend = True
        item = _order(world, "fay", image=world.image, flavor="1", system_volume_gb="5")
        assert billing.wait_for_module_runs(120)
        assert world.billing_status(item) == "ACTIVE"
        server = world.server_of(item)
        assert server is not None
        assert server.status == "ACTIVE"

        with BillingClient(BillingSettings(url=billing.url, username="admin", password="secret")) as admin:
            admin.as_user("fay").suspend_service(item, wait=0)
            assert billing.wait_for_module_runs(120)
            assert world.billing_status(item) == "SUSPENDED_BY_CLIENT"
            assert admin.as_user("fay").resume_service(item, wait=0).id == item
            assert billing.wait_for_module_runs(120)
        assert world.billing_status(item) == "ACTIVE"
        runs = [r for r in billing.module_runs if r.command != "features"]
        assert [(r.command, r.exit_code) for r in runs] == [("open", 0), ("suspend", 0), ("resume", 0)]
        assert runs[1].argv[-4:] == ("--param", "reason", "--value", "customer")
        with Lifecycle(world.platform, db_url=lifecycle_db_url) as lifecycle:
            (_, suspend, _) = lifecycle.sagas(item=item)
            assert suspend.reason is SuspendReason.CUSTOMER


def test_billing_runs_the_module_through_a_whole_lifecycle(lifecycle_db_url):
    with LifecycleWorld(
        processing_module=MODULE, module_env={"CLOUDKIT_LIFECYCLE_DB": lifecycle_db_url}
    ) as world:
        billing = world.billing
        assert billing is not None
        item = _order(world, "erin", image=world.image, flavor="1", system_volume_gb="5")
        assert billing.wait_for_module_runs(120)
        assert world.billing_status(item) == "ACTIVE"
        server = world.server_of(item)
        assert server is not None
        assert server.status == "ACTIVE"

        with BillingClient(BillingSettings(url=billing.url, username="admin", password="secret")) as admin:
            admin.suspend_service(item, wait=0)
            assert billing.wait_for_module_runs(120)
            assert world.billing_status(item) == "SUSPENDED"
            admin.delete_service(item, wait=0)
            assert billing.wait_for_module_runs(120)
        assert world.billing_status(item) == "DELETED"
        assert world.server_of(item) is None

        runs = [r for r in billing.module_runs if r.command != "features"]
        assert [(r.command, r.exit_code) for r in runs] == [("open", 0), ("suspend", 0), ("close", 0)]
        assert runs[0].argv == (
            *MODULE,
            "--command",
            "open",
            "--item",
            str(item),
            "--runningoperation",
            str(runs[0].running_operation),
        )
        callbacks = [c.func for c in billing.calls if c.func and c.func.startswith("service.post")]
        assert callbacks == ["service.postopen", "service.postsuspend", "service.postclose"]
        assert billing.running_operations() == []
        with Lifecycle(world.platform, db_url=lifecycle_db_url) as lifecycle:
            assert [s.state for s in lifecycle.sagas(item=item)] == [SagaState.DONE] * 3


def test_a_plan_without_a_flavor_fails_before_anything_is_made_and_goes_manual(tmp_path):
    env = {"CLOUDKIT_LIFECYCLE_DB": f"sqlite:///{tmp_path / 'lc.db'}", "CLOUDKIT_PM_MAX_TRIES": "2"}
    with LifecycleWorld(processing_module=MODULE, module_env=env, module_max_tries=2) as world:
        billing = world.billing
        assert billing is not None
        item = _order(world, "frank", image=world.image, system_volume_gb="5")
        assert billing.wait_for_module_runs(120)
        runs = [r for r in billing.module_runs if r.command == "open"]
        assert [r.exit_code for r in runs] == [1, 1]
        assert '<error type="PlanError"' in runs[0].stdout
        (operation,) = billing.running_operations()
        assert operation.manual
        assert "flavor" in operation.errorxml
        assert len([t for t in billing.tasks() if t.service_id == item]) == 1
        # the module itself told billing, as ISPsystem's modules do (not the fake's fallback)
        assert _module_reports(billing) == ["runningoperation.edit", "runningoperation.edit",
                                            "runningoperation.setmanual", "task.edit"]  # fmt: skip
        assert world.cloud.servers() == []
        assert world.cloud.project_names() == ["admin", "alice", "service"]


def test_an_unreachable_database_fails_clearly_and_sends_nothing_to_the_clouds(tmp_path):
    env = {
        "CLOUDKIT_LIFECYCLE_DB": "postgresql+psycopg://saga:hunter2@127.0.0.1:1/cloudkit",
        "CLOUDKIT_PM_MAX_TRIES": "1",
    }
    with LifecycleWorld(processing_module=MODULE, module_env=env, module_max_tries=1) as world:
        billing = world.billing
        assert billing is not None
        cloud_calls = len(world.cloud.calls)
        _order(world, "gina", image=world.image, flavor="1", system_volume_gb="5")
        assert billing.wait_for_module_runs(120)
        (run,) = [r for r in billing.module_runs if r.command == "open"]
        assert run.exit_code == 1
        assert '<error type="TransportError"' in run.stdout
        assert "hunter2" not in run.stdout + run.stderr
        assert len(world.cloud.calls) == cloud_calls
        assert _module_reports(billing) == [
            "runningoperation.edit",
            "runningoperation.setmanual",
            "task.edit",
        ]
        (operation,) = billing.running_operations()
        assert "TransportError" in operation.errorxml
        assert "hunter2" not in operation.errorxml
