"""PortalBackend: one customer in billing, Keystone and TF; settings for a portal; replay with fakes off."""

import socket
from decimal import Decimal

import pytest

from cloudkit.billing import BillingClient
from cloudkit.errors import AuthenticationError, TransportError
from cloudkit.openstack import OpenStackClient
from cloudkit.platform import Platform
from cloudkit.session import SessionSettings
from cloudkit.testing import Fault, PortalBackend
from cloudkit.testing.fakes import LoopbackFake
from cloudkit.tungsten import TungstenClient


def _quick(backend):
    from cloudkit import RetryPolicy

    clock = backend.clock
    return RetryPolicy(attempts=2, deadline=5.0, jitter=0.0, sleep=clock.sleep, clock=clock)


def test_a_customer_logs_into_billing_and_keystone_and_tf_sees_their_project():
    with PortalBackend() as backend:
        dora = backend.add_customer("dora", balance=Decimal("42.00"))

        assert dora.password.get_secret_value() == "dora-pass"
        assert "dora-pass" not in repr(dora)
        with BillingClient(backend.billing_settings(dora)) as billing:
            assert billing.login().get_secret_value()  # the customer's own billing login
        with BillingClient(backend.billing_settings()) as admin:
            assert admin.as_user("dora").get_balance() == Decimal("42.00")
            assert dora.account_id in {a.id for a in admin.list_accounts()}

        with OpenStackClient(backend.openstack_settings(dora)) as cloud:
            identity = cloud.token_info()
            assert (identity.user_name, identity.project_name) == ("dora", "dora")
            assert identity.project_id == dora.project_id
            assert cloud.list_servers() == []

        # TF knows the project (synced from Keystone), seen by the platform's TF service account
        with TungstenClient(backend.platform().tungsten) as tf:
            net = tf.create_virtual_network(project_id=dora.project_id, name="dora-net")
            assert [n.uuid for n in tf.list_virtual_networks(project_id=dora.project_id)] == [net.uuid]
        assert backend.tungsten_fake.get("project", dora.tf_project_uuid)["fq_name"][-1] == "dora"

        # a wrong password is refused by both logins: the customer is the same in each
        wrong = type(dora)("dora", type(dora.password)("nope-nope"), dora.balance, dora.project_id, None)
        with pytest.raises(AuthenticationError), BillingClient(backend.billing_settings(wrong)) as billing:
            billing.login()
        with (
            pytest.raises(AuthenticationError),
            OpenStackClient(backend.openstack_settings(wrong), retry=_quick(backend)) as cloud,
        ):
            cloud.list_servers()


def test_environ_configures_platform_and_session_from_env():
    with PortalBackend() as backend:
        env = backend.environ()
        platform = Platform.from_env(env)
        session = SessionSettings.from_env(env)
        assert platform.billing == backend.billing_settings()
        assert platform.openstack.auth_url == backend.auth_url
        assert platform.tungsten.username == "svc-tf"
        assert (session.billing_url, session.auth_url) == (backend.billing_url, backend.auth_url)
        with BillingClient(platform.billing) as billing:
            assert billing.list_accounts()


def test_one_clock_for_the_three_fakes_and_faults_by_system():
    with PortalBackend() as backend:
        assert backend.openstack_fake._clock is backend.clock
        assert backend.tungsten_fake._clock is backend.clock
        assert backend.billing_fake.clock is backend.clock
        backend.inject(Fault.server_error(503), system="billing", func="account")
        with BillingClient(backend.billing_settings(), retry=_quick(backend)) as billing:
            assert billing.list_accounts()  # retried past the one 503
        assert [c.status for c in backend.billing_fake.calls if c.func == "account"] == [503, 200]


def test_replay_starts_no_fake_and_nothing_answers(monkeypatch):
    def refuse(self):
        raise AssertionError(f"{type(self).__name__}.start called in replay")

    monkeypatch.setattr(LoopbackFake, "start", refuse)
    with PortalBackend("replay") as backend:
        dora = backend.add_customer("dora")
        assert (backend.billing_fake, backend.openstack_fake, backend.tungsten_fake) == (None, None, None)
        assert backend.billing_url == "http://127.0.0.1:9/billmgr"
        assert backend.auth_url.startswith("http://127.0.0.1:9/")
        assert dora.project_id == PortalBackend_fake_project_id("dora")
        backend.inject(Fault.server_error(503), system="openstack")  # a cassette holds faults: no-op
        with socket.socket() as sock, pytest.raises(ConnectionRefusedError):
            sock.connect(("127.0.0.1", 9))
        settings = backend.billing_settings(dora)
        with pytest.raises(TransportError), BillingClient(settings, retry=_quick(backend)) as billing:
            billing.login()


def PortalBackend_fake_project_id(name):  # noqa: N802 (reads as what it is)
    from cloudkit.testing.fakes import OpenStackFake

    return OpenStackFake().add_user(name, "x-x-x-x", project=name).project_id


def test_modes_are_checked():
    with pytest.raises(ValueError, match="mode must be one of"):
        PortalBackend("live")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="lab mode needs the running lab"):
        PortalBackend("lab")
    with pytest.raises(RuntimeError, match="start the PortalBackend first"):
        PortalBackend().add_customer("x")
