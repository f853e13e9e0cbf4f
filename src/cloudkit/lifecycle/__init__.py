"""Service lifecycle as durable sagas across billing, OpenStack and Tungsten Fabric.

Above :class:`~cloudkit.Platform`, below nothing: no system package imports this one.

Example:
    >>> from cloudkit.lifecycle import Lifecycle, LifecycleSettings, ServerPlan
    >>> LifecycleSettings(db_url="sqlite:///sagas.db").max_attempts
    5
"""

from cloudkit.errors import PlanError
from cloudkit.lifecycle._engine import Attempt, Engine, ErrorKind, classify
from cloudkit.lifecycle._lifecycle import Lifecycle
from cloudkit.lifecycle._models import (
    Customer,
    ModuleCommand,
    Saga,
    SagaState,
    ServerPlan,
    StepRecord,
    StepState,
    SuspendReason,
)
from cloudkit.lifecycle._reconcile import Finding, FindingKind, ReconcileReport
from cloudkit.lifecycle._runners import InlineRunner, Runner
from cloudkit.lifecycle._settings import LifecycleSettings, config_environ, default_db_url
from cloudkit.lifecycle._steps import OPERATIONS, Step, StepContext, Systems
from cloudkit.lifecycle._stoprules import (
    AccountState,
    Action,
    Decision,
    Notice,
    PromisedPayment,
    StopPolicy,
    Suspension,
    apply,
    decide,
)
from cloudkit.lifecycle._store import SagaStore
from cloudkit.lifecycle._sweep import SweepReport

__all__ = [
    "OPERATIONS",
    "AccountState",
    "Action",
    "Attempt",
    "Customer",
    "Decision",
    "Engine",
    "ErrorKind",
    "Finding",
    "FindingKind",
    "InlineRunner",
    "Lifecycle",
    "LifecycleSettings",
    "ModuleCommand",
    "Notice",
    "PlanError",
    "PromisedPayment",
    "ReconcileReport",
    "Runner",
    "Saga",
    "SagaState",
    "SagaStore",
    "ServerPlan",
    "Step",
    "StepContext",
    "StepRecord",
    "StepState",
    "StopPolicy",
    "SuspendReason",
    "Suspension",
    "SweepReport",
    "Systems",
    "apply",
    "classify",
    "config_environ",
    "decide",
    "default_db_url",
]


def __getattr__(name: str) -> object:
    """``CeleryRunner`` on first use, so that importing this package does not import Celery (lc-celery)."""
    if name == "CeleryRunner":
        from cloudkit.lifecycle.celery import CeleryRunner  # noqa: PLC0415

        return CeleryRunner
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
