"""The fidelity runner: stestr as upstream runs it, outcomes read from subunit, the report."""

import textwrap

import pytest

from cloudkit.testing.fidelity import (
    FIDELITY_MODULES,
    ISSUE_MODULES,
    TargetRun,
    TestOutcome,
    compare,
    fake_behind,
    known_gaps,
    parse_subunit,
    run_target,
    serve_fake,
)

_SUITE = """
import json, os, unittest

class TestDemo(unittest.TestCase):
    def test_sees_devstack_clouds(self):
        with open(os.environ["OS_CLIENT_CONFIG_FILE"]) as f:
            clouds = json.load(f)["clouds"]
        self.assertEqual(clouds["devstack"]["auth"]["username"], "demo")
        self.assertEqual(os.environ["OPENSTACKSDK_IMAGE"], "cirros-0.6.2")

    def test_asserts(self):
        self.assertEqual(1, 2)

    def test_raises(self):
        raise RuntimeError("404 from the cloud")

    def test_skips(self):
        self.skipTest("Service network not found in cloud")
"""


@pytest.fixture
def sdk_root(tmp_path):
    """A tree shaped like openstacksdk's sdist, with one functional module of four tests."""
    folder = tmp_path / "openstack" / "tests" / "functional" / "compute" / "v2"
    folder.mkdir(parents=True)
    for package in (tmp_path / "openstack", *folder.parents):
        if package.is_relative_to(tmp_path / "openstack"):
            (package / "__init__.py").touch()
    (folder / "__init__.py").touch()
    (folder / "test_keypair.py").write_text(textwrap.dedent(_SUITE))
    (folder / "test_other.py").write_text(
        "import unittest\nclass T(unittest.TestCase):\n    def test_x(self): pass\n"
    )
    return tmp_path


def test_run_target_runs_only_the_chosen_modules_and_classifies_each_outcome(sdk_root):
    clouds = {"clouds": {"devstack": {"auth": {"username": "demo"}}}}
    lines = []
    run = run_target(sdk_root, clouds, "fake", modules=["compute/v2/test_keypair"], say=lines.append)
    by_name = {o.test_id.rpartition(".")[2]: o for o in run.outcomes}
    assert {name: o.status for name, o in by_name.items()} == {
        "test_sees_devstack_clouds": "passed",
        "test_asserts": "failed",
        "test_raises": "error",
        "test_skips": "skipped",
    }
    assert by_name["test_raises"].detail == "RuntimeError: 404 from the cloud"
    assert by_name["test_skips"].detail == "Service network not found in cloud"
    assert by_name["test_asserts"].detail.startswith("AssertionError")
    assert run.counts() == {"compute/v2/test_keypair": {"passed": 1, "failed": 1, "error": 1, "skipped": 1}}
    assert lines[0].split() == [
        "fake",
        "compute/v2/test_keypair",
        "1",
        "passed,",
        "1",
        "failed,",
        "1",
        "error,",
        "1",
        "skipped",
    ]


def test_a_folder_that_does_not_load_is_an_error_per_module_not_a_silent_zero(tmp_path):
    run = run_target(tmp_path, {"clouds": {}}, "lab", modules=["image/v2/test_image"])
    assert [(o.module, o.status) for o in run.outcomes] == [("image/v2/test_image", "error")]


def test_parse_subunit_drops_listed_only_entries():
    import subunit

    stream = __import__("io").BytesIO()
    out = subunit.StreamResultToBytes(stream)
    out.status(test_id="openstack.tests.functional.cloud.test_image.T.test_listed", test_status="exists")
    out.status(test_id="openstack.tests.functional.cloud.test_image.T.test_ok", test_status="success")
    assert parse_subunit(stream.getvalue()) == [
        TestOutcome("openstack.tests.functional.cloud.test_image.T.test_ok", "passed")
    ]


def test_compare_lists_what_passes_on_one_target_only_both_ways():
    ok = TestOutcome("openstack.tests.functional.compute.v2.test_flavor.TestFlavor.test_flavor", "passed")
    skip = TestOutcome(
        "openstack.tests.functional.cloud.test_compute.TestCompute.test_x", "skipped", "no net"
    )
    lab = TargetRun("lab", (ok, skip))
    fake = TargetRun("fake", (TestOutcome(ok.test_id, "error", "HttpException: 405"), skip))
    report = compare([lab, fake])
    assert "| compute/v2/test_flavor | 1 / 0 / 0 / 0 | 0 / 0 / 1 / 0 |" in report
    assert "| cloud/test_compute | 0 / 0 / 0 / 1 | 0 / 0 / 0 / 1 |" in report
    assert report.index("compute/v2/test_flavor") < report.index(
        "cloud/test_compute"
    )  # FIDELITY_MODULES order
    assert "Passes on lab, not on fake (1):" in report
    assert "Passes on fake" not in report
    assert "(fake: error: HttpException: 405)" in report


def test_known_gaps_excuse_only_what_they_name(tmp_path):
    gaps_file = tmp_path / "gaps.txt"
    gaps_file.write_text("# why each\n\ncompute.v2.test_flavor.TestFlavor.test_flavor  # flavors missing\n")
    ok = TestOutcome("openstack.tests.functional.compute.v2.test_flavor.TestFlavor.test_flavor", "passed")
    other = TestOutcome("openstack.tests.functional.compute.v2.test_keypair.TestKeypair.test_get", "passed")
    lab = TargetRun("lab", (ok, other))
    fake = TargetRun("fake", (TestOutcome(ok.test_id, "error"), TestOutcome(other.test_id, "failed")))
    assert fake_behind(lab, fake, known_gaps(gaps_file)) == ([other.test_id], [])


def test_the_fake_serves_devstacks_clouds_and_users_log_in():
    import openstack

    with serve_fake() as clouds:
        for name in ("devstack", "devstack-alt", "devstack-admin"):
            cloud = clouds["clouds"][name]
            conn = openstack.connect(auth=cloud["auth"], identity_api_version="3")
            assert conn.current_project.name == cloud["auth"]["project_name"]
            conn.close()


def test_the_module_list_holds_the_first_measured_set_once_each():
    assert len(ISSUE_MODULES) == 19
    assert sum(m.startswith("image/v2/") for m in ISSUE_MODULES) == 9
    assert len(FIDELITY_MODULES) == len(set(FIDELITY_MODULES))
    assert set(ISSUE_MODULES) <= set(FIDELITY_MODULES)
