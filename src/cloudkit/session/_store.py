"""Revocation stores: revoked token ids and each user's generation (bumped on password change).

``TokenStore`` is the interface (a Redis store implements the same four methods); ``MemoryTokenStore``
is the in-process default; ``SqliteTokenStore`` (stdlib sqlite3, WAL) is safe across threads and
processes sharing one file.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import mmap
import os
import sqlite3
import struct
import threading
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol, runtime_checkable

__all__ = ["MemoryTokenStore", "SqliteTokenStore", "TokenStore"]

_EPOCH = struct.Struct("<Q")  # the write counter shared through <path>.epoch
_CACHE_LIMIT = 10_000  # remembered answers per thread before starting afresh


@contextlib.contextmanager
def _locked(fd: int) -> Iterator[None]:
    """An exclusive advisory lock on the file ``fd`` across processes."""
    fcntl.lockf(fd, fcntl.LOCK_EX)
    try:
        yield
    finally:
        fcntl.lockf(fd, fcntl.LOCK_UN)


@runtime_checkable
class TokenStore(Protocol):
    """Where revocations live. Implementations must be safe to share between threads.

    Example:
        >>> from cloudkit.session import MemoryTokenStore, TokenStore
        >>> isinstance(MemoryTokenStore(), TokenStore)
        True
    """

    def revoke(self, jti: str, expires_at: dt.datetime) -> None:
        """Revoke one token until it would have expired anyway."""

    def is_revoked(self, jti: str) -> bool:
        """Whether this token id was revoked."""

    def generation(self, username: str) -> int:
        """The user's current generation (0 for a user never bumped)."""

    def bump_generation(self, username: str) -> int:
        """Invalidate every token issued to the user so far; the new generation."""

    def status(self, jti: str, username: str) -> tuple[bool, int]:
        """``(is_revoked(jti), generation(username))`` in one look-up: what every verify asks."""


class MemoryTokenStore:
    """An in-process store (a dict under a lock); lost when the process ends.

    Example:
        >>> import datetime as dt
        >>> from cloudkit.session import MemoryTokenStore
        >>> store = MemoryTokenStore()
        >>> store.revoke("j1", dt.datetime(2030, 1, 1, tzinfo=dt.UTC)); store.is_revoked("j1")
        True
        >>> store.bump_generation("alice"), store.generation("alice")
        (1, 1)
    """

    def __init__(self) -> None:
        """An empty store."""
        self._lock = threading.Lock()
        self._revoked: dict[str, dt.datetime] = {}
        self._generations: dict[str, int] = {}

    def revoke(self, jti: str, expires_at: dt.datetime) -> None:
        """Revoke one token."""
        with self._lock:
            self._revoked[jti] = expires_at

    def is_revoked(self, jti: str) -> bool:
        """Whether this token id was revoked."""
        with self._lock:
            return jti in self._revoked

    def generation(self, username: str) -> int:
        """The user's generation."""
        with self._lock:
            return self._generations.get(username, 0)

    def bump_generation(self, username: str) -> int:
        """Invalidate every token issued to the user so far."""
        with self._lock:
            self._generations[username] = self._generations.get(username, 0) + 1
            return self._generations[username]

    def status(self, jti: str, username: str) -> tuple[bool, int]:
        """Whether the token is revoked, and the user's generation."""
        with self._lock:
            return jti in self._revoked, self._generations.get(username, 0)


class SqliteTokenStore:
    """A store in one SQLite file, safe across threads (a connection per thread) and processes (WAL,
    immediate transactions for the generation bump). Expired revocations are purged as new ones arrive.

    Verify's hot path avoids SQLite's read locks: every write, after its commit, increments an 8-byte
    epoch in ``<path>.epoch``, which every process maps into memory. ``status`` answers from a
    per-thread cache while the epoch is unchanged, and asks SQLite when it moved. Once ``revoke`` or
    ``bump_generation`` returns, every verify in every process on the host sees it. The file must be on
    a local file system (as SQLite's WAL mode requires anyway), and all writers must use this class.

    Example:
        >>> import datetime as dt, tempfile, pathlib
        >>> from cloudkit.session import SqliteTokenStore
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "tokens.db"
        >>> store = SqliteTokenStore(path)
        >>> store.bump_generation("alice"), SqliteTokenStore(path).generation("alice")
        (1, 1)
    """  # noqa: D205 (the summary needs both guarantees)

    def __init__(self, path: str | Path, *, timeout: float = 10.0) -> None:
        """Open (and create if needed) the store at ``path``."""
        self._path = str(path)
        self._timeout = timeout
        self._local = threading.local()
        self._epoch_fd = os.open(f"{self._path}.epoch", os.O_RDWR | os.O_CREAT, 0o600)
        weakref.finalize(self, os.close, self._epoch_fd)
        with _locked(self._epoch_fd):
            if os.fstat(self._epoch_fd).st_size < _EPOCH.size:
                os.ftruncate(self._epoch_fd, _EPOCH.size)  # a new epoch file starts at zero
        self._epoch = mmap.mmap(self._epoch_fd, _EPOCH.size)
        with self._connect() as conn:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(
                "CREATE TABLE IF NOT EXISTS revoked (jti TEXT PRIMARY KEY, expires_at INTEGER NOT NULL)"
            )
            conn.execute(
                "CREATE TABLE IF NOT EXISTS generations "
                "(username TEXT PRIMARY KEY, generation INTEGER NOT NULL)"
            )

    def _connect(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self._path, timeout=self._timeout, isolation_level=None)
            self._local.conn = conn
        return conn

    def close(self) -> None:
        """Close this thread's connection."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def _advance_epoch(self) -> None:
        """After a commit: tell every process that cached answers may be stale."""
        with _locked(self._epoch_fd):
            (epoch,) = _EPOCH.unpack_from(self._epoch, 0)
            _EPOCH.pack_into(self._epoch, 0, epoch + 1)

    def revoke(self, jti: str, expires_at: dt.datetime) -> None:
        """Revoke one token; purge revocations whose tokens have expired anyway."""
        conn = self._connect()
        now = int(dt.datetime.now(dt.UTC).timestamp())
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute("DELETE FROM revoked WHERE expires_at < ?", (now,))
            conn.execute(
                "INSERT OR REPLACE INTO revoked (jti, expires_at) VALUES (?, ?)",
                (jti, int(expires_at.timestamp())),
            )
            conn.execute("COMMIT")
            self._advance_epoch()
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def is_revoked(self, jti: str) -> bool:
        """Whether this token id was revoked."""
        row = self._connect().execute("SELECT 1 FROM revoked WHERE jti = ?", (jti,)).fetchone()
        return row is not None

    def status(self, jti: str, username: str) -> tuple[bool, int]:
        """Whether the token is revoked, and the user's generation (verify's hot path, see the class)."""
        (epoch,) = _EPOCH.unpack_from(self._epoch, 0)
        cache: dict[tuple[str, str], tuple[bool, int]] | None = getattr(self._local, "cache", None)
        if cache is None or self._local.epoch != epoch or len(cache) > _CACHE_LIMIT:
            cache = self._local.cache = {}
            self._local.epoch = epoch
        answer = cache.get((jti, username))
        if answer is None:
            row = (
                self._connect()
                .execute(
                    "SELECT EXISTS(SELECT 1 FROM revoked WHERE jti = ?), "
                    "(SELECT generation FROM generations WHERE username = ?)",
                    (jti, username),
                )
                .fetchone()
            )
            answer = cache[(jti, username)] = (bool(row[0]), int(row[1] or 0))
        return answer

    def generation(self, username: str) -> int:
        """The user's generation."""
        row = (
            self._connect()
            .execute("SELECT generation FROM generations WHERE username = ?", (username,))
            .fetchone()
        )
        return int(row[0]) if row else 0

    def bump_generation(self, username: str) -> int:
        """Invalidate every token issued to the user so far (atomic across processes)."""
        conn = self._connect()
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute(
                "INSERT INTO generations (username, generation) VALUES (?, 1) "
                "ON CONFLICT(username) DO UPDATE SET generation = generation + 1",
                (username,),
            )
            row = conn.execute(
                "SELECT generation FROM generations WHERE username = ?", (username,)
            ).fetchone()
            conn.execute("COMMIT")
            self._advance_epoch()
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return int(row[0])
