"""Build the lab's server virtual environments, pinned by ``constraints.txt``, cached between runs.

One venv per service family, as the reference spike measured (``real-openstack-lab.md`` §2): separate venvs
worked first time; a shared one was never tried. A venv is reused only while its stamp (interpreter version,
constraints hash, package list) matches; the stamp is written last, so an interrupted build is redone.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from importlib import resources
from pathlib import Path

from cloudkit.errors import LabError

__all__ = ["VENV_PACKAGES", "constraints_digest", "constraints_text", "install_venvs", "venv_ready"]

# venv name -> what it holds. Versions come from constraints.txt.
VENV_PACKAGES: dict[str, tuple[str, ...]] = {
    "keystone": ("keystone", "gunicorn"),
    # Placement shares Nova's venv (same oslo.* pins); PyMySQL is not a dependency of the wheels.
    "nova": ("nova", "openstack-placement", "gunicorn", "PyMySQL"),
    # cinder.tests.fake_driver imports cinder/tests/unit/__init__.py, which imports `fixtures`.
    "cinder": ("cinder", "fixtures", "PyMySQL"),
    "glance": ("glance", "gunicorn"),
    "neutron": ("neutron", "gunicorn", "PyMySQL"),
}
# One import per venv that proves it is usable (not just that pip finished).
_PROBES = {
    "keystone": "import keystone.cmd.manage, gunicorn",
    "nova": "import nova.virt.fake, placement.deploy, pymysql, gunicorn",
    "cinder": "import cinder.tests.fake_driver, pymysql",
    "glance": "import glance.cmd.manage, gunicorn",
    "neutron": "import neutron.plugins.ml2.plugin, neutron.db.migration.cli, pymysql, gunicorn",
}


def constraints_text() -> str:
    """The pinned versions of every package in the lab's venvs.

    Example:
        >>> from cloudkit.lab._install import constraints_text
        >>> "nova==34.0.0" in constraints_text().splitlines()
        True
    """
    return resources.files("cloudkit.lab").joinpath("constraints.txt").read_text(encoding="utf-8")


def constraints_digest() -> str:
    """A short hash of the pins: venv stamps and the snapshot stamp both change when the pins do."""
    return hashlib.sha256(constraints_text().encode()).hexdigest()[:16]


def _stamp(name: str) -> str:
    digest = constraints_digest()
    version = ".".join(map(str, sys.version_info[:3]))
    return f"python={version} constraints={digest} packages={' '.join(VENV_PACKAGES[name])}\n"


def venv_ready(venvs: Path, name: str) -> bool:
    """Whether ``venvs/name`` was built completely from the current constraints.

    Example:
        >>> from pathlib import Path
        >>> from cloudkit.lab._install import venv_ready
        >>> venv_ready(Path("/nonexistent"), "nova")
        False
    """
    stamp = venvs / name / ".cloudkit-stamp"
    return stamp.is_file() and stamp.read_text(encoding="utf-8") == _stamp(name)


def _build(venvs: Path, name: str, constraints: Path) -> float:
    started = time.monotonic()
    venv, log_path = venvs / name, venvs / f"install-{name}.log"
    shutil.rmtree(venv, ignore_errors=True)
    env = {
        **os.environ,
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PIP_NO_INPUT": "1",
        "PYTHONWARNINGS": "ignore",
    }
    steps = [
        [sys.executable, "-m", "venv", str(venv)],
        [str(venv / "bin/pip"), "install", "-q", "-c", str(constraints), *VENV_PACKAGES[name]],
        [str(venv / "bin/python"), "-c", _PROBES[name]],
    ]
    with log_path.open("w", encoding="utf-8") as log:
        for step in steps:
            log.write(f"$ {' '.join(step)}\n")
            log.flush()
            done = subprocess.run(step, stdout=log, stderr=subprocess.STDOUT, env=env, check=False)
            if done.returncode != 0:
                tail = "\n".join(log_path.read_text(encoding="utf-8").splitlines()[-15:])
                msg = f"building the {name} venv failed (exit {done.returncode}); see {log_path}:\n{tail}"
                raise LabError(msg, operation="install")
    (venv / ".cloudkit-stamp").write_text(_stamp(name), encoding="utf-8")
    return time.monotonic() - started


def install_venvs(venvs: Path, *, rebuild: bool = False, say: Callable[[str], None] = print) -> None:
    """Build the venvs that are missing or stale, in parallel; ``rebuild`` rebuilds them all.

    Raises:
        LabError: a pip install or import probe failed; the message names the log file.
    """
    venvs.mkdir(parents=True, exist_ok=True)
    constraints = venvs / "constraints.txt"
    constraints.write_text(constraints_text(), encoding="utf-8")
    todo = [n for n in VENV_PACKAGES if rebuild or not venv_ready(venvs, n)]
    for name in VENV_PACKAGES:
        if name not in todo:
            say(f"{name} venv is current ({venvs / name})")
    if not todo:
        return
    say(f"building venvs in parallel: {', '.join(todo)} (about a minute the first time)")
    with ThreadPoolExecutor(max_workers=len(todo)) as pool:
        futures = {pool.submit(_build, venvs, name, constraints): name for name in todo}
        # Reported as each one finishes (not in submission order), so progress moves when work does.
        for done, future in enumerate(as_completed(futures), start=1):
            say(f"{futures[future]} venv built in {future.result():.0f} s ({done}/{len(todo)})")
