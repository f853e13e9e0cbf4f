"""OpenStack contract tests: each runs against its cassette (``[cassette]``), the live fake (``[fake]``)
and the lab (``[lab]``: real Keystone, Nova, Cinder and Glance; see docs/lab.md).

Cassettes: ``cassettes/openstack/<operation>__<scenario>.yaml``, recorded from the lab. Faults are armed with
``backend.inject`` (in the fake, or in the lab's FaultProxy in front of Nova and Cinder; a cassette already
holds them). Ids in call logs are normalised to ``{id}`` and paths are relative to their service.
"""

import pytest

from cloudkit.errors import AuthenticationError, NotFoundError, PolicyError, SystemVolumeError
from cloudkit.openstack import AttachStrategy
from cloudkit.testing import Fault

FLAVOR = "2"  # m1.small in the fake's seed


def _image(client):
    return next(i for i in client.list_images() if i.os_distro == "ubuntu")


def _server(client, name="web-1"):
    return client.create_server(name, image=_image(client).id, flavor=FLAVOR, system_volume_size=10)


def test_list_images__portal(openstack_backend):
    client = openstack_backend.make_client()
    images = client.list_images()
    assert {i.os_distro for i in images} >= {"ubuntu"}
    assert all(i.status == "active" for i in images)


def test_list_flavors__portal(openstack_backend):
    flavors = openstack_backend.make_client().list_flavors()
    assert FLAVOR in {f.id for f in flavors}


def test_login__bad_password(openstack_backend):
    client = openstack_backend.make_client(password="not-the-Passw0rd")
    with pytest.raises(AuthenticationError) as info:
        client.list_images()
    assert "not-the-Passw0rd" not in f"{info.value} {info.value!r}"


def test_create_server__boot_from_volume(openstack_backend):
    client = openstack_backend.make_client()
    image = _image(client)
    calls = openstack_backend.make_client.calls
    calls.clear()
    server = client.create_server("web-1", image=image.id, flavor=FLAVOR, system_volume_size=10)
    assert (server.name, server.status) == ("web-1", "ACTIVE")
    assert server.system_volume_id is not None
    assert server.volume_ids == (server.system_volume_id,)
    system_volume = client.get_volume(server.system_volume_id)
    assert (system_volume.size, system_volume.bootable, system_volume.server_ids) == (10, True, (server.id,))
    assert ("POST", "/servers") in calls.api_calls()


@pytest.mark.quirk("openstack.system-volume")
def test_detach_volume__system_volume(openstack_backend):
    client = openstack_backend.make_client()
    server = _server(client)
    calls = openstack_backend.make_client.calls
    calls.clear()
    with pytest.raises(SystemVolumeError) as info:
        client.detach_volume(server.id, server.system_volume_id)
    assert info.value.quirk == "openstack.system-volume"
    with pytest.raises(SystemVolumeError):
        client.delete_volume(server.system_volume_id)
    assert calls.calls == []  # refused before any request


def test_attach_volume__nova(openstack_backend):
    client = openstack_backend.make_client()
    server = _server(client)
    volume = client.create_volume("data-1", size=20)
    attachment = client.attach_volume(server.id, volume.id)
    assert (attachment.server_id, attachment.volume_id) == (server.id, volume.id)
    assert volume.id in {a.volume_id for a in client.list_volume_attachments(server.id)}
    attached = client.get_volume(volume.id)
    assert (attached.status, attached.server_ids) == ("in-use", (server.id,))
    client.detach_volume(server.id, volume.id)
    assert client.get_volume(volume.id).status == "available"
    assert volume.id not in {a.volume_id for a in client.list_volume_attachments(server.id)}


@pytest.mark.quirk("openstack.cinder-attach-no-device")
def test_attach_volume__cinder_then_nova(openstack_backend):
    client = openstack_backend.make_client()
    server = _server(client)
    volume = client.create_volume("data-2", size=5)
    calls = openstack_backend.make_client.calls
    calls.clear()
    attachment = client.attach_volume(server.id, volume.id, strategy=AttachStrategy.CINDER_THEN_NOVA)
    assert attachment.volume_id == volume.id
    # Cinder's os-attach only wrote Cinder's records; cloudkit undid it and attached through Nova.
    actions = [c for c in calls.api_calls() if c[0] == "POST"]
    assert actions == [
        ("POST", "/volumes/{id}/action"),  # os-attach (Cinder only)
        ("POST", "/volumes/{id}/action"),  # os-detach (undo)
        ("POST", "/servers/{id}/os-volume_attachments"),  # the attach that reaches the guest
    ]
    assert volume.id in {a.volume_id for a in client.list_volume_attachments(server.id)}


def test_suspend_server__locked_with_reason(openstack_backend):
    client = openstack_backend.make_client()
    server = _server(client)
    suspended = client.suspend_server(server.id, reason="balance below zero")
    assert (suspended.status, suspended.locked, suspended.locked_reason) == (
        "SHUTOFF",
        True,
        "balance below zero",
    )
    resumed = client.resume_server(server.id)
    assert (resumed.status, resumed.locked) == ("ACTIVE", False)


def test_delete_server__with_system_volume(openstack_backend):
    client = openstack_backend.make_client()
    server = _server(client)
    client.delete_server(server.id)
    with pytest.raises(NotFoundError):
        client.get_server(server.id)
    with pytest.raises(NotFoundError):
        client.get_volume(server.system_volume_id)


def test_delete_server__locked(openstack_backend):
    """Nova refuses a member deleting a locked server (409); cloudkit refuses first (a PolicyError, before
    any change), or unlocks if asked."""
    client = openstack_backend.make_client()
    server = _server(client)
    client.suspend_server(server.id, reason="balance below zero")
    with pytest.raises(PolicyError, match=r"is locked \(balance below zero\)"):
        client.delete_server(server.id)
    client.delete_server(server.id, unlock=True)
    with pytest.raises(NotFoundError):
        client.get_server(server.id)


def test_snapshot__create_list_delete(openstack_backend):
    client = openstack_backend.make_client()
    volume = client.create_volume("data-3", size=1)
    snapshot = client.create_snapshot(volume.id, name="before-upgrade")
    assert (snapshot.volume_id, snapshot.status) == (volume.id, "available")
    assert [s.id for s in client.list_snapshots()] == [snapshot.id]
    client.delete_snapshot(snapshot.id)
    assert client.list_snapshots() == []


@pytest.mark.quirk("openstack.wsrep-not-ready")
def test_list_servers__wsrep_then_ok(openstack_backend):
    client = openstack_backend.make_client()
    client.list_images()  # authenticate first: the faults below hit Nova, not Keystone
    openstack_backend.inject(Fault.wsrep(), method="GET", path="/servers/detail", times=2)
    assert client.list_servers() == []
    assert openstack_backend.make_client.clock.sleeps == [0.2, 0.4]


def test_volume__create_list_delete(openstack_backend):
    client = openstack_backend.make_client()
    volume = client.create_volume("scratch", size=2)
    assert (volume.name, volume.size, volume.status) == ("scratch", 2, "available")
    assert [v.id for v in client.list_volumes()] == [volume.id]
    client.delete_volume(volume.id)
    assert client.list_volumes() == []


def test_list_servers__with_system_volumes(openstack_backend):
    client = openstack_backend.make_client()
    server = _server(client)
    fresh = openstack_backend.make_client()  # a client that has not seen the server finds its system volume
    (listed,) = fresh.list_servers()
    assert (listed.id, listed.system_volume_id) == (server.id, server.system_volume_id)
    assert fresh.get_server(server.id) == listed


def test_create_server__tagged(openstack_backend):
    """Tags (2.52) and metadata at create come back in the server body; cloudkit's marker does not."""
    client = openstack_backend.make_client()
    image = _image(client)
    server = client.create_server(
        "web-1",
        image=image.id,
        flavor=FLAVOR,
        system_volume_size=10,
        tags=["saga:42", "portal", "saga:42"],
        metadata={"billing_item": "7"},
    )
    assert (server.status, server.tags) == ("ACTIVE", ("portal", "saga:42"))  # deduplicated, sorted
    assert dict(server.metadata) == {"billing_item": "7"}
    fresh = openstack_backend.make_client()
    assert fresh.get_server(server.id) == server
    assert [s.id for s in fresh.list_servers(tags=["saga:42"])] == [server.id]


@pytest.mark.quirk("openstack.tag-filter-ignores-case")
def test_list_servers__by_tag(openstack_backend):
    """Nova's four tag filters (2.26) as a member uses them; an exact re-check of the case."""
    client = openstack_backend.make_client()
    image = _image(client)

    def create(name, tags):
        return client.create_server(name, image=image.id, flavor=FLAVOR, system_volume_size=10, tags=tags)

    one = create("one", ["saga:1", "portal"])
    two = create("two", ["saga:2", "portal"])

    def names(**filters):
        return sorted(s.name for s in client.list_servers(**filters))

    assert names(tags=["portal"]) == ["one", "two"]
    assert names(tags=["portal", "saga:1"]) == ["one"]
    assert names(tags_any=["saga:1", "saga:9"]) == ["one"]
    assert names(not_tags=["portal", "saga:1"]) == ["two"]
    assert names(not_tags_any=["saga:1"]) == ["two"]
    assert names(tags=["SAGA:1"]) == []  # Nova on MariaDB would list "one"; cloudkit compares exactly
    assert {one.id, two.id} == {s.id for s in client.list_servers(tags_any=["portal"])}
