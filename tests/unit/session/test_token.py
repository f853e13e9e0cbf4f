"""The composite token codec: only well-formed tokens under a known key decode; nothing else escapes."""

import base64
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from joserfc import jws
from joserfc.jwk import OctKey

from cloudkit.errors import SessionError, TokenInvalidError
from cloudkit.session import _wire as wire

KEY = wire.oct_key(b"k" * 32)
OTHER = wire.oct_key(b"o" * 32)


def b64(data) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def test_round_trip_and_key_rotation():
    token = wire.encode({"sub": "alice"}, key=OTHER, kid="old")
    assert wire.decode(token, keys={"new": KEY, "old": OTHER}) == {"sub": "alice"}
    with pytest.raises(TokenInvalidError, match="unknown key id"):
        wire.decode(token, keys={"new": KEY})


def test_payload_is_encrypted():
    token = wire.encode({"ks": {"tok": "keystone-token-value"}}, key=KEY, kid="k1")
    assert "keystone-token-value" not in token
    assert "keystone-token-value" not in base64.urlsafe_b64decode(token.split(".")[3] + "===").decode(
        "latin-1"
    )


def test_wrong_key_with_the_same_kid_is_refused():
    token = wire.encode({"sub": "alice"}, key=OTHER, kid="k1")
    with pytest.raises(TokenInvalidError, match="decryption failed"):
        wire.decode(token, keys={"k1": KEY})


@pytest.mark.parametrize("index", [0, 2, 3, 4])
def test_tampering_any_segment_is_refused(index):
    parts = wire.encode({"sub": "alice", "gen": 0}, key=KEY, kid="k1").split(".")
    segment = parts[index]
    parts[index] = segment[:-2] + ("AA" if segment[-2:] != "AA" else "BB")
    with pytest.raises(TokenInvalidError):
        wire.decode(".".join(parts), keys={"k1": KEY})


def test_alg_none_is_refused():
    token = f"{b64({'alg': 'none', 'typ': wire.TYP, 'kid': 'k1'})}.{b64({'sub': 'alice'})}."
    with pytest.raises(TokenInvalidError):
        wire.decode(token, keys={"k1": KEY})


def test_algorithm_confusion_with_a_signed_token_is_refused():
    """An HS256 JWS made with the same secret bytes must not pass for a session token."""
    signed = jws.serialize_compact(
        {"alg": "HS256", "kid": "k1", "typ": wire.TYP}, b'{"sub":"alice"}', OctKey.import_key(b"k" * 32)
    )
    with pytest.raises(TokenInvalidError):
        wire.decode(signed, keys={"k1": KEY})


@pytest.mark.parametrize(
    ("header"),
    [
        {"alg": "A256KW", "enc": "A256GCM", "kid": "k1", "typ": wire.TYP},
        {"alg": "dir", "enc": "A128GCM", "kid": "k1", "typ": wire.TYP},
        {"alg": "dir", "enc": "A256GCM", "kid": "k1", "typ": "JWT"},
    ],
)
def test_other_algorithms_and_types_are_refused(header):
    token = f"{b64(header)}..{b64(b'iv')}.{b64(b'ct')}.{b64(b'tag')}"
    with pytest.raises(TokenInvalidError, match="unexpected algorithm"):
        wire.decode(token, keys={"k1": KEY})


@given(st.one_of(st.text(max_size=300), st.binary(max_size=300), st.none(), st.integers()))
def test_fuzz_random_input_raises_only_session_errors(value):
    with pytest.raises(SessionError):
        wire.decode(value, keys={"k1": KEY})


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


@given(json_values, json_values)
def test_fuzz_random_headers_and_payloads_raise_only_session_errors(header, payload):
    token = f"{b64(header)}.{b64(payload)}.{b64(b'x')}.{b64(b'y')}.{b64(b'z')}"
    with pytest.raises(SessionError):
        wire.decode(token, keys={"k1": KEY})


@given(
    st.one_of(
        st.text(max_size=200),
        st.builds(
            lambda h, p: f"{b64(h)}.{b64(p)}.{b64(b'i')}.{b64(b'c')}.{b64(b't')}", json_values, json_values
        ),
    )
)
def test_fuzz_manager_verify_raises_only_session_errors(value):
    from cloudkit.session import SessionManager

    manager = SessionManager(
        billing_url="http://127.0.0.1:9/billmgr", auth_url="http://127.0.0.1:9/v3", key=b"k" * 32
    )
    with pytest.raises(SessionError):
        manager.verify(value)
    manager.close()


def test_valid_encryption_with_bad_claims_is_invalid():
    from cloudkit.session import SessionManager

    manager = SessionManager(
        billing_url="http://127.0.0.1:9/billmgr", auth_url="http://127.0.0.1:9/v3", key=b"k" * 32
    )
    for claims in ({}, {"sub": "a"}, {"sub": "a", "jti": "j", "gen": True, "exp": 1, "ks": {}, "bl": {}}):
        with pytest.raises(TokenInvalidError):
            manager.verify(wire.encode(claims, key=KEY, kid="k1"))
    manager.close()
