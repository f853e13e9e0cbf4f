"""LifecycleSettings and the CLOUDKIT_CONFIG file: env wins, unknown keys named, secrets never shown."""

import pytest

from cloudkit._core._config import TABLE_KEYS
from cloudkit.errors import ConfigError
from cloudkit.lifecycle import Lifecycle, LifecycleSettings, config_environ


def write(tmp_path, text):
    path = tmp_path / "cloudkit.toml"
    path.write_text(text)
    return {"CLOUDKIT_CONFIG": str(path), "HOME": str(tmp_path)}


def test_env_wins_over_the_file(tmp_path):
    env = write(tmp_path, '[lifecycle]\nmax_attempts = 3\ndata_volumes = "delete"\nbackoff_base = 1.5\n')
    settings = LifecycleSettings.from_env({**env, "CLOUDKIT_LIFECYCLE_MAX_ATTEMPTS": "7"})
    assert (settings.max_attempts, settings.data_volumes, settings.backoff_base) == (7, "delete", 1.5)


def test_default_database_is_a_file_in_the_users_state_dir(tmp_path):
    settings = LifecycleSettings.from_env({"HOME": str(tmp_path)})
    assert settings.db_url == f"sqlite:///{tmp_path}/.local/state/cloudkit/lifecycle.sqlite3"


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("[lifecycle]\nmax_attempt = 3\n", "max_attempt"),
        ('[billing]\nurl = "http://b/billmgr"\npasword = "x"\n', "pasword"),
        ("[celery]\nbroker = 1\n", "celery"),
    ],
)
def test_unknown_keys_are_named(tmp_path, text, named):
    with pytest.raises(ConfigError, match=named):
        config_environ(write(tmp_path, text))


def test_a_secret_in_the_file_never_shows(tmp_path):
    env = write(tmp_path, '[billing]\nurl = "http://b/billmgr"\nusername = "admin"\npassword = 12345\n')
    with pytest.raises(ConfigError) as info:
        config_environ(env)
    assert "12345" not in str(info.value)
    env = write(tmp_path, '[lifecycle]\ndb = "postgresql+psycopg://saga:hunter2@db/ck"\n')
    settings = LifecycleSettings.from_env(env)
    assert "hunter2" not in repr(settings)


def test_the_file_alone_configures_the_platform(tmp_path):
    env = write(
        tmp_path,
        f"""
[lifecycle]
db = "sqlite:///{tmp_path}/sagas.db"
[billing]
url = "http://billing.test/billmgr"
username = "admin"
password = "billing-secret"
[openstack]
auth_url = "http://ks.test:5000/v3"
username = "lifecycle"
password = "os-secret"
project_name = "admin"
[tungsten]
url = "http://tf.test:8082"
auth_url = "http://ks.test:5000/v3"
username = "svc-tf"
password = "tf-secret"
project_name = "service"
""",
    )
    with Lifecycle.from_env(env) as lifecycle:
        text = repr(lifecycle)
        assert lifecycle.platform.billing is not None
        assert lifecycle.platform.openstack.username == "lifecycle"
        assert lifecycle.platform.tungsten.username == "svc-tf"
    for secret in ("billing-secret", "os-secret", "tf-secret"):
        assert secret not in text


@pytest.mark.parametrize("system", sorted(TABLE_KEYS))
def test_the_file_knows_every_variable_the_systems_read(system):
    """Each key of a table is a CLOUDKIT_<SYSTEM>_* variable its from_env reads, and the reverse."""
    import inspect
    import re

    import attrs

    from cloudkit import _doctor_checks as doctor
    from cloudkit.billing import _settings as billing
    from cloudkit.lifecycle import _settings as lifecycle
    from cloudkit.openstack import _settings as openstack
    from cloudkit.session import _settings as session
    from cloudkit.tungsten import _settings as tungsten

    if system == "lifecycle":  # read field by field from the attrs class, plus the database URL
        read = {field.name for field in attrs.fields(lifecycle.LifecycleSettings)} | {"db"}
        read -= {"db_url"}
        assert read == TABLE_KEYS[system]
        return
    module = {
        "billing": billing,
        "openstack": openstack,
        "tungsten": tungsten,
        "session": session,
        "doctor": doctor,
    }[system]
    source = inspect.getsource(module)
    read = {m.lower() for m in re.findall(r'env\.(?:required|optional)\w*\("([A-Z_]+)"', source)}
    assert read == TABLE_KEYS[system]
