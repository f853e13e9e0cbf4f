"""Cassette configuration on vcrpy: scrubbing, matching, and a recorder that refuses to save secrets.

Defence in depth, as the harness research recommends:

1. Structural scrubbing of every request: the values of ``auth``, ``authinfo``, ``password``,
   ``passwd`` and ``key`` become ``REDACTED``; the session id in a ``func=auth`` reply becomes
   ``REDACTED-SESSION`` and is remembered as a secret for the rest of the cassette.
2. Every declared secret (passwords from settings, session ids seen) is replaced wherever it appears,
   raw or URL-encoded, in URIs, headers and bodies of requests and responses.
3. :class:`GuardedPersister` checks the serialized cassette once more and refuses to write it if any
   known secret is still there.


Matching uses the ``billmgr`` matcher: method, path and the parsed parameters of query and body
(order-insensitive), after scrubbing, so a replay matches whatever session or port it runs with.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qsl, quote, quote_plus, urlencode, urlsplit, urlunsplit

__all__ = [
    "CASSETTE_HOST",
    "CASSETTE_SOURCES",
    "CassetteSecretError",
    "CassetteSource",
    "GuardedPersister",
    "SecretRegistry",
    "billing_vcr_config",
    "billmgr_matcher",
    "cassette_source",
    "openstack_lab_matcher",
    "openstack_matcher",
    "openstack_vcr_config",
    "safe_request_scrubber",
    "safe_response_scrubber",
    "session_matcher",
    "session_vcr_config",
]

CASSETTE_HOST = "billing.cassette"
REDACTED = "REDACTED"
SESSION_PLACEHOLDER = "REDACTED-SESSION"
_SECRET_PARAMS = frozenset({"auth", "authinfo", "password", "passwd", "confirm", "key"})
_MIN_SECRET = 4
# Headers that change on every recording (ports, clocks, lengths before scrubbing) and mean nothing
# to replay: dropped so a re-recording diffs only where behaviour changed.
_VOLATILE_HEADERS = frozenset({"host", "date", "content-length"})


class CassetteSecretError(RuntimeError):
    """A cassette about to be written still holds a known secret; nothing was written."""


class SecretRegistry:
    """Secrets that must never reach a cassette: declared up front or learned while recording.

    Example:
        >>> from cloudkit.testing import SecretRegistry
        >>> reg = SecretRegistry(["hunter2"])
        >>> reg.scrub("password=hunter2&x=1")
        'password=REDACTED&x=1'
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        """Start with ``secrets``."""
        self._secrets: set[str] = set()
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str) -> None:
        """Remember one more secret (too-short values are ignored: they would scrub ordinary text)."""
        if secret and len(secret) >= _MIN_SECRET and secret not in {REDACTED, SESSION_PLACEHOLDER}:
            self._secrets.add(secret)

    def forms(self) -> set[str]:
        """Every secret in the raw and URL-encoded forms it can take on the wire."""
        found: set[str] = set()
        for secret in self._secrets:
            found |= {secret, quote(secret, safe=""), quote_plus(secret, safe="")}
        return found

    def scrub(self, text: str) -> str:
        """``text`` with every known secret replaced by ``REDACTED`` (longest first)."""
        for form in sorted(self.forms(), key=len, reverse=True):
            text = text.replace(form, REDACTED)
        return text

    def found_in(self, text: str) -> list[str]:
        """Which secrets (masked) still occur in ``text``."""
        return [f"{s[:2]}***({len(s)} chars)" for s in self.forms() if s in text]


def _scrub_params(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(k, REDACTED if k in _SECRET_PARAMS and v else v) for k, v in pairs]


def _is_form(headers: Any) -> bool:
    value = headers.get("Content-Type") or headers.get("content-type") or ""
    if isinstance(value, list):
        value = value[0] if value else ""
    return "application/x-www-form-urlencoded" in str(value)


def _scrub_request(registry: SecretRegistry) -> Callable[[Any], Any]:
    def scrub(request: Any) -> Any:
        parts = urlsplit(request.uri)
        query = urlencode(_scrub_params(parse_qsl(parts.query, keep_blank_values=True)))
        request.uri = urlunsplit(("http", CASSETTE_HOST, parts.path, query, ""))
        body = request.body
        if isinstance(body, bytes) and body:
            if _is_form(request.headers):
                pairs = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
                body = urlencode(_scrub_params(pairs)).encode()
            request.body = registry.scrub(body.decode("utf-8", "replace")).encode()
        for name in list(request.headers):
            if name.lower() in {"authorization", "cookie", "x-auth-token"}:
                request.headers[name] = REDACTED
            elif name.lower() in _VOLATILE_HEADERS:
                del request.headers[name]
        return request

    return scrub


def _scrub_response(registry: SecretRegistry) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def scrub(response: dict[str, Any]) -> dict[str, Any]:
        body = response.get("body", {}).get("string", b"")
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body)
        _learn_session(text, registry)
        text = registry.scrub(text)
        response["body"]["string"] = text.encode()
        headers = response.get("headers", {})
        for name in list(headers):
            if name.lower() in _VOLATILE_HEADERS:
                del headers[name]
            elif name.lower() in {"set-cookie", "x-subject-token"}:
                headers[name] = [REDACTED]
            else:
                headers[name] = [registry.scrub(str(v)) for v in headers[name]]
        return response

    return scrub


def _learn_session(text: str, registry: SecretRegistry) -> None:
    """Remember the session id of a ``func=auth`` (or ``func=su``) reply so it is scrubbed everywhere."""
    try:
        doc = json.loads(text).get("doc", {})
    except (ValueError, AttributeError):
        return
    auth = doc.get("auth") if isinstance(doc, dict) else None
    nodes = auth if isinstance(auth, list) else [auth]
    for node in nodes:
        if isinstance(node, dict):
            for key in ("$id", "$"):
                value = node.get(key)
                if isinstance(value, str):
                    registry.add(value)


def billmgr_matcher(r1: Any, r2: Any) -> None:
    """Vcrpy matcher: same method, path and parameters (query + form body, any order).

    Raises AssertionError naming the difference, which vcrpy shows when nothing matches.
    """
    assert r1.method == r2.method, f"method {r1.method} != {r2.method}"  # noqa: S101 (vcrpy API)
    assert r1.path == r2.path, f"path {r1.path} != {r2.path}"  # noqa: S101
    p1, p2 = _params(r1), _params(r2)
    assert p1 == p2, f"params differ: {sorted(set(p1) ^ set(p2))}"  # noqa: S101


def _params(request: Any) -> list[tuple[str, str]]:
    pairs = parse_qsl(urlsplit(request.uri).query, keep_blank_values=True)
    body = request.body
    if isinstance(body, bytes) and body and _is_form(request.headers):
        pairs += parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
    elif isinstance(body, bytes) and body.startswith(b"--"):
        pairs += list(multipart_fields(body).items())
    return sorted(pairs)


def multipart_fields(body: bytes) -> dict[str, str]:
    """The plain (non-file) fields of a multipart/form-data body."""
    fields: dict[str, str] = {}
    for part in body.split(b"\r\n--"):
        head, _, value = part.partition(b"\r\n\r\n")
        marker = b'name="'
        if marker in head and b"filename=" not in head:
            name = head.split(marker, 1)[1].split(b'"', 1)[0].decode()
            fields[name] = value.rstrip(b"\r\n-").decode("utf-8", "replace")
    return fields


CassetteSource = Literal["fake", "lab", "live"]
"""What a cassette was recorded against: one of cloudkit's fakes, ``cloudkit lab``, or a live deployment."""

CASSETTE_SOURCES: tuple[CassetteSource, ...] = ("fake", "lab", "live")
"""Every ``CassetteSource``: a recording from a fake, from the lab or from a live deployment."""
_SOURCE_LINE = re.compile(r"^source: (\S+)\s*$", re.MULTILINE)


def cassette_source(text: str) -> CassetteSource:
    r"""The ``source`` a cassette's header names (``fake``, ``lab`` or ``live``).

    Every cassette cloudkit writes starts with a comment saying what it was recorded against and a
    top-level ``source`` key, which vcrpy ignores on load::

        # recorded against: cloudkit 0.1.0 against BillingFake (embedded fake)
        source: fake
        interactions:
        ...

    Raises ValueError when the cassette names no source, or an unknown one.

    Example:
        >>> from cloudkit.testing import cassette_source
        >>> cassette_source("# recorded against: lab\nsource: lab\ninteractions: []\n")
        'lab'
    """
    if text.lstrip().startswith("{"):
        with contextlib.suppress(ValueError, AttributeError):
            text = f"source: {json.loads(text).get('source')}"
    match = _SOURCE_LINE.search(text)
    if match is None:
        msg = "the cassette names no source (a top-level `source: fake|lab|live`)"
        raise ValueError(msg)
    value = match.group(1)
    for source in CASSETTE_SOURCES:
        if value == source:
            return source
    msg = f"unknown cassette source {value!r}; expected one of {', '.join(CASSETTE_SOURCES)}"
    raise ValueError(msg)


_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})


def _guess_source(cassette_dict: dict[str, Any]) -> CassetteSource:
    """``fake`` when every recorded request went to loopback, else ``live`` (cassettes of unknown origin)."""
    hosts = {urlsplit(str(request.uri)).hostname or "" for request in cassette_dict.get("requests", ())}
    return "fake" if hosts <= _LOOPBACK_HOSTS else "live"


class GuardedPersister:
    """A vcrpy persister that stamps what a cassette was recorded against and refuses secrets.

    The written file starts with ``# recorded against: ...`` and a top-level ``source`` key (see
    :func:`cassette_source`); ``source=None`` guesses it (``fake`` if every request went to loopback,
    else ``live``). Loading delegates to ``inner`` (vcrpy's filesystem persister by default).

    Example:
        >>> from cloudkit.testing import GuardedPersister, SecretRegistry
        >>> p = GuardedPersister(SecretRegistry(["hunter2"]), recorded_against="BillingFake", source="fake")
        >>> p.recorded_against, p.source
        ('BillingFake', 'fake')
    """

    def __init__(
        self,
        registry: SecretRegistry,
        *,
        recorded_against: str,
        source: CassetteSource | None = None,
        inner: Any = None,
        normalized: bool = False,
    ) -> None:
        """Guard with ``registry``; stamp cassettes with ``recorded_against``, ``source`` and, when their
        volatile values were normalized (:mod:`cloudkit.testing._normalize`), ``normalized: true``.
        """  # noqa: D205 (two-line summary)
        self.registry = registry
        self.recorded_against = recorded_against
        self.source = source
        self.inner = inner
        self.normalized = normalized

    def load_cassette(self, cassette_path: str | Path, serializer: Any) -> Any:
        """Load with ``inner``, or as vcrpy's filesystem persister does."""
        if self.inner is not None:
            return self.inner.load_cassette(cassette_path, serializer)
        from vcr.persisters.filesystem import FilesystemPersister  # noqa: PLC0415 (test-only dependency)

        return FilesystemPersister.load_cassette(cassette_path, serializer)

    def save_cassette(
        self, cassette_path: str | Path, cassette_dict: dict[str, Any], serializer: Any
    ) -> None:
        """Serialize, check for secrets, then write; raise :class:`CassetteSecretError` instead of leaking.

        A persister that does not write to files (``inner`` not vcrpy's filesystem one) saves after the
        check, without the header.
        """
        from vcr.persisters.filesystem import FilesystemPersister  # noqa: PLC0415 (test-only dependency)
        from vcr.serialize import serialize  # noqa: PLC0415

        data = serialize(cassette_dict, serializer)
        leaked = self.registry.found_in(data)
        if leaked:
            msg = f"refusing to save {cassette_path}: it still holds secrets {leaked}"
            raise CassetteSecretError(msg)
        inner = self.inner
        writes_files = inner is None or isinstance(inner, GuardedPersister | FilesystemPersister)
        if not writes_files and not (isinstance(inner, type) and issubclass(inner, FilesystemPersister)):
            inner.save_cassette(cassette_path, cassette_dict, serializer)
            return
        source = self.source or _guess_source(cassette_dict)
        against = self.registry.scrub(self.recorded_against).replace("\n", " ")
        path = Path(cassette_path)
        if data.lstrip().startswith("{"):  # the JSON serializer: the source is a key of the document
            document = json.loads(data)
            header = ""
            stamp: dict[str, Any] = {"recorded_against": against, "source": source}
            if self.normalized:
                stamp["normalized"] = True
            data = json.dumps({**stamp, **document}, indent=4)
        else:
            header = f"# recorded against: {against}\nsource: {source}\n"
            if self.normalized:
                header += "normalized: true\n"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(header + data, encoding="utf-8")


def billing_vcr_config(
    registry: SecretRegistry, *, recorded_against: str, source: CassetteSource | None = None
) -> dict[str, Any]:
    """``vcr_config`` for billing cassettes: scrubbing, ``billmgr`` matching and the guarded persister.

    Example:
        >>> from cloudkit.testing import SecretRegistry, billing_vcr_config
        >>> config = billing_vcr_config(SecretRegistry(["secret"]), recorded_against="BillingFake")
        >>> config["match_on"]
        ['billmgr']
    """
    return {
        "match_on": ["billmgr"],
        "before_record_request": _scrub_request(registry),
        "before_record_response": _scrub_response(registry),
        "decode_compressed_response": True,
        "persister": GuardedPersister(registry, recorded_against=recorded_against, source=source),
        "allow_playback_repeats": False,
    }


# ------------------------------------------------------------------------------------------ OpenStack
OPENSTACK_HOST = "openstack.cassette"
FAR_FUTURE = "2099-12-31T23:59:59.000000Z"
# The header of the lab's own admin requests (``cloudkit.lab._admin.LAB_ADMIN_HEADER``; spelled here so
# that loading cassette configuration never imports the lab).
_LAB_ADMIN_HEADER = "x-cloudkit-lab-admin"
_TOKEN_HEADERS = frozenset({"x-auth-token", "x-subject-token", "authorization", "cookie", "set-cookie"})


def _scrub_json_secrets(node: Any) -> Any:
    """Blank passwords, secrets, token ids and private keys (a keypair Nova generated) anywhere in a JSON
    document; far-future token expiry.
    """  # noqa: D205 (two-line summary)
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key in {"password", "secret", "original_password", "private_key"} and isinstance(value, str):
                out[key] = REDACTED
            elif key == "expires_at" and isinstance(value, str):
                # Replayed tokens must not expire, or keystoneauth re-authenticates mid-cassette.
                out[key] = FAR_FUTURE
            else:
                out[key] = _scrub_json_secrets(value)
        return out
    if isinstance(node, list):
        return [_scrub_json_secrets(item) for item in node]
    return node


def _scrub_json_body(body: bytes, registry: SecretRegistry) -> bytes:
    text = body.decode("utf-8", "replace")
    with contextlib.suppress(ValueError):  # not JSON: only the registry scrub applies
        text = json.dumps(_scrub_json_secrets(json.loads(text)), sort_keys=True)
    return registry.scrub(text).encode()


def _with_bytes_body(request: Any) -> Any:
    """A request whose body was a file (an image upload streams one) with that body as bytes.

    vcrpy keeps such a body as a file and hands out a new ``BytesIO`` on each read, which no matcher can
    compare and no YAML loader can read back; as bytes it is matched, scrubbed and saved like any other.
    """
    body = request.body
    if not hasattr(body, "read"):
        return request
    from vcr.request import Request  # noqa: PLC0415 (vcrpy is imported only where cassettes are used)

    return Request(request.method, request.uri, body.read(), dict(request.headers))


def _scrub_openstack_request(registry: SecretRegistry, *, keep_port: bool = False) -> Callable[[Any], Any]:
    def scrub(request: Any) -> Any:
        if any(name.lower() == _LAB_ADMIN_HEADER for name in request.headers):
            return None  # the lab's own set-up and clean-up: not part of what the test exercised
        request = _with_bytes_body(request)
        parts = urlsplit(request.uri)
        host = f"{OPENSTACK_HOST}:{parts.port}" if keep_port and parts.port else OPENSTACK_HOST
        request.uri = urlunsplit(("http", host, parts.path, parts.query, ""))
        if isinstance(request.body, bytes) and request.body:
            request.body = _scrub_json_body(request.body, registry)
        for name in list(request.headers):
            if name.lower() in _TOKEN_HEADERS:
                request.headers[name] = REDACTED
            elif name.lower() in _VOLATILE_HEADERS or name.lower() == "user-agent":
                del request.headers[name]
        return request

    return scrub


def _learn_subject_tokens(headers: dict[str, Any], registry: SecretRegistry) -> None:
    """Keystone's ``X-Subject-Token`` values in a recorded reply are secrets from now on."""
    for name in list(headers):
        if name.lower() == "x-subject-token":
            for value in headers[name]:
                registry.add(str(value))


def _scrub_openstack_response(registry: SecretRegistry) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def scrub(response: dict[str, Any]) -> dict[str, Any]:
        headers = response.get("headers", {})
        _learn_subject_tokens(headers, registry)
        body = response.get("body", {}).get("string", b"")
        if isinstance(body, bytes) and body:
            response["body"]["string"] = _scrub_json_body(body, registry)
        for name in list(headers):
            if name.lower() in _TOKEN_HEADERS:
                headers[name] = [REDACTED]
            elif name.lower() in _VOLATILE_HEADERS:
                del headers[name]
            else:
                headers[name] = [registry.scrub(str(v)) for v in headers[name]]
        return response

    return scrub


def openstack_matcher(r1: Any, r2: Any) -> None:
    """Match OpenStack requests on method, path, query and JSON body (any host or port: no server needed)."""
    assert r1.method == r2.method, f"method {r1.method} != {r2.method}"  # noqa: S101 (vcrpy API)
    assert r1.path == r2.path, f"path {r1.path} != {r2.path}"  # noqa: S101
    q1 = sorted(parse_qsl(urlsplit(r1.uri).query, keep_blank_values=True))
    q2 = sorted(parse_qsl(urlsplit(r2.uri).query, keep_blank_values=True))
    assert q1 == q2, f"query {q1} != {q2}"  # noqa: S101
    assert _json_or_bytes(r1.body) == _json_or_bytes(r2.body), "bodies differ"  # noqa: S101


def openstack_lab_matcher(r1: Any, r2: Any) -> None:
    """:func:`openstack_matcher` plus the port, for cassettes recorded from the lab.

    Against the lab, Keystone's ``GET /v3`` and Cinder's ``GET /v3`` differ only by port (each lab service
    and fault proxy has a fixed one).
    """
    openstack_matcher(r1, r2)
    assert r1.port == r2.port, f"port {r1.port} != {r2.port}"  # noqa: S101 (vcrpy API)


def _json_or_bytes(body: Any) -> Any:
    if not body:
        return None
    try:
        return json.loads(body)
    except (ValueError, TypeError):
        return body


def openstack_vcr_config(
    registry: SecretRegistry,
    *,
    recorded_against: str,
    lab: bool = False,
    source: CassetteSource | None = None,
) -> dict[str, Any]:
    """``vcr_config`` for OpenStack cassettes: token and password scrubbing, far-future token expiry.

    With ``lab=True`` (cassettes recorded from ``cloudkit lab``) ports are kept and matched, and the lab's
    own admin requests (header ``X-Cloudkit-Lab-Admin``) are never recorded.

    Example:
        >>> from cloudkit.testing import SecretRegistry, openstack_vcr_config
        >>> openstack_vcr_config(SecretRegistry(), recorded_against="OpenStackFake")["match_on"]
        ['openstack']
        >>> openstack_vcr_config(SecretRegistry(), recorded_against="lab", lab=True)["match_on"]
        ['openstack_lab']
    """
    return {
        "match_on": ["openstack_lab" if lab else "openstack"],
        "before_record_request": _scrub_openstack_request(registry, keep_port=lab),
        "before_record_response": _scrub_openstack_response(registry),
        "decode_compressed_response": True,
        "persister": GuardedPersister(registry, recorded_against=recorded_against, source=source),
        "allow_playback_repeats": False,
    }


# ------------------------------------------------------------------------------------------ any cassette
_SECRET_JSON_KEYS = frozenset({"password", "secret", "original_password", "passwd", "confirm", "authinfo"})
_REQUEST_SECRET_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "x-auth-token", "x-subject-token", "x-service-token"}
)


def _learn_json_secrets(node: Any, registry: SecretRegistry) -> Any:
    """Remember, then blank, the values of password-like keys anywhere in a JSON document."""
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key in _SECRET_JSON_KEYS and isinstance(value, str):
                registry.add(value)
                out[key] = REDACTED
            elif key == "token" and isinstance(value, dict) and isinstance(value.get("id"), str):
                registry.add(value["id"])  # Keystone's token-method login: {"token": {"id": ...}}
                out[key] = {**value, "id": REDACTED}
            else:
                out[key] = _learn_json_secrets(value, registry)
        return out
    if isinstance(node, list):
        return [_learn_json_secrets(item, registry) for item in node]
    return node


def _learn_secret_headers(headers: Any, registry: SecretRegistry) -> None:
    """Remember, then blank, token and credential headers; scrub known secrets from the others."""
    for name in list(headers):
        if name.lower() in _REQUEST_SECRET_HEADERS:
            value = str(headers[name])
            registry.add(value)
            registry.add(value.partition(" ")[2])  # "Bearer <token>": the token alone, too
            headers[name] = REDACTED
    for name in list(headers):
        if name.lower() not in _REQUEST_SECRET_HEADERS:
            headers[name] = registry.scrub(str(headers[name]))


def _learn_params(pairs: list[tuple[str, str]], registry: SecretRegistry) -> list[tuple[str, str]]:
    for key, value in pairs:
        if key in _SECRET_PARAMS and value:
            registry.add(value)
    return _scrub_params(pairs)


def safe_request_scrubber(registry: SecretRegistry) -> Callable[[Any], Any]:
    """The scrubbing every recorded request gets while cloudkit's plugin is loaded, whatever ``vcr_config``.

    Values of secret parameters (``auth``, ``authinfo``, ``password``, ``passwd``, ``confirm``, ``key``)
    in the query and in form bodies, of password-like keys and Keystone ``token.id`` in JSON bodies, and
    the ``Authorization``, ``Cookie``, ``X-Auth-Token``, ``X-Subject-Token`` and ``X-Service-Token``
    headers become ``REDACTED``; the values are remembered, so they are scrubbed wherever else they
    appear (and :class:`GuardedPersister` refuses a cassette that still holds one). Host, port
    and path stay as they were, so the user's own matchers keep working.

    Example:
        >>> from types import SimpleNamespace
        >>> from cloudkit.testing import SecretRegistry, safe_request_scrubber
        >>> registry = SecretRegistry()
        >>> request = SimpleNamespace(uri="http://127.0.0.1:8/billmgr?out=json", headers={
        ...     "Content-Type": "application/x-www-form-urlencoded"}, body=b"func=auth&password=hunter2")
        >>> safe_request_scrubber(registry)(request).body
        b'func=auth&password=REDACTED'
        >>> registry.scrub("again: hunter2")
        'again: REDACTED'
    """

    def scrub(request: Any) -> Any:
        parts = urlsplit(request.uri)
        pairs = parse_qsl(parts.query, keep_blank_values=True)
        if any(key in _SECRET_PARAMS for key, _ in pairs):
            query = urlencode(_learn_params(pairs, registry))
            request.uri = urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))
        body = request.body
        if isinstance(body, bytes | str) and body:
            text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
            if _is_form(request.headers):
                text = urlencode(_learn_params(parse_qsl(text, keep_blank_values=True), registry))
            elif text.lstrip().startswith(("{", "[")):
                with contextlib.suppress(ValueError):
                    text = json.dumps(_learn_json_secrets(json.loads(text), registry), sort_keys=True)
            request.body = registry.scrub(text).encode()
        _learn_secret_headers(request.headers, registry)
        request.uri = registry.scrub(request.uri)
        if isinstance(request.body, bytes) and request.body:
            request.body = registry.scrub(request.body.decode("utf-8", "replace")).encode()
        return request

    return scrub


def safe_response_scrubber(registry: SecretRegistry) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """The scrubbing every recorded response gets while cloudkit's plugin is loaded, whatever ``vcr_config``.

    A billing session id in a ``func=auth`` reply and a Keystone ``X-Subject-Token`` are learned as
    secrets; every known secret is replaced in the body and headers; ``Set-Cookie`` and
    ``X-Subject-Token`` become ``REDACTED``.

    Example:
        >>> from cloudkit.testing import SecretRegistry, safe_response_scrubber
        >>> registry = SecretRegistry()
        >>> reply = {"headers": {}, "body": {"string": b'{"doc": {"auth": {"$id": "s3ss10n-id"}}}'}}
        >>> safe_response_scrubber(registry)(reply)["body"]["string"]
        b'{"doc": {"auth": {"$id": "REDACTED"}}}'
    """

    def scrub(response: dict[str, Any]) -> dict[str, Any]:
        headers = response.get("headers", {})
        _learn_subject_tokens(headers, registry)
        body = response.get("body", {}).get("string", b"")
        if isinstance(body, bytes | str) and body:
            text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
            _learn_session(text, registry)
            response["body"]["string"] = registry.scrub(text).encode()
        for name in list(headers):
            if name.lower() in {"set-cookie", "x-subject-token"}:
                headers[name] = [REDACTED]
            else:
                headers[name] = [registry.scrub(str(v)) for v in headers[name]]
        return response

    return scrub


# ------------------------------------------------------------------------------------------ session
def _is_billing(request: Any) -> bool:
    return str(urlsplit(request.uri).path).endswith("/billmgr")


def session_matcher(r1: Any, r2: Any) -> None:
    """Billing requests match as billing's, Keystone requests as OpenStack's (a session cassette has both)."""
    assert _is_billing(r1) == _is_billing(r2), "billing and Keystone requests never match"  # noqa: S101
    (billmgr_matcher if _is_billing(r1) else openstack_matcher)(r1, r2)


def session_vcr_config(
    registry: SecretRegistry, *, recorded_against: str, source: CassetteSource | None = None
) -> dict[str, Any]:
    """``vcr_config`` for session cassettes: billing scrubbing for billing, OpenStack's for Keystone.

    Example:
        >>> from cloudkit.testing import SecretRegistry, session_vcr_config
        >>> session_vcr_config(SecretRegistry(), recorded_against="fakes")["match_on"]
        ['session']
    """
    billing_request, keystone_request = _scrub_request(registry), _scrub_openstack_request(registry)
    billing_response, keystone_response = _scrub_response(registry), _scrub_openstack_response(registry)
    seen: dict[str, bool] = {}  # vcrpy scrubs a response without its request: remember which it was

    def scrub_request(request: Any) -> Any:
        billing = _is_billing(request)
        seen["billing"] = billing
        return billing_request(request) if billing else keystone_request(request)

    def scrub_response(response: dict[str, Any]) -> dict[str, Any]:
        return billing_response(response) if seen.get("billing") else keystone_response(response)

    return {
        "match_on": ["session"],
        "before_record_request": scrub_request,
        "before_record_response": scrub_response,
        "decode_compressed_response": True,
        "persister": GuardedPersister(registry, recorded_against=recorded_against, source=source),
        "allow_playback_repeats": False,
    }
