"""OpenStack settings from clouds.yaml, secure.yaml, OS_CLOUD and OS_* (openstacksdk's own loader), and the
precedence of cloudkit's own settings over them. Never the user's real files: OS_CLIENT_CONFIG_FILE and
OS_CLIENT_SECURE_FILE point into tmp_path, and every OS_* variable of the process is removed first."""

import io
import os
import socket

import pytest

from cloudkit._doctor import run_doctor_from_env
from cloudkit.errors import ConfigError
from cloudkit.openstack import OpenStackSettings
from cloudkit.platform import Platform, settings_from_env

CLOUDS = """
clouds:
  devstack:
    auth:
      auth_url: http://ks.test:5000/v3
      username: demo
      password: yaml-secret
      project_name: demo
      user_domain_name: Users
      project_domain_id: default
    region_name: RegionTwo
    interface: internal
    cacert: /etc/ssl/devstack-ca.pem
    api_timeout: 12
  appcred:
    auth_type: v3applicationcredential
    auth:
      auth_url: http://ks.test:5000/v3
      application_credential_id: ac1
      application_credential_secret: ac-secret
    verify: false
  tokened:
    auth_type: v3token
    auth:
      auth_url: http://ks.test:5000/v3
      token: tok-secret
      project_id: p1
  oidc:
    auth_type: v3oidcpassword
    auth:
      auth_url: http://ks.test:5000/v3
  noauthurl:
    auth:
      username: demo
      password: yaml-secret
      project_name: demo
  noproject:
    auth:
      auth_url: http://ks.test:5000/v3
      username: demo
      password: yaml-secret
  fromsecure:
    auth:
      auth_url: http://ks.test:5000/v3
      username: demo
      project_name: demo
"""
SECURE = """
clouds:
  fromsecure:
    auth:
      password: secure-secret
"""
SECRETS = ("yaml-secret", "ac-secret", "tok-secret", "secure-secret", "env-secret")


@pytest.fixture
def clouds(tmp_path, monkeypatch):
    """A clouds.yaml and secure.yaml in tmp_path, named by OS_CLIENT_*_FILE; no other OS_* variable set."""
    for name in list(os.environ):
        if name.startswith(("OS_", "CLOUDKIT_")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # cloudkit looks for ./cloudkit.toml
    # openstacksdk falls back to its default files (./, ~/.config/openstack, /etc/openstack: computed at its
    # import) when the file named is missing or unusable: none of them may leak into a test.
    import openstack.config.loader

    monkeypatch.setattr(openstack.config.loader, "CONFIG_FILES", [])
    monkeypatch.setattr(openstack.config.loader, "SECURE_FILES", [])
    path = tmp_path / "clouds.yaml"
    path.write_text(CLOUDS)
    secure = tmp_path / "secure.yaml"
    secure.write_text(SECURE)
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(path))
    monkeypatch.setenv("OS_CLIENT_SECURE_FILE", str(secure))
    return path


def use_env_only(monkeypatch, tmp_path, **variables):
    """Point the loader at an empty clouds.yaml and set OS_* variables."""
    empty = tmp_path / "empty.yaml"
    empty.write_text("clouds: {}\n")
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(empty))
    for name, value in variables.items():
        monkeypatch.setenv(name, value)


def test_a_named_cloud_carries_everything_over(clouds):
    settings = OpenStackSettings.from_clouds_yaml("devstack")
    assert (settings.auth_type, settings.auth_url, settings.username, settings.project_name) == (
        "password",
        "http://ks.test:5000/v3",
        "demo",
        "demo",
    )
    assert settings.password.get_secret_value() == "yaml-secret"
    assert (settings.user_domain_name, settings.project_domain_id) == ("Users", "default")
    assert (settings.region_name, settings.interface, settings.timeout) == ("RegionTwo", "internal", 12.0)
    assert (settings.verify_tls, settings.cacert) == (True, "/etc/ssl/devstack-ca.pem")
    config = settings.connection_config()
    assert config["cacert"] == "/etc/ssl/devstack-ca.pem"
    assert config["auth"]["project_domain_id"] == "default"


def test_os_cloud_selects_the_cloud(clouds, monkeypatch):
    monkeypatch.setenv("OS_CLOUD", "appcred")
    settings = OpenStackSettings.from_clouds_yaml()
    assert settings.auth_type == "application_credential"
    assert settings.application_credential_id == "ac1"
    assert settings.verify_tls is False


@pytest.mark.parametrize(
    ("cloud", "auth_type", "secret_field", "secret"),
    [
        ("devstack", "password", "password", "yaml-secret"),
        ("tokened", "token", "token", "tok-secret"),
        ("appcred", "application_credential", "application_credential_secret", "ac-secret"),
    ],
)
def test_each_supported_auth_type_maps_to_cloudkits(clouds, cloud, auth_type, secret_field, secret):
    settings = OpenStackSettings.from_clouds_yaml(cloud)
    assert settings.auth_type == auth_type
    assert getattr(settings, secret_field).get_secret_value() == secret
    assert secret not in repr(settings)


@pytest.mark.parametrize("spelling", ["password", "v3password"])
def test_password_in_both_spellings(clouds, tmp_path, monkeypatch, spelling):
    use_env_only(
        monkeypatch,
        tmp_path,
        OS_AUTH_TYPE=spelling,
        OS_AUTH_URL="http://ks.test:5000/v3",
        OS_USERNAME="envuser",
        OS_PASSWORD="env-secret",
        OS_PROJECT_ID="p9",
        OS_USER_DOMAIN_ID="default",
        OS_REGION_NAME="RegionEnv",
        OS_INSECURE="true",
    )
    settings = OpenStackSettings.from_clouds_yaml()
    assert (settings.auth_type, settings.username, settings.project_id) == ("password", "envuser", "p9")
    assert (settings.region_name, settings.user_domain_id, settings.verify_tls) == (
        "RegionEnv",
        "default",
        False,
    )


def test_secure_yaml_is_merged(clouds):
    assert OpenStackSettings.from_clouds_yaml("fromsecure").password.get_secret_value() == "secure-secret"


def test_an_explicit_mapping_reads_as_the_process_environment_does(clouds, tmp_path, monkeypatch):
    """The loader over a mapping (environ=...) agrees with openstacksdk's stock loader over os.environ."""
    variables = {
        "OS_AUTH_URL": "http://ks.test:5000/v3",
        "OS_USERNAME": "envuser",
        "OS_PASSWORD": "env-secret",
        "OS_PROJECT_NAME": "envproject",
        "OS_INTERFACE": "admin",
    }
    use_env_only(monkeypatch, tmp_path, **variables)
    from_process = OpenStackSettings.from_clouds_yaml()
    from_mapping = OpenStackSettings.from_clouds_yaml(environ=dict(os.environ))
    assert from_process == from_mapping
    assert from_mapping.interface == "admin"
    assert (
        OpenStackSettings.from_clouds_yaml(
            "devstack", environ=dict(os.environ) | {"OS_CLIENT_CONFIG_FILE": str(clouds)}
        ).username
        == "demo"
    )


@pytest.mark.parametrize(
    ("cloud", "message"),
    [
        (
            "oidc",
            (
                r"auth_type of cloud 'oidc' \(clouds.yaml: {path}; secure.yaml: .*, cloud 'oidc'\) "
                r"is 'v3oidcpassword', which cloudkit does not support"
            ),
        ),
        ("noauthurl", r"auth.auth_url of cloud 'noauthurl' \(clouds.yaml: {path}; .*\) is not set"),
        (
            "noproject",
            (
                r"auth.project_name of cloud 'noproject' \(clouds.yaml: {path}; .*\) is not set, "
                r"nor auth.project_id"
            ),
        ),
        ("nosuch", r"Cloud nosuch was not found. \(clouds.yaml: {path}; secure.yaml: "),
    ],
)
def test_a_cloud_cloudkit_cannot_use_is_named_with_its_file(clouds, cloud, message):
    with pytest.raises(ConfigError, match=message.format(path=clouds)) as info:
        OpenStackSettings.from_clouds_yaml(cloud)
    assert not any(secret in str(info.value) for secret in SECRETS)


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        (
            {"OS_USERNAME": "u", "OS_PASSWORD": "env-secret", "OS_PROJECT_NAME": "p"},
            r"^OS_AUTH_URL \(environment\) is not set",
        ),
        (
            {"OS_AUTH_URL": "http://ks.test/v3", "OS_PASSWORD": "env-secret", "OS_PROJECT_NAME": "p"},
            r"^OS_USERNAME \(environment\) is not set",
        ),
        (
            {"OS_AUTH_URL": "http://ks.test/v3", "OS_AUTH_TYPE": "v3oidcpassword"},
            r"^OS_AUTH_TYPE \(environment\) is 'v3oidcpassword'",
        ),
        (
            {
                "OS_AUTH_URL": "ftp://ks.test/v3",
                "OS_USERNAME": "u",
                "OS_PASSWORD": "env-secret",
                "OS_PROJECT_NAME": "p",
            },
            r"scheme 'ftp' \(settings from environment\)",
        ),
    ],
)
def test_os_variables_that_cannot_be_used_are_named(clouds, tmp_path, monkeypatch, variables, message):
    use_env_only(monkeypatch, tmp_path, **variables)
    with pytest.raises(ConfigError, match=message) as info:
        OpenStackSettings.from_clouds_yaml()
    assert "env-secret" not in str(info.value)


def test_the_loader_touches_no_network(clouds, monkeypatch):
    def refuse(*_args, **_kwargs):
        raise AssertionError("the settings loader opened a connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    for cloud in ("devstack", "appcred", "tokened", "fromsecure"):
        OpenStackSettings.from_clouds_yaml(cloud)


# Precedence: CLOUDKIT_OPENSTACK_* > [openstack] in cloudkit.toml > clouds.yaml / OS_CLOUD / OS_*.

CLOUDKIT_OWN = {
    "CLOUDKIT_OPENSTACK_AUTH_URL": "http://ck.test:5000/v3",
    "CLOUDKIT_OPENSTACK_USERNAME": "portal",
    "CLOUDKIT_OPENSTACK_PASSWORD": "ck-secret",
    "CLOUDKIT_OPENSTACK_PROJECT_NAME": "alice",
}


def test_cloudkits_own_auth_url_ignores_os_cloud(clouds, monkeypatch):
    monkeypatch.setenv("OS_CLOUD", "devstack")
    for name, value in CLOUDKIT_OWN.items():
        monkeypatch.setenv(name, value)
    settings = OpenStackSettings.from_env()
    assert (settings.auth_url, settings.username, settings.region_name) == (
        "http://ck.test:5000/v3",
        "portal",
        None,
    )


def test_os_cloud_is_used_when_cloudkit_gives_no_auth_url_and_its_other_settings_still_win(
    clouds, monkeypatch
):
    monkeypatch.setenv("OS_CLOUD", "devstack")
    monkeypatch.setenv("CLOUDKIT_OPENSTACK_REGION_NAME", "RegionCk")
    monkeypatch.setenv("CLOUDKIT_OPENSTACK_WAIT_TIMEOUT", "42")
    settings = OpenStackSettings.from_env()
    assert (settings.username, settings.region_name, settings.wait_timeout, settings.interface) == (
        "demo",
        "RegionCk",
        42.0,
        "internal",
    )


def test_cloudkit_toml_names_the_cloud_and_the_environment_wins_over_the_file(clouds, tmp_path, monkeypatch):
    (tmp_path / "cloudkit.toml").write_text(
        '[openstack]\ncloud = "devstack"\ninterface = "public"\ntimeout = 7\n'
    )
    monkeypatch.setenv("OS_CLOUD", "appcred")  # the file's cloud wins over the shell's
    monkeypatch.setenv("CLOUDKIT_OPENSTACK_TIMEOUT", "9")
    settings = Platform.from_env().openstack
    assert (settings.username, settings.interface, settings.timeout) == ("demo", "public", 9.0)


def test_cloudkit_toml_auth_url_wins_over_os_variables(clouds, tmp_path, monkeypatch):
    toml = tmp_path / "cloudkit.toml"
    toml.write_text(
        '[openstack]\nauth_url = "http://ck.test:5000/v3"\nusername = "portal"\npassword = "ck-secret"\n'
        'project_name = "alice"\n'
    )
    monkeypatch.setenv("OS_AUTH_URL", "http://os.test:5000/v3")
    monkeypatch.setenv("OS_USERNAME", "shell-user")
    assert OpenStackSettings.from_env().username == "portal"
    assert OpenStackSettings.from_env({"CLOUDKIT_CONFIG": str(toml)}).username == "portal"


def test_without_any_setting_nothing_is_configured_and_from_env_names_the_variable(clouds):
    assert settings_from_env()["openstack"] is None
    with pytest.raises(ConfigError, match=r"^CLOUDKIT_OPENSTACK_AUTH_URL \(environment\) is not set"):
        OpenStackSettings.from_env()


def test_a_mixed_error_names_every_source(clouds, tmp_path, monkeypatch):
    toml = tmp_path / "cloudkit.toml"
    toml.write_text('[openstack]\ncloud = "devstack"\ntoken = "ck-secret"\n')
    with pytest.raises(ConfigError) as info:
        OpenStackSettings.from_env()
    text = str(info.value)
    assert "give token but auth_type is 'password'" in text
    assert f"clouds.yaml: {clouds}" in text
    assert f"cloudkit.toml: {toml}" in text
    assert "ck-secret" not in text
    assert "yaml-secret" not in text


def test_doctor_reports_an_unusable_cloud_with_its_source(clouds, monkeypatch):
    monkeypatch.setenv("OS_CLOUD", "oidc")
    report = io.StringIO()
    assert run_doctor_from_env(report) == 2
    assert f"auth_type of cloud 'oidc' (clouds.yaml: {clouds}" in report.getvalue()


def test_a_platform_from_clouds_yaml_logs_in_to_the_fake(openstack_fake, tmp_path, monkeypatch, clouds):
    """Contract: what openstacksdk's loader finds logs in to the fake Keystone through Platform.from_env()."""
    path = tmp_path / "fake-clouds.yaml"
    path.write_text(
        "clouds:\n  fake:\n    auth:\n"
        f"      auth_url: {openstack_fake.auth_url}\n"
        "      username: portal\n      password: portal-pass\n      project_name: alice\n"
        "      user_domain_name: Default\n      project_domain_name: Default\n"
    )
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(path))
    monkeypatch.setenv("OS_CLOUD", "fake")
    platform = Platform.from_env()
    with platform.openstack_client() as client:
        identity = client.token_info()
    assert (identity.user_name, identity.project_name) == ("portal", "alice")


def test_a_ca_bundle_is_what_requests_verify_with_unless_verification_is_off():
    base = {"auth_url": "https://ks.test:5000/v3", "username": "u", "password": "pw", "project_name": "p"}
    assert OpenStackSettings(**base, cacert="/etc/ssl/ca.pem").tls_verify == "/etc/ssl/ca.pem"
    assert OpenStackSettings(**base, cacert="/etc/ssl/ca.pem", verify_tls=False).tls_verify is False
    assert OpenStackSettings(**base).tls_verify is True


def test_a_file_that_is_not_yaml_is_skipped_as_the_cli_skips_it(clouds):
    """openstacksdk's loader logs a warning and goes on to the next file; so does cloudkit."""
    clouds.write_text("clouds:\n  devstack:\n    auth: {password: yaml-secret\n")
    with pytest.raises(ConfigError, match=r"Cloud devstack was not found. \(secure.yaml: ") as info:
        OpenStackSettings.from_clouds_yaml("devstack")
    assert "yaml-secret" not in str(info.value)


def test_cloudkit_openstack_cloud_names_the_cloud(clouds, monkeypatch):
    monkeypatch.setenv("OS_CLOUD", "appcred")
    monkeypatch.setenv("CLOUDKIT_OPENSTACK_CLOUD", "tokened")
    assert OpenStackSettings.from_env().auth_type == "token"


def test_os_variables_alone_configure_the_platform(clouds, tmp_path, monkeypatch):
    use_env_only(
        monkeypatch,
        tmp_path,
        OS_AUTH_URL="http://ks.test:5000/v3",
        OS_USERNAME="envuser",
        OS_PASSWORD="env-secret",
        OS_PROJECT_NAME="envproject",
    )
    platform = Platform.from_env()
    assert platform.openstack.username == "envuser"
    assert "env-secret" not in repr(platform)
    # An explicit mapping is read the same way, OS_* included.
    assert Platform.from_env(dict(os.environ)).openstack == platform.openstack


@pytest.mark.parametrize(
    "text",
    [
        "clouds:\n  broken: just-a-string\n",
        "clouds: [1, 2]\n",
        "clouds:\n  broken:\n    auth: x-secret-looking\n",
        "clouds:\n  broken:\n    auth:\n      auth_url: 5\n      username: u\n      password: p\n",
    ],
)
def test_a_clouds_yaml_of_the_wrong_shape_is_a_config_error_that_quotes_nothing(clouds, text):
    clouds.write_text(text)
    with pytest.raises(ConfigError) as info:
        OpenStackSettings.from_clouds_yaml("broken")
    assert "x-secret-looking" not in str(info.value)


def test_cloudkits_project_name_replaces_the_clouds_project_id(clouds, monkeypatch):
    # tokened names its project by id; a CLOUDKIT_OPENSTACK_PROJECT_NAME must not lose to that id
    monkeypatch.setenv("OS_CLOUD", "devstack")
    clouds.write_text(
        CLOUDS.replace("project_name: demo\n      user_domain_name", "project_id: p1\n      user_domain_name")
    )
    monkeypatch.setenv("CLOUDKIT_OPENSTACK_PROJECT_NAME", "alice")
    monkeypatch.setenv("CLOUDKIT_OPENSTACK_PROJECT_DOMAIN_NAME", "Default")
    settings = OpenStackSettings.from_env()
    assert (settings.project_name, settings.project_id) == ("alice", None)
    assert (settings.project_domain_name, settings.project_domain_id) == ("Default", None)
    assert settings.user_domain_name == "Users"  # what cloudkit did not set still comes from the cloud
