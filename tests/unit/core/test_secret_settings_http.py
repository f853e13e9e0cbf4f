import httpx
import pytest

from cloudkit import Secret
from cloudkit._core._http import redact, redact_params, translate_transport_errors
from cloudkit._core._settings import EnvReader
from cloudkit.billing import BillingSettings
from cloudkit.errors import ConfigError, RequestTimeoutError, TransportError


def test_secret_never_shows_itself():
    s = Secret("hunter2")
    assert "hunter2" not in repr(s)
    assert "hunter2" not in str(s)
    assert "hunter2" not in f"{s!r} {s}"
    assert s.get_secret_value() == "hunter2"


def test_settings_repr_hides_password():
    s = BillingSettings(url="http://h/billmgr", username="admin", password="hunter2")
    assert "hunter2" not in repr(s)
    assert isinstance(s.password, Secret)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"url": "ftp://h/billmgr"}, "http"),
        ({"url": "http://u:p@h/billmgr"}, "credentials"),
        ({"username": ""}, "username"),
        ({"password": ""}, "password"),
        ({"auth_mode": "cookie"}, "auth_mode"),
        ({"page_size": 0}, "page_size"),
        ({"timeout": 0}, "timeout"),
    ],
)
def test_bad_settings_raise_config_error(kwargs, message):
    base = {"url": "http://h/billmgr", "username": "admin", "password": "pw"}
    with pytest.raises(ConfigError, match=message):
        BillingSettings(**{**base, **kwargs})


def test_from_env_reads_prefixed_variables_only():
    env = {
        "CLOUDKIT_BILLING_URL": "https://b:1500/billmgr",
        "CLOUDKIT_BILLING_USERNAME": "admin",
        "CLOUDKIT_BILLING_PASSWORD": "pw",
        "CLOUDKIT_BILLING_AUTH_MODE": "authinfo",
        "CLOUDKIT_BILLING_PAGE_SIZE": "50",
        "CLOUDKIT_BILLING_SERVICES": "cloudproject",
    }
    s = BillingSettings.from_env(env)
    assert (s.url, s.auth_mode, s.page_size) == ("https://b:1500/billmgr", "authinfo", 50)
    assert s.functions.service_suspend == "cloudproject.suspend"


def test_from_env_names_the_missing_variable_not_values():
    with pytest.raises(ConfigError, match="CLOUDKIT_BILLING_PASSWORD"):
        BillingSettings.from_env(
            {"CLOUDKIT_BILLING_URL": "http://b/billmgr", "CLOUDKIT_BILLING_USERNAME": "a"}
        )


@pytest.mark.parametrize("raw", ["x", "1.5"])
def test_env_reader_rejects_bad_numbers(raw):
    with pytest.raises(ConfigError, match="CK_N"):
        EnvReader("CK_", {"CK_N": raw}).optional_int("N", 1)


def test_env_reader_bool():
    env = EnvReader("CK_", {"CK_A": "yes", "CK_B": "off", "CK_C": "maybe"})
    assert env.optional_bool("A", False) is True
    assert env.optional_bool("B", True) is False
    assert env.optional_bool("D", True) is True
    with pytest.raises(ConfigError):
        env.optional_bool("C", False)


def test_redaction_covers_encoded_forms():
    assert redact("a=p%40ss b=p@ss c=p%40ss", ["p@ss"]) == "a=*** b=*** c=***"
    assert redact_params("func=x&authinfo=admin:pw&auth=abc") == "func=x&authinfo=***&auth=***"


def test_transport_errors_are_translated_and_chained():
    with pytest.raises(RequestTimeoutError) as info, translate_transport_errors("billing", "op"):
        raise httpx.ReadTimeout("timed out")
    assert isinstance(info.value.__cause__, httpx.ReadTimeout)
    with pytest.raises(TransportError), translate_transport_errors("billing", "op"):
        raise httpx.RemoteProtocolError("peer closed")
