"""The quirks as the services themselves show them, on the wire, against the fake and the lab (real Nova
and Cinder): the same assertions on both, which is what keeps the fake honest.

These use the SDK connection under a cloudkit client for the raw calls cloudkit itself never makes (it
refuses a system-volume detach before any request, for instance). Faults are armed with
``backend.inject``: in the fake, or in the lab's FaultProxy in front of real Nova and Cinder.
No cassettes: what is proven here is what real services answer.
"""

import pytest

from cloudkit.errors import SystemVolumeError
from cloudkit.openstack._client import _translate
from cloudkit.testing import Fault

FLAVOR = "2"
live = pytest.mark.parametrize("openstack_backend", ["fake", "lab"], indirect=True)


def _server(client):
    image = next(i for i in client.list_images() if i.os_distro == "ubuntu")
    return client.create_server("web-1", image=image.id, flavor=FLAVOR, system_volume_size=10)


def _cinder_view(conn, volume_id):
    volume = conn.block_storage.get_volume(volume_id)
    return volume.status, [a["server_id"] for a in volume.attachments or []]


def _wait_cinder(client, volume_id, status):
    client._poll("test", lambda: (client.get_volume(volume_id).status == status, None, "waiting"), 60)


@live
@pytest.mark.quirk("openstack.cinder-attach-no-device")
def test_cinder_os_attach_is_never_seen_by_nova(openstack_backend):
    client = openstack_backend.make_client()
    conn = client._conn
    server = _server(client)
    volume = client.create_volume("cinder-only", size=1)
    conn.block_storage.attach_volume(volume.id, "/dev/vdz", instance=server.id)
    _wait_cinder(client, volume.id, "in-use")
    assert _cinder_view(conn, volume.id) == ("in-use", [server.id])  # Cinder believes it is attached
    assert volume.id not in {a.volume_id for a in conn.compute.volume_attachments(server.id)}  # Nova does not
    answer = conn.compute.delete(f"/servers/{server.id}/os-volume_attachments/{volume.id}", raise_exc=False)
    assert answer.status_code == 404
    assert f"is not attached to volume {volume.id}" in answer.json()["itemNotFound"]["message"]


@live
@pytest.mark.quirk("openstack.system-volume")
def test_nova_refuses_to_detach_a_root_volume(openstack_backend):
    client = openstack_backend.make_client()
    conn = client._conn
    server = _server(client)
    path = f"/servers/{server.id}/os-volume_attachments/{server.system_volume_id}"
    answer = conn.compute.delete(path, raise_exc=False)
    assert (answer.status_code, answer.json()) == (
        400,
        {"badRequest": {"code": 400, "message": "Cannot detach a root device volume"}},
    )
    with pytest.raises(SystemVolumeError), _translate("detach_volume"):  # how cloudkit reads that answer
        conn.compute.delete_volume_attachment(server.id, server.system_volume_id)


@live
def test_a_users_cinder_detach_of_a_nova_attachment_conflicts(openstack_backend):
    client = openstack_backend.make_client()
    conn = client._conn
    server = _server(client)
    volume = client.create_volume("data", size=1)
    client.attach_volume(server.id, volume.id)
    answer = conn.block_storage.post(f"/volumes/{volume.id}/action", json={"os-detach": {}}, raise_exc=False)
    assert answer.status_code == 409
    assert "ConflictNovaUsingAttachment" in answer.json()["conflictingRequest"]["message"]
    assert _cinder_view(conn, volume.id) == ("in-use", [server.id])


@live
def test_deleting_an_in_use_volume_is_refused(openstack_backend):
    client = openstack_backend.make_client()
    conn = client._conn
    server = _server(client)
    volume = client.create_volume("data", size=1)
    client.attach_volume(server.id, volume.id)
    answer = conn.block_storage.delete(f"/volumes/{volume.id}", raise_exc=False)
    assert answer.status_code == 400
    assert answer.json()["badRequest"]["message"].startswith(
        "Invalid volume: Volume status must be available"
    )


@live
def test_create_server__answer_lost_after_nova_created_it(openstack_backend):
    """The POST reached Nova and the server exists, but the answer never came: no duplicate."""
    client = openstack_backend.make_client()
    client.list_images()  # authenticate first
    openstack_backend.inject(Fault.drop_after_effect(), method="POST", path="/servers")
    server = _server(client)
    assert [s.id for s in client.list_servers()] == [server.id]


@live
def test_create_volume__answer_lost_after_cinder_created_it(openstack_backend):
    client = openstack_backend.make_client()
    client.list_images()
    openstack_backend.inject(Fault.drop_after_effect(), service="volume", method="POST", path="/volumes")
    volume = client.create_volume("once", size=1)
    assert [v.id for v in client.list_volumes()] == [volume.id]


@live
@pytest.mark.quirk("openstack.wsrep-not-ready")
def test_list_volumes__wsrep_then_ok(openstack_backend):
    client = openstack_backend.make_client()
    volume = client.create_volume("kept", size=1)
    openstack_backend.inject(Fault.wsrep(), service="volume", method="GET", path="/volumes/detail", times=2)
    assert [v.id for v in client.list_volumes()] == [volume.id]
    assert openstack_backend.make_client.clock.sleeps[-2:] == [0.2, 0.4]


@live
def test_list_servers__slow_answer_times_out_and_is_retried(openstack_backend):
    """Nova holds one answer past the client's timeout: the read times out, is retried, and succeeds."""
    client = openstack_backend.make_client(timeout=1.0)
    client.list_images()
    openstack_backend.inject(Fault.slow(timeout=3.0), method="GET", path="/servers/detail")
    assert client.list_servers() == []
    assert openstack_backend.make_client.clock.sleeps == [0.2]  # one retry after the timed-out attempt


@live
def test_create_server__tagged_answer_lost_is_found_by_tag(openstack_backend):
    """The POST reached Nova, the answer was lost: the read-back asks Nova for the tag and finds it."""
    client = openstack_backend.make_client()
    image = next(i for i in client.list_images() if i.os_distro == "ubuntu")
    openstack_backend.inject(Fault.drop_after_effect(), method="POST", path="/servers")
    server = client.create_server(
        "web-1", image=image.id, flavor=FLAVOR, system_volume_size=10, tags=["saga:7"]
    )
    assert server.tags == ("saga:7",)
    assert [s.id for s in client.list_servers()] == [server.id]
    assert [s.id for s in client.list_servers(tags=["saga:7"])] == [server.id]


@live
@pytest.mark.quirk("openstack.tag-filter-ignores-case")
def test_nova_tag_filters_ignore_case_on_mariadb(openstack_backend):
    """Raw: ``tags=saga:x`` lists a server tagged ``Saga:X`` (the lab's Nova 34 on MariaDB; the fake too)."""
    client = openstack_backend.make_client()
    image = next(i for i in client.list_images() if i.os_distro == "ubuntu")
    client.create_server("upper", image=image.id, flavor=FLAVOR, system_volume_size=10, tags=["Saga:X"])
    with _translate("test"):
        answer = client._conn.compute.get("/servers/detail?tags=saga:x", microversion="2.26").json()
    assert [s["name"] for s in answer["servers"]] == ["upper"]
    assert client.list_servers(tags=["saga:x"]) == []
