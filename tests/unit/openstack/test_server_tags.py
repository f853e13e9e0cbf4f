"""Server tags and metadata: checked before any request, the lost-answer read-back by tag, tag filters."""

import re
from urllib.parse import parse_qs

import pytest

from cloudkit.errors import InvalidArgumentError, PolicyError
from cloudkit.openstack import Server
from cloudkit.testing import Fault
from cloudkit.testing.fakes import OpenStackFake
from cloudkit.testing.plugin import OpenStackClientFactory

FLAVOR = "2"
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _image_id(client):
    return next(i.id for i in client.list_images() if i.os_distro == "ubuntu")


def _create(client, name="web-1", **kwargs):
    return client.create_server(name, image=_image_id(client), flavor=FLAVOR, system_volume_size=10, **kwargs)


@pytest.mark.parametrize(
    ("tags", "message"),
    [
        (["a/b"], r"tags\[0\] must not contain '/' or ','"),
        (["ok", "a,b"], r"tags\[1\] must not contain"),
        ([""], r"tags\[0\] must be a non-empty string"),
        (["x" * 61], r"tags\[0\] is longer than 60 characters"),
        ([str(i) for i in range(51)], r"at most 50 tags, got 51"),
        ("saga:42", r"must be a list of strings, not a single string"),
        ([42], r"tags\[0\] must be a non-empty string"),
    ],
)
def test_bad_tags_are_refused_before_any_request(openstack, openstack_calls, tags, message):
    image = _image_id(openstack)
    openstack_calls.clear()
    with pytest.raises(InvalidArgumentError, match=message) as info:
        openstack.create_server("web-1", image=image, flavor=FLAVOR, system_volume_size=10, tags=tags)
    assert isinstance(info.value, PolicyError)  # refused by cloudkit: nothing was sent
    assert (info.value.system, info.value.operation) == ("openstack", "create_server")
    assert openstack_calls.calls == []


@pytest.mark.parametrize(
    ("metadata", "message"),
    [
        ({"saga/id": "1"}, r"metadata key 'saga/id'"),
        ({"": "1"}, r"metadata key ''"),
        ({"k" * 256: "1"}, r"metadata key 'kkk"),
        ({"saga": "v" * 256}, r"metadata\['saga'\] must be a string of at most 255"),
        ({"saga": 1}, r"metadata\['saga'\] must be a string"),
        ({"cloudkit_request": "x"}, r"cloudkit's own create marker"),
        (["saga"], r"metadata must be a mapping"),
    ],
)
def test_bad_metadata_is_refused_before_any_request(openstack, openstack_calls, metadata, message):
    image = _image_id(openstack)
    openstack_calls.clear()
    with pytest.raises(InvalidArgumentError, match=message) as info:
        openstack.create_server("web-1", image=image, flavor=FLAVOR, system_volume_size=10, metadata=metadata)
    assert "v" * 256 not in str(info.value)  # values are never echoed
    assert openstack_calls.calls == []


def test_sixty_characters_and_fifty_tags_are_fine(openstack):
    tags = ["t" * 60, *(f"n{i}" for i in range(49))]
    server = _create(openstack, tags=tags, metadata={"k" * 255: "v" * 255})
    assert sorted(server.tags) == sorted(tags)
    assert dict(server.metadata) == {"k" * 255: "v" * 255}


def test_created_server_carries_its_tags_and_metadata_without_the_marker(openstack, openstack_fake):
    server = _create(openstack, tags=["saga:42", "portal", "saga:42"], metadata={"billing_item": "7"})
    assert server.tags == ("portal", "saga:42")  # duplicates dropped; Nova lists tags sorted
    assert dict(server.metadata) == {"billing_item": "7"}  # cloudkit's marker is not the caller's
    (stored,) = openstack_fake.servers()
    assert stored.metadata == {"billing_item": "7", "cloudkit_request": "marker-1"}
    assert stored.tags == ("portal", "saga:42")
    assert openstack.get_server(server.id) == server
    assert hash(server) == hash(openstack.get_server(server.id))  # still hashable with metadata


def test_create_without_tags_sends_no_tags(openstack, openstack_fake):
    _create(openstack)
    (post,) = [c for c in openstack_fake.calls if c.method == "POST" and c.path.endswith("/servers")]
    assert '"tags"' not in post.body


def _nova_calls(fake, since=0):
    """Nova requests as the fake received them (answered or not): method, path below v2.1, query, fault."""
    return [
        (c.method, _UUID.sub("{id}", c.path.removeprefix("/compute/v2.1")), parse_qs(c.query), c.fault)
        for c in fake.calls[since:]
        if c.path.startswith("/compute/v2.1/")
    ]


def test_lost_answer_is_found_by_tag_exact_call_sequence(openstack, openstack_fake):
    """The POST lands, its answer is lost: one read of the servers carrying the tags finds it."""
    image = _image_id(openstack)
    other = openstack.create_server("web-1", image=image, flavor=FLAVOR, system_volume_size=10)
    openstack_fake.inject(Fault.drop_after_effect(), method="POST", path="/servers", times=1)
    seen = len(openstack_fake.calls)
    server = openstack.create_server(
        "web-1", image=image, flavor=FLAVOR, system_volume_size=10, tags=["saga:42"]
    )
    assert _nova_calls(openstack_fake, seen) == [
        ("POST", "/servers", {}, "drop_after_effect"),  # landed; the answer was dropped
        ("GET", "/servers/detail", {"tags": ["saga:42"]}, None),  # the read-back, by tag: it is there
        ("GET", "/servers/{id}", {}, None),  # ACTIVE; no second POST
    ]
    assert {s.id for s in openstack.list_servers()} == {other.id, server.id}  # no duplicate
    assert server.tags == ("saga:42",)


def test_a_create_that_never_landed_is_sent_again_after_the_tag_read_back(openstack, openstack_fake):
    image = _image_id(openstack)
    openstack_fake.inject(Fault.drop_connection(), method="POST", path="/servers", times=1)
    seen = len(openstack_fake.calls)
    server = openstack.create_server(
        "web-1", image=image, flavor=FLAVOR, system_volume_size=10, tags=["saga:43"]
    )
    assert _nova_calls(openstack_fake, seen) == [
        ("POST", "/servers", {}, "drop_connection"),  # never reached Nova
        ("GET", "/servers/detail", {"tags": ["saga:43"]}, None),  # not there
        ("POST", "/servers", {}, None),
        ("GET", "/servers/{id}", {}, None),
    ]
    assert [s.id for s in openstack.list_servers(tags=["saga:43"])] == [server.id]


def test_list_filters_follow_nova(openstack, openstack_calls):
    a = _create(openstack, "a", tags=["saga:1", "portal"])
    b = _create(openstack, "b", tags=["saga:2", "portal"])
    c = _create(openstack, "c")

    def names(**filters):
        return sorted(s.name for s in openstack.list_servers(**filters))

    assert names(tags=["portal"]) == ["a", "b"]
    assert names(tags=["portal", "saga:1"]) == ["a"]
    assert names(tags_any=["saga:1", "saga:2"]) == ["a", "b"]
    assert names(not_tags=["portal", "saga:1"]) == ["b", "c"]
    assert names(not_tags_any=["saga:1", "saga:2"]) == ["c"]
    assert names(tags=["portal"], not_tags_any=["saga:2"]) == ["a"]
    assert names(tags=[]) == ["a", "b", "c"]  # an empty filter is no filter
    assert {a.id, b.id, c.id} == {s.id for s in openstack.list_servers()}


@pytest.mark.quirk("openstack.tag-filter-ignores-case")
def test_list_filters_are_exact_although_nova_on_mariadb_is_not(openstack, openstack_fake):
    """The lab's Nova 34 lists a server tagged ``Alpha`` for ``tags=alpha``; cloudkit re-checks exactly."""
    _create(openstack, "upper", tags=["Saga:1"])
    raw = openstack._conn.compute.get("/servers/detail?tags=saga:1", microversion="2.26").json()
    assert [s["name"] for s in raw["servers"]] == ["upper"]  # the fake matches as MariaDB does
    assert openstack.list_servers(tags=["saga:1"]) == []
    assert [s.name for s in openstack.list_servers(tags=["Saga:1"])] == ["upper"]


def test_bad_filter_tags_are_refused_before_any_request(openstack, openstack_calls):
    with pytest.raises(InvalidArgumentError, match=r"not_tags_any\[0\] must not contain"):
        openstack.list_servers(not_tags_any=["a,b"])
    assert openstack_calls.calls == []


def test_an_old_nova_is_refused_tags_before_the_create_is_sent(fake_clock, openstack_calls):
    with OpenStackFake(clock=fake_clock, compute_max_microversion="2.51") as old:
        factory = OpenStackClientFactory(old.auth_url, fake_clock, openstack_calls)
        try:
            client = factory()
            image = _image_id(client)
            with pytest.raises(PolicyError, match=r"tags at create need compute microversion 2\.52") as info:
                client.create_server("web-1", image=image, flavor=FLAVOR, system_volume_size=10, tags=["x"])
            assert not isinstance(info.value, InvalidArgumentError)
            assert not [c for c in old.calls if c.method == "POST" and c.path.endswith("/servers")]
            assert client.list_servers(tags=["x"]) == []  # 2.51 has the filters
        finally:
            factory.close()


def test_a_nova_that_would_ignore_the_filters_is_refused(fake_clock, openstack_calls):
    with OpenStackFake(clock=fake_clock, compute_max_microversion="2.25") as old:
        factory = OpenStackClientFactory(old.auth_url, fake_clock, openstack_calls)
        try:
            client = factory()
            with pytest.raises(PolicyError, match=r"tag filters need compute microversion 2\.26"):
                client.list_servers(tags_any=["x"])
            assert not [c for c in old.calls if c.path.endswith("/servers/detail")]
        finally:
            factory.close()


def test_server_model_keeps_tags_as_a_tuple_and_metadata_read_only():
    server = Server(id="s1", name="n", status="ACTIVE", tags=["b", "a"], metadata={"k": "v"})
    assert server.tags == ("b", "a")
    with pytest.raises(TypeError):
        server.metadata["k"] = "w"  # type: ignore[index]
    assert server == Server(id="s1", name="n", status="ACTIVE", tags=("b", "a"), metadata={"k": "v"})
