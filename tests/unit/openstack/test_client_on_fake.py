"""OpenStackClient against the live fake: exact call sequences, faults only a live server can show."""

import openstack.connection
import pytest

from cloudkit import Poller
from cloudkit.errors import (
    ConfigError,
    ConflictError,
    InvalidArgumentError,
    ServerError,
    WaitTimeoutError,
)
from cloudkit.openstack import AttachStrategy, OpenStackClient, OpenStackSettings
from cloudkit.openstack._client import _cloud_of
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
    # polls at 0, 1, 1.5, 2.25 and 3.375 s: each 1.5 times as long after the start as the one before
    assert fake_clock.sleeps == [1.0, 0.5, 0.75, 1.125]


def test_later_waits_of_a_kind_poll_where_earlier_ones_ended(slow_cloud, fake_clock, openstack_calls):
    _, make = slow_cloud
    client = make()
    client.create_volume("first", size=1)  # the 3 s transition ended in (2.25, 3.375]
    fake_clock.sleeps.clear()
    openstack_calls.clear()
    assert client.create_volume("second", size=1).status == "available"
    # at the start of (2.25, 3.375] (not yet), then 7/8 into it: 3.234375 s, 8% after the transition
    assert fake_clock.sleeps == [2.25, 0.984375]
    assert openstack_calls.api_calls() == [
        ("POST", "/volumes"),
        ("GET", "/volumes/{id}"),
        ("GET", "/volumes/{id}"),
    ]
    # another kind of wait has learned nothing yet: a new server polls as the first volume did
    fake_clock.sleeps.clear()
    client.create_server("web", image=_image_id(client), flavor=FLAVOR, system_volume_size=10)
    assert fake_clock.sleeps == [1.0, 0.5, 0.75, 1.125]


def test_clients_sharing_a_poller_learn_together(slow_cloud, fake_clock):
    fake, _ = slow_cloud
    poller = Poller(first=1.0)
    settings = OpenStackSettings(
        auth_url=fake.auth_url, username="portal", password="portal-pass", project_name="alice"
    )
    clients = [
        OpenStackClient(settings, poller=poller, clock=fake_clock, sleep=fake_clock.sleep) for _ in range(2)
    ]
    with clients[0] as one, clients[1] as two:
        one.create_volume("first", size=1)
        fake_clock.sleeps.clear()
        two.create_volume("second", size=1)
    assert fake_clock.sleeps == [2.25, 0.984375]
    assert poller.bounds("create_volume:available", where=fake.auth_url) == (2.25, 3.234375)


def test_a_shared_poller_keeps_what_it_learns_apart_per_cloud(slow_cloud, fake_clock):
    fake, _ = slow_cloud
    poller = Poller(first=1.0)

    def client(auth_url, **kw):
        settings = OpenStackSettings(
            auth_url=auth_url, username="portal", password="portal-pass", project_name="alice", **kw
        )
        return OpenStackClient(settings, poller=poller, clock=fake_clock, sleep=fake_clock.sleep)

    with OpenStackFake(clock=fake_clock, transition_seconds=3) as other_cloud:
        elsewhere = other_cloud.auth_url
        with client(fake.auth_url) as one, client(elsewhere) as two:
            one.create_volume("first", size=1)
            fake_clock.sleeps.clear()
            two.create_volume("elsewhere", size=1)  # another cloud: polls as a first wait
            assert fake_clock.sleeps == [1.0, 0.5, 0.75, 1.125]
    assert poller.bounds("create_volume:available", where=fake.auth_url) == (2.25, 3.375)
    assert poller.bounds("create_volume:available", where=elsewhere) == (2.25, 3.375)
    assert poller.bounds("create_volume:available", where=f"{fake.auth_url} RegionTwo") is None
    # a client made from a connection to the same cloud (and region) shares what was learned
    settings = OpenStackSettings(
        auth_url=fake.auth_url, username="portal", password="portal-pass", project_name="alice"
    )
    connection = openstack.connection.Connection(**settings.connection_config())
    with OpenStackClient(
        connection=connection, poller=poller, clock=fake_clock, sleep=fake_clock.sleep
    ) as three:
        fake_clock.sleeps.clear()
        three.create_volume("third", size=1)
        assert fake_clock.sleeps == [2.25, 0.984375]
    connection.close()


@pytest.mark.parametrize("memory", [True, 8.0, "8"])
def test_poll_memory_is_an_int(memory):
    with pytest.raises(ConfigError, match="poll_memory must be an int"):
        OpenStackSettings(
            auth_url="http://ks.invalid/v3", username="u", password="p", project_name="a", poll_memory=memory
        )


def test_the_poll_knobs_come_from_the_settings(slow_cloud, fake_clock):
    _, make = slow_cloud
    client = make(poll_interval=0.5, poll_growth=2.0, poll_max_interval=1.0, poll_memory=0)
    client.create_volume("first", size=1)
    assert fake_clock.sleeps == [0.5, 0.5, 1.0, 1.0]  # polls at 0, 0.5, 1, 2 and 3 s
    fake_clock.sleeps.clear()
    client.create_volume("second", size=1)
    assert fake_clock.sleeps == [0.5, 0.5, 1.0, 1.0]  # memory 0: nothing learned


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


@pytest.mark.parametrize("cap", [1, 2])
def test_every_list_reads_every_page_when_the_server_caps_the_page_size(openstack, openstack_fake, cap):
    """A server's own page cap (Nova's ``max_limit``) is followed through its ``next`` links to the end."""
    for n in range(4):
        openstack_fake.add_image(f"extra-{n}")  # ubuntu, min_disk 1: the newest, so _image_id's choice
    servers = {
        openstack.create_server(f"vm-{n}", image=_image_id(openstack), flavor=FLAVOR, system_volume_size=1)
        for n in range(3)
    }
    data = {openstack.create_volume(f"data-{n}", size=1).id for n in range(3)}
    snapshots = {openstack.create_snapshot(volume, name="snap").id for volume in data}
    openstack_fake.max_page_size = cap
    seen = len(openstack_fake.calls)

    assert {s.id for s in openstack.list_servers()} == {s.id for s in servers}
    assert {v.id for v in openstack.list_volumes()} == data | {s.system_volume_id for s in servers}
    assert {s.id for s in openstack.list_snapshots()} == snapshots
    assert len(openstack.list_images()) == 7

    pages: dict[str, int] = {}
    for call in openstack_fake.calls[seen:]:
        assert (call.method, call.status) == ("GET", 200)
        resource = call.path.removesuffix("/detail").rsplit("/", 1)[-1]
        pages[resource] = pages.get(resource, 0) + 1
    # Nova and Cinder link a next page only when more is left; Glance after every full page.
    assert pages == {
        "servers": -(-3 // cap),
        "volumes": -(-6 // cap),
        "snapshots": -(-3 // cap),
        "images": 7 // cap + 1,
    }


def test_a_server_repeating_the_same_next_page_is_refused_not_looped(openstack, openstack_fake, monkeypatch):
    """openstacksdk stops when a ``next`` link names the marker it just used: no hard cap is needed."""
    from cloudkit.errors import CloudkitError
    from cloudkit.testing.fakes.openstack import _cloud

    for n in range(2):
        openstack.create_server(f"vm-{n}", image=_image_id(openstack), flavor=FLAVOR, system_volume_size=10)
    monkeypatch.setattr(_cloud, "page", lambda items, _req, key, _cap=None: (items[:1], key(items[0])))
    seen = len(openstack_fake.calls)
    with pytest.raises(CloudkitError, match="Endless pagination loop"):
        openstack.list_servers()
    assert len(openstack_fake.calls) - seen == 2


def test_the_cloud_a_poller_learns_for_is_keystone_and_the_region():
    settings = OpenStackSettings(
        auth_url="http://ks.invalid/v3", username="u", password="p", project_name="a", region_name="R2"
    )
    assert _cloud_of(settings, None) == "http://ks.invalid/v3 R2"
    connection = openstack.connection.Connection(**settings.connection_config())
    assert _cloud_of(None, connection) == "http://ks.invalid/v3 R2"
    connection.close()
    # a client on a connection that does not say where it goes is a cloud of its own, never one seen
    # before (each client names it once)
    unknown = object()
    assert _cloud_of(None, unknown).startswith("connection ")
    assert _cloud_of(None, unknown) != _cloud_of(None, unknown)
