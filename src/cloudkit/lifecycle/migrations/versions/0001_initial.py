"""The saga store's first schema: sagas, saga_steps, customers.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None


def _when(name: str, *, nullable: bool) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    """Create the three tables and their indexes."""
    op.create_table(
        "sagas",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("request_key", sa.String(200), nullable=False),
        sa.Column("item", sa.BigInteger, nullable=False),
        sa.Column("item_seq", sa.Integer, nullable=False),
        sa.Column("operation", sa.String(20), nullable=False),
        sa.Column("account", sa.BigInteger, nullable=False),
        sa.Column("running_operation", sa.BigInteger, nullable=True),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("plan", sa.Text, nullable=True),
        sa.Column("reason", sa.String(20), nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("last_error", sa.Text, nullable=True),
        _when("created_at", nullable=False),
        _when("updated_at", nullable=False),
        _when("next_attempt_at", nullable=True),
        sa.Column("lease_owner", sa.String(200), nullable=True),
        _when("lease_until", nullable=True),
        sa.UniqueConstraint("request_key", name="uq_sagas_request_key"),
    )
    op.create_index("ix_sagas_state_next_attempt_at", "sagas", ["state", "next_attempt_at"])
    op.create_index("ix_sagas_item", "sagas", ["item"])
    op.create_table(
        "saga_steps",
        sa.Column("saga_id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("outside_ids", sa.Text, nullable=False),
        sa.Column("last_error", sa.Text, nullable=True),
        _when("started_at", nullable=True),
        _when("finished_at", nullable=True),
        sa.ForeignKeyConstraint(["saga_id"], ["sagas.id"], name="fk_saga_steps_saga_id", ondelete="CASCADE"),
    )
    op.create_table(
        "customers",
        sa.Column("account", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("keystone_project_id", sa.String(64), nullable=False),
        sa.Column("keystone_user_id", sa.String(64), nullable=False),
        sa.Column("tungsten_project_id", sa.String(64), nullable=False),
        sa.Column("network_id", sa.String(64), nullable=True),
        _when("created_at", nullable=False),
        _when("updated_at", nullable=False),
    )


def downgrade() -> None:
    """Drop everything ``upgrade`` made."""
    op.drop_table("customers")
    op.drop_table("saga_steps")
    op.drop_index("ix_sagas_item", table_name="sagas")
    op.drop_index("ix_sagas_state_next_attempt_at", table_name="sagas")
    op.drop_table("sagas")
