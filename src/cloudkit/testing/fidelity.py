"""openstacksdk's own functional tests, run against the OpenStack fake and the lab: who passes what.

A fake is worth what a client written by someone else can do against it. openstacksdk ships a functional
suite written for devstack clouds; this runs the modules a portal leans on (`FIDELITY_MODULES`: compute
flavors, keypairs, servers and volume attachments, block storage volumes, snapshots and types, every
image v2 module, and the cloud layer's compute, block storage and image tests) exactly as upstream runs
them (``stestr run --serial``, one ``clouds.yaml`` with devstack's cloud names), from the sdist of the
openstacksdk version that is installed, so the tests and the client always match::

    python -m cloudkit.testing.fidelity --target fake            # the embedded fake, in this process
    python -m cloudkit.testing.fidelity --target lab             # a running `cloudkit lab`
    python -m cloudkit.testing.fidelity --target both --out DIR  # both, and the comparison

It prints a line per module as it goes, and writes ``DIR/<target>.json`` (every test's outcome) and
``DIR/report.md`` (a table per module, and the tests that pass on one target and not the other).
Outcomes: *passed*, *failed* (an assertion of the test failed), *error* (anything else was raised: an
HTTP error from the cloud, a timeout, an import error), *skipped*.

The clouds: ``devstack`` (user ``demo``, member of project ``demo``), ``devstack-alt`` (``alt_demo``),
``devstack-admin`` and ``devstack-system-admin`` (the admin; neither the fake nor cloudkit's use of the
lab has system scope, so the latter is the project-scoped admin too). On the lab, ``demo`` and
``alt_demo`` are made afresh for each run and purged after it.

Example:
    >>> from cloudkit.testing.fidelity import TestOutcome, TargetRun
    >>> run = TargetRun("fake", (
    ...     TestOutcome("openstack.tests.functional.compute.v2.test_keypair.TestKeypair.test_find", "passed"),
    ...     TestOutcome("openstack.tests.functional.compute.v2.test_keypair.TestKeypair.test_get", "error",
    ...                 "NotFoundException: 404"),
    ... ))
    >>> run.counts()["compute/v2/test_keypair"]
    {'passed': 1, 'failed': 0, 'error': 1, 'skipped': 0}
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

import attrs

from cloudkit.lab import ADMIN_PASSWORD, PORTS
from cloudkit.lab._admin import LabAdmin
from cloudkit.lab._configs import keystone_url
from cloudkit.testing.fakes.openstack import OpenStackFake

__all__ = [
    "FIDELITY_MODULES",
    "ISSUE_MODULES",
    "TargetRun",
    "TestOutcome",
    "compare",
    "fake_behind",
    "fetch_functional_tests",
    "known_gaps",
    "lab_tenants",
    "main",
    "parse_subunit",
    "run_target",
    "serve_fake",
]

ISSUE_MODULES: tuple[str, ...] = (
    "compute/v2/test_flavor",
    "compute/v2/test_keypair",
    "compute/v2/test_server",
    "compute/v2/test_volume_attachment",
    "block_storage/v3/test_volume",
    "block_storage/v3/test_snapshot",
    "block_storage/v3/test_type",
    *(
        f"image/v2/test_{name}"
        for name in (
            "image",
            "member",
            "metadef_namespace",
            "metadef_object",
            "metadef_property",
            "metadef_resource_type",
            "metadef_schema",
            "schema",
            "task",
        )
    ),
    "cloud/test_compute",
    "cloud/test_block_storage",
    "cloud/test_image",
)
"""The first measured set (111 tests in openstacksdk 4.22): compute flavors, keypairs, servers and
volume attachments, block storage volumes, snapshots and types, all of image v2, and the cloud layer's
compute, block storage and image tests."""

FIDELITY_MODULES: tuple[str, ...] = (
    *ISSUE_MODULES[:4],
    *(
        f"compute/v2/test_{name}"
        for name in ("image", "limits", "quota_set", "hypervisor", "service", "extension")
    ),
    *ISSUE_MODULES[4:7],
    *(
        f"block_storage/v3/test_{name}"
        for name in (
            "attachment",
            "availability_zone",
            "backup",
            "block_storage_summary",
            "capabilities",
            "default_type",
            "extension",
            "group",
            "limits",
            "quota_set",
            "resource_filters",
            "service",
            "transfer",
        )
    ),
    *ISSUE_MODULES[7:],
)
"""The functional test modules run, relative to ``openstack/tests/functional``: `ISSUE_MODULES` and
every other compute v2 module that needs no Neutron and every block storage v3 module."""

Status = Literal["passed", "failed", "error", "skipped"]
STATUSES: tuple[Status, ...] = ("passed", "failed", "error", "skipped")
_PREFIX = "openstack.tests.functional."
_SUBUNIT_STATUS: dict[str, Status] = {
    "success": "passed",
    "xfail": "passed",
    "skip": "skipped",
    "fail": "failed",
    "uxsuccess": "failed",
}
_ASSERTION = re.compile(r"^(\w+\.)*(AssertionError|MismatchError)\b")
# Upstream's tox sets a 600 s limit per test (oslotest's own default is 5 s, which a real cloud misses
# while it boots a server) and waits up to 300 s per resource; a cloud that never gets there should
# cost less here, and the lab's slowest test takes about 20 s.
_TEST_SECONDS = "180"
_WAIT_SECONDS = "60"
_FOLDER_SECONDS = 1800  # a folder whose tests all hang still ends (each test has its own limit too)
# The same image on both targets (the fake seeds cirros as qcow2, the lab as raw, so the suite's own
# choice would differ); the flavor is the suite's choice, m1.tiny on both.
_IMAGE = "cirros-0.6.2"
_DEMO_USERS = (("devstack", "demo", "demo-fidelity-pass"), ("devstack-alt", "alt_demo", "alt-fidelity-pass"))


@attrs.frozen
class TestOutcome:
    """One functional test's outcome: its full id, ``status``, and for a non-pass the last line said.

    Example:
        >>> TestOutcome("openstack.tests.functional.cloud.test_image.TestImage.test_create", "failed").module
        'cloud/test_image'
    """

    __test__ = False  # not a pytest test class, whatever its name

    test_id: str
    status: Status
    detail: str = ""

    @property
    def module(self) -> str:
        """The module, as in `FIDELITY_MODULES` (an unloadable module keeps its dotted name)."""
        dotted = self.test_id.removeprefix(_PREFIX)
        parts = dotted.split(".")
        return "/".join(parts[:-2])  # the last two are the class and the method


@attrs.frozen
class TargetRun:
    """Every outcome of one target (``fake`` or ``lab``).

    Example:
        >>> TargetRun("lab", ()).counts()
        {}
    """

    target: str
    outcomes: tuple[TestOutcome, ...]

    def counts(self) -> dict[str, dict[Status, int]]:
        """Per module: how many tests ended in each status (modules in `FIDELITY_MODULES` order)."""
        table: dict[str, dict[Status, int]] = {}
        for outcome in sorted(self.outcomes, key=_module_order):
            row = table.setdefault(outcome.module, dict.fromkeys(STATUSES, 0))
            row[outcome.status] += 1
        return table

    def to_json(self) -> str:
        """Every outcome as JSON (``DIR/<target>.json``)."""
        return json.dumps(
            {"target": self.target, "outcomes": [attrs.asdict(o) for o in self.outcomes]}, indent=1
        )


def _module_order(outcome: TestOutcome) -> tuple[int, str]:
    module = outcome.module
    rank = FIDELITY_MODULES.index(module) if module in FIDELITY_MODULES else len(FIDELITY_MODULES)
    return rank, outcome.test_id


# ---------------------------------------------------------------------------------- the tests themselves
def fetch_functional_tests(cache_dir: Path, version: str | None = None) -> Path:
    """The root of openstacksdk's sdist for ``version`` (default: the installed one), fetched once.

    The sdist comes from the package index pip is configured with; its ``openstack/tests/functional``
    is what runs. Cached in ``cache_dir``.

    Example (not run here: it downloads)::

        root = fetch_functional_tests(Path("~/.cache/cloudkit-fidelity").expanduser())
        (root / "openstack/tests/functional/base.py").exists()   # True
    """
    version = version or metadata.version("openstacksdk")
    root = cache_dir / f"openstacksdk-{version}"
    if (root / "openstack" / "tests" / "functional" / "base.py").exists():
        return root
    cache_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache_dir) as download:
        pip = (sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:")
        subprocess.run(  # noqa: S603 (this interpreter's pip, our own arguments)
            [*pip, "-d", download, f"openstacksdk=={version}"],
            check=True,
        )
        (archive,) = Path(download).glob("openstacksdk-*.tar.gz")
        with tarfile.open(archive) as tar:
            tar.extractall(download, filter="data")
        shutil.move(str(Path(download) / f"openstacksdk-{version}"), root)
    return root


def run_target(
    sdk_root: Path,
    clouds: dict[str, Any],
    target: str,
    *,
    modules: Sequence[str] = FIDELITY_MODULES,
    say: Callable[[str], None] = lambda _line: None,
) -> TargetRun:
    """Run ``modules`` with stestr, serially, against the clouds of a ``clouds.yaml`` document.

    One stestr run per test folder (a run of the whole functional tree would import every service's
    tests); ``say`` gets a line per module as its folder finishes.

    Example (not run here: it runs the suite)::

        with serve_fake() as clouds:
            run = run_target(fetch_functional_tests(cache), clouds, "fake")
    """
    outcomes: list[TestOutcome] = []
    folders: dict[str, list[str]] = {}
    for module in modules:
        folder, _, name = module.rpartition("/")
        folders.setdefault(folder, []).append(name)
    with tempfile.TemporaryDirectory() as work:
        config = Path(work) / "clouds.yaml"
        config.touch(mode=0o600)  # it holds the clouds' passwords
        config.write_text(json.dumps(clouds))  # JSON is YAML
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OS_", "OPENSTACKSDK_"))}
        env |= {
            "OS_CLIENT_CONFIG_FILE": str(config),
            "OS_TEST_TIMEOUT": _TEST_SECONDS,
            "OPENSTACKSDK_FUNC_TEST_TIMEOUT": _WAIT_SECONDS,
            "OPENSTACKSDK_IMAGE": _IMAGE,
        }
        for folder, names in folders.items():
            started = time.monotonic()
            found = _run_folder(sdk_root, env, folder, names)
            outcomes.extend(found)
            run = TargetRun(target, tuple(found))
            for module, row in run.counts().items():
                summary = ", ".join(f"{row[s]} {s}" for s in STATUSES if row[s])
                say(f"{target:4} {module:38} {summary}")
            say(f"{target:4} {folder}: {time.monotonic() - started:.0f} s")
    return TargetRun(target, tuple(outcomes))


def _run_folder(sdk_root: Path, env: dict[str, str], folder: str, names: list[str]) -> list[TestOutcome]:
    """One stestr run of a folder's chosen modules; a module that reported nothing is one error."""
    dotted = _PREFIX + folder.replace("/", ".")
    pattern = rf"^{re.escape(dotted)}\.({'|'.join(names)})\."
    where = ("--test-path", f"./openstack/tests/functional/{folder}", "--top-dir", "./")
    try:
        stream = subprocess.run(  # noqa: S603 (this interpreter's stestr, our own arguments)
            [sys.executable, "-m", "stestr", *where, "run", "--serial", "--subunit", pattern],
            cwd=sdk_root,
            env=env,
            capture_output=True,
            check=False,
            timeout=_FOLDER_SECONDS,
        )
        found, why = parse_subunit(stream.stdout), stream.stderr.decode(errors="replace")
    except subprocess.TimeoutExpired as late:  # what finished before the limit still counts
        found, why = parse_subunit(late.stdout or b""), f"the folder ran past {_FOLDER_SECONDS} s"
    reported = {o.module for o in found}
    last = why.strip().splitlines()[-1:] or ["no output"]
    missing = [name for name in names if f"{folder}/{name}" not in reported]
    return found + [TestOutcome(f"{dotted}.{name}.load.load", "error", last[0]) for name in missing]


def parse_subunit(stream: bytes) -> list[TestOutcome]:
    """The outcomes in a subunit v2 stream (``stestr run --subunit``); listed-only entries are dropped.

    Example:
        >>> parse_subunit(b"")
        []
    """
    # Imported here: they come with the [fidelity] extra, not with cloudkit itself.
    import subunit  # type: ignore[import-untyped]  # noqa: PLC0415 (python-subunit ships no types)
    import testtools  # noqa: PLC0415

    tests: list[Any] = []
    result = testtools.StreamToDict(tests.append)
    result.startTestRun()
    subunit.ByteStreamToStreamResult(io.BytesIO(stream), non_subunit_name="stdout").run(result)
    result.stopTestRun()
    outcomes = []
    for test in tests:
        status = _SUBUNIT_STATUS.get(test["status"])
        if status is None:  # "exists" (listed only), "inprogress" (the stream was cut)
            continue
        detail = _last_line(test["details"])
        if status == "failed" and not _ASSERTION.match(detail):
            status = "error"
        outcomes.append(TestOutcome(test["id"], status, detail if status != "passed" else ""))
    return outcomes


def _last_line(details: dict[str, Any]) -> str:
    for name in ("traceback", "reason"):
        if name in details:
            lines = [line for line in details[name].as_text().splitlines() if line.strip()]
            if lines:
                return str(lines[-1]).strip()[:300]
    return ""


# ---------------------------------------------------------------------------------- the targets
def _cloud(auth_url: str, username: str, password: str, project: str) -> dict[str, Any]:
    auth = {
        "auth_url": auth_url,
        "username": username,
        "password": password,
        "project_name": project,
        "user_domain_id": "default",
        "project_domain_id": "default",
    }
    return {"auth": auth, "identity_api_version": "3", "region_name": "RegionOne"}


def _clouds(auth_url: str, admin_password: str) -> dict[str, Any]:
    clouds = {name: _cloud(auth_url, user, password, user) for name, user, password in _DEMO_USERS}
    for name in ("devstack-admin", "devstack-system-admin"):
        clouds[name] = _cloud(auth_url, "admin", admin_password, "admin")
    return {"clouds": clouds}


@contextlib.contextmanager
def serve_fake() -> Iterator[dict[str, Any]]:
    """The OpenStack fake on loopback with devstack's users; yields the ``clouds.yaml`` document.

    Example:
        >>> with serve_fake() as clouds:
        ...     sorted(clouds["clouds"]), clouds["clouds"]["devstack"]["auth"]["username"]
        (['devstack', 'devstack-admin', 'devstack-alt', 'devstack-system-admin'], 'demo')
    """
    fake = OpenStackFake()
    for _name, user, password in _DEMO_USERS:
        fake.add_user(user, password, project=user)
    with fake:
        yield _clouds(fake.auth_url, fake.admin.password)


@contextlib.contextmanager
def lab_tenants() -> Iterator[dict[str, Any]]:
    """Fresh ``demo`` and ``alt_demo`` tenants on the running lab; yields ``clouds.yaml``.

    After the run the tenants are purged and the seeded images get their OS metadata back.

    Example (not run here: it needs `cloudkit lab up`)::

        with lab_tenants() as clouds:
            run = run_target(root, clouds, "lab")
    """
    admin = LabAdmin(PORTS)
    try:
        for _name, user, password in _DEMO_USERS:
            admin.purge_project(user, user)
            admin.create_tenant(user, user, password)
        yield _clouds(f"{keystone_url(PORTS)}/v3", ADMIN_PASSWORD)
    finally:
        for _name, user, _password in _DEMO_USERS:
            admin.purge_project(user, user)
        admin.restore_seed_images()  # the suite strips an image's metadata through Nova
        admin.close()


# ---------------------------------------------------------------------------------- the report
def compare(runs: Sequence[TargetRun]) -> str:
    """The Markdown report: a row per module with each target's counts, then what passes on only one.

    Example:
        >>> ok = TestOutcome("openstack.tests.functional.cloud.test_image.TestImage.test_a", "passed")
        >>> bad = attrs.evolve(ok, status="error", detail="NotFoundException: 404")
        >>> print(compare([TargetRun("lab", (ok,)), TargetRun("fake", (bad,))]))
        | module | lab: passed / failed / error / skipped | fake: passed / failed / error / skipped |
        |---|---|---|
        | cloud/test_image | 1 / 0 / 0 / 0 | 0 / 0 / 1 / 0 |
        | **total** | 1 / 0 / 0 / 0 | 0 / 0 / 1 / 0 |
        <BLANKLINE>
        Passes on lab, not on fake (1):
        - `cloud.test_image.TestImage.test_a` (fake: error: NotFoundException: 404)
    """
    counts = [run.counts() for run in runs]
    modules = sorted({m for table in counts for m in table}, key=lambda m: (_rank(m), m))
    header = " | ".join(f"{run.target}: passed / failed / error / skipped" for run in runs)
    lines = [f"| module | {header} |", "|---" * (len(runs) + 1) + "|"]
    zero = dict.fromkeys(STATUSES, 0)
    for module in modules:
        cells = " | ".join(_cell(table.get(module, zero)) for table in counts)
        lines.append(f"| {module} | {cells} |")
    totals = [{s: sum(row[s] for row in table.values()) for s in STATUSES} for table in counts]
    lines.append("| **total** | " + " | ".join(_cell(t) for t in totals) + " |")
    for one, other in ((a, b) for a in runs for b in runs if a is not b):
        theirs = {o.test_id: o for o in other.outcomes}
        only = [
            o for o in one.outcomes if o.status == "passed" and theirs.get(o.test_id, o).status != "passed"
        ]
        if not only:
            continue
        lines += ["", f"Passes on {one.target}, not on {other.target} ({len(only)}):"]
        for outcome in sorted(only, key=_module_order):
            theirs_now = theirs.get(outcome.test_id)
            why = f"{theirs_now.status}: {theirs_now.detail}" if theirs_now else "not run"
            lines.append(f"- `{outcome.test_id.removeprefix(_PREFIX)}` ({other.target}: {why})")
    return "\n".join(lines)


def _rank(module: str) -> int:
    return FIDELITY_MODULES.index(module) if module in FIDELITY_MODULES else len(FIDELITY_MODULES)


def _cell(row: dict[Status, int]) -> str:
    return " / ".join(str(row[s]) for s in STATUSES)


def known_gaps(path: Path) -> dict[str, str]:
    r"""The tests the fake is known not to pass while the lab does: ``test id  # why`` per line.

    Ids are written without ``openstack.tests.functional.``; blank lines and ``#`` lines are comments.

    Example:
        >>> import tempfile
        >>> with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
        ...     _ = f.write("# header\ncloud.test_compute.TestCompute.test_x  # needs Neutron\n")
        >>> known_gaps(Path(f.name))
        {'openstack.tests.functional.cloud.test_compute.TestCompute.test_x': 'needs Neutron'}
    """
    gaps = {}
    for line in path.read_text().splitlines():
        test_id, _, why = line.partition("#")
        if test_id.strip():
            gaps[_PREFIX + test_id.strip()] = why.strip()
    return gaps


def fake_behind(lab: TargetRun, fake: TargetRun, gaps: dict[str, str]) -> tuple[list[str], list[str]]:
    """Tests that pass on the lab and not on the fake and are not known gaps; known gaps the fake passes.

    Example:
        >>> ok = TestOutcome("openstack.tests.functional.cloud.test_image.TestImage.test_a", "passed")
        >>> bad = attrs.evolve(ok, status="error")
        >>> fake_behind(TargetRun("lab", (ok,)), TargetRun("fake", (bad,)), {})
        (['openstack.tests.functional.cloud.test_image.TestImage.test_a'], [])
        >>> fake_behind(TargetRun("lab", (ok,)), TargetRun("fake", (ok,)), {ok.test_id: "was missing"})
        ([], ['openstack.tests.functional.cloud.test_image.TestImage.test_a'])
    """
    fake_status = {o.test_id: o.status for o in fake.outcomes}
    behind = [
        o.test_id
        for o in lab.outcomes
        if o.status == "passed" and fake_status.get(o.test_id) != "passed" and o.test_id not in gaps
    ]
    closed = [test_id for test_id in gaps if fake_status.get(test_id) == "passed"]
    return behind, closed


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m cloudkit.testing.fidelity``: run the suite on a target or both, write the report.

    With ``--target both``, exit status 1 when a test passes on the lab and not on the fake and is not
    in ``--known-gaps``; known gaps the fake now passes are listed (to be deleted from the file).

    Example (not run here: it runs the suite)::

        main(["--target", "both", "--out", "fidelity-report", "--known-gaps", ".ci/fidelity-known-gaps.txt"])
    """
    parser = argparse.ArgumentParser(
        prog="python -m cloudkit.testing.fidelity", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--target", choices=("fake", "lab", "both"), default="fake")
    parser.add_argument("--out", type=Path, default=Path("fidelity-report"), help="report folder")
    parser.add_argument(
        "--cache",
        type=Path,
        default=Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "cloudkit-fidelity",
        help="where openstacksdk's sdist is kept",
    )
    parser.add_argument("--module", action="append", dest="modules", help="only this module (repeatable)")
    parser.add_argument(
        "--known-gaps", type=Path, help="tests the fake is known not to pass (see known_gaps)"
    )
    args = parser.parse_args(argv)
    modules = tuple(args.modules or FIDELITY_MODULES)

    def say(line: str) -> None:
        print(line, flush=True)  # noqa: T201 (progress of a long command)

    root = fetch_functional_tests(args.cache)
    say(f"openstacksdk {metadata.version('openstacksdk')} functional tests from {root}")
    args.out.mkdir(parents=True, exist_ok=True)
    runs = []
    targets = ("lab", "fake") if args.target == "both" else (args.target,)
    for target in targets:
        with lab_tenants() if target == "lab" else serve_fake() as clouds:
            run = run_target(root, clouds, target, modules=modules, say=say)
        (args.out / f"{target}.json").write_text(run.to_json())
        runs.append(run)
    report = compare(runs)
    (args.out / "report.md").write_text(report + "\n")
    say(report)
    if len(runs) != 2:  # noqa: PLR2004 (lab and fake)
        return 0
    behind, closed = fake_behind(runs[0], runs[1], known_gaps(args.known_gaps) if args.known_gaps else {})
    for test_id in closed:
        say(f"known gap closed (delete it from {args.known_gaps}): {test_id.removeprefix(_PREFIX)}")
    for test_id in behind:
        say(f"the fake is behind the lab, and this is not a known gap: {test_id.removeprefix(_PREFIX)}")
    return 1 if behind else 0


if __name__ == "__main__":
    sys.exit(main())
