"""The portal under test, on cloudkit's ``portal_backend``: each test runs ``[replay]`` (its cassette under
``cassettes/``, every fake off) and ``[fake]`` (cloudkit's live fakes). Only cloudkit's public harness.
"""

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from cloudkit import RetryPolicy
from cloudkit.platform import Platform
from cloudkit.testing import PortalBackend, PortalCustomer
from cloudkit.testing.fakes import LoopbackFake
from flask.testing import FlaskClient

from portal_app import create_app

CASSETTES = Path(__file__).resolve().parent.parent / "cassettes"


@pytest.fixture
def vcr_cassette_dir(request: pytest.FixtureRequest) -> str:
    """``cassettes/<test module>/`` next to ``tests/`` (pytest-recording's own fixture, overridden)."""
    return str(CASSETTES / request.node.module.__name__.rpartition(".")[2])


@pytest.fixture
def dora(portal_backend: PortalBackend) -> PortalCustomer:
    """A customer in billing, Keystone and TF; her product lets clients suspend and resume services."""
    customer = portal_backend.add_customer("dora", balance=Decimal("50.00"))
    if portal_backend.billing_fake is not None:  # live; in replay the cassette holds billing's answers
        portal_backend.billing_fake.client_suspend = True
    return customer


@pytest.fixture
def portal(portal_backend: PortalBackend, dora: PortalCustomer) -> Iterator[FlaskClient]:
    """The portal configured as in production (``Platform.from_env``), waiting on the backend's clock."""
    clock = portal_backend.clock
    retry = RetryPolicy(attempts=3, deadline=30.0, jitter=0.0, sleep=clock.sleep, clock=clock)
    app = create_app(
        Platform.from_env(portal_backend.environ()),
        manager_options={"clock": clock, "sleep": clock.sleep, "retry": retry},
        client_options={"clock": clock, "sleep": clock.sleep, "retry": retry},
    )
    yield app.test_client()
    app.extensions["cloudkit.session_manager"].close()


@pytest.fixture(autouse=True)
def _no_fake_starts_in_replay(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Proof that ``[replay]`` runs with every fake off: starting one fails the test (docs/testing.md)."""
    callspec = getattr(request.node, "callspec", None)
    replay = callspec is not None and callspec.params.get("portal_backend") == "replay"
    if replay and request.config.getoption("--record-mode") == "none":

        def refuse(self: LoopbackFake) -> LoopbackFake:
            raise AssertionError(f"{type(self).__name__} started during replay")

        monkeypatch.setattr(LoopbackFake, "start", refuse)
