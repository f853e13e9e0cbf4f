"""Service lifecycle as durable sagas across billing, OpenStack and Tungsten Fabric.

Above :class:`~cloudkit.Platform`, below nothing: no system package imports this one.
"""

from cloudkit.errors import PlanError
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
from cloudkit.lifecycle._store import SagaStore

__all__ = [
    "Customer",
    "ModuleCommand",
    "PlanError",
    "Saga",
    "SagaState",
    "SagaStore",
    "ServerPlan",
    "StepRecord",
    "StepState",
    "SuspendReason",
]
