"""`cloudkit.Platform` refuses a TF identity shared with OpenStack; ``cloudkit doctor`` checks live."""

import io

import pytest

from cloudkit._doctor import DoctorSettings, Finding, run_doctor, run_doctor_from_env
from cloudkit.billing import BillingClient, BillingSettings
from cloudkit.errors import ConfigError
from cloudkit.openstack import OpenStackSettings
from cloudkit.platform import Platform, settings_from_env
from cloudkit.testing._tungsten_fixtures import SERVICE_ACCOUNT
from cloudkit.tungsten import KeystoneIdentity, TungstenClient, TungstenSettings

KS = "http://keystone.example.com:5000/v3"


def os_settings(**overrides):
    base = {"auth_url": KS, "username": "admin", "password": "secret", "project_name": "admin"}
    return OpenStackSettings(**{**base, **overrides})


def tf_settings(**overrides):
    base = {
        "url": "http://tf:8082",
        "auth_url": KS,
        "username": "svc-tf",
        "password": "pw",
        "project_name": "service",
    }
    return TungstenSettings(**{**base, **overrides})


@pytest.mark.quirk("tungsten.admin-scope-capture")
@pytest.mark.parametrize(
    "tf",
    [
        {"username": "admin"},
        {"username": "ADMIN", "auth_url": "https://KEYSTONE.example.com:35357/v3", "project_name": "other"},
        {"username": "admin", "user_domain_name": "default"},
    ],
)
def test_platform_refuses_tf_acting_as_the_openstack_identity(tf):
    with pytest.raises(ConfigError) as info:
        Platform(openstack=os_settings(), tungsten=tf_settings(**tf))
    err = info.value
    assert err.quirk == "tungsten.admin-scope-capture"
    assert "dedicated TF service account" in err.message  # the message names the fix
    assert "secret" not in str(err)


@pytest.mark.parametrize(
    "tf",
    [
        {},  # the dedicated service account
        {"username": "admin", "auth_url": "http://other-keystone:5000/v3"},  # another Keystone
        {"username": "admin", "user_domain_name": "services"},  # another domain's admin
    ],
)
def test_platform_accepts_a_different_identity(tf):
    platform = Platform(openstack=os_settings(), tungsten=tf_settings(**tf))
    assert platform.identity_problem() is None


def test_an_application_credential_by_id_is_left_to_the_live_check():
    app = TungstenSettings(
        url="http://tf:8082", auth_url=KS, application_credential_id="ac", application_credential_secret="s"
    )
    assert app.keystone_identity() is None
    Platform(openstack=os_settings(), tungsten=app)  # no ConfigError: only Keystone knows whose it is


def test_platform_builds_clients_and_names_what_is_missing():
    billing = BillingSettings(url="http://billing:1500/billmgr", username="admin", password="secret")
    platform = Platform(billing=billing, tungsten=tf_settings())
    with platform.billing_client() as b, platform.tungsten_client() as t:
        assert isinstance(b, BillingClient)
        assert isinstance(t, TungstenClient)
    with pytest.raises(ConfigError, match="CLOUDKIT_OPENSTACK_AUTH_URL"):
        platform.openstack_client()
    with pytest.raises(ConfigError, match="CLOUDKIT_TUNGSTEN_URL"):
        Platform().tungsten_client()
    assert "secret" not in repr(platform)


ENV = {
    "CLOUDKIT_OPENSTACK_AUTH_URL": KS,
    "CLOUDKIT_OPENSTACK_USERNAME": "portal",
    "CLOUDKIT_OPENSTACK_PASSWORD": "portal-pass",
    "CLOUDKIT_OPENSTACK_PROJECT_NAME": "alice",
    "CLOUDKIT_TUNGSTEN_URL": "http://tf:8082",
    "CLOUDKIT_TUNGSTEN_AUTH_URL": KS,
    "CLOUDKIT_TUNGSTEN_USERNAME": "svc-tf",
    "CLOUDKIT_TUNGSTEN_PASSWORD": "svc-pass",
    "CLOUDKIT_TUNGSTEN_PROJECT_NAME": "service",
}


def test_platform_from_env_reads_every_configured_system():
    platform = Platform.from_env(ENV)
    assert platform.billing is None
    assert platform.openstack.username == "portal"
    assert platform.tungsten.username == "svc-tf"
    with pytest.raises(ConfigError) as info:
        Platform.from_env({**ENV, "CLOUDKIT_TUNGSTEN_USERNAME": "portal"})
    assert info.value.quirk == "tungsten.admin-scope-capture"
    assert settings_from_env({**ENV, "CLOUDKIT_TUNGSTEN_USERNAME": "portal"})["tungsten"].username == "portal"


def test_tungsten_settings_validation_and_env():
    with pytest.raises(ConfigError, match="password"):
        TungstenSettings(url="http://tf:8082", auth_url=KS, username="svc-tf", project_name="service")
    with pytest.raises(ConfigError, match="both an id and a secret"):
        TungstenSettings(url="http://tf:8082", auth_url=KS, application_credential_id="ac")
    with pytest.raises(ConfigError, match="choose one"):
        tf_settings(application_credential_id="ac", application_credential_secret="s")
    with pytest.raises(ConfigError, match="url"):
        tf_settings(url="ftp://tf")
    with pytest.raises(ConfigError, match="page_size"):
        tf_settings(page_size=0)
    with pytest.raises(ConfigError, match="ipam"):
        tf_settings(ipam_fq_name=())
    app = TungstenSettings.from_env(
        {
            "CLOUDKIT_TUNGSTEN_URL": "http://tf:8082",
            "CLOUDKIT_TUNGSTEN_AUTH_URL": KS,
            "CLOUDKIT_TUNGSTEN_APPLICATION_CREDENTIAL_ID": "ac",
            "CLOUDKIT_TUNGSTEN_APPLICATION_CREDENTIAL_SECRET": "ac-secret",
            "CLOUDKIT_TUNGSTEN_VERIFY_TLS": "false",
        }
    )
    assert (app.uses_application_credential, app.verify_tls) == (True, False)
    assert "ac-secret" not in repr(app)
    assert "pw" not in repr(tf_settings())
    assert KeystoneIdentity.of(KS, "A", "Default") == KeystoneIdentity.of(KS.upper(), "a", "DEFAULT")


# ---------------------------------------------------------------------------------------------- doctor
def _doctor(openstack, tungsten, **kwargs):
    out = io.StringIO()
    code = run_doctor(openstack=openstack, tungsten=tungsten, out=out, **kwargs)
    return code, out.getvalue()


def _live(tungsten_fake, openstack_fake, **overrides):
    user, password, project = SERVICE_ACCOUNT
    base = {
        "url": tungsten_fake.url,
        "auth_url": openstack_fake.auth_url,
        "username": user,
        "password": password,
        "project_name": project,
    }
    return TungstenSettings(**{**base, **overrides})


def _portal(openstack_fake, **overrides):
    base = {
        "auth_url": openstack_fake.auth_url,
        "username": "portal",
        "password": "portal-pass",
        "project_name": "alice",
    }
    return OpenStackSettings(**{**base, **overrides})


def test_doctor_is_clean_with_a_dedicated_service_account(tungsten_fake, openstack_fake):
    tungsten_fake.set_vrouter("cmp-1", kernel="5.4.0-92-generic")  # the analytics API answers too
    checks = DoctorSettings(tf_analytics_url=tungsten_fake.url)
    code, report = _doctor(_portal(openstack_fake), _live(tungsten_fake, openstack_fake), checks=checks)
    assert code == 0, report
    assert "capacity not checked: 'portal' is no admin" in report  # a member cannot read Placement
    assert "service account 'svc-tf' authenticates" in report
    assert "aaa mode cloud-admin" in report
    assert "0 problem(s), 0 warning(s)" in report


@pytest.mark.quirk("tungsten.admin-scope-capture")
def test_doctor_reports_the_shared_admin_account_with_quirk_and_fix(tungsten_fake, openstack_fake):
    admin = _portal(openstack_fake, username="admin", password="secret", project_name="admin")
    code, report = _doctor(
        admin, _live(tungsten_fake, openstack_fake, username="admin", password="secret", project_name="admin")
    )
    assert code == 1
    assert report.count("[tungsten.admin-scope-capture]") >= 2  # in the settings and live
    assert "fix: create a dedicated TF service account" in report
    assert "WARN" in report  # the OpenStack identity holds admin: every token it gets is cloud-admin
    assert "secret" not in report


@pytest.mark.quirk("tungsten.admin-scope-capture")
def test_doctor_finds_the_same_user_live_where_settings_differ(tungsten_fake, openstack_fake):
    # localhost and 127.0.0.1 are the same Keystone, which settings cannot tell
    other_spelling = openstack_fake.auth_url.replace("127.0.0.1", "localhost")
    tf = _live(
        tungsten_fake,
        openstack_fake,
        auth_url=other_spelling,
        username="portal",
        password="portal-pass",
        project_name="alice",
    )
    code, report = _doctor(_portal(openstack_fake), tf)
    assert code == 1
    assert "act as the same Keystone user 'portal'" in report
    assert "has no admin role" in report


def test_doctor_reports_a_refused_service_account(tungsten_fake, openstack_fake):
    code, report = _doctor(None, _live(tungsten_fake, openstack_fake, password="wrong-pass"))
    assert code == 1
    assert "Keystone refuses the TF service account 'svc-tf'" in report
    assert "wrong-pass" not in report


def test_doctor_reports_unreachable_systems(openstack_fake, tungsten_fake):
    code, report = _doctor(None, _live(tungsten_fake, openstack_fake, url="http://127.0.0.1:9"))
    assert code == 1
    assert "does not answer" in report
    code, report = _doctor(None, _live(tungsten_fake, openstack_fake, auth_url="http://127.0.0.1:9/v3"))
    assert code == 1
    assert "cannot reach Keystone" in report


def test_doctor_warns_about_no_auth_mode(tungsten_fake, openstack_fake):
    tungsten_fake.aaa_mode = "no-auth"
    code, report = _doctor(None, _live(tungsten_fake, openstack_fake))
    assert code == 0
    assert "WARN  tungsten: TF runs with aaa_mode no-auth" in report


def test_doctor_from_env():
    out = io.StringIO()
    assert run_doctor_from_env(out, environ={}) == 2  # nothing configured: nothing was checked
    assert "nothing is configured" in out.getvalue()
    out = io.StringIO()
    assert run_doctor_from_env(out, environ={"CLOUDKIT_TUNGSTEN_URL": "http://tf:8082"}) == 2
    assert "CLOUDKIT_TUNGSTEN_AUTH_URL" in out.getvalue()
    assert Finding(problem="p", fix="f").severity == "problem"


def _billing(billing_fake, **overrides):
    base = {"url": billing_fake.url, "username": "admin", "password": "secret"}
    return BillingSettings(**{**base, **overrides})


def test_doctor_checks_billing_and_openstack_alone(billing_fake, openstack_fake):
    out = io.StringIO()
    code = run_doctor(billing=_billing(billing_fake), openstack=_portal(openstack_fake), out=out)
    report = out.getvalue()
    assert code == 0, report
    assert "ok    billing: administrator 'admin' logs in; the account list reads" in report
    assert "ok    openstack: 'portal' logs in to project 'alice'; Nova lists" in report
    assert "tungsten: not configured (CLOUDKIT_TUNGSTEN_URL unset)" in report


def test_doctor_reports_billing_problems(billing_fake, openstack_fake):
    out = io.StringIO()
    assert run_doctor(billing=_billing(billing_fake, password="wrong-pass"), out=out) == 1
    assert "billing: " in out.getvalue()
    assert "refuses the account 'admin'" in out.getvalue()
    assert "wrong-pass" not in out.getvalue()
    out = io.StringIO()
    customer = _billing(billing_fake, username="alice", password="alice-pass")
    assert run_doctor(billing=customer, out=out) == 1
    assert "[billing.su-scope]" in out.getvalue()
    assert "not an administrator" in out.getvalue()
    out = io.StringIO()
    assert (
        run_doctor(
            billing=_billing(billing_fake, username="alice", password="alice-pass", is_admin=False), out=out
        )
        == 0
    )
    out = io.StringIO()
    assert run_doctor(billing=_billing(billing_fake, url="http://127.0.0.1:9/billmgr"), out=out) == 1
    assert "billing: cannot reach http://127.0.0.1:9/billmgr" in out.getvalue()


def test_doctor_reports_openstack_problems(openstack_fake):
    out = io.StringIO()
    assert run_doctor(openstack=_portal(openstack_fake, password="wrong-pass"), out=out) == 1
    assert "openstack: Keystone refuses 'portal'" in out.getvalue()
    assert "wrong-pass" not in out.getvalue()
