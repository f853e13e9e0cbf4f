"""Billing models: frozen attrs classes with domain names (wire names live only in ``_wire.py``)."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping
from decimal import Decimal
from types import MappingProxyType
from typing import NewType

import attrs

__all__ = [
    "Account",
    "AccountId",
    "Expense",
    "Invoice",
    "ModuleCommand",
    "ModuleError",
    "OrderState",
    "Payment",
    "PaymentId",
    "PaymentStatus",
    "RunningOperation",
    "Service",
    "ServiceId",
    "ServiceOrder",
    "ServiceStatus",
    "StaffTask",
    "Ticket",
    "TicketId",
    "TicketMessage",
    "TicketStatus",
]

AccountId = NewType("AccountId", int)
"""The id of a client account in billing (its ``elid``), e.g. ``AccountId(1)``."""
PaymentId = NewType("PaymentId", int)
"""The id of a payment in billing (its ``elid``)."""
ServiceId = NewType("ServiceId", int)
"""The id of a service (an ordered item) in billing (its ``elid``), e.g. ``ServiceId(301)``."""
TicketId = NewType("TicketId", int)
"""The id of a support ticket in billing (its ``elid``)."""


class PaymentStatus(enum.IntEnum):
    """Payment status codes of BILLmanager 6 (``payment`` list, ``status`` column).

    Example:
        >>> from cloudkit.billing import PaymentStatus
        >>> PaymentStatus(3).name
        'PROMISED'
    """

    NEW = 1
    PAID = 2
    PROMISED = 3
    CREDITED = 4
    AWAITING_REFUND = 5
    REFUNDED = 6
    FRAUDULENT = 7
    INITIATED = 8
    CANCELLED = 9
    BEING_DELETED = 100


class TicketStatus(enum.IntEnum):
    """Client ticket status codes (``clientticket`` list, ``tstatus`` column).

    Example:
        >>> from cloudkit.billing import TicketStatus
        >>> TicketStatus(2).name
        'AWAITING_RESPONSE'
    """

    NEW = 0
    UNDER_REVIEW = 1
    AWAITING_RESPONSE = 2
    CLOSED = 3
    ARCHIVED = 10


class ServiceStatus(enum.IntEnum):
    """Service (item) status.

    Assumption: the numeric codes are not in the public docs; these follow the item table as seen in
    processing modules. The decoder also accepts the English status words of the UI.

    ``SUSPENDED`` is a suspension by billing or staff (administrator, nonpayment, abuse);
    ``SUSPENDED_BY_CLIENT`` the UI's "Suspended (by client)": the client stopped their own service
    (allowed only when the product has "allow clients to suspend/resume"), and only the client or
    staff lift it: stop rules never do. Assumption: its code, 6 (the docs give the word only).

    Example:
        >>> from cloudkit.billing import ServiceStatus
        >>> ServiceStatus.SUSPENDED.value, ServiceStatus.SUSPENDED_BY_CLIENT.value
        (3, 6)
    """

    ORDERED = 1
    ACTIVE = 2
    SUSPENDED = 3
    DELETED = 4
    IN_PROGRESS = 5
    SUSPENDED_BY_CLIENT = 6


@attrs.frozen(kw_only=True)
class Account:
    """A billing client (``account``), with its balance and, when billing sets one, its credit limit.

    ``credit_limit`` is how far below zero the balance may go (BILLmanager's per-client credit);
    ``None`` when billing names none (then a stop policy's default applies).

    Example:
        >>> from decimal import Decimal
        >>> from cloudkit.billing import Account
        >>> Account(id=1, name="Alice Ltd", balance=Decimal("150.00")).balance
        Decimal('150.00')
        >>> Account(id=2, name="Bob", balance=Decimal("-20"), credit_limit=Decimal("50")).credit_limit
        Decimal('50')
    """

    id: AccountId
    name: str
    balance: Decimal
    credit_limit: Decimal | None = None


@attrs.frozen(kw_only=True)
class Payment:
    """A payment; a promised payment has status ``PaymentStatus.PROMISED`` and the date it is due by.

    ``promised_until`` is the last day a promised payment counts (``None`` when billing shows none);
    ``account_id`` the owner's account, on the rows an admin reads (``None`` in a user's own list).

    Example:
        >>> import datetime as dt
        >>> from decimal import Decimal
        >>> from cloudkit.billing import Payment, PaymentStatus
        >>> Payment(id=9, amount=Decimal("100"), status=PaymentStatus.PROMISED).status.name
        'PROMISED'
        >>> Payment(id=9, amount=Decimal("100"), status=PaymentStatus.PROMISED,
        ...         promised_until=dt.date(2024, 5, 8), account_id=1).promised_until
        datetime.date(2024, 5, 8)
    """

    id: PaymentId
    amount: Decimal
    status: PaymentStatus
    created: dt.date | None = None
    promised_until: dt.date | None = None
    account_id: int | None = None


@attrs.frozen(kw_only=True)
class Expense:
    """A charge against a client's balance; ``unpaid`` is the part not yet covered (debt).

    ``created`` is the day of the charge; ``created_at`` the moment (UTC), when billing gives the time
    of day too (``None`` when it gives a date only). ``account_id`` is the owner's account on the rows an
    admin reads.

    Example:
        >>> import datetime as dt
        >>> from decimal import Decimal
        >>> from cloudkit.billing import Expense
        >>> Expense(id=1, amount=Decimal("5"), unpaid=Decimal("0"), info="vm-1").unpaid
        Decimal('0')
        >>> at = dt.datetime(2024, 5, 1, 13, 0, tzinfo=dt.UTC)
        >>> Expense(id=1, amount=Decimal("5"), unpaid=Decimal("0"), info="vm-1", created=at.date(),
        ...         created_at=at, account_id=1).created_at.hour
        13
    """

    id: int
    amount: Decimal
    unpaid: Decimal
    info: str
    created: dt.date | None = None
    created_at: dt.datetime | None = None
    account_id: int | None = None


@attrs.frozen(kw_only=True)
class Invoice:
    """A payment document (``invoice``).

    Example:
        >>> from decimal import Decimal
        >>> from cloudkit.billing import Invoice
        >>> Invoice(id=1, number="INV-1", amount=Decimal("10"), status="1").number
        'INV-1'
    """

    id: int
    number: str
    amount: Decimal
    status: str
    created: dt.date | None = None


@attrs.frozen(kw_only=True)
class Ticket:
    """A support ticket as the client sees it.

    Example:
        >>> from cloudkit.billing import Ticket, TicketStatus
        >>> Ticket(id=5, subject="Disk is slow", status=TicketStatus.NEW).subject
        'Disk is slow'
    """

    id: TicketId
    subject: str
    status: TicketStatus


@attrs.frozen(kw_only=True)
class TicketMessage:
    """One message in a ticket's conversation.

    Example:
        >>> from cloudkit.billing import TicketMessage
        >>> TicketMessage(id=1, text="help", author="alice").author
        'alice'
    """

    id: int
    text: str
    author: str
    posted: str | None = None


@attrs.frozen(kw_only=True)
class Service:
    """A billed service (item), such as a cloud server; ``account_id`` is its owner (admin rows).

    Example:
        >>> from cloudkit.billing import Service, ServiceStatus
        >>> Service(id=301, name="vm-1", status=ServiceStatus.ACTIVE).status.name
        'ACTIVE'
        >>> Service(id=301, name="vm-1", status=ServiceStatus.ACTIVE, account_id=1).account_id
        1
    """

    id: ServiceId
    name: str
    status: ServiceStatus
    account_id: int | None = None


class OrderState(enum.StrEnum):
    """Where an order stands with the money.

    ``PAID``: ordered with ``skipbasket=on`` and charged at once; the service opens (billing.md W9).
    ``IN_BASKET``: ordered into the basket: nothing is charged and nothing opens until the client
    pays the basket (assumption: billing.md names ``skipbasket`` only, not how a basket is paid).

    Example:
        >>> from cloudkit.billing import OrderState
        >>> OrderState("in_basket") is OrderState.IN_BASKET
        True
    """

    PAID = "paid"
    IN_BASKET = "in_basket"


@attrs.frozen(kw_only=True)
class ServiceOrder:
    """The result of an order (``<type>.order.param``), as read back: the new service and its state.

    ``status`` is the service's status when the order was read back (``IN_PROGRESS`` or ``ACTIVE``
    for a paid order, depending on how fast the processing module opened it; ``ORDERED`` for one in
    the basket).

    Example:
        >>> from cloudkit.billing import OrderState, ServiceOrder, ServiceStatus
        >>> order = ServiceOrder(service_id=304, name="web-1", status=ServiceStatus.IN_PROGRESS,
        ...                      state=OrderState.PAID)
        >>> order.service_id, order.state.value
        (304, 'paid')
    """

    service_id: ServiceId
    name: str
    status: ServiceStatus
    state: OrderState


def _frozen_params(value: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(value))


@attrs.frozen(kw_only=True)
class ServiceForm:
    """A service's edit form (``<type>.edit elid=<id>``): who owns it and its item params.

    What a processing module reads to learn what to build: the item params are the product type's
    own fields (for a cloud server, ``image``, ``flavor``, ``system_volume_gb``: an assumption of
    cloudkit's processing module, see :mod:`cloudkit.lifecycle.pm`).

    Example:
        >>> from cloudkit.billing import ServiceForm
        >>> form = ServiceForm(id=301, account_id=7, params={"flavor": "m1.small"})
        >>> form.params["flavor"], form.account_id
        ('m1.small', 7)
    """

    id: ServiceId
    account_id: AccountId
    params: Mapping[str, str] = attrs.field(factory=dict, converter=_frozen_params, hash=False)


@attrs.frozen(kw_only=True)
class RunningOperation:
    """An entry of billing's internal job queue (``runningoperation``): queued lifecycle work.

    ``attempts`` is billing's try count; ``error_xml`` the error document a processing module stored
    with :meth:`~cloudkit.billing.BillingClient.record_operation_error` (``None`` when there is none);
    ``manual`` whether the operation was switched to manual (billing no longer retries it by itself).

    Example:
        >>> from cloudkit.billing import RunningOperation
        >>> RunningOperation(id=88, service_id=301, operation="suspend", attempts=0).operation
        'suspend'
    """

    id: int
    service_id: ServiceId
    operation: str
    attempts: int
    error_xml: str | None = None
    manual: bool = False


class ModuleCommand(enum.StrEnum):
    """A lifecycle command billing gives a processing module (``--command``), each with its callback.

    Example:
        >>> from cloudkit.billing import ModuleCommand
        >>> ModuleCommand("suspend") is ModuleCommand.SUSPEND
        True
    """

    OPEN = "open"
    SUSPEND = "suspend"
    RESUME = "resume"
    CLOSE = "close"

    @property
    def target(self) -> ServiceStatus:
        """The service status billing shows once the module reported this command done.

        Example:
            >>> from cloudkit.billing import ModuleCommand
            >>> ModuleCommand.CLOSE.target.name
            'DELETED'
        """
        return _COMMAND_TARGETS[self]

    def reached(self, status: ServiceStatus) -> bool:
        """Whether billing showing ``status`` means this command is done.

        A suspend is done at ``SUSPENDED`` or, for a client's own suspend, ``SUSPENDED_BY_CLIENT``.

        Example:
            >>> from cloudkit.billing import ModuleCommand, ServiceStatus
            >>> ModuleCommand.SUSPEND.reached(ServiceStatus.SUSPENDED_BY_CLIENT)
            True
            >>> ModuleCommand.RESUME.reached(ServiceStatus.SUSPENDED_BY_CLIENT)
            False
        """
        if self is ModuleCommand.SUSPEND and status is ServiceStatus.SUSPENDED_BY_CLIENT:
            return True
        return status is self.target


_COMMAND_TARGETS = {
    ModuleCommand.OPEN: ServiceStatus.ACTIVE,
    ModuleCommand.SUSPEND: ServiceStatus.SUSPENDED,
    ModuleCommand.RESUME: ServiceStatus.ACTIVE,
    ModuleCommand.CLOSE: ServiceStatus.DELETED,
}


@attrs.frozen(kw_only=True)
class ModuleError:
    """The error a processing module reports: printed on stdout and stored on the running operation.

    ``type`` is billing's error type (module-defined ones such as ``exist`` or ``query`` are normal),
    ``object`` the field or object concerned, ``message`` a human-readable text.

    Example:
        >>> from cloudkit.billing import ModuleError
        >>> ModuleError(type="exist", message="server already exists").object is None
        True
    """

    type: str
    message: str = ""
    object: str | None = None


@attrs.frozen(kw_only=True)
class StaffTask:
    """A task in billing's staff "system of tasks", opened for an operation that needs a person.

    Example:
        >>> from cloudkit.billing import StaffTask
        >>> StaffTask(id=801, service_id=301, running_operation=701, type="2").type
        '2'
    """

    id: int
    service_id: ServiceId
    running_operation: int | None
    type: str
