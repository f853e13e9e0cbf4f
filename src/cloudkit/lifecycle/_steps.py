"""The steps of each saga: each one looks for its effect before it acts, so running it twice is safe.

A step is ``look(ctx)`` (the effect is already there: its outside ids; else ``None``), ``act(ctx)``
(make the effect, saving outside ids as soon as they are known) and an optional ``compensate(ctx)``
(undo it; also safe to run twice). The engine runs ``look`` and, only if it found nothing, ``act``.

OPEN: ``customer`` -> ``network`` -> ``port`` -> ``server`` (the pivot) -> ``billing``.
SUSPEND and RESUME: ``server`` -> ``billing``. CLOSE: ``server`` -> ``addresses`` -> ``volumes`` ->
``billing``. Nothing is remembered between steps but what the store holds: the item's server is
found by its tag ``cloudkit-item:<item>``, the saga's by ``cloudkit-saga:<id>``, the customer's
network and port by name.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

import attrs

from cloudkit._core._retry import Poller, RetryPolicy
from cloudkit._core._secret import Secret
from cloudkit.billing import BillingClient, ModuleCommand
from cloudkit.errors import ConfigError, ConflictError, NotFoundError, WaitTimeoutError
from cloudkit.lifecycle._models import (
    Customer,
    Saga,
)
from cloudkit.lifecycle._settings import LifecycleSettings
from cloudkit.openstack import IdentityAdmin, OpenStackClient, OpenStackSettings, Server
from cloudkit.platform import Platform
from cloudkit.tungsten import Port, TungstenClient

if TYPE_CHECKING:  # SQLAlchemy loads with the store; the steps only name its type
    from cloudkit.lifecycle._store import SagaStore

__all__ = [
    "OPERATIONS",
    "PIVOT",
    "Step",
    "StepContext",
    "Systems",
    "item_tag",
    "onboard_customer",
    "port_name",
    "project_name",
    "saga_tag",
]

log = logging.getLogger("cloudkit.lifecycle")
SYSTEM = "lifecycle"
PIVOT = "server"
"""The last step a business failure may undo: a permanent error up to it compensates and fails the
saga; after it (billing, clean-up) the saga stops in ``NEEDS_OPERATOR`` instead."""
TF_DOMAIN = "default-domain"  # Assumption: TF names Keystone's Default domain "default-domain"
_MAX_POLL = 5.0


def saga_tag(saga_id: str) -> str:
    """The Nova tag a saga's server carries (the handle a retried create searches by).

    Example:
        >>> from cloudkit.lifecycle._steps import saga_tag
        >>> saga_tag("5f0c0000-0000-4000-8000-000000000000")
        'cloudkit-saga:5f0c0000-0000-4000-8000-000000000000'
    """
    return f"cloudkit-saga:{saga_id}"


def item_tag(item: int) -> str:
    """The Nova tag every server of a billing item carries (how suspend, resume and close find it).

    Example:
        >>> from cloudkit.lifecycle._steps import item_tag
        >>> item_tag(42)
        'cloudkit-item:42'
    """
    return f"cloudkit-item:{item}"


def project_name(settings: LifecycleSettings, account: int) -> str:
    """The Keystone project (and user) name of a billing account.

    Example:
        >>> from cloudkit.lifecycle import LifecycleSettings
        >>> from cloudkit.lifecycle._steps import project_name
        >>> project_name(LifecycleSettings(db_url="sqlite://"), 7)
        'customer-7'
    """
    return f"{settings.project_prefix}{account}"


def port_name(item: int) -> str:
    """The TF port of a billing item, one per item: close finds it by this name.

    Example:
        >>> from cloudkit.lifecycle._steps import port_name
        >>> port_name(42)
        'cloudkit-item-42'
    """
    return f"cloudkit-item-{item}"


class Systems:
    """The clients the steps use, built on first use from a :class:`~cloudkit.Platform`; thread-safe.

    OpenStack clients are per customer project: the platform's OpenStack identity (the lifecycle
    service account) scoped to the customer's project, where ``onboard`` granted it
    ``LifecycleSettings.service_role``. The same identity onboards customers through
    :class:`~cloudkit.openstack.IdentityAdmin` (Assumption: it holds Keystone's ``admin`` role, as the
    cloud's provisioning account does).

    Example:
        >>> from cloudkit.platform import Platform
        >>> from cloudkit.lifecycle import LifecycleSettings
        >>> from cloudkit.lifecycle._steps import Systems
        >>> systems = Systems(Platform(), LifecycleSettings(db_url="sqlite://"))
        >>> systems.billing() is None
        True
        >>> systems.close()
    """

    def __init__(
        self,
        platform: Platform,
        settings: LifecycleSettings,
        *,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        """Keep the platform; no client is made and nothing is sent yet."""
        self.platform = platform
        self.settings = settings
        extra: dict[str, object] = {}
        if clock is not None:
            extra["clock"] = clock
        if sleep is not None:
            extra["sleep"] = sleep
        self._timing = extra
        self._poller: Poller | None = None
        self.retry = RetryPolicy(**extra)  # type: ignore[arg-type]
        self._lock = threading.Lock()
        self._billing: BillingClient | None = None
        self._admin: IdentityAdmin | None = None
        self._tungsten: TungstenClient | None = None
        self._clouds: dict[str, OpenStackClient] = {}

    def billing(self) -> BillingClient | None:
        """The admin billing client, or ``None`` when billing is not configured (nothing to report to)."""
        if self.platform.billing is None:
            return None
        with self._lock:
            if self._billing is None:
                self._billing = self.platform.billing_client(retry=self.retry, **self._timing)
            return self._billing

    def admin(self) -> IdentityAdmin:
        """Keystone's admin API as the platform's OpenStack identity."""
        with self._lock:
            if self._admin is None:
                self._admin = IdentityAdmin(self._openstack_settings(), retry=self.retry)
            return self._admin

    def tungsten(self) -> TungstenClient:
        """The TF client as the TF service account."""
        with self._lock:
            if self._tungsten is None:
                clock = self._timing.get("clock")
                extra = {"clock": clock} if clock is not None else {}
                self._tungsten = self.platform.tungsten_client(retry=self.retry, **extra)
            return self._tungsten

    def cloud(self, project: str | None = None) -> OpenStackClient:
        """An OpenStack client scoped to ``project`` (by name), or to the platform's own project."""
        settings = self._openstack_settings()
        name = project or settings.project_name
        with self._lock:
            client = self._clouds.get(name)
            if client is None:
                scoped = attrs.evolve(settings, project_name=name)
                if self._poller is None:
                    # One poller for every customer's client: what a wait learned about this cloud (how
                    # long a build takes) serves the next customer's first build too.
                    self._poller = Poller(
                        first=settings.poll_interval,
                        growth=settings.poll_growth,
                        max_interval=settings.poll_max_interval,
                        tail=settings.poll_tail,
                        memory=settings.poll_memory,
                    )
                client = OpenStackClient(
                    scoped,
                    retry=self.retry,
                    poller=self._poller,
                    **self._timing,  # type: ignore[arg-type]
                )
                self._clouds[name] = client
            return client

    def close(self) -> None:
        """Close every client made here."""
        with self._lock:
            clients: list[BillingClient | IdentityAdmin | TungstenClient | OpenStackClient] = [
                c for c in (self._billing, self._admin, self._tungsten) if c is not None
            ]
            clients.extend(self._clouds.values())
            self._billing = self._admin = self._tungsten = None
            self._clouds = {}
        for client in clients:
            client.close()

    def _openstack_settings(self) -> OpenStackSettings:
        if self.platform.openstack is None:
            raise ConfigError(
                "the lifecycle needs OpenStack settings (CLOUDKIT_OPENSTACK_AUTH_URL and the rest)",
                system="openstack",
            )
        return self.platform.openstack


@attrs.frozen
class StepContext:
    """What a step sees: the saga as the store last showed it, the clients, the store and its lease.

    ``save(ids)`` records outside ids for this step at once (merged), so a retry or a compensation
    finds them even if the worker dies right after.
    """

    saga: Saga
    step: str
    systems: Systems
    store: SagaStore
    owner: str

    @property
    def settings(self) -> LifecycleSettings:
        """The lifecycle settings."""
        return self.systems.settings

    @property
    def ids(self) -> Mapping[str, str]:
        """Every outside id the saga's steps saved so far."""
        return self.saga.outside_ids

    def save(self, ids: Mapping[str, str]) -> None:
        """Save outside ids of this step now (merged with what is saved)."""
        if ids:
            self.store.save_outside_ids(self.saga.id, self.step, dict(ids), owner=self.owner)

    def customer(self) -> Customer:
        """The saga's customer as onboarding saved it.

        Raises:
            NotFoundError: the account was never onboarded.
        """
        found = self.store.get_customer(self.saga.account)
        if found is None:
            raise NotFoundError(
                f"billing account {self.saga.account} has no cloud project (not onboarded)",
                system=SYSTEM,
                operation=str(self.saga.operation),
            )
        return found

    def project(self) -> str:
        """The customer's Keystone project name."""
        return project_name(self.settings, self.saga.account)

    def cloud(self) -> OpenStackClient:
        """OpenStack, scoped to the customer's project."""
        return self.systems.cloud(self.project())


Look = Callable[[StepContext], Mapping[str, str] | None]
Act = Callable[[StepContext], Mapping[str, str]]
Compensate = Callable[[StepContext], None]


@attrs.frozen
class Step:
    """One step of a saga: look before act; an optional compensation.

    Example:
        >>> from cloudkit.lifecycle._steps import OPERATIONS
        >>> from cloudkit.lifecycle import ModuleCommand
        >>> [step.name for step in OPERATIONS[ModuleCommand.OPEN]]
        ['customer', 'network', 'port', 'server', 'billing']
    """

    name: str
    look: Look
    act: Act
    compensate: Compensate | None = None


# ================================================================================== onboarding
def onboard_customer(
    systems: Systems, store: SagaStore, account: int, *, password: Secret | None = None
) -> Customer:
    """The customer's Keystone project (tagged), user (with a role on it), the lifecycle account's role
    there, and their TF project; each part found or made once, then saved. A re-run sends only reads.

    Assumption: the customer's user is named like the project and lives in the project's domain; its
    password is ``password`` or a random one (the portal sets the real one through its session).
    """  # noqa: D205 (the summary needs every part)
    settings = systems.settings
    openstack = systems.platform.openstack
    if openstack is None:
        systems.cloud()  # raises the ConfigError naming the variable
        raise AssertionError  # pragma: no cover
    admin = systems.admin()
    name = project_name(settings, account)
    domain = openstack.project_domain_name
    project = admin.ensure_project(
        name, domain=domain, description=f"billing account {account}", tags=(settings.project_tag,)
    )
    user = admin.ensure_user(
        name, password=password or Secret(secrets.token_urlsafe(24)), project=project, domain=domain
    )
    admin.grant_role(user, project, settings.customer_role)
    service = admin.find_user(openstack.username, domain=openstack.user_domain_name)
    if service is None:
        raise ConfigError(
            f"the lifecycle account {openstack.username!r} is not a Keystone user it can find",
            system="openstack",
            operation="onboard",
        )
    admin.grant_role(service, project, settings.service_role)
    tf_project = systems.tungsten().ensure_project(project.id)
    existing = store.get_customer(account)
    return store.save_customer(
        Customer(
            account=account,
            keystone_project_id=project.id,
            keystone_user_id=user.id,
            tungsten_project_id=tf_project.uuid,
            network_id=existing.network_id if existing is not None else None,
        )
    )


def _customer_ids(customer: Customer) -> dict[str, str]:
    return {"project": customer.keystone_project_id, "user": customer.keystone_user_id}


def _customer_look(ctx: StepContext) -> Mapping[str, str] | None:
    found = ctx.store.get_customer(ctx.saga.account)
    return None if found is None else _customer_ids(found)


def _customer_act(ctx: StepContext) -> Mapping[str, str]:
    return _customer_ids(onboard_customer(ctx.systems, ctx.store, ctx.saga.account))


# ================================================================================== network
def _network_look(ctx: StepContext) -> Mapping[str, str] | None:
    customer = ctx.customer()
    tf = ctx.systems.tungsten()
    if customer.network_id:
        try:
            return {"network": tf.get_virtual_network(customer.network_id).uuid}
        except NotFoundError:
            log.warning(
                "customer %s: saved network %s is gone; looking by name",
                customer.account,
                customer.network_id,
            )
    try:
        found = tf.get_virtual_network(fq_name=(TF_DOMAIN, ctx.project(), ctx.settings.network_name))
    except NotFoundError:
        return None
    ctx.store.save_customer(attrs.evolve(customer, network_id=found.uuid))
    return {"network": found.uuid}


def _network_act(ctx: StepContext) -> Mapping[str, str]:
    customer = ctx.customer()
    plan = ctx.saga.plan
    cidr = plan.network_cidr if plan is not None else "10.0.0.0/24"
    try:
        created = ctx.systems.tungsten().create_virtual_network(
            project_id=customer.tungsten_project_id, name=ctx.settings.network_name, subnets=[cidr]
        )
    except ConflictError:  # made in between (another saga of the same customer): adopt it
        found = _network_look(ctx)
        if found is None:
            raise
        return found
    ctx.store.save_customer(attrs.evolve(customer, network_id=created.uuid))
    return {"network": created.uuid}


# ================================================================================== port
def _find_port(ctx: StepContext) -> Port | None:
    try:
        return ctx.systems.tungsten().get_port(fq_name=(TF_DOMAIN, ctx.project(), port_name(ctx.saga.item)))
    except NotFoundError:
        return None


def _port_look(ctx: StepContext) -> Mapping[str, str] | None:
    port = _find_port(ctx)
    if port is None:
        return None
    addresses = port.ip_addresses
    if not addresses:  # a port whose address was lost half-way: give it one
        customer = ctx.customer()
        network = port.network_id or ctx.ids.get("network") or customer.network_id or ""
        iip = ctx.systems.tungsten().create_instance_ip(
            project_id=customer.tungsten_project_id, network_id=network, port_id=port.uuid
        )
        addresses = (iip.address,) if iip.address else ()
    return {"port": port.uuid, "address": addresses[0] if addresses else ""}


def _port_act(ctx: StepContext) -> Mapping[str, str]:
    customer = ctx.customer()
    network = ctx.ids.get("network") or customer.network_id
    if not network:
        raise NotFoundError("the customer has no network yet", system=SYSTEM, operation="port")
    try:
        port = ctx.systems.tungsten().create_port(
            project_id=customer.tungsten_project_id, network_id=network, name=port_name(ctx.saga.item)
        )
    except ConflictError:
        found = _port_look(ctx)
        if found is None:
            raise
        return found
    return {"port": port.uuid, "address": port.ip_addresses[0] if port.ip_addresses else ""}


def _port_remove(ctx: StepContext) -> None:
    if ctx.store.get_customer(ctx.saga.account) is None:
        return  # never onboarded: no port can exist
    port = _find_port(ctx)
    if port is None:
        return
    with contextlib.suppress(NotFoundError):
        ctx.systems.tungsten().delete_port(port.uuid)


# ================================================================================== server (open)
def _server_ids(server: Server) -> dict[str, str]:
    return {"server": server.id, "system_volume": server.system_volume_id or ""}


def _await(ctx: StepContext, client: OpenStackClient, server: Server, target: str) -> Server:
    """Poll a server found mid-transition until ``target`` (ERROR is the permanent ApiError)."""
    systems = ctx.systems
    clock = systems.retry.clock
    deadline = clock() + ctx.settings.step_wait
    delay = 1.0
    while server.status != target or server.task_state:
        if server.status == "ERROR":
            _raise_build_error(server)
        if clock() + delay > deadline:
            raise WaitTimeoutError(
                f"server {server.id} still {server.status} after {ctx.settings.step_wait:g}s",
                last_status=server.status,
                system="openstack",
                operation=ctx.step,
            )
        systems.retry.sleep(delay)
        delay = min(delay * 2, _MAX_POLL)
        server = client.get_server(server.id)
    return server


def _raise_build_error(server: Server) -> None:
    from cloudkit.errors import ApiError  # noqa: PLC0415 (kept next to its one use)

    raise ApiError(f"server {server.id} went to ERROR", system="openstack", operation="create_server")


def _open_server_look(ctx: StepContext) -> Mapping[str, str] | None:
    client = ctx.cloud()
    found = client.list_servers(tags=[saga_tag(ctx.saga.id)])
    if not found:
        return None
    if len(found) > 1:  # cannot happen through this engine; say so loudly rather than pick silently
        log.error("saga %s: %d servers carry its tag: %s", ctx.saga.id, len(found), [s.id for s in found])
    server = found[0]
    ctx.save(_server_ids(server))
    return _server_ids(_await(ctx, client, server, "ACTIVE"))


def _open_server_act(ctx: StepContext) -> Mapping[str, str]:
    saga = ctx.saga
    plan = saga.plan
    if plan is None:
        raise ConflictError(f"open saga {saga.id} has no plan", system=SYSTEM, operation="open")
    ports = [ctx.ids["port"]] if ctx.settings.server_network == "port" and ctx.ids.get("port") else []
    server = ctx.cloud().create_server(
        f"item-{saga.item}",
        image=plan.image,
        flavor=plan.flavor,
        system_volume_size=plan.system_volume_gb,
        ports=ports,
        tags=[saga_tag(saga.id), item_tag(saga.item)],
        metadata={"cloudkit_saga": saga.id, "cloudkit_item": str(saga.item)},
        wait=ctx.settings.step_wait,
    )
    return _server_ids(server)


def _open_server_remove(ctx: StepContext) -> None:
    if ctx.store.get_customer(ctx.saga.account) is None:
        return
    client = ctx.cloud()
    for server in client.list_servers(tags=[saga_tag(ctx.saga.id)]):
        with contextlib.suppress(NotFoundError):
            client.delete_server(server.id, unlock=True, wait=ctx.settings.step_wait)


# ================================================================================== server (the item's)
def _item_server(ctx: StepContext) -> tuple[OpenStackClient, Server | None]:
    client = ctx.cloud()
    found = client.list_servers(tags=[item_tag(ctx.saga.item)])
    if len(found) > 1:
        log.error("item %s: %d servers carry its tag: %s", ctx.saga.item, len(found), [s.id for s in found])
    return client, (found[0] if found else None)


def _require_server(ctx: StepContext) -> tuple[OpenStackClient, Server]:
    client, server = _item_server(ctx)
    if server is None:
        raise NotFoundError(
            f"billing item {ctx.saga.item} has no server (tag {item_tag(ctx.saga.item)})",
            system=SYSTEM,
            operation=str(ctx.saga.operation),
        )
    return client, server


def _suspend_look(ctx: StepContext) -> Mapping[str, str] | None:
    _, server = _require_server(ctx)
    if server.status == "SHUTOFF" and server.locked and not server.task_state:
        return _server_ids(server)
    return None


def _suspend_act(ctx: StepContext) -> Mapping[str, str]:
    client, server = _require_server(ctx)
    reason = ctx.saga.reason.value if ctx.saga.reason is not None else "staff"
    done = client.suspend_server(server.id, reason=f"cloudkit: {reason}", wait=ctx.settings.step_wait)
    return _server_ids(done)


def _resume_look(ctx: StepContext) -> Mapping[str, str] | None:
    _, server = _require_server(ctx)
    if server.status == "ACTIVE" and not server.locked and not server.task_state:
        return _server_ids(server)
    return None


def _resume_act(ctx: StepContext) -> Mapping[str, str]:
    client, server = _require_server(ctx)
    return _server_ids(client.resume_server(server.id, wait=ctx.settings.step_wait))


def _close_look(ctx: StepContext) -> Mapping[str, str] | None:
    if ctx.store.get_customer(ctx.saga.account) is None:
        return {}  # never onboarded: no server can exist
    _, server = _item_server(ctx)
    return {} if server is None else None


def _close_act(ctx: StepContext) -> Mapping[str, str]:
    client, server = _item_server(ctx)
    if server is None:
        return {}
    data = [v for v in server.volume_ids if v != server.system_volume_id]
    ids = {**_server_ids(server), "data_volumes": ",".join(data)}
    ctx.save(ids)  # before the delete: afterwards nothing says which volumes were attached
    with contextlib.suppress(NotFoundError):
        client.delete_server(server.id, unlock=True, wait=ctx.settings.step_wait)
    return ids


# ================================================================================== close: addresses, volumes
def _addresses_look(ctx: StepContext) -> Mapping[str, str] | None:
    if ctx.store.get_customer(ctx.saga.account) is None:
        return {}
    return {} if _find_port(ctx) is None else None


def _addresses_act(ctx: StepContext) -> Mapping[str, str]:
    _port_remove(ctx)
    return {}


def _data_volumes(ctx: StepContext) -> list[str]:
    return [v for v in ctx.ids.get("data_volumes", "").split(",") if v]


def _volumes_look(ctx: StepContext) -> Mapping[str, str] | None:
    if ctx.settings.data_volumes == "keep" or not _data_volumes(ctx):
        return {}
    return None


def _volumes_act(ctx: StepContext) -> Mapping[str, str]:
    client = ctx.cloud()
    for volume in _data_volumes(ctx):
        with contextlib.suppress(NotFoundError):
            client.delete_volume(volume, wait=ctx.settings.step_wait)
    return {}


# ================================================================================== billing
def _billing_look(ctx: StepContext) -> Mapping[str, str] | None:
    billing = ctx.systems.billing()
    if billing is None:
        return {"billing": "not configured"}
    saga = ctx.saga
    command = saga.operation
    queued = [
        op
        for op in billing.list_running_operations()
        if op.service_id == saga.item and op.operation == command.value
    ]
    if queued:
        return None
    try:
        service = billing.get_service(saga.item)
    except NotFoundError:
        if command is ModuleCommand.CLOSE:
            return {"billing": "gone"}
        raise
    return {"billing": service.status.name.lower()} if command.reached(service.status) else None


def _billing_act(ctx: StepContext) -> Mapping[str, str]:
    billing = ctx.systems.billing()
    assert billing is not None  # noqa: S101 (the look returned early without billing)
    service = billing.complete_operation(ctx.saga.item, ctx.saga.operation)
    return {"billing": service.status.name.lower()}


_BILLING = Step("billing", _billing_look, _billing_act)

OPERATIONS: Mapping[ModuleCommand, tuple[Step, ...]] = {
    ModuleCommand.OPEN: (
        Step("customer", _customer_look, _customer_act),
        Step("network", _network_look, _network_act),
        Step("port", _port_look, _port_act, _port_remove),
        Step("server", _open_server_look, _open_server_act, _open_server_remove),
        _BILLING,
    ),
    ModuleCommand.SUSPEND: (Step("server", _suspend_look, _suspend_act), _BILLING),
    ModuleCommand.RESUME: (Step("server", _resume_look, _resume_act), _BILLING),
    ModuleCommand.CLOSE: (
        Step("server", _close_look, _close_act),
        Step("addresses", _addresses_look, _addresses_act),
        Step("volumes", _volumes_look, _volumes_act),
        _BILLING,
    ),
}
"""The steps of each operation, in order."""
