"""The fake kit every fake and FaultProxy share: routing, fault matching, masking, in-process transport."""

import httpx
import pytest

from cloudkit.testing.fakes._kit import (
    Fault,
    FaultBook,
    FaultMatch,
    LoopbackFake,
    Reply,
    Request,
    RouteMiss,
    Router,
)


class _Echo(LoopbackFake):
    _what = "echo fake"

    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def _answer(self, request):
        if request.method == "POST":
            self.writes += 1
        return Reply.json(200, {"path": request.path, "writes": self.writes})


def test_router_answers_404_for_unknown_paths_and_405_for_known_ones():
    router: Router[str] = Router()
    router.add("GET", "/servers/{id}", "show")
    router.add("GET", "/images/{path:path}", "blob")
    assert router.resolve("GET", "/servers/7") == ("show", {"id": "7"})
    assert router.resolve("GET", "/images/a/b") == ("blob", {"path": "a/b"})
    with pytest.raises(RouteMiss) as missed:
        router.resolve("DELETE", "/servers/7")
    assert missed.value.status == 405
    with pytest.raises(RouteMiss) as missed:
        router.resolve("GET", "/servers/7/action")
    assert missed.value.status == 404


@pytest.mark.parametrize(
    ("template", "path", "taken"),
    [
        ("/servers", "/compute/v2.1/servers", True),
        ("/servers", "/compute/v2.1/servers/1/action", False),
        ("/servers/{id}/action", "/compute/v2.1/servers/1/action", True),
        ("/servers", "/compute/v2.1/xservers", False),
        ("/volumes/{id}", "/volume/v3/p/volumes/v1", True),
        ("/servers/", "/compute/v2.1/servers/", True),  # a trailing slash on either side is no matter
    ],
)
def test_a_fault_path_is_a_template_matched_on_whole_trailing_segments(template, path, taken):
    assert FaultMatch(path=template).matches(Request.build("GET", path, [], b"")) is taken


def test_faults_are_used_up_in_arming_order_and_swallow_passes_reads_by():
    book = FaultBook()
    book.arm(Fault.swallow_effect(), FaultMatch(), times=1)
    book.arm(Fault.server_error(503), FaultMatch(method="GET"), times=2)
    get = Request.build("GET", "/x", [], b"")
    post = Request.build("POST", "/x", [], b"")
    assert book.take(get, writes=False).status == 503
    assert book.take(post, writes=True).kind == "swallow_effect"
    assert book.take(get, writes=False).status == 503
    assert book.take(get, writes=False) is None
    with pytest.raises(ValueError, match="times must be at least 1"):
        book.arm(Fault.drop_connection(), FaultMatch(), times=0)


def test_inject_takes_a_match_or_its_fields_not_both():
    with pytest.raises(TypeError, match="not both"):
        _Echo().inject(Fault.drop_connection(), FaultMatch(method="GET"), path="/x")


def test_calls_mask_secret_headers_query_values_and_body_fields():
    fake = _Echo()
    with httpx.Client(transport=fake.transport()) as http:
        http.post(
            "http://echo.test/a?password=pw1&x=1", headers={"X-Auth-Token": "tok"}, data={"token": "t2"}
        )
        http.post("http://echo.test/b", json={"auth": {"password": "pw3", "user": "u"}})
    first, second = fake.calls
    assert (first.query, first.body, first.headers["x-auth-token"]) == (
        "password=***&x=1",
        "token=***",
        "***",
    )
    assert second.body == '{"auth": {"password": "***", "user": "u"}}'
    assert "pw" not in repr(fake.calls)


def test_the_transport_drops_before_and_after_the_effect_like_the_socket():
    fake = _Echo()
    fake.inject(Fault.drop_connection(), method="POST", times=1)
    fake.inject(Fault.drop_after_effect(), method="POST", times=1)
    with httpx.Client(transport=fake.transport()) as http:
        for _ in range(2):
            with pytest.raises(httpx.RemoteProtocolError):
                http.post("http://echo.test/x")
        assert http.post("http://echo.test/x").json()["writes"] == 2  # the dropped-after one landed
    assert [(c.status, c.fault) for c in fake.calls] == [
        (None, "drop_connection"),
        (None, "drop_after_effect"),
        (200, None),
    ]


def test_the_socket_and_the_transport_answer_the_same():
    fake = _Echo()
    fake.inject(Fault.server_error(502, "<html>bad gateway</html>"), path="/down")
    with fake, httpx.Client(trust_env=False) as http:
        over_socket = http.get(f"{fake.url}/down")
        after = http.get(f"{fake.url}/down")
    with httpx.Client(transport=fake.transport()) as http:
        in_process = http.get("http://echo.test/down")
    assert (over_socket.status_code, over_socket.text) == (502, "<html>bad gateway</html>")
    assert over_socket.headers["content-type"] == "text/html; charset=utf-8"
    assert (after.json(), in_process.json()) == ({"path": "/down", "writes": 0},) * 2
