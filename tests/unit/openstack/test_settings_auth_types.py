"""OpenStackSettings' three kinds of authentication: validation, environment, keystoneauth config, reprs."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cloudkit.errors import ConfigError
from cloudkit.openstack import OpenStackSettings
from cloudkit.platform import openstack_identity

URL = "http://ks:5000/v3"
KINDS = {
    "password": {"username": "portal", "password": "pw-secret", "project_name": "alice"},
    "token": {"token": "tok-secret", "project_id": "p1"},
    "application_credential": {
        "application_credential_id": "ac1",
        "application_credential_secret": "ac-secret",
    },
}


@pytest.mark.parametrize(("kind", "field"), [(k, f) for k, fields in KINDS.items() for f in fields])
def test_each_kind_names_the_field_it_misses(kind, field):
    given_fields = {k: v for k, v in KINDS[kind].items() if k != field}
    with pytest.raises(ConfigError, match=field if field != "project_id" else "project_id"):
        OpenStackSettings(auth_url=URL, auth_type=kind, **given_fields)


def test_a_token_may_be_scoped_by_project_name():
    settings = OpenStackSettings(auth_url=URL, auth_type="token", token="t", project_name="alice")
    assert settings.connection_config()["auth"]["project_name"] == "alice"


def test_an_unknown_kind_and_a_stray_secret_are_refused():
    with pytest.raises(ConfigError, match="auth_type must be one of"):
        OpenStackSettings(auth_url=URL, auth_type="kerberos", **KINDS["password"])
    with pytest.raises(ConfigError, match="give token but auth_type is 'password'"):
        OpenStackSettings(auth_url=URL, token="t", **KINDS["password"])


@pytest.mark.parametrize(
    ("kind", "plugin", "secret_key"),
    [
        ("password", "password", "password"),
        ("token", "v3token", "token"),
        ("application_credential", "v3applicationcredential", "application_credential_secret"),
    ],
)
def test_connection_config_maps_to_keystoneauth(kind, plugin, secret_key):
    settings = OpenStackSettings(auth_url=URL, auth_type=kind, **KINDS[kind])
    config = settings.connection_config()
    assert config["auth_type"] == plugin
    assert config["auth"][secret_key] == KINDS[kind][secret_key]
    assert config["connect_retries"] == 0  # the one retry layer is cloudkit's
    shown = repr(settings)
    assert KINDS[kind][secret_key] not in shown
    assert "Secret('***')" in shown or kind == "application_credential"


def test_only_a_password_names_a_user_to_compare():
    assert openstack_identity(OpenStackSettings(auth_url=URL, **KINDS["password"])) is not None
    for kind in ("token", "application_credential"):
        assert openstack_identity(OpenStackSettings(auth_url=URL, auth_type=kind, **KINDS[kind])) is None


@pytest.mark.parametrize(
    ("env", "kind"),
    [
        ({"AUTH_TYPE": "token", "TOKEN": "tok-secret", "PROJECT_ID": "p1"}, "token"),
        ({"AUTH_TYPE": "Token", "TOKEN": "tok-secret", "PROJECT_NAME": "alice"}, "token"),
        (
            {
                "AUTH_TYPE": "application_credential",
                "APPLICATION_CREDENTIAL_ID": "ac1",
                "APPLICATION_CREDENTIAL_SECRET": "ac-secret",
            },
            "application_credential",
        ),
        ({"USERNAME": "portal", "PASSWORD": "pw-secret", "PROJECT_NAME": "alice"}, "password"),
    ],
)
def test_from_env_reads_each_kind(env, kind):
    environ = {"CLOUDKIT_OPENSTACK_AUTH_URL": URL, **{f"CLOUDKIT_OPENSTACK_{k}": v for k, v in env.items()}}
    assert OpenStackSettings.from_env(environ).auth_type == kind


def test_from_env_names_the_missing_variable():
    environ = {"CLOUDKIT_OPENSTACK_AUTH_URL": URL, "CLOUDKIT_OPENSTACK_AUTH_TYPE": "token"}
    with pytest.raises(ConfigError, match="CLOUDKIT_OPENSTACK_TOKEN"):
        OpenStackSettings.from_env(environ)
    environ["CLOUDKIT_OPENSTACK_TOKEN"] = "tok-secret"
    with pytest.raises(ConfigError, match="CLOUDKIT_OPENSTACK_PROJECT_NAME"):
        OpenStackSettings.from_env(environ)


_text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=20)


@given(
    auth_type=st.one_of(st.sampled_from(["password", "token", "application_credential", " TOKEN "]), _text),
    values=st.dictionaries(
        st.sampled_from(
            [
                "USERNAME",
                "PASSWORD",
                "PROJECT_NAME",
                "PROJECT_ID",
                "TOKEN",
                "APPLICATION_CREDENTIAL_ID",
                "APPLICATION_CREDENTIAL_SECRET",
            ]
        ),
        _text,
    ),
)
def test_from_env_gives_settings_or_a_config_error_never_echoing_a_secret(auth_type, values):
    environ = {
        "CLOUDKIT_OPENSTACK_AUTH_URL": URL,
        "CLOUDKIT_OPENSTACK_AUTH_TYPE": auth_type,
        **{f"CLOUDKIT_OPENSTACK_{k}": v for k, v in values.items()},
    }
    secret_keys = {"PASSWORD", "TOKEN", "APPLICATION_CREDENTIAL_SECRET"}
    # Secrets carry a marker no public text has, so "not shown" cannot be fooled by a coincidence.
    secrets = [f"zq9-{v}" for k, v in values.items() if k in secret_keys]
    environ.update({f"CLOUDKIT_OPENSTACK_{k}": f"zq9-{v}" for k, v in values.items() if k in secret_keys})
    try:
        settings = OpenStackSettings.from_env(environ)
    except ConfigError as exc:
        shown = f"{exc} {exc!r}"
    else:
        shown = repr(settings)
        assert settings.auth_type in {"password", "token", "application_credential"}
    for secret in secrets:
        if (
            len(secret.strip()) >= 4
            and secret.strip() not in {URL, auth_type}
            and secret not in "OpenStackSettings"
        ):
            assert secret.strip() not in shown.replace(URL, "")
