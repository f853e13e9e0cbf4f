"""Private PostgreSQL and RabbitMQ servers for tests: own data folder, loopback, free ports, stopped by pid.

The recipes are ``real-services.md``'s (Debian's ``postgresql`` and ``rabbitmq-server`` packages; the
system services stay off). ``.ci/run`` starts both before the test command and exports their URLs::

    python -m cloudkit.testing.services up DIR     # prints export lines; state kept in DIR/services.json
    python -m cloudkit.testing.services down DIR   # stops what `up` started, by the pids it recorded

A developer machine without those variables gets the same servers from Python::

    from cloudkit.testing.services import start_postgres
    pg = start_postgres(tmp_dir)       # pg.url == "postgresql+psycopg://postgres@127.0.0.1:<port>/postgres"
    ...
    pg.stop()

Both need the Debian packages and, as in CI, root (PostgreSQL runs as user ``postgres`` and RabbitMQ's
Debian start script switches to ``rabbitmq``); otherwise :class:`ServiceUnavailableError` says what is
missing. Nothing here touches a process it did not start.

Example:
    >>> from cloudkit.testing.services import PostgresService
    >>> PostgresService(data_dir="/tmp/pg", port=25432, bin_dir="/usr/lib/postgresql/15/bin").url
    'postgresql+psycopg://postgres@127.0.0.1:25432/postgres'
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import attrs

__all__ = [
    "PostgresService",
    "RabbitService",
    "ServiceUnavailableError",
    "start_postgres",
    "start_rabbitmq",
    "stop_services",
]

_PG_ROOT = Path("/usr/lib/postgresql")  # Debian keeps pg_ctl off PATH
_RABBIT_SERVER = Path("/usr/sbin/rabbitmq-server")
_STATE = "services.json"
# rabbitmq-server wrappers started by this process, kept so stop() reaps them (no zombie, no warning)
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


class ServiceUnavailableError(RuntimeError):
    """A test service cannot be started here: a package or a permission is missing (the message says)."""


def _reserved_ports() -> set[int]:
    """The lab's fixed ports and its fault proxies': a test service never takes one of them."""
    from cloudkit.lab._configs import PORTS  # noqa: PLC0415 (attrs only; the lab stack stays unloaded)
    from cloudkit.testing._lab_fixtures import CINDER_PROXY_PORT, NOVA_PROXY_PORT  # noqa: PLC0415

    return {*PORTS.all().values(), NOVA_PROXY_PORT, CINDER_PROXY_PORT}


def _free_port() -> int:
    reserved = _reserved_ports()
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port: int = sock.getsockname()[1]
        if port not in reserved:
            return port


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _port_owner(port: int) -> int | None:
    """The pid listening on ``port`` (via ``ss``), or None."""
    if shutil.which("ss") is None:
        return None
    done = subprocess.run(["ss", "-ltnpH", f"sport = :{port}"], capture_output=True, text=True, check=False)
    for part in done.stdout.split("pid=")[1:]:
        digits = part.split(",", 1)[0]
        if digits.isdigit():
            return int(digits)
    return None


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        with contextlib.suppress(OSError):
            if Path(f"/proc/{pid}/stat").read_text(encoding="utf-8").rsplit(")", 1)[1].split()[0] == "Z":
                return True
        time.sleep(0.05)
    return False


def _as_user(user: str) -> list[str]:
    """A prefix that runs a command as ``user`` when we are root (nothing when we are not)."""
    return ["runuser", "-u", user, "--"] if os.geteuid() == 0 else []


# ----------------------------------------------------------------------------------------- PostgreSQL
@attrs.frozen
class PostgresService:
    """A private PostgreSQL server started by :func:`start_postgres`; trust auth on loopback only.

    Attributes:
        data_dir: its cluster folder (the log is beside it, ``postgres.log``).
        port: its loopback port.
        bin_dir: the ``pg_ctl`` and ``initdb`` it was started with.
    """

    data_dir: str
    port: int
    bin_dir: str

    @property
    def url(self) -> str:
        """SQLAlchemy URL of its ``postgres`` database (psycopg 3); create databases for tests in it."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def stop(self) -> None:
        """Stop the server (fast shutdown) and wait until it is gone; no-op when it is not running."""
        if not (Path(self.data_dir) / "postmaster.pid").is_file():
            return
        subprocess.run(
            [
                *_as_user("postgres"),
                f"{self.bin_dir}/pg_ctl",
                "-D",
                self.data_dir,
                "-m",
                "fast",
                "-w",
                "stop",
            ],
            capture_output=True,
            check=False,
            timeout=60,
        )


def _pg_bin() -> Path:
    versions = sorted(_PG_ROOT.glob("*/bin/pg_ctl"), key=lambda p: [int(x) for x in p.parts[-3].split(".")])
    if not versions:
        raise ServiceUnavailableError(
            "PostgreSQL is not installed: apt-get install postgresql (Debian; the system service stays off)"
        )
    return versions[-1].parent


def start_postgres(folder: str | os.PathLike[str], *, port: int | None = None) -> PostgresService:
    """Start a private PostgreSQL in ``folder`` (made if missing) on ``port`` (a free one by default).

    ``fsync=off``: for tests only. Ready in about a second.

    Raises:
        ServiceUnavailableError: no PostgreSQL installed, or not root and not user ``postgres``.
    """
    bin_dir = _pg_bin()
    base = Path(folder).resolve()
    base.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        shutil.chown(base, "postgres")
    data = base / "data"
    port = port or _free_port()
    log = base / "postgres.log"
    initdb = subprocess.run(
        [*_as_user("postgres"), str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    if initdb.returncode != 0:
        raise ServiceUnavailableError(
            f"initdb failed (exit {initdb.returncode}): {initdb.stderr.strip()[-500:]}"
        )
    options = f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
    started = subprocess.run(
        [
            *_as_user("postgres"),
            str(bin_dir / "pg_ctl"),
            "-D",
            str(data),
            "-l",
            str(log),
            "-w",
            "-o",
            options,
            "start",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    service = PostgresService(data_dir=str(data), port=port, bin_dir=str(bin_dir))
    if started.returncode != 0:
        service.stop()
        tail = log.read_text(encoding="utf-8", errors="replace")[-800:] if log.is_file() else ""
        raise ServiceUnavailableError(
            f"PostgreSQL did not start on port {port}: {started.stderr.strip()} {tail}"
        )
    return service


# ------------------------------------------------------------------------------------------- RabbitMQ
@attrs.frozen
class RabbitService:
    """A private RabbitMQ broker started by :func:`start_rabbitmq` (user ``guest``, loopback only).

    Attributes:
        base: its folder (mnesia, logs, ``rabbitmq.out``); removed by :meth:`stop`.
        port, dist_port, epmd_port: AMQP, Erlang distribution and its private epmd.
        pids: the wrapper's, the Erlang VM's and epmd's pids, stopped by :meth:`stop`.
    """

    base: str
    port: int
    dist_port: int
    epmd_port: int
    pids: tuple[int, ...]

    @property
    def url(self) -> str:
        """AMQP URL of its default vhost."""
        return f"amqp://guest:guest@127.0.0.1:{self.port}//"

    def stop(self) -> None:
        """SIGTERM the Erlang VM and epmd it started (SIGKILL after 15 s), then the wrapper's group."""
        wrapper, *others = self.pids
        for pid in others:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
            if not _wait_gone(pid, 15.0):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(wrapper, signal.SIGKILL)
        child = _CHILDREN.pop(wrapper, None)
        if child is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.wait(timeout=5)
        else:
            _wait_gone(wrapper, 5.0)
        shutil.rmtree(self.base, ignore_errors=True)


def start_rabbitmq(folder: str | os.PathLike[str], *, port: int | None = None) -> RabbitService:
    """Start a private RabbitMQ in ``folder`` the way the lab does (``_start_rabbit``), on free ports.

    About 8 s until the AMQP port answers. The folder must be enterable by user ``rabbitmq`` (a temp
    dir is; ``/root`` is not).

    Raises:
        ServiceUnavailableError: no RabbitMQ installed, not root, or it did not listen in 90 s.
    """
    if not _RABBIT_SERVER.is_file():
        raise ServiceUnavailableError("RabbitMQ is not installed: apt-get install rabbitmq-server (Debian)")
    if os.geteuid() != 0:
        raise ServiceUnavailableError(
            "RabbitMQ's Debian start script must run as root (it switches to rabbitmq)"
        )
    base = Path(folder).resolve()
    shutil.rmtree(base, ignore_errors=True)
    for sub in ("mnesia", "log"):
        (base / sub).mkdir(parents=True, exist_ok=True)
    for path in (base, *base.rglob("*")):
        shutil.chown(path, "rabbitmq", "rabbitmq")
    port = port or _free_port()
    dist_port, epmd_port = _free_port(), _free_port()
    env = {
        **os.environ,
        "RABBITMQ_MNESIA_BASE": str(base / "mnesia"),
        "RABBITMQ_FEATURE_FLAGS_FILE": str(base / "feature_flags"),
        "RABBITMQ_LOG_BASE": str(base / "log"),
        "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
        "RABBITMQ_NODE_PORT": str(port),
        "RABBITMQ_DIST_PORT": str(dist_port),
        "RABBITMQ_NODENAME": f"cloudkit-test-{port}@localhost",
        # keep the distribution port on loopback too (it listens on every interface by default)
        "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
        "ERL_EPMD_ADDRESS": "127.0.0.1",
        "ERL_EPMD_PORT": str(epmd_port),
        "HOME": str(base),
    }
    with (base / "rabbitmq.out").open("ab") as out:
        wrapper = subprocess.Popen(
            [str(_RABBIT_SERVER)],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=base,
            start_new_session=True,
        )
    _CHILDREN[wrapper.pid] = wrapper
    deadline = time.monotonic() + 90
    while not _listening(port):
        if wrapper.poll() is not None or time.monotonic() > deadline:
            service = RabbitService(str(base), port, dist_port, epmd_port, (wrapper.pid,))
            text = (base / "rabbitmq.out").read_text(encoding="utf-8", errors="replace")[-800:]
            service.stop()
            raise ServiceUnavailableError(f"RabbitMQ did not listen on {port} in 90 s: {text}")
        time.sleep(0.1)
    owners = tuple(pid for pid in (_port_owner(port), _port_owner(epmd_port)) if pid is not None)
    return RabbitService(str(base), port, dist_port, epmd_port, (wrapper.pid, *owners))


# ---------------------------------------------------------------------------------------------- CLI
def start_services(folder: str | os.PathLike[str]) -> dict[str, str]:
    """Start both in ``folder``, record them in ``services.json``; returns the env variables to export."""
    base = Path(folder).resolve()
    base.mkdir(parents=True, exist_ok=True)
    os.chmod(base, 0o755)  # noqa: PTH101 - the service users enter it
    state: dict[str, object] = {}
    try:
        pg = start_postgres(base / "postgres")
        state["postgres"] = attrs.asdict(pg)
        (base / _STATE).write_text(json.dumps(state), encoding="utf-8")
        rabbit = start_rabbitmq(base / "rabbitmq")
        state["rabbitmq"] = attrs.asdict(rabbit)
        (base / _STATE).write_text(json.dumps(state), encoding="utf-8")
    except BaseException:
        stop_services(base)
        raise
    return {"CLOUDKIT_TEST_POSTGRES_URL": pg.url, "CLOUDKIT_TEST_AMQP_URL": rabbit.url}


def stop_services(folder: str | os.PathLike[str]) -> None:
    """Stop what :func:`start_services` recorded in ``folder``; safe to call twice."""
    path = Path(folder) / _STATE
    if not path.is_file():
        return
    state = json.loads(path.read_text(encoding="utf-8"))
    if "rabbitmq" in state:
        data = state["rabbitmq"]
        RabbitService(**{**data, "pids": tuple(data["pids"])}).stop()
    if "postgres" in state:
        PostgresService(**state["postgres"]).stop()
    path.unlink()


def main(argv: list[str] | None = None) -> int:
    """``up DIR`` (prints ``export`` lines) or ``down DIR``."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2 or args[0] not in {"up", "down"}:  # noqa: PLR2004
        print("usage: python -m cloudkit.testing.services up|down DIR", file=sys.stderr)  # noqa: T201
        return 2
    if args[0] == "down":
        stop_services(args[1])
        return 0
    try:
        env = start_services(args[1])
    except ServiceUnavailableError as exc:
        print(f"services: {exc}", file=sys.stderr)  # noqa: T201
        return 1
    for name, value in env.items():
        print(f"export {name}={value}")  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main())
