"""Safe recording whatever vcr_config is in force; cassette sources; a light plugin import."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from cloudkit.testing import (
    CASSETTE_SOURCES,
    CassetteSecretError,
    GuardedPersister,
    SecretRegistry,
    cassette_source,
)

ROOT = Path(__file__).resolve().parents[3]
SRC = ROOT / "src"

ADMIN_PASSWORD = "Unl1sted-Adm1n-Pw"  # not one of the fake's published credentials: learned by name only
NEW_PASSWORD = "N3w-Alice-Passw0rd"
TOKENS = ("gAAAAA-subject-token-1", "gAAAAA-service-token-2", "gAAAAA-token-method-3", "bearer-token-4")

DOWNSTREAM_TEST = """
import httpx
import pytest

from cloudkit.billing import BillingClient, BillingSettings
from cloudkit.testing.fakes import BillingFake


@pytest.mark.vcr
def test_login(tmp_path_factory):
    with BillingFake(admin_password={admin!r}) as fake:
        settings = BillingSettings(url=fake.url, username="admin", password={admin!r})
        with BillingClient(settings) as client:
            session = client.login().get_secret_value()
            assert client.list_accounts()
            client.as_user("alice").change_password({new!r})  # passwd=...&confirm=...
        # tokens issued elsewhere (never seen in a recorded reply), sent as a portal would send them
        subject, service, method, bearer = {tokens!r}
        with httpx.Client(trust_env=False) as http:
            http.get(fake.url, headers={{"X-Auth-Token": service, "X-Subject-Token": subject,
                                         "X-Service-Token": service, "Authorization": "Bearer " + bearer}})
            login = {{"identity": {{"methods": ["token"], "token": {{"id": method}}}}}}
            http.post(fake.url, json={{"auth": login}})
    with open({sid_file!r}, "w") as out:
        out.write(session)
"""


def _run_pytest(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLOUDKIT_", "PYTEST_"))}
    env.pop("CI", None)
    env["PYTHONPATH"] = os.pathsep.join([str(SRC), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly", *args],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_a_downstream_recording_without_any_conftest_holds_no_secret(tmp_path):
    project = tmp_path / "project"
    (project / "tests").mkdir(parents=True)
    sid_file = tmp_path / "session-id"
    test = DOWNSTREAM_TEST.format(
        sid_file=str(sid_file), admin=ADMIN_PASSWORD, new=NEW_PASSWORD, tokens=TOKENS
    )
    (project / "tests" / "test_balance.py").write_text(textwrap.dedent(test))
    assert not list(project.rglob("conftest.py"))

    done = _run_pytest(project, "--record-mode=once", "tests")

    assert done.returncode == 0, done.stdout + done.stderr
    cassettes = list(project.rglob("*.yaml"))
    assert len(cassettes) == 1, cassettes
    text = cassettes[0].read_text()
    session = sid_file.read_text()
    assert len(session) >= 8
    assert "func=auth" in text  # the login was recorded ...
    assert ADMIN_PASSWORD not in text  # ... without the password
    assert NEW_PASSWORD not in text  # ... or the new one (passwd and confirm)
    assert session not in text  # ... or the session id, in requests and replies
    for token in TOKENS:  # ... or a token in a header or a Keystone token-method body
        assert token not in text, token
    assert cassette_source(text) == "fake"  # loopback only: stamped as a fake recording
    assert yaml.safe_load(text)["interactions"]


def test_the_plugin_does_not_import_openstack_the_lab_or_other_stacks():
    # issue 15: the plugin imports a system (and its fake) only when a test asks for its fixtures
    heavy = [
        "openstack",
        "cloudkit.billing",
        "cloudkit.testing.fakes.billing",
        "cloudkit.testing.fakes.openstack",
        "cloudkit.testing.fakes.tungsten",
        "keystoneauth1",
        "cloudkit.lab",
        "cloudkit.openstack",
        "cloudkit.session",
        "cloudkit.tungsten",
        "cloudkit.platform",
        "cloudkit.testing._proxy",
    ]
    code = (
        "import sys, cloudkit.testing.plugin\n"
        f"loaded = [m for m in {heavy!r} if m in sys.modules]\n"
        "assert not loaded, loaded\n"
    )
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr


def test_lazy_names_of_cloudkit_still_resolve():
    import cloudkit

    assert "billing.silent-ok" in cloudkit.QUIRKS
    assert any(q.startswith("openstack.") for q in cloudkit.QUIRKS)  # reading QUIRKS loads every system
    assert cloudkit.Platform.__name__ == "Platform"
    with pytest.raises(AttributeError):
        _ = cloudkit.no_such_name


@pytest.mark.parametrize("path", sorted((ROOT / "cassettes").rglob("*.yaml")), ids=lambda p: p.stem)
def test_every_checked_in_cassette_names_its_source(path):
    text = path.read_text()
    source = cassette_source(text)
    # OpenStack cassettes come from the lab's real services; so does the session's Keystone one.
    from_lab = path.parent.name == "openstack" or path.stem == "for_session_keystone__portal"
    expected = "lab" if from_lab else "fake"
    assert source == expected
    assert yaml.safe_load(text)["source"] == source
    assert text.startswith("# recorded against: ")


def test_cassette_source_refuses_a_cassette_without_one():
    with pytest.raises(ValueError, match="names no source"):
        cassette_source("interactions: []\n")
    with pytest.raises(ValueError, match="unknown cassette source"):
        cassette_source("source: somewhere\n")
    assert cassette_source('{"source": "live", "interactions": []}') == "live"
    assert CASSETTE_SOURCES == ("fake", "lab", "live")


def _cassette(uri: str) -> dict:
    response = {"status": {"code": 200, "message": "OK"}, "headers": {}, "body": {"string": "ok"}}
    from vcr.request import Request

    return {"requests": [Request("GET", uri, None, {})], "responses": [response]}


def test_guarded_persister_stamps_and_guesses_the_source(tmp_path):
    from vcr.serializers import yamlserializer

    persister = GuardedPersister(SecretRegistry(["hunter2"]), recorded_against="somewhere")
    persister.save_cassette(tmp_path / "a.yaml", _cassette("http://127.0.0.1:9/x"), yamlserializer)
    persister.save_cassette(tmp_path / "b.yaml", _cassette("https://billing.example/x"), yamlserializer)
    assert cassette_source((tmp_path / "a.yaml").read_text()) == "fake"
    assert cassette_source((tmp_path / "b.yaml").read_text()) == "live"
    requests, _ = persister.load_cassette(tmp_path / "a.yaml", yamlserializer)
    assert requests[0].uri == "http://127.0.0.1:9/x"  # vcrpy loads it, header and all
    with pytest.raises(CassetteSecretError):
        persister.save_cassette(tmp_path / "c.yaml", _cassette("http://h/?x=hunter2"), yamlserializer)
    assert not (tmp_path / "c.yaml").exists()


def test_the_lab_admin_header_is_spelled_as_the_lab_spells_it():
    from cloudkit.lab._admin import LAB_ADMIN_HEADER
    from cloudkit.testing._cassettes import _LAB_ADMIN_HEADER

    assert LAB_ADMIN_HEADER.lower() == _LAB_ADMIN_HEADER


@pytest.mark.parametrize(
    ("system", "absent"),
    [
        ("cloudkit.billing", ["openstack", "cloudkit.openstack", "cloudkit.tungsten", "cloudkit.session"]),
        ("cloudkit.tungsten", ["openstack", "cloudkit.openstack", "cloudkit.billing", "cloudkit.session"]),
        ("cloudkit.testing.fakes.billing", ["openstack", "cloudkit.testing.fakes.openstack"]),
    ],
)
def test_importing_one_system_imports_only_what_it_needs(system, absent):
    code = (
        f"import sys, {system}\n"
        f"loaded = [m for m in {absent!r} if m in sys.modules]\n"
        "assert not loaded, loaded\n"
    )
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
