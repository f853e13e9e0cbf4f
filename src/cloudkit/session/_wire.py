"""Pure encoding and decoding of the composite token (Keystone's replies are read by ``cloudkit._keystone``).

The token is a JWE in compact form: ``dir`` key management with ``A256GCM`` content encryption, so
the payload (including the wrapped Keystone token and billing session) is encrypted and authenticated
with one 256-bit key. The header carries ``kid`` for key rotation and a fixed ``typ``. Anything that
is not exactly that shape (``alg: none``, a JWS, another algorithm, a tampered byte, an unknown key)
is a :class:`~cloudkit.errors.TokenInvalidError`; nothing else escapes :func:`decode`.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from collections.abc import Mapping
from typing import Any

from joserfc import jwe
from joserfc.errors import JoseError
from joserfc.jwk import OctKey

from cloudkit.errors import TokenInvalidError

__all__ = ["ALG", "ENC", "TYP", "decode", "encode"]

ALG = "dir"
ENC = "A256GCM"
TYP = "cloudkit-session+jwe"
_KEY_BYTES = 32
_SEGMENTS = 5
_MAX_TOKEN = 16_384  # a session token is a few KiB at most; refuse to parse megabytes


def _invalid(reason: str) -> TokenInvalidError:
    return TokenInvalidError(f"invalid session token: {reason}", system="session", operation="verify")


def oct_key(raw: bytes) -> OctKey:
    """A 256-bit symmetric key for ``dir`` + ``A256GCM``."""
    if len(raw) != _KEY_BYTES:
        msg = f"session keys must be exactly {_KEY_BYTES} bytes, got {len(raw)}"
        raise ValueError(msg)
    return OctKey.import_key(raw)


def encode(claims: Mapping[str, Any], *, key: OctKey, kid: str) -> str:
    """Encrypt ``claims`` (JSON) into a compact JWE.

    Example:
        >>> from cloudkit.session._wire import decode, encode, oct_key
        >>> key = oct_key(bytes(32))
        >>> token = encode({"sub": "alice"}, key=key, kid="k1")
        >>> decode(token, keys={"k1": key})["sub"]
        'alice'
    """
    header = {"alg": ALG, "enc": ENC, "kid": kid, "typ": TYP}
    return jwe.encrypt_compact(
        header, json.dumps(dict(claims), separators=(",", ":")), key, algorithms=[ALG, ENC]
    )


def _diagnose(token: str, keys: Mapping[str, OctKey]) -> str:
    """Why a token failed: read its header again (only on the failure path, off the hot path)."""
    first = token.split(".", 1)[0]
    try:
        header = json.loads(base64.urlsafe_b64decode(first + "=" * (-len(first) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return "unreadable header"
    if not isinstance(header, dict):
        return "header is not an object"
    if header.get("alg") != ALG or header.get("enc") != ENC or header.get("typ") != TYP:
        return "unexpected algorithm or type"  # alg: none, JWS, algorithm confusion
    if not isinstance(header.get("kid"), str) or header["kid"] not in keys:
        return "unknown key id"
    return "decryption failed"


def decode(token: object, *, keys: Mapping[str, OctKey]) -> dict[str, Any]:
    """Decrypt and authenticate a compact JWE; its claims as a dict.

    joserfc parses the header once: ``algorithms`` pins ``dir`` + ``A256GCM`` (so ``alg: none``, a JWS
    or another algorithm never reaches a key) and the key lookup accepts only our ``typ`` and a known
    ``kid``, before any decryption.

    Raises:
        TokenInvalidError: for anything but a well-formed token encrypted with one of ``keys``.
    """
    if not isinstance(token, str) or not token or len(token) > _MAX_TOKEN or not token.isascii():
        raise _invalid("not a token string")
    if token.count(".") != _SEGMENTS - 1:
        raise _invalid("not a compact JWE")

    def choose_key(obj: Any) -> OctKey:
        header = obj.headers()
        kid = header.get("kid")
        key = keys.get(kid) if isinstance(kid, str) and header.get("typ") == TYP else None
        if key is None:
            raise KeyError(kid)
        return key

    try:
        result = jwe.decrypt_compact(token, choose_key, algorithms=[ALG, ENC])
        claims = json.loads(result.plaintext or b"")
    except (JoseError, ValueError, TypeError, KeyError, binascii.Error, UnicodeDecodeError) as exc:
        raise _invalid(_diagnose(token, keys)) from exc
    if not isinstance(claims, dict):
        raise _invalid("payload is not an object")
    return claims


def timestamp(value: dt.datetime) -> int:
    """Seconds since the epoch (JWT ``exp``/``iat`` style)."""
    return int(value.timestamp())
