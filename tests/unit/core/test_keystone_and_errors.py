"""The one Keystone module and the one status-to-error map."""

import json

import pytest

from cloudkit import Secret
from cloudkit._core import error_for_status, request_id_from, scrub
from cloudkit._keystone import KeystoneIdentity, keystone_error, login_body, parse_token
from cloudkit.errors import (
    ApiError,
    AuthenticationError,
    BillingApiError,
    ConflictError,
    InsufficientFundsError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    ResponseDecodeError,
    ServerError,
)

TOKEN = {
    "token": {
        "user": {"id": "u1", "name": "alice", "domain": {"id": "default", "name": "Default"}},
        "project": {"id": "p1", "name": "alice", "domain": {"id": "default"}},
        "roles": [{"name": "member"}],
        "expires_at": "2030-01-01T01:00:00Z",
    }
}


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, ApiError),
        (401, AuthenticationError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (409, ConflictError),
        (412, ConflictError),
        (413, RateLimitedError),
        (418, ApiError),
        (429, RateLimitedError),
        (500, ServerError),
        (503, ServerError),
        (None, ApiError),
    ],
)
@pytest.mark.parametrize("system", ["billing", "openstack", "tungsten", "session"])
def test_every_system_reads_a_status_the_same_way(status, cls, system):
    assert error_for_status(status, system=system) is cls


def test_overrides_are_the_only_system_specific_reading():
    assert error_for_status(413, system="tungsten", overrides={413: ApiError}) is ApiError
    assert error_for_status(409, system="tungsten", overrides={413: ApiError}) is ConflictError


def test_request_id_is_read_from_the_first_known_header():
    assert request_id_from({"X-Compute-Request-Id": "c", "x-openstack-request-id": "o"}) == "o"
    assert request_id_from({"content-type": "text/plain"}) is None
    assert request_id_from(None) is None


def test_scrub_reaches_every_text_an_error_carries():
    err = InsufficientFundsError(
        "no hunter2", detail="hunter2 detail", object_name="passwd", value="hunter2", system="billing"
    )
    err.add_note("note hunter2")
    decode = ResponseDecodeError("bad", problems=("$.x: hunter2",))
    scrub(err, ["hunter2"])
    scrub(decode, ["hunter2"])
    text = f"{err} {err!r} {err.args} {err.detail} {err.value} {err.__notes__} {decode} {decode.problems}"
    assert "hunter2" not in text
    assert isinstance(err, BillingApiError)
    assert scrub(err, []) is err


def test_login_body_scopes_by_id_name_or_not_at_all():
    by_id = login_body(user_name="a", password="p", project_id="p1")["auth"]
    assert by_id["scope"] == {"project": {"id": "p1"}}
    unscoped = login_body(user_name="a", password="p")["auth"]
    assert "scope" not in unscoped
    assert unscoped["identity"]["password"]["user"] == {
        "name": "a",
        "domain": {"name": "Default"},
        "password": "p",
    }


def test_parse_token_issued_and_validated():
    issued = parse_token(
        201, {"X-Subject-Token": "t1"}, json.dumps(TOKEN).encode(), system="session", operation="o"
    )
    me = issued.identity
    assert (me.user_id, me.user_name, me.project_id, me.project_domain, me.roles) == (
        "u1",
        "alice",
        "p1",
        "default",
        ("member",),
    )
    assert issued.value.get_secret_value() == "t1"
    assert issued.lifetime is None
    validated = parse_token(
        200, {}, json.dumps(TOKEN).encode(), system="session", operation="o", subject=Secret("t2")
    )
    assert validated.value.get_secret_value() == "t2"


@pytest.mark.parametrize(
    "content",
    [
        b"<html>proxy error</html>",
        b"[]",
        b'{"token": {"expires_at": "soon"}}',
        b'{"token": {"user": {"id": "u"}}}',
    ],
)
def test_unreadable_keystone_token_replies_are_decode_errors(content):
    with pytest.raises(ResponseDecodeError):
        parse_token(201, {"X-Subject-Token": "t"}, content, system="session", operation="login")


def test_keystone_errors_carry_status_and_request_id_and_no_code():
    err = keystone_error(
        409, {"x-openstack-request-id": "req-9"}, b"conflict", system="session", operation="o"
    )
    assert type(err) is ConflictError
    assert (err.status, err.code, err.request_id, err.detail) == (409, None, "req-9", "conflict")


def test_identity_of_settings_compares_spellings():
    assert KeystoneIdentity.of("http://KS/v3", "Svc", "Default") == KeystoneIdentity.of(
        "http://ks:1/v3", "svc", "default"
    )


@pytest.mark.parametrize(("status", "cls"), [(409, ConflictError), (413, ApiError), (429, RateLimitedError)])
def test_billing_http_refusals_use_the_one_map_with_billings_override(status, cls):
    import httpx

    from cloudkit.billing import _wire

    response = httpx.Response(status, text="nope", request=httpx.Request("POST", "http://b/billmgr"))
    with pytest.raises(cls) as info:
        _wire.parse_reply(response, operation="op")
    assert type(info.value) is cls
    assert (info.value.status, info.value.code) == (status, None)


def test_openstack_errors_carry_novas_fault_name_and_request_id():
    import openstack.exceptions as os_exc
    import requests

    from cloudkit.openstack._client import _translate

    response = requests.Response()
    response.status_code = 409
    response.headers["x-compute-request-id"] = "req-c"
    response._content = b'{"conflictingRequest": {"code": 409, "message": "Instance abc is locked"}}'
    with pytest.raises(ConflictError) as info, _translate("attach_volume"):
        raise os_exc.ConflictException(message="locked", response=response, details="Instance abc is locked")
    assert (info.value.status, info.value.code) == (409, "conflictingRequest")
    assert info.value.request_id == "req-c"


def test_session_settings_from_env_never_echoes_a_key():
    from cloudkit.errors import ConfigError
    from cloudkit.session import SessionSettings

    env = {
        "CLOUDKIT_SESSION_BILLING_URL": "http://b/billmgr",
        "CLOUDKIT_SESSION_AUTH_URL": "http://k/v3",
        "CLOUDKIT_SESSION_KEYS": "k1=not-base64-secret!!",
    }
    with pytest.raises(ConfigError) as info:
        SessionSettings.from_env(env)
    assert "secret" not in str(info.value)
    with pytest.raises(ConfigError, match="32 bytes"):
        SessionSettings(billing_url="http://b/billmgr", auth_url="http://k/v3", keys={"k1": b"short"})
    with pytest.raises(ConfigError, match="current_kid"):
        SessionSettings(
            billing_url="http://b/billmgr", auth_url="http://k/v3", keys={"k1": bytes(32)}, current_kid="k9"
        )
