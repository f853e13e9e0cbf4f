"""The ``cloudkit`` command as a whole: ``python -m``, true help, exit codes, ``--json`` and progress."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Self

import pytest
import yaml

from cloudkit import cli
from cloudkit._cli_progress import Progress
from cloudkit.cli import EXIT_FINDINGS, EXIT_OK, EXIT_USAGE, build_parser, main
from cloudkit.errors import ConfigError, InvalidArgumentError, NotFoundError

ROOT = Path(__file__).resolve().parents[2]


def test_python_dash_m_is_the_cloudkit_command():
    done = subprocess.run(
        [sys.executable, "-m", "cloudkit", "--help"], capture_output=True, text=True, check=False, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: cloudkit ")
    assert "exit status:" in done.stdout
    assert "2  usage or configuration" in done.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "cloudkit", "no-such-command"], capture_output=True, text=True, check=False
    )
    assert bad.returncode == EXIT_USAGE
    assert bad.stderr.startswith("usage: cloudkit ")


def _help(*argv: str, capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as exit_info:
        main([*argv, "--help"])
    assert exit_info.value.code == 0
    return " ".join(capsys.readouterr().out.split())


def test_help_says_what_each_command_does_today(capsys):
    top = _help(capsys=capsys)
    assert "billing, OpenStack, Tungsten Fabric, portal session and lifecycle stories" in top
    assert "openstack: from the lab" in top
    commands = build_parser()._subparsers._group_actions[0].choices
    for name in commands:
        assert _help(name, capsys=capsys).startswith(f"usage: cloudkit {name}")
    assert "--seed FILE" in _help("sim", capsys=capsys)
    assert "--population-seed N" in _help("sim", capsys=capsys)


# ------------------------------------------------------------------------------ exit codes
def test_usage_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["lab", "sideways"])
    assert exit_info.value.code == EXIT_USAGE
    with pytest.raises(SystemExit) as exit_info:
        main(["quirks", "--bogus"])  # only record passes unknown arguments on (to pytest)
    assert exit_info.value.code == EXIT_USAGE
    assert "unrecognized arguments: --bogus" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (ConfigError("CLOUDKIT_X is not a URL", system="billing"), EXIT_USAGE),
        (InvalidArgumentError("'ab' starts 2 saga ids", system="lifecycle"), EXIT_USAGE),
        (NotFoundError("no saga 'x'", system="lifecycle", status=404), EXIT_FINDINGS),
    ],
)
def test_cloudkit_errors_exit_by_class_with_the_message_and_no_traceback(monkeypatch, capsys, error, code):
    def fail(*_args: object, **_kwargs: object) -> int:
        raise error

    monkeypatch.setattr(cli, "run_drift", fail)
    assert main(["drift", "a", "b"]) == code
    err = capsys.readouterr().err
    assert err == f"cloudkit: {type(error).__name__}: {error}\n"


def test_findings_exit_1_and_clean_exits_0(tmp_path, capsys):
    a = _cassette(tmp_path / "a" / "c.yaml", "ACTIVE")
    b = _cassette(tmp_path / "b" / "c.yaml", "SHUTOFF")
    assert main(["drift", str(a), str(a)]) == EXIT_OK
    assert main(["drift", str(a), str(b)]) == EXIT_FINDINGS
    assert main(["lab", "status", "--home", str(tmp_path)]) == EXIT_FINDINGS  # nothing runs there
    capsys.readouterr()


# ------------------------------------------------------------------------------ --json
def _cassette(path: Path, status: str) -> Path:
    reply = {
        "status": {"code": 200, "message": ""},
        "headers": {},
        "body": {"string": json.dumps({"s": status})},
    }
    request = {"method": "GET", "uri": "http://h:81/servers/7", "body": None, "headers": {}}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump({"interactions": [{"request": request, "response": reply}], "version": 1}))
    return path


def test_drift_json(tmp_path, capsys):
    a = _cassette(tmp_path / "a.yaml", "ACTIVE")
    b = _cassette(tmp_path / "b.yaml", "SHUTOFF")
    assert main(["drift", str(a), str(a), "--json"]) == EXIT_OK
    assert json.loads(capsys.readouterr().out) == {"drift": False, "count": 0, "differences": []}
    assert main(["drift", str(a), str(b), "--json"]) == EXIT_FINDINGS
    document = json.loads(capsys.readouterr().out)
    assert (document["drift"], document["count"]) == (True, 1)
    (difference,) = document["differences"]
    assert (difference["kind"], difference["field"], difference["after"]) == ("changed", "$.s", "'SHUTOFF'")


def test_quirks_json(capsys):
    assert main(["quirks", "--json"]) == EXIT_OK
    quirks = json.loads(capsys.readouterr().out)
    ids = [q["id"] for q in quirks]
    assert ids == sorted(ids)
    assert "billing.silent-ok" in ids
    assert set(quirks[0]) == {"id", "system", "summary", "handling", "evidence", "sources"}


def test_lab_status_json(tmp_path, capsys):
    assert main(["lab", "status", "--home", str(tmp_path), "--json"]) == EXIT_FINDINGS
    captured = capsys.readouterr()
    document = json.loads(captured.out)
    assert document["all_up"] is False
    assert document["lab"] is None
    names = [s["name"] for s in document["services"]]
    assert {"mariadb", "keystone", "nova-compute"} <= set(names)
    assert set(document["services"][0]) == {"name", "alive", "pid", "port", "listening"}
    assert captured.err == ""


# ------------------------------------------------------------------------------ progress
class _Pytest:
    """What ``subprocess.Popen`` gives ``record``: a pytest that prints two verbose test lines."""

    returncode = 0

    def __init__(self, command: list[str], **_options: object) -> None:
        self.command = command
        self.stdout = io.StringIO(
            "collected 2 items\nt.py::test_a[cassette] PASSED [ 50%]\n"
            "t.py::test_b[cassette] PASSED [100%]\n2 passed\n"
        )

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        return None


def test_record_counts_tests_on_stderr_with_progress(monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    started: list[_Pytest] = []

    def popen(command: list[str], **_options: object) -> _Pytest:
        started.append(_Pytest(command))
        return started[-1]

    monkeypatch.setattr(cli.subprocess, "Popen", popen)
    assert main(["record", "billing", "--progress", "-k", "payment"]) == EXIT_OK
    (pytest_run,) = started
    assert "-v" in pytest_run.command
    assert "-q" not in pytest_run.command
    captured = capsys.readouterr()
    assert "record billing: [" in captured.err
    assert "tests 2/2" in captured.err
    assert "PASSED t.py::test_b[cassette]" in captured.err
    assert "2 passed" in captured.out
    assert "test_a" not in captured.out


def test_lab_phases_go_through_one_progress_display(monkeypatch, tmp_path):
    err = io.StringIO()
    phases: list[str] = []

    class _Lab:
        def __init__(self, home: Path | None, *, say) -> None:
            self.home, self.say = home, say

        def install(self, *, rebuild: bool) -> None:
            self.say("nova venv built in 30 s (1/2)")
            phases.append(f"install rebuild={rebuild}")

    monkeypatch.setattr("cloudkit.lab.Lab", _Lab)
    progress = Progress(err, "lab install", clock=lambda: 0.0)
    code = cli.run_lab("install", home=tmp_path, fresh=False, rebuild=False, progress=progress)
    assert (code, phases) == (EXIT_OK, ["install rebuild=False"])
    assert err.getvalue() == "lab install: [   0.0s] nova venv built in 30 s (1/2)\n"


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_on_a_terminal_the_counter_is_rewritten_in_place_and_cleared():
    screen = _Terminal()
    progress = Progress(screen, "sweep", clock=lambda: 2.0)
    progress.count("accounts", 500)
    progress.count("accounts", 1000)
    progress.phase("accounts read")
    progress.close()
    text = screen.getvalue()
    assert text.startswith("\rsweep: [   0.0s] accounts 500")
    assert "\rsweep: [   0.0s] accounts 1,000" in text
    assert text.endswith("\rsweep: [   0.0s] accounts read\n")  # the counter was wiped first
    assert "\n" not in text[: text.index("accounts read")]


def test_off_a_terminal_a_counter_line_at_most_once_a_second():
    log, now = io.StringIO(), [0.0]
    progress = Progress(log, "sweep", clock=lambda: now[0])
    for count in range(1, 6):
        now[0] += 0.4
        progress.count("accounts", count * 100)
    assert [line.split()[-1] for line in log.getvalue().splitlines()] == ["100", "400"]  # at 0.4 s and 1.6 s


def test_a_reader_that_leaves_early_is_no_traceback(monkeypatch, capsys):
    def reader_gone(*_args: object, **_kwargs: object) -> int:
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(cli, "run_drift", reader_gone)
    assert main(["drift", "a", "b"]) == EXIT_FINDINGS
    assert capsys.readouterr().err == ""
