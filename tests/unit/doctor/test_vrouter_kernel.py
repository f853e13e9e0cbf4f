"""vRouter agents from TF's analytics API and the doctor's ``tungsten.vrouter-kernel`` check (fakes)."""

import io
import json

import pytest

from cloudkit._doctor import DoctorSettings, JsonReport, run_doctor
from cloudkit._doctor_checks import check_vrouter_kernels
from cloudkit.cli import main
from cloudkit.errors import InvalidArgumentError, PermissionDeniedError, ResponseDecodeError
from cloudkit.testing._tungsten_fixtures import SERVICE_ACCOUNT
from cloudkit.tungsten import TungstenSettings, VrouterAgent
from cloudkit.tungsten._quirks import kernel_supported


def _agents(tungsten, fake, **kwargs):
    return tungsten.vrouter_agents(analytics_url=fake.url, **kwargs)


@pytest.mark.quirk("tungsten.vrouter-kernel")
def test_vrouter_agents_reads_the_list_then_each_uve(tungsten, tungsten_fake, tungsten_calls):
    tungsten_fake.set_vrouter("cmp-1", kernel="5.4.0-92-generic")
    tungsten_fake.set_vrouter("cmp 9", kernel="5.15.0-91-generic", build_version="21.4", platform="DPDK")
    agents = _agents(tungsten, tungsten_fake)
    assert tungsten_calls.tf_calls() == [  # the list, then each node's UVE in the list's order
        ("GET", "/analytics/uves/vrouters"),
        ("GET", "/analytics/uves/vrouter/cmp%209"),
        ("GET", "/analytics/uves/vrouter/cmp-1"),
    ]
    assert agents == [
        VrouterAgent(name="cmp 9", kernel="5.15.0-91-generic", build_version="21.4", platform="DPDK"),
        VrouterAgent(name="cmp-1", kernel="5.4.0-92-generic", build_version="21.12", platform="HOST"),
    ]


def test_a_uve_without_a_kernel_and_a_custom_field(tungsten, tungsten_fake):
    tungsten_fake.set_vrouter("cmp-1", kernel=None)  # as TF's own agent sends it
    assert [a.kernel for a in _agents(tungsten, tungsten_fake)] == [None]
    assert [a.kernel for a in _agents(tungsten, tungsten_fake, kernel_field="VrouterAgent.platform")] == [
        "HOST"
    ]
    with pytest.raises(InvalidArgumentError):
        _agents(tungsten, tungsten_fake, kernel_field="VrouterAgent.")


def test_analytics_refuses_a_member(make_tungsten, tungsten_fake):
    tungsten_fake.aaa_mode = "rbac"
    member = make_tungsten(username="portal", password="portal-pass", project_name="alice")
    with pytest.raises(PermissionDeniedError):
        _agents(member, tungsten_fake)


def test_kernel_supported_matches_whole_versions_and_their_longer_builds():
    listed = ("4.18.0-193.29.1", "5.4.0-92-generic")
    assert kernel_supported("4.18.0-193.29.1.el8_2.x86_64", listed)
    assert kernel_supported(" 5.4.0-92-generic\n", listed)
    assert not kernel_supported("4.18.0-193.29.10.el8_2.x86_64", listed)  # another build, not a suffix
    assert not kernel_supported("5.4.0-92-lowlatency", listed)
    assert not kernel_supported("5.4.0-92-generic", ("",))


def _tf(tungsten_fake, openstack_fake, **overrides):
    user, password, project = SERVICE_ACCOUNT
    return TungstenSettings(
        url=tungsten_fake.url,
        auth_url=openstack_fake.auth_url,
        **{"username": user, "password": password, "project_name": project, **overrides},
    )


@pytest.mark.quirk("tungsten.vrouter-kernel")
def test_doctor_names_the_node_with_an_unsupported_kernel(tungsten_fake, openstack_fake):
    tungsten_fake.set_vrouter("cmp-1", kernel="3.10.0-1160.25.1.el7.x86_64")
    tungsten_fake.set_vrouter("cmp-7", kernel="5.15.0-91-generic")  # joined during the beta, newer kernel
    tungsten_fake.set_vrouter("cmp-8", kernel=None)
    out = io.StringIO()
    checks = DoctorSettings(tf_analytics_url=tungsten_fake.url)
    assert run_doctor(tungsten=_tf(tungsten_fake, openstack_fake), checks=checks, out=out) == 1
    report = out.getvalue()
    assert (
        "FAIL  [tungsten.vrouter-kernel] tungsten: vRouter node 'cmp-7' runs kernel 5.15.0-91-generic, "
        "which TF R21.12 does not support" in report
    )
    assert "fix: boot cmp-7 into a supported kernel" in report
    assert (
        "ok    tungsten: vRouter node 'cmp-1' runs kernel 3.10.0-1160.25.1.el7.x86_64 (supported)" in report
    )
    assert "WARN  [tungsten.vrouter-kernel] tungsten: vRouter node 'cmp-8' reports no kernel" in report
    assert "1 problem(s), 1 warning(s)" in report
    # the operator's own list (a release rebuilt for that kernel) makes it pass
    out = io.StringIO()
    allowed = DoctorSettings(
        tf_analytics_url=tungsten_fake.url, tf_supported_kernels=("5.15.0-91-generic", "3.10.0-1160.25.1.el7")
    )
    assert run_doctor(tungsten=_tf(tungsten_fake, openstack_fake), checks=allowed, out=out) == 0


def test_doctor_warns_when_analytics_does_not_answer(tungsten_fake, openstack_fake):
    findings, notes = [], []
    from cloudkit.tungsten import TungstenClient

    with TungstenClient(_tf(tungsten_fake, openstack_fake)) as client:
        check_vrouter_kernels(client, DoctorSettings(tf_analytics_url="http://127.0.0.1:9"), findings, notes)
    (finding,) = findings
    assert (finding.severity, finding.quirk) == ("warning", "tungsten.vrouter-kernel")
    assert "the analytics API does not answer" in finding.problem


def test_doctor_json_is_one_document_with_the_details(tungsten_fake, openstack_fake):
    tungsten_fake.set_vrouter("cmp-7", kernel="5.15.0-91-generic")
    target = io.StringIO()
    checks = DoctorSettings(tf_analytics_url=tungsten_fake.url)
    assert run_doctor(tungsten=_tf(tungsten_fake, openstack_fake), checks=checks, out=JsonReport(target)) == 1
    document = json.loads(target.getvalue())
    assert (document["ok"], document["problems"], document["warnings"]) == (False, 1, 0)
    (finding,) = document["findings"]
    assert finding["quirk"] == "tungsten.vrouter-kernel"
    assert finding["details"] == {
        "node": "cmp-7",
        "kernel": "5.15.0-91-generic",
        "supported": list(DoctorSettings().supported_kernels),
    }
    assert any("authenticates" in note for note in document["notes"])


def test_cli_doctor_json_exit_codes(capsys, monkeypatch):
    for name in ("CLOUDKIT_BILLING_URL", "CLOUDKIT_OPENSTACK_AUTH_URL", "CLOUDKIT_TUNGSTEN_URL"):
        monkeypatch.delenv(name, raising=False)
    assert main(["doctor", "--json"]) == 2
    document = json.loads(capsys.readouterr().out)
    assert document["ok"] is False
    assert document["findings"][0]["problem"].startswith("nothing is configured")


def test_a_uve_of_the_wrong_shape_is_a_decode_error(tungsten, tungsten_fake):
    from cloudkit.tungsten._wire import vrouter_agent_of, vrouter_names_of

    with pytest.raises(ResponseDecodeError) as info:
        vrouter_names_of({"name": "cmp-1"}, operation="vrouter_agents")
    assert info.value.problems == ("$: expected a list, got an object",)
    with pytest.raises(ResponseDecodeError) as info:
        vrouter_agent_of({"VrouterAgent": {"kernel_version": 5}}, "cmp-1", operation="vrouter_agents")
    assert info.value.problems == ("$.VrouterAgent.kernel_version: expected text, got a number",)
