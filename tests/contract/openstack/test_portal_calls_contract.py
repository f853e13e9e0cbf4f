"""Contract tests of the portal's calls: keypairs, limits, availability zones, console output, flavors and
the streamed image upload. Each runs against its cassette (``[cassette]``), the live fake (``[fake]``) and
the lab (``[lab]``: real Nova, Cinder and Glance; see docs/lab.md), as test_openstack_contract.py does.

Cassettes: ``cassettes/openstack/<operation>__<scenario>.yaml``. A generated keypair's private key is
scrubbed from its cassette (``REDACTED``), so only a live backend shows the key itself.
"""

import base64
import hashlib

import attrs
import pytest

from cloudkit import Secret
from cloudkit.errors import ConflictError, NotFoundError

FLAVOR = "2"  # m1.small in the fake's seed and the lab's
# A throwaway public key (its private half was never kept): what a portal customer pastes.
PUBLIC_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMjPF53SlrMAYBcXYVyVYjd+jc9hpTPDWgN49F5GEgnB portal@laptop"


def _nova_fingerprint(public_key):
    """Nova's fingerprint of an SSH key: the MD5 of the key blob, colon-separated hex."""
    digest = hashlib.md5(base64.b64decode(public_key.split()[1]), usedforsecurity=False).hexdigest()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


def _server(client, name="web-1"):
    # by name: an openstacksdk functional run on the lab once left ubuntu-24.04 without its os_distro
    image = next(i for i in client.list_images() if i.name.startswith("ubuntu"))
    return client.create_server(name, image=image.id, flavor=FLAVOR, system_volume_size=10)


# ------------------------------------------------------------------------------ keypairs
def test_create_keypair__imported(openstack_backend):
    client = openstack_backend.make_client()
    calls = openstack_backend.make_client.calls
    pair = client.create_keypair("laptop", public_key=PUBLIC_KEY)
    assert (pair.name, pair.public_key, pair.type, pair.private_key) == ("laptop", PUBLIC_KEY, "ssh", None)
    assert pair.fingerprint == _nova_fingerprint(PUBLIC_KEY)
    assert client.list_keypairs() == [pair]
    client.delete_keypair("laptop")
    assert client.list_keypairs() == []
    with pytest.raises(NotFoundError):
        client.delete_keypair("laptop")
    assert calls.api_calls() == [
        ("POST", "/os-keypairs"),
        ("GET", "/os-keypairs"),
        ("DELETE", "/os-keypairs/laptop"),
        ("GET", "/os-keypairs"),
        ("DELETE", "/os-keypairs/laptop"),
    ]


def test_create_keypair__generated(openstack_backend):
    """Without a public key Nova generates the pair and hands out the private key once."""
    client = openstack_backend.make_client()
    pair = client.create_keypair("generated key")
    assert isinstance(pair.private_key, Secret)
    assert pair.private_key
    assert "PRIVATE KEY" not in repr(pair)
    if openstack_backend.live:  # a cassette holds the private key scrubbed
        assert pair.private_key.get_secret_value().startswith("-----BEGIN")
    assert pair.public_key.startswith("ssh-")
    (listed,) = client.list_keypairs()
    assert listed == attrs.evolve(pair, private_key=None)  # Nova keeps only the public half
    with pytest.raises(ConflictError):
        client.create_keypair("generated key", public_key=PUBLIC_KEY)
    client.delete_keypair("generated key")


# ------------------------------------------------------------------------------ limits
def test_compute_limits__portal(openstack_backend):
    client = openstack_backend.make_client()
    before = client.compute_limits()
    assert (before.instances.used, before.cores.used, before.ram_mib.used) == (0, 0, 0)
    flavor = client.get_flavor(FLAVOR)
    _server(client)
    after = client.compute_limits()
    assert (after.instances.used, after.cores.used, after.ram_mib.used) == (1, flavor.vcpus, flavor.ram)
    assert after.instances.limit == before.instances.limit
    if after.instances.limit is not None:
        assert after.instances.left == before.instances.left - 1


def test_volume_limits__portal(openstack_backend):
    client = openstack_backend.make_client()
    before = client.volume_limits()
    assert (before.volumes.used, before.gigabytes.used, before.snapshots.used) == (0, 0, 0)
    volume = client.create_volume("quota-1", size=2)
    client.create_snapshot(volume.id, name="quota-snap")
    after = client.volume_limits()
    # Cinder counts snapshots in the gigabytes quota (unless no_snapshot_gb_quota): 2 GiB + 2 GiB
    assert (after.volumes.used, after.gigabytes.used, after.snapshots.used) == (1, 4, 1)
    assert after.gigabytes.limit == before.gigabytes.limit


# ------------------------------------------------------------------------------ zones, console, flavors
def test_list_availability_zones__portal(openstack_backend):
    client = openstack_backend.make_client()
    assert client.list_availability_zones() == ["nova"]
    assert client.list_availability_zones("volume") == ["nova"]


def test_console_output__portal(openstack_backend):
    client = openstack_backend.make_client()
    server = _server(client)
    whole = client.console_output(server.id)
    lines = whole.splitlines()
    assert len(lines) >= 2
    assert client.console_output(server.id, length=1).splitlines() == lines[-1:]
    # more lines than there are: all of them (Nova keeps log.split("\n")[-length:])
    assert client.console_output(server.id, length=len(lines) + 1) == whole
    with pytest.raises(NotFoundError):
        client.console_output("00000000-0000-4000-8000-00000000dead")


def test_get_flavor__portal(openstack_backend):
    client = openstack_backend.make_client()
    listed = {f.id: f for f in client.list_flavors()}
    flavor = client.get_flavor(FLAVOR)
    assert listed[FLAVOR] == flavor
    assert (flavor.vcpus, flavor.ram) > (0, 0)
    with pytest.raises(NotFoundError):
        client.get_flavor("no-such-flavor")


# ------------------------------------------------------------------------------ image upload
@pytest.mark.quirk("openstack.glance-upload-octet-stream")
def test_upload_image__streamed(openstack_backend, tmp_path):
    """Create, then one PUT of the file streamed with Glance's one content type; progress up to the size."""
    client = openstack_backend.make_client()
    disk = tmp_path / "tiny.raw"
    disk.write_bytes(b"cloudkit portal test image, not a bootable disk\n" * 100)
    total = disk.stat().st_size
    sent_headers = []
    session = client._conn.session.session
    session.hooks["response"].append(
        lambda response, *_a, **_k: sent_headers.append(
            (response.request.method, response.request.headers.get("Content-Type"))
        )
    )
    client.list_images()  # authenticate and discover Glance first: the sequence below is the upload alone
    calls = openstack_backend.make_client.calls
    calls.clear()
    sent_headers.clear()
    progress = []
    image = client.upload_image(
        "portal-upload", disk, disk_format="raw", min_disk=1, progress=lambda s, t: progress.append((s, t))
    )
    assert calls.api_calls() == [
        ("POST", "/images"),
        ("PUT", "/images/{id}/file"),
        ("GET", "/images/{id}"),  # active: the result
    ]
    assert ("PUT", "application/octet-stream") in sent_headers
    assert (image.name, image.status, image.min_disk) == ("portal-upload", "active", 1)
    assert progress[0] == (0, total)
    assert progress[-1] == (total, total)
    assert [s for s, _ in progress] == sorted(s for s, _ in progress)
    assert client.get_image(image.id) == image
    client._conn.image.delete_image(image.id)


@pytest.mark.quirk("openstack.glance-upload-octet-stream")
def test_upload_image__other_content_type_is_415(openstack_backend):
    """The quirk itself, sent around cloudkit: Glance refuses image data that is not octet-stream."""
    client = openstack_backend.make_client()
    glance = client._conn.image  # raw requests through the client's own session
    body = {"name": "wrong-type", "disk_format": "raw", "container_format": "bare"}
    image_id = glance.post("/images", json=body, raise_exc=False).json()["id"]
    refused = glance.put(
        f"/images/{image_id}/file", data=b"abc", headers={"Content-Type": "text/plain"}, raise_exc=False
    )
    assert refused.status_code == 415
    assert glance.get(f"/images/{image_id}", raise_exc=False).json()["status"] == "queued"
    assert glance.delete(f"/images/{image_id}", raise_exc=False).status_code == 204
