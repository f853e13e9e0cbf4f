"""Benchmark ``BillingClient.list_accounts`` against raw httpx + json + dict access, in the same run.

A `BillingFake` (default mode: seeded, no wrapped children) serves ``--rows`` accounts on loopback from
a child process, so the fake's own work never shares the benchmark's interpreter, GIL or tracemalloc.
Two readers fetch the same rows from it:

* baseline: a plain ``httpx.Client`` POSTs exactly the body cloudkit sends
  (``func=account&out=json&p_cnt=N&p_num=P&auth=SID``), ``json.loads`` the reply and builds
  ``(int(id), name, Decimal(balance $orig))`` tuples by plain dict access;
* cloudkit: ``BillingClient(...).list_accounts()`` on a client that logged in beforehand.

Calls alternate (ABAB..., the order flipped every round) after a warm-up; the report gives the median
milliseconds per call of each, the ratio cloudkit/baseline against the target (<= 1.5x), and the peak
tracemalloc bytes of one call of each (informative). Wall time is only ever compared with the baseline
of the same run, never with a fixed number.

Run: ``python benchmarks/bench_list_accounts.py [--rounds 7] [--calls 30] [--rows 1000] [--strict]``.
The exit code is 0 unless ``--strict`` is given and the ratio is over the target.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import multiprocessing as mp
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from decimal import Decimal
from multiprocessing.connection import Connection
from typing import Any

import httpx

from cloudkit.billing import BillingClient, BillingSettings
from cloudkit.testing.fakes import BillingFake

TARGET = 1.5
ADMIN, PASSWORD = "admin", "secret"
SEEDED_ACCOUNTS = 2  # the fake's seed: "Alice Ltd" and "Bob GmbH" (see BillingFake's docstring)
STARTUP_TIMEOUT = 120.0

Row = tuple[int, str, Decimal]


# ---------------------------------------------------------------------------------------------- server
def serve_fake(rows: int, conn: Connection) -> None:
    """Child process: a default `BillingFake` grown to ``rows`` accounts; runs until told to stop."""
    fake = BillingFake()
    for i in range(SEEDED_ACCOUNTS + 1, rows + 1):
        # add_user creates the account and its first user; balances vary so every row is distinct.
        fake.add_user(
            f"user{i:05d}",
            f"pass{i:05d}",
            account_name=f"Client {i:05d} GmbH",
            balance=Decimal(i * 7 % 10_000) + Decimal(i % 100) / 100,
        )
    with fake:
        conn.send(fake.url)
        with contextlib.suppress(EOFError):  # EOFError: the parent went away
            conn.recv()  # "stop"


# ---------------------------------------------------------------------------------------------- readers
class RawReader:
    """The baseline: the same request as cloudkit, decoded with json.loads and plain dict access."""

    def __init__(self, url: str, page_size: int) -> None:
        self.url = url
        self.page_size = str(page_size)
        self.http = httpx.Client(trust_env=False, timeout=30.0)
        reply = self.http.post(url, data={"func": "auth", "username": ADMIN, "password": PASSWORD})
        self.sid = reply.json()["doc"]["auth"]["$id"]

    def list_accounts(self) -> list[Row]:
        out: list[Row] = []
        page = 1
        while True:
            reply = self.http.post(
                self.url,
                data={
                    "func": "account",
                    "out": "json",
                    "p_cnt": self.page_size,
                    "p_num": str(page),
                    "auth": self.sid,
                },
            )
            if reply.status_code != httpx.codes.OK:
                raise RuntimeError(f"baseline: HTTP {reply.status_code}")
            doc = json.loads(reply.content)["doc"]
            elem = doc.get("elem", [])
            out.extend((int(r["id"]["$"]), r["name"]["$"], Decimal(r["balance"]["$orig"])) for r in elem)
            if len(elem) < int(self.page_size) or len(out) >= int(doc["p_elems"]["$"]):
                return out
            page += 1

    def close(self) -> None:
        self.http.close()


def total_rows(url: str) -> int:
    """``p_elems`` of the account list, read raw (a setup check, not timed)."""
    with httpx.Client(trust_env=False, timeout=30.0) as http:
        data = {"func": "account", "out": "json", "p_cnt": "1", "authinfo": f"{ADMIN}:{PASSWORD}"}
        return int(http.post(url, data=data).json()["doc"]["p_elems"]["$"])


# ---------------------------------------------------------------------------------------------- measure
def timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def interleave(
    readers: dict[str, Callable[[], Any]], *, rounds: int, calls: int, warmup: int
) -> tuple[dict[str, list[float]], list[float]]:
    """Seconds per call of each reader (ABAB..., order flipped each round) and each round's ratio."""
    names = list(readers)
    for _ in range(warmup):
        for name in names:
            readers[name]()
    samples: dict[str, list[float]] = {name: [] for name in names}
    round_ratios: list[float] = []
    for r in range(rounds):
        order = names if r % 2 == 0 else names[::-1]
        gc.collect()
        this_round: dict[str, list[float]] = {name: [] for name in names}
        for _ in range(calls):
            for name in order:
                this_round[name].append(timed(readers[name]))
        for name in names:
            samples[name].extend(this_round[name])
        round_ratios.append(
            statistics.median(this_round["cloudkit"]) / statistics.median(this_round["baseline"])
        )
    return samples, round_ratios


def peak_bytes(fn: Callable[[], Any], tries: int = 3) -> int:
    """Median over ``tries`` of the tracemalloc peak of one call, above what was allocated before it."""
    peaks: list[int] = []
    gc.collect()
    tracemalloc.start()
    try:
        for _ in range(tries):
            tracemalloc.reset_peak()
            before = tracemalloc.get_traced_memory()[0]
            result = fn()
            peaks.append(tracemalloc.get_traced_memory()[1] - before)
            del result
            gc.collect()
    finally:
        tracemalloc.stop()
    return int(statistics.median(peaks))


# ---------------------------------------------------------------------------------------------- main
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds (default 7)")
    parser.add_argument("--calls", type=int, default=30, help="calls per reader per round (default 30)")
    parser.add_argument("--rows", type=int, default=1000, help="accounts in the fake (default 1000)")
    parser.add_argument("--page-size", type=int, default=1000, help="p_cnt for both readers (default 1000)")
    parser.add_argument("--warmup", type=int, default=5, help="untimed calls per reader first (default 5)")
    parser.add_argument("--strict", action="store_true", help="exit 1 when the ratio is over the target")
    args = parser.parse_args(argv)
    if args.rows < SEEDED_ACCOUNTS:
        parser.error(f"--rows must be at least {SEEDED_ACCOUNTS} (the fake's seeded accounts)")
    for name in ("rounds", "calls", "page_size"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1")
    if args.warmup < 0:
        parser.error("--warmup must be >= 0")
    return args


def report(
    args: argparse.Namespace,
    samples: dict[str, list[float]],
    round_ratios: list[float],
    peaks: dict[str, int],
) -> float:
    base_ms = statistics.median(samples["baseline"]) * 1000
    ck_ms = statistics.median(samples["cloudkit"]) * 1000
    ratio = ck_ms / base_ms
    mem_ratio = peaks["cloudkit"] / peaks["baseline"]
    verdict = "PASS" if ratio <= TARGET else "OVER"
    n = len(samples["baseline"])
    print(
        f"list_accounts over loopback: {args.rows} rows, page size {args.page_size}, "
        f"{args.rounds} rounds x {args.calls} calls per reader (+{args.warmup} warm-up), {n} samples each"
    )
    print()
    print(f"{'':28}{'median ms/call':>16}{'peak KiB/call':>16}")
    print(f"{'baseline (httpx+json+dict)':28}{base_ms:16.2f}{peaks['baseline'] / 1024:16.0f}")
    print(f"{'cloudkit list_accounts':28}{ck_ms:16.2f}{peaks['cloudkit'] / 1024:16.0f}")
    print(f"{'ratio cloudkit/baseline':28}{ratio:15.2f}x{mem_ratio:15.2f}x")
    print()
    print(f"per-round time ratio: min {min(round_ratios):.2f}x, max {max(round_ratios):.2f}x")
    print(f"target: time ratio <= {TARGET:.1f}x -> {verdict} ({ratio:.2f}x); memory is informative only")
    return ratio


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    ctx = mp.get_context("spawn")
    parent_end, child_end = ctx.Pipe()
    server = ctx.Process(target=serve_fake, args=(args.rows, child_end), name="billing-fake", daemon=True)
    server.start()
    child_end.close()
    try:
        if not parent_end.poll(STARTUP_TIMEOUT):
            raise RuntimeError("the billing fake did not start")
        url: str = parent_end.recv()
        if (total := total_rows(url)) != args.rows:
            raise RuntimeError(f"the fake lists {total} accounts, expected {args.rows}")

        raw = RawReader(url, args.page_size)
        settings = BillingSettings(url=url, username=ADMIN, password=PASSWORD, page_size=args.page_size)
        with BillingClient(settings) as billing:
            billing.login()
            # Correctness, not timing: both readers see the same rows.
            accounts = billing.list_accounts()
            assert len(accounts) == args.rows, f"cloudkit listed {len(accounts)} accounts"
            expected = raw.list_accounts()
            assert [(a.id, a.name, a.balance) for a in accounts] == expected, "readers disagree"
            del accounts, expected

            readers = {"baseline": raw.list_accounts, "cloudkit": billing.list_accounts}
            samples, round_ratios = interleave(
                readers, rounds=args.rounds, calls=args.calls, warmup=args.warmup
            )
            peaks = {name: peak_bytes(fn) for name, fn in readers.items()}
        raw.close()
    finally:
        with contextlib.suppress(OSError):  # the child may have died already
            parent_end.send("stop")
        parent_end.close()
        server.join(timeout=10)
        if server.is_alive():
            server.terminate()
            server.join()

    ratio = report(args, samples, round_ratios, peaks)
    return 1 if args.strict and ratio > TARGET else 0


if __name__ == "__main__":
    sys.exit(main())
