"""What a saga is: frozen values read from the saga store; no I/O here.

A saga is one lifecycle command (open, suspend, resume, close) for one billing item, run as ordered
steps against billing, OpenStack and Tungsten Fabric. The SQL store is the truth; these models are
snapshots of it.
"""

from __future__ import annotations

import datetime as dt
import enum
import ipaddress
from collections.abc import Iterable, Mapping
from types import MappingProxyType

import attrs

from cloudkit.billing import ModuleCommand
from cloudkit.errors import InvalidArgumentError

__all__ = [
    "Customer",
    "ModuleCommand",
    "Saga",
    "SagaState",
    "ServerPlan",
    "StepRecord",
    "StepState",
    "SuspendReason",
]

SYSTEM = "lifecycle"


class SagaState(enum.StrEnum):
    """Where a saga stands.

    ``DONE``, ``FAILED`` and ``NEEDS_OPERATOR`` are final: nothing runs a final saga again but
    :meth:`Lifecycle.retry <cloudkit.lifecycle.Lifecycle.retry>`.

    Example:
        >>> from cloudkit.lifecycle import SagaState
        >>> SagaState.NEEDS_OPERATOR.final, SagaState.RUNNING.final
        (True, False)
    """

    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    COMPENSATING = "compensating"
    FAILED = "failed"
    NEEDS_OPERATOR = "needs_operator"

    @property
    def final(self) -> bool:
        """True for the states no worker moves a saga out of by itself."""
        return self in _FINAL


_FINAL = frozenset({SagaState.DONE, SagaState.FAILED, SagaState.NEEDS_OPERATOR})


class StepState(enum.StrEnum):
    """Where one step of a saga stands.

    ``STARTED`` is written before the step acts and ``DONE`` only after the outside system confirmed
    the effect, so a step found ``STARTED`` may or may not have acted: it looks before acting again.

    Example:
        >>> from cloudkit.lifecycle import StepState
        >>> StepState("started") is StepState.STARTED
        True
    """

    PENDING = "pending"
    STARTED = "started"
    DONE = "done"
    COMPENSATED = "compensated"
    FAILED = "failed"


class SuspendReason(enum.StrEnum):
    """Why a service is suspended; stored with the suspend saga.

    Stop rules resume only their own suspensions: a service suspended for ``ABUSE`` or by ``STAFF`` is
    never resumed because money arrived (as WHMCS lifts only "Overdue on Payment" suspensions).

    Example:
        >>> from cloudkit.lifecycle import SuspendReason
        >>> SuspendReason("nonpayment") is SuspendReason.NONPAYMENT
        True
    """

    NONPAYMENT = "nonpayment"
    ABUSE = "abuse"
    STAFF = "staff"
    CUSTOMER = "customer"


def _positive_int(_: object, attribute: attrs.Attribute[int], value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidArgumentError(
            f"{attribute.name} must be a whole number of at least 1, not {value!r}",
            system=SYSTEM,
            operation="plan",
        )


def _non_empty(_: object, attribute: attrs.Attribute[str], value: object) -> None:
    if not isinstance(value, str) or not value.strip():
        raise InvalidArgumentError(f"{attribute.name} is empty", system=SYSTEM, operation="plan")


def _cidr(_: object, attribute: attrs.Attribute[str], value: str) -> None:
    try:
        network = ipaddress.ip_network(value, strict=True)
    except (TypeError, ValueError) as exc:
        raise InvalidArgumentError(
            f"{attribute.name} {value!r} is not a network address such as 10.0.0.0/24",
            system=SYSTEM,
            operation="plan",
        ) from exc
    if network.num_addresses < 8:  # noqa: PLR2004 - TF keeps the network, gateway, DNS and broadcast
        raise InvalidArgumentError(
            f"{attribute.name} {value!r} is too small for a gateway, a DNS address and servers",
            system=SYSTEM,
            operation="plan",
        )


@attrs.frozen(kw_only=True)
class ServerPlan:
    """What to build for an ``open``: a server booted from a new system volume on the customer's network.

    Checked on construction (shape only); :meth:`Lifecycle.provision
    <cloudkit.lifecycle.Lifecycle.provision>` also checks that the image and flavor exist before it
    creates anything (:class:`~cloudkit.lifecycle.PlanError`).

    Attributes:
        image: Glance image id for the system volume.
        flavor: Nova flavor id.
        system_volume_gb: size of the system volume in GiB.
        network_cidr: the customer's network, created on first use and shared by their servers.

    Example:
        >>> from cloudkit.lifecycle import ServerPlan
        >>> ServerPlan(image="img-1", flavor="m1.small", system_volume_gb=10)
        ServerPlan(image='img-1', flavor='m1.small', system_volume_gb=10, network_cidr='10.0.0.0/24')
        >>> ServerPlan(image="img-1", flavor="m1.small", system_volume_gb=0)
        Traceback (most recent call last):
        ...
        cloudkit.errors.InvalidArgumentError: system_volume_gb must be a whole number of at least 1, not 0 ...
    """

    image: str = attrs.field(validator=_non_empty)
    flavor: str = attrs.field(validator=_non_empty)
    system_volume_gb: int = attrs.field(validator=_positive_int)
    network_cidr: str = attrs.field(default="10.0.0.0/24", validator=_cidr)


@attrs.frozen(kw_only=True)
class Customer:
    """A billing account's footprint in the clouds, made once by ``onboard`` and reused.

    Attributes:
        account: billing account id.
        keystone_project_id: the customer's Keystone project.
        keystone_user_id: the customer's Keystone user, with a role on that project.
        tungsten_project_id: the same project as Tungsten Fabric knows it (TF syncs it from Keystone).
        network_id: the customer's TF virtual network, or ``None`` until the first server needs it.

    Example:
        >>> from cloudkit.lifecycle import Customer
        >>> Customer(account=7, keystone_project_id="p1", keystone_user_id="u1",
        ...          tungsten_project_id="p1").network_id is None
        True
    """

    account: int
    keystone_project_id: str
    keystone_user_id: str
    tungsten_project_id: str
    network_id: str | None = None


def _frozen_ids(value: Mapping[str, str] | None) -> Mapping[str, str]:
    return MappingProxyType(dict(value or {}))


@attrs.frozen(kw_only=True)
class StepRecord:
    """One step of a saga as the store last saw it.

    Attributes:
        name: the step's stable name (``network``, ``server``, ``billing``, ...).
        state: see :class:`StepState`.
        attempts: how many times the step started.
        outside_ids: ids the step made or found outside (``{"server": "<uuid>"}``), saved as soon as
            known, so a retry and a compensation find them.
        last_error: the last failure, secret-free text, or ``None``.
        started_at, finished_at: UTC times of the last start and of the confirmed end.

    Example:
        >>> from cloudkit.lifecycle import StepRecord, StepState
        >>> StepRecord(name="server", state=StepState.DONE, attempts=1,
        ...            outside_ids={"server": "s-1"}).outside_ids["server"]
        's-1'
    """

    name: str
    state: StepState = attrs.field(converter=StepState)
    attempts: int = 0
    outside_ids: Mapping[str, str] = attrs.field(factory=dict, converter=_frozen_ids, hash=False)
    last_error: str | None = None
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None


def _steps_tuple(value: Iterable[StepRecord]) -> tuple[StepRecord, ...]:
    return tuple(value)


@attrs.frozen(kw_only=True)
class Saga:
    """One lifecycle command for one billing item, with every step.

    A saga is keyed by (item, operation, running operation): asking again for the same command joins
    the saga already there instead of starting a second one.

    Attributes:
        id: the saga id (a UUID string); servers and volumes carry it as a tag and in metadata.
        item: the billing item (service) id.
        operation: the billing command: open, suspend, resume or close.
        account: the billing account that owns the item.
        running_operation: billing's running operation when billing started the command, else ``None``.
        state: see :class:`SagaState`.
        plan: the server plan of an ``open`` saga, else ``None``.
        reason: the reason of a ``suspend`` saga, else ``None``.
        steps: every step, in order.
        attempts: how many times a runner picked the saga up.
        last_error: the error that stopped the last attempt, secret-free text, or ``None``.
        created_at, updated_at: UTC times.
        next_attempt_at: when the sweep may pick the saga up again, or ``None`` when final.

    Example:
        >>> from cloudkit.lifecycle import Saga, SagaState
        >>> saga = Saga(id="5f0c...", item=42, operation="open", account=7, state=SagaState.PENDING)
        >>> saga.operation, saga.step("server") is None
        (<ModuleCommand.OPEN: 'open'>, True)
    """

    id: str
    item: int
    operation: ModuleCommand = attrs.field(converter=ModuleCommand)
    account: int
    state: SagaState = attrs.field(converter=SagaState)
    running_operation: int | None = None
    plan: ServerPlan | None = None
    reason: SuspendReason | None = attrs.field(
        default=None, converter=attrs.converters.optional(SuspendReason)
    )
    steps: tuple[StepRecord, ...] = attrs.field(default=(), converter=_steps_tuple)
    attempts: int = 0
    last_error: str | None = None
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None
    next_attempt_at: dt.datetime | None = None

    def step(self, name: str) -> StepRecord | None:
        """The step called ``name``, or ``None`` if the saga has none of that name."""
        return next((s for s in self.steps if s.name == name), None)

    @property
    def outside_ids(self) -> Mapping[str, str]:
        """Every outside id of every step, merged in step order (later steps win on a shared key)."""
        merged: dict[str, str] = {}
        for step in self.steps:
            merged.update(step.outside_ids)
        return MappingProxyType(merged)
