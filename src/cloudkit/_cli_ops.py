"""``cloudkit stoprules run [--dry-run] [--json] [--progress]``: one stop-rule sweep from the command line.

The lifecycle comes from ``CLOUDKIT_*`` and ``cloudkit.toml`` (``CLOUDKIT_CONFIG``, else
``./cloudkit.toml``; as every ``cloudkit lifecycle`` command), the policy from that file's
``[stoprules]`` table. The progress line goes to stderr, only on a terminal or with ``--progress``
(never with ``--json``); the summary table (or ``--json``) to stdout. Exit status 0 when the sweep is
done, 1 when it failed or was refused (another sweep is running), 2 on a bad policy.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TextIO

from cloudkit._cli_progress import add_progress_flag, progress_for

if TYPE_CHECKING:
    from cloudkit.lifecycle import Lifecycle, SweepReport
    from cloudkit.lifecycle._opstore import DecisionRecord

__all__ = ["add_stoprules", "run_stoprules", "sweep_table"]

_DECISIONS_SHOWN = 20


def add_stoprules(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``stoprules`` command to ``cloudkit``'s subparsers (``args.handler`` runs it).

    Example:
        >>> import argparse
        >>> from cloudkit._cli_ops import add_stoprules
        >>> parser = argparse.ArgumentParser(prog="cloudkit")
        >>> _ = add_stoprules(parser.add_subparsers(dest="command"))
        >>> args = parser.parse_args(["stoprules", "run", "--dry-run"])
        >>> args.action, args.dry_run, args.json
        ('run', True, False)
    """
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "stoprules",
        help="stop rules: suspend who ran out of money, resume who paid ([stoprules] policy)",
        description=__doc__.split("\n\n", 1)[1].replace("``", "") if __doc__ else None,
    )
    parser.add_argument("action", choices=["run"])
    parser.add_argument("--dry-run", action="store_true", help="decide and record only; change nothing")
    parser.add_argument("--json", action="store_true", help="JSON instead of the summary table")
    add_progress_flag(parser)
    parser.set_defaults(handler=run_stoprules)
    return parser


def run_stoprules(
    args: argparse.Namespace,
    *,
    out: TextIO | None = None,
    err: TextIO | None = None,
    lifecycle_factory: Callable[[], Lifecycle] | None = None,
) -> int:
    """Run one sweep for ``cloudkit stoprules run``; the exit status."""
    from cloudkit.lifecycle import Lifecycle  # noqa: PLC0415 (SQLAlchemy loads with it)
    from cloudkit.lifecycle._opstore import OpStore  # noqa: PLC0415
    from cloudkit.lifecycle._sweep import policy_from_env  # noqa: PLC0415

    out = out or sys.stdout
    err = err or sys.stderr
    policy = policy_from_env()
    shown = progress_for(args, err, "sweep")
    # The sweep reports (phase, rows so far); billing gives no total, so the count runs open-ended.
    progress = shown.count if shown.enabled else None
    with (lifecycle_factory or Lifecycle.from_env)() as lifecycle:
        try:
            report = lifecycle.sweep(policy, dry_run=args.dry_run, progress=progress)
        finally:
            shown.close()
        decisions = OpStore(lifecycle.store).recent_decisions(_DECISIONS_SHOWN, sweep_id=report.sweep_id)
    if args.json:
        print(json.dumps(_report_json(report, decisions), indent=2), file=out)
    else:
        print(sweep_table(report, decisions), file=out)
    return 0 if report.state == "done" else 1


def sweep_table(report: SweepReport, decisions: list[DecisionRecord]) -> str:
    """The summary: the sweep, its counts, then its latest recorded decisions with their reasons.

    Example:
        >>> import datetime as dt
        >>> from cloudkit._cli_ops import sweep_table
        >>> from cloudkit.lifecycle import SweepReport
        >>> at = dt.datetime(2025, 6, 1, tzinfo=dt.UTC)
        >>> print(sweep_table(SweepReport(sweep_id="0f3c", policy="default", dry_run=True, state="done",
        ...     started_at=at, finished_at=at, counts={"accounts": 2, "ok": 2}), []))
        sweep 0f3c  policy default  done (dry run)
        accounts  2
        ok        2
        no decision recorded
    """
    dry = " (dry run)" if report.dry_run else ""
    lines = [f"sweep {report.sweep_id}  policy {report.policy}  {report.state}{dry}"]
    width = max((len(k) for k in report.counts), default=0)
    lines += [f"{key:<{width}}  {value}" for key, value in report.counts.items()]
    lines += [f"error: {e}" for e in report.errors]
    if not decisions:
        lines.append("no decision recorded")
        return "\n".join(lines)
    rows = [("ACCOUNT", "ACTION", "CODE", "CREDIT", "REASON")] + [
        (str(d.account), d.action, d.code, f"{d.credit:f}", d.reason) for d in decisions
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines.append("")
    lines += ["  ".join([*(c.ljust(w) for c, w in zip(r[:4], widths, strict=True)), r[4]]) for r in rows]
    return "\n".join(lines)


def _report_json(report: SweepReport, decisions: list[DecisionRecord]) -> dict[str, object]:
    return {
        "sweep_id": report.sweep_id,
        "policy": report.policy,
        "dry_run": report.dry_run,
        "state": report.state,
        "started_at": report.started_at.isoformat(),
        "finished_at": report.finished_at.isoformat(),
        "counts": dict(report.counts),
        "errors": list(report.errors),
        "decisions": [
            {
                "account": d.account,
                "action": d.action,
                "code": d.code,
                "reason": d.reason,
                "balance": str(d.balance),
                "credit_limit": str(d.credit_limit),
                "credit": str(d.credit),
                "promised": str(d.promised),
                "hourly_spend": str(d.hourly_spend),
                "hours_left": None if d.hours_left is None else str(d.hours_left),
                "notice_level": d.notice_level,
            }
            for d in decisions
        ],
    }
