"""Fixtures for tests that need a real PostgreSQL or RabbitMQ: the lifecycle's saga store and Celery.

``lifecycle_db_url``
    A fresh, empty saga-store database URL, once per database kind: the test runs twice, ``[sqlite]``
    (a file in ``tmp_path``) and ``[postgresql]`` (a new database on the test server, dropped after
    the test). Open it with ``SagaStore.open(lifecycle_db_url)`` or hand it to ``Lifecycle(...,
    db_url=lifecycle_db_url)``; the URL holds no password (loopback trust auth).
``postgres_server_url`` (session)
    The PostgreSQL server's admin URL (``postgresql+psycopg://postgres@127.0.0.1:PORT/postgres``).
    Use ``lifecycle_db_url`` instead unless a test needs its own databases.
``amqp_url`` (session)
    A RabbitMQ broker's URL (``amqp://guest:guest@127.0.0.1:PORT//``) for Celery workers and clients.
    The broker is shared by the whole run: give each test its own queue names.

Where the servers come from: ``CLOUDKIT_TEST_POSTGRES_URL`` and ``CLOUDKIT_TEST_AMQP_URL`` when set
(``.ci/run`` starts private servers with ``python -m cloudkit.testing.services up`` and exports both).
When a variable is absent the fixture starts a private server itself for the session (Debian packages
and root needed, see :mod:`cloudkit.testing.services`) and stops it at the end. If that is impossible the
test is skipped with the reason, unless ``CLOUDKIT_REQUIRE_SERVICES=1`` (set by ``.ci/run``): then it
fails. A variable that is set but names a server that does not answer always fails.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn
from urllib.parse import urlsplit

import pytest

__all__ = ["amqp_url", "lifecycle_db_url", "postgres_server_url"]

POSTGRES_ENV = "CLOUDKIT_TEST_POSTGRES_URL"
AMQP_ENV = "CLOUDKIT_TEST_AMQP_URL"
REQUIRE_ENV = "CLOUDKIT_REQUIRE_SERVICES"


def _unavailable(message: str) -> NoReturn:
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{message} ({REQUIRE_ENV}=1: services are required here)", pytrace=False)
    pytest.skip(message)


def _private_dir(prefix: str) -> Path:
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    folder.chmod(0o755)  # the service users (postgres, rabbitmq) enter it
    return folder


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    """The test PostgreSQL server's admin URL (see the module docs for where it comes from)."""
    from cloudkit.testing import services  # noqa: PLC0415 (imported only when a test needs PostgreSQL)

    url = os.environ.get(POSTGRES_ENV)
    if url:
        _check_postgres(url)
        yield url
        return
    if os.environ.get(REQUIRE_ENV) == "1":
        _unavailable(f"{POSTGRES_ENV} is not set")
    folder = _private_dir("cloudkit-test-pg-")
    try:
        server = services.start_postgres(folder)
    except services.ServiceUnavailableError as exc:
        shutil.rmtree(folder, ignore_errors=True)
        _unavailable(f"no PostgreSQL for the tests: {exc}; or set {POSTGRES_ENV}")
    try:
        yield server.url
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


def _check_postgres(url: str) -> None:
    import sqlalchemy as sa  # noqa: PLC0415

    engine = sa.create_engine(url, connect_args={"connect_timeout": 5})
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.SQLAlchemyError as exc:
        pytest.fail(
            f"{POSTGRES_ENV} is set but its server does not answer: {type(exc).__name__}", pytrace=False
        )
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def lifecycle_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh saga-store database URL; the test runs once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'lifecycle.db'}"
        return
    import sqlalchemy as sa  # noqa: PLC0415
    from sqlalchemy.engine import make_url  # noqa: PLC0415

    server = make_url(request.getfixturevalue("postgres_server_url"))
    name = f"cloudkit_test_{uuid.uuid4().hex[:16]}"
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5})
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        yield server.set(database=name).render_as_string(hide_password=False)
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


@pytest.fixture(scope="session")
def amqp_url() -> Iterator[str]:
    """A RabbitMQ broker URL for the run (see the module docs for where it comes from)."""
    from cloudkit.testing import services  # noqa: PLC0415 (imported only when a test needs RabbitMQ)

    url = os.environ.get(AMQP_ENV)
    if url:
        parts = urlsplit(url)
        try:
            socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 5672), timeout=5).close()
        except OSError as exc:
            pytest.fail(f"{AMQP_ENV} is set but its broker does not answer: {exc}", pytrace=False)
        yield url
        return
    if os.environ.get(REQUIRE_ENV) == "1":
        _unavailable(f"{AMQP_ENV} is not set")
    folder = _private_dir("cloudkit-test-rabbit-")
    try:
        broker = services.start_rabbitmq(folder / "rabbitmq")
    except services.ServiceUnavailableError as exc:
        shutil.rmtree(folder, ignore_errors=True)
        _unavailable(f"no RabbitMQ for the tests: {exc}; or set {AMQP_ENV}")
    try:
        yield broker.url
    finally:
        broker.stop()
        shutil.rmtree(folder, ignore_errors=True)
