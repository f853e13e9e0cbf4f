"""The billing fake drives a processing module as BILLmanager does (issue 11, item 6).

The module is a stub script in a temporary directory, run by the fake as a subprocess: it prints its
features, then for a command it calls the fake back over HTTP (stdlib urllib only) or fails with an
error document and exit 1, as ``STUB_*`` variables in ``module_env`` say. Nothing sleeps: the tests
wait for the fake's background runs (`wait_for_module_runs`) or on a FIFO the stub blocks on.
"""

from __future__ import annotations

import json
import os
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cloudkit.testing.fakes import BillingFake, FakeModuleRun

ADMIN = "admin:secret"
ALICE = "alice:alice-pass"
IN_PROGRESS, ACTIVE, SUSPENDED, ORDERED = 5, 2, 3, 1
WAIT = 60.0  # generous: a slow CI host starts Python slowly; nothing waits this long when it works

STUB = textwrap.dedent(
    '''
    """A processing module stub: features, then one command, calling the billing fake back."""
    import argparse, json, os, sys, urllib.parse, urllib.request

    env = os.environ
    URL = env["CLOUDKIT_BILLING_URL"]
    AUTH = env["CLOUDKIT_BILLING_USERNAME"] + ":" + env["CLOUDKIT_BILLING_PASSWORD"]
    FAMILY = env["CLOUDKIT_BILLING_SERVICES"]
    ERROR = '<doc><error type="stub" object="server"><msg>it broke</msg></error></doc>'

    def call(func, **params):
        data = urllib.parse.urlencode({"func": func, "authinfo": AUTH, "out": "json", **params}).encode()
        with urllib.request.urlopen(urllib.request.Request(URL, data=data), timeout=30) as reply:
            doc = json.load(reply)["doc"]
        if "error" in doc:
            raise SystemExit(f"billing said no: {doc['error']}")
        return doc

    parser = argparse.ArgumentParser()
    parser.add_argument("--command", required=True)
    parser.add_argument("--item", type=int)
    parser.add_argument("--runningoperation", type=int)
    args = parser.parse_args()

    if args.command == "features":
        features = "".join(f'<feature name="{f}"/>' for f in env["STUB_FEATURES"].split(","))
        print(f'<doc><itemtypes><itemtype name="{env.get("STUB_ITEMTYPE", "cloudserver")}"/></itemtypes>'
              f'<params><param name="token" crypted="yes"/></params><features>{features}</features></doc>')
        raise SystemExit(0)

    gate = env.get("STUB_GATE")
    if gate:
        with open(gate) as fifo:  # blocks until the test opens the other end
            fifo.read()
    ro = str(args.runningoperation)
    (op,) = [o for o in call("runningoperation").get("elem", []) if o["id"]["$"] == ro]
    trycount = int(op["trycount"]["$"])
    mode = env.get("STUB_MODE", "ok")
    if mode == "fail" and trycount > int(env.get("STUB_FAIL_TIMES", "999")):
        mode = "ok"
    if mode == "ok":
        if args.command == "open":
            form = call(f"{FAMILY}.edit", elid=str(args.item))
            print(json.dumps({k: v["$"] for k, v in form.items() if isinstance(v, dict) and "$" in v}))
        call(f"service.post{args.command}", elid=str(args.item), sok="ok")
        raise SystemExit(0)
    if mode == "silent":
        raise SystemExit(0)
    if mode in {"fail-record", "fail-manual"}:  # what ISPsystem's module base does
        call("runningoperation.edit", elid=ro, sok="ok", errorxml=ERROR.replace("stub", "recorded"))
        if mode == "fail-manual" and trycount >= int(env["STUB_LIMIT"]):
            call("runningoperation.setmanual", elid=ro)
            kind = call("task.gettype", operation=args.command)["task_type"]["$"]
            call("task.edit", sok="ok", item=str(args.item), runningoperation=ro, type=kind)
    print(ERROR)
    raise SystemExit(1)
    '''
)


@pytest.fixture(scope="module")
def stub(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    path = tmp_path_factory.mktemp("pm") / "pmstub.py"
    path.write_text(STUB)
    return [sys.executable, str(path)]


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    with httpx.Client(trust_env=False, timeout=30.0) as client:
        yield client


def make_fake(stub: list[str], *, features: str = "open,suspend,resume,close", **kw: Any) -> BillingFake:
    env = {"STUB_FEATURES": features, **kw.pop("env", {})}
    return BillingFake(processing_module=stub, module_env=env, **kw)


def send(http: httpx.Client, fake: BillingFake, auth: str = ADMIN, **params: str) -> dict[str, Any]:
    response = http.post(fake.url, data={"authinfo": auth, **params})
    assert response.status_code == 200
    doc: dict[str, Any] = response.json()["doc"]
    assert "error" not in doc, doc
    return doc


def commands(fake: BillingFake) -> list[str]:
    return [run.command for run in fake.module_runs]


# ------------------------------------------------------------------------------ the happy path
def test_suspend_runs_the_module_with_the_real_arguments(stub, http):
    with make_fake(stub) as fake:
        send(http, fake, func="vds.suspend", elid="301")
        assert fake.wait_for_module_runs(WAIT)
        features, run = fake.module_runs
    assert features == FakeModuleRun(
        (*stub, "--command", "features"), "features", None, None, 0, features.stdout, ""
    )
    assert run.argv == (*stub, "--command", "suspend", "--item", "301", "--runningoperation", "701")
    assert (run.command, run.item_id, run.running_operation, run.exit_code) == ("suspend", 301, 701, 0)
    assert fake.service_status(301) == SUSPENDED
    assert fake.running_operations() == []
    assert fake.tasks() == []


def test_features_run_once_for_every_command(stub, http):
    with make_fake(stub) as fake:
        send(http, fake, func="vds.suspend", elid="301")
        assert fake.wait_for_module_runs(WAIT)
        send(http, fake, func="vds.resume", elid="301, 303")
        send(http, fake, func="vds.delete", elid="302")
        assert fake.wait_for_module_runs(WAIT)
        assert commands(fake).count("features") == 1
        assert sorted(commands(fake)[1:]) == ["close", "resume", "resume", "suspend"]
        assert [fake.service_status(i) for i in (301, 303)] == [ACTIVE, ACTIVE]
        assert send(http, fake, func="vds")["p_elems"] == {"$": "2"}  # 302 is deleted


def open_gate(gate: Path) -> TextIO:
    """Open the writing end of the stub's FIFO: this returns once the module runs and waits on it."""
    opened: list[TextIO] = []
    opener = threading.Thread(target=lambda: opened.append(gate.open("w")), daemon=True)
    opener.start()
    opener.join(WAIT)
    assert opened, "the module never reached its gate"
    return opened[0]


def test_in_progress_until_the_module_calls_back(stub, http, tmp_path):
    gate = tmp_path / "gate"
    os.mkfifo(gate)
    with make_fake(stub, env={"STUB_GATE": str(gate)}) as fake:
        send(http, fake, func="vds.suspend", elid="301")  # answers at once: the module runs behind
        assert fake.service_status(301) == IN_PROGRESS
        with open_gate(gate):  # the module is running now, held before its callback
            assert fake.service_status(301) == IN_PROGRESS
            (op,) = fake.running_operations()
            assert (op.service_id, op.name, op.trycount, op.manual) == (301, "suspend", 1, False)
            row = send(http, fake, func="runningoperation")["elem"][0]
            assert (row["name"], row["trycount"]) == ({"$": "suspend"}, {"$": "1"})
            assert not fake.wait_for_module_runs(0.0)
        assert fake.wait_for_module_runs(WAIT)  # closing the gate let it call back
        assert fake.service_status(301) == SUSPENDED
        assert fake.running_operations() == []


def test_a_module_that_never_calls_back_leaves_the_service_in_progress(stub, http):
    with make_fake(stub, env={"STUB_MODE": "silent"}) as fake:
        send(http, fake, func="vds.suspend", elid="301")
        assert fake.wait_for_module_runs(WAIT)
        assert fake.service_status(301) == IN_PROGRESS
        (op,) = fake.running_operations()
        assert (op.trycount, op.errorxml, op.manual) == (1, "", False)
        assert commands(fake) == ["features", "suspend"]  # exit 0: billing does not run it again


def test_order_stores_item_params_and_the_module_opens_the_service(stub, http):
    with make_fake(stub) as fake:
        doc = send(
            http,
            fake,
            ALICE,
            func="vds.order.param",
            pricelist="12",
            period="1",
            skipbasket="on",
            sok="ok",
            image="img-1",
            flavor="m1.small",
            system_volume_gb="10",
        )
        item = int(doc["id"]["$"])
        assert fake.wait_for_module_runs(WAIT)
        run = fake.module_runs[-1]
        form = send(http, fake, func="cloudserver.edit", elid=str(item))
    assert item == 304
    assert run.argv[len(stub) :] == ("--command", "open", "--item", "304", "--runningoperation", "701")
    assert run.exit_code == 0
    seen = json.loads(run.stdout)  # the module read its plan through cloudserver.edit
    assert {k: seen[k] for k in ("image", "flavor", "system_volume_gb", "account_id")} == {
        "image": "img-1",
        "flavor": "m1.small",
        "system_volume_gb": "10",
        "account_id": "1",
    }
    assert form["processingmodule"] == {"$": "1"}
    assert fake.service_status(304) == ACTIVE
    assert fake.service_params(304) == {
        "pricelist": "12",
        "period": "1",
        "image": "img-1",
        "flavor": "m1.small",
        "system_volume_gb": "10",
    }


def test_order_without_skipbasket_stays_ordered_and_runs_nothing(stub, http):
    with make_fake(stub) as fake:
        doc = send(http, fake, ALICE, func="vds.order.param", pricelist="12", period="1", sok="ok")
        assert fake.wait_for_module_runs(WAIT)
        assert fake.service_status(int(doc["id"]["$"])) == ORDERED
        assert fake.module_runs == []  # no first use yet: not even the features handshake
        assert fake.running_operations() == []


# ------------------------------------------------------------------------------ failures
def test_failure_counts_tries_stores_errorxml_then_manual_and_one_task(stub, http):
    with make_fake(stub, env={"STUB_MODE": "fail"}, module_max_tries=3) as fake:
        send(http, fake, func="vds.suspend", elid="301")
        assert fake.wait_for_module_runs(WAIT)
        (op,) = fake.running_operations()
        tasks = fake.tasks()
    assert commands(fake) == ["features", "suspend", "suspend", "suspend"]
    assert [run.exit_code for run in fake.module_runs] == [0, 1, 1, 1]
    assert (op.trycount, op.manual) == (3, True)
    assert op.errorxml == '<doc><error type="stub" object="server"><msg>it broke</msg></error></doc>'
    assert [(t.service_id, t.running_operation, t.type) for t in tasks] == [(301, op.id, "2")]
    assert fake.service_status(301) == IN_PROGRESS


def test_the_errorxml_the_module_recorded_wins_over_its_output(stub, http):
    with make_fake(stub, env={"STUB_MODE": "fail-record"}, module_max_tries=1) as fake:
        send(http, fake, func="vds.suspend", elid="301")
        assert fake.wait_for_module_runs(WAIT)
        (op,) = fake.running_operations()
    assert 'type="recorded"' in op.errorxml
    assert op.manual
    assert len(fake.tasks()) == 1


def test_a_module_that_sets_manual_and_opens_its_task_gets_no_second_task(stub, http):
    env = {"STUB_MODE": "fail-manual", "STUB_LIMIT": "2"}
    with make_fake(stub, env=env, module_max_tries=2) as fake:
        send(http, fake, func="vds.resume", elid="303")
        assert fake.wait_for_module_runs(WAIT)
        (op,) = fake.running_operations()
        (task,) = fake.tasks()
    assert (op.trycount, op.manual) == (2, True)
    assert (task.service_id, task.running_operation, task.type) == (303, op.id, "3")


def test_module_sets_manual_before_the_limit_no_more_runs(stub, http):
    env = {"STUB_MODE": "fail-manual", "STUB_LIMIT": "1"}
    with make_fake(stub, env=env, module_max_tries=5) as fake:
        send(http, fake, func="vds.resume", elid="303")
        assert fake.wait_for_module_runs(WAIT)
        assert commands(fake) == ["features", "resume"]
        assert len(fake.tasks()) == 1


def test_without_auto_retry_the_test_runs_the_next_try(stub, http):
    env = {"STUB_MODE": "fail", "STUB_FAIL_TIMES": "1"}
    with make_fake(stub, env=env, module_auto_retry=False) as fake:
        send(http, fake, func="vds.delete", elid="302")
        assert fake.wait_for_module_runs(WAIT)
        (op,) = fake.running_operations()
        assert (op.trycount, op.manual) == (1, False)
        assert "it broke" in op.errorxml
        assert fake.run_pending_modules() == [op.id]
        assert fake.run_pending_modules() == []  # already under way or done
        assert fake.wait_for_module_runs(WAIT)
        assert fake.running_operations() == []
        assert commands(fake) == ["features", "close", "close"]
        with pytest.raises(KeyError):
            fake.service_params(999)


def test_a_module_that_cannot_start_is_a_failed_features_handshake(tmp_path, http):
    with BillingFake(processing_module=str(tmp_path / "missing"), module_max_tries=1) as fake:
        send(http, fake, func="vds.suspend", elid="301")
        assert fake.wait_for_module_runs(WAIT)
        (run,) = fake.module_runs
        (op,) = fake.running_operations()
    assert (run.command, run.exit_code) == ("features", None)
    assert "could not start" in run.stderr
    assert "features are unknown" in op.errorxml
    assert op.manual
    assert op.trycount == 0


def test_a_run_past_module_timeout_is_a_failed_try(stub, http, tmp_path):
    gate = tmp_path / "never"
    os.mkfifo(gate)  # nobody opens the other end: the module blocks until the timeout kills it
    with make_fake(stub, env={"STUB_GATE": str(gate)}, module_max_tries=1, module_timeout=0.2) as fake:
        send(http, fake, func="vds.suspend", elid="301")
        assert fake.wait_for_module_runs(WAIT)
        (op,) = fake.running_operations()
    assert fake.module_runs[-1].exit_code is None
    assert "module_timeout" in fake.module_runs[-1].stderr
    assert op.manual
    assert "the processing module failed" in op.errorxml


# ------------------------------------------------------------------------------ features
def test_a_command_not_in_features_is_never_run(stub, http):
    with make_fake(stub, features="open,resume") as fake:
        send(http, fake, func="vds.suspend", elid="301")
        assert fake.wait_for_module_runs(WAIT)
        (op,) = fake.running_operations()
    assert commands(fake) == ["features"]
    assert "does not support the command 'suspend'" in op.errorxml
    assert (op.manual, op.trycount) == (True, 0)
    assert fake.tasks() == []
    assert fake.service_status(301) == IN_PROGRESS


def test_a_module_for_another_item_type_is_never_run(stub, http):
    with make_fake(stub, env={"STUB_ITEMTYPE": "vds"}) as fake:
        send(http, fake, func="vds.suspend", elid="301")
        assert fake.wait_for_module_runs(WAIT)
        (op,) = fake.running_operations()
    assert commands(fake) == ["features"]
    assert "does not serve item type 'cloudserver'" in op.errorxml


# ------------------------------------------------------------------------------ defaults, secrets
def test_the_default_fake_runs_no_module(http):
    with BillingFake() as fake:
        send(http, fake, func="vds.suspend", elid="301")
        assert fake.service_status(301) == SUSPENDED
        assert fake.module_runs == []
        assert fake.wait_for_module_runs(0.0)
        assert fake.run_pending_modules() == []
        fake.complete_operations = False
        send(http, fake, func="vds.resume", elid="301")
        assert [o.name for o in fake.running_operations()] == ["resume"]
        assert fake.module_runs == []


def test_module_env_secrets_never_show(stub, http):
    secret = "pm-pass-5f1c9a"
    env = {"STUB_FEATURES": "suspend", "CLOUDKIT_BILLING_PASSWORD": secret}
    with BillingFake(processing_module=stub, module_env=env, admin_password=secret) as fake:
        send(http, fake, f"admin:{secret}", func="vds.suspend", elid="301")
        assert fake.wait_for_module_runs(WAIT)
        assert fake.service_status(301) == SUSPENDED  # the module logged in with module_env's password
        shown = repr(fake) + repr(fake.module_runs) + repr(fake.calls)
    assert secret not in shown


def test_reset_forgets_the_runs_and_asks_for_features_again(stub, http):
    with make_fake(stub) as fake:
        send(http, fake, func="vds.suspend", elid="301")
        assert fake.wait_for_module_runs(WAIT)
        fake.reset()
        assert fake.module_runs == []
        send(http, fake, func="vds.suspend", elid="301")
        assert fake.wait_for_module_runs(WAIT)
        assert commands(fake) == ["features", "suspend"]


def test_a_swallowed_write_runs_no_module(stub, http):
    from cloudkit.testing.fakes import Fault

    with make_fake(stub) as fake:
        fake.inject(Fault.swallow_effect(), func="vds.suspend")
        send(http, fake, func="vds.suspend", elid="301")
        assert fake.wait_for_module_runs(WAIT)
        assert fake.module_runs == []
        assert fake.service_status(301) == ACTIVE


def test_constructor_checks(stub):
    with pytest.raises(ValueError, match="module_max_tries"):
        BillingFake(processing_module=stub, module_max_tries=0)
    with pytest.raises(ValueError, match="empty argv"):
        BillingFake(processing_module=[])


# ------------------------------------------------------------------------------ property
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(max_tries=st.integers(1, 3), failures=st.integers(0, 4))
def test_tries_until_success_or_the_limit(stub, http, max_tries, failures):
    env = {"STUB_MODE": "fail", "STUB_FAIL_TIMES": str(failures)}
    with make_fake(stub, env=env, module_max_tries=max_tries) as fake:
        send(http, fake, func="vds.suspend", elid="301")
        assert fake.wait_for_module_runs(WAIT)
        operations, tasks = fake.running_operations(), fake.tasks()
    tries = [run for run in fake.module_runs if run.command == "suspend"]
    if failures < max_tries:
        assert len(tries) == failures + 1
        assert operations == []
        assert tasks == []
        assert fake.service_status(301) == SUSPENDED
    else:
        assert len(tries) == max_tries
        (op,) = operations
        assert (op.trycount, op.manual) == (max_tries, True)
        assert len(tasks) == 1
    assert [run.running_operation for run in tries] == [701] * len(tries)


# ------------------------------------------------------------------------------ order and edit, no module
@pytest.fixture
def wire() -> Iterator[tuple[BillingFake, Any]]:
    fake = BillingFake()
    with httpx.Client(transport=fake.transport(), base_url="http://billing.test") as client:

        def call(auth: str = ADMIN, **params: str) -> dict[str, Any]:
            doc: dict[str, Any] = client.post("/billmgr", data={"authinfo": auth, **params}).json()["doc"]
            return doc

        yield fake, call


ORDER = {"func": "vds.order.param", "sok": "ok", "pricelist": "12", "period": "1", "skipbasket": "on"}


def test_order_without_a_module_opens_at_once_or_queues(wire):
    fake, call = wire
    item = int(call(ALICE, **ORDER, domain="web-1")["id"]["$"])
    assert (fake.service_status(item), fake.running_operations()) == (ACTIVE, [])
    fake.complete_operations = False
    queued = int(call(ALICE, **ORDER)["id"]["$"])
    assert fake.service_status(queued) == IN_PROGRESS
    assert [(o.service_id, o.name) for o in fake.running_operations()] == [(queued, "open")]
    rows = {r["id"]["$"]: r["name"]["$"] for r in call(func="cloudserver")["elem"]}
    assert (rows[str(item)], rows[str(queued)]) == ("web-1", f"vm-{queued}")
    assert "processingmodule" not in call(func="vds.edit", elid=str(item))
    assert fake.module_runs == []


def test_order_form_and_bad_input(wire):
    _fake, call = wire
    assert call(ALICE, func="vds.order.param", pricelist="12") == {"pricelist": {"$": "12"}}
    assert call(ALICE, **{**ORDER, "period": "monthly"})["error"]["$object"] == "period"
    assert call(ALICE, **{**ORDER, "pricelist": ""})["error"]["$type"] == "missed"
    assert call(ALICE, **{**ORDER, "period": "-100"})["ok"] == {}  # trial: a documented special value


def test_an_admin_order_without_su_is_the_silent_no_op(wire):
    fake, call = wire
    doc = call(**ORDER)
    assert doc["ok"] == {}
    assert int(doc["id"]["$"]) not in [int(r["id"]["$"]) for r in call(func="vds")["elem"]]
    assert call(**ORDER, su="alice")["id"] == {"$": "305"}  # 304 was handed out, never used
    assert fake.service_status(305) == ACTIVE


def test_edit_reads_and_updates_item_params_in_scope(wire):
    fake, call = wire
    item = str(call(ALICE, **ORDER, image="img-1")["id"]["$"])
    form = call(ALICE, func="vds.edit", elid=item)
    assert {k: form[k]["$"] for k in ("id", "name", "status", "account_id", "image", "period")} == {
        "id": item,
        "name": f"vm-{item}",
        "status": "2",
        "account_id": "1",
        "image": "img-1",
        "period": "1",
    }
    assert call(ALICE, func="vds.edit", elid=item, sok="ok", image="img-2", status="4")["ok"] == {}
    assert fake.service_params(int(item))["image"] == "img-2"
    assert fake.service_status(int(item)) == ACTIVE  # the item's own fields are not params
    assert call("bob:bob-pass", func="vds.edit", elid=item)["error"]["$type"] == "missed"
    assert call(func="cloudserver.edit", elid=item)["image"] == {"$": "img-2"}
    assert call(func="cloudserver.nothing")["error"]["$type"] == "unknown"
