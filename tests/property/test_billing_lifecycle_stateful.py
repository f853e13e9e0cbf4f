"""Stateful test: service lifecycle and promised payments under injected faults, against the live fake.

A plain-Python model is the oracle: whatever faults are injected (5xx, dropped connections, expired
sessions), every verified operation leaves billing exactly as the model says, and no write lands twice.
"""

from decimal import Decimal

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from cloudkit.billing import BillingClient, ServiceStatus
from cloudkit.testing import FakeClock
from cloudkit.testing.fakes import BillingFake, Fault
from cloudkit.testing.plugin import CallLog, make_billing_client

SERVICES = [301, 302]
FAULTS = st.sampled_from(
    [Fault.server_error(status=503), Fault.server_error(status=502), Fault.drop_connection()]
)


class BillingLifecycle(RuleBasedStateMachine):
    fake: BillingFake

    @initialize()
    def start(self):
        self.fake = BillingFake().start()
        self.clock = FakeClock()
        self.client: BillingClient = make_billing_client(self.fake.url, self.clock, CallLog())
        self.alice = self.client.as_user("alice")
        self.status = dict.fromkeys(SERVICES, ServiceStatus.ACTIVE)
        self.balance = Decimal("150.00")
        self.promised = 0

    def teardown(self):
        if hasattr(self, "fake"):
            self.client._conn.http.close()
            self.fake.stop()

    @rule(fault=FAULTS, func=st.sampled_from(["vds", "vds.suspend", "vds.resume", "payment", "payment.add"]))
    def inject_transient_fault(self, fault, func):
        self.fake.inject(fault, func=func)

    @rule()
    def expire_sessions(self):
        self.fake.expire_sessions()

    @rule(service=st.sampled_from(SERVICES))
    def suspend(self, service):
        assert self.client.suspend_service(service).status is ServiceStatus.SUSPENDED
        self.status[service] = ServiceStatus.SUSPENDED

    @rule(service=st.sampled_from(SERVICES))
    def resume(self, service):
        assert self.client.resume_service(service).status is ServiceStatus.ACTIVE
        self.status[service] = ServiceStatus.ACTIVE

    @rule(amount=st.integers(min_value=1, max_value=500))
    def promised_payment(self, amount):
        payment = self.alice.create_promised_payment(Decimal(amount))
        assert payment.amount == amount
        self.balance += amount
        self.promised += 1

    @invariant()
    def billing_matches_the_model(self):
        if not hasattr(self, "fake"):
            return
        for service, status in self.status.items():
            assert self.fake.service_status(service) == status.value
        assert self.fake.balance_of("alice") == self.balance
        promised = [p for p in self.fake.payments_of("alice") if p.status == 3]
        assert len(promised) == self.promised  # never a duplicate payment


BillingLifecycle.TestCase.settings = settings(max_examples=15, stateful_step_count=12, deadline=None)
TestBillingLifecycle = BillingLifecycle.TestCase
