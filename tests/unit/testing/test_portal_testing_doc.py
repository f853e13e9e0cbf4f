"""docs/portal-testing.md, run as a stranger would: its files (``# file:`` blocks) in an empty project,
recorded against the fakes, replayed with every fake off under ``-W error`` and ``CI`` set, recorded again
without a diff.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
PAGE = ROOT / "docs" / "portal-testing.md"
_FILE = re.compile(r"```(?:python|toml)\n# file: (?P<name>\S+)\n(?P<body>.*?)```", re.DOTALL)


def _files() -> dict[str, str]:
    return {m["name"]: m["body"] for m in _FILE.finditer(PAGE.read_text())}


def _pytest(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLOUDKIT_", "PYTEST_"))}
    env["CI"] = "1"  # a downstream CI: must not drag in a lab
    env["CLOUDKIT_LAB_HOME"] = str(folder / "no-lab")
    # cloudkit itself only: the project's own folder reaches sys.path through the page's pyproject.toml
    # (pythonpath), as it does for a stranger running plain `pytest`, so a page without it fails here
    env["PYTHONPATH"] = str(ROOT / "src")
    return subprocess.run(
        [
            sys.executable,
            "-P",  # as the `pytest` script runs: the working directory is not put on sys.path
            "-m",
            "pytest",
            "-W",
            "error",
            "-q",
            "-rs",
            "-p",
            "no:cacheprovider",
            *args,
            "tests",
        ],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_page_walks_from_an_empty_project_to_replayed_tests(tmp_path):
    files = _files()
    assert set(files) == {"portal.py", "tests/test_dashboard.py", "pyproject.toml"}
    for name, body in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(body)

    recorded = _pytest(tmp_path, "--record-mode=once")
    assert recorded.returncode == 0, recorded.stdout + recorded.stderr
    cassettes = {p.relative_to(tmp_path): p.read_bytes() for p in sorted(tmp_path.rglob("*.yaml"))}
    assert {str(p) for p in cassettes} == {
        "tests/cassettes/test_dashboard/test_a_new_customer_sees_her_balance_and_nothing_else[replay].yaml",
        "tests/cassettes/test_dashboard/test_nova_refusing_the_listing_is_a_typed_error[replay].yaml",
    }
    assert all(b"carol-pass" not in data for data in cassettes.values())

    replayed = _pytest(tmp_path)  # [replay] from the cassettes, [fake] live; [lab] skips
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr
    assert "4 passed" in replayed.stdout, replayed.stdout

    again = _pytest(tmp_path, "--record-mode=all", "-k", "replay")
    assert again.returncode == 0, again.stdout + again.stderr
    assert {p.relative_to(tmp_path): p.read_bytes() for p in sorted(tmp_path.rglob("*.yaml"))} == cassettes
