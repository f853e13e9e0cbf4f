"""FaultProxy in front of the embedded OpenStack fake: passthrough, every fault kind, matching, records."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.client import HTTPConnection  # taken at import: a leaked cassette patch can't reach it

import httpx
import pytest

from cloudkit.testing import Fault, FaultProxy
from cloudkit.testing.fakes import OpenStackFake
from cloudkit.testing.fakes._kit import LoopbackFake, Reply, Request

VARYING = {"date", "x-openstack-request-id"}  # differ between any two answers of the same server


@pytest.fixture
def fake() -> Iterator[OpenStackFake]:
    with OpenStackFake() as running:
        yield running


@pytest.fixture
def proxy(fake: OpenStackFake) -> Iterator[FaultProxy]:
    with FaultProxy(fake.url, service="compute") as running:
        yield running


@pytest.fixture
def volume_proxy(fake: OpenStackFake) -> Iterator[FaultProxy]:
    with FaultProxy(fake.url, service="volume") as running:
        yield running


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    with httpx.Client(trust_env=False, timeout=10.0) as http:
        yield http


@pytest.fixture
def token(fake: OpenStackFake, client: httpx.Client) -> str:
    reply = client.post(f"{fake.auth_url}/auth/tokens", json=fake.portal.token_request())
    assert reply.status_code == 201
    return reply.headers["X-Subject-Token"]


def stable_headers(reply: httpx.Response) -> list[tuple[str, str]]:
    return sorted((k.lower(), v) for k, v in reply.headers.multi_items() if k.lower() not in VARYING)


def volumes_path(fake: OpenStackFake) -> str:
    return f"/volume/v3/{fake.portal.project_id}/volumes"


# ------------------------------------------------------------------------------------------ passthrough
@pytest.mark.parametrize(
    "path",
    [
        "/compute",
        "/compute/v2.1",
        "/compute/v2.1/flavors/detail",
        "/compute/v2.1/servers/detail?limit=1",
        "/compute/v2.1/flavors/nope",
        "/image/v2/images?limit=2",
    ],
)
def test_passthrough_answers_exactly_as_the_upstream(fake, proxy, client, token, path):
    direct = client.get(f"{fake.url}{path}", headers={"X-Auth-Token": token})
    proxied = client.get(f"{proxy.url}{path}", headers={"X-Auth-Token": token})
    assert (proxied.status_code, proxied.content) == (direct.status_code, direct.content)
    assert proxied.reason_phrase == direct.reason_phrase
    assert stable_headers(proxied) == stable_headers(direct)
    assert [(c.path, c.query) for c in fake.calls[-2:]] == [(path.partition("?")[::2])] * 2
    [call] = proxy.calls
    assert (call.status, call.upstream_status, call.fault) == (direct.status_code, direct.status_code, None)


def test_writes_pass_method_body_and_headers_through(fake, volume_proxy, client, token):
    headers = {"X-Auth-Token": token, "OpenStack-API-Version": "volume 3.60"}
    created = client.post(
        f"{volume_proxy.url}{volumes_path(fake)}", json={"volume": {"size": 1, "name": "v"}}, headers=headers
    )
    assert created.status_code == 202
    assert created.headers["OpenStack-API-Version"] == "volume 3.60"
    volume_id = created.json()["volume"]["id"]
    item = f"{volume_proxy.url}{volumes_path(fake)}/{volume_id}"
    renamed = client.put(item, json={"volume": {"name": "w"}}, headers=headers)
    assert (renamed.status_code, renamed.json()["volume"]["name"]) == (200, "w")
    assert client.delete(item, headers=headers).status_code == 202
    assert [(c.method, c.status) for c in fake.calls[-3:]] == [
        ("POST", 202),
        ("PUT", 200),
        ("DELETE", 202),
    ]
    assert fake.calls[-3].body == '{"volume": {"size": 1, "name": "v"}}'
    assert fake.calls[-3].headers["openstack-api-version"] == "volume 3.60"
    assert fake.calls[-3].headers["host"] == fake.url.removeprefix("http://")


def test_head_keeps_the_upstream_content_length(fake, proxy, client):
    direct = client.head(f"{fake.url}/compute")
    proxied = client.head(f"{proxy.url}/compute")
    assert proxied.status_code == 200
    assert proxied.headers["content-length"] == direct.headers["content-length"] != "0"
    assert proxied.content == b""


def test_a_chunked_request_body_reaches_the_upstream_whole(fake, volume_proxy, token):
    conn = HTTPConnection(volume_proxy.url.removeprefix("http://"), timeout=10)
    chunks = [b'{"volume": {"size": 1,', b' "name": "chunked"}}']
    conn.request(
        "POST",
        volumes_path(fake),
        body=iter(chunks),
        headers={"X-Auth-Token": token, "Content-Type": "application/json"},
        encode_chunked=True,
    )
    answer = conn.getresponse()
    answer.read()
    conn.close()
    assert answer.status == 202
    assert [v.name for v in fake.volumes()] == ["chunked"]
    assert "transfer-encoding" not in fake.calls[-1].headers
    assert fake.calls[-1].headers["content-length"] == str(len(b"".join(chunks)))


def test_hop_by_hop_headers_are_not_forwarded(fake, proxy, client):
    headers = {
        "Connection": "keep-alive, X-Only-This-Hop",
        "X-Only-This-Hop": "1",
        "Keep-Alive": "timeout=5",
        "Proxy-Authorization": "Basic eDp5",
        "TE": "trailers",
        "X-End-To-End": "2",
    }
    assert client.get(f"{proxy.url}/compute", headers=headers).status_code == 200
    seen = fake.calls[-1].headers
    assert seen["x-end-to-end"] == "2"
    assert not {"x-only-this-hop", "keep-alive", "proxy-authorization", "te"} & set(seen)


def test_an_upstream_path_is_put_before_the_request_path(fake, client):
    with FaultProxy(f"{fake.url}/compute/", service="compute") as proxy:
        reply = client.get(f"{proxy.url}/v2.1")
    assert reply.json()["version"]["id"] == "v2.1"
    assert fake.calls[-1].path == "/compute/v2.1"


class _HopByHopUpstream(LoopbackFake):
    _what = "hop upstream"

    def _answer(self, _request: Request) -> Reply:
        hops = [("Connection", "X-Hop"), ("X-Hop", "1"), ("Keep-Alive", "timeout=5"), ("Upgrade", "h2c")]
        return Reply(200, b"ok", "text/plain", (*hops, ("X-Kept", "2")))


def test_hop_by_hop_answer_headers_are_not_copied_back(client):
    with _HopByHopUpstream() as upstream, FaultProxy(upstream.url, service="image") as proxy:
        reply = client.get(f"{proxy.url}/anything")
    assert (reply.status_code, reply.content, reply.headers["x-kept"]) == (200, b"ok", "2")
    assert not {"x-hop", "keep-alive", "upgrade"} & set(reply.headers)


# ------------------------------------------------------------------------------------------ faults
@pytest.mark.parametrize(
    "fault",
    [
        Fault.server_error(),
        Fault.server_error(status=500),
        Fault.server_error(status=502, body="<html>bad gateway</html>"),
        Fault.server_error(status=429, body={"overLimit": {"code": 429}}),
        Fault.wsrep(),
        Fault.wsrep(echo=True),
    ],
    ids=["503", "500", "html", "json", "wsrep", "wsrep-echo"],
)
@pytest.mark.parametrize(
    ("service", "path"),
    [
        ("compute", "/compute/v2.1/flavors"),
        ("volume", "/volume/v3"),
        ("image", "/image/v2/images"),
        ("identity", "/identity/v3/users"),
    ],
)
def test_local_faults_answer_as_the_fake_does_and_never_reach_the_upstream(
    fake, client, fault, service, path
):
    fake.inject(fault, path=path)
    expected = client.get(f"{fake.url}{path}")
    fake.reset()
    with FaultProxy(fake.url, service=service) as proxy:
        proxy.inject(fault, path=path)
        got = client.get(f"{proxy.url}{path}")
    assert (got.status_code, got.headers["content-type"], got.content) == (
        expected.status_code,
        expected.headers["content-type"],
        expected.content,
    )
    assert got.headers["x-openstack-request-id"].startswith("req-")
    assert fake.calls == []
    [call] = proxy.calls
    assert (call.status, call.upstream_status, call.fault, call.service) == (
        fault.status,
        None,
        "error",
        service,
    )


def test_drop_connection_closes_without_forwarding(fake, proxy, client):
    proxy.inject(Fault.drop_connection(), path="/flavors")
    with pytest.raises(httpx.RemoteProtocolError):
        client.get(f"{proxy.url}/compute/v2.1/flavors")
    assert fake.calls == []
    assert client.get(f"{proxy.url}/compute/v2.1/flavors").status_code == 401  # no token: but answered
    assert [(c.status, c.upstream_status, c.fault) for c in proxy.calls] == [
        (None, None, "drop_connection"),
        (401, 401, None),
    ]


def test_drop_after_effect_lets_the_effect_land_upstream(fake, volume_proxy, client, token):
    volume_proxy.inject(Fault.drop_after_effect(), method="POST", path="/volumes")
    with pytest.raises(httpx.RemoteProtocolError):
        client.post(
            f"{volume_proxy.url}{volumes_path(fake)}",
            json={"volume": {"size": 1, "name": "lost"}},
            headers={"X-Auth-Token": token},
        )
    assert [v.name for v in fake.volumes()] == ["lost"]
    assert [(c.method, c.status) for c in fake.calls if c.service == "volume"] == [("POST", 202)]
    [call] = volume_proxy.calls
    assert (call.status, call.upstream_status, call.fault) == (None, 202, "drop_after_effect")


def test_slow_holds_until_released_then_forwards(fake, proxy, client):
    proxy.inject(Fault.slow(timeout=30.0), path="/compute")
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(client.get, f"{proxy.url}/compute")
        assert proxy.wait_until_held(timeout=10)
        assert fake.calls == []  # held before forwarding
        proxy.release_slow()
        reply = pending.result(timeout=10)
    assert reply.status_code == 200
    assert [(c.status, c.upstream_status, c.fault) for c in proxy.calls] == [(200, 200, "slow")]
    assert len(fake.calls) == 1


def test_a_release_made_in_advance_lets_the_next_slow_request_through(proxy, client):
    proxy.release_slow()
    proxy.inject(Fault.slow(timeout=30.0))
    assert client.get(f"{proxy.url}/compute").status_code == 200
    assert proxy.wait_until_held(timeout=0.0) is False


def test_stop_lets_a_held_request_go(fake, client):
    proxy = FaultProxy(fake.url, service="compute").start()
    proxy.inject(Fault.slow(timeout=30.0))
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(client.get, f"{proxy.url}/compute")
        assert proxy.wait_until_held(timeout=10)
        proxy.stop()
        assert pending.result(timeout=10).status_code == 200


# ------------------------------------------------------------------------------------------ matching
def test_times_counts_matching_requests(proxy, client):
    proxy.inject(Fault.wsrep(), path="/compute", times=2)
    statuses = [client.get(f"{proxy.url}/compute").status_code for _ in range(3)]
    assert statuses == [500, 500, 200]
    with pytest.raises(ValueError, match="times"):
        proxy.inject(Fault.wsrep(), times=0)


def test_method_is_matched_case_insensitively(proxy, client):
    proxy.inject(Fault.server_error(status=503), method="head")
    assert client.get(f"{proxy.url}/compute").status_code == 200
    assert client.head(f"{proxy.url}/compute").status_code == 503
    assert client.head(f"{proxy.url}/compute").status_code == 200


def test_path_matches_as_a_template_suffix_of_whole_segments(proxy, client):
    proxy.inject(Fault.server_error(status=503), path="/compute/v2.1/flavors/{id}")
    proxy.inject(Fault.server_error(status=502), path="/servers/detail")
    assert client.get(f"{proxy.url}/compute/v2.1/flavors").status_code == 401
    assert client.get(f"{proxy.url}/compute/v2.1/servers/detail?all_tenants=1").status_code == 502
    assert client.get(f"{proxy.url}/compute/v2.1/flavors/1").status_code == 503
    assert client.get(f"{proxy.url}/compute/v2.1/flavors/1").status_code == 401
    proxy.inject(Fault.wsrep(), path="/detail")  # a whole last segment, not a substring
    assert client.get(f"{proxy.url}/compute/v2.1/flavors/os-detail").status_code == 401
    assert client.get(f"{proxy.url}/compute/v2.1/flavors/detail").status_code == 500


def test_faults_are_taken_in_the_order_they_were_armed(proxy, client):
    proxy.inject(Fault.server_error(status=503), path="/compute")
    proxy.inject(Fault.server_error(status=502), path="/compute")
    assert [client.get(f"{proxy.url}/compute").status_code for _ in range(3)] == [503, 502, 200]


def test_reset_forgets_faults_requests_and_releases(proxy, client):
    proxy.inject(Fault.wsrep())
    proxy.release_slow()
    proxy.reset()
    assert client.get(f"{proxy.url}/compute").status_code == 200
    assert len(proxy.calls) == 1
    proxy.reset()
    assert proxy.calls == []


# ------------------------------------------------------------------------------------------ upstream down
def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_unreachable_upstream_answers_502(client):
    upstream = f"http://127.0.0.1:{_closed_port()}"
    with FaultProxy(upstream, service="compute", timeout=5.0) as proxy:
        reply = client.post(f"{proxy.url}/v2.1/servers", json={"server": {}})
        [call] = proxy.calls
    assert reply.status_code == 502
    assert reply.headers["content-type"].startswith("text/plain")
    assert reply.text == f"fault proxy: no answer from {upstream} (ConnectionRefusedError)\n"
    assert (call.method, call.status, call.upstream_status, call.fault) == ("POST", 502, None, None)


def test_an_https_upstream_is_reached_over_tls(client):
    upstream = f"https://127.0.0.1:{_closed_port()}"
    with FaultProxy(upstream, service="image") as proxy:
        reply = client.get(f"{proxy.url}/v2/images")
    assert reply.status_code == 502
    assert reply.text == f"fault proxy: no answer from {upstream} (ConnectionRefusedError)\n"


class _ClosingUpstream(LoopbackFake):
    _what = "closing upstream"

    def _answer(self, _request: Request) -> Reply:
        raise AssertionError("never answers")


def test_an_upstream_that_hangs_up_gives_502_and_drop_after_effect_still_drops(client):
    with _ClosingUpstream() as upstream, FaultProxy(upstream.url, service="volume") as proxy:
        upstream.inject(Fault.drop_connection(), times=2)  # reads the request, then hangs up
        assert client.get(f"{proxy.url}/v3").status_code == 502
        proxy.inject(Fault.drop_after_effect())
        with pytest.raises(httpx.RemoteProtocolError):
            client.get(f"{proxy.url}/v3")
    assert [(c.status, c.upstream_status, c.fault) for c in proxy.calls] == [
        (502, None, None),
        (None, None, "drop_after_effect"),
    ]


# ------------------------------------------------------------------------------------------ records
def test_recorded_requests_hold_no_token_or_password(fake, client):
    with FaultProxy(fake.url, service="identity") as proxy:
        issued = client.post(f"{proxy.url}/identity/v3/auth/tokens", json=fake.portal.token_request())
        token = issued.headers["X-Subject-Token"]
        client.get(
            f"{proxy.url}/identity/v3/auth/tokens",
            headers={"X-Auth-Token": token, "X-Subject-Token": token},
        )
    assert issued.status_code == 201
    text = repr(proxy.calls)
    assert token not in text
    assert fake.portal.password not in text
    first, second = proxy.calls
    assert '"password": "***"' in first.body
    assert second.headers["x-auth-token"] == second.headers["x-subject-token"] == "***"
    assert (second.method, second.path, second.query, second.status) == (
        "GET",
        "/identity/v3/auth/tokens",
        "",
        200,
    )


def test_requests_are_recorded_from_concurrent_clients(proxy, client):
    threads = [threading.Thread(target=client.get, args=(f"{proxy.url}/compute",)) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert [c.status for c in proxy.calls] == [200] * 8


# ------------------------------------------------------------------------------------------ lifecycle
def test_repr_shows_upstream_and_url_only(fake):
    proxy = FaultProxy(f"{fake.url}/", service="compute")
    assert repr(proxy) == f"FaultProxy(upstream='{fake.url}', url=None)"
    with proxy:
        assert repr(proxy) == f"FaultProxy(upstream='{fake.url}', url='{proxy.url}')"
    assert proxy.upstream == fake.url


def test_lifecycle_errors(fake):
    proxy = FaultProxy(fake.url, service="compute")
    with pytest.raises(RuntimeError, match="not running"):
        _ = proxy.url
    with proxy, pytest.raises(RuntimeError, match="already running"):
        proxy.start()
    proxy.stop()  # a second stop is harmless


def test_a_fixed_port_is_used(fake):
    port = _closed_port()
    with FaultProxy(fake.url, service="compute", port=port) as proxy:
        assert proxy.url == f"http://127.0.0.1:{port}"


@pytest.mark.parametrize(
    ("upstream", "service", "timeout", "message"),
    [
        ("ftp://127.0.0.1:21", "compute", 1.0, "http"),
        ("127.0.0.1:8774", "compute", 1.0, "http"),
        ("http://user:pw@127.0.0.1:8774", "compute", 1.0, "credentials"),
        ("http://127.0.0.1:8774?x=1", "compute", 1.0, "query"),
        ("http://127.0.0.1:8774", "network", 1.0, "service"),
        ("http://127.0.0.1:8774", "compute", 0.0, "timeout"),
    ],
)
def test_bad_arguments_are_refused(upstream, service, timeout, message):
    with pytest.raises(ValueError, match=message):
        FaultProxy(upstream, service=service, timeout=timeout)
