"""cloudkit.toml: at CLOUDKIT_CONFIG or ./cloudkit.toml, under the environment; errors name their source."""

import base64
import os
import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cloudkit._core._config import TABLE_KEYS, config_table, layered_environ, load_config_file
from cloudkit.billing import BillingSettings
from cloudkit.errors import ConfigError
from cloudkit.platform import Platform
from cloudkit.session import SessionSettings

KEY = base64.urlsafe_b64encode(bytes(range(32))).decode()
BILLING = '[billing]\nurl = "http://b.test/billmgr"\nusername = "admin"\npassword = "toml-secret"\n'


def write(tmp_path, text, name="cloudkit.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_the_file_named_by_cloudkit_config_is_read_and_the_environment_wins(tmp_path):
    path = write(tmp_path, BILLING + "timeout = 10\n")
    env = {"CLOUDKIT_CONFIG": str(path), "CLOUDKIT_BILLING_TIMEOUT": "5"}
    settings = BillingSettings.from_env(env)
    assert (settings.url, settings.timeout, settings.password.get_secret_value()) == (
        "http://b.test/billmgr",
        5.0,
        "toml-secret",
    )


def test_a_missing_file_named_by_cloudkit_config_is_an_error(tmp_path):
    missing = tmp_path / "nope.toml"
    with pytest.raises(ConfigError, match=rf"CLOUDKIT_CONFIG \(environment\) names {missing}"):
        BillingSettings.from_env({"CLOUDKIT_CONFIG": str(missing)})


def test_the_working_directorys_file_is_read_for_the_process_environment_only(tmp_path, monkeypatch):
    write(tmp_path, BILLING)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CLOUDKIT_CONFIG", raising=False)
    for name in ("URL", "USERNAME", "PASSWORD"):
        monkeypatch.delenv(f"CLOUDKIT_BILLING_{name}", raising=False)
    assert BillingSettings.from_env().username == "admin"
    assert Platform.from_env().billing is not None
    # An explicit mapping names its own file or has none: a test never picks up the cwd's file.
    assert Platform.from_env({}).billing is None


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("[billng]\nurl = 1\n", r"unknown table \[billng\] in cloudkit.toml: "),
        ('[billing]\nurll = "x"\n', r"unknown key in \[billing\] of cloudkit.toml: .*: urll"),
        ('[session]\nkey = "x"\n', r"unknown key in \[session\] of cloudkit.toml: .*: key"),
        ("billing = 3\n", r"billing in cloudkit.toml: .* must be a table"),
        ("[billing\n", r"cloudkit.toml: .* is not TOML"),
        ("[billing]\ntimeout = [1, 2]\n", r"\[billing\] timeout \(cloudkit.toml: .*\) must be a string"),
    ],
)
def test_a_bad_file_is_named_with_what_is_wrong(tmp_path, text, named):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError, match=named) as info:
        BillingSettings.from_env({"CLOUDKIT_CONFIG": str(path)})
    assert str(path) in str(info.value)


def test_a_bad_value_names_its_source(tmp_path):
    path = write(tmp_path, BILLING + 'timeout = "soon"\n')
    with pytest.raises(ConfigError, match=rf"\[billing\] timeout \(cloudkit.toml: {path}\) must be a number"):
        BillingSettings.from_env({"CLOUDKIT_CONFIG": str(path)})
    with pytest.raises(ConfigError, match=r"CLOUDKIT_BILLING_TIMEOUT \(environment\) must be a number"):
        BillingSettings.from_env({"CLOUDKIT_CONFIG": str(path), "CLOUDKIT_BILLING_TIMEOUT": "later"})


def test_a_missing_setting_names_the_variable_and_the_key(tmp_path):
    path = write(tmp_path, '[billing]\nurl = "http://b.test/billmgr"\n')
    with pytest.raises(ConfigError) as info:
        BillingSettings.from_env({"CLOUDKIT_CONFIG": str(path)})
    assert str(info.value).startswith(
        f"CLOUDKIT_BILLING_USERNAME (environment) nor [billing] username (cloudkit.toml: {path}) is not set"
    )
    with pytest.raises(ConfigError, match=r"^CLOUDKIT_BILLING_URL \(environment\) is not set"):
        BillingSettings.from_env({})


def test_a_value_the_settings_class_refuses_says_where_the_settings_came_from(tmp_path):
    path = write(tmp_path, BILLING.replace("http://b.test", "ftp://b.test"))
    with pytest.raises(
        ConfigError, match=rf"scheme 'ftp' \(settings from environment, cloudkit.toml: {path}\)"
    ):
        BillingSettings.from_env({"CLOUDKIT_CONFIG": str(path)})


def test_the_session_table_and_its_keys_never_show(tmp_path):
    text = (
        '[session]\nbilling_url = "http://b.test/billmgr"\nauth_url = "http://ks.test/v3"\n'
        f'keys = "k1={KEY}"\n'
    )
    path = write(tmp_path, text)
    settings = SessionSettings.from_env({"CLOUDKIT_CONFIG": str(path)})
    assert settings.current_kid == "k1"
    assert Platform.from_env({"CLOUDKIT_CONFIG": str(path)}).session is not None
    path = write(tmp_path, text.replace(f"k1={KEY}", f"{KEY}"))
    with pytest.raises(ConfigError, match=r"\[session\] keys \(cloudkit.toml: .*\) must be kid=") as info:
        SessionSettings.from_env({"CLOUDKIT_CONFIG": str(path)})
    assert KEY not in str(info.value)
    assert KEY not in repr(settings)


def test_secrets_in_the_file_never_show_in_the_config_repr_or_errors(tmp_path):
    path = write(tmp_path, BILLING)
    config = load_config_file(path)
    assert "toml-secret" not in repr(config)
    assert "toml-secret" not in repr(dict(config.variables))
    path = write(tmp_path, "[openstack]\ntoken = 12345\n")
    with pytest.raises(ConfigError) as info:
        layered_environ({"CLOUDKIT_CONFIG": str(path)})
    assert "12345" not in str(info.value)


def test_stoprules_is_read_whole_by_its_own_parser(tmp_path):
    path = write(tmp_path, "[stoprules]\ngrace_hours = 24\n[lifecycle]\nmax_attempts = 3\n")
    assert config_table("stoprules", {"CLOUDKIT_CONFIG": str(path)}) == {"grace_hours": 24}
    assert config_table("stoprules", {"CLOUDKIT_CONFIG": str(write(tmp_path, "", "empty.toml"))}) == {}


def test_the_platform_reads_every_system_from_one_file(tmp_path):
    path = write(
        tmp_path,
        BILLING
        + '[openstack]\nauth_url = "http://ks.test:5000/v3"\nusername = "portal"\npassword = "os-secret"\n'
        'project_name = "alice"\nverify_tls = false\ncacert = "/etc/ssl/ca.pem"\nuser_domain_id = "default"\n'
        '[tungsten]\nurl = "http://tf.test:8082"\nauth_url = "http://ks.test:5000/v3"\nusername = "svc-tf"\n'
        'password = "tf-secret"\nproject_name = "service"\n',
    )
    platform = Platform.from_env({"CLOUDKIT_CONFIG": str(path)})
    assert platform.openstack.verify_tls is False
    assert platform.openstack.cacert == "/etc/ssl/ca.pem"
    assert platform.openstack.connection_config()["auth"]["user_domain_id"] == "default"
    assert platform.tungsten.username == "svc-tf"
    for secret in ("toml-secret", "os-secret", "tf-secret"):
        assert secret not in repr(platform)


BARE = st.text(string.ascii_lowercase + "_", min_size=1, max_size=12)


@given(
    table=st.one_of(st.sampled_from(sorted(TABLE_KEYS)), BARE),
    key=st.one_of(st.sampled_from(sorted(set().union(*TABLE_KEYS.values()))), BARE),
    value=st.text(string.ascii_letters + string.digits, min_size=6, max_size=20).map(lambda v: f"zz{v}"),
)
def test_any_table_and_key_is_either_known_or_named(tmp_path_factory, table, key, value):
    """Fuzz the loader: it accepts exactly the known keys; an unknown one is named, its value never is."""
    path = tmp_path_factory.mktemp("toml") / "cloudkit.toml"
    path.write_text(f'[{table}]\n{key} = "{value}"\n')
    known = table in TABLE_KEYS and key in TABLE_KEYS[table]
    if known or table == "stoprules":
        assert value not in repr(load_config_file(path))
        return
    with pytest.raises(ConfigError) as info:
        load_config_file(path)
    assert (table if table not in TABLE_KEYS else key) in str(info.value)
    assert value not in str(info.value)


def test_the_example_file_is_valid_and_configures_every_system(tmp_path, monkeypatch):
    """examples/cloudkit.toml parses, knows only known keys, and (with a clouds.yaml) configures all."""
    from pathlib import Path

    from cloudkit.lifecycle import LifecycleSettings
    from cloudkit.lifecycle._sweep import policy_from_env

    example = Path(__file__).parents[3] / "examples" / "cloudkit.toml"
    for name in list(os.environ):
        if name.startswith(("OS_", "CLOUDKIT_")):
            monkeypatch.delenv(name)
    clouds = tmp_path / "clouds.yaml"
    clouds.write_text(
        "clouds:\n  production:\n    auth:\n      auth_url: https://keystone.example.com:5000/v3\n"
        "      username: portal\n      password: change-me\n      project_name: admin\n"
    )
    (tmp_path / "secure.yaml").write_text("clouds: {}\n")
    env = {
        "CLOUDKIT_CONFIG": str(example),
        "OS_CLIENT_CONFIG_FILE": str(clouds),
        "OS_CLIENT_SECURE_FILE": str(tmp_path / "secure.yaml"),
    }
    platform = Platform.from_env(env)
    assert platform.openstack.region_name == "RegionOne"
    assert platform.session is not None
    assert LifecycleSettings.from_env(env).max_attempts == 5
    assert policy_from_env(env).grace_hours == 24


def test_doctor_thresholds_come_from_the_file_and_the_environment_wins(tmp_path):
    from cloudkit._doctor import DoctorSettings

    path = tmp_path / "cloudkit.toml"
    path.write_text('[doctor]\nmin_free_percent = 25\ntf_release = "R21.12"\n')
    env = {"CLOUDKIT_CONFIG": str(path), "HOME": str(tmp_path)}
    assert DoctorSettings.from_env(env).min_free_percent == 25
    env["CLOUDKIT_DOCTOR_MIN_FREE_PERCENT"] = "40"
    assert DoctorSettings.from_env(env).min_free_percent == 40


def test_a_file_that_is_not_utf8_is_a_config_error_naming_it(tmp_path):
    path = tmp_path / "cloudkit.toml"
    path.write_bytes(b'[billing]\nurl = "\xff\xfe"\n')
    with pytest.raises(ConfigError, match=r"cloudkit.toml: .* is not UTF-8"):
        load_config_file(path)


def test_an_empty_variable_does_not_hide_the_files_value(tmp_path):
    path = tmp_path / "cloudkit.toml"
    path.write_text('[billing]\nurl = "http://b/billmgr"\n')
    env = layered_environ({"CLOUDKIT_CONFIG": str(path), "CLOUDKIT_BILLING_URL": ""})
    assert env["CLOUDKIT_BILLING_URL"] == "http://b/billmgr"
