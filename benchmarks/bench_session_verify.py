"""Benchmark ``SessionManager.verify`` with the SQLite store against a bare joserfc decode, in the same run.

One realistic session token (a ~200-character Keystone token, ids, a billing session id, real claims) is
issued without any network, then verified over and over by three readers:

* baseline: ``jwe.decrypt_compact(token, OctKey, algorithms=["dir", "A256GCM"])`` + ``json.loads`` of
  the plaintext: the least any verifier of this token must do;
* cloudkit (SQLite): ``SessionManager(..., store=SqliteTokenStore(<temp file>)).verify(token)``: header
  checks, decryption, claims checks, and two SQLite reads (revoked ``jti``, the user's generation);
* cloudkit (memory): the same with ``MemoryTokenStore``, for comparison: the difference between the two
  cloudkit rows is what SQLite costs.

Both stores hold the same seeded data (``--seed`` revoked tokens and users with a generation, the token's
user among them), so the SQLite reads hit indexed tables that are not empty. After a warm-up, timed
batches of ``--batch`` back-to-back calls interleave reader by reader (ABC CBA ABC ...); the report
gives the median microseconds per verify of each reader, verifies per second, and the ratios
cloudkit/baseline (the median of the per-round ratios) against the target (<= 1.5x for the SQLite store).
Wall time is only ever compared with the baseline of the same run, never with a fixed number.
``--profile`` adds a cProfile listing of the SQLite side and a per-step breakdown.

Run: ``python benchmarks/bench_session_verify.py [--rounds 7] [--calls 2000] [--batch 20] [--strict]
[--profile]``.
The exit code is 0 unless ``--strict`` is given and the SQLite ratio is over the target.
"""

# Private access on purpose (hence SLF001 off for this file): the benchmark issues a token without Keystone
# or billing (SessionManager._issue, _KeystoneCredentials) and, under --profile, times verify's steps
# (_wire, _session_from, the store's connection). A benchmark may reach into internals; library code must not.
# ruff: noqa: SLF001

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import gc
import io
import json
import os
import pstats
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from joserfc import jwe
from joserfc.jwk import OctKey

from cloudkit import Secret
from cloudkit.session import MemoryTokenStore, SessionManager, SqliteTokenStore, TokenStore, _wire
from cloudkit.session._client import _KeystoneCredentials, _session_from

TARGET = 1.5
USERNAME = "alice"
# Unreachable endpoints (port 9, "discard"): nothing here may touch the network.
BILLING_URL = "http://127.0.0.1:9/billmgr"
AUTH_URL = "http://127.0.0.1:9/v3"
BASELINE, SQLITE, MEMORY = "baseline", "sqlite", "memory"
LABELS = {
    BASELINE: "baseline (joserfc decrypt+json)",
    SQLITE: "cloudkit verify, SqliteTokenStore",
    MEMORY: "cloudkit verify, MemoryTokenStore",
}


# ---------------------------------------------------------------------------------------------- setup
def seed(store: TokenStore, count: int) -> None:
    """``count`` revoked tokens and ``count`` users with a generation; ``USERNAME`` ends at generation 1."""
    expires = dt.datetime.now(dt.UTC) + dt.timedelta(hours=8)
    for i in range(count):
        store.revoke(f"{i:032x}", expires)  # uuid4().hex-shaped, never equal to the token's jti
        store.bump_generation(f"user{i:05d}")
    store.bump_generation(USERNAME)


def keystone_credentials() -> _KeystoneCredentials:
    """What a Keystone password login yields: a ~200-character Fernet-like token, ids, a future expiry."""
    token = "gAAAAA" + secrets.token_urlsafe(150)  # 6 + 200 characters, the size of a real Fernet token
    expires_at = dt.datetime.now(dt.UTC) + dt.timedelta(hours=12)
    return _KeystoneCredentials(Secret(token), expires_at, secrets.token_hex(16), secrets.token_hex(16))


@contextmanager
def managers(key: bytes, seeded: int) -> Iterator[tuple[SessionManager, SessionManager, SqliteTokenStore]]:
    """A manager on a temporary SQLite store and one on a memory store, same key, same seeded data."""
    with tempfile.TemporaryDirectory(prefix="bench-session-") as tmp:
        sqlite_store = SqliteTokenStore(Path(tmp) / "tokens.db")
        memory_store = MemoryTokenStore()
        seed(sqlite_store, seeded)
        seed(memory_store, seeded)
        made = [
            SessionManager(billing_url=BILLING_URL, auth_url=AUTH_URL, key=key, store=store)
            for store in (sqlite_store, memory_store)
        ]
        try:
            yield made[0], made[1], sqlite_store
        finally:
            for manager in made:
                manager.close()
            sqlite_store.close()


# ---------------------------------------------------------------------------------------------- measure
def interleave(
    readers: dict[str, Callable[[], Any]], *, rounds: int, batches: int, batch: int, warmup: int
) -> list[dict[str, float]]:
    """Each round's median seconds per call of each reader.

    A round runs ``batches`` batches of ``batch`` back-to-back calls per reader, interleaved reader by
    reader (ABC CBA ABC ...: the direction flips every time, so every reader follows every other one
    equally often). A batch is timed as a whole and divided by ``batch``: whatever a call leaves behind
    for the code after it (SQLite's C code and its lock syscalls evict caches and branch history the
    next Python call has to rebuild) is then paid by the same reader's next call, not by its neighbour.
    """
    names = list(readers)
    for name in names:
        for _ in range(warmup):
            readers[name]()
    round_medians: list[dict[str, float]] = []
    for _ in range(rounds):
        gc.collect()
        per_call: dict[str, list[float]] = {name: [] for name in names}
        for i in range(batches):
            for name in names if i % 2 == 0 else names[::-1]:
                fn = readers[name]
                start = time.perf_counter()
                for _ in range(batch):
                    fn()
                per_call[name].append((time.perf_counter() - start) / batch)
        round_medians.append({name: statistics.median(per_call[name]) for name in names})
    return round_medians


def summary(round_medians: list[dict[str, float]]) -> tuple[dict[str, float], dict[str, list[float]]]:
    """Median over the rounds of each reader's round median, and each reader's per-round ratios.

    The ratio is taken inside each round (the readers ran interleaved, under the same load) and the
    median of those is the headline: load that drifts between rounds (other processes on the machine)
    then moves both sides of a ratio together instead of skewing a median pooled over all rounds.
    """
    names = list(round_medians[0])
    level = {name: statistics.median(m[name] for m in round_medians) for name in names}
    ratios = {name: [m[name] / m[BASELINE] for m in round_medians] for name in names}
    return level, ratios


# ---------------------------------------------------------------------------------------------- profile
def profile(
    sqlite_manager: SessionManager,
    store: SqliteTokenStore,
    token: str,
    baseline: Callable[[], Any],
    *,
    calls: int,
) -> None:
    """cProfile of the SQLite verify (top functions by own time) and a breakdown of verify's steps."""
    keys = sqlite_manager._keys  # the manager's own OctKey(s), imported once in its constructor
    claims = _wire.decode(token, keys=keys)
    jti, user = claims["jti"], claims["sub"]
    conn = store._connect()
    one_query = (
        "SELECT (SELECT 1 FROM revoked WHERE jti = ?), "
        "(SELECT generation FROM generations WHERE username = ?)"
    )

    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(calls):
        sqlite_manager.verify(token)
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(15)
    print()
    print(f"cProfile, {calls} SQLite verifies, top 15 by own time (profiler overhead inflates small calls):")
    lines = out.getvalue().splitlines()
    start = next(i for i, line in enumerate(lines) if line.lstrip().startswith("ncalls"))
    print("\n".join(line for line in lines[start:] if line.strip()))

    def reads() -> Any:
        return store.is_revoked(jti), store.generation(user)

    def one_select() -> Any:
        return conn.execute(one_query, (jti, user)).fetchone()

    steps: dict[str, Callable[[], Any]] = {
        "baseline: joserfc decrypt + json": baseline,
        "_wire.decode (header checks + decrypt)": lambda: _wire.decode(token, keys=keys),
        "_wire._header (cloudkit's own header parse)": lambda: _wire._header(token),
        "_session_from (claims -> Session)": lambda: _session_from(claims),
        "MemoryTokenStore, both reads": _memory_reads(jti, user),
        "SqliteTokenStore, both reads (as verify)": reads,
        "what-if: both reads in one SELECT": one_select,
        "baseline, then both SQLite reads": lambda: (baseline(), reads()),
        "baseline, then the one SELECT": lambda: (baseline(), one_select()),
        "SqliteTokenStore verify (whole)": lambda: sqlite_manager.verify(token),
    }
    batches, batch = max(calls // 200, 3), 20
    step_rounds = interleave(steps, rounds=3, batches=batches, batch=batch, warmup=100)
    print()
    print(
        f"verify's steps, each timed alone (3 rounds x {batches} batches of {batch}). A step in a tight "
        "loop keeps its caches\nwarm, so the parts need not add up to the whole; the 'baseline, then' "
        "rows show what the SQLite reads cost next to a decrypt:"
    )
    for name in steps:
        print(f"  {name:45}{statistics.median(m[name] for m in step_rounds) * 1e6:9.1f} µs")


def _memory_reads(jti: str, user: str) -> Callable[[], Any]:
    store = MemoryTokenStore()
    store.bump_generation(user)
    return lambda: (store.is_revoked(jti), store.generation(user))


# ---------------------------------------------------------------------------------------------- main
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds (default 7)")
    parser.add_argument(
        "--calls", type=int, default=2000, help="verifies per reader per round (default 2000)"
    )
    parser.add_argument(
        "--batch",
        type=int,
        default=20,
        help="back-to-back verifies per timed batch (default 20; 1 times each call alone)",
    )
    parser.add_argument(
        "--warmup", type=int, default=500, help="untimed calls per reader first (default 500)"
    )
    parser.add_argument(
        "--seed", type=int, default=1000, help="revoked tokens and users seeded in each store (default 1000)"
    )
    parser.add_argument(
        "--strict", action="store_true", help="exit 1 when the SQLite ratio is over the target"
    )
    parser.add_argument(
        "--profile", action="store_true", help="add a cProfile listing and a per-step breakdown of verify"
    )
    args = parser.parse_args(argv)
    for name in ("rounds", "calls", "batch"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be >= 1")
    if args.calls % args.batch:
        parser.error("--calls must be a multiple of --batch")
    for name in ("warmup", "seed"):
        if getattr(args, name) < 0:
            parser.error(f"--{name} must be >= 0")
    return args


def report(args: argparse.Namespace, token: str, round_medians: list[dict[str, float]]) -> float:
    level, ratios = summary(round_medians)
    us = {name: seconds * 1e6 for name, seconds in level.items()}
    ratio = {name: statistics.median(values) for name, values in ratios.items()}
    print(
        f"SessionManager.verify: one {len(token)}-character token, stores seeded with {args.seed} revoked "
        f"tokens and {args.seed + 1} users; {args.rounds} rounds x {args.calls} verifies per reader "
        f"in batches of {args.batch} (+{args.warmup} warm-up)"
    )
    print()
    print(f"{'':36}{'median µs/verify':>18}{'verifies/s':>13}{'ratio':>9}")
    for name in (BASELINE, SQLITE, MEMORY):
        print(f"{LABELS[name]:36}{us[name]:18.1f}{1e6 / us[name]:13,.0f}{ratio[name]:8.2f}x")
    print()
    for name in (SQLITE, MEMORY):
        print(f"per-round ratio, {name:6}: min {min(ratios[name]):.2f}x, max {max(ratios[name]):.2f}x")
    store_cost = statistics.median(m[SQLITE] - m[MEMORY] for m in round_medians) * 1e6
    print(
        f"SQLite store over memory store: +{store_cost:.1f} µs per verify "
        f"(+{ratio[SQLITE] - ratio[MEMORY]:.2f}x of the baseline)"
    )
    verdict = "PASS" if ratio[SQLITE] <= TARGET else "OVER"
    print(
        f"target: SQLite ratio <= {TARGET:.1f}x -> {verdict} ({ratio[SQLITE]:.2f}x); memory is for comparison"
    )
    return ratio[SQLITE]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    key = os.urandom(32)
    with managers(key, args.seed) as (sqlite_manager, memory_manager, sqlite_store):
        # Private _issue (see the top of the file): exactly the token login() builds, minus the network.
        issued = sqlite_manager._issue(USERNAME, Secret(secrets.token_hex(16)), keystone_credentials())
        token = issued.token
        oct_key = OctKey.import_key(key)  # once, as the manager does in its constructor

        def baseline() -> dict[str, Any]:
            result = jwe.decrypt_compact(token, oct_key, algorithms=["dir", "A256GCM"])
            claims: dict[str, Any] = json.loads(result.plaintext or b"")
            return claims

        # Correctness, not timing: all three readers accept the token and see the same claims.
        claims = baseline()
        for manager in (sqlite_manager, memory_manager):
            session = manager.verify(token)
            assert (session.username, session.jti, session.generation) == (USERNAME, issued.jti, 1)
            assert session.keystone_token.get_secret_value() == claims["ks"]["tok"], "readers disagree"
            assert session.billing_session.get_secret_value() == claims["bl"]["sid"], "readers disagree"
        assert sqlite_store.generation(USERNAME) == 1, "the SQLite store was not seeded"
        assert args.seed == 0 or sqlite_store.is_revoked(f"{0:032x}"), "the SQLite store was not seeded"

        readers = {
            BASELINE: baseline,
            SQLITE: lambda: sqlite_manager.verify(token),
            MEMORY: lambda: memory_manager.verify(token),
        }
        round_medians = interleave(
            readers,
            rounds=args.rounds,
            batches=args.calls // args.batch,
            batch=args.batch,
            warmup=args.warmup,
        )
        ratio = report(args, token, round_medians)
        if args.profile:
            profile(sqlite_manager, sqlite_store, token, baseline, calls=args.calls)
    return 1 if args.strict and ratio > TARGET else 0


if __name__ == "__main__":
    sys.exit(main())
