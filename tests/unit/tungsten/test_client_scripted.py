"""The TF client against scripted answers (httpx.MockTransport): lost answers, odd servers, secrets."""

import json

import httpx
import pytest

from cloudkit._core._retry import RetryPolicy
from cloudkit.errors import ConflictError, ResponseDecodeError
from cloudkit.testing import FakeClock
from cloudkit.tungsten import TungstenClient, TungstenSettings

PROJECT = "01234567-89ab-cdef-0123-456789abcdef"
NEW = "00000000-0000-4000-8000-000000000001"
TOKEN = {
    "token": {
        "user": {"id": "u1", "name": "svc-tf", "domain": {"name": "Default"}},
        "project": {"id": "p1", "name": "service"},
        "roles": [{"name": "admin"}],
        "issued_at": "2030-01-01T00:00:00Z",
        "expires_at": "2030-01-01T01:00:00Z",
    }
}
NETWORK = {
    "virtual-network": {
        "uuid": NEW,
        "fq_name": ["default-domain", "alice", "net-1"],
        "parent_type": "project",
        "parent_uuid": PROJECT,
    }
}


class Script:
    """Answers requests from a list of (method, path, answer) in order; an exception is raised."""

    def __init__(self, steps):
        self.steps = list(steps)
        self.seen = []

    def __call__(self, request):
        self.seen.append((request.method, request.url.path))
        if request.url.path == "/v3/auth/tokens":
            return httpx.Response(201, json=TOKEN, headers={"X-Subject-Token": "svc-token"})
        method, path, answer = self.steps.pop(0)
        assert (request.method, request.url.path) == (method, path)
        assert request.headers["X-Auth-Token"] == "svc-token"
        if isinstance(answer, Exception):
            raise answer
        return answer


def client_for(script, clock=None):
    clock = clock or FakeClock()
    settings = TungstenSettings(
        url="http://tf:8082",
        auth_url="http://ks:5000/v3",
        username="svc-tf",
        password="pw-secret",
        project_name="service",
    )
    http = httpx.Client(transport=httpx.MockTransport(script))
    retry = RetryPolicy(attempts=4, jitter=0, sleep=clock.sleep, clock=clock)
    return TungstenClient(settings, http=http, retry=retry, clock=clock, new_uuid=lambda: NEW), http


PROJECT_READ = (
    "GET",
    f"/project/{PROJECT}",
    httpx.Response(200, json={"project": {"uuid": PROJECT, "fq_name": ["default-domain", "alice"]}}),
)


def test_a_create_whose_answer_was_lost_is_read_back_not_repeated():
    script = Script(
        [
            PROJECT_READ,
            ("POST", "/virtual-networks", httpx.ReadError("connection reset")),
            ("GET", f"/virtual-network/{NEW}", httpx.Response(200, json=NETWORK)),  # landed
            ("GET", f"/virtual-network/{NEW}", httpx.Response(200, json=NETWORK)),  # the read-back
        ]
    )
    client, http = client_for(script)
    with http:
        assert client.create_virtual_network(project_id=PROJECT, name="net-1").uuid == NEW
    assert [s for s in script.seen if s[0] == "POST" and s[1] != "/v3/auth/tokens"] == [
        ("POST", "/virtual-networks")
    ]


def test_a_repeated_create_that_finds_its_own_uuid_taken_is_done():
    taken = f"{NEW} already exists with fq_name: ['default-domain', 'alice', 'net-1']"
    script = Script(
        [
            PROJECT_READ,
            ("POST", "/virtual-networks", httpx.ReadError("connection reset")),
            ("GET", f"/virtual-network/{NEW}", httpx.ConnectError("refused")),  # cannot tell: repeat
            ("POST", "/virtual-networks", httpx.Response(409, text=taken)),
            ("GET", f"/virtual-network/{NEW}", httpx.Response(200, json=NETWORK)),
        ]
    )
    client, http = client_for(script)
    with http:
        assert client.create_virtual_network(project_id=PROJECT, name="net-1").uuid == NEW


def test_a_first_create_refused_as_existing_is_a_conflict():
    script = Script(
        [
            PROJECT_READ,
            (
                "POST",
                "/virtual-networks",
                httpx.Response(409, text="['default-domain', 'alice', 'net-1'] already exists with uuid: x"),
            ),
        ]
    )
    client, http = client_for(script)
    with http, pytest.raises(ConflictError) as info:
        client.create_virtual_network(project_id=PROJECT, name="net-1")
    assert "already exists" in info.value.message
    assert info.value.code is None  # TF's plain text has no code


def test_a_marker_that_does_not_advance_is_a_decode_error_not_a_loop():
    page = {"virtual-networks": [NETWORK], "marker": NEW}
    script = Script(
        [
            ("GET", "/virtual-networks", httpx.Response(200, json=page)),
            ("GET", "/virtual-networks", httpx.Response(200, json=page)),
        ]
    )
    client, http = client_for(script)
    with http, pytest.raises(ResponseDecodeError) as info:
        client.list_virtual_networks()
    assert info.value.problems == (f"$.marker: {NEW!r} repeats (after 1 pages)",)
    assert not script.steps


def test_a_list_that_never_ends_stops_at_the_page_cap(monkeypatch):
    monkeypatch.setattr("cloudkit.tungsten._client._MAX_PAGES", 3)
    pages = [{"virtual-networks": [], "marker": f"default-domain:p:n{i}:{NEW}"} for i in range(3)]
    script = Script([("GET", "/virtual-networks", httpx.Response(200, json=page)) for page in pages])
    client, http = client_for(script)
    with http, pytest.raises(ResponseDecodeError, match="within 3 pages"):
        client.list_virtual_networks()
    assert not script.steps


def test_an_empty_page_with_a_marker_is_not_the_end():
    # rbac filtering can leave a whole page invisible: only a null marker ends the list
    script = Script(
        [
            ("GET", "/virtual-networks", httpx.Response(200, json={"virtual-networks": [], "marker": "m1"})),
            (
                "GET",
                "/virtual-networks",
                httpx.Response(200, json={"virtual-networks": [NETWORK], "marker": None}),
            ),
        ]
    )
    client, http = client_for(script)
    with http:
        assert [n.uuid for n in client.list_virtual_networks()] == [NEW]
    assert not script.steps


def test_a_server_without_paging_answers_in_one_page():
    script = Script([("GET", "/virtual-networks", httpx.Response(200, json={"virtual-networks": [NETWORK]}))])
    client, http = client_for(script)
    with http:
        assert [n.uuid for n in client.list_virtual_networks()] == [NEW]


def test_an_html_answer_is_a_decode_error_and_no_secret_leaks():
    script = Script(
        [("GET", "/virtual-networks", httpx.Response(200, text="<html>svc-token pw-secret</html>"))]
    )
    client, http = client_for(script)
    with http, pytest.raises(ResponseDecodeError) as info:
        client.list_virtual_networks()
    text = f"{info.value} {info.value!r} {info.value.problems}"
    assert "svc-token" not in text
    assert "pw-secret" not in text


def test_errors_never_echo_the_token_or_password():
    script = Script(
        [("GET", "/virtual-networks", httpx.Response(409, text="conflict for svc-token and pw-secret"))]
    )
    client, http = client_for(script)
    with http, pytest.raises(ConflictError) as info:
        client.list_virtual_networks()
    assert "svc-token" not in f"{info.value} {info.value.detail}"
    assert "pw-secret" not in f"{info.value} {info.value.detail}"
    assert json.dumps(TOKEN)  # the scripted token body stays valid JSON
