"""Sagas for people and for scripts: a readable table, a detail view, plain JSON. Pure functions."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import attrs

from cloudkit.lifecycle._models import Saga, StepRecord

__all__ = ["saga_detail", "saga_table", "saga_to_json"]


def _when(value: dt.datetime | None) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S") if value else "-"


def _short(text: str | None, width: int) -> str:
    if not text:
        return "-"
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 1] + "…"


def saga_table(sagas: Sequence[Saga]) -> str:
    """One line per saga: id, item, command, state, attempts, last update, last error.

    Example:
        >>> from cloudkit.lifecycle import Saga
        >>> from cloudkit.lifecycle._report import saga_table
        >>> print(saga_table([Saga(id="5f0c1d2e-0000-4000-8000-000000000001", item=42, operation="open",
        ...                        account=7, state="needs_operator", attempts=5, last_error="nova: 503")]))
        SAGA      ITEM  COMMAND  STATE           TRIES  UPDATED  LAST ERROR
        5f0c1d2e    42  open     needs_operator      5  -        nova: 503
        >>> saga_table([])
        'no sagas'
    """
    if not sagas:
        return "no sagas"
    rows = [("SAGA", "ITEM", "COMMAND", "STATE", "TRIES", "UPDATED", "LAST ERROR")]
    rows += [
        (
            s.id[:8],
            str(s.item),
            s.operation.value,
            s.state.value,
            str(s.attempts),
            _when(s.updated_at),
            _short(s.last_error, 60),
        )
        for s in sagas
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    right = {1, 4}
    lines = []
    for row in rows:
        cells = [cell.rjust(widths[i]) if i in right else cell.ljust(widths[i]) for i, cell in enumerate(row)]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def _step_line(step: StepRecord) -> str:
    ids = ", ".join(f"{k}={v}" for k, v in sorted(step.outside_ids.items())) or "-"
    error = f"  error: {_short(step.last_error, 80)}" if step.last_error else ""
    return f"  {step.name:<10} {step.state.value:<11} tries {step.attempts:<3} {ids}{error}"


def saga_detail(saga: Saga) -> str:
    """A saga with every step, its attempts, its outside ids and its last error.

    Example:
        >>> from cloudkit.lifecycle import Saga, StepRecord
        >>> from cloudkit.lifecycle._report import saga_detail
        >>> print(saga_detail(Saga(id="s-1", item=42, operation="suspend", account=7, state="done",
        ...     reason="nonpayment", running_operation=9, attempts=1,
        ...     steps=(StepRecord(name="server", state="done", attempts=1, outside_ids={"server": "vm-1"}),
        ...            StepRecord(name="billing", state="done", attempts=1)))))
        saga s-1: suspend item 42 (account 7), done after 1 attempt(s)
          running operation 9, reason nonpayment
          created -, updated -, next attempt -
          server     done        tries 1   server=vm-1
          billing    done        tries 1   -
    """
    head = (
        f"saga {saga.id}: {saga.operation.value} item {saga.item} (account {saga.account}), "
        f"{saga.state.value} after {saga.attempts} attempt(s)"
    )
    facts = [f"running operation {saga.running_operation if saga.running_operation is not None else '-'}"]
    if saga.reason is not None:
        facts.append(f"reason {saga.reason.value}")
    if saga.plan is not None:
        p = saga.plan
        facts.append(f"plan {p.image} / {p.flavor} / {p.system_volume_gb} GiB / {p.network_cidr}")
    lines = [head, "  " + ", ".join(facts)]
    lines.append(
        f"  created {_when(saga.created_at)}, updated {_when(saga.updated_at)}, "
        f"next attempt {_when(saga.next_attempt_at)}"
    )
    if saga.last_error:
        lines.append(f"  last error: {_short(saga.last_error, 200)}")
    lines += [_step_line(step) for step in saga.steps]
    return "\n".join(lines)


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat()
    if isinstance(value, str):  # enums are StrEnums: plain strings in JSON
        return str(value)
    if attrs.has(type(value)):
        return {f.name: _plain(getattr(value, f.name)) for f in attrs.fields(type(value))}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if hasattr(value, "items"):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def saga_to_json(saga: Saga) -> dict[str, Any]:
    """A saga as plain JSON values (ISO 8601 UTC times, enum values as strings).

    Example:
        >>> from cloudkit.lifecycle import Saga
        >>> from cloudkit.lifecycle._report import saga_to_json
        >>> data = saga_to_json(Saga(id="s-1", item=42, operation="open", account=7, state="pending"))
        >>> data["operation"], data["state"], data["steps"]
        ('open', 'pending', [])
    """
    result = _plain(saga)
    assert isinstance(result, dict)  # noqa: S101 - attrs instances become dicts
    return result
