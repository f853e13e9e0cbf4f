"""One test backend for a portal: billing, OpenStack and Tungsten Fabric together, a customer in all three.

:class:`PortalBackend` is a context manager, usable from pytest (the ``portal_backend`` fixture), a
notebook or a dev server. It runs in one of three modes:

``"fake"``
    The three fakes on loopback, on one :class:`~cloudkit.testing.FakeClock`: the TF fake validates
    tokens on the OpenStack fake's Keystone, where a dedicated TF service account exists.
``"replay"``
    Nothing runs. Every URL points at the discard port (``127.0.0.1:9``), so only a cassette answers:
    a request it does not hold fails (vcrpy raises) and a request that reached a socket would be refused.
    The fakes are not even built.
``"lab"``
    OpenStack is ``cloudkit lab`` (a real Keystone, Nova, Cinder, Glance; see docs/lab.md); billing and
    TF are the fakes, TF validating on the lab's Keystone. Only when asked (``--cloudkit-lab``).

:meth:`PortalBackend.add_customer` makes the same customer everywhere: a billing client (user and
account with a balance), a Keystone user with a project of the same name (role ``member``) and the TF
project as TF syncs it from Keystone. In replay it only returns the credentials (the cassette holds
the rest). :meth:`~PortalBackend.platform` and :meth:`~PortalBackend.environ` configure cloudkit (and a
portal reading ``Platform.from_env()`` / ``SessionSettings.from_env()``) for the backend.

Example:
    >>> from decimal import Decimal
    >>> from cloudkit.billing import BillingClient
    >>> from cloudkit.testing import PortalBackend
    >>> with PortalBackend() as backend:
    ...     carol = backend.add_customer("carol", balance=Decimal("25.00"))
    ...     with BillingClient(backend.billing_settings()) as billing:  # the billing admin
    ...         billing.as_user("carol").get_balance()
    Decimal('25.00')
    >>> carol.project_name, carol.password
    ('carol', Secret('***'))
"""

from __future__ import annotations

import base64
import itertools
import time
import uuid
from collections.abc import Callable, Mapping
from decimal import Decimal
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, Self

import attrs

from cloudkit._core import Secret
from cloudkit.testing._clock import FakeClock
from cloudkit.testing.fakes._kit import Fault

if TYPE_CHECKING:  # the stacks are imported when a backend starts, not when the harness loads
    from cloudkit.billing import BillingSettings
    from cloudkit.lab import LabInfo
    from cloudkit.lab._admin import LabAdmin
    from cloudkit.openstack import OpenStackSettings
    from cloudkit.platform import Platform
    from cloudkit.session import SessionSettings
    from cloudkit.testing.fakes import BillingFake, OpenStackFake, TungstenFake

__all__ = [
    "PORTAL_MODES",
    "REPLAY_HOST",
    "SESSION_KEY",
    "TF_SERVICE_ACCOUNT",
    "PortalBackend",
    "PortalCustomer",
    "PortalMode",
    "deterministic_markers",
    "deterministic_uuids",
]

PortalMode = Literal["fake", "replay", "lab"]
"""Where a ``PortalBackend`` runs: against the live fakes, from its cassette, or with the lab's OpenStack."""
PORTAL_MODES: tuple[PortalMode, ...] = ("fake", "replay", "lab")
REPLAY_HOST = "http://127.0.0.1:9"
"""Where every URL points in replay: the discard port, so nothing but a cassette ever answers."""
TF_SERVICE_ACCOUNT = ("svc-tf", "svc-tf-pass", "service")
"""``(user, password, project)`` of the dedicated TF account (quirk ``tungsten.admin-scope-capture``)."""
BILLING_ADMIN = ("admin", "secret")
OPENSTACK_ADMIN = ("admin", "secret", "admin")
SESSION_KEY = bytes(range(32))
"""The fixed session key of the backend's ``SessionSettings`` (loopback tests only)."""
_KEY_ID = "test"


def deterministic_markers() -> Callable[[], str]:
    """A marker maker counting up (``marker-1``, ``marker-2``, ...), for ``OpenStackClient(new_marker=...)``.

    Recordings do not need it (a client's random markers are normalized, see docs/testing.md); a test
    that asserts on a marker does.

    Example:
        >>> from cloudkit.testing import deterministic_markers
        >>> new = deterministic_markers()
        >>> new(), new()
        ('marker-1', 'marker-2')
    """
    counter = itertools.count(1)
    return lambda: f"marker-{next(counter)}"


def deterministic_uuids() -> Callable[[], str]:
    """A uuid maker counting up (``00000000-0000-4000-8000-000000000001``, ...), for ``TungstenClient``.

    Pass it as ``new_uuid=``: the uuids a TF client gives the objects it creates are then the same on
    every run (recordings normalize random ones anyway, see docs/testing.md).

    Example:
        >>> from cloudkit.testing import deterministic_uuids
        >>> new = deterministic_uuids()
        >>> new(), new()
        ('00000000-0000-4000-8000-000000000001', '00000000-0000-4000-8000-000000000002')
    """
    counter = itertools.count(1)
    return lambda: f"00000000-0000-4000-8000-{next(counter):012d}"


@attrs.frozen
class PortalCustomer:
    """A customer made by :meth:`PortalBackend.add_customer`: one name in billing, Keystone and TF.

    Attributes:
        name: the billing login, the Keystone user and the project's name.
        password: the password of both logins.
        balance: the billing balance it started with.
        project_id: the Keystone project id (hex); the TF project's uuid is the same id, dashed.
        account_id: the billing account id, or ``None`` in replay (the cassette knows it).

    Example:
        >>> from decimal import Decimal
        >>> from cloudkit._core import Secret
        >>> from cloudkit.testing import PortalCustomer
        >>> PortalCustomer("carol", Secret("pw-1"), Decimal("5"), "ab" * 16, None).tf_project_uuid
        'abababab-abab-abab-abab-abababababab'
    """

    name: str
    password: Secret
    balance: Decimal
    project_id: str
    account_id: int | None

    @property
    def project_name(self) -> str:
        """The Keystone (and TF) project: named after the customer."""
        return self.name

    @property
    def tf_project_uuid(self) -> str:
        """The TF project's uuid: the Keystone id, dashed, as TF's Keystone sync makes it."""
        return str(uuid.UUID(self.project_id))


class PortalBackend:
    """Billing, OpenStack and TF for a portal's tests, in one of three modes (see the module docs).

    Args:
        mode: ``"fake"`` (default), ``"replay"`` or ``"lab"``.
        clock: the one clock of the fakes (default: a :class:`FakeClock` at the current whole second).
        lab: the running lab, for ``"lab"`` mode (the ``openstack_lab`` fixture gives it).
        on_secret: called with every password the backend makes, so a recorder can refuse to write it.
        billing_options: more keyword arguments for the :class:`~cloudkit.testing.fakes.BillingFake`
            (``processing_module=...``, ``complete_operations=False``, ...).
    """

    def __init__(
        self,
        mode: PortalMode = "fake",
        *,
        clock: FakeClock | None = None,
        lab: LabInfo | None = None,
        on_secret: Callable[[str], None] | None = None,
        billing_options: Mapping[str, Any] | None = None,
    ) -> None:
        """Configure; nothing runs until :meth:`start` (or ``with``)."""
        if mode not in PORTAL_MODES:
            msg = f"mode must be one of {', '.join(PORTAL_MODES)}, got {mode!r}"
            raise ValueError(msg)
        if mode == "lab" and lab is None:
            msg = "lab mode needs the running lab: PortalBackend('lab', lab=...) (the openstack_lab fixture)"
            raise ValueError(msg)
        self.mode: PortalMode = mode
        self.clock = clock or FakeClock(start=float(int(time.time())))
        self._lab = lab
        self.on_secret: Callable[[str], None] = on_secret or (lambda _secret: None)
        """Called with every password the backend makes (the ``portal_backend`` fixture sets it per test)."""
        self._billing_options = dict(billing_options or {})
        self.billing_fake: BillingFake | None = None
        """The billing fake (``None`` in replay)."""
        self.openstack_fake: OpenStackFake | None = None
        """The OpenStack fake (``None`` in replay and lab)."""
        self.tungsten_fake: TungstenFake | None = None
        """The TF fake (``None`` in replay)."""
        self.customers: dict[str, PortalCustomer] = {}
        self._lab_admin: LabAdmin | None = None
        self._started = False

    def __repr__(self) -> str:
        """The mode and, once started, the addresses."""
        if not self._started:
            return f"PortalBackend({self.mode!r}, stopped)"
        return f"PortalBackend({self.mode!r}, billing={self.billing_url}, auth={self.auth_url})"

    # ------------------------------------------------------------------------------ start / stop
    def start(self) -> Self:
        """Start what the mode runs (nothing in replay) and add the TF service account."""
        if self._started:
            msg = "the PortalBackend is already running"
            raise RuntimeError(msg)
        self.on_secret(TF_SERVICE_ACCOUNT[1])
        if self.mode != "replay":
            self._start_fakes()
        self._started = True
        return self

    def _start_fakes(self) -> None:
        from cloudkit.testing.fakes import BillingFake, OpenStackFake, TungstenFake  # noqa: PLC0415

        keystone_admin = OPENSTACK_ADMIN
        if self._lab is not None:  # lab mode: the lab's Keystone, and its admin as the TF account
            from cloudkit.lab._admin import LabAdmin  # noqa: PLC0415 (lab mode only)

            self._lab_admin = LabAdmin(self._lab.ports)
            keystone_admin = self._lab_admins()
            auth_url = self._lab.auth_url
        else:
            self.openstack_fake = OpenStackFake(clock=self.clock).start()
            self.openstack_fake.add_user(
                TF_SERVICE_ACCOUNT[0], TF_SERVICE_ACCOUNT[1], project=TF_SERVICE_ACCOUNT[2], roles=("admin",)
            )
            auth_url = self.openstack_fake.auth_url
        self.tungsten_fake = TungstenFake(
            keystone_url=auth_url, keystone_admin=keystone_admin, clock=self.clock
        )
        self.tungsten_fake.start()
        self.billing_fake = BillingFake(**{"clock": self.clock, **self._billing_options}).start()

    def _lab_admins(self) -> tuple[str, str, str]:
        assert self._lab is not None  # noqa: S101 (lab mode only)
        return (
            self._lab.admin_username,
            self._lab.admin_password.get_secret_value(),
            self._lab.admin_project,
        )

    def stop(self) -> None:
        """Stop the fakes (and remove the lab customers). Safe to call twice."""
        if self._lab_admin is not None:
            for customer in self.customers.values():
                self._lab_admin.purge_project(customer.name, customer.name)
            self._lab_admin.close()
            self._lab_admin = None
        for fake in (self.billing_fake, self.tungsten_fake, self.openstack_fake):
            if fake is not None:
                fake.stop()
        self._started = False

    def __enter__(self) -> Self:
        """Start; stop on exit."""
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        """Stop."""
        self.stop()

    def reset(self) -> None:
        """Back to the fakes' seeds, without the customers added (the TF service account stays)."""
        if self.billing_fake is not None:
            self.billing_fake.reset()
        if self.openstack_fake is not None:
            self.openstack_fake.reset()
            self.openstack_fake.add_user(
                TF_SERVICE_ACCOUNT[0], TF_SERVICE_ACCOUNT[1], project=TF_SERVICE_ACCOUNT[2], roles=("admin",)
            )
        if self.tungsten_fake is not None:
            self.tungsten_fake.reset()
        self.customers.clear()

    # ------------------------------------------------------------------------------ addresses
    def _running(self) -> None:
        if not self._started:
            msg = "start the PortalBackend first (use it in a with block)"
            raise RuntimeError(msg)

    @property
    def live(self) -> bool:
        """Whether services answer (fake or lab), as opposed to a cassette."""
        return self.mode != "replay"

    @property
    def billing_url(self) -> str:
        """The billing API (``.../billmgr``)."""
        self._running()
        return self.billing_fake.url if self.billing_fake is not None else f"{REPLAY_HOST}/billmgr"

    @property
    def auth_url(self) -> str:
        """Keystone v3."""
        self._running()
        if self._lab is not None:
            return self._lab.auth_url
        return (
            self.openstack_fake.auth_url if self.openstack_fake is not None else f"{REPLAY_HOST}/identity/v3"
        )

    @property
    def tungsten_url(self) -> str:
        """The TF config API."""
        self._running()
        return self.tungsten_fake.url if self.tungsten_fake is not None else REPLAY_HOST

    # ------------------------------------------------------------------------------ customers
    def add_customer(
        self, name: str, *, balance: Decimal = Decimal("100.00"), password: str | None = None
    ) -> PortalCustomer:
        """The same customer in billing (a client user and account with ``balance``), Keystone (a user
        and a project ``name``, role ``member``) and TF (the project, synced from Keystone).

        ``password`` (default ``<name>-pass``) is the password of both logins. In replay nothing is made:
        the credentials are returned as they were when the cassette was recorded.
        """  # noqa: D205 (two-line summary)
        self._running()
        if name in self.customers:
            msg = f"customer {name!r} already exists"
            raise ValueError(msg)
        secret = password or f"{name}-pass"
        self.on_secret(secret)
        from cloudkit.testing.fakes.openstack._state import hex5  # noqa: PLC0415 (the OpenStack fake, when used)

        project_id = hex5(f"project:{name}")  # the OpenStack fake's (fixed) id for that project
        account_id: int | None = None
        if self._lab_admin is not None:
            self._lab_admin.purge_project(name, name)  # whatever an interrupted run left behind
            project_id = self._lab_admin.create_tenant(name, name, secret).project_id
        elif self.openstack_fake is not None:
            project_id = self.openstack_fake.add_user(name, secret, project=name).project_id
        if self.billing_fake is not None:
            user = self.billing_fake.add_user(name, secret, account_name=f"{name} account", balance=balance)
            account_id = user.account_id
        if self.tungsten_fake is not None:
            self.tungsten_fake.sync_project(project_id, name)
        customer = PortalCustomer(name, Secret(secret), balance, project_id, account_id)
        self.customers[name] = customer
        return customer

    # ------------------------------------------------------------------------------ settings
    def billing_settings(self, customer: PortalCustomer | None = None) -> BillingSettings:
        """Billing as ``customer``, or as the billing admin."""
        from cloudkit.billing import BillingSettings  # noqa: PLC0415 (imported on use)

        if customer is None:
            return BillingSettings(url=self.billing_url, username=BILLING_ADMIN[0], password=BILLING_ADMIN[1])
        return BillingSettings(url=self.billing_url, username=customer.name, password=customer.password)

    def openstack_settings(
        self, customer: PortalCustomer | None = None, **settings: Any
    ) -> OpenStackSettings:
        """OpenStack as ``customer`` in their project, or as the cloud admin; ``settings`` pass through."""
        from cloudkit.openstack import OpenStackSettings  # noqa: PLC0415 (heavy: imported on use)

        if customer is not None:
            user, password, project = customer.name, customer.password.get_secret_value(), customer.name
        elif self._lab is not None:
            user, password, project = self._lab_admins()
        else:
            user, password, project = OPENSTACK_ADMIN
        return OpenStackSettings(
            auth_url=self.auth_url, username=user, password=password, project_name=project, **settings
        )

    def session_settings(self) -> SessionSettings:
        """Settings of a ``SessionManager`` on this backend (the fixed test key :data:`SESSION_KEY`)."""
        from cloudkit.session import SessionSettings  # noqa: PLC0415 (imported on use)

        return SessionSettings(
            billing_url=self.billing_url,
            auth_url=self.auth_url,
            keys={_KEY_ID: SESSION_KEY},
            current_kid=_KEY_ID,
        )

    def _tf_account(self) -> tuple[str, str, str]:
        return self._lab_admins() if self._lab is not None else TF_SERVICE_ACCOUNT

    def platform(self) -> Platform:
        """A :class:`~cloudkit.Platform` for the backend: billing admin, OpenStack admin, the TF service
        account (and the session settings, where ``Platform`` carries them).
        """  # noqa: D205 (two-line summary)
        from cloudkit.platform import Platform  # noqa: PLC0415 (heavy: imported on use)
        from cloudkit.tungsten import TungstenSettings  # noqa: PLC0415

        tf_user, tf_password, tf_project = self._tf_account()
        parts: dict[str, Any] = {
            "billing": self.billing_settings(),
            "openstack": self.openstack_settings(),
            "tungsten": TungstenSettings(
                url=self.tungsten_url,
                auth_url=self.auth_url,
                username=tf_user,
                password=tf_password,
                project_name=tf_project,
            ),
        }
        if "session" in attrs.fields_dict(Platform):  # Platform carries the session settings
            parts["session"] = self.session_settings()
        return Platform(**parts)

    def environ(self) -> dict[str, str]:
        """Every ``CLOUDKIT_*`` variable ``Platform.from_env()`` and ``SessionSettings.from_env()`` read,
        for this backend (the passwords of its loopback test accounts included).
        """  # noqa: D205 (two-line summary)
        admin, password, project = self._lab_admins() if self._lab is not None else OPENSTACK_ADMIN
        tf_user, tf_password, tf_project = self._tf_account()
        key = base64.urlsafe_b64encode(SESSION_KEY).decode().rstrip("=")
        return {
            "CLOUDKIT_BILLING_URL": self.billing_url,
            "CLOUDKIT_BILLING_USERNAME": BILLING_ADMIN[0],
            "CLOUDKIT_BILLING_PASSWORD": BILLING_ADMIN[1],
            "CLOUDKIT_OPENSTACK_AUTH_URL": self.auth_url,
            "CLOUDKIT_OPENSTACK_USERNAME": admin,
            "CLOUDKIT_OPENSTACK_PASSWORD": password,
            "CLOUDKIT_OPENSTACK_PROJECT_NAME": project,
            "CLOUDKIT_TUNGSTEN_URL": self.tungsten_url,
            "CLOUDKIT_TUNGSTEN_AUTH_URL": self.auth_url,
            "CLOUDKIT_TUNGSTEN_USERNAME": tf_user,
            "CLOUDKIT_TUNGSTEN_PASSWORD": tf_password,
            "CLOUDKIT_TUNGSTEN_PROJECT_NAME": tf_project,
            "CLOUDKIT_SESSION_BILLING_URL": self.billing_url,
            "CLOUDKIT_SESSION_AUTH_URL": self.auth_url,
            "CLOUDKIT_SESSION_KEYS": f"{_KEY_ID}={key}",
        }

    # ------------------------------------------------------------------------------ faults
    def inject(
        self,
        fault: Fault,
        *,
        system: Literal["billing", "openstack", "tungsten"],
        times: int = 1,
        **match: Any,
    ) -> None:
        """Arm ``fault`` in one fake (``method=``, ``path=``, ``service=``, ``func=`` select requests as
        every fake's ``inject`` does); in replay the cassette already holds it, so nothing happens.

        Raises:
            ValueError: in lab mode for ``system="openstack"`` (use the lab's fault proxies).
        """  # noqa: D205 (two-line summary)
        self._running()
        if self.mode == "replay":
            return
        fake = {
            "billing": self.billing_fake,
            "openstack": self.openstack_fake,
            "tungsten": self.tungsten_fake,
        }
        target = fake[system]
        if target is None:
            msg = f"no {system} fake in {self.mode} mode"
            raise ValueError(msg)
        target.inject(fault, times=times, **match)
