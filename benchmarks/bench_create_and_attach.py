"""Benchmark create-server-and-attach: cloudkit against openstacksdk's cloud layer, in the same run.

An `OpenStackFake` with ``--transition`` second status transitions on the real clock (``BUILD`` ->
``ACTIVE``, ``creating`` -> ``available``, ``attaching`` -> ``in-use``) serves Keystone, Nova, Cinder and
Glance on loopback from a child process; its request log stays there and the parent reads it over a
pipe. Two sides do the same three steps against it, each on its own connection:

* baseline: openstacksdk's cloud layer, ``conn.create_server(name, image=..., flavor="2",
  boot_from_volume=True, volume_size=10, terminate_volume=True, auto_ip=False, wait=True)``,
  ``conn.create_volume(size=1, wait=True)``, ``conn.attach_volume(server, volume, wait=True)``;
* cloudkit: ``OpenStackClient.create_server(name, image=..., flavor="2", system_volume_size=10)``,
  ``create_volume(name, size=1)``, ``attach_volume(server.id, volume.id)``.

Runs alternate (the order flips every round). The report gives the median wall seconds of the three
steps together and of each step, the HTTP requests the fake received per run by service (Nova, Cinder,
and apart from them Glance, Keystone and version discovery), the ratios cloudkit/baseline, the ratio of
each side's time to the floor (the three transitions: 3 x ``--transition``), each round apart (cloudkit's
client is one for all rounds, so round 1 is its first wait of each kind and later rounds poll where
earlier waits ended), and each side's requests per step. Wall time is only ever compared with the
baseline and the floor of the same run.

Run: ``python benchmarks/bench_create_and_attach.py [--rounds 3] [--transition 2.0] [--poll-interval 1.0]
[--poll-memory 8]``.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import multiprocessing as mp
import re
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

import openstack
import openstack.connection
from openstack.warnings import RemovedInSDK50Warning, RemovedInSDK60Warning

from cloudkit.openstack import OpenStackClient, OpenStackSettings
from cloudkit.testing.fakes import OpenStackFake

# openstacksdk 4.22 raises these from inside its own code paths (Proxy._extract_name, Resource
# attributes, find_* defaults, an all-None influxdb config); only those, and only from openstack itself.
warnings.filterwarnings("ignore", category=RemovedInSDK50Warning, module="openstack")
warnings.filterwarnings("ignore", category=RemovedInSDK60Warning, module="openstack")

USERNAME, PASSWORD, PROJECT = "portal", "portal-pass", "alice"  # the fake's seeded portal user
FLAVOR = "2"  # the fake's seeded m1.small
SYSTEM_VOLUME_GIB, DATA_VOLUME_GIB = 10, 1
WAIT_SECONDS = 120  # budget of every wait on both sides; a run that needs it is broken anyway
STARTUP_TIMEOUT = 120.0
STEPS = ("create_server", "create_volume", "attach_volume")
SIDES = ("baseline", "cloudkit")
LABELS = {"baseline": "baseline (sdk cloud layer)", "cloudkit": "cloudkit"}
KINDS = ("nova", "cinder", "glance", "keystone", "discovery", "other")
_DISCOVERY = re.compile(r"/(compute|volume|image)(/v[0-9.]+)?/?")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_HEX32 = re.compile(r"(?<![0-9a-f])[0-9a-f]{32}(?![0-9a-f])")

Call = tuple[str, str, str]  # (method, path, service) of one request the fake received


# ---------------------------------------------------------------------------------------------- server
def serve_fake(transition: float, conn: Connection) -> None:
    """Child process: an `OpenStackFake` answering log and state questions until told to stop."""
    with OpenStackFake(transition_seconds=transition) as fake:
        conn.send(fake.auth_url)
        with contextlib.suppress(EOFError):  # EOFError: the parent went away
            while (message := conn.recv()) != "stop":
                conn.send(_answer(fake, message))


def _answer(fake: OpenStackFake, message: tuple[Any, ...]) -> Any:
    match message:
        case ("mark",):
            return len(fake.calls)
        case ("since", int(start)):
            return [(c.method, c.path, c.service) for c in fake.calls[start:]]
        case ("check", str(server_id), str(volume_id)):
            server, volume = fake.server(server_id), fake.volume(volume_id)
            root = fake.volume(server.root_volume_id) if server else None
            return {
                "server": server.status if server else None,
                "root_delete_on_termination": bool(
                    root and all(a.delete_on_termination for a in root.attachments)
                ),
                "volume": volume.status if volume else None,
                "attached_to": sorted(
                    a.server_id for a in (volume.attachments if volume else ()) if a.attached and a.in_guest
                ),
            }
    raise ValueError(f"unknown message {message!r}")


class FakeLog:
    """The parent's view of the fake's request log (kept in the child)."""

    def __init__(self, pipe: Connection) -> None:
        self.pipe = pipe

    def ask(self, *message: object) -> Any:
        self.pipe.send(message)
        return self.pipe.recv()

    def mark(self) -> int:
        return int(self.ask("mark"))

    def since(self, start: int) -> list[Call]:
        return [tuple(c) for c in self.ask("since", start)]


# ---------------------------------------------------------------------------------------------- counting
def kind(call: Call) -> str:
    """Which bucket a request counts in: Nova, Cinder, Glance, Keystone or version discovery."""
    method, path, service = call
    if service == "identity":
        return "keystone"
    if method in ("GET", "HEAD") and _DISCOVERY.fullmatch(path):
        return "discovery"
    return {"compute": "nova", "volume": "cinder", "image": "glance"}.get(service, "other")


def shape(call: Call) -> str:
    """``METHOD /path`` with ids replaced, e.g. ``GET /compute/v2.1/servers/{id}``."""
    method, path, _ = call
    return f"{method} {_HEX32.sub('{project}', _UUID.sub('{id}', path))}"


@dataclass
class Run:
    """One side's three steps: seconds and the requests the fake received, per step."""

    seconds: dict[str, float] = field(default_factory=dict)
    calls: dict[str, list[Call]] = field(default_factory=dict)

    @property
    def total(self) -> float:
        return sum(self.seconds.values())

    def count(self, *kinds: str, step: str | None = None) -> int:
        steps = [step] if step else list(self.calls)
        return sum(1 for s in steps for c in self.calls[s] if kind(c) in kinds)


def measure(log: FakeLog, steps: list[tuple[str, Callable[[], None]]]) -> Run:
    """Time each step; the log is read between steps, outside the timed sections."""
    run = Run()
    for name, step in steps:
        start_index = log.mark()
        start = time.perf_counter()
        step()
        run.seconds[name] = time.perf_counter() - start
        run.calls[name] = log.since(start_index)
    return run


# ---------------------------------------------------------------------------------------------- sides
def baseline_steps(
    conn: openstack.connection.Connection, image_id: str, name: str, ids: dict[str, str]
) -> list[tuple[str, Callable[[], None]]]:
    """openstacksdk's cloud layer; the server and volume ids land in ``ids``."""
    made: dict[str, Any] = {}

    def create_server() -> None:
        # No network argument: on microversion >= 2.37 the cloud layer then sends networks "auto" (it
        # cannot send "none"; network="none" is looked up in Neutron, which this cloud lacks). The fake
        # gives an "auto" server a fixed address, so wait=True does not delete it for having no IP.
        # auto_ip=False: no floating-IP handling (Nova's os-floating-ip-pools is not served).
        made["server"] = conn.create_server(
            name,
            image=image_id,
            flavor=FLAVOR,
            boot_from_volume=True,
            volume_size=SYSTEM_VOLUME_GIB,
            terminate_volume=True,
            auto_ip=False,
            wait=True,
            timeout=WAIT_SECONDS,
        )
        ids["server"] = made["server"].id

    def create_volume() -> None:
        made["volume"] = conn.create_volume(
            size=DATA_VOLUME_GIB, name=f"{name}-data", wait=True, timeout=WAIT_SECONDS
        )
        ids["volume"] = made["volume"].id

    def attach_volume() -> None:
        conn.attach_volume(made["server"], made["volume"], wait=True, timeout=WAIT_SECONDS)

    return [
        ("create_server", create_server),
        ("create_volume", create_volume),
        ("attach_volume", attach_volume),
    ]


def cloudkit_steps(
    client: OpenStackClient, image_id: str, name: str, ids: dict[str, str]
) -> list[tuple[str, Callable[[], None]]]:
    """cloudkit's OpenStackClient; the server and volume ids land in ``ids``."""

    def create_server() -> None:
        server = client.create_server(
            name, image=image_id, flavor=FLAVOR, system_volume_size=SYSTEM_VOLUME_GIB, wait=WAIT_SECONDS
        )
        ids["server"] = server.id

    def create_volume() -> None:
        ids["volume"] = client.create_volume(f"{name}-data", size=DATA_VOLUME_GIB, wait=WAIT_SECONDS).id

    def attach_volume() -> None:
        client.attach_volume(ids["server"], ids["volume"], wait=WAIT_SECONDS)

    return [
        ("create_server", create_server),
        ("create_volume", create_volume),
        ("attach_volume", attach_volume),
    ]


def check(log: FakeLog, side: str, ids: dict[str, str]) -> None:
    """Correctness, not timing: the server is ACTIVE and the data volume in-use on it."""
    state = log.ask("check", ids["server"], ids["volume"])
    expected = {
        "server": "ACTIVE",
        "root_delete_on_termination": True,
        "volume": "in-use",
        "attached_to": [ids["server"]],
    }
    if state != expected:
        raise RuntimeError(f"{side}: the fake shows {state}, expected {expected}")


# ---------------------------------------------------------------------------------------------- main
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=3, help="rounds, one run per side each (default 3)")
    parser.add_argument(
        "--transition", type=float, default=2.0, help="the fake's status transition seconds (default 2.0)"
    )
    parser.add_argument(
        "--poll-interval",
        type=float,
        default=1.0,
        help="cloudkit's second poll, seconds after the first (default 1.0, the settings default)",
    )
    parser.add_argument(
        "--poll-memory",
        type=int,
        default=8,
        help="waits cloudkit learns from per kind (default 8, the settings default; 0: learn nothing)",
    )
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be >= 1")
    if args.transition < 0:
        parser.error("--transition must be >= 0")
    if args.poll_interval <= 0:
        parser.error("--poll-interval must be > 0")
    if args.poll_memory < 0:
        parser.error("--poll-memory must be >= 0")
    return args


def _counts_cell(values: list[int]) -> str:
    low, high = min(values), max(values)
    return (
        f"{statistics.median(values):g}" if low == high else f"{statistics.median(values):g} ({low}-{high})"
    )


def _compact(calls: list[Call]) -> str:
    """Consecutive identical request shapes folded: ``GET /x x3, POST /y``."""
    parts: list[list[Any]] = []
    for call in calls:
        label = shape(call) if kind(call) in ("nova", "cinder") else f"[{kind(call)}] {shape(call)}"
        if parts and parts[-1][0] == label:
            parts[-1][1] += 1
        else:
            parts.append([label, 1])
    return ", ".join(label if n == 1 else f"{label} x{n}" for label, n in parts)


def report(args: argparse.Namespace, runs: dict[str, list[Run]]) -> None:
    medians = {side: statistics.median(r.total for r in runs[side]) for side in SIDES}
    nc = {side: [r.count("nova", "cinder") for r in runs[side]] for side in SIDES}
    print(
        f"create-server-and-attach against OpenStackFake: {args.transition:g} s status transitions "
        f"(real clock), {args.rounds} rounds, sides alternating"
    )
    floor = len(STEPS) * args.transition
    print(
        f"baseline: openstacksdk {importlib.metadata.version('openstacksdk')} cloud layer; "
        f"cloudkit: OpenStackClient, poll_interval {args.poll_interval:g} s, poll_memory {args.poll_memory}"
    )
    print(f"floor: {len(STEPS)} transitions x {args.transition:g} s = {floor:.2f} s")
    print("requests: as the fake received them, per run (median; a range if rounds differ)")
    print()
    head = ["median s", "Nova", "Cinder", "Nova+Cinder", "Glance", "Keystone", "discovery"]
    print(f"{'':28}" + "".join(f"{h:>12}" for h in head))
    for side in SIDES:
        cells = [f"{medians[side]:.2f}"]
        cells += [_counts_cell([r.count(k) for r in runs[side]]) for k in ("nova", "cinder")]
        cells.append(_counts_cell(nc[side]))
        cells += [_counts_cell([r.count(k) for r in runs[side]]) for k in ("glance", "keystone", "discovery")]
        print(f"{LABELS[side]:28}" + "".join(f"{c:>12}" for c in cells))
    time_ratio = medians["cloudkit"] / medians["baseline"]
    request_ratio = statistics.median(nc["cloudkit"]) / statistics.median(nc["baseline"])
    print(f"{'ratio cloudkit/baseline':28}{time_ratio:11.2f}x{'':24}{request_ratio:11.2f}x")
    if floor > 0:
        for side in SIDES:
            print(f"{'ratio ' + side + '/floor':28}{medians[side] / floor:11.2f}x")
    round_ratios = [c.total / b.total for b, c in zip(runs["baseline"], runs["cloudkit"], strict=True)]
    print()
    print(f"per-round time ratio: min {min(round_ratios):.2f}x, max {max(round_ratios):.2f}x")
    print()
    print("per round: s (x floor) / Nova+Cinder requests")
    print(f"{'':28}" + "".join(f"{'round ' + str(r + 1):>18}" for r in range(args.rounds)))
    for side in SIDES:
        cells = [
            f"{run.total:.2f}"
            + (f" ({run.total / floor:.2f}x)" if floor > 0 else "")
            + f" / {run.count('nova', 'cinder')}"
            for run in runs[side]
        ]
        print(f"{LABELS[side]:28}" + "".join(f"{c:>18}" for c in cells))
    if others := sum(r.count("other") for side in SIDES for r in runs[side]):
        print(f"requests outside the four services: {others}")
    print()
    print("per step: median s / Nova+Cinder requests")
    print(f"{'':28}" + "".join(f"{s:>16}" for s in STEPS))
    for side in SIDES:
        cells = [
            f"{statistics.median(r.seconds[s] for r in runs[side]):.2f} / "
            f"{statistics.median(r.count('nova', 'cinder', step=s) for r in runs[side]):g}"
            for s in STEPS
        ]
        print(f"{LABELS[side]:28}" + "".join(f"{c:>16}" for c in cells))
    print()
    print("requests of the last round ([kind] marks those outside Nova and Cinder):")
    for side in SIDES:
        last = runs[side][-1]
        for s in STEPS:
            print(f"  {side:9}{s:14} {_compact(last.calls[s])}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    ctx = mp.get_context("spawn")
    parent_end, child_end = ctx.Pipe()
    server = ctx.Process(
        target=serve_fake, args=(args.transition, child_end), name="openstack-fake", daemon=True
    )
    server.start()
    child_end.close()
    runs: dict[str, list[Run]] = {side: [] for side in SIDES}
    try:
        if not parent_end.poll(STARTUP_TIMEOUT):
            raise RuntimeError("the openstack fake did not start")
        auth_url: str = parent_end.recv()
        log = FakeLog(parent_end)
        settings = OpenStackSettings(
            auth_url=auth_url,
            username=USERNAME,
            password=PASSWORD,
            project_name=PROJECT,
            poll_interval=args.poll_interval,
            poll_memory=args.poll_memory,
        )
        auth = {
            "auth_url": auth_url,
            "username": USERNAME,
            "password": PASSWORD,
            "project_name": PROJECT,
            "user_domain_name": "Default",
            "project_domain_name": "Default",
        }
        with (
            OpenStackClient(settings) as client,
            openstack.connection.Connection(auth_type="password", auth=auth) as conn,
        ):
            # Untimed: authenticate both sides and let each discover Nova, Cinder and Glance once.
            image_id = next(i.id for i in client.list_images() if i.min_disk <= SYSTEM_VOLUME_GIB)
            client.list_flavors()
            client.list_volumes()
            conn.image.get_image(image_id)
            conn.compute.get_flavor(FLAVOR)
            list(conn.block_storage.volumes())

            makers: dict[str, Callable[..., list[tuple[str, Callable[[], None]]]]] = {
                "baseline": lambda name, ids: baseline_steps(conn, image_id, name, ids),
                "cloudkit": lambda name, ids: cloudkit_steps(client, image_id, name, ids),
            }
            for r in range(args.rounds):
                for side in SIDES if r % 2 == 0 else SIDES[::-1]:
                    ids: dict[str, str] = {}
                    runs[side].append(measure(log, makers[side](f"bench-{side}-{r}", ids)))
                    check(log, side, ids)
    finally:
        with contextlib.suppress(OSError):  # the child may have died already
            parent_end.send("stop")
        parent_end.close()
        server.join(timeout=10)
        if server.is_alive():
            server.terminate()
            server.join()

    report(args, runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
