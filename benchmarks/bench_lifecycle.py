"""Benchmark the lifecycle on Celery: N provisions on W real worker processes against the three fakes.

The fakes (billing, OpenStack with ``--transition`` second status transitions on the real clock,
Tungsten) serve on loopback from this process; ``W`` ``celery -A cloudkit.lifecycle.celery worker -c 1``
processes reach them over HTTP and share one PostgreSQL saga store and one RabbitMQ queue with this
process, which publishes every provision through ``Lifecycle.from_env`` (a ``CeleryRunner``) and then
polls the store until every saga is final.

Reported, all from one run:

* wall seconds from the first provision call to the last saga final, against the floor
  ``transitions x provisions / workers`` (each provision waits for one server build, ``--transition``
  seconds; a worker runs one saga at a time) and the ratio (target: within 1.3x);
* HTTP requests per provision by system (the fakes' request logs; the plan check this process makes
  before each saga is included, as a portal would make it);
* peak memory per worker: the resident-set high-water mark (``VmHWM``) of each worker's pool child and
  of its main process, read from ``/proc`` before the workers stop;
* duplicates: servers per item, volumes, networks per customer, ports, billing callbacks per running
  operation (must all be zero).

Needs ``CLOUDKIT_TEST_AMQP_URL`` (RabbitMQ) and ``CLOUDKIT_TEST_POSTGRES_URL`` (PostgreSQL; a fresh
database is made next to it and dropped afterwards), as the worker tests do.

Run: ``python benchmarks/bench_lifecycle.py [--provisions 200] [--workers 4] [--transition 0.5]
[--customers 20]``.
"""

from __future__ import annotations

import argparse
import collections
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import kombu
import sqlalchemy as sa

from cloudkit.lifecycle import Lifecycle, SagaState, ServerPlan
from cloudkit.testing._celery_workers import CeleryProcess, vm_hwm_kib, worker_command
from cloudkit.testing.fakes import BillingFake, OpenStackFake, TungstenFake
from cloudkit.testing.fakes.billing._state import IN_PROGRESS, ORDERED, Operation

TF_USER = ("svc-tf", "svc-tf-pass")
TIMEOUT = 600.0
_OWN = ("CLOUDKIT_CONFIG", "CLOUDKIT_LIFECYCLE_", "CLOUDKIT_CELERY_", "CLOUDKIT_BILLING_", "CLOUDKIT_OPENSTACK_",
        "CLOUDKIT_TUNGSTEN_")  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--provisions", type=int, default=200)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--transition", type=float, default=0.5)
    parser.add_argument("--customers", type=int, default=20)
    args = parser.parse_args()
    broker, pg = os.environ.get("CLOUDKIT_TEST_AMQP_URL"), os.environ.get("CLOUDKIT_TEST_POSTGRES_URL")
    if not broker or not pg:
        print("set CLOUDKIT_TEST_AMQP_URL and CLOUDKIT_TEST_POSTGRES_URL", file=sys.stderr)
        return 2
    name = f"cloudkit_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(pg, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    queue = f"cloudkit-bench-{uuid.uuid4().hex[:8]}"
    try:
        db = sa.make_url(pg).set(database=name).render_as_string(hide_password=False)
        return run(args, broker, db, queue)
    finally:
        with kombu.Connection(broker) as conn:
            conn.default_channel.queue_delete(queue)
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def run(args: argparse.Namespace, broker: str, db: str, queue: str) -> int:
    tmp = Path(tempfile.mkdtemp(prefix="bench-lifecycle-"))
    with (
        BillingFake(complete_operations=False) as billing,
        OpenStackFake(token_ttl_seconds=10**9, transition_seconds=args.transition) as cloud,
        TungstenFake(keystone_url=cloud.auth_url, token_cache_seconds=10**9) as tf,
    ):
        cloud.add_user(*TF_USER, project="service", roles=("admin",))
        env = {k: v for k, v in os.environ.items() if not k.startswith(_OWN)}
        env.update({
            "PYTHONPATH": os.pathsep.join(filter(None, [str(Path(__file__).parents[1] / "src"),
                                                        os.environ.get("PYTHONPATH")])),
            "CLOUDKIT_BILLING_URL": billing.url, "CLOUDKIT_BILLING_USERNAME": "admin",
            "CLOUDKIT_BILLING_PASSWORD": "secret",
            "CLOUDKIT_OPENSTACK_AUTH_URL": cloud.auth_url, "CLOUDKIT_OPENSTACK_USERNAME": "admin",
            "CLOUDKIT_OPENSTACK_PASSWORD": "secret", "CLOUDKIT_OPENSTACK_PROJECT_NAME": "admin",
            "CLOUDKIT_TUNGSTEN_URL": tf.url, "CLOUDKIT_TUNGSTEN_AUTH_URL": cloud.auth_url,
            "CLOUDKIT_TUNGSTEN_USERNAME": TF_USER[0], "CLOUDKIT_TUNGSTEN_PASSWORD": TF_USER[1],
            "CLOUDKIT_TUNGSTEN_PROJECT_NAME": "service",
            "CLOUDKIT_LIFECYCLE_DB": db, "CLOUDKIT_CELERY_BROKER": broker, "CLOUDKIT_CELERY_QUEUE": queue,
            "CLOUDKIT_LIFECYCLE_LEASE_SECONDS": "120", "CLOUDKIT_LIFECYCLE_STEP_WAIT": "60",
        })  # fmt: skip
        lifecycle = Lifecycle.from_env(env)  # opens and migrates the store before the workers do
        workers = [
            CeleryProcess(f"w{k}", worker_command(f"w{k}", loglevel="WARNING"), env, tmp / f"w{k}.log")
            for k in range(1, args.workers + 1)
        ]
        try:
            wait_until_ready_quiet(workers)
            figures = provision_all(args, lifecycle, billing, cloud, tf, db)
            memory = {
                w.name: (vm_hwm_kib(w.pool()[0]) if w.pool() else None, vm_hwm_kib(w.pid)) for w in workers
            }
            figures["worker_cpu"] = sum(cpu_seconds(c) for w in workers for c in [w.pid, *w.pool()])
        finally:
            for w in workers:
                w.stop()
            lifecycle.shutdown()
        report(args, figures, memory)
        return 0 if figures["duplicates"] == 0 and figures["not_done"] == 0 else 1


def cpu_seconds(pid: int) -> float:
    """User plus system CPU seconds of ``pid`` so far (``/proc/<pid>/stat``)."""
    fields = Path(f"/proc/{pid}/stat").read_text(encoding="ascii").rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_until_ready_quiet(workers: list[CeleryProcess]) -> None:
    """Workers log at WARNING; ready means the pool child exists and the broker connection is up."""
    deadline = time.monotonic() + 60
    while not all(w.pool() for w in workers):
        if time.monotonic() > deadline:
            raise TimeoutError("workers did not start: " + "; ".join(w.tail(5) for w in workers))
        for w in workers:
            if not w.alive():
                raise RuntimeError(w.tail())
        time.sleep(0.05)


def provision_all(args, lifecycle, billing, cloud, tf, db) -> dict[str, object]:
    image = next(i.id for i in cloud._cloud.state.images.values() if "cirros" in i.name)  # noqa: SLF001
    plan = ServerPlan(image=image, flavor="2", system_volume_gb=1)
    accounts = []
    for k in range(args.customers):
        login = f"cust{k}"
        accounts.append(
            (login, billing.add_user(login, f"{login}-pass", account_name=f"{login} Ltd").account_id)
        )
    orders = []
    for k in range(args.provisions):
        login, account = accounts[k % len(accounts)]
        item = billing.add_service(login, "cloud server", status=ORDERED)
        with billing._lock:  # noqa: SLF001 - the fake has no public way to queue an open yet
            state = billing._state  # noqa: SLF001
            op = Operation(state.next_id("operation"), item, "open")
            state.operations[op.id] = op
            state.items[item].status = IN_PROGRESS
        orders.append((item, account, op.id))
    marks = (len(billing.calls), len(cloud.calls), len(tf.calls))
    engine = sa.create_engine(db)
    start, cpu = time.monotonic(), time.process_time()
    ids = [lifecycle.provision(item, account, plan, running_operation=ro).id for item, account, ro in orders]
    published = time.monotonic() - start
    final = [s.value for s in SagaState if s.final]
    query = sa.text("SELECT count(*) FROM sagas WHERE state IN :final").bindparams(
        sa.bindparam("final", expanding=True)
    )
    while True:
        with engine.connect() as conn:
            done = conn.execute(query, {"final": final}).scalar_one()
        if done >= len(ids):
            break
        if time.monotonic() - start > TIMEOUT:
            raise TimeoutError(f"{done}/{len(ids)} final after {TIMEOUT:g}s")
        time.sleep(0.02)
    wall = time.monotonic() - start
    cpu = time.process_time() - cpu
    engine.dispose()
    sagas = [lifecycle.saga(i) for i in ids]
    calls = {
        "billing": billing.calls[marks[0] :],
        "openstack": cloud.calls[marks[1] :],
        "tungsten": tf.calls[marks[2] :],
    }
    by_service = collections.Counter(c.service for c in calls["openstack"])
    steps: dict[str, list[float]] = collections.defaultdict(list)
    for saga in sagas:
        for record in saga.steps:
            if record.started_at and record.finished_at:
                steps[record.name].append((record.finished_at - record.started_at).total_seconds())
        if saga.created_at and saga.updated_at:
            steps["(saga: created to final)"].append((saga.updated_at - saga.created_at).total_seconds())
    return {
        "wall": wall,
        "published": published,
        "fakes_cpu": cpu,
        "not_done": sum(s.state is not SagaState.DONE for s in sagas),
        "attempts": collections.Counter(s.attempts for s in sagas),
        "requests": {k: len(v) / len(ids) for k, v in calls.items()},
        "openstack_by_service": {k: n / len(ids) for k, n in sorted(by_service.items())},
        "steps": {k: statistics.median(v) for k, v in steps.items()},
        "duplicates": duplicates(billing, cloud, tf, [o[0] for o in orders], len(accounts)),
    }


def duplicates(billing, cloud, tf, items: list[int], accounts: int) -> int:
    servers = cloud.servers()
    per_item = collections.Counter(t for s in servers for t in s.tags if t.startswith("cloudkit-item:"))
    extra = sum(n - 1 for n in per_item.values() if n > 1)
    extra += max(len(cloud.volumes()) - len(servers), 0)
    extra += max(len([n for n in tf.objects("virtual-network") if n["name"] == "cloudkit-net"]) - accounts, 0)
    extra += max(len(tf.objects("virtual-machine-interface")) - len(items), 0)
    opened = collections.Counter(
        c.params.get("elid") for c in billing.calls if c.func == "service.postopen" and c.fault is None
    )
    extra += sum(abs(opened.get(str(i), 0) - 1) for i in items)
    return extra


def report(args: argparse.Namespace, f: dict, memory: dict) -> None:
    floor = args.transition * args.provisions / args.workers
    print(f"lifecycle on Celery: {args.provisions} provisions, {args.workers} workers (-c 1), "
          f"{args.customers} customers, transitions {args.transition:g}s")  # fmt: skip
    print(f"  wall            {f['wall']:7.2f} s   (publishing all: {f['published']:.2f} s)")
    print(f"  this process    {f['fakes_cpu']:7.2f} s CPU ({f['fakes_cpu'] / f['wall']:.0%} of wall): the three fakes, "
          "publishing and polling share one interpreter")  # fmt: skip
    print(f"  workers' CPU    {f['worker_cpu']:7.2f} s   ({f['worker_cpu'] / args.provisions * 1000:.0f} ms a provision; "
          f"this machine has {os.cpu_count()} CPUs)")  # fmt: skip
    print(f"  floor           {floor:7.2f} s   = {args.transition:g} s x {args.provisions} / {args.workers}")
    print(f"  ratio           {f['wall'] / floor:7.2f}x  (target <= 1.3x)")
    req = f["requests"]
    print(
        f"  requests/prov   {sum(req.values()):7.1f}     " + ", ".join(f"{k} {v:.1f}" for k, v in req.items())
    )
    print(
        "  openstack/prov            "
        + ", ".join(f"{k} {v:.1f}" for k, v in f["openstack_by_service"].items())
    )
    children = [c for c, _ in memory.values() if c]
    print(f"  peak RSS/worker {statistics.median(children) / 1024:7.1f} MiB (pool child, median; max "
          f"{max(children) / 1024:.1f}); main processes {statistics.median(m for _, m in memory.values() if m) / 1024:.1f} MiB")  # fmt: skip
    print("  step medians    " + ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in f["steps"].items()))
    print(f"  attempts        {dict(sorted(f['attempts'].items()))}   not done: {f['not_done']}")
    print(f"  duplicates      {f['duplicates']}")


if __name__ == "__main__":
    sys.exit(main())
