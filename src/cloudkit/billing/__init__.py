"""BILLmanager-style billing: a typed client with su scoping and a silent-OK guard.

Example:
    >>> from decimal import Decimal
    >>> from cloudkit.billing import BillingClient, BillingSettings
    >>> from cloudkit.errors import ScopeError
    >>> from cloudkit.testing.fakes import BillingFake
    >>> with BillingFake() as fake, BillingClient(BillingSettings(
    ...         url=fake.url, username="admin", password="secret")) as billing:
    ...     try:
    ...         billing.create_promised_payment(Decimal("1"))
    ...     except ScopeError as exc:
    ...         print(exc.quirk)
    billing.su-scope
"""

from cloudkit.billing._client import BillingClient
from cloudkit.billing._models import (
    Account,
    AccountId,
    Expense,
    Invoice,
    ModuleCommand,
    ModuleError,
    OrderState,
    Payment,
    PaymentId,
    PaymentStatus,
    RunningOperation,
    Service,
    ServiceForm,
    ServiceId,
    ServiceOrder,
    ServiceStatus,
    StaffTask,
    Ticket,
    TicketId,
    TicketMessage,
    TicketStatus,
)
from cloudkit.billing._settings import BillingFunctions, BillingSettings
from cloudkit.billing._wire import module_error_xml

__all__ = [
    "Account",
    "AccountId",
    "BillingClient",
    "BillingFunctions",
    "BillingSettings",
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
    "ServiceForm",
    "ServiceId",
    "ServiceOrder",
    "ServiceStatus",
    "StaffTask",
    "Ticket",
    "TicketId",
    "TicketMessage",
    "TicketStatus",
    "module_error_xml",
]
