"""The saga store's tables (SQLAlchemy Core metadata); the Alembic migrations must build exactly these.

``tests/unit/lifecycle/test_store.py`` compares this metadata with a migrated database (Alembic's
autogenerate comparison) on SQLite and PostgreSQL: a change here without a new migration fails there.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

__all__ = [
    "VERSION_TABLE",
    "Money",
    "UtcDateTime",
    "customers",
    "leases",
    "metadata",
    "notices",
    "reconcile_findings",
    "reconcile_runs",
    "saga_steps",
    "sagas",
    "stoprule_accounts",
    "stoprule_items",
    "sweep_decisions",
    "sweep_scratch",
    "sweeps",
]

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


# ------------------------------------------------------------------- operations (0002: stop rules, reconcile)
class Money(sa.TypeDecorator[Decimal]):
    """A ``NUMERIC(precision, scale)`` handed back as a ``Decimal`` of that scale on every database.

    SQLite has no decimal type: SQLAlchemy's own conversion there warns (an error under
    ``filterwarnings=error``) and may round, so SQLite's float comes back through ``str`` and is
    quantized to the column's scale (exact for the 15 significant digits money needs).

    Example:
        >>> from cloudkit.lifecycle._tables import Money
        >>> Money(18, 2).process_result_value(12.5, None)
        Decimal('12.50')
    """

    impl = sa.Numeric  # the class: an instance here would ignore the precision and scale given
    cache_ok = True

    def __init__(self, precision: int = 18, scale: int = 2) -> None:
        """A column of ``precision`` digits, ``scale`` after the point."""
        super().__init__(precision, scale)
        self._precision, self._scale = precision, scale
        self._quantum = Decimal(1).scaleb(-scale)

    def load_dialect_impl(self, dialect: Dialect) -> sa.types.TypeEngine[Any]:
        """SQLite: the number without SQLAlchemy's decimal conversion (done here instead)."""
        if dialect.name == "sqlite":
            return dialect.type_descriptor(sa.Numeric(self._precision, self._scale, asdecimal=False))
        return dialect.type_descriptor(sa.Numeric(self._precision, self._scale))

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Decimal | float | None:
        """A ``Decimal`` rounded to the scale (a float for SQLite's driver)."""
        if value is None:
            return None
        rounded = Decimal(value).quantize(self._quantum)
        return float(rounded) if dialect.name == "sqlite" else rounded

    def process_result_value(self, value: object, dialect: Dialect | None) -> Decimal | None:  # noqa: ARG002
        """A ``Decimal`` of the column's scale whatever the driver returned."""
        if value is None:
            return None
        return Decimal(str(value)).quantize(self._quantum)


MONEY = Money(18, 2)
RATE = Money(18, 4)  # hourly spend: a few cents an hour must not round to zero

leases = sa.Table(
    "leases",
    metadata,
    sa.Column("name", sa.String(100), primary_key=True),
    sa.Column("owner", sa.String(200), nullable=False),
    sa.Column("until", UtcDateTime, nullable=False),
)

stoprule_accounts = sa.Table(
    "stoprule_accounts",
    metadata,
    sa.Column("account", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("below_limit_since", UtcDateTime, nullable=True),
    sa.Column("notified_level", sa.Integer, nullable=True),
    # when the current run of notices started: the notices' key, kept across a sweep killed mid-notice
    sa.Column("notices_since", UtcDateTime, nullable=True),
    sa.Column("suspended_at", UtcDateTime, nullable=True),
    sa.Column("suspended_reason", sa.String(20), nullable=True),
    sa.Column("suspended_by", sa.String(100), nullable=True),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

stoprule_items = sa.Table(
    "stoprule_items",
    metadata,
    sa.Column("account", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("item", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("saga_id", sa.String(36), nullable=True),
    sa.Column("stopped_at", UtcDateTime, nullable=False),
)

sweeps = sa.Table(
    "sweeps",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("policy", sa.String(100), nullable=False),
    sa.Column("dry_run", sa.Boolean, nullable=False),
    sa.Column("state", sa.String(20), nullable=False),
    sa.Column("owner", sa.String(200), nullable=False),
    sa.Column("started_at", UtcDateTime, nullable=False),
    sa.Column("finished_at", UtcDateTime, nullable=True),
    sa.Column("counts", sa.Text, nullable=True),
    sa.Column("error", sa.Text, nullable=True),
    sa.Index("ix_sweeps_started_at", "started_at"),
)

sweep_decisions = sa.Table(
    "sweep_decisions",
    metadata,
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
    sa.Column("hours_left", Money(18, 2), nullable=True),
    sa.Column("notice_level", sa.Integer, nullable=True),
    sa.Column("dry_run", sa.Boolean, nullable=False),
    sa.Column("decided_at", UtcDateTime, nullable=False),
    sa.Index("ix_sweep_decisions_decided_at", "decided_at"),
    sa.Index("ix_sweep_decisions_account", "account"),
    sa.Index("ix_sweep_decisions_sweep_id", "sweep_id"),
)

notices = sa.Table(
    "notices",
    metadata,
    sa.Column("account", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("level", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("dip_started", UtcDateTime, primary_key=True),
    sa.Column("sent_at", UtcDateTime, nullable=False),
)

sweep_scratch = sa.Table(
    "sweep_scratch",
    metadata,
    sa.Column("sweep_id", sa.String(36), nullable=False),
    sa.Column("account", sa.BigInteger, nullable=False),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("amount", MONEY, nullable=False),
    sa.Column("until", sa.Date, nullable=True),
    sa.Index("ix_sweep_scratch_sweep_id_account", "sweep_id", "account"),
)

reconcile_runs = sa.Table(
    "reconcile_runs",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("fix", sa.Boolean, nullable=False),
    sa.Column("state", sa.String(20), nullable=False),
    sa.Column("started_at", UtcDateTime, nullable=False),
    sa.Column("finished_at", UtcDateTime, nullable=True),
    sa.Column("counts", sa.Text, nullable=True),
    sa.Column("error", sa.Text, nullable=True),
    sa.Index("ix_reconcile_runs_started_at", "started_at"),
)

reconcile_findings = sa.Table(
    "reconcile_findings",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.String(36), nullable=False),
    sa.Column("kind", sa.String(40), nullable=False),
    sa.Column("subject", sa.String(200), nullable=False),
    sa.Column("detail", sa.Text, nullable=False),
    sa.Column("saga_id", sa.String(36), nullable=True),
    sa.Column("found_at", UtcDateTime, nullable=False),
    sa.Index("ix_reconcile_findings_run_id", "run_id"),
)
