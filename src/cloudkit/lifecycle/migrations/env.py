"""Alembic's environment for the saga store: migrate the connection ``SagaStore.open`` hands over.

``SagaStore.open`` passes an open connection (inside its transaction, under PostgreSQL's advisory lock)
as ``config.attributes["connection"]``; nothing here opens a connection of its own. Importing this file
outside Alembic (pytest's doctest collection does) runs nothing.
"""

from __future__ import annotations

from alembic import context

from cloudkit.lifecycle._tables import VERSION_TABLE, metadata


def _under_alembic() -> bool:
    # Alembic installs ``config`` (and the rest of its proxy) on ``alembic.context`` while it runs env.py.
    return hasattr(context, "config")


def run_migrations() -> None:
    """Upgrade the connection handed over in ``config.attributes["connection"]``."""
    connection = context.config.attributes.get("connection")
    if connection is None:
        msg = "the saga store's migrations run only through SagaStore.open (no connection handed over)"
        raise RuntimeError(msg)
    context.configure(
        connection=connection,
        target_metadata=metadata,
        version_table=VERSION_TABLE,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


if _under_alembic():
    run_migrations()
