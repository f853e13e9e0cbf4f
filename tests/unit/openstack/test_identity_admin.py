"""IdentityAdmin on the fake: exact call sequences, idempotent re-runs, lost answers, refusals, secrets."""

import logging

import pytest

from cloudkit import Secret
from cloudkit.errors import (
    ConfigError,
    ConflictError,
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
)
from cloudkit.openstack import IdentityAdmin, KeystoneProject
from cloudkit.testing import Fault

PASSWORD = "cust-Passw0rd-42"


@pytest.fixture
def admin(make_openstack):
    return IdentityAdmin.of(make_openstack(username="admin", password="secret", project_name="admin"))


def identity_calls(calls):
    """Keystone calls past the login: (method, path below /identity/v3)."""
    return [
        (m, p.removeprefix("/identity/v3"))
        for m, p in calls.calls
        if p.startswith("/identity/v3/") and p != "/identity/v3/auth/tokens"
    ]


def onboard(admin):
    project = admin.ensure_project("cust-42", description="customer 42", tags=("cloudkit", "acct-42"))
    user = admin.ensure_user("cust-42", password=Secret(PASSWORD), project=project)
    admin.grant_role(user, project, "member")
    return project, user


def test_onboard__exact_call_sequence_first_run(admin, openstack_calls):
    admin.find_project("admin")  # log in first: the sequence below is onboarding only
    openstack_calls.clear()
    project, user = onboard(admin)
    assert identity_calls(openstack_calls) == [
        ("GET", "/projects"),  # look (the Default domain's id is known from the first call)
        ("POST", "/projects"),
        ("GET", "/users"),
        ("POST", "/users"),
        ("GET", "/roles"),
        ("HEAD", "/projects/{id}/users/{id}/roles/{id}"),  # look
        ("PUT", "/projects/{id}/users/{id}/roles/{id}"),
        ("HEAD", "/projects/{id}/users/{id}/roles/{id}"),  # verify
    ]
    assert (project.name, project.tags, project.description) == (
        "cust-42",
        ("cloudkit", "acct-42"),
        "customer 42",
    )
    assert user.default_project_id == project.id
    assert admin.roles_of(user, project) == ("member",)


def test_onboarded_customer_logs_in_to_their_project(admin, make_openstack):
    onboard(admin)
    info = make_openstack(username="cust-42", password=PASSWORD, project_name="cust-42").token_info()
    assert (info.user_name, info.project_name, info.roles) == ("cust-42", "cust-42", ("member", "reader"))


def test_onboard__rerun_sends_only_reads(admin, openstack_calls):
    first = onboard(admin)
    openstack_calls.clear()
    assert onboard(admin) == first
    calls = identity_calls(openstack_calls)
    assert calls == [
        ("GET", "/projects"),
        ("GET", "/users"),
        ("GET", "/roles"),
        ("HEAD", "/projects/{id}/users/{id}/roles/{id}"),
    ]


def test_first_call_looks_up_the_domain_once(admin, openstack_calls):
    admin.find_project("nope")
    admin.find_user("nope")
    assert [p for _, p in identity_calls(openstack_calls)] == ["/domains", "/projects", "/users"]


def test_ensure_project__lost_answer_makes_one_project(admin, openstack_fake):
    admin.find_project("admin")
    seen = len(openstack_fake.calls)
    openstack_fake.inject(Fault.drop_after_effect(), method="POST", path="/projects")
    project = admin.ensure_project("cust-7", tags=("cloudkit",))
    assert openstack_fake.project_names().count("cust-7") == 1
    assert [
        (c.method, c.path.removeprefix("/identity/v3"), c.status) for c in openstack_fake.calls[seen:]
    ] == [
        ("GET", "/projects", 200),  # look
        ("POST", "/projects", None),  # landed, answer lost
        ("GET", "/projects", 200),  # read back by name: found, so not repeated
    ]
    assert admin.find_project("cust-7") == project


def test_ensure_user__lost_answer_makes_one_user(admin, openstack_fake):
    project = admin.ensure_project("cust-8")
    openstack_fake.inject(Fault.drop_after_effect(), method="POST", path="/users")
    user = admin.ensure_user("cust-8", password=Secret(PASSWORD), project=project)
    assert admin.find_user("cust-8") == user
    assert openstack_fake.user_names().count("cust-8") == 1


def test_grant_role__lost_answer_is_retried_and_verified(admin, openstack_fake):
    project, user = onboard(admin)
    admin.revoke_role(user, project, "member")
    openstack_fake.inject(Fault.drop_after_effect(), method="PUT", path="/projects/{p}/users/{u}/roles/{r}")
    admin.grant_role(user, project, "member")
    assert admin.has_role(user, project, "member")


def test_ensure_project__same_name_without_our_tags_is_not_adopted(admin):
    admin.create_project("cust-9")
    with pytest.raises(ConflictError, match="without the tags"):
        admin.ensure_project("cust-9", tags=("cloudkit",))


def test_create_project__duplicate_is_keystones_409(admin):
    first = admin.create_project("cust-10")
    with pytest.raises(ConflictError) as info:
        admin.create_project("cust-10")
    assert info.value.status == 409
    assert "it is not permitted to have two projects" in str(info.value)
    assert admin.ensure_project("cust-10") == first


def test_revoke_role__idempotent(admin, openstack_calls):
    project, user = onboard(admin)
    admin.revoke_role(user, project, "member")
    assert not admin.has_role(user, project, "member")
    openstack_calls.clear()
    admin.revoke_role(user, project, "member")
    assert [m for m, _ in identity_calls(openstack_calls)] == ["GET", "HEAD"]


def test_has_role__direct_only(admin):
    project = admin.find_project("admin")
    user = admin.find_user("admin")
    assert admin.has_role(user, project, "admin")
    assert not admin.has_role(user, project, "member")  # implied by admin, not assigned


def test_delete_project__gone_is_done(admin):
    project, user = onboard(admin)
    admin.delete_project(project)
    admin.delete_project(project.id)  # 404: done
    assert admin.find_project("cust-42") is None
    admin.delete_user(user)
    admin.delete_user(user)
    assert admin.find_user("cust-42") is None


def test_member_is_refused(make_openstack):
    member = IdentityAdmin.of(make_openstack())  # portal, member of alice
    with pytest.raises(PermissionDeniedError) as info:
        member.ensure_project("cust-11")
    assert info.value.status == 403
    assert info.value.system == "openstack"


def test_grant_role__unknown_role(admin):
    project, user = onboard(admin)
    with pytest.raises(NotFoundError, match="no Keystone role"):
        admin.grant_role(user, project, "wizard")


def test_unknown_domain(admin):
    with pytest.raises(NotFoundError, match="no Keystone domain"):
        admin.find_project("x", domain="Elsewhere")


def test_password_never_logged_or_in_reprs(admin, caplog):
    caplog.set_level(logging.DEBUG)
    project, user = onboard(admin)
    assert PASSWORD not in caplog.text
    assert PASSWORD not in repr(user) + repr(project) + repr(admin)


def test_ensure_user__refusal_never_repeats_the_password(admin, openstack_fake):
    echo = f"Invalid input for field 'user/password': {PASSWORD}"
    openstack_fake.inject(Fault.server_error(400, message=echo), method="POST", path="/users")
    with pytest.raises(Exception) as info:  # noqa: PT011 (whatever the class, the text is what matters)
        admin.ensure_user("cust-12", password=Secret(PASSWORD))
    assert PASSWORD not in f"{info.value} {info.value!r} {info.value.__dict__}"


def test_arguments_checked_before_any_request(admin, openstack_calls):
    with pytest.raises(InvalidArgumentError):
        admin.ensure_user("cust", password=PASSWORD)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError):
        admin.ensure_project(" ")
    with pytest.raises(InvalidArgumentError):
        admin.delete_project(KeystoneProject(id="", name="x", domain_id="default"))
    assert openstack_calls.calls == []
    with pytest.raises(ConfigError):
        IdentityAdmin()


def test_a_failed_login_is_a_typed_error_not_keystoneauths(make_openstack):
    from cloudkit.errors import AuthenticationError

    admin = IdentityAdmin.of(make_openstack(username="admin", password="wrong", project_name="admin"))
    with pytest.raises(AuthenticationError):
        admin.find_project("admin")  # the first call logs in: its refusal is translated too


def test_ensure_project__a_read_back_after_a_lost_create_checks_our_tags(admin, openstack_fake, monkeypatch):
    admin.create_project("cust-11")  # someone else's, without our tag
    real_find = admin.find_project
    looks = []

    def find_project(*args, **kwargs):  # the first look saw nothing (it was made in between)
        looks.append(args)
        return None if len(looks) == 1 else real_find(*args, **kwargs)

    monkeypatch.setattr(admin, "find_project", find_project)
    openstack_fake.inject(Fault.drop_connection(), method="POST", path="/projects")
    with pytest.raises(ConflictError, match="without the tags"):
        admin.ensure_project("cust-11", tags=("cloudkit",))
    assert openstack_fake.project_names().count("cust-11") == 1


def test_ensure_user__a_transport_failure_holds_no_password(admin, openstack_fake):
    from cloudkit.errors import TransportError

    project = admin.ensure_project("cust-13")
    openstack_fake.inject(Fault.drop_connection(), method="POST", path="/users", times=50)
    with pytest.raises(TransportError) as info:
        admin.ensure_user("cust-13", password=Secret(PASSWORD), project=project)
    error = info.value
    assert error.__cause__ is None
    assert error.__context__ is None
    assert PASSWORD not in f"{error} {error!r} {error.__dict__}"
    tb = info.tb
    while tb is not None:  # frames kept by the traceback show no password in their locals' reprs
        assert PASSWORD not in repr(tb.tb_frame.f_locals), tb.tb_frame.f_code.co_name
        tb = tb.tb_next


def test_find_project__a_server_ignoring_the_domain_filter_is_checked_again(admin, monkeypatch):
    admin.find_project("admin")  # the Default domain's id is known from here on
    other = {"id": "p-other", "name": "cust-14", "domain_id": "other-domain", "enabled": True, "tags": []}
    monkeypatch.setattr(admin, "_list", lambda *_args, **_kwargs: [other])
    assert admin.find_project("cust-14") is None
