"""cloudkit drift: recordings compared field by field; cloudkit record --against a live deployment."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from cloudkit.cli import main
from cloudkit.testing import Drift, cassette_source, compare_recordings
from cloudkit.testing.fakes import BillingFake

ROOT = Path(__file__).resolve().parents[3]


def _write(path: Path, *replies: tuple[str, str, int, str]) -> Path:
    interactions = [
        {
            "request": {"method": method, "uri": uri, "body": None, "headers": {}},
            "response": {"status": {"code": status, "message": ""}, "headers": {}, "body": {"string": body}},
        }
        for method, uri, status, body in replies
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("source: fake\n" + yaml.safe_dump({"interactions": interactions, "version": 1}))
    return path


def test_same_answers_with_other_ids_times_and_ports_are_no_drift(tmp_path):
    a = _write(
        tmp_path / "a.yaml",
        (
            "GET",
            "http://h:1/servers/1",
            200,
            (
                '{"server": {"id": 1, "created": "2026-01-01T00:00:00Z", "href": "http://h:1/s/1", '
                '"note": "at http://h:1/x on 2026-01-01T00:00:00Z by 6f1c2a3e-0000-4000-8000-000000000001"}}'
            ),
        ),
    )
    b = _write(
        tmp_path / "b.yaml",
        (
            "GET",
            "http://h:2/servers/2",
            200,
            (
                '{"server": {"id": 2, "created": "2027-02-02T10:00:00Z", "href": "http://h:2/s/2", '
                '"note": "at http://h:2/x on 2027-02-02T10:00:00Z by 7f1c2a3e-0000-4000-8000-000000000002"}}'
            ),
        ),
    )
    assert compare_recordings(a, b) == []
    assert main(["drift", str(a), str(b)]) == 0


def test_changed_added_missing_fields_and_status(tmp_path, capsys):
    a = _write(
        tmp_path / "a.yaml",
        ("POST", "http://h/billmgr?func=account&out=json", 200, '{"doc": {"elem": [{"name": "x", "v": 1}]}}'),
        ("GET", "http://h/gone", 200, "plain"),
    )
    b = _write(
        tmp_path / "b.yaml",
        ("POST", "http://h/billmgr?func=account&out=json", 500, '{"doc": {"elem": [{"v": "1", "w": 2}]}}'),
    )
    drifts = compare_recordings(a, b)
    assert {(d.request, d.kind, d.field) for d in drifts} == {
        ("POST /billmgr func=account #1", "changed", "status"),
        ("POST /billmgr func=account #1", "missing", "$.doc.elem[0].name"),
        ("POST /billmgr func=account #1", "changed", "$.doc.elem[0].v"),
        ("POST /billmgr func=account #1", "added", "$.doc.elem[0].w"),
        ("GET /gone #1", "missing", "request"),
    }
    assert main(["drift", str(a), str(b)]) == 1
    out = capsys.readouterr().out
    assert "changed $.doc.elem[0].v: 1 -> '1'" in out
    assert out.endswith("5 differences in 1 cassettes\n")


def test_text_bodies_and_folders(tmp_path):
    _write(tmp_path / "a" / "x.yaml", ("GET", "http://h/t", 404, "no such thing"))
    _write(tmp_path / "a" / "only-a.yaml", ("GET", "http://h/t", 200, "{}"))
    _write(tmp_path / "b" / "x.yaml", ("GET", "http://h/t", 404, "not found"))
    _write(tmp_path / "b" / "only-b.yaml", ("GET", "http://h/t", 200, "{}"))
    drifts = compare_recordings(tmp_path / "a", tmp_path / "b")
    assert [(d.cassette, d.kind, d.field) for d in drifts] == [
        ("only-a.yaml", "missing", "cassette"),
        ("only-b.yaml", "added", "cassette"),
        ("x.yaml", "changed", "body"),
    ]
    assert str(Drift("x.yaml", "*", "added", "cassette")) == "x.yaml: *: added cassette"


def test_a_file_and_a_folder_are_refused(tmp_path, capsys):
    a = _write(tmp_path / "a.yaml", ("GET", "http://h/t", 200, "{}"))
    with pytest.raises(ValueError, match="two cassette files or two cassette folders"):
        compare_recordings(a, tmp_path)
    assert main(["drift", str(a), str(tmp_path)]) == 2
    assert "cloudkit drift:" in capsys.readouterr().err


def test_checked_in_cassettes_do_not_drift_from_themselves():
    assert compare_recordings(ROOT / "cassettes", ROOT / "cassettes") == []


def test_record_against_a_live_billing_writes_live_cassettes_without_secrets(tmp_path):
    """`cloudkit record billing --against URL`, with the fake standing in for a real deployment."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLOUDKIT_", "PYTEST_"))}
    env.pop("CI", None)
    env |= {
        "PYTHONPATH": str(ROOT / "src"),
        "CLOUDKIT_BILLING_USERNAME": "admin",
        "CLOUDKIT_BILLING_PASSWORD": "secret",
    }
    with BillingFake() as deployment:
        done = subprocess.run(  # our own interpreter and arguments
            [
                sys.executable,
                "-m",
                "cloudkit.cli",
                "record",
                "billing",
                "--against",
                deployment.url,
                "--into",
                str(tmp_path / "live"),
                "-k",
                "list_accounts__admin or list_services__wrapped_children",
                "-p",
                "no:randomly",
            ],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed, 1 skipped" in done.stdout  # the wrapped-children scenario needs the fake's switch
    recorded = tmp_path / "live" / "billing" / "list_accounts__admin.yaml"
    text = recorded.read_text()
    assert cassette_source(text) == "live"
    assert "secret" not in text.replace("REDACTED", "")
    assert "live deployment" in text.splitlines()[0]
    assert compare_recordings(ROOT / "cassettes" / "billing" / "list_accounts__admin.yaml", recorded) == []
