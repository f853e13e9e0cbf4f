"""Benchmark the stop-rule sweep (issue 12): a sweep where nothing changes against just reading billing.

A `BillingFake` (with a page cap) and an `OpenStackFake` run in a **child process**, so their work never
shares the benchmark's interpreter, GIL or tracemalloc. The billing fake holds ``--accounts`` customers
with two ACTIVE services each (``seed_population``); ``--suspend`` of them are out of money (below their
credit limit, no promise), and each of their services has an ACTIVE server in the OpenStack fake, in the
customer's project (``customer-<account>``), tagged ``cloudkit-item:<item>``, as the lifecycle's open
saga leaves it. Every other customer has 500 to 1,000 EUR and spends at most 1 EUR an hour: in good
standing, far from every notice level.

The benchmark process holds the `Lifecycle` (saga store in SQLite, in a temporary directory; the
sagas run inline) and measures, in one run:

1. **the suspending sweep**: the first sweep on the fresh store. It suspends the ``--suspend``
   customers, each service through a suspend saga (stop and lock the server, mark billing). Timed once;
   its time over a no-change sweep's, per suspended service, and the requests it sent. Checked: every
   seeded server SHUTOFF and locked, every service of those customers SUSPENDED in billing.
2. **the no-change sweep**: the next sweep must decide nothing new (0 recorded, 0 acted on), checked
   before timing. Then ``--rounds`` rounds, each timing one no-change sweep and the two floors (the
   order rotates every round, ``gc.collect()`` before each call); the ratio sweep/floor (target <= 1.5x)
   is the median of the per-round ratios.
   - floor (the issue's): every account and every service read page by page with the lifecycle's own
     `BillingClient` (``iter_accounts`` + ``iter_services``), each row decoded;
   - the sweep's reads (informative): what a no-change sweep reads, with the same client:
     ``iter_accounts`` + ``iter_expenses(since=<spend window>)`` + ``iter_payments(promised_only=True)``.
3. **peak memory**: the tracemalloc peak of one no-change sweep (above what was allocated before it)
   at ``--accounts`` and in a second world of ``--small`` accounts (the same share suspended first);
   target: the ratio large/small <= 1.5x ("flat").

Wall time is only ever compared with the floor measured in the same run, never with a fixed number.

Run: ``python benchmarks/bench_sweep.py [--accounts 10000] [--suspend 100] [--rounds 5] [--strict]``.
The exit code is 0 unless ``--strict`` is given and a target is missed (1); a failed check raises.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import cProfile
import dataclasses
import datetime as dt
import gc
import multiprocessing as mp
import pstats
import secrets
import statistics
import sys
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from cloudkit.billing import BillingSettings
from cloudkit.lifecycle import Lifecycle, LifecycleSettings, StopPolicy, SweepReport
from cloudkit.openstack import OpenStackSettings
from cloudkit.platform import Platform
from cloudkit.testing.fakes import BillingFake, OpenStackFake

TARGET = 1.5
MEMORY_TARGET = 1.5
ADMIN, PASSWORD = "admin", "secret"  # both fakes' seeded administrators
STARTUP_TIMEOUT = 300.0
SERVICES_PER_ACCOUNT = 2
SUSPENDED = 3  # the billing fake's status code of a suspended service


# ---------------------------------------------------------------------------------------------- child
def seed_servers(cloud: OpenStackFake, items: dict[int, list[int]], settings: LifecycleSettings) -> None:
    """An ACTIVE server for each item, in its account's project, tagged as the open saga tags it.

    Straight into the fake's state (private access, confined to this function): the suspend saga looks
    the server up by its tag in the customer's project, stops it and locks it. What provisioning also
    leaves (a boot volume, a TF port, the customer's user) is not used by a suspend and not made, so a
    thousand customers are seeded in a fraction of a second instead of provisioned in minutes.
    """
    from cloudkit.testing.fakes.openstack._state import (  # noqa: PLC0415
        POWER_RUNNING,
        Project,
        Server,
        hex5,
    )

    with cloud._lock:  # noqa: SLF001
        state = cloud._cloud.state  # noqa: SLF001
        admin = hex5("user:admin")
        now = cloud.now()
        for account, its_items in items.items():
            name = f"{settings.project_prefix}{account}"
            project = Project(hex5(f"project:{name}"), name, tags=[settings.project_tag])
            state.projects[project.id] = project
            # what onboarding grants the lifecycle's own account on a customer project
            state.assignments[(admin, project.id)] = {settings.service_role}
            for item in its_items:
                server = Server(
                    id=str(uuid.uuid4()),
                    project_id=project.id,
                    user_id=admin,
                    name=f"cloudkit-item-{item}",
                    flavor=dataclasses.replace(state.flavors["1"]),  # a server keeps its own copy
                    root_volume_id="",
                    seq=state.next_seq(),
                    created=now,
                    updated=now,
                    admin_pass=secrets.token_urlsafe(9),
                    status="ACTIVE",
                    vm_state="active",
                    task_state=None,
                    power_state=POWER_RUNNING,
                    launched=now,
                    tags=[f"cloudkit-item:{item}"],
                )
                state.servers[server.id] = server


def serve_fakes(accounts: int, suspend: int, page_cap: int, conn: Connection) -> None:
    """Child process: both fakes seeded; answers the parent's questions until told to stop."""
    billing = BillingFake(seed=False, complete_operations=False, max_page_size=page_cap)
    good = accounts - suspend
    billing.seed_population(good, balance=(Decimal(500), Decimal(1000)), seed=1)
    # Out of money: below any drawn credit limit (none, 0, 50, 100), no promised payment to lift them.
    broke = billing.seed_population(
        suspend, first=good + 1, balance=(Decimal(-300), Decimal(-101)), promised_share=0.0, seed=2
    )
    broke_ids = {billing.account_of(login) for login in broke}
    items: dict[int, list[int]] = collections.defaultdict(list)
    for item in billing._state.items.values():  # noqa: SLF001 - the fake lists no items by account
        if item.account_id in broke_ids:
            items[item.account_id].append(item.id)
    cloud = OpenStackFake(token_ttl_seconds=10**9)
    seed_servers(cloud, items, LifecycleSettings(db_url="sqlite://"))
    with billing, cloud:
        conn.send((billing.url, cloud.auth_url))
        with contextlib.suppress(EOFError):  # EOFError: the parent went away
            while (ask := conn.recv()) != "stop":
                conn.send(answer(ask, billing, cloud, items))


def answer(ask: str, billing: BillingFake, cloud: OpenStackFake, items: dict[int, list[int]]) -> Any:
    """``calls``: requests received so far by each fake; ``suspended``: the broke customers' state."""
    if ask == "calls":
        return len(billing.calls), len(cloud.calls)
    if ask == "suspended":
        tagged = (s for s in cloud.servers() if any(t.startswith("cloudkit-item:") for t in s.tags))
        servers = collections.Counter((s.status, s.locked) for s in tagged)
        statuses = collections.Counter(billing.service_status(i) for its in items.values() for i in its)
        return dict(servers), dict(statuses), sum(len(its) for its in items.values())
    raise ValueError(f"unknown question {ask!r}")


class Fakes:
    """The child process with both fakes; `ask` sends a question over the pipe (never while timing)."""

    def __init__(self, accounts: int, suspend: int, page_cap: int) -> None:
        ctx = mp.get_context("spawn")
        self.conn, child_end = ctx.Pipe()
        self.process = ctx.Process(
            target=serve_fakes, args=(accounts, suspend, page_cap, child_end), name="fakes", daemon=True
        )
        self.process.start()
        child_end.close()
        if not self.conn.poll(STARTUP_TIMEOUT):
            self.close()
            raise RuntimeError("the fakes did not start")
        self.billing_url, self.auth_url = self.conn.recv()

    def ask(self, question: str) -> Any:
        self.conn.send(question)
        return self.conn.recv()

    def close(self) -> None:
        with contextlib.suppress(OSError):  # the child may have died already
            self.conn.send("stop")
        self.conn.close()
        self.process.join(timeout=10)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join()


# ---------------------------------------------------------------------------------------------- world
class World:
    """Fakes in a child process and a lifecycle on a fresh SQLite store in a temporary directory."""

    def __init__(self, accounts: int, suspend: int, page_cap: int) -> None:
        self.accounts, self.suspend = accounts, suspend
        self.fakes = Fakes(accounts, suspend, page_cap)
        self.tmp = tempfile.TemporaryDirectory(prefix="bench-sweep-")
        platform = Platform(
            billing=BillingSettings(url=self.fakes.billing_url, username=ADMIN, password=PASSWORD),
            openstack=OpenStackSettings(
                auth_url=self.fakes.auth_url, username=ADMIN, password=PASSWORD, project_name="admin"
            ),
        )
        db = f"sqlite:///{Path(self.tmp.name) / 'lifecycle.db'}"
        self.lifecycle = Lifecycle(platform, settings=LifecycleSettings(db_url=db))
        self.policy = StopPolicy()
        billing = self.lifecycle.systems.billing()
        if billing is None:
            raise RuntimeError("the lifecycle has no billing client")
        self.billing = billing

    def sweep(self, progress: Callable[[str, int], None] | None = None) -> SweepReport:
        report = self.lifecycle.sweep(self.policy, progress=progress)
        if report.state != "done" or report.errors:
            raise RuntimeError(f"sweep {report.state}: {report.errors}")
        return report

    def floor(self) -> int:
        """The issue's floor: every account and every service, page by page, decoded."""
        return _count(self.billing.iter_accounts()) + _count(self.billing.iter_services())

    def sweep_reads(self) -> int:
        """What a no-change sweep reads from billing: accounts, the window's expenses, promised payments."""
        since = dt.datetime.now(dt.UTC) - dt.timedelta(hours=self.policy.spend_window_hours)
        return (
            _count(self.billing.iter_accounts())
            + _count(self.billing.iter_expenses(since=since))
            + _count(self.billing.iter_payments(promised_only=True))
        )

    def close(self) -> None:
        self.lifecycle.shutdown()
        self.fakes.close()
        self.tmp.cleanup()


def _count(rows: Iterator[object]) -> int:
    return sum(1 for _ in rows)


def check_nothing_new(report: SweepReport, accounts: int) -> None:
    """A sweep with nothing changed reads every account, decides nothing new and acts on nothing."""
    acted = ("recorded", "notify", "suspend", "resume", "delete_due", "items_suspended", "items_resumed",
             "items_closed", "notices_sent", "leftovers", "errors")  # fmt: skip
    moved = {k: report[k] for k in acted if report[k]}
    if report["accounts"] != accounts or moved:
        raise AssertionError(f"a no-change sweep read {report['accounts']}/{accounts} accounts, did {moved}")


def suspend_all(world: World) -> dict[str, Any]:
    """The first sweep: it suspends the broke customers. Timed once, then checked."""
    before = world.fakes.ask("calls")
    gc.collect()
    start = time.perf_counter()
    report = world.sweep()
    seconds = time.perf_counter() - start
    after = world.fakes.ask("calls")
    servers, statuses, items = world.fakes.ask("suspended")
    expected = (world.suspend, items, items, items)
    got = (
        report["suspend"],
        report["items_suspended"],
        servers.get(("SHUTOFF", True), 0),
        statuses.get(SUSPENDED, 0),
    )
    if got != expected or report["item_errors"]:
        raise AssertionError(
            f"suspending sweep: accounts/items/locked servers/billing suspended {got}, expected "
            f"{expected}; servers {servers}, billing statuses {statuses}, counts {dict(report.counts)}"
        )
    return {
        "seconds": seconds,
        "items": items,
        "counts": dict(report.counts),
        "billing_calls": after[0] - before[0],
        "cloud_calls": after[1] - before[1],
    }


# ---------------------------------------------------------------------------------------------- measure
def timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def rounds_of(readers: dict[str, Callable[[], Any]], rounds: int) -> dict[str, list[float]]:
    """Seconds of each reader per round; the order rotates every round; gc before every call."""
    names = list(readers)
    samples: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        k = r % len(names)
        for name in names[k:] + names[:k]:
            gc.collect()
            samples[name].append(timed(readers[name]))
    return samples


def peak_bytes(fn: Callable[[], Any]) -> int:
    """The tracemalloc peak of one call, above what was allocated before it."""
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        fn()
        return tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()


def live_peak_bytes(world: World) -> int:
    """The tracemalloc peak of one no-change sweep with ``gc.collect()`` after every page.

    What the sweep holds alive: every billing reply leaves a reference cycle (httpx's ``Response`` and
    its ``BoundSyncStream``) holding the reply's body, which only the cyclic collector frees, and that
    garbage is part of `peak_bytes`.
    """
    return peak_bytes(lambda: world.sweep(lambda _phase, _count: gc.collect()))


def phases(world: World) -> dict[str, float]:
    """Seconds of each phase of one no-change sweep, from its progress calls (the end of each phase)."""
    last: dict[str, float] = {}
    gc.collect()
    start = time.perf_counter()
    world.sweep(lambda phase, _count: last.__setitem__(phase, time.perf_counter()))
    end = time.perf_counter()
    marks = [("start", start), *sorted(last.items(), key=lambda pt: pt[1])]
    spans = {phase: t - marks[k][1] for k, (phase, t) in enumerate(marks[1:])}
    spans["finish"] = end - marks[-1][1]
    return spans


def profile(fn: Callable[[], Any], top: int = 25) -> None:
    """cProfile one call: the top functions by own time, then by cumulative time."""
    profiler = cProfile.Profile()
    profiler.runcall(fn)
    stats = pstats.Stats(profiler, stream=sys.stdout)
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)


# ---------------------------------------------------------------------------------------------- main
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--accounts", type=int, default=10_000, help="customers (default 10000)")
    parser.add_argument("--suspend", type=int, default=100, help="of them out of money (default 100)")
    parser.add_argument("--small", type=int, default=1_000, help="customers of the memory comparison (1000)")
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds (default 5)")
    parser.add_argument("--page-cap", type=int, default=500, help="the billing fake's page cap (default 500)")
    parser.add_argument("--profile", action="store_true", help="cProfile one no-change sweep at the end")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    if min(args.accounts, args.small, args.rounds, args.page_cap) < 1:
        parser.error("--accounts, --small, --rounds and --page-cap must be >= 1")
    if not 0 <= args.suspend <= args.accounts:
        parser.error("--suspend must be between 0 and --accounts")
    return args


def measure(args: argparse.Namespace) -> dict[str, Any]:
    """Every figure of the report (see the module docstring for the order)."""
    began = time.perf_counter()
    world = World(args.accounts, args.suspend, args.page_cap)
    try:
        figures: dict[str, Any] = {"setup": time.perf_counter() - began}
        figures["suspended"] = suspend_all(world)
        check_nothing_new(world.sweep(), args.accounts)  # correctness, not timing
        if world.floor() != args.accounts * (1 + SERVICES_PER_ACCOUNT):
            raise AssertionError("the floor did not read every account and service")
        figures["samples"] = rounds_of(
            {"floor": world.floor, "reads": world.sweep_reads, "sweep": world.sweep}, args.rounds
        )
        figures["read_rows"] = world.sweep_reads()
        figures["peak_large"] = peak_bytes(world.sweep)
        figures["peak_floor"] = peak_bytes(world.floor)
        figures["live_large"] = live_peak_bytes(world)
        figures["phases"] = phases(world)
        if args.profile:
            profile(world.sweep)
    finally:
        world.close()
    figures["small_suspend"] = args.suspend * args.small // args.accounts
    small = World(args.small, figures["small_suspend"], args.page_cap)
    try:
        small.sweep()
        check_nothing_new(small.sweep(), args.small)
        figures["peak_small"] = peak_bytes(small.sweep)
        figures["live_small"] = live_peak_bytes(small)
    finally:
        small.close()
    figures["wall"] = time.perf_counter() - began
    return figures


def report(args: argparse.Namespace, figures: dict[str, Any]) -> bool:
    """Print the figures; True when every target is met."""
    samples: dict[str, list[float]] = figures["samples"]
    per_round = {
        name: [s / f for s, f in zip(samples["sweep"], samples[name], strict=True)]
        for name in ("floor", "reads")
    }
    ratio, ratio_reads = (statistics.median(per_round[name]) for name in ("floor", "reads"))
    sweep_s = statistics.median(samples["sweep"])
    services = args.accounts * SERVICES_PER_ACCOUNT
    suspended = figures["suspended"]
    items = max(suspended["items"], 1)
    mem_ratio = figures["peak_large"] / figures["peak_small"]
    print(
        f"stop-rule sweep: {args.accounts} accounts, {services} services, billing page cap {args.page_cap}, "
        f"{args.rounds} rounds; saga store SQLite (temp dir), sagas inline"
    )
    print(f"setup {figures['setup']:.1f} s, whole run {figures['wall']:.1f} s")
    print()
    print(f"{'no-change sweep vs floor':34}{'median s':>10}{'rows':>8}{'ratio':>9}{'per round':>14}")
    rows = (
        ("floor: accounts + services", "floor", args.accounts + services),
        ("the sweep's reads: accounts +", "reads", figures["read_rows"]),
    )
    for label, name, count in rows:
        print(f"{label:34}{statistics.median(samples[name]):10.2f}{count:8d}")
    print("  window expenses, promised payments")
    print(f"{'sweep (nothing changes)':34}{sweep_s:10.2f}{args.accounts:8d}")
    for name, label in (("floor", "ratio sweep/floor"), ("reads", "ratio sweep/the sweep's reads")):
        spread = f"{min(per_round[name]):.2f}-{max(per_round[name]):.2f}x"
        print(f"{label:34}{'':18}{statistics.median(per_round[name]):8.2f}x{spread:>14}")
    print()
    extra = suspended["seconds"] - sweep_s
    print(f"suspending sweep (the first): {args.suspend} accounts, {suspended['items']} services suspended")
    print(f"  {suspended['seconds']:.2f} s, {extra:.2f} s more than a no-change sweep: "
          f"{extra / items * 1000:.0f} ms per suspended service")  # fmt: skip
    print(f"  requests per suspended service: billing {suspended['billing_calls'] / items:.1f}, "
          f"OpenStack {suspended['cloud_calls'] / items:.1f}")  # fmt: skip
    print(f"  counts: {suspended['counts']}")
    print()
    spans = figures["phases"]
    print("where a no-change sweep's time goes (one more sweep, ends of its progress phases):")
    print("  " + ", ".join(f"{phase} {seconds:.2f} s" for phase, seconds in spans.items()))
    print()
    print("peak memory of one no-change sweep (tracemalloc, this process, KiB)")
    print(f"{'':34}{'as run':>10}{'gc each page':>14}")
    small_label = f"{args.small} accounts ({figures['small_suspend']} suspended)"
    large_label = f"{args.accounts} accounts ({args.suspend} suspended)"
    print(f"{small_label:34}{figures['peak_small'] / 1024:10.0f}{figures['live_small'] / 1024:14.0f}")
    print(f"{large_label:34}{figures['peak_large'] / 1024:10.0f}{figures['live_large'] / 1024:14.0f}")
    live_ratio = figures["live_large"] / figures["live_small"]
    print(f"{'ratio':34}{mem_ratio:9.2f}x{live_ratio:13.2f}x")
    print(f"floor at {args.accounts} accounts, as run, for comparison: {figures['peak_floor'] / 1024:.0f}")
    print()
    time_ok, mem_ok = ratio <= TARGET, mem_ratio <= MEMORY_TARGET
    print(f"target: sweep/floor <= {TARGET:.1f}x -> {'PASS' if time_ok else 'OVER'} ({ratio:.2f}x); "
          f"sweep/the sweep's reads is informative ({ratio_reads:.2f}x)")  # fmt: skip
    print(f"target: memory flat, {args.accounts}/{args.small} as run <= {MEMORY_TARGET:.1f}x -> "
          f"{'PASS' if mem_ok else 'OVER'} ({mem_ratio:.2f}x); with gc each page {live_ratio:.2f}x")  # fmt: skip
    return time_ok and mem_ok


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    ok = report(args, measure(args))
    return 1 if args.strict and not ok else 0


if __name__ == "__main__":
    sys.exit(main())
