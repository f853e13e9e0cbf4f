"""Start, watch and stop the lab's processes: MariaDB, RabbitMQ and the OpenStack services.

The startup order is the reference's (``real-openstack-lab.md`` §3): MariaDB, RabbitMQ and Keystone start
together while the DB syncs run; Keystone gets the service users and the catalog; then every API and worker
starts; nova-compute starts once Placement answers; ``cell_v2 discover_hosts`` maps the compute host; the
lab is ready when nova-compute has joined, cinder-volume has initialized its driver and a volume can be
made and deleted. Neutron's public network and subnet pool are seeded with the flavors and images.

Every service runs in its own session (``setsid``), so stopping its process group stops its forked
children too; RabbitMQ's Debian start script switches user, so its Erlang VM and epmd are stopped by the
pid that owns their port, as the reference found (pitfall 8).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import attrs
import httpx

from cloudkit._core._secret import Secret
from cloudkit.errors import LabError
from cloudkit.lab import _configs
from cloudkit.lab._admin import LabAdmin
from cloudkit.lab._configs import ADMIN_PASSWORD, PORTS, LabPorts
from cloudkit.lab._install import VENV_PACKAGES, constraints_digest, install_venvs, venv_ready
from cloudkit.openstack import OpenStackSettings

__all__ = ["Lab", "LabInfo", "ServiceState"]

_READY_COMPUTE = "Join ServiceGroup membership for this service compute"  # nova/service.py, after RPC start
_READY_VOLUME = "Driver post RPC initialization completed"  # cinder/volume/manager.py
_RABBIT_SERVER = Path("/usr/sbin/rabbitmq-server")
_SNAPSHOT_FORMAT = "3"  # 2: m1.large and m1.xlarge seeded; 3: the neutron database and its public network


@attrs.frozen
class LabInfo:
    """How to reach a running lab; ``describe()`` is what ``cloudkit lab up`` prints.

    Attributes:
        auth_url: Keystone v3.
        admin_username, admin_password, admin_project: the cloud admin (role ``admin``).
        seconds_to_ready: how long ``up`` took.
        rss_mib: resident memory of the lab's processes when it became ready.
        restored: whether ``up`` started from a saved snapshot instead of bootstrapping.

    Example:
        >>> from cloudkit.lab import LabInfo
        >>> info = LabInfo(auth_url="http://127.0.0.1:25000/v3", seconds_to_ready=29.1, rss_mib=2150,
        ...                restored=False)
        >>> info.admin_settings().project_name
        'admin'
        >>> info
        LabInfo(auth_url='http://127.0.0.1:25000/v3', admin_username='admin', admin_password=Secret('***'), ...)
    """  # noqa: E501 (a doctest output line)

    auth_url: str
    seconds_to_ready: float
    rss_mib: int
    restored: bool
    admin_username: str = "admin"
    admin_password: Secret = attrs.field(factory=lambda: Secret(ADMIN_PASSWORD))
    admin_project: str = "admin"
    ports: LabPorts = PORTS

    def __repr__(self) -> str:
        """Short; the password stays masked."""
        return (
            f"LabInfo(auth_url={self.auth_url!r}, admin_username={self.admin_username!r}, "
            f"admin_password={self.admin_password!r}, ...)"
        )

    def admin_settings(self, **overrides: Any) -> OpenStackSettings:
        """``OpenStackSettings`` for the lab's admin; ``overrides`` pass through."""
        return OpenStackSettings(
            auth_url=self.auth_url,
            username=self.admin_username,
            password=self.admin_password,
            project_name=self.admin_project,
            **overrides,
        )

    def describe(self) -> str:
        """Credentials and a ready-to-paste ``OpenStackSettings`` (the lab password is a fixed test one)."""
        how = "restored from the saved snapshot" if self.restored else "bootstrapped"
        return (
            f"lab ready in {self.seconds_to_ready:.1f} s ({how}), {self.rss_mib} MiB resident\n"
            f"  Keystone  {self.auth_url}  admin / {self.admin_password.get_secret_value()} (project admin)\n"
            f"  Nova {self.ports.nova}, Cinder {self.ports.cinder}, Glance {self.ports.glance}, "
            f"Placement {self.ports.placement}, Neutron {self.ports.neutron} "
            f"(external network {_configs.PUBLIC_NETWORK!r}; no agents: no packet flows)\n"
            "  from cloudkit.openstack import OpenStackSettings\n"
            f"  settings = OpenStackSettings(auth_url={self.auth_url!r}, username='admin',\n"
            f"                               password={self.admin_password.get_secret_value()!r}, "
            "project_name='admin')"
        )


@attrs.frozen
class ServiceState:
    """One lab process as ``status`` sees it: its pid (if recorded) and whether it is alive."""

    name: str
    pid: int | None
    alive: bool
    port: int | None = None
    listening: bool = False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child of this process still answers kill(0): look at its state.
    with contextlib.suppress(OSError):
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8")
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    return True


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _port_owner(port: int) -> int | None:
    """The pid that listens on ``port`` (via ``ss``), or None."""
    done = subprocess.run(
        ["ss", "-ltnpH", f"sport = :{port}"],
        capture_output=True,
        text=True,
        check=False,
    )
    for part in done.stdout.split("pid=")[1:]:
        digits = part.split(",", 1)[0]
        if digits.isdigit():
            return int(digits)
    return None


def _tree_rss_kib(pids: Sequence[int]) -> int:
    """Resident memory of ``pids`` and all their descendants, from /proc."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            status = (entry / "status").read_text(encoding="utf-8")
            fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
            pid, ppid = int(entry.name), int(fields["PPid"].strip())
            children.setdefault(ppid, []).append(pid)
            rss[pid] = int(fields.get("VmRSS", "0 kB").split()[0])
    seen: set[int] = set()
    todo = list(pids)
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        todo.extend(children.get(pid, []))
    return sum(rss.get(pid, 0) for pid in seen)


class Lab:
    r"""The lab control plane under one home folder.

    Layout: ``venvs/`` (one venv per service family, kept between runs), ``run/`` (configs, databases,
    logs and pids of the running lab; rebuilt by every ``up``), ``snapshot/`` (state saved after the first
    bootstrap, so later ``up``\\ s skip Keystone's bootstrap, the DB syncs and host discovery).

    Example:
        >>> from pathlib import Path
        >>> from cloudkit.lab import Lab
        >>> lab = Lab(Path("/tmp/nowhere-lab"), say=lambda line: None)
        >>> [s.alive for s in lab.status()][:2]
        [False, False]
    """

    def __init__(self, home: Path | None = None, *, say: Callable[[str], None] | None = None) -> None:
        """Use ``home`` (default ``$CLOUDKIT_LAB_HOME`` or ``~/.cache/cloudkit-lab``), progress to ``say``."""
        default = os.environ.get("CLOUDKIT_LAB_HOME") or str(Path.home() / ".cache/cloudkit-lab")
        self.home = Path(home or default)
        self.venvs = self.home / "venvs"
        self.run_dir = self.home / "run"
        self.snapshot_dir = self.home / "snapshot"
        self.ports = PORTS
        # ``say`` gets each finished phase as plain text (the CLI's progress display stamps it itself);
        # without one, phases go to stderr stamped with the seconds since the operation started.
        self._say = say or self._print_phase
        self._children: list[
            subprocess.Popen[bytes]
        ] = []  # kept, so `down` can reap what this object started
        self._t0 = time.monotonic()

    def __repr__(self) -> str:
        """Where the lab lives."""
        return f"Lab(home={str(self.home)!r})"

    # ------------------------------------------------------------------------------ public
    def install(self, *, rebuild: bool = False) -> None:
        """Build the pinned venvs that are missing or stale (``rebuild``: all of them).

        Raises:
            LabError: a build failed, or MariaDB/RabbitMQ are not installed (the message says how).
        """
        self._t0 = time.monotonic()
        self._check_system_packages()
        install_venvs(self.venvs, rebuild=rebuild, say=self._progress)
        self._progress("installed")

    def up(self, *, fresh: bool = False, save: bool = True) -> LabInfo:
        """Start the whole control plane and wait until it is ready.

        Args:
            fresh: bootstrap from nothing even when a snapshot was saved.
            save: after a bootstrap, save a snapshot for the next ``up``.

        Raises:
            LabError: a venv is missing (run ``install``), a lab is already running, or a service did not
                come up in time (the message names its log file). Whatever was started is stopped again.
        """
        self._t0 = time.monotonic()
        self._check_system_packages()
        missing = [name for name in VENV_PACKAGES if not venv_ready(self.venvs, name)]
        if missing:
            raise LabError(f"venvs missing or stale: {missing}; run `cloudkit lab install`", operation="up")
        if self._running():
            raise LabError(
                f"a lab is already running under {self.home}; `cloudkit lab down` first", operation="up"
            )
        busy = [f"{name}:{port}" for name, port in self.ports.all().items() if _listening(port)]
        if busy:
            raise LabError(f"lab ports already in use: {', '.join(busy)}", operation="up")
        restore = not fresh and self._snapshot_usable()
        try:
            self._start(restore=restore)
            if save and not restore:
                self._save_snapshot()
        except BaseException as exc:
            self._progress("start failed; stopping what was started")
            self.down()
            if isinstance(exc, httpx.HTTPError):  # a service stopped answering mid-start
                raise LabError(f"{type(exc).__name__}: {exc}", operation="up") from exc
            raise
        info = LabInfo(
            auth_url=f"{_configs.keystone_url(self.ports)}/v3",
            seconds_to_ready=round(time.monotonic() - self._t0, 1),
            rss_mib=self._rss_kib() // 1024,
            restored=restore,
        )
        (self.run_dir / "lab.json").write_text(
            json.dumps(
                {
                    "auth_url": info.auth_url,
                    "seconds_to_ready": info.seconds_to_ready,
                    "rss_mib": info.rss_mib,
                    "restored": restore,
                }
            ),
            encoding="utf-8",
        )
        self._progress(f"READY in {info.seconds_to_ready:.1f} s, {info.rss_mib} MiB resident")
        return info

    def info(self) -> LabInfo | None:
        """The running lab's ``LabInfo``, or None when no lab has reached ready here."""
        path = self.run_dir / "lab.json"
        if not path.is_file() or not self._running():
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
        return LabInfo(
            auth_url=data["auth_url"],
            seconds_to_ready=data["seconds_to_ready"],
            rss_mib=data["rss_mib"],
            restored=data["restored"],
        )

    def status(self) -> list[ServiceState]:
        """Every lab process: recorded pid, alive, and for servers whether their port answers."""
        ports = {
            "mariadb": self.ports.mariadb,
            "rabbitmq": self.ports.rabbit,
            "keystone": self.ports.keystone,
            "placement": self.ports.placement,
            "nova-api": self.ports.nova,
            "cinder-api": self.ports.cinder,
            "neutron-server": self.ports.neutron,
            "glance": self.ports.glance,
        }
        names = [
            "mariadb",
            "rabbitmq",
            "keystone",
            "glance",
            "neutron-server",
            "placement",
            "nova-api",
            "nova-conductor",
            "nova-scheduler",
            "nova-compute",
            "cinder-api",
            "cinder-scheduler",
            "cinder-volume",
        ]
        states = []
        for name in names:
            pid = self._pid(name)
            port = ports.get(name)
            states.append(
                ServiceState(
                    name, pid, pid is not None and _alive(pid), port, port is not None and _listening(port)
                )
            )
        return states

    def down(self) -> list[str]:
        """Stop every lab process; returns what is still left (empty when all is clean).

        Services get SIGTERM to their whole process group, then SIGKILL after 10 s; RabbitMQ's VM and
        epmd are stopped by the pid that owns their port. Nothing outside the lab is touched.
        """
        pids_dir = self.run_dir / "pids"
        groups: list[int] = []
        for pid_file in sorted(pids_dir.glob("*.pid")) if pids_dir.is_dir() else []:
            if pid_file.stem in {"rabbitmq", "beam", "epmd"}:
                continue
            pid = int(pid_file.read_text(encoding="utf-8").strip())
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGTERM)
                groups.append(pid)
        self._wait_gone(groups, 10.0, group=True)
        for pid in groups:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
        self._stop_rabbit()
        for child in self._children:  # started by this object (a pytest fixture's lab): reap them
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.wait(timeout=5)
        self._children.clear()
        for pid_file in pids_dir.glob("*.pid") if pids_dir.is_dir() else []:
            pid_file.unlink()
        (self.run_dir / "lab.json").unlink(missing_ok=True)
        left = [f"{name}:{port}" for name, port in self.ports.all().items() if _listening(port)]
        self._progress("down" if not left else f"down, but ports still answer: {', '.join(left)}")
        return left

    # ------------------------------------------------------------------------------ start
    def _start(self, *, restore: bool) -> None:
        run = self.run_dir
        shutil.rmtree(run, ignore_errors=True)
        for sub in (
            "logs",
            "pids",
            "nova/instances",
            "nova/locks",
            "cinder/locks",
            "neutron/locks",
            "glance/images",
            "glance/staging",
            "glance/tasks",
            "keystone",
        ):
            (run / sub).mkdir(parents=True, exist_ok=True)
        _configs.render_all(run, self.venvs, self.ports).write(run)
        if restore:
            with tarfile.open(self.snapshot_dir / "files.tar") as tar:
                tar.extractall(run, filter="data")
        self._progress("configs written" + (" and snapshot files restored" if restore else ""))

        with ThreadPoolExecutor(max_workers=6) as pool:
            rabbit = pool.submit(self._start_rabbit)
            self._start_mariadb(restore=restore)
            keystone = pool.submit(self._start_keystone, restore=restore)
            syncs: list[Future[None]] = (
                []
                if restore
                else [
                    pool.submit(
                        self._sync, "nova", "placement-manage", "placement/placement.conf", "db", "sync"
                    ),
                    pool.submit(self._sync_nova),
                    pool.submit(self._sync, "cinder", "cinder-manage", "cinder/cinder.conf", "db", "sync"),
                    pool.submit(self._sync, "glance", "glance-manage", "glance/glance-api.conf", "db_sync"),
                    pool.submit(
                        self._sync, "neutron", "neutron-db-manage", "neutron/neutron.conf", "upgrade", "heads"
                    ),
                ]
            )
            keystone.result()
            if not restore:
                admin = LabAdmin(self.ports)
                try:
                    admin.register_services()
                finally:
                    admin.close()
                self._progress("keystone: service users and catalog registered")
            for sync in syncs:
                sync.result()
            if syncs:
                self._progress("db syncs done (placement, nova api/cell0/cell1, cinder, glance, neutron)")
            rabbit.result()
        self._start_services()

    def _start_services(self) -> None:
        run, nova_venv, cinder_venv = self.run_dir, self.venvs / "nova", self.venvs / "cinder"
        nova_conf = str(run / "nova/nova.conf")
        cinder_conf = str(run / "cinder/cinder.conf")
        logs = run / "logs"

        def log_to(name: str) -> list[str]:
            return ["--log-file", str(logs / f"{name}.log")]

        # neutron-server imports the lab's ML2 driver (and its entry point) from the run folder.
        self._spawn(
            "neutron-server",
            self._gunicorn(
                self.venvs / "neutron",
                run / "neutron",
                self.ports.neutron,
                "neutron_wsgi:application",
                threads=4,
            ),
            env={"PYTHONPATH": str(run / "neutron")},
        )
        self._spawn(
            "placement",
            self._gunicorn(
                nova_venv, run / "placement", self.ports.placement, "placement_wsgi:application", threads=4
            ),
        )
        self._spawn(
            "nova-api",
            self._gunicorn(nova_venv, run / "nova", self.ports.nova, "nova_api_wsgi:application", threads=8),
        )
        for name in ("nova-conductor", "nova-scheduler"):
            self._spawn(name, [str(nova_venv / "bin" / name), "--config-file", nova_conf, *log_to(name)])
        # cinder-volume imports the lab driver from the run folder (volume_driver takes an import path).
        cinder_env = {"PYTHONPATH": str(run / "cinder")}
        for name in ("cinder-api", "cinder-scheduler", "cinder-volume"):
            argv = [str(cinder_venv / "bin" / name), "--config-file", cinder_conf, *log_to(name)]
            self._spawn(name, argv, env=cinder_env)
        self._spawn(
            "glance",
            self._gunicorn(
                self.venvs / "glance",
                run / "glance",
                self.ports.glance,
                "glance.wsgi.api:application",
                threads=4,
            ),
            env={"OS_GLANCE_CONFIG_DIR": str(run / "glance")},
        )
        self._wait_http("placement", f"http://127.0.0.1:{self.ports.placement}/", {200})
        # nova-compute makes its resource provider at startup: start it once Placement answers.
        # --debug: its only "ready" line (after the RPC server started) is a debug one.
        compute = [str(nova_venv / "bin/nova-compute"), "--config-file", nova_conf, *log_to("nova-compute")]
        self._place_lab_compute_driver()
        self._spawn("nova-compute", [*compute, "--debug"])
        self._wait_http("nova-api", f"http://127.0.0.1:{self.ports.nova}/", {200})
        self._wait_http("cinder-api", f"http://127.0.0.1:{self.ports.cinder}/", {200, 300})
        self._wait_http("glance", f"http://127.0.0.1:{self.ports.glance}/", {200, 300})
        self._wait_http("neutron-server", f"http://127.0.0.1:{self.ports.neutron}/", {200})
        self._wait_log("nova-compute", _READY_COMPUTE, timeout=120)
        restored = (run / "snapshot-restored").exists()
        if not restored:
            self._run(
                "discover-hosts",
                [
                    str(nova_venv / "bin/nova-manage"),
                    "--config-file",
                    nova_conf,
                    "cell_v2",
                    "discover_hosts",
                    "--verbose",
                ],
            )
            self._progress("compute host mapped to cell1")
        self._wait_log("cinder-volume", _READY_VOLUME, timeout=120)
        admin = LabAdmin(self.ports)
        try:
            if not restored:
                admin.seed()
                self._progress("seeded flavors m1.tiny to m1.xlarge and images cirros, debian, ubuntu")
                admin.seed_network()
                self._progress(
                    f"seeded external network {_configs.PUBLIC_NETWORK} ({_configs.PUBLIC_CIDR}) "
                    f"and the default subnet pool {_configs.SUBNET_POOL}"
                )
            admin.wait_compute_up(time.monotonic() + 60)
            admin.volume_round_trip(time.monotonic() + 60)
        finally:
            admin.close()
        self._progress("nova reports its compute host up; a volume was made and deleted")

    def _place_lab_compute_driver(self) -> None:
        """Write the lab's virt driver into ``nova.virt``, the package ``compute_driver`` is looked up in.

        Nova 34 imports ``nova.virt.<compute_driver>`` only (no fallback to a top-level module), so the
        driver cannot live in the run folder as Cinder's does; it is rewritten at every start, so it is
        always the one this cloudkit carries.
        """
        packages = sorted((self.venvs / "nova").glob("lib/python3*/site-packages/nova/virt"))
        if not packages:
            msg = "the nova venv has no nova/virt package; run `cloudkit lab install`"
            raise LabError(msg, operation="up")
        (packages[0] / "labnova.py").write_text(_configs.LAB_NOVA_DRIVER, encoding="utf-8")

    def _start_mariadb(self, *, restore: bool) -> None:
        data, sock = self.run_dir / "mysql", self.run_dir / "mysql/mysqld.sock"
        data.mkdir(parents=True, exist_ok=True)
        self._run(
            "mariadb-install-db",
            [
                "mariadb-install-db",
                "--no-defaults",
                "--user=root",
                f"--datadir={data}/data",
                "--auth-root-authentication-method=socket",
                "--skip-test-db",
            ],
        )
        self._spawn(
            "mariadb",
            [
                "mariadbd",
                "--no-defaults",
                "--user=root",
                f"--datadir={data}/data",
                f"--socket={sock}",
                f"--pid-file={data}/mysqld.pid",
                f"--port={self.ports.mariadb}",
                "--bind-address=127.0.0.1",
                "--skip-log-bin",
                f"--log-error={self.run_dir}/logs/mariadb.log",
                "--innodb-buffer-pool-size=128M",
                "--innodb-flush-log-at-trx-commit=0",
                "--innodb-doublewrite=0",
                "--max-connections=500",
                "--skip-name-resolve",
            ],
        )
        deadline = time.monotonic() + 60
        while not self._mysql("SELECT 1", check=False):
            self._check_alive("mariadb", "mariadb.log")
            if time.monotonic() > deadline:
                raise LabError(
                    "mariadb did not accept connections in 60 s; see run/logs/mariadb.log", operation="up"
                )
            time.sleep(0.1)
        self._mysql(_configs.mysql_ready_sql())
        if restore:
            with (self.snapshot_dir / "mysql.sql").open("rb") as dump:
                self._mysql_feed(dump)
        self._progress("mariadb up" + (" (databases restored)" if restore else ""))

    def _mysql(self, sql: str, *, check: bool = True) -> bool:
        argv = ["mariadb", "--no-defaults", f"--socket={self.run_dir}/mysql/mysqld.sock", "-uroot", "-e", sql]
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        if check and done.returncode != 0:
            raise LabError(f"mariadb: {done.stderr.strip()[:300]}", operation="up")
        return done.returncode == 0

    def _mysql_feed(self, dump: Any) -> None:
        argv = ["mariadb", "--no-defaults", f"--socket={self.run_dir}/mysql/mysqld.sock", "-uroot"]
        done = subprocess.run(argv, stdin=dump, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise LabError(f"restoring the databases failed: {done.stderr.strip()[:300]}", operation="up")

    @property
    def _rabbit_dir(self) -> Path:
        # RabbitMQ runs as user rabbitmq (its Debian start script switches), which cannot enter a home such
        # as /root: its folder lives in the temp dir, named after this lab's home so two labs never share it.
        digest = hashlib.sha256(str(self.home.resolve()).encode()).hexdigest()[:10]
        return Path(tempfile.gettempdir()) / f"cloudkit-lab-rabbit-{digest}"

    def _start_rabbit(self) -> None:
        base = self._rabbit_dir
        shutil.rmtree(base, ignore_errors=True)
        for sub in ("mnesia", "log"):
            (base / sub).mkdir(parents=True, exist_ok=True)
        shutil.chown(base, "rabbitmq", "rabbitmq")
        for path in base.rglob("*"):
            shutil.chown(path, "rabbitmq", "rabbitmq")
        env = {
            "RABBITMQ_MNESIA_BASE": str(base / "mnesia"),
            "RABBITMQ_FEATURE_FLAGS_FILE": str(base / "feature_flags"),
            "RABBITMQ_LOG_BASE": str(base / "log"),
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.ports.rabbit),
            "RABBITMQ_DIST_PORT": str(self.ports.rabbit_dist),
            "RABBITMQ_NODENAME": "rabbit@localhost",
            "ERL_EPMD_ADDRESS": "127.0.0.1",
            "ERL_EPMD_PORT": str(self.ports.epmd),
            "HOME": str(base),
        }
        self._spawn("rabbitmq", [str(_RABBIT_SERVER)], env=env, cwd=base)
        deadline = time.monotonic() + 90
        while not _listening(self.ports.rabbit):
            self._check_alive("rabbitmq", "rabbitmq.out")
            if time.monotonic() > deadline:
                raise LabError("rabbitmq did not listen in 90 s; see run/logs/rabbitmq.out", operation="up")
            time.sleep(0.1)
        pids = self.run_dir / "pids"
        for name, port in (("beam", self.ports.rabbit), ("epmd", self.ports.epmd)):
            owner = _port_owner(port)
            if owner is not None:
                (pids / f"{name}.pid").write_text(str(owner), encoding="utf-8")
        self._progress("rabbitmq up")

    def _stop_rabbit(self) -> None:
        pids = self.run_dir / "pids"
        # rabbitmqctl stop needs epmd; SIGTERM to the VM that owns the AMQP port stops it cleanly [pitfall 8].
        # Only the pids this lab recorded at start: whatever else owns those ports is not ours to stop.
        for name in ("beam", "epmd"):
            recorded = pids / f"{name}.pid"
            if not recorded.is_file():
                continue
            pid = int(recorded.read_text(encoding="utf-8"))
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
            self._wait_gone([pid], 15.0, group=False)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        shutil.rmtree(self._rabbit_dir, ignore_errors=True)
        wrapper = pids / "rabbitmq.pid"
        if wrapper.is_file():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(int(wrapper.read_text(encoding="utf-8")), signal.SIGKILL)

    def _start_keystone(self, *, restore: bool) -> None:
        venv, state = self.venvs / "keystone", self.run_dir / "keystone"
        if not restore:
            manage = [str(venv / "bin/keystone-manage"), "--config-file", str(state / "keystone.conf")]
            self._run("keystone-db-sync", [*manage, "db_sync"])
            for setup in ("fernet_setup", "credential_setup"):
                self._run(
                    f"keystone-{setup}",
                    [*manage, setup, "--keystone-user", "root", "--keystone-group", "root"],
                )
            url = f"{_configs.keystone_url(self.ports)}/v3/"
            self._run(
                "keystone-bootstrap",
                [
                    *manage,
                    "bootstrap",
                    "--bootstrap-password",
                    ADMIN_PASSWORD,
                    "--bootstrap-admin-url",
                    url,
                    "--bootstrap-internal-url",
                    url,
                    "--bootstrap-public-url",
                    url,
                    "--bootstrap-region-id",
                    "RegionOne",
                ],
            )
        self._spawn(
            "keystone", self._gunicorn(venv, state, self.ports.keystone, "ks_wsgi:application", threads=4)
        )
        self._wait_http("keystone", f"{_configs.keystone_url(self.ports)}/v3/", {200})

    def _sync_nova(self) -> None:
        manage = [
            str(self.venvs / "nova/bin/nova-manage"),
            "--config-file",
            str(self.run_dir / "nova/nova.conf"),
        ]
        self._run("nova-api-db-sync", [*manage, "api_db", "sync"])
        self._run(
            "nova-map-cell0",
            [*manage, "cell_v2", "map_cell0", "--database_connection", _configs.nova_cell0_url(self.ports)],
        )
        self._run("nova-create-cell1", [*manage, "cell_v2", "create_cell", "--name", "cell1"])
        self._run("nova-db-sync", [*manage, "db", "sync"])

    def _sync(self, venv: str, tool: str, conf: str, *command: str) -> None:
        """One service's schema sync, e.g. ``cinder-manage --config-file cinder/cinder.conf db sync``."""
        argv = [str(self.venvs / venv / "bin" / tool), "--config-file", str(self.run_dir / conf), *command]
        self._run(f"{tool}-{'-'.join(command)}", argv)

    # ------------------------------------------------------------------------------ snapshot
    def _snapshot_stamp(self) -> str:
        digest = constraints_digest()
        return json.dumps(
            {"format": _SNAPSHOT_FORMAT, "constraints": digest, "ports": self.ports.all()}, sort_keys=True
        )

    def _snapshot_usable(self) -> bool:
        stamp = self.snapshot_dir / "stamp.json"
        return (
            stamp.is_file()
            and (self.snapshot_dir / "files.tar").is_file()
            and (self.snapshot_dir / "mysql.sql").is_file()
            and stamp.read_text(encoding="utf-8") == self._snapshot_stamp()
        )

    def _save_snapshot(self) -> None:
        """Save the bootstrapped state: a MariaDB dump, the sqlite databases, keys and Nova's node id."""
        started = time.monotonic()
        tmp = self.home / "snapshot.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        run = self.run_dir
        with (tmp / "mysql.sql").open("wb") as out:
            argv = [
                "mariadb-dump",
                "--no-defaults",
                f"--socket={run}/mysql/mysqld.sock",
                "-uroot",
                "--single-transaction",
                "--add-drop-database",
                "--databases",
                *_configs.MYSQL_DATABASES,
            ]
            done = subprocess.run(argv, stdout=out, stderr=subprocess.PIPE, check=False)
            if done.returncode != 0:
                raise LabError(f"mariadb-dump failed: {done.stderr.decode()[:300]}", operation="up")
        staged = tmp / "files"
        for db in ("keystone/keystone.db", "placement/placement.db", "glance/glance.db"):
            (staged / db).parent.mkdir(parents=True, exist_ok=True)
            with (
                contextlib.closing(sqlite3.connect(run / db)) as src,
                contextlib.closing(sqlite3.connect(staged / db)) as dst,
            ):
                src.backup(dst)  # a consistent copy while the service runs
        for tree in ("keystone/fernet-keys", "keystone/credential-keys", "glance/images"):
            shutil.copytree(run / tree, staged / tree)
        (staged / "nova").mkdir()
        shutil.copy2(run / "nova/compute_id", staged / "nova/compute_id")  # the node identity [pitfall 4]
        (staged / "snapshot-restored").write_text("restored from the lab snapshot\n", encoding="utf-8")
        with tarfile.open(tmp / "files.tar", "w") as tar:
            for entry in sorted(staged.iterdir()):
                tar.add(entry, arcname=entry.name)
        shutil.rmtree(staged)
        (tmp / "stamp.json").write_text(self._snapshot_stamp(), encoding="utf-8")
        shutil.rmtree(self.snapshot_dir, ignore_errors=True)
        tmp.rename(self.snapshot_dir)
        self._progress(f"snapshot saved in {time.monotonic() - started:.1f} s ({self.snapshot_dir})")

    # ------------------------------------------------------------------------------ plumbing
    def _progress(self, text: str) -> None:
        self._say(text)

    def _print_phase(self, text: str) -> None:
        print(f"[{time.monotonic() - self._t0:6.1f}s] {text}", file=sys.stderr, flush=True)  # noqa: T201

    def _check_system_packages(self) -> None:
        missing = [
            p
            for p, exe in (("mariadb-server", "mariadbd"), ("rabbitmq-server", str(_RABBIT_SERVER)))
            if shutil.which(exe) is None and not Path(exe).exists()
        ]
        if shutil.which("ss") is None:
            missing.append("iproute2")
        if missing:
            raise LabError(
                f"Debian packages missing: {' '.join(missing)}; install them with "
                f"`apt-get install -y --no-install-recommends {' '.join(missing)}` "
                "(the lab runs its own MariaDB and RabbitMQ on private ports, never the system services)",
                operation="install",
            )

    def _gunicorn(self, venv: Path, chdir: Path, port: int, app: str, *, threads: int) -> list[str]:
        # --no-control-socket: else gunicorn 27 servers share ~/.gunicorn/gunicorn.ctl [pitfall 11]
        return [
            str(venv / "bin/gunicorn"),
            "--chdir",
            str(chdir),
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "--threads",
            str(threads),
            "--timeout",
            "120",
            "--no-control-socket",
            "--access-logfile",
            str(self.run_dir / "logs" / f"{chdir.name}-access.log"),
            app,
        ]

    def _env(self, extra: dict[str, str] | None) -> dict[str, str]:
        # The services' own deprecation chatter is not ours to fix; keep their logs readable.
        return {**os.environ, "PYTHONWARNINGS": "ignore", **(extra or {})}

    def _spawn(
        self, name: str, argv: list[str], *, env: dict[str, str] | None = None, cwd: Path | None = None
    ) -> None:
        log = (self.run_dir / "logs" / f"{name}.out").open("ab")
        try:
            process = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self._env(env),
                cwd=cwd,
                start_new_session=True,
            )
        finally:
            log.close()
        self._children.append(process)
        (self.run_dir / "pids" / f"{name}.pid").write_text(str(process.pid), encoding="utf-8")

    def _run(self, name: str, argv: list[str]) -> None:
        log_path = self.run_dir / "logs" / f"{name}.out"
        with log_path.open("ab") as log:
            done = subprocess.run(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self._env(None),
                check=False,
                timeout=300,
            )
        if done.returncode != 0:
            raise LabError(f"{name} failed (exit {done.returncode}):\n{self._tail(log_path)}", operation="up")

    def _tail(self, path: Path, lines: int = 12) -> str:
        if not path.is_file():
            return f"({path} is missing)"
        text = path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]
        return f"--- last lines of {path}\n" + "\n".join(text)

    def _pid(self, name: str) -> int | None:
        path = self.run_dir / "pids" / f"{name}.pid"
        if name == "rabbitmq" and (self.run_dir / "pids/beam.pid").is_file():
            path = self.run_dir / "pids/beam.pid"
        with contextlib.suppress(OSError, ValueError):
            return int(path.read_text(encoding="utf-8").strip())
        return None

    def _check_alive(self, name: str, log_name: str) -> None:
        pid = self._pid(name)
        if pid is not None and not _alive(pid):
            raise LabError(
                f"{name} exited during start\n{self._tail(self.run_dir / 'logs' / log_name)}", operation="up"
            )

    def _wait_http(self, name: str, url: str, statuses: set[int], timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url, timeout=2.0).status_code in statuses:
                    self._progress(f"{name} answers")
                    return
            self._check_alive(name, f"{name}.out")
            if time.monotonic() > deadline:
                raise LabError(
                    f"{name} did not answer at {url} in {timeout:.0f} s\n"
                    f"{self._tail(self.run_dir / 'logs' / f'{name}.out')}",
                    operation="up",
                )
            time.sleep(0.1)

    def _wait_log(self, name: str, text: str, *, timeout: float) -> None:
        path = self.run_dir / "logs" / f"{name}.log"
        deadline = time.monotonic() + timeout
        while True:
            if path.is_file() and text in path.read_text(encoding="utf-8", errors="replace"):
                self._progress(f"{name} ready")
                return
            self._check_alive(name, f"{name}.log")
            if time.monotonic() > deadline:
                raise LabError(
                    f"{name} did not log {text!r} in {timeout:.0f} s\n{self._tail(path)}", operation="up"
                )
            time.sleep(0.2)

    def _wait_gone(self, pids: list[int], timeout: float, *, group: bool) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            alive = []
            for pid in pids:
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(pid, os.WNOHANG)  # reap it if it is our child (a fixture-started lab)
                try:
                    os.killpg(pid, 0) if group else os.kill(pid, 0)
                except ProcessLookupError:
                    continue
                except PermissionError:
                    pass
                if group or _alive(pid):
                    alive.append(pid)
            if not alive:
                return
            time.sleep(0.1)

    def _running(self) -> bool:
        return any(s.alive for s in self.status())

    def _rss_kib(self) -> int:
        pids = [pid for s in self.status() if (pid := s.pid) is not None and s.alive]
        return _tree_rss_kib(pids)
