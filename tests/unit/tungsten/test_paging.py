"""Paged lists read every object exactly once, whatever page size TF really uses (issue 10, item 6).

The TF fake runs in process (``no-auth``, its ``transport()``): Keystone is a scripted token, so
hypothesis can try many shapes quickly. ``max_page_size`` makes the fake answer pages shorter than
the ``page_limit`` the client asks for, as a contrail-api with a smaller ``paginate_count`` would.
"""

import uuid

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cloudkit.testing.fakes.tungsten import TungstenFake
from cloudkit.tungsten import TungstenClient, TungstenSettings

TOKEN = {
    "token": {
        "user": {"id": "u1", "name": "svc-tf", "domain": {"name": "Default"}},
        "project": {"id": "p1", "name": "service"},
        "roles": [{"name": "admin"}],
        "expires_at": "2999-01-01T00:00:00Z",
    }
}
PROJECT = ["default-domain", "default-project"]


def _client(fake: TungstenFake, page_size: int) -> tuple[TungstenClient, httpx.Client]:
    tf = fake.transport()

    def route(request: httpx.Request) -> httpx.Response:
        if request.url.host == "ks":
            return httpx.Response(201, json=TOKEN, headers={"X-Subject-Token": "svc-token"})
        return tf.handle_request(request)

    http = httpx.Client(transport=httpx.MockTransport(route))
    settings_ = TungstenSettings(
        url="http://tf.test",
        auth_url="http://ks/v3",
        username="svc-tf",
        password="pw",
        project_name="service",
        page_size=page_size,
    )
    return TungstenClient(settings_, http=http), http


def _networks(fake: TungstenFake, count: int) -> list[str]:
    made = []
    with httpx.Client(transport=fake.transport(), base_url="http://tf.test") as http:
        for index in range(count):
            body = {"virtual-network": {"fq_name": [*PROJECT, f"net-{index:02d}"], "parent_type": "project"}}
            reply = http.post("/virtual-networks", json=body)
            assert reply.status_code == 200, reply.text
            made.append(reply.json()["virtual-network"]["uuid"])
    return made


@pytest.fixture(scope="module")
def shared_fake() -> TungstenFake:
    return TungstenFake(keystone_url="http://ks/v3", aaa_mode="no-auth")


def _project_id(fake: TungstenFake) -> str:
    [project] = [p for p in fake.objects("project") if p["fq_name"] == PROJECT]
    return uuid.UUID(project["uuid"]).hex


def _list_gets(fake: TungstenFake) -> list[str]:
    return [c.query for c in fake.calls if c.method == "GET" and c.path == "/virtual-networks"]


def test_max_page_size_caps_what_the_client_asks_and_reset_restores_it():
    fake = TungstenFake(keystone_url="http://ks/v3", aaa_mode="no-auth", max_page_size=2)
    _networks(fake, 3)
    with httpx.Client(transport=fake.transport(), base_url="http://tf.test") as http:
        page = http.get("/virtual-networks", params={"page_limit": 50, "page_marker": "None"}).json()
    assert len(page["virtual-networks"]) == 2
    assert page["marker"] is not None
    fake.max_page_size = None
    fake.reset()
    assert fake.max_page_size == 2
    with pytest.raises(ValueError, match="max_page_size"):
        TungstenFake(keystone_url="http://ks/v3", max_page_size=0)


@pytest.mark.parametrize("anchored", [False, True], ids=["all", "by-project"])
def test_short_pages_are_followed_to_the_end_marker(anchored):
    fake = TungstenFake(keystone_url="http://ks/v3", aaa_mode="no-auth", max_page_size=3)
    made = _networks(fake, 10)
    client, http = _client(fake, page_size=50)
    with http, client:
        project = _project_id(fake) if anchored else None
        listed = [n.uuid for n in client.list_virtual_networks(project_id=project)]
    assert len(listed) == len(set(listed))  # nothing twice
    assert set(made) <= set(listed)  # nothing lost
    assert len(listed) == 13  # with the three seeded networks
    gets = _list_gets(fake)
    assert len(gets) >= 5  # at most three per page
    assert all("page_limit=50" in q for q in gets)


@settings(max_examples=25)
@given(
    count=st.integers(min_value=0, max_value=12),
    cap=st.one_of(st.none(), st.integers(min_value=1, max_value=5)),
    page_size=st.integers(min_value=1, max_value=8),
    anchored=st.booleans(),
)
def test_every_object_is_read_exactly_once(shared_fake, count, cap, page_size, anchored):
    shared_fake.reset()
    shared_fake.max_page_size = cap
    made = _networks(shared_fake, count)
    client, http = _client(shared_fake, page_size=page_size)
    with http, client:
        project = _project_id(shared_fake) if anchored else None
        listed = [n.uuid for n in client.list_virtual_networks(project_id=project)]
    seeded = {v["uuid"] for v in shared_fake.objects("virtual-network")} - set(made)
    assert sorted(listed) == sorted([*made, *seeded])
    per_page = min(page_size, cap or page_size)
    assert len(_list_gets(shared_fake)) >= -(-len(listed) // per_page)
