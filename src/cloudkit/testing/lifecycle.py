"""One test backend for lifecycle work: the billing, OpenStack and Tungsten Fabric fakes, wired and seeded.

:class:`LifecycleWorld` starts the three fakes on loopback, the TF fake validating tokens on the
OpenStack fake's Keystone, adds the dedicated TF service account, and gives the
:class:`~cloudkit.Platform` a lifecycle needs (billing admin, OpenStack admin, TF service account) and
the same settings as ``CLOUDKIT_*`` variables for a subprocess (a processing module, a Celery worker).
With ``processing_module=`` the billing fake runs that module as BILLmanager would.

Example:
    >>> from cloudkit.testing.lifecycle import LifecycleWorld
    >>> with LifecycleWorld() as world:
    ...     item, account = world.order("carol")
    ...     world.billing_status(item), world.server_of(item)
    ...     sorted(world.environ())[:2]
    ('ORDERED', None)
    ['CLOUDKIT_BILLING_PASSWORD', 'CLOUDKIT_BILLING_URL']
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Self

from cloudkit.billing import BillingSettings, ServiceStatus
from cloudkit.openstack import OpenStackSettings
from cloudkit.platform import Platform
from cloudkit.testing._clock import FakeClock
from cloudkit.testing.fakes import BillingFake, OpenStackFake, TungstenFake
from cloudkit.testing.fakes.openstack import FakeServer
from cloudkit.tungsten import TungstenSettings

__all__ = ["LifecycleWorld"]

TF_SERVICE_ACCOUNT = ("svc-tf", "svc-tf-pass", "service")
"""The dedicated TF service account the world adds (quirk ``tungsten.admin-scope-capture``)."""
OPENSTACK_ADMIN = ("admin", "secret", "admin")
"""The OpenStack fake's seeded cloud admin: the lifecycle's service account in the world."""
BILLING_ADMIN = ("admin", "secret")
"""The billing fake's seeded admin."""
_ORDERED = 1  # the billing fake's status code for an ordered service


class LifecycleWorld:
    """The three fakes of a lifecycle test, on loopback, started together.

    Args:
        clock: a :class:`~cloudkit.testing.FakeClock` for the OpenStack and TF fakes (token expiry,
            status transitions); ``None`` uses the real clock.
        transition_seconds: the OpenStack fake's status transition time (``BUILD`` -> ``ACTIVE``, ...).
        processing_module: an argv the billing fake runs as BILLmanager runs a processing module
            (``[sys.executable, "-m", "cloudkit.lifecycle.pm"]``); its environment is :meth:`environ`
            plus ``module_env``.
        module_env: more variables for the module (``CLOUDKIT_LIFECYCLE_DB``, ...).
        module_max_tries: the billing fake's try limit for a module run.
    """

    def __init__(
        self,
        *,
        clock: FakeClock | None = None,
        transition_seconds: float = 0.0,
        processing_module: Sequence[str] | None = None,
        module_env: Mapping[str, str] | None = None,
        module_max_tries: int = 3,
    ) -> None:
        """Build the fakes; nothing listens until :meth:`start` (or ``with``)."""
        self.clock = clock
        self.cloud = (
            OpenStackFake(transition_seconds=transition_seconds)
            if clock is None
            else OpenStackFake(transition_seconds=transition_seconds, clock=clock)
        )
        self.tf: TungstenFake | None = None
        self.billing: BillingFake | None = None
        self._module = list(processing_module) if processing_module is not None else None
        self._module_env = dict(module_env or {})
        self._module_max_tries = module_max_tries
        self._started = False

    def __repr__(self) -> str:
        """The fakes' addresses once started."""
        if not self._started or self.billing is None or self.tf is None:
            return "LifecycleWorld(stopped)"
        return (
            f"LifecycleWorld(billing={self.billing.url}, openstack={self.cloud.url}, tungsten={self.tf.url})"
        )

    # ------------------------------------------------------------------------------ start / stop
    def start(self) -> Self:
        """Start the three fakes and seed the TF service account."""
        self.cloud.start()
        self.cloud.add_user(*TF_SERVICE_ACCOUNT[:2], project=TF_SERVICE_ACCOUNT[2], roles=("admin",))
        self.tf = (
            TungstenFake(keystone_url=self.cloud.auth_url)
            if self.clock is None
            else TungstenFake(keystone_url=self.cloud.auth_url, clock=self.clock)
        )
        self.tf.start()
        module_env = {**self._cloud_environ(), **self._module_env}
        self.billing = (
            BillingFake(
                processing_module=self._module, module_env=module_env, module_max_tries=self._module_max_tries
            )
            if self._module is not None
            else BillingFake(complete_operations=False)
        )
        self.billing.start()
        self._started = True
        return self

    def stop(self) -> None:
        """Stop the fakes (waiting for a module run still going)."""
        if self.billing is not None:
            if self._module is not None:
                self.billing.wait_for_module_runs(60.0)
            self.billing.stop()
        if self.tf is not None:
            self.tf.stop()
        self.cloud.stop()
        self._started = False

    def __enter__(self) -> Self:
        """Start; stop on exit."""
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        """Stop."""
        self.stop()

    # ------------------------------------------------------------------------------ settings
    def _running(self) -> tuple[BillingFake, TungstenFake]:
        if self.billing is None or self.tf is None:
            msg = "start the LifecycleWorld first (use it in a with block)"
            raise RuntimeError(msg)
        return self.billing, self.tf

    @property
    def platform(self) -> Platform:
        """The settings a lifecycle uses: billing admin, OpenStack admin, the TF service account."""
        billing, tf = self._running()
        user, password, project = OPENSTACK_ADMIN
        tf_user, tf_password, tf_project = TF_SERVICE_ACCOUNT
        return Platform(
            billing=BillingSettings(url=billing.url, username=BILLING_ADMIN[0], password=BILLING_ADMIN[1]),
            openstack=OpenStackSettings(
                auth_url=self.cloud.auth_url, username=user, password=password, project_name=project
            ),
            tungsten=TungstenSettings(
                url=tf.url,
                auth_url=self.cloud.auth_url,
                username=tf_user,
                password=tf_password,
                project_name=tf_project,
            ),
        )

    def _cloud_environ(self) -> dict[str, str]:
        _, tf = self._running() if self.tf is None else (None, self.tf)
        user, password, project = OPENSTACK_ADMIN
        tf_user, tf_password, tf_project = TF_SERVICE_ACCOUNT
        return {
            "CLOUDKIT_OPENSTACK_AUTH_URL": self.cloud.auth_url,
            "CLOUDKIT_OPENSTACK_USERNAME": user,
            "CLOUDKIT_OPENSTACK_PASSWORD": password,
            "CLOUDKIT_OPENSTACK_PROJECT_NAME": project,
            "CLOUDKIT_TUNGSTEN_URL": tf.url,
            "CLOUDKIT_TUNGSTEN_AUTH_URL": self.cloud.auth_url,
            "CLOUDKIT_TUNGSTEN_USERNAME": tf_user,
            "CLOUDKIT_TUNGSTEN_PASSWORD": tf_password,
            "CLOUDKIT_TUNGSTEN_PROJECT_NAME": tf_project,
        }

    def environ(self) -> dict[str, str]:
        """The platform as ``CLOUDKIT_*`` variables, for a subprocess (fixture credentials only)."""
        billing, _ = self._running()
        return {
            "CLOUDKIT_BILLING_URL": billing.url,
            "CLOUDKIT_BILLING_USERNAME": BILLING_ADMIN[0],
            "CLOUDKIT_BILLING_PASSWORD": BILLING_ADMIN[1],
            **self._cloud_environ(),
        }

    # ------------------------------------------------------------------------------ seeding and peeking
    @property
    def image(self) -> str:
        """The id of the OpenStack fake's CirrOS image (any image works for a plan)."""
        return self.cloud.image_ids()[0]

    def order(self, login: str, *, params: Mapping[str, str] | None = None) -> tuple[int, int]:
        """A service ordered by ``login`` (a new billing customer on first use): ``(item, account)``.

        The service is left ordered: opening it is the lifecycle's work.
        """
        billing, _ = self._running()
        account = billing.account_of(login)
        if account is None:
            account = billing.add_user(login, f"{login}-pass", account_name=f"{login} Ltd").account_id
        item = billing.add_service(login, f"cloud server of {login}", status=_ORDERED, params=params)
        if account is None:
            msg = f"billing made {login!r} without an account"
            raise AssertionError(msg)
        return item, account

    def billing_status(self, item: int) -> str:
        """Billing's status of ``item`` as a :class:`~cloudkit.billing.ServiceStatus` name."""
        billing, _ = self._running()
        return ServiceStatus(billing.service_status(item)).name

    def server_of(self, item: int) -> FakeServer | None:
        """The live server tagged for ``item`` (in any project), or ``None``.

        Raises:
            AssertionError: more than one: a duplicate, which the lifecycle must never make.
        """
        found = [s for s in self.cloud.servers() if f"cloudkit-item:{item}" in s.tags]
        if len(found) > 1:
            msg = f"item {item} has {len(found)} servers: {[s.id for s in found]}"
            raise AssertionError(msg)
        return found[0] if found else None
