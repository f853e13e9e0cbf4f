"""``cloudkit reconcile [--fix] [--json]``: what drifted between billing, the clouds and the saga store.

``cli.py`` wires it with :func:`add_reconcile` (the parser sets ``handler``) and calls
:func:`run_reconcile`. Exit status: 0 when nothing is left to do (clean, or every finding repaired),
1 when findings remain (a dry run that found something, a repair that did not take, a part that could
not be read) or on an error, 2 on bad settings (as every ``cloudkit`` command).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from cloudkit.lifecycle import Lifecycle
    from cloudkit.lifecycle._reconcile import ReconcileReport

__all__ = ["add_reconcile", "reconcile_table", "run_reconcile"]

FINDINGS_LEFT = 1  # the exit status of every cloudkit command that found something


def add_reconcile(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    """Add the ``reconcile`` command to ``cloudkit``'s subcommands; its parser.

    Example:
        >>> import argparse
        >>> from cloudkit._cli_reconcile import add_reconcile, run_reconcile
        >>> parser = argparse.ArgumentParser(prog="cloudkit")
        >>> _ = add_reconcile(parser.add_subparsers(dest="command"))
        >>> args = parser.parse_args(["reconcile", "--fix"])
        >>> args.fix, args.json, args.handler is run_reconcile
        (True, False, True)
    """
    parser = subparsers.add_parser(
        "reconcile",
        help="find what drifted between billing, the clouds and the lifecycle store (dry run unless --fix)",
        description=(
            "Orphan servers, ports, floating IPs, networks and volumes, billing services whose server "
            "is gone or in ERROR, and stuck sagas. Nothing is changed without --fix."
        ),
    )
    parser.add_argument("--fix", action="store_true", help="repair each finding (through sagas)")
    parser.add_argument("--json", action="store_true", help="the report as JSON instead of a table")
    parser.add_argument(
        "--stuck-after",
        type=float,
        default=None,
        metavar="SECONDS",
        help="a saga still going after this long is stuck (default: step wait times its steps)",
    )
    parser.set_defaults(handler=run_reconcile)
    return parser


def run_reconcile(
    args: argparse.Namespace, out: TextIO | None = None, *, lifecycle: Lifecycle | None = None
) -> int:
    """Run ``cloudkit reconcile`` on ``lifecycle`` (default: :meth:`Lifecycle.from_env`); the exit status."""
    from cloudkit.lifecycle import Lifecycle  # noqa: PLC0415 (SQLAlchemy loads with it)
    from cloudkit.lifecycle._reconcile import reconcile  # noqa: PLC0415

    out = out or sys.stdout
    if lifecycle is None:
        with Lifecycle.from_env() as owned:
            report = reconcile(owned, fix=args.fix, stuck_after=args.stuck_after)
    else:
        report = reconcile(lifecycle, fix=args.fix, stuck_after=args.stuck_after)
    if args.json:
        print(json.dumps(report.to_json(), indent=2), file=out)
    else:
        print(reconcile_table(report), file=out)
    return FINDINGS_LEFT if report.unfixed or report.problems else 0


def _short(text: str, width: int) -> str:
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 1] + "…"


def reconcile_table(report: ReconcileReport) -> str:
    """The report for people: one line per finding, then what could not be read, then a summary.

    Example:
        >>> import datetime as dt
        >>> from cloudkit._cli_reconcile import reconcile_table
        >>> from cloudkit.lifecycle import Finding, ReconcileReport
        >>> at = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
        >>> print(reconcile_table(ReconcileReport(run_id="r1", fix=False, started_at=at, finished_at=at,
        ...     findings=[Finding("orphan_port", "port 9a1b", "item 42 is deleted in billing",
        ...                       item=42, account=7, repair="close saga of item 42")])))
        KIND         SUBJECT    ITEM  ACCOUNT  REPAIR                 DETAIL
        orphan_port  port 9a1b    42        7  close saga of item 42  item 42 is deleted in billing
        1 finding (orphan_port 1); dry run: nothing was changed (cloudkit reconcile --fix repairs)
        >>> print(reconcile_table(ReconcileReport(run_id="r2", fix=False, started_at=at, finished_at=at)))
        nothing drifted
    """
    lines: list[str] = []
    if report.findings:
        head = ("KIND", "SUBJECT", "ITEM", "ACCOUNT", *(("FIXED",) if report.fix else ()), "REPAIR", "DETAIL")
        rows = [head]
        for f in report.findings:
            fixed = ({True: "yes", False: "NO", None: "-"}[f.fixed],) if report.fix else ()
            rows.append(
                (
                    f.kind.value,
                    f.subject,
                    "-" if f.item is None else str(f.item),
                    "-" if f.account is None else str(f.account),
                    *fixed,
                    _short(f.repair, 70),
                    _short(f.detail, 110),
                )
            )
        widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
        right = {2, 3}
        for row in rows:
            cells = [c.rjust(widths[i]) if i in right else c.ljust(widths[i]) for i, c in enumerate(row)]
            lines.append("  ".join(cells).rstrip())
    lines.extend(f"could not read: {problem}" for problem in report.problems)
    if not report.findings:
        lines.append("nothing drifted" if not report.problems else "nothing drifted in what could be read")
        return "\n".join(lines)
    counts = ", ".join(f"{kind} {n}" for kind, n in report.counts.items())
    total = len(report.findings)
    summary = f"{total} finding{'s' if total != 1 else ''} ({counts})"
    if report.fix:
        left = len(report.unfixed)
        summary += f"; {total - left} repaired" + (f", {left} NOT repaired" if left else "")
    else:
        summary += "; dry run: nothing was changed (cloudkit reconcile --fix repairs)"
    lines.append(summary)
    return "\n".join(lines)
