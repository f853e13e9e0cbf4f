"""Stateful test of the stop-rule sweep: customers spend, pay and promise in random order while sweeps run,
with faults injected in billing and OpenStack, sweeps killed half-way, and staff suspending for abuse.

After every step: nothing staff suspended was resumed. At each ``converge`` step (faults lifted, the lease
of a killed sweep run out, due sagas run, sagas needing an operator retried, one clean sweep): nobody with
money is suspended, nobody out of money (grace 0) has an active service, billing and the cloud agree on
every service, every saga is final, and no service was suspended twice in a row.
"""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from cloudkit.errors import CloudkitError, ConflictError
from cloudkit.lifecycle import ModuleCommand, SagaState, ServerPlan, StopPolicy, SuspendReason
from cloudkit.testing.fakes import Fault

LOGINS = ("cust-a", "cust-b")
ACTIVE, SUSPENDED, PROMISED = 2, 3, 3
POLICY = StopPolicy(name="test", grace_hours=0, notice_hours=(24,))

FAULTS = st.sampled_from(
    [
        ("billing", Fault.server_error(503), {"func": "account"}),
        ("billing", Fault.drop_connection(), {"func": "expense"}),
        ("billing", Fault.drop_after_effect(), {"func": "service.postsuspend"}),
        ("billing", Fault.server_error(502), {"func": "service.postresume"}),
        ("cloud", Fault.server_error(503), {"method": "POST", "path": "/servers/{id}/action"}),
        ("cloud", Fault.drop_connection(), {"method": "GET", "path": "/servers/detail"}),
    ]
)
KILLS = st.none() | st.tuples(st.sampled_from(["suspend", "resume"]), st.sampled_from(["before", "after"]))


class Killed(BaseException):
    """The sweep's worker dying: not an Exception, so the sweep neither records it nor frees its lease."""


class Sweeps(RuleBasedStateMachine):
    world = None  # set by the test

    @initialize()
    def start(self):
        world = self.world
        world.reset()
        world.billing.clock = world.now
        self.lifecycle = world.lifecycle(max_attempts=3, lease_seconds=900, step_wait=600)
        plan = ServerPlan(image=world.image(), flavor="2", system_volume_gb=1)
        self.items: dict[int, str] = {}  # item -> login
        self.staff: set[int] = set()
        for login, count in zip(LOGINS, (2, 1), strict=True):
            account = world.customer(login)
            for _ in range(count):
                item = world.service(login)
                saga = self.lifecycle.provision(
                    item, account, plan, running_operation=world.queue(item, "open")
                )
                assert saga.state is SagaState.DONE
                self.items[item] = login
        world.billing.set_credit_limit("cust-b", Decimal(10))

    def teardown(self):
        if self.world is not None:
            self.world.shutdown()

    # ------------------------------------------------------------------------------ rules
    @rule(data=st.data())
    def staff_suspends_for_abuse(self, data):
        live = sorted(i for i in self.items if i not in self.staff and self._server(i).status == "ACTIVE")
        if not live:
            return
        item = data.draw(st.sampled_from(live))
        ro = self.world.queue(item, "suspend")
        saga = self.lifecycle.suspend(item, SuspendReason.ABUSE, running_operation=ro)
        self._settle()
        if self.lifecycle.saga(saga.id).state is not SagaState.DONE:
            saga = self.lifecycle.retry(saga.id)
        assert saga.state is SagaState.DONE, saga.last_error
        self.staff.add(item)

    @rule(
        login=st.sampled_from(LOGINS),
        kind=st.sampled_from(["spend", "spend", "pay", "promise"]),
        amount=st.sampled_from([Decimal(3), Decimal(12), Decimal(30)]),
        days=st.integers(0, 2),
        hours=st.sampled_from([0, 1, 30]),
        fault=st.none() | FAULTS,
        kill=KILLS,
        settle=st.booleans(),
    )
    def money_then_sweep(self, login, kind, amount, days, hours, fault, kill, settle):  # noqa: PLR0917
        """The customer spends, pays or promises; time passes; a sweep runs (maybe faulted or killed)."""
        world, lifecycle = self.world, self.lifecycle
        billing, now = world.billing, world.now()
        if kind == "spend":
            billing.charge(login, amount, at=now)
        elif kind == "pay":
            billing.pay(login, amount)
        else:
            billing.promise(login, amount, until=(now + dt.timedelta(days=days)).date())
        world.clock.advance(hours * 3600)
        if fault is not None:
            system, fault_kind, match = fault
            getattr(world, system).inject(fault_kind, times=1, **match)
        if kill is not None:
            self._arm_kill(*kill)
        try:
            lifecycle.sweep(POLICY)
        except ConflictError:
            pass  # a killed sweep's lease is still live: refused, nothing done
        except (Killed, CloudkitError):
            pass
        finally:
            for name in ("suspend", "resume"):
                lifecycle.__dict__.pop(name, None)
            world.lift_faults()
        if settle:
            self.converge()

    def _arm_kill(self, command, when):
        lifecycle = self.lifecycle
        real = getattr(lifecycle, command)

        def dying(*args, **kwargs):
            if when == "before":
                raise Killed
            real(*args, **kwargs)
            raise Killed

        setattr(lifecycle, command, dying)  # the first suspend (or resume) of the sweep kills it

    def converge(self):
        """Faults gone, the lease of a killed sweep run out, sagas finished, then one clean sweep."""
        world, lifecycle = self.world, self.lifecycle
        world.lift_faults()
        world.clock.advance(lifecycle.settings.lease_seconds + 1)
        self._settle()
        for _ in range(2):  # the second sweep re-tries what an operator retry just unblocked
            report = lifecycle.sweep(POLICY)
            assert report.state == "done", report.errors
            self._settle()
        self._check_converged()

    # ------------------------------------------------------------------------------ helpers
    def _settle(self):
        world, lifecycle = self.world, self.lifecycle
        for _ in range(10):
            world.clock.advance(lifecycle.settings.lease_seconds + lifecycle.settings.backoff_max + 1)
            if not lifecycle.run_due():
                break
        for saga in lifecycle.sagas(state=SagaState.NEEDS_OPERATOR):
            assert lifecycle.retry(saga.id).state is SagaState.DONE  # the operator, faults lifted

    def _server(self, item):
        (server,) = [s for s in self.world.cloud.servers() if f"cloudkit-item:{item}" in s.tags]
        return server

    def _credit(self, login):
        billing = self.world.billing
        today = self.world.now().date()
        expired = sum(
            (
                p.amount
                for p in billing.payments_of(login)
                if p.status == PROMISED and p.promise_until < today
            ),
            Decimal(0),
        )
        limit = billing.credit_limit_of(login) or POLICY.default_credit_limit
        return billing.balance_of(login) + limit - expired

    def _check_converged(self):
        world, lifecycle = self.world, self.lifecycle
        assert all(s.state.final for s in lifecycle.sagas(limit=1000))
        for item, login in self.items.items():
            server = self._server(item)
            status = world.billing.service_status(item)
            cloud = (server.status, server.locked)
            # billing and the cloud agree
            assert (status, cloud) in {(ACTIVE, ("ACTIVE", False)), (SUSPENDED, ("SHUTOFF", True))}, (
                item,
                status,
            )
            if item in self.staff:
                continue
            if self._credit(login) >= 0:
                assert status == ACTIVE, f"{login} has money but item {item} is suspended"
            else:
                assert status == SUSPENDED, (
                    f"{login} is out of money past the grace but item {item} is active"
                )
            done = [s for s in reversed(lifecycle.sagas(item=item, limit=1000)) if s.state is SagaState.DONE]
            kinds = [
                s.operation for s in done if s.operation in (ModuleCommand.SUSPEND, ModuleCommand.RESUME)
            ]
            assert all(a != b for a, b in itertools.pairwise(kinds)), f"item {item}: {kinds}"

    # ------------------------------------------------------------------------------ invariants
    @invariant()
    def staff_suspensions_are_never_resumed(self):
        for item in self.staff:
            server = self._server(item)
            assert (server.status, server.locked) == ("SHUTOFF", True), item
            assert self.world.billing.service_status(item) == SUSPENDED


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_sweeps_under_faults_kills_and_staff(world):
    Sweeps.world = world
    before = world.billing.clock
    try:
        run_state_machine_as_test(
            Sweeps,
            settings=settings(
                max_examples=10,
                stateful_step_count=15,
                deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
            ),
        )
    finally:
        Sweeps.world = None
        world.billing.clock = before
