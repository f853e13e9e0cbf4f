"""Stateful test: provision, suspend, resume and close of a few billing items under injected faults in all
three fakes and worker kills at any step.

A plain-Python model is the oracle. Before a command a fault may be armed (5xx, WSREP, a connection
dropped before or after the effect, an answer held past the client's timeout) and a kill may be armed at
a step (before it acts or after, the effect landed and not recorded). After the command the faults are
lifted, the clock moves past leases and backoffs and sweeps run until nothing is due; a saga that
stopped in NEEDS_OPERATOR is retried. Then: every saga is final; the cloud holds exactly the model's
servers, volumes, ports and one network per customer, nothing else (no duplicate, no orphan); billing
agrees with the cloud; each running operation got exactly one completion callback.
"""

import attrs
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from cloudkit.lifecycle import SagaState, ServerPlan, SuspendReason
from cloudkit.testing.fakes import Fault

ITEMS = 3  # items 0 and 1 belong to one customer, item 2 to another

FAULTS = st.sampled_from(
    [
        ("cloud", Fault.wsrep(), {"method": "POST", "path": "/servers"}),
        ("cloud", Fault.drop_after_effect(), {"method": "POST", "path": "/servers"}),
        ("cloud", Fault.drop_connection(), {"method": "GET", "path": "/servers/detail"}),
        ("cloud", Fault.server_error(503), {"method": "POST", "path": "/servers/{id}/action"}),
        ("cloud", Fault.wsrep(), {"method": "DELETE", "path": "/servers/{id}"}),
        ("cloud", Fault.server_error(500), {"method": "POST", "path": "/projects"}),
        (
            "tf",
            Fault.server_error(503, "No connection to zookeeper."),
            {"method": "POST", "path": "/virtual-networks"},
        ),
        ("tf", Fault.drop_after_effect(), {"method": "POST", "path": "/virtual-machine-interfaces"}),
        ("tf", Fault.drop_connection(), {"method": "POST", "path": "/instance-ips"}),
        ("tf", Fault.slow(timeout=0.8), {"method": "POST", "path": "/virtual-machine-interfaces"}),
        ("tf", Fault.wsrep(), {"method": "DELETE", "path": "/virtual-machine-interface/{id}"}),
        ("billing", Fault.server_error(502), {"func": "service.postopen"}),
        ("billing", Fault.drop_after_effect(), {"func": "service.postsuspend"}),
        ("billing", Fault.drop_connection(), {"func": "runningoperation"}),
        ("billing", Fault.server_error(503), {"func": "service.postclose"}),
    ]
)
KILLS = st.none() | st.tuples(
    st.sampled_from(["customer", "network", "port", "server", "addresses", "volumes", "billing"]),
    st.sampled_from(["before", "after"]),
)


class WorkerKilled(BaseException):
    """A worker dying mid-step: not an Exception, so nothing in the engine catches it."""


class Sagas(RuleBasedStateMachine):
    world = None  # set by the test

    @initialize()
    def start(self):
        world = self.world
        world.reset()
        self.lifecycle = world.lifecycle(max_attempts=3, lease_seconds=900, step_wait=600)
        self.accounts = [world.customer("cust-a"), world.customer("cust-b")]
        self.items = [world.service("cust-a"), world.service("cust-a"), world.service("cust-b")]
        self.plan = ServerPlan(image=world.image(), flavor="2", system_volume_gb=1)
        self.model: dict[int, str] = {}  # item -> active | suspended | closed
        self.ops: dict[tuple[int, str], int] = {}  # (item, command) -> running operations made

    def teardown(self):
        if self.world is not None:
            self.world.shutdown()

    # ------------------------------------------------------------------------------ helpers
    def _arm(self, fault, kill):
        if fault is not None:
            system, kind, match = fault
            getattr(self.world, system).inject(kind, times=1, **match)
        if kill is None:
            return
        name, when = kill
        engine = self.lifecycle.engine
        fired = []

        def wrap(act):
            def act_with_kill(ctx):
                if when == "before" and not fired:
                    fired.append(1)
                    raise WorkerKilled
                result = act(ctx)
                if when == "after" and not fired:
                    fired.append(1)
                    raise WorkerKilled
                return result

            return act_with_kill

        self._steps = engine.steps
        engine.steps = {
            op: tuple(attrs.evolve(s, act=wrap(s.act)) if s.name == name else s for s in steps)
            for op, steps in engine.steps.items()
        }

    def _command(self, index, command, fault, kill, **kwargs):
        item = self.items[index]
        ro = self.world.queue(item, command)
        self.ops[(item, command)] = self.ops.get((item, command), 0) + 1
        self._steps = None
        self._arm(fault, kill)
        call = getattr(self.lifecycle, {"open": "provision"}.get(command, command))
        try:
            if command == "open":
                call(item, self.accounts[index // 2], self.plan, running_operation=ro)
            else:
                call(item, running_operation=ro, **kwargs)
        except WorkerKilled:
            pass
        finally:
            if self._steps is not None:
                self.lifecycle.engine.steps = self._steps
        self._settle(item, command)

    def _settle(self, item, command):
        """Faults stop, time passes, sweeps run; a saga that needs an operator is retried once."""
        world, lifecycle = self.world, self.lifecycle
        world.lift_faults()
        world.tf.release_slow()
        for _ in range(10):
            world.clock.advance(lifecycle.settings.lease_seconds + lifecycle.settings.backoff_max + 1)
            if not lifecycle.run_due():
                break
        (saga,) = [s for s in lifecycle.sagas(item=item) if s.operation == command][:1]
        assert saga.state.final, saga
        if saga.state is SagaState.NEEDS_OPERATOR:
            saga = lifecycle.retry(saga.id)
        assert saga.state is SagaState.DONE, (saga.state, saga.last_error)

    # ------------------------------------------------------------------------------ rules
    @precondition(lambda self: any(i not in self.model for i in self.items))
    @rule(index=st.integers(0, ITEMS - 1), fault=st.none() | FAULTS, kill=KILLS)
    def provision(self, index, fault, kill):
        if self.items[index] in self.model:
            return
        self._command(index, "open", fault, kill)
        self.model[self.items[index]] = "active"

    @precondition(lambda self: "active" in self.model.values())
    @rule(index=st.integers(0, ITEMS - 1), fault=st.none() | FAULTS, kill=KILLS)
    def suspend(self, index, fault, kill):
        if self.model.get(self.items[index]) != "active":
            return
        self._command(index, "suspend", fault, kill, reason=SuspendReason.NONPAYMENT)
        self.model[self.items[index]] = "suspended"

    @precondition(lambda self: "suspended" in self.model.values())
    @rule(index=st.integers(0, ITEMS - 1), fault=st.none() | FAULTS, kill=KILLS)
    def resume(self, index, fault, kill):
        if self.model.get(self.items[index]) != "suspended":
            return
        self._command(index, "resume", fault, kill)
        self.model[self.items[index]] = "active"

    @precondition(lambda self: any(v in ("active", "suspended") for v in self.model.values()))
    @rule(index=st.integers(0, ITEMS - 1), fault=st.none() | FAULTS, kill=KILLS)
    def close(self, index, fault, kill):
        if self.model.get(self.items[index]) not in ("active", "suspended"):
            return
        self._command(index, "close", fault, kill)
        self.model[self.items[index]] = "closed"

    @rule()
    def time_passes(self):
        self.world.clock.advance(3600)
        assert self.lifecycle.run_due() == []  # nothing is left due between commands

    # ------------------------------------------------------------------------------ invariants
    @invariant()
    def every_saga_is_final(self):
        assert all(s.state.final for s in self.lifecycle.sagas())

    @invariant()
    def the_cloud_holds_exactly_the_model(self):
        world = self.world
        live = {item: state for item, state in self.model.items() if state != "closed"}
        servers = world.cloud.servers()
        by_item = {}
        for server in servers:
            (tag,) = [t for t in server.tags if t.startswith("cloudkit-item:")]
            item = int(tag.split(":")[1])
            assert item not in by_item, f"two servers for item {item}"
            by_item[item] = server
        assert set(by_item) == set(live), "a server without a live item, or a live item without one"
        for item, state in live.items():
            server = by_item[item]
            expected = ("ACTIVE", False) if state == "active" else ("SHUTOFF", True)
            assert (server.status, server.locked) == expected
        volumes = world.cloud.volumes()
        assert sorted(v.id for v in volumes) == sorted(s.root_volume_id for s in servers)
        ports = [p["fq_name"][-1] for p in world.tf.objects("virtual-machine-interface")]
        assert sorted(ports) == sorted(f"cloudkit-item-{item}" for item in live)
        assert len(world.tf.objects("instance-ip")) == len(ports)
        networks = [
            n["fq_name"] for n in world.tf.objects("virtual-network") if n["fq_name"][-1] == "cloudkit-net"
        ]
        assert len(networks) == len({tuple(n) for n in networks}) <= 2

    @invariant()
    def billing_agrees_and_heard_once_per_operation(self):
        world = self.world
        codes = {"active": 2, "suspended": 3, "closed": 4}
        for item, state in self.model.items():
            assert world.billing.service_status(item) == codes[state]
        assert world.billing.running_operations() == []
        for (item, command), made in self.ops.items():
            assert world.callbacks(command, item) == made, (item, command)


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_sagas_converge_under_faults_and_kills(world):
    Sagas.world = world
    try:
        run_state_machine_as_test(
            Sagas,
            settings=settings(
                max_examples=30,
                stateful_step_count=15,
                deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
            ),
        )
    finally:
        Sagas.world = None
