"""Every error cloudkit raises, grouped by what the caller does next.

The system that failed is an attribute, not a branch of the tree::

    CloudkitError                .system .operation .quirk
    ├── ConfigError              bad settings, raised before any I/O
    ├── LabError                 the local lab (cloudkit lab) could not be installed, started or stopped
    ├── PolicyError              refused by cloudkit before any request is sent
    │   ├── ScopeError           wrong billing scope (admin without as_user, su from a user session)
    │   ├── SystemVolumeError    a server's system volume cannot be detached or deleted on its own
    │   ├── InvalidArgumentError a bad argument (also a ValueError), e.g. a negative amount
    │   └── PlanError            a lifecycle plan names an image or flavor the cloud lacks; nothing made
    ├── TransportError           no usable answer                               retryable
    │   └── RequestTimeoutError
    ├── ApiError                 the system said no: .status .code .detail .request_id
    │   ├── AuthenticationError
    │   ├── PermissionDeniedError
    │   ├── NotFoundError
    │   ├── ConflictError
    │   ├── RateLimitedError                                               retryable
    │   ├── ServerError                                          retryable if idempotent
    │   └── BillingApiError      billing's error envelope: .object_name .value; billing's envelope
    │       │                    errors are also the class above that fits (a BillingApiError that is
    │       │                    a NotFoundError, ...)
    │       └── InsufficientFundsError   billing's not_enough_money: .amount .have .deficit ...
    ├── ResponseDecodeError      answered, but not what the model expects: .problems
    ├── OutcomeError             the call "succeeded", its post-condition failed
    │   ├── SilentNoOpError      e.g. billing said OK and changed nothing
    │   ├── VolumeAttachError    an attach was accepted but the volume fell back or failed
    │   ├── WaitTimeoutError     a state was not reached within its budget: .last_status
    │   └── LeaseLostError       a saga worker's lease was taken over: stop, someone else runs it
    └── SessionError             the composite portal token
        ├── TokenInvalidError
        ├── TokenExpiredError
        ├── TokenRevokedError
        └── PasswordChangeError  a password change left the systems disagreeing: .billing_changed ...

No httpx, keystoneauth or openstacksdk exception reaches a caller: each system translates them at one
boundary and chains the original with ``raise ... from exc``. Messages never contain secrets.

Example:
    >>> from cloudkit.errors import ApiError, CloudkitError, NotFoundError
    >>> err = NotFoundError("no service 7", system="billing", operation="get_service")
    >>> isinstance(err, ApiError) and isinstance(err, CloudkitError)
    True
    >>> err.system, err.operation, err.retryable
    ('billing', 'get_service', False)
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

__all__ = [
    "ApiError",
    "AuthenticationError",
    "BillingApiError",
    "CloudkitError",
    "ConfigError",
    "ConflictError",
    "InsufficientFundsError",
    "InvalidArgumentError",
    "LabError",
    "LeaseLostError",
    "NotFoundError",
    "OutcomeError",
    "PasswordChangeError",
    "PermissionDeniedError",
    "PlanError",
    "PolicyError",
    "RateLimitedError",
    "RequestTimeoutError",
    "ResponseDecodeError",
    "ScopeError",
    "ServerError",
    "SessionError",
    "SilentNoOpError",
    "SystemVolumeError",
    "TokenExpiredError",
    "TokenInvalidError",
    "TokenRevokedError",
    "TransportError",
    "VolumeAttachError",
    "WaitTimeoutError",
]


class CloudkitError(Exception):
    """Base of every cloudkit error.

    Attributes:
        system: ``"billing"``, ``"openstack"``, ``"tungsten"``, ``"session"`` or ``None``.
        operation: the cloudkit operation that failed, e.g. ``"create_promised_payment"``.
        quirk: id of the registered quirk whose handler raised this error, if any.
        retryable: whether repeating the same call may succeed (idempotent calls only).

    Example:
        >>> from cloudkit.errors import CloudkitError
        >>> str(CloudkitError("boom", system="billing", operation="call"))
        'boom [billing call]'
    """

    retryable: bool = False

    def __init__(
        self,
        message: str,
        *,
        system: str | None = None,
        operation: str | None = None,
        quirk: str | None = None,
    ) -> None:
        """Create an error; keyword context is optional and never holds secrets."""
        super().__init__(message)
        self.message = message
        self.system = system
        self.operation = operation
        self.quirk = quirk

    def __str__(self) -> str:
        """The message followed by the system, operation and quirk it concerns."""
        context = " ".join(part for part in (self.system, self.operation) if part)
        if self.quirk:
            context = f"{context} quirk={self.quirk}".strip()
        return f"{self.message} [{context}]" if context else self.message

    def __repr__(self) -> str:
        """Class name and the same text as ``str``."""
        return f"{type(self).__name__}({str(self)!r})"


class ConfigError(CloudkitError):
    """Settings are missing or inconsistent; raised before any I/O.

    Example:
        >>> from cloudkit.billing import BillingSettings
        >>> BillingSettings(url="ftp://billing", username="admin", password="x")
        Traceback (most recent call last):
        ...
        cloudkit.errors.ConfigError: billing url must be http(s)://host/path, got scheme 'ftp' [billing]
    """


class LabError(CloudkitError):
    """The local lab control plane (``cloudkit lab``) could not be installed, started or stopped.

    The message names the step and the log file to read; ``system`` is ``"lab"``.

    Example:
        >>> from cloudkit.errors import LabError
        >>> str(LabError("nova-api did not answer", operation="up"))
        'nova-api did not answer [lab up]'
    """

    def __init__(self, message: str, *, operation: str | None = None) -> None:
        """Create a lab error for ``operation`` (``install``, ``up``, ``down``)."""
        super().__init__(message, system="lab", operation=operation)


class PolicyError(CloudkitError):
    """cloudkit refused the call before sending anything, to keep the caller out of a known trap."""


class ScopeError(PolicyError):
    """A call in the wrong billing scope: a user-level function without ``as_user``, or ``su`` from a
    user session. Raised before any request, so the silent no-op cannot happen.

    Example:
        >>> from cloudkit.errors import PolicyError, ScopeError
        >>> issubclass(ScopeError, PolicyError)
        True
    """  # noqa: D205 (the summary needs two lines to name both cases)


class SystemVolumeError(PolicyError):
    """A server's system (boot) volume lives and dies with the server (quirk ``openstack.system-volume``).

    Detaching or deleting it is refused before any request; Nova's own refusal ("root device") maps here.

    Example:
        >>> from cloudkit.errors import PolicyError, SystemVolumeError
        >>> issubclass(SystemVolumeError, PolicyError)
        True
    """


class InvalidArgumentError(PolicyError, ValueError):
    """An argument cloudkit can tell is wrong before asking anyone (also a ``ValueError``).

    Example:
        >>> from cloudkit.errors import InvalidArgumentError
        >>> issubclass(InvalidArgumentError, ValueError)
        True
    """


class PlanError(PolicyError):
    """A lifecycle plan cannot be built: an unknown image or flavor. Checked before anything is created.

    Example:
        >>> from cloudkit.errors import PlanError, PolicyError
        >>> issubclass(PlanError, PolicyError)
        True
    """


class TransportError(CloudkitError):
    """No usable answer arrived: connection refused or reset, protocol error. Safe to retry a read."""

    retryable = True


class RequestTimeoutError(TransportError):
    """The request did not complete within its timeout."""


class ApiError(CloudkitError):
    """The system answered and refused.

    Attributes:
        status: the HTTP status (200 for billing, whose errors arrive in a 200 envelope), or ``None``.
        code: the upstream's own error code, e.g. billing's ``"not_enough_money"``, Nova's
            ``"itemNotFound"`` or a Neutron exception name; ``None`` when the upstream sends none. Never
            the HTTP status, never a name cloudkit made up.
        detail: the system's message, truncated, never holding a secret we sent.
        request_id: the upstream's request id (``x-openstack-request-id`` and kin), or ``None``.

    Example:
        >>> from cloudkit.errors import ApiError
        >>> err = ApiError("bad field", system="billing", status=200, code="value", detail="x")
        >>> err.status, err.code, err.request_id
        (200, 'value', None)
    """

    def __init__(
        self,
        message: str,
        *,
        system: str | None = None,
        operation: str | None = None,
        quirk: str | None = None,
        status: int | None = None,
        code: str | None = None,
        detail: str | None = None,
        request_id: str | None = None,
    ) -> None:
        """Create an API error with the system's status, code, detail and request id."""
        super().__init__(message, system=system, operation=operation, quirk=quirk)
        self.status = status
        self.code = code
        self.detail = detail
        self.request_id = request_id


class AuthenticationError(ApiError):
    """The credentials or the session were refused."""


class PermissionDeniedError(ApiError):
    """Authenticated, but not allowed to do this."""


class NotFoundError(ApiError):
    """The object does not exist (or is not visible in this scope)."""


class ConflictError(ApiError):
    """The object exists already or is in a state that forbids the change."""


class RateLimitedError(ApiError):
    """The system asked us to slow down."""

    retryable = True


class ServerError(ApiError):
    """The system failed (5xx or a transient database error); retryable for idempotent calls."""

    retryable = True


class BillingApiError(ApiError):
    """An error from billing's ``doc.error`` envelope, with what only billing reports.

    Billing's envelope errors are instances of this class and of the class of the tree that fits
    (``except NotFoundError`` catches billing's ``notexist``; ``isinstance(err, BillingApiError)`` gives
    the fields below).

    Attributes:
        object_name: billing's ``$object``: the field or object the error is about, e.g. ``"message"``.
        value: billing's ``$value``: the value it refused (never for a field that names a secret).

    Example:
        >>> from cloudkit.errors import ApiError, BillingApiError
        >>> err = BillingApiError("billing error value (name)", status=200, code="value", object_name="name")
        >>> isinstance(err, ApiError), err.code, err.object_name, err.value
        (True, 'value', 'name', None)
    """

    def __init__(
        self,
        message: str,
        *,
        object_name: str | None = None,
        value: str | None = None,
        **context: Any,
    ) -> None:
        """Create the error with billing's ``$object`` and ``$value``."""
        super().__init__(message, **context)
        self.object_name = object_name
        self.value = value


class InsufficientFundsError(BillingApiError):
    """Billing refused for lack of money (``not_enough_money``); amounts are Decimal.

    Example:
        >>> from decimal import Decimal
        >>> from cloudkit.errors import InsufficientFundsError
        >>> err = InsufficientFundsError("no money", amount=Decimal("5"), have=Decimal("1"))
        >>> err.amount - err.have
        Decimal('4')
    """

    def __init__(
        self,
        message: str,
        *,
        amount: Decimal | None = None,
        have: Decimal | None = None,
        deficit: Decimal | None = None,
        limit: Decimal | None = None,
        currency: str | None = None,
        **context: Any,
    ) -> None:
        """Create the error with the amounts billing reported."""
        super().__init__(message, **context)
        self.amount = amount
        self.have = have
        self.deficit = deficit
        self.limit = limit
        self.currency = currency


class ResponseDecodeError(CloudkitError):
    """The system answered, but not in the shape the model expects.

    Attributes:
        problems: one line per problem, each naming a path such as ``$.doc.elem[3].balance``.

    Example:
        >>> from cloudkit.errors import ResponseDecodeError
        >>> err = ResponseDecodeError("bad reply", problems=("$.doc.elem[0].id: missing",))
        >>> err.problems
        ('$.doc.elem[0].id: missing',)
    """

    def __init__(
        self,
        message: str,
        *,
        problems: tuple[str, ...] = (),
        system: str | None = None,
        operation: str | None = None,
        quirk: str | None = None,
    ) -> None:
        """Create the error with the list of problems found."""
        super().__init__(message, system=system, operation=operation, quirk=quirk)
        self.problems = problems

    def __str__(self) -> str:
        """The message, context and the first problems."""
        base = super().__str__()
        if not self.problems:
            return base
        shown = "; ".join(self.problems[:5])
        more = f" (+{len(self.problems) - 5} more)" if len(self.problems) > 5 else ""  # noqa: PLR2004
        return f"{base}: {shown}{more}"


class OutcomeError(CloudkitError):
    """The call reported success but its declared post-condition does not hold."""


class SilentNoOpError(OutcomeError):
    """The system answered OK and changed nothing (quirk ``billing.silent-ok``).

    Example:
        >>> from cloudkit.errors import OutcomeError, SilentNoOpError
        >>> issubclass(SilentNoOpError, OutcomeError)
        True
    """


class VolumeAttachError(OutcomeError):
    """An attach was accepted but did not happen: the volume fell back to ``available`` or failed.

    Example:
        >>> from cloudkit.errors import OutcomeError, VolumeAttachError
        >>> issubclass(VolumeAttachError, OutcomeError)
        True
    """


class WaitTimeoutError(OutcomeError):
    """A wait ran out of its budget before the expected state; ``last_status`` is what was seen last."""

    def __init__(
        self,
        message: str,
        *,
        last_status: str | None = None,
        system: str | None = None,
        operation: str | None = None,
        quirk: str | None = None,
    ) -> None:
        """Create the error with the last status observed."""
        super().__init__(message, system=system, operation=operation, quirk=quirk)
        self.last_status = last_status


class LeaseLostError(OutcomeError):
    """A saga worker no longer holds the saga's lease: another worker claimed it, or it became final.

    Nothing was written. The worker stops quietly; whoever holds the lease now runs the saga.

    Example:
        >>> from cloudkit.errors import LeaseLostError, OutcomeError
        >>> err = LeaseLostError("saga s-1 is no longer leased to 'w1'", system="lifecycle",
        ...                      operation="start_step")
        >>> isinstance(err, OutcomeError), err.retryable
        (True, False)
    """


class SessionError(CloudkitError):
    """The composite portal token cannot be used."""


class TokenInvalidError(SessionError):
    """The token is malformed, tampered with or signed with an unknown key."""


class TokenExpiredError(SessionError):
    """The token (or one of the credentials it wraps) has expired."""


class TokenRevokedError(SessionError):
    """The token was revoked (logout or password change)."""


class PasswordChangeError(SessionError):
    """A password change failed half-way and could not be undone: the systems now disagree.

    Attributes say which system holds the new password, so an operator can repair it; the message never
    contains a password. A change that failed cleanly (nothing changed, or the first change undone)
    raises the underlying error instead.

    Example:
        >>> from cloudkit.errors import PasswordChangeError
        >>> err = PasswordChangeError("keystone refused", billing_changed=True, keystone_changed=False)
        >>> err.billing_changed, err.keystone_changed
        (True, False)
    """

    def __init__(
        self,
        message: str,
        *,
        billing_changed: bool,
        keystone_changed: bool,
        system: str | None = "session",
        operation: str | None = "change_password",
    ) -> None:
        """Create the error with the state each system was left in."""
        super().__init__(message, system=system, operation=operation)
        self.billing_changed = billing_changed
        self.keystone_changed = keystone_changed
