import datetime as dt
import subprocess
import sys
import threading

import pytest

from cloudkit.session import MemoryTokenStore, SqliteTokenStore, TokenStore

LATER = dt.datetime(2099, 1, 1, tzinfo=dt.UTC)


@pytest.fixture(params=["memory", "sqlite"])
def store(request, tmp_path):
    s = MemoryTokenStore() if request.param == "memory" else SqliteTokenStore(tmp_path / "tokens.db")
    yield s
    if isinstance(s, SqliteTokenStore):
        s.close()


def test_store_interface(store):
    assert isinstance(store, TokenStore)
    assert not store.is_revoked("j1")
    store.revoke("j1", LATER)
    assert store.is_revoked("j1")
    assert store.generation("alice") == 0
    assert [store.bump_generation("alice") for _ in range(3)] == [1, 2, 3]
    assert store.generation("bob") == 0


def test_sqlite_generation_bumps_are_atomic_across_threads(tmp_path):
    path = tmp_path / "tokens.db"
    SqliteTokenStore(path).close()
    results: list[int] = []

    def bump():
        local = SqliteTokenStore(path)
        results.extend(local.bump_generation("alice") for _ in range(20))
        local.close()

    threads = [threading.Thread(target=bump) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == list(range(1, 81))


_BUMP = """
import sys
from cloudkit.session import SqliteTokenStore
store = SqliteTokenStore(sys.argv[1])
for _ in range(10):
    store.bump_generation("alice")
store.close()
"""


def test_sqlite_store_is_shared_across_processes(tmp_path):
    path = str(tmp_path / "tokens.db")
    SqliteTokenStore(path).close()
    processes = [subprocess.Popen([sys.executable, "-c", _BUMP, path]) for _ in range(2)]
    assert [p.wait(timeout=60) for p in processes] == [0, 0]
    store = SqliteTokenStore(path)
    assert store.generation("alice") == 20
    store.close()


def test_sqlite_purges_expired_revocations(tmp_path):
    store = SqliteTokenStore(tmp_path / "tokens.db")
    store.revoke("old", dt.datetime(2000, 1, 1, tzinfo=dt.UTC))
    store.revoke("new", LATER)
    assert not store.is_revoked("old")  # purged: it had expired anyway
    assert store.is_revoked("new")
    store.close()


def test_sqlite_cached_answers_follow_writes_of_other_stores_and_processes(tmp_path):
    path = tmp_path / "tokens.db"
    reader, writer = SqliteTokenStore(path), SqliteTokenStore(path)
    assert reader.status("j1", "alice") == (False, 0)  # now cached in the reader
    writer.revoke("j1", LATER)
    assert reader.status("j1", "alice") == (True, 0)  # the epoch moved: asked SQLite again
    writer.bump_generation("alice")
    assert reader.status("j1", "alice") == (True, 1)
    script = (
        "import sys, datetime as dt\n"
        "from cloudkit.session import SqliteTokenStore\n"
        "SqliteTokenStore(sys.argv[1]).revoke('j2', dt.datetime(2099, 1, 1, tzinfo=dt.UTC))\n"
    )
    assert reader.status("j2", "alice") == (False, 1)
    assert subprocess.run([sys.executable, "-c", script, str(path)], check=False).returncode == 0
    assert reader.status("j2", "alice") == (True, 1)  # another process's revocation, seen at once
    reader.close()
    writer.close()


def test_sqlite_own_writes_invalidate_own_cache(tmp_path):
    store = SqliteTokenStore(tmp_path / "tokens.db")
    assert store.status("j1", "bob") == (False, 0)
    store.revoke("j1", LATER)
    store.bump_generation("bob")
    assert store.status("j1", "bob") == (True, 1)
    store.close()
