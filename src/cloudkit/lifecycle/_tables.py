"""The saga store's tables (SQLAlchemy Core metadata); the Alembic migrations must build exactly these.

``tests/unit/lifecycle/test_store.py`` compares this metadata with a migrated database (Alembic's
autogenerate comparison) on SQLite and PostgreSQL: a change here without a new migration fails there.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

__all__ = ["VERSION_TABLE", "UtcDateTime", "customers", "metadata", "saga_steps", "sagas"]

VERSION_TABLE = "cloudkit_lifecycle_version"  # Alembic's own table, named so it never meets an app's


class UtcDateTime(sa.TypeDecorator[dt.datetime]):
    """A timestamp stored in UTC and always handed back aware (SQLite hands back naive ones).

    Example:
        >>> import datetime as dt
        >>> from cloudkit.lifecycle._tables import UtcDateTime
        >>> UtcDateTime().process_result_value(dt.datetime(2025, 1, 2, 3, 4), None).tzinfo
        datetime.timezone.utc
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:  # noqa: ARG002
        """Refuse a naive time (whose zone nobody knows); store UTC."""
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            msg = f"naive datetime {value.isoformat()} cannot be stored: give it a time zone"
            raise ValueError(msg)
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect: Dialect | None) -> dt.datetime | None:  # noqa: ARG002
        """UTC-aware whatever the driver returned."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


metadata = sa.MetaData()

sagas = sa.Table(
    "sagas",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("request_key", sa.String(200), nullable=False),
    sa.Column("item", sa.BigInteger, nullable=False),
    # the how-many-th saga of its item (0-based): orders an item's sagas when the clock ties
    sa.Column("item_seq", sa.Integer, nullable=False),
    sa.Column("operation", sa.String(20), nullable=False),
    sa.Column("account", sa.BigInteger, nullable=False),
    sa.Column("running_operation", sa.BigInteger, nullable=True),
    sa.Column("state", sa.String(20), nullable=False),
    sa.Column("plan", sa.Text, nullable=True),
    sa.Column("reason", sa.String(20), nullable=True),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Column("next_attempt_at", UtcDateTime, nullable=True),
    sa.Column("lease_owner", sa.String(200), nullable=True),
    sa.Column("lease_until", UtcDateTime, nullable=True),
    sa.UniqueConstraint("request_key", name="uq_sagas_request_key"),
    sa.Index("ix_sagas_state_next_attempt_at", "state", "next_attempt_at"),
    sa.Index("ix_sagas_item", "item"),
)

saga_steps = sa.Table(
    "saga_steps",
    metadata,
    sa.Column(
        "saga_id",
        sa.String(36),
        sa.ForeignKey("sagas.id", name="fk_saga_steps_saga_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("name", sa.String(100), primary_key=True),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("state", sa.String(20), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("outside_ids", sa.Text, nullable=False),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Column("started_at", UtcDateTime, nullable=True),
    sa.Column("finished_at", UtcDateTime, nullable=True),
)

customers = sa.Table(
    "customers",
    metadata,
    sa.Column("account", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("keystone_project_id", sa.String(64), nullable=False),
    sa.Column("keystone_user_id", sa.String(64), nullable=False),
    sa.Column("tungsten_project_id", sa.String(64), nullable=False),
    sa.Column("network_id", sa.String(64), nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)
