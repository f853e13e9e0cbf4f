"""Reconciliation: what drifted between billing, the clouds and the saga store, and its repair.

:func:`reconcile` reads (never writes, in a dry run) the saga store, billing's services and, for every
onboarded customer, the servers and volumes of their OpenStack project and the ports, floating IPs and
networks of their Tungsten Fabric project. It reports:

- ``orphan_server``: a server tagged ``cloudkit-item:<n>`` whose item is gone (deleted in billing, or
  only ever a failed ``open``) and has no live saga;
- ``orphan_port`` / ``orphan_floating_ip`` / ``orphan_network``: a TF port (or floating IP, or
  network) named ``cloudkit-item-<n>`` of such an item; a floating IP bound to an orphan port too;
- ``orphan_volume``: an ``available`` volume with no server in a customer's project that a failed
  build left (bootable, made from the image and of the size of a failed ``open`` saga's plan of that
  account; Nova only logs a failed clean-up) or that a done ``close`` saga recorded and that is still
  there;
- ``service_without_server``: billing says the service is active, the item's last saga is final and
  not a ``close``, and its server is gone or in ``ERROR``;
- ``stuck_saga``: a saga still pending, running or compensating after its deadline
  (``stuck_after`` seconds, by default ``settings.step_wait`` times its number of steps) from its
  creation.

With ``fix=True`` each finding is repaired, under the ``reconcile`` lease (two fixing runs never
overlap): an item deleted in billing is closed through a ``close`` saga (server, port and system
volume go; billing already says gone); other orphans are deleted directly, each delete idempotent
(404 is done) and recorded with the finding; a stuck saga is handed to the runner; a vanished server
is rebuilt by a new ``open`` saga with the plan of the item's last ``open``; a server in ``ERROR`` is
left for an operator (a rebuild would throw its disk away), and reported again until someone acts.

Every run (dry or not) and its findings are recorded in ``reconcile_runs`` / ``reconcile_findings``
(the operator console shows the latest).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import enum
import logging
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

import attrs
import sqlalchemy as sa

from cloudkit.billing import ModuleCommand, Service, ServiceStatus
from cloudkit.errors import CloudkitError, ConflictError, NotFoundError
from cloudkit.lifecycle._engine import default_owner, describe
from cloudkit.lifecycle._models import Customer, Saga, SagaState, ServerPlan
from cloudkit.lifecycle._steps import item_tag, port_name, project_name
from cloudkit.lifecycle._tables import customers, sagas

if TYPE_CHECKING:
    from cloudkit.lifecycle._lifecycle import Lifecycle
    from cloudkit.lifecycle._opstore import OpStore
    from cloudkit.openstack import OpenStackClient, Server, Volume

__all__ = ["Finding", "FindingKind", "ReconcileReport", "reconcile"]

log = logging.getLogger("cloudkit.lifecycle")
SYSTEM = "lifecycle"
LEASE = "reconcile"
_ITEM_TAG = item_tag(0)[:-1]  # "cloudkit-item:"
_ITEM_NAME = port_name(0)[:-1]  # "cloudkit-item-"
_LIVE = frozenset({SagaState.PENDING, SagaState.RUNNING, SagaState.COMPENSATING})


class FindingKind(enum.StrEnum):
    """What drifted. The order here is the order a fixing run repairs them in.

    Example:
        >>> from cloudkit.lifecycle import FindingKind
        >>> FindingKind("orphan_server").value, [k.value for k in FindingKind][:2]
        ('orphan_server', ['stuck_saga', 'orphan_floating_ip'])
    """

    STUCK_SAGA = "stuck_saga"
    ORPHAN_FLOATING_IP = "orphan_floating_ip"
    ORPHAN_SERVER = "orphan_server"
    ORPHAN_PORT = "orphan_port"
    ORPHAN_NETWORK = "orphan_network"
    ORPHAN_VOLUME = "orphan_volume"
    SERVICE_WITHOUT_SERVER = "service_without_server"


@attrs.frozen
class Finding:
    """One thing that drifted, what a fix does about it, and (after a fix) how that went.

    Attributes:
        kind: see :class:`FindingKind`.
        subject: what drifted, ``"<type> <id>"``: ``server <uuid>``, ``volume <uuid>``,
            ``port <uuid>``, ``floating_ip <uuid>``, ``network <uuid>``, ``item <n>``, ``saga <id>``.
        detail: why it is a finding, with the ids that show it.
        saga_id: the saga concerned (the stuck one, the failed build's), or the saga that repaired it.
        item: the billing item, when known.
        account: the billing account, when known.
        repair: what a fix does (dry run) or did.
        fixed: ``None`` in a dry run; after a fix ``True`` when repaired, ``False`` when not (the
            ``repair`` text says why).

    Example:
        >>> from cloudkit.lifecycle import Finding
        >>> finding = Finding("orphan_server", "server 5f0c", "item 42 is deleted in billing",
        ...                   item=42, account=7, repair="close saga of item 42")
        >>> finding.kind, finding.fixed
        (<FindingKind.ORPHAN_SERVER: 'orphan_server'>, None)
        >>> finding.to_json()["kind"]
        'orphan_server'
    """

    kind: FindingKind = attrs.field(converter=FindingKind)
    subject: str
    detail: str
    saga_id: str | None = None
    item: int | None = attrs.field(default=None, kw_only=True)
    account: int | None = attrs.field(default=None, kw_only=True)
    repair: str = attrs.field(default="", kw_only=True)
    fixed: bool | None = attrs.field(default=None, kw_only=True)

    def to_json(self) -> dict[str, Any]:
        """Plain JSON types, for scripts (``cloudkit reconcile --json``)."""
        return {
            "kind": self.kind.value,
            "subject": self.subject,
            "detail": self.detail,
            "saga_id": self.saga_id,
            "item": self.item,
            "account": self.account,
            "repair": self.repair,
            "fixed": self.fixed,
        }


def _findings(value: Iterable[Finding]) -> tuple[Finding, ...]:
    return tuple(value)


def _texts(value: Iterable[str]) -> tuple[str, ...]:
    return tuple(value)


def _when(value: dt.datetime | None) -> str | None:
    return None if value is None else value.astimezone(dt.UTC).isoformat()


@attrs.frozen(kw_only=True)
class ReconcileReport:
    """What one reconciliation run found (and, with ``fix``, repaired).

    Attributes:
        run_id: the run's id in ``reconcile_runs``.
        fix: whether the run repaired (``False``: a dry run, nothing was changed outside).
        started_at, finished_at: UTC times of the run.
        findings: every finding, in :class:`FindingKind` order.
        problems: what could not be read (a customer's project, billing), secret-free; the run says
            nothing about those parts.

    Example:
        >>> import datetime as dt
        >>> from cloudkit.lifecycle import Finding, ReconcileReport
        >>> at = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
        >>> report = ReconcileReport(run_id="r1", fix=False, started_at=at, finished_at=at,
        ...     findings=(Finding("stuck_saga", "saga 5f0c", "running for 2h"),))
        >>> report.clean, report.counts
        (False, {'stuck_saga': 1})
        >>> report.to_json()["findings"][0]["subject"]
        'saga 5f0c'
    """

    run_id: str | None
    fix: bool
    started_at: dt.datetime
    finished_at: dt.datetime
    findings: tuple[Finding, ...] = attrs.field(default=(), converter=_findings)
    problems: tuple[str, ...] = attrs.field(default=(), converter=_texts)

    @property
    def counts(self) -> dict[str, int]:
        """Findings per kind (kinds without any are left out)."""
        counts: dict[str, int] = {}
        for finding in self.findings:
            counts[finding.kind.value] = counts.get(finding.kind.value, 0) + 1
        return counts

    @property
    def clean(self) -> bool:
        """Nothing found and everything read."""
        return not self.findings and not self.problems

    @property
    def unfixed(self) -> tuple[Finding, ...]:
        """After a fix: the findings not repaired (a dry run: every finding)."""
        return tuple(f for f in self.findings if f.fixed is not True)

    def to_json(self) -> dict[str, Any]:
        """Plain JSON types: the run, the counts, every finding, the problems."""
        return {
            "run_id": self.run_id,
            "fix": self.fix,
            "started_at": _when(self.started_at),
            "finished_at": _when(self.finished_at),
            "counts": self.counts,
            "findings": [f.to_json() for f in self.findings],
            "problems": list(self.problems),
        }


# ================================================================================== what the store says
@attrs.frozen
class _SagaRow:
    """A saga row without its steps (the scan reads every saga; steps only where needed)."""

    saga: Saga
    lease_owner: str | None
    lease_until: dt.datetime | None


@attrs.define
class _Known:
    customers: list[Customer]
    latest: dict[int, Saga] = attrs.field(factory=dict)  # item -> its latest saga
    live: set[int] = attrs.field(factory=set)  # items with a saga still going
    not_final: list[_SagaRow] = attrs.field(factory=list)
    failed_opens: dict[int, list[Saga]] = attrs.field(factory=dict)  # account -> failed open sagas
    done_closes: dict[int, list[str]] = attrs.field(factory=dict)  # account -> done close saga ids
    last_open: dict[int, Saga] = attrs.field(factory=dict)  # item -> its latest open saga


def _read_store(lifecycle: Lifecycle) -> _Known:
    from cloudkit.lifecycle._store import _customer, _saga  # noqa: PLC0415 (the store's own row readers)

    store = lifecycle.store
    with store.transaction("reconcile_read") as conn:
        known = _Known([_customer(row) for row in conn.execute(sa.select(customers)).mappings()])
        query = sa.select(sagas).order_by(sagas.c.item, sagas.c.item_seq.desc(), sagas.c.created_at.desc())
        for row in conn.execute(query).mappings():
            saga = _saga(row, ())
            known.latest.setdefault(saga.item, saga)
            if saga.state in _LIVE:
                known.live.add(saga.item)
                known.not_final.append(_SagaRow(saga, row["lease_owner"], row["lease_until"]))
            if saga.operation is ModuleCommand.OPEN:
                known.last_open.setdefault(saga.item, saga)
                if saga.state is SagaState.FAILED:
                    known.failed_opens.setdefault(saga.account, []).append(saga)
            if saga.operation is ModuleCommand.CLOSE and saga.state is SagaState.DONE:
                known.done_closes.setdefault(saga.account, []).append(saga.id)
    return known


# ================================================================================== the scan
@attrs.define
class _Scan:
    lifecycle: Lifecycle
    known: _Known
    services: dict[int, Service] | None
    now: dt.datetime
    stuck_after: float | None
    findings: list[Finding] = attrs.field(factory=list)
    problems: list[str] = attrs.field(factory=list)
    servers_of_item: dict[int, list[Server]] = attrs.field(factory=dict)
    scanned: set[int] = attrs.field(factory=set)  # accounts whose project was read in full

    # ------------------------------------------------------------------------ items
    def orphan_reason(self, item: int) -> str | None:
        """Why the item's leftovers are orphans, or ``None`` when the item is live."""
        if item in self.known.live:
            return None
        if self.services is not None:
            service = self.services.get(item)
            if service is None or service.status is ServiceStatus.DELETED:
                return f"billing item {item} is deleted in billing"
        else:
            latest = self.known.latest.get(item)
            if latest is None:
                return f"billing item {item} has no saga (and billing is not configured)"
            if latest.operation is ModuleCommand.CLOSE and latest.state is SagaState.DONE:
                return f"billing item {item} was closed by saga {latest.id}"
        latest = self.known.latest.get(item)
        if latest is not None and latest.operation is ModuleCommand.OPEN and latest.state is SagaState.FAILED:
            return f"billing item {item} was never opened: its open saga {latest.id} failed"
        return None

    def add(
        self, kind: FindingKind, subject: str, detail: str, saga_id: str | None = None, **extra: Any
    ) -> None:
        self.findings.append(Finding(kind, subject, detail, saga_id, **extra))

    # ------------------------------------------------------------------------ per customer
    def customer(self, customer: Customer) -> None:
        account = customer.account
        project = project_name(self.lifecycle.settings, account)
        try:
            self._cloud(customer, project)
        except CloudkitError as exc:
            self.problems.append(f"account {account}: OpenStack project {project}: {describe(exc)}")
            return
        try:
            self._tungsten(customer)
        except CloudkitError as exc:
            self.problems.append(
                f"account {account}: TF project {customer.tungsten_project_id}: {describe(exc)}"
            )
            return
        self.scanned.add(account)

    def _cloud(self, customer: Customer, project: str) -> None:
        account = customer.account
        cloud = self.lifecycle.systems.cloud(project)
        servers = cloud.list_servers()
        for server in servers:
            for item in _items_of_tags(server.tags):
                self.servers_of_item.setdefault(item, []).append(server)
                reason = self.orphan_reason(item)
                if reason is not None:
                    self.add(
                        FindingKind.ORPHAN_SERVER,
                        f"server {server.id}",
                        f"server {server.name!r} ({server.status}) in {project} is tagged for item "
                        f"{item}: {reason}",
                        item=item,
                        account=account,
                    )
        self._volumes(account, project, cloud.list_volumes(), servers)

    def _volumes(self, account: int, project: str, volumes: list[Volume], servers: list[Server]) -> None:
        in_use = {v for s in servers for v in (*s.volume_ids, s.system_volume_id or "")}
        loose = [v for v in volumes if v.status == "available" and not v.server_ids and v.id not in in_use]
        if not loose:
            return
        closed = self._closed_volumes(account)
        failed = self.known.failed_opens.get(account, [])
        for volume in loose:
            if volume.id in closed:
                saga_id, what = closed[volume.id]
                self.add(
                    FindingKind.ORPHAN_VOLUME,
                    f"volume {volume.id}",
                    f"{what} in {project}, still there after close saga {saga_id}",
                    saga_id,
                    account=account,
                )
                continue
            saga = _failed_build_of(volume, failed)
            if saga is not None:
                self.add(
                    FindingKind.ORPHAN_VOLUME,
                    f"volume {volume.id}",
                    f"available {volume.size} GiB volume of image {volume.image_id} in {project}, "
                    f"no server: left by the failed build of saga {saga.id} (item {saga.item})",
                    saga.id,
                    item=saga.item,
                    account=account,
                )

    def _closed_volumes(self, account: int) -> dict[str, tuple[str, str]]:
        """Volume id -> (close saga, what it was) for the volumes done close sagas of the account deleted."""
        found: dict[str, tuple[str, str]] = {}
        delete_data = self.lifecycle.settings.data_volumes == "delete"
        for saga_id in self.known.done_closes.get(account, []):
            ids = self.lifecycle.store.get(saga_id).outside_ids
            system = ids.get("system_volume")
            if system:
                found[system] = (saga_id, f"system volume of closed item {ids.get('server', '?')}")
            if delete_data:
                for volume in filter(None, ids.get("data_volumes", "").split(",")):
                    found[volume] = (saga_id, "data volume of a closed item (data_volumes=delete)")
        return found

    def _tungsten(self, customer: Customer) -> None:
        account = customer.account
        tf = self.lifecycle.systems.tungsten()
        project = customer.tungsten_project_id
        orphan_ports: dict[str, int] = {}
        for port in tf.list_ports(project_id=project):
            item = _item_of_name(port.name)
            reason = None if item is None else self.orphan_reason(item)
            if item is not None and reason is not None:
                orphan_ports[port.uuid] = item
                addresses = ", ".join(port.ip_addresses) or "no address"
                self.add(
                    FindingKind.ORPHAN_PORT,
                    f"port {port.uuid}",
                    f"TF port {port.name} ({addresses}): {reason}",
                    item=item,
                    account=account,
                )
        for fip in tf.list_floating_ips(project_id=project):
            item = _item_of_name(fip.name)
            bound = [orphan_ports[p] for p in fip.port_ids if p in orphan_ports]
            reason = None if item is None else self.orphan_reason(item)
            if reason is None and bound:
                item, reason = bound[0], f"bound to the orphan port of item {bound[0]}"
            if reason is not None:
                self.add(
                    FindingKind.ORPHAN_FLOATING_IP,
                    f"floating_ip {fip.uuid}",
                    f"floating IP {fip.address or fip.name}: {reason}",
                    item=item,
                    account=account,
                )
        for network in tf.list_virtual_networks(project_id=project):
            item = _item_of_name(network.name)
            reason = None if item is None else self.orphan_reason(item)
            if reason is not None:
                self.add(
                    FindingKind.ORPHAN_NETWORK,
                    f"network {network.uuid}",
                    f"TF network {network.name}: {reason}",
                    item=item,
                    account=account,
                )

    # ------------------------------------------------------------------------ billing and sagas
    def services_without_server(self) -> None:
        if self.services is None:
            return
        for item, service in self.services.items():
            latest = self.known.latest.get(item)
            if (
                service.status is not ServiceStatus.ACTIVE
                or latest is None
                or item in self.known.live
                or latest.operation is ModuleCommand.CLOSE
                or latest.account not in self.scanned
            ):
                continue
            servers = self.servers_of_item.get(item, [])
            if not servers:
                what = f"no server carries {item_tag(item)}"
            elif all(s.status == "ERROR" for s in servers):
                what = f"its server {servers[0].id} is in ERROR"
            else:
                continue
            self.add(
                FindingKind.SERVICE_WITHOUT_SERVER,
                f"item {item}",
                f"billing says service {item} ({service.name}) is active, but {what} "
                f"(last saga {latest.id}: {latest.operation.value} {latest.state.value})",
                latest.id,
                item=item,
                account=latest.account,
            )

    def stuck(self) -> None:
        steps = self.lifecycle.engine.steps
        for row in self.known.not_final:
            saga = row.saga
            limit = self.stuck_after
            if limit is None:
                limit = self.lifecycle.settings.step_wait * len(steps[saga.operation])
            since = saga.created_at or self.now
            if self.now - since <= dt.timedelta(seconds=limit):
                continue
            age = int((self.now - since).total_seconds())
            error = f"; last error: {saga.last_error}" if saga.last_error else ""
            self.add(
                FindingKind.STUCK_SAGA,
                f"saga {saga.id}",
                f"{saga.operation.value} of item {saga.item} still {saga.state.value} after {age}s "
                f"(deadline {limit:g}s, {saga.attempts} attempt(s)){error}",
                saga.id,
                item=saga.item,
                account=saga.account,
            )


def _items_of_tags(tags: Iterable[str]) -> list[int]:
    return [item for item in (_number(t[len(_ITEM_TAG) :]) for t in tags if t.startswith(_ITEM_TAG)) if item]


def _item_of_name(name: str) -> int | None:
    return _number(name[len(_ITEM_NAME) :]) if name.startswith(_ITEM_NAME) else None


def _number(text: str) -> int | None:
    return int(text) if text.isdigit() else None


def _failed_build_of(volume: Volume, failed: list[Saga]) -> Saga | None:
    """The failed open saga whose plan this loose volume matches (a system volume Nova made), if any.

    Matched by the plan (image and size), not by time: the cloud's clock and the store's need not
    agree. Assumption: a customer does not keep an unattached bootable volume of exactly that image
    and size in a cloudkit project (a dry run shows the match before anything is deleted).
    """
    if not volume.bootable or volume.image_id is None:
        return None
    for saga in failed:
        plan: ServerPlan | None = saga.plan
        if plan is not None and plan.image == volume.image_id and plan.system_volume_gb == volume.size:
            return saga
    return None


def _read_services(lifecycle: Lifecycle, problems: list[str]) -> dict[int, Service] | None:
    billing = lifecycle.systems.billing()
    if billing is None:
        return None
    try:
        return {int(s.id): s for s in billing.iter_services()}  # page by page
    except CloudkitError as exc:
        # Without billing's word nothing is "deleted in billing": judged from the store alone.
        problems.append(f"billing services: {describe(exc)}")
        return None


# ================================================================================== repairs
def _close_fits(scan: _Scan, finding: Finding, closed: Mapping[int, Saga]) -> bool:
    """A close saga repairs an orphan of an item billing deleted, unless the item's last saga is already
    a final close (joining it would run nothing) not run by this run (``closed``).
    """  # noqa: D205 (the summary needs the exception)
    item = finding.item
    if item is None or scan.services is None:
        return False
    service = scan.services.get(item)
    if service is not None and service.status is not ServiceStatus.DELETED:
        return False  # a failed open's leftovers: a close saga would tell billing the order is closed
    latest = scan.known.latest.get(item)
    return item in closed or latest is None or latest.operation is not ModuleCommand.CLOSE


class _Fixer:
    """Repairs findings in :class:`FindingKind` order; each repair recorded on its finding."""

    def __init__(self, lifecycle: Lifecycle, scan: _Scan, renew: Callable[[], None]) -> None:
        self.lifecycle = lifecycle
        self.scan = scan
        self.renew = renew
        self.closed: dict[int, Saga] = {}  # item -> the close saga run for it in this run

    def fix(self, findings: list[Finding]) -> list[Finding]:
        done = []
        for finding in sorted(findings, key=lambda f: list(FindingKind).index(f.kind)):
            self.renew()
            try:
                done.append(self._fix(finding))
            except CloudkitError as exc:
                log.warning("reconcile: %s %s not repaired: %s", finding.kind, finding.subject, describe(exc))
                done.append(
                    attrs.evolve(finding, repair=f"{finding.repair}: failed: {describe(exc)}", fixed=False)
                )
        return done

    def _fix(self, finding: Finding) -> Finding:
        kind = finding.kind
        if kind is FindingKind.STUCK_SAGA:
            return self._stuck(finding)
        if kind is FindingKind.SERVICE_WITHOUT_SERVER:
            return self._rebuild(finding)
        if kind in (FindingKind.ORPHAN_SERVER, FindingKind.ORPHAN_PORT) and _close_fits(
            self.scan, finding, self.closed
        ):
            return self._close(finding)
        return self._delete(finding)

    # ------------------------------------------------------------------------ stuck
    def _stuck(self, finding: Finding) -> Finding:
        saga_id = finding.saga_id or ""
        row = next(r for r in self.scan.known.not_final if r.saga.id == saga_id)
        now = self.lifecycle.store.now()
        if row.lease_until is not None and row.lease_until > now:
            return attrs.evolve(
                finding,
                repair=f"not handed over: {row.lease_owner} holds its lease until {_when(row.lease_until)}",
                fixed=False,
            )
        self.lifecycle.runner.submit(self.lifecycle.engine, saga_id)
        saga = self.lifecycle.store.get(saga_id)
        return attrs.evolve(
            finding, repair=f"handed to the runner: now {saga.state.value}", fixed=saga.state.final
        )

    # ------------------------------------------------------------------------ close saga
    def _close(self, finding: Finding) -> Finding:
        item = finding.item
        assert item is not None  # noqa: S101 (_close_fits checked it)
        saga = self.closed.get(item)
        if saga is None:
            saga = self.lifecycle.close(item, account=finding.account)
            self.closed[item] = saga
        ok = saga.state is SagaState.DONE
        error = "" if ok else f" ({saga.last_error})"
        return attrs.evolve(
            finding,
            saga_id=saga.id,
            repair=f"close saga {saga.id} of item {item}: {saga.state.value}{error}",
            fixed=ok,
        )

    # ------------------------------------------------------------------------ direct deletes
    def _delete(self, finding: Finding) -> Finding:
        what, _, uuid = finding.subject.partition(" ")
        systems = self.lifecycle.systems
        wait = self.lifecycle.settings.step_wait
        with contextlib.suppress(NotFoundError):  # gone already: the delete is done
            if what == "server":
                self._cloud_of(finding).delete_server(uuid, unlock=True, wait=wait)
            elif what == "volume":
                self._cloud_of(finding).delete_volume(uuid, wait=wait)
            elif what == "port":
                systems.tungsten().delete_port(uuid)
            elif what == "floating_ip":
                systems.tungsten().delete_floating_ip(uuid)
            elif what == "network":
                systems.tungsten().delete_virtual_network(uuid)
            else:  # pragma: no cover - every kind above has a repair
                raise ConflictError(f"no repair for {finding.subject}", system=SYSTEM, operation="reconcile")
        return attrs.evolve(finding, repair=f"deleted {what} {uuid}", fixed=True)

    def _cloud_of(self, finding: Finding) -> OpenStackClient:
        account = finding.account if finding.account is not None else 0
        return self.lifecycle.systems.cloud(project_name(self.lifecycle.settings, account))

    # ------------------------------------------------------------------------ rebuild
    def _rebuild(self, finding: Finding) -> Finding:
        item = finding.item
        assert item is not None  # noqa: S101 (services_without_server sets it)
        servers = self.scan.servers_of_item.get(item, [])
        if servers:
            return attrs.evolve(
                finding,
                repair=f"left for an operator: server {servers[0].id} is in ERROR (a rebuild would lose its "
                "disk; repair or delete it, then reconcile again)",
                fixed=False,
            )
        last_open = self.scan.known.last_open.get(item)
        if last_open is None or last_open.plan is None or finding.account is None:
            return attrs.evolve(finding, repair="left for an operator: no open saga with a plan", fixed=False)
        engine = self.lifecycle.engine
        saga, _ = self.lifecycle.store.create_or_join(
            item=item,
            operation=ModuleCommand.OPEN,
            account=finding.account,
            running_operation=None,
            plan=last_open.plan,
            reason=None,
            steps=engine.step_names(ModuleCommand.OPEN),
            fresh=True,
        )
        self.lifecycle.runner.submit(engine, saga.id)
        saga = self.lifecycle.store.get(saga.id)
        ok = saga.state is SagaState.DONE
        error = "" if ok else f" ({saga.last_error})"
        return attrs.evolve(
            finding,
            saga_id=saga.id,
            repair=f"rebuilt by open saga {saga.id} with the plan of saga {last_open.id}: "
            f"{saga.state.value}{error}",
            fixed=ok,
        )


# ================================================================================== entry point
def reconcile(
    lifecycle: Lifecycle, *, fix: bool = False, stuck_after: float | None = None
) -> ReconcileReport:
    """Find what drifted between billing, the clouds and the saga store; with ``fix``, repair it.

    A dry run (the default) only reads billing, OpenStack and Tungsten Fabric; it writes nothing but
    its own record in ``reconcile_runs`` / ``reconcile_findings``. See the module docstring for the
    kinds of findings and their repairs; ``docs/stoprules.md`` for a walk-through.

    Args:
        lifecycle: the lifecycle whose store, clients and runner are used.
        fix: repair each finding (under the ``reconcile`` lease).
        stuck_after: seconds after which a saga still going is stuck (default: ``settings.step_wait``
            times its number of steps).

    Raises:
        ConflictError: ``fix`` and another fixing run holds the ``reconcile`` lease.

    Example:
        >>> from cloudkit.lifecycle import Lifecycle
        >>> from cloudkit.lifecycle._reconcile import reconcile
        >>> from cloudkit.platform import Platform
        >>> with Lifecycle(Platform(), db_url="sqlite://") as lifecycle:
        ...     report = reconcile(lifecycle)
        >>> report.clean, report.fix, report.findings
        (True, False, ())
    """
    from cloudkit.lifecycle._opstore import OpStore  # noqa: PLC0415 (SQLAlchemy loads with it)

    ops = OpStore(lifecycle.store)
    owner = default_owner()
    # One repair may be a whole saga (each step waiting up to step_wait); the lease is renewed between
    # repairs, so it must outlast the longest one.
    longest = max(len(steps) for steps in lifecycle.engine.steps.values())
    seconds = lifecycle.settings.lease_seconds + lifecycle.settings.step_wait * longest
    if fix and not ops.acquire_lease(LEASE, owner, seconds):
        raise ConflictError(
            "another reconcile --fix is running (the reconcile lease is held)",
            system=SYSTEM,
            operation="reconcile",
        )
    try:
        run = ops.start_reconcile_run(fix=fix)
        try:
            report = _run(
                lifecycle,
                ops,
                run.id,
                run.started_at,
                fix=fix,
                stuck_after=stuck_after,
                renew=lambda: _renew(ops, owner, seconds),
            )
        except BaseException as exc:
            ops.finish_reconcile_run(run.id, "failed", counts={}, error=describe(exc))
            raise
    finally:
        if fix:
            ops.release_lease(LEASE, owner)
    return report


def _renew(ops: OpStore, owner: str, seconds: float) -> None:
    if not ops.renew_lease(LEASE, owner, seconds):
        raise ConflictError("the reconcile lease was lost", system=SYSTEM, operation="reconcile")


def _run(
    lifecycle: Lifecycle,
    ops: OpStore,
    run_id: str,
    started_at: dt.datetime,
    *,
    fix: bool,
    stuck_after: float | None,
    renew: Callable[[], None],
) -> ReconcileReport:
    problems: list[str] = []
    known = _read_store(lifecycle)
    services = _read_services(lifecycle, problems) if known.customers or known.latest else None
    scan = _Scan(lifecycle, known, services, lifecycle.store.now(), stuck_after, problems=problems)
    scan.stuck()
    if known.customers and lifecycle.platform.openstack is not None:
        for customer in known.customers:
            scan.customer(customer)
        scan.services_without_server()
    findings = sorted(scan.findings, key=lambda f: list(FindingKind).index(f.kind))
    findings = [attrs.evolve(f, repair=_plan_repair(f, scan)) for f in findings]
    if fix and findings:
        findings = _Fixer(lifecycle, scan, renew).fix(findings)
    ops.add_findings(run_id, [_recorded(f) for f in findings])
    report = ReconcileReport(
        run_id=run_id,
        fix=fix,
        started_at=started_at,
        finished_at=lifecycle.store.now(),
        findings=findings,
        problems=problems,
    )
    counts: Mapping[str, int] = {**report.counts, "problems": len(problems)}
    if fix:
        counts = {**counts, "fixed": sum(1 for f in findings if f.fixed)}
    ops.finish_reconcile_run(run_id, "done", counts=counts, error="; ".join(problems)[:2000] or None)
    return report


def _plan_repair(finding: Finding, scan: _Scan) -> str:
    """What a fix would do, for the dry run's table."""
    kind = finding.kind
    if kind is FindingKind.STUCK_SAGA:
        return "hand to the runner"
    if kind is FindingKind.SERVICE_WITHOUT_SERVER:
        if scan.servers_of_item.get(finding.item or 0):
            return "leave for an operator (server in ERROR)"
        return "rebuild with a new open saga (the last open's plan)"
    if kind in (FindingKind.ORPHAN_SERVER, FindingKind.ORPHAN_PORT) and _close_fits(scan, finding, {}):
        return f"close saga of item {finding.item}"
    return f"delete the {finding.subject.partition(' ')[0]}"


def _recorded(finding: Finding) -> Finding:
    """The finding as ``reconcile_findings`` keeps it: the repair (and how it went) joins the detail."""
    if not finding.repair:
        return finding
    outcome = {None: "would", True: "fixed", False: "not fixed"}[finding.fixed]
    return attrs.evolve(finding, detail=f"{finding.detail} [{outcome}: {finding.repair}]")
