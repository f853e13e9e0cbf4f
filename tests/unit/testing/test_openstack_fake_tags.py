"""The OpenStack fake's Nova tags and metadata, on the wire: Nova's 400 texts (copied from the lab's Nova 34
answers), microversion gates, the four list filters, tags in server bodies, the ``/tags`` subresource."""

import pytest

LATEST = "2.100"


@pytest.fixture
def nova(openstack):
    return openstack._conn.compute  # a keystoneauth adapter on the fake's Nova, as the portal user


@pytest.fixture
def spec(openstack):
    image = next(i.id for i in openstack.list_images() if i.os_distro == "ubuntu")
    root = {"boot_index": 0, "uuid": image, "source_type": "image", "destination_type": "volume"}
    return {
        "name": "probe",
        "flavorRef": "2",
        "networks": "none",
        "block_device_mapping_v2": [{**root, "volume_size": 3, "delete_on_termination": True}],
    }


def _post(nova, server, microversion=LATEST):
    return nova.post("/servers", json={"server": server}, microversion=microversion, raise_exc=False)


def _message(answer):
    assert answer.status_code == 400
    return answer.json()["badRequest"]["message"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            {"tags": ["a/b"]},
            "Invalid input for field/attribute 0. Value: a/b. 'a/b' does not match '^[^,/]*$'",
        ),
        (
            {"tags": ["ok", "a,b"]},
            "Invalid input for field/attribute 1. Value: a,b. 'a,b' does not match '^[^,/]*$'",
        ),
        (
            {"tags": ["x" * 61]},
            f"Invalid input for field/attribute 0. Value: {'x' * 61}. '{'x' * 61}' is too long",
        ),
        ({"tags": [""]}, "Invalid input for field/attribute 0. Value: . '' should be non-empty"),
        (
            {"metadata": {"a/b": "v"}},
            (
                "Invalid input for field/attribute metadata. Value: {'a/b': 'v'}. "
                "'a/b' does not match any of the regexes: '^[a-zA-Z0-9-_:. ]{1,255}$'"
            ),
        ),
        ({"metadata": {"k": 1}}, "Invalid input for field/attribute k. Value: 1. 1 is not of type 'string'"),
        (
            {"metadata": {"k": "v" * 256}},
            f"Invalid input for field/attribute k. Value: {'v' * 256}. '{'v' * 256}' is too long",
        ),
    ],
)
def test_bad_tags_and_metadata_get_novas_400(nova, spec, extra, message):
    assert _message(_post(nova, {**spec, **extra})) == message


def test_too_many_tags_get_novas_400(nova, spec):
    tags = [str(i) for i in range(51)]
    assert _message(_post(nova, {**spec, "tags": tags})) == (
        f"Invalid input for field/attribute tags. Value: {tags}. {tags} is too long"
    )


def test_tags_at_create_need_2_52(nova, spec):
    message = _message(_post(nova, {**spec, "tags": ["a"]}, microversion="2.51"))
    assert message.endswith(". Additional properties are not allowed ('tags' was unexpected)")
    assert message.startswith("Invalid input for field/attribute server. Value: {'name': 'probe'")


def test_tags_are_deduplicated_sorted_and_shown_from_2_26(nova, spec, openstack_fake):
    server_id = _post(nova, {**spec, "tags": ["zeta", "Alpha", "mid", "mid", "a", "A"]}).json()["server"][
        "id"
    ]
    shown = nova.get(f"/servers/{server_id}", microversion=LATEST).json()["server"]
    assert shown["tags"] == ["a", "A", "Alpha", "mid", "zeta"]  # as the lab's Nova lists them
    assert "tags" not in nova.get(f"/servers/{server_id}", microversion="2.25").json()["server"]
    (listed,) = nova.get("/servers/detail", microversion="2.26").json()["servers"]
    assert listed["tags"] == shown["tags"]
    assert openstack_fake.server(server_id).tags == tuple(shown["tags"])


def test_list_filters_from_2_26_case_insensitive_as_on_mariadb(nova, spec):
    _post(nova, {**spec, "name": "ab", "tags": ["a", "b"]})
    _post(nova, {**spec, "name": "plain"})

    def names(query, microversion=LATEST):
        answer = nova.get(f"/servers/detail?{query}", microversion=microversion).json()
        return sorted(s["name"] for s in answer["servers"])

    assert names("tags=a,b") == ["ab"]
    assert names("tags=a,zz") == []
    assert names("tags-any=zz,b") == ["ab"]
    assert names("not-tags=a") == ["plain"]
    assert names("not-tags-any=zz") == ["ab", "plain"]
    assert names("tags=a&not-tags=b") == []
    assert names("tags=A") == ["ab"]  # the lab's Nova 34 on MariaDB: tags=alpha lists a server tagged Alpha
    assert names("tags=zz", microversion="2.25") == ["ab", "plain"]  # below 2.26 Nova ignores the filter


def test_server_tags_subresource(nova, spec):
    server_id = _post(nova, {**spec, "tags": ["a"]}).json()["server"]["id"]
    base = f"/servers/{server_id}/tags"
    assert nova.get(base, microversion=LATEST).json() == {"tags": ["a"]}
    added = nova.put(f"{base}/b", microversion=LATEST, raise_exc=False)
    assert added.status_code == 201
    assert added.headers["Location"].endswith(f"/servers/{server_id}/tags/b")
    assert nova.put(f"{base}/b", microversion=LATEST, raise_exc=False).status_code == 204
    assert nova.get(f"{base}/b", microversion=LATEST, raise_exc=False).status_code == 204
    missing = nova.get(f"{base}/zz", microversion=LATEST, raise_exc=False)
    assert (missing.status_code, missing.json()["itemNotFound"]["message"]) == (
        404,
        f"Server {server_id} has no tag 'zz'",
    )
    replaced = nova.put(base, json={"tags": ["y", "x"]}, microversion=LATEST, raise_exc=False)
    assert (replaced.status_code, replaced.json()) == (200, {"tags": ["x", "y"]})
    bad = nova.put(base, json={"tags": ["a/b"]}, microversion=LATEST, raise_exc=False)
    assert bad.status_code == 400
    assert nova.delete(f"{base}/x", microversion=LATEST, raise_exc=False).status_code == 204
    gone = nova.delete(f"{base}/x", microversion=LATEST, raise_exc=False)
    assert gone.json()["itemNotFound"]["message"] == f"Instance {server_id} has no tag 'x'"
    assert nova.delete(base, microversion=LATEST, raise_exc=False).status_code == 204
    assert nova.get(base, microversion=LATEST).json() == {"tags": []}
    assert nova.get(base, microversion="2.25", raise_exc=False).status_code == 404
