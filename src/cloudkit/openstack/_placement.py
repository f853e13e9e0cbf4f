"""Pure parsing of Placement's capacity reads and of Nova's failed builds; the capacity arithmetic.

Wire facts (Placement api-ref, https://docs.openstack.org/api-ref/placement/):

- ``GET /resource_providers`` answers ``{"resource_providers": [{"uuid", "name", "generation", ...}]}``;
- ``GET /resource_providers/{uuid}/inventories`` answers ``{"inventories": {"VCPU": {"total",
  "reserved", "min_unit", "max_unit", "step_size", "allocation_ratio"}, ...},
  "resource_provider_generation"}``;
- ``GET /resource_providers/{uuid}/usages`` answers ``{"usages": {"VCPU": 2, ...},
  "resource_provider_generation"}``;
- ``GET /resource_providers/{uuid}/aggregates`` needs microversion 1.1 and answers ``{"aggregates":
  [uuid, ...]}`` (``resource_provider_generation`` added at 1.19).

Placement's own capacity check (placement/objects/allocation.py, ``_check_capacity_exceeded``) refuses
an allocation when ``(total - reserved) * allocation_ratio < used + amount``: that is the capacity here,
floored per provider (amounts are integers, so the fraction is never allocatable).

Nova (compute api-ref, "List Servers Detailed"): an admin lists every project's servers with
``all_tenants``, filters ``status=ERROR`` and ``changes-since`` (servers updated since then); a server
in ``ERROR`` carries ``fault`` ``{"code", "message", "created"}``, and a build the scheduler could not
place says ``"No valid host was found. ..."`` (nova/exception.py ``NoValidHost``).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs

from cloudkit.errors import ResponseDecodeError
from cloudkit.openstack._models import AggregateCapacity, BuildFailure, ResourceCapacity

__all__ = [
    "PLACEMENT_MICROVERSION",
    "Inventory",
    "Provider",
    "aggregates_of",
    "build_failures",
    "by_aggregate",
    "capacity_of",
    "inventories_of",
    "providers_of",
    "usages_of",
]

SYSTEM = "openstack"
PLACEMENT_MICROVERSION = "1.19"
"""Aggregates of a provider need 1.1; 1.19 adds the provider generation to that answer."""
RESOURCE_CLASSES = ("VCPU", "MEMORY_MB", "DISK_GB")
"""The standard classes a compute node reports (nova's resource tracker); others are kept too."""


@attrs.frozen(kw_only=True)
class Inventory:
    """One resource class of one provider's inventory, as Placement states it.

    Example:
        >>> from cloudkit.openstack._placement import Inventory
        >>> Inventory(total=16, reserved=0, allocation_ratio=16.0).capacity
        256
        >>> Inventory(total=32768, reserved=512, allocation_ratio=1.5).capacity
        48384
    """

    total: int
    reserved: int
    allocation_ratio: float

    @property
    def capacity(self) -> int:
        """Placement's ``(total - reserved) * allocation_ratio``, floored, never below 0."""
        return max(math.floor((self.total - self.reserved) * self.allocation_ratio), 0)


@attrs.frozen(kw_only=True)
class Provider:
    """One resource provider (a compute node): its aggregates, inventories and usages."""

    uuid: str
    name: str
    aggregates: tuple[str, ...]
    inventories: Mapping[str, Inventory]
    usages: Mapping[str, int]


def _fail(operation: str, problem: str) -> ResponseDecodeError:
    return ResponseDecodeError(
        f"openstack {operation}: Placement answered in an unexpected shape",
        problems=(problem[:200],),
        system=SYSTEM,
        operation=operation,
    )


def _mapping(value: Any, path: str, operation: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _fail(operation, f"{path}: expected an object")
    return value


def _text(value: Any, path: str, operation: str) -> str:
    if not isinstance(value, str) or not value:
        raise _fail(operation, f"{path}: expected non-empty text")
    return value


def _count(value: Any, path: str, operation: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _fail(operation, f"{path}: expected a whole number >= 0")
    return value


def _ratio(value: Any, path: str, operation: str) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise _fail(operation, f"{path}: expected a number > 0")
    return float(value)


def providers_of(body: Any, *, operation: str) -> list[tuple[str, str]]:
    """``(uuid, name)`` of each provider in a ``GET /resource_providers`` answer.

    Example:
        >>> from cloudkit.openstack._placement import providers_of
        >>> providers_of({"resource_providers": [{"uuid": "u1", "name": "cmp-1", "generation": 3}]},
        ...              operation="placement_capacity")
        [('u1', 'cmp-1')]
    """
    listed = _mapping(body, "$", operation).get("resource_providers")
    if not isinstance(listed, list):
        raise _fail(operation, "$.resource_providers: expected a list")
    found = []
    for i, item in enumerate(listed):
        path = f"$.resource_providers[{i}]"
        entry = _mapping(item, path, operation)
        found.append(
            (
                _text(entry.get("uuid"), f"{path}.uuid", operation),
                _text(entry.get("name"), f"{path}.name", operation),
            )
        )
    return found


def inventories_of(body: Any, *, operation: str) -> dict[str, Inventory]:
    """Each resource class's inventory in a ``GET .../inventories`` answer.

    Example:
        >>> from cloudkit.openstack._placement import inventories_of
        >>> inv = inventories_of({"inventories": {"VCPU": {"total": 8, "reserved": 0, "allocation_ratio": 4.0,
        ...     "min_unit": 1, "max_unit": 8, "step_size": 1}}, "resource_provider_generation": 1},
        ...     operation="placement_capacity")
        >>> inv["VCPU"].capacity
        32
    """
    table = _mapping(_mapping(body, "$", operation).get("inventories"), "$.inventories", operation)
    found: dict[str, Inventory] = {}
    for name, item in table.items():
        path = f"$.inventories.{name}"
        entry = _mapping(item, path, operation)
        total = _count(entry.get("total"), f"{path}.total", operation)
        reserved = _count(entry.get("reserved", 0), f"{path}.reserved", operation)
        ratio = _ratio(entry.get("allocation_ratio", 1.0), f"{path}.allocation_ratio", operation)
        found[str(name)] = Inventory(total=total, reserved=reserved, allocation_ratio=ratio)
    return found


def usages_of(body: Any, *, operation: str) -> dict[str, int]:
    """What is allocated per resource class in a ``GET .../usages`` answer.

    Example:
        >>> from cloudkit.openstack._placement import usages_of
        >>> usages_of({"usages": {"VCPU": 2, "MEMORY_MB": 1024}}, operation="placement_capacity")
        {'VCPU': 2, 'MEMORY_MB': 1024}
    """
    table = _mapping(_mapping(body, "$", operation).get("usages"), "$.usages", operation)
    return {str(name): _count(value, f"$.usages.{name}", operation) for name, value in table.items()}


def aggregates_of(body: Any, *, operation: str) -> tuple[str, ...]:
    """The aggregate uuids in a ``GET .../aggregates`` answer (microversion 1.1+).

    Example:
        >>> from cloudkit.openstack._placement import aggregates_of
        >>> aggregates_of({"aggregates": ["a1"], "resource_provider_generation": 2}, operation="x")
        ('a1',)
    """
    listed = _mapping(body, "$", operation).get("aggregates")
    if not isinstance(listed, list):
        raise _fail(operation, "$.aggregates: expected a list")
    return tuple(_text(a, f"$.aggregates[{i}]", operation) for i, a in enumerate(listed))


def capacity_of(providers: Iterable[Provider]) -> tuple[ResourceCapacity, ...]:
    """The summed capacity and use of each resource class over ``providers`` (standard classes first).

    Example:
        >>> from cloudkit.openstack._placement import Inventory, Provider, capacity_of
        >>> p = Provider(uuid="u", name="n", aggregates=(), usages={"VCPU": 3},
        ...              inventories={"VCPU": Inventory(total=4, reserved=0, allocation_ratio=1.0)})
        >>> [(r.resource_class, r.capacity, r.used, r.free) for r in capacity_of([p, p])]
        [('VCPU', 8, 6, 2)]
    """
    capacity: dict[str, int] = {}
    used: dict[str, int] = {}
    for provider in providers:
        for name, inventory in provider.inventories.items():
            capacity[name] = capacity.get(name, 0) + inventory.capacity
            used[name] = used.get(name, 0) + provider.usages.get(name, 0)
    order = sorted(capacity, key=lambda n: (RESOURCE_CLASSES.index(n) if n in RESOURCE_CLASSES else 99, n))
    return tuple(ResourceCapacity(resource_class=n, capacity=capacity[n], used=used[n]) for n in order)


def by_aggregate(providers: Sequence[Provider], names: Mapping[str, str]) -> list[AggregateCapacity]:
    """One :class:`AggregateCapacity` per aggregate (a provider in two counts in both), sorted by label.

    Providers in no aggregate are gathered under ``aggregate=None``. ``names`` maps aggregate uuids to
    Nova's names.

    Example:
        >>> from cloudkit.openstack._placement import Inventory, Provider, by_aggregate
        >>> inv = {"VCPU": Inventory(total=4, reserved=0, allocation_ratio=1.0)}
        >>> ps = [Provider(uuid="u1", name="cmp-1", aggregates=("a1",), inventories=inv, usages={}),
        ...       Provider(uuid="u2", name="cmp-2", aggregates=(), inventories=inv, usages={"VCPU": 4})]
        >>> [(a.label, a.providers, a.resources[0].free) for a in by_aggregate(ps, {"a1": "fast"})]
        [('(no aggregate)', ('cmp-2',), 0), ('fast', ('cmp-1',), 4)]
    """
    groups: dict[str | None, list[Provider]] = {}
    for provider in providers:
        for aggregate in provider.aggregates or (None,):
            groups.setdefault(aggregate, []).append(provider)
    found = [
        AggregateCapacity(
            aggregate=aggregate,
            name=names.get(aggregate) if aggregate is not None else None,
            providers=tuple(p.name for p in members),
            resources=capacity_of(members),
        )
        for aggregate, members in groups.items()
    ]
    return sorted(found, key=lambda a: a.label)


def _when(value: Any) -> dt.datetime | None:
    """Nova's fault ``created`` (``2026-01-01T00:00:00Z``; naive means UTC), or None when unreadable."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = dt.datetime.fromisoformat(value)  # Python 3.11+ reads the "Z"
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


def build_failures(servers: Iterable[Mapping[str, Any]], *, since: dt.datetime) -> list[BuildFailure]:
    """The failed builds among server views (``id``, ``name``, ``tenant_id``, ``fault``) since ``since``.

    A server counts when its fault's ``created`` is at or after ``since``; without a readable
    ``created``, its ``updated`` time decides. Servers without a fault are left out.

    Example:
        >>> import datetime as dt
        >>> from cloudkit.openstack._placement import build_failures
        >>> at = dt.datetime(2026, 1, 1, 12, tzinfo=dt.UTC)
        >>> views = [{"id": "s1", "name": "web", "tenant_id": "p",
        ...           "fault": {"code": 500, "message": "No valid host was found. ", "created": "2026-01-01T12:30:00Z"}},
        ...          {"id": "s2", "name": "old", "fault": {"message": "No valid host was found. ",
        ...           "created": "2026-01-01T11:00:00Z"}}]
        >>> [f.server_id for f in build_failures(views, since=at)]
        ['s1']
    """  # noqa: E501 (a doctest line)
    found = []
    for view in servers:
        fault = view.get("fault")
        if not isinstance(fault, Mapping):
            continue
        message = fault.get("message")
        at = _when(fault.get("created")) or _when(view.get("updated"))
        if not isinstance(message, str) or at is None or at < since:
            continue
        project = view.get("tenant_id") or view.get("project_id")
        found.append(
            BuildFailure(
                server_id=str(view.get("id") or ""),
                name=str(view.get("name") or ""),
                project_id=project if isinstance(project, str) else None,
                message=message,
                at=at,
            )
        )
    return found
