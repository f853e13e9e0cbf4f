"""Stop rules and reconciliation: the operations tables.

leases, stoprule_accounts, stoprule_items, sweeps, sweep_decisions, notices, sweep_scratch,
reconcile_runs, reconcile_findings.

Revision ID: 0002
Revises: 0001
Create Date: 2025-06-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None

MONEY = sa.Numeric(18, 2)
RATE = sa.Numeric(18, 4)


def _when(name: str, *, nullable: bool, primary_key: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable, primary_key=primary_key)


def upgrade() -> None:
    """Create the operations tables and their indexes."""
    op.create_table(
        "leases",
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("owner", sa.String(200), nullable=False),
        _when("until", nullable=False),
    )
    op.create_table(
        "stoprule_accounts",
        sa.Column("account", sa.BigInteger, primary_key=True, autoincrement=False),
        _when("below_limit_since", nullable=True),
        sa.Column("notified_level", sa.Integer, nullable=True),
        _when("notices_since", nullable=True),
        _when("suspended_at", nullable=True),
        sa.Column("suspended_reason", sa.String(20), nullable=True),
        sa.Column("suspended_by", sa.String(100), nullable=True),
        _when("updated_at", nullable=False),
    )
    op.create_table(
        "stoprule_items",
        sa.Column("account", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("item", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("saga_id", sa.String(36), nullable=True),
        _when("stopped_at", nullable=False),
    )
    op.create_table(
        "sweeps",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("policy", sa.String(100), nullable=False),
        sa.Column("dry_run", sa.Boolean, nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("owner", sa.String(200), nullable=False),
        _when("started_at", nullable=False),
        _when("finished_at", nullable=True),
        sa.Column("counts", sa.Text, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
    )
    op.create_index("ix_sweeps_started_at", "sweeps", ["started_at"])
    op.create_table(
        "sweep_decisions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("sweep_id", sa.String(36), nullable=False),
        sa.Column("account", sa.BigInteger, nullable=False),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("code", sa.String(50), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("balance", MONEY, nullable=False),
        sa.Column("credit_limit", MONEY, nullable=False),
        sa.Column("credit", MONEY, nullable=False),
        sa.Column("promised", MONEY, nullable=False),
        sa.Column("hourly_spend", RATE, nullable=False),
        sa.Column("hours_left", sa.Numeric(18, 2), nullable=True),
        sa.Column("notice_level", sa.Integer, nullable=True),
        sa.Column("dry_run", sa.Boolean, nullable=False),
        _when("decided_at", nullable=False),
    )
    op.create_index("ix_sweep_decisions_decided_at", "sweep_decisions", ["decided_at"])
    op.create_index("ix_sweep_decisions_account", "sweep_decisions", ["account"])
    op.create_index("ix_sweep_decisions_sweep_id", "sweep_decisions", ["sweep_id"])
    op.create_table(
        "notices",
        sa.Column("account", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("level", sa.Integer, primary_key=True, autoincrement=False),
        _when("dip_started", nullable=False, primary_key=True),
        _when("sent_at", nullable=False),
    )
    op.create_table(
        "sweep_scratch",
        sa.Column("sweep_id", sa.String(36), nullable=False),
        sa.Column("account", sa.BigInteger, nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("amount", MONEY, nullable=False),
        sa.Column("until", sa.Date, nullable=True),
    )
    op.create_index("ix_sweep_scratch_sweep_id_account", "sweep_scratch", ["sweep_id", "account"])
    op.create_table(
        "reconcile_runs",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("fix", sa.Boolean, nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        _when("started_at", nullable=False),
        _when("finished_at", nullable=True),
        sa.Column("counts", sa.Text, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
    )
    op.create_index("ix_reconcile_runs_started_at", "reconcile_runs", ["started_at"])
    op.create_table(
        "reconcile_findings",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("saga_id", sa.String(36), nullable=True),
        _when("found_at", nullable=False),
    )
    op.create_index("ix_reconcile_findings_run_id", "reconcile_findings", ["run_id"])


def downgrade() -> None:
    """Drop everything ``upgrade`` made."""
    op.drop_index("ix_reconcile_findings_run_id", table_name="reconcile_findings")
    op.drop_table("reconcile_findings")
    op.drop_index("ix_reconcile_runs_started_at", table_name="reconcile_runs")
    op.drop_table("reconcile_runs")
    op.drop_index("ix_sweep_scratch_sweep_id_account", table_name="sweep_scratch")
    op.drop_table("sweep_scratch")
    op.drop_table("notices")
    op.drop_index("ix_sweep_decisions_sweep_id", table_name="sweep_decisions")
    op.drop_index("ix_sweep_decisions_account", table_name="sweep_decisions")
    op.drop_index("ix_sweep_decisions_decided_at", table_name="sweep_decisions")
    op.drop_table("sweep_decisions")
    op.drop_index("ix_sweeps_started_at", table_name="sweeps")
    op.drop_table("sweeps")
    op.drop_table("stoprule_items")
    op.drop_table("stoprule_accounts")
    op.drop_table("leases")
