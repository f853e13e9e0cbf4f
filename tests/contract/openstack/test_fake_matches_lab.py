"""The embedded fake answers with the same fields as real Nova, Cinder and Glance (the lab).

One scenario (a boot-from-volume server with a second volume attached through Nova) runs on both; the
field names of each answer, nested, must be the same. Values differ by nature (ids, times, device names:
the lab's fake virt driver names disks ``/dev/sd*`` where libvirt says ``/dev/vd*``), so only a few
values that cloudkit reads are compared.

Known and accepted: Glance shows ``stores`` only when several stores are configured, as the lab's is.
"""

import pytest

from cloudkit.openstack import OpenStackClient, OpenStackSettings
from cloudkit.testing._lab_fixtures import LAB_PASSWORD

NOVA, CINDER = "2.96", "3.71"  # the newest each side offers; the fields asked for there


def _fields(node, prefix=""):
    names = set()
    if isinstance(node, dict):
        for key, value in node.items():
            names.add(prefix + key)
            names |= _fields(value, f"{prefix}{key}.")
    elif isinstance(node, list) and node:
        names |= _fields(node[0], f"{prefix}[].")
    return names


def _answers(client):
    conn = client._conn
    image = next(i for i in client.list_images() if i.os_distro == "ubuntu")
    server = client.create_server("Web_1 x", image=image.id, flavor="2", system_volume_size=10)
    data = client.create_volume("data", size=1)
    client.attach_volume(server.id, data.id)

    def get(proxy, path, microversion=None):
        answer = proxy.get(path, microversion=microversion, raise_exc=False)
        assert answer.status_code == 200, (path, answer.status_code, answer.text[:200])
        return answer.json()

    return {
        "server": get(conn.compute, f"/servers/{server.id}", NOVA),
        "servers": get(conn.compute, "/servers/detail", NOVA),
        "attachments": get(conn.compute, f"/servers/{server.id}/os-volume_attachments", NOVA),
        "flavor": get(conn.compute, "/flavors/2", NOVA),
        "volume": get(conn.block_storage, f"/volumes/{data.id}", CINDER),
        "volumes": get(conn.block_storage, "/volumes/detail", CINDER),
        "image": {k: v for k, v in get(conn.image, f"/images/{image.id}").items() if k != "stores"},
    }


def _portal(auth_url):
    """The per-test member on either backend (the lab's lab_tenant and the fake's seed share the name)."""
    settings = OpenStackSettings(
        auth_url=auth_url, username="portal", password=LAB_PASSWORD, project_name="alice", poll_interval=0.25
    )
    return OpenStackClient(settings)


@pytest.fixture
def lab_and_fake_clients(openstack_lab, lab_tenant, openstack_fake):
    with _portal(openstack_lab.auth_url) as lab, _portal(openstack_fake.auth_url) as fake:
        yield lab, fake


def test_fake_answers_with_the_fields_real_services_answer_with(lab_and_fake_clients):
    lab, fake = lab_and_fake_clients
    real, faked = _answers(lab), _answers(fake)
    for name in real:
        assert _fields(faked[name]) == _fields(real[name]), name
    for answers in (real, faked):
        server = answers["server"]["server"]
        assert server["OS-EXT-SRV-ATTR:hostname"] == "web-1-x"
        assert (server["status"], server["locked"], server["pinned_availability_zone"]) == (
            "ACTIVE",
            False,
            None,
        )
        volume = answers["volume"]["volume"]
        assert (volume["status"], volume["bootable"]) == ("in-use", "false")
        assert volume["attachments"][0]["host_name"] is None  # hidden from a member
        assert volume["created_at"].endswith(".000000")  # MySQL keeps whole seconds


def test_an_admin_sees_the_fields_a_member_does_not(openstack_lab, lab_tenant, openstack_fake):
    """migration_status, provider_id and cluster_name: shown to an admin only, on both."""
    hidden = {"migration_status", "provider_id", "cluster_name"}
    for auth_url in (openstack_lab.auth_url, openstack_fake.auth_url):
        with _portal(auth_url) as member:
            volume = member.create_volume("data", size=1)
            as_member = member._conn.block_storage.get(f"/volumes/{volume.id}", microversion=CINDER).json()
        admin_settings = OpenStackSettings(
            auth_url=auth_url,
            username="admin",
            password=openstack_lab.admin_password if auth_url == openstack_lab.auth_url else "secret",
            project_name="admin",
        )
        with OpenStackClient(admin_settings) as admin:
            as_admin = admin._conn.block_storage.get(f"/volumes/{volume.id}", microversion=CINDER).json()
        assert not hidden & set(as_member["volume"]), auth_url
        assert hidden <= set(as_admin["volume"]), auth_url
