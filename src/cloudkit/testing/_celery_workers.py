"""Real Celery worker and beat processes for the lifecycle tests and benchmark (never eager, never memory://).

Each process is started in a session of its own, so it and its pool children form one process group
that :meth:`CeleryProcess.kill` ends with one ``SIGKILL`` (what a crashed machine looks like to the
broker and the database) and :meth:`CeleryProcess.stop` ends with a warm shutdown.

Example:
    >>> from cloudkit.testing._celery_workers import worker_command
    >>> worker_command("w1", concurrency=2)[1:6]
    ['-m', 'celery', '-A', 'cloudkit.lifecycle.celery', 'worker']
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import IO, Self

__all__ = ["CeleryProcess", "beat_command", "children", "vm_hwm_kib", "worker_command"]

APP = "cloudkit.lifecycle.celery"


def worker_command(name: str, *, concurrency: int = 1, loglevel: str = "INFO") -> list[str]:
    """``celery worker`` of the lifecycle app: ``concurrency`` prefork children, no gossip or mingle."""
    return [
        sys.executable, "-m", "celery", "-A", APP, "worker", "-c", str(concurrency), "-n", f"{name}@%h",
        "-P", "prefork", "-l", loglevel, "--without-gossip", "--without-mingle", "--without-heartbeat",
    ]  # fmt: skip


def beat_command(schedule: Path, *, loglevel: str = "INFO") -> list[str]:
    """``celery beat`` of the lifecycle app (its schedule runs the sweep), schedule file in ``schedule``."""
    return [sys.executable, "-m", "celery", "-A", APP, "beat", "-s", str(schedule), "-l", loglevel,
            "--max-interval", "1"]  # fmt: skip


def children(pid: int) -> list[int]:
    """The pids whose parent is ``pid`` (Linux ``/proc``)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            stat = (entry / "stat").read_text(encoding="ascii", errors="replace")
            # pid (comm) state ppid ...: comm may hold spaces and parentheses; split after the last ")"
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def vm_hwm_kib(pid: int) -> int | None:
    """The resident-set high-water mark of ``pid`` in KiB (``VmHWM`` of ``/proc/<pid>/status``)."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text(encoding="ascii").splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return None


class CeleryProcess:
    """One ``celery`` process (worker or beat) with its own process group and log file."""

    def __init__(self, name: str, command: list[str], env: Mapping[str, str], log_path: Path) -> None:
        """Start it; the output goes to ``log_path``."""
        self.name = name
        self.log_path = log_path
        self._log: IO[bytes] = log_path.open("wb")
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            command, env=dict(env), stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.pid = self.process.pid

    def __repr__(self) -> str:
        """Name and pid."""
        return f"CeleryProcess({self.name!r}, pid={self.pid})"

    def __enter__(self) -> Self:
        """Use as a context manager: :meth:`stop` on exit."""
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        """Stop the process group."""
        self.stop()

    def alive(self) -> bool:
        """Whether the main process still runs."""
        return self.process.poll() is None

    def pool(self) -> list[int]:
        """The pids of the worker's pool children."""
        return children(self.pid)

    def pause(self) -> None:
        """``SIGSTOP`` to the whole process group: frozen mid-whatever, connections left open."""
        os.killpg(self.pid, signal.SIGSTOP)

    def resume(self) -> None:
        """``SIGCONT`` to the whole process group."""
        os.killpg(self.pid, signal.SIGCONT)

    def kill(self) -> None:
        """``SIGKILL`` to the whole process group (main process and pool children), then reap."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGKILL)
        self.process.wait(timeout=30)
        self._log.close()

    def stop(self, timeout: float = 20.0) -> None:
        """Warm shutdown (``SIGTERM`` to the group); ``SIGKILL`` if it is not gone within ``timeout``."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.pid, signal.SIGKILL)
                self.process.wait(timeout=30)
        # pool children that outlived their parent (they share its group)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        self._log.close()

    def tail(self, lines: int = 40) -> str:
        """The last lines of the log (for a failing test's message)."""
        self._log.flush()
        text = self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()
        return "\n".join(text[-lines:])


def wait_until_ready(processes: list[CeleryProcess], timeout: float = 60.0) -> None:
    """Wait until every worker logged ``ready`` (polling its log file: an outside process)."""
    deadline = time.monotonic() + timeout
    pending = list(processes)
    while pending:
        for proc in list(pending):
            if not proc.alive():
                raise RuntimeError(f"{proc.name} exited {proc.process.returncode}:\n{proc.tail()}")
            if " ready." in proc.log_path.read_text(encoding="utf-8", errors="replace"):
                pending.remove(proc)
        if pending and time.monotonic() > deadline:
            raise TimeoutError(f"workers not ready in {timeout:g}s: {[p.name for p in pending]}")
        if pending:
            time.sleep(0.05)
