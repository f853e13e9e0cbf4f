"""OpenStackClient against the live fake: exact call sequences, faults only a live server can show."""

import pytest

from cloudkit.errors import (
    ConflictError,
    InvalidArgumentError,
    ServerError,
    WaitTimeoutError,
)
from cloudkit.openstack import AttachStrategy
from cloudkit.testing import Fault
from cloudkit.testing.fakes import OpenStackFake
from cloudkit.testing.plugin import OpenStackClientFactory

FLAVOR = "2"


def _image_id(client):
    return next(i.id for i in client.list_images() if i.os_distro == "ubuntu")


def test_create_server_exact_call_sequence(openstack, openstack_calls):
    image = _image_id(openstack)
    openstack_calls.clear()
    server = openstack.create_server("web-1", image=image, flavor=FLAVOR, system_volume_size=10)
    assert openstack_calls.api_calls() == [
        ("POST", "/servers"),
        ("GET", "/servers/{id}"),  # ACTIVE: the result; its only volume is the system volume
    ]
    assert server.system_volume_id


def test_nova_attach_exact_call_sequence_and_no_cinder_attach(openstack, openstack_calls):
    server = openstack.create_server(
        "web-1", image=_image_id(openstack), flavor=FLAVOR, system_volume_size=10
    )
    volume = openstack.create_volume("data", size=1)
    openstack_calls.clear()
    openstack.attach_volume(server.id, volume.id)
    assert openstack_calls.api_calls() == [
        ("POST", "/servers/{id}/os-volume_attachments"),
        ("GET", "/volumes/{id}"),
        ("GET", "/servers/{id}/os-volume_attachments"),
    ]
    assert not [c for c in openstack_calls.calls if c[1].endswith("/action") or "/attachments" in c[1]]


@pytest.mark.quirk("openstack.cinder-attach-no-device")
def test_cinder_attach_that_reaches_the_guest_needs_no_fallback(
    make_openstack, openstack_fake, openstack_calls
):
    openstack_fake.cinder_attach_reaches_guest = True
    client = make_openstack()
    server = client.create_server("web-1", image=_image_id(client), flavor=FLAVOR, system_volume_size=10)
    volume = client.create_volume("data", size=1)
    openstack_calls.clear()
    client.attach_volume(server.id, volume.id, strategy=AttachStrategy.CINDER_THEN_NOVA)
    assert [c for c in openstack_calls.api_calls() if c[0] == "POST"] == [
        ("POST", "/volumes/{id}/action"),
    ]


def test_reads_retry_wsrep_then_give_up_with_a_note(openstack, openstack_fake, fake_clock):
    openstack.list_images()
    openstack_fake.inject(Fault.wsrep(), method="GET", path="/servers/detail", times=10)
    with pytest.raises(ServerError) as info:
        openstack.list_servers()
    assert info.value.quirk == "openstack.wsrep-not-ready"
    assert "after 4 attempts" in "".join(info.value.__notes__)
    assert fake_clock.sleeps == [0.2, 0.4, 0.8]


def test_create_volume_answer_lost_after_landing_is_not_duplicated(
    openstack, openstack_fake, openstack_calls
):
    openstack.list_images()
    openstack_fake.inject(Fault.drop_after_effect(), method="POST", path="/volumes", times=1)
    openstack_calls.clear()
    volume = openstack.create_volume("data-once", size=1)
    assert [v.id for v in openstack.list_volumes() if v.name == "data-once"] == [volume.id]
    posts = [r for r in openstack_fake.calls if r.method == "POST" and r.path.endswith("/volumes")]
    assert len(posts) == 1  # the lost answer was not followed by a second create


def test_create_server_answer_lost_after_landing_is_not_duplicated(openstack, openstack_fake):
    image = _image_id(openstack)
    openstack_fake.inject(Fault.drop_after_effect(), method="POST", path="/servers", times=1)
    server = openstack.create_server("web-once", image=image, flavor=FLAVOR, system_volume_size=10)
    assert [s.id for s in openstack.list_servers() if s.name == "web-once"] == [server.id]


def test_create_server_refused_before_landing_is_retried(openstack, openstack_fake):
    image = _image_id(openstack)
    openstack_fake.inject(Fault.drop_connection(), method="POST", path="/servers", times=1)
    server = openstack.create_server("web-retry", image=image, flavor=FLAVOR, system_volume_size=10)
    assert [s.id for s in openstack.list_servers() if s.name == "web-retry"] == [server.id]


def test_locked_server_refuses_customer_actions_and_is_not_retried(
    make_openstack, openstack_fake, openstack_calls
):
    client = make_openstack()
    server = client.create_server("web-1", image=_image_id(client), flavor=FLAVOR, system_volume_size=10)
    client.suspend_server(server.id, reason="balance below zero")
    openstack_calls.clear()
    with pytest.raises(ConflictError):
        client._read("start", lambda: client._conn.compute.start_server(server.id))
    assert len([c for c in openstack_calls.calls if c[0] == "POST"]) == 1


@pytest.fixture
def slow_cloud(fake_clock, openstack_calls):
    """A fake whose status transitions take 3 s on the test's fake clock (the client's sleeps move it)."""
    with OpenStackFake(clock=fake_clock, transition_seconds=3) as fake:
        factory = OpenStackClientFactory(fake.auth_url, fake_clock, openstack_calls)
        yield fake, factory
        factory.close()


def test_waits_poll_with_backoff_until_the_transition_completes(slow_cloud, fake_clock):
    _, make = slow_cloud
    client = make()
    volume = client.create_volume("slow", size=1)
    assert volume.status == "available"
    assert fake_clock.sleeps == [1.0, 2.0]  # 1 s, then doubled: the 3 s transition is over


def test_waits_are_bounded_and_name_the_last_status(slow_cloud, fake_clock):
    _, make = slow_cloud
    client = make()
    with pytest.raises(WaitTimeoutError) as info:
        client.create_volume("slow", size=1, wait=2)
    assert info.value.last_status == "creating"
    assert sum(fake_clock.sleeps) <= 2


def test_bad_arguments_send_nothing(openstack, openstack_calls):
    with pytest.raises(InvalidArgumentError):
        openstack.create_server("", image="i", flavor="f", system_volume_size=10)
    with pytest.raises(InvalidArgumentError):
        openstack.create_volume("v", size=0)
    with pytest.raises(InvalidArgumentError):
        openstack.suspend_server("s", reason=" ")
    assert openstack_calls.calls == []
