"""OpenStackSettings.endpoint_overrides: validation, openstacksdk config, and a FaultProxy on the path."""

from __future__ import annotations

from collections.abc import Iterator

import attrs
import pytest

from cloudkit.errors import ConfigError
from cloudkit.openstack import OpenStackSettings
from cloudkit.testing import Fault, FaultProxy
from cloudkit.testing.fakes import OpenStackFake

BASE = {
    "auth_url": "http://127.0.0.1:5000/v3",
    "username": "portal",
    "password": "pw",
    "project_name": "alice",
}
ENV = {
    "CLOUDKIT_OPENSTACK_AUTH_URL": "http://ks:5000/v3",
    "CLOUDKIT_OPENSTACK_USERNAME": "portal",
    "CLOUDKIT_OPENSTACK_PASSWORD": "pw",
    "CLOUDKIT_OPENSTACK_PROJECT_NAME": "alice",
}


# ------------------------------------------------------------------------------------------ settings
def test_no_overrides_by_default():
    settings = OpenStackSettings(**BASE)
    assert dict(settings.endpoint_overrides) == {}
    assert not [k for k in settings.connection_config() if k.endswith("_endpoint_override")]


def test_overrides_become_sdk_config_keys():
    settings = OpenStackSettings(
        **BASE,
        endpoint_overrides={
            "image": "http://127.0.0.1:19292",
            "compute": "http://127.0.0.1:18774/v2.1",
            "block_storage": "https://cinder.example:8776/v3/0123abcd",
        },
    )
    config = settings.connection_config()
    assert {k: v for k, v in config.items() if k.endswith("_endpoint_override")} == {
        "block_storage_endpoint_override": "https://cinder.example:8776/v3/0123abcd",
        "compute_endpoint_override": "http://127.0.0.1:18774/v2.1",
        "image_endpoint_override": "http://127.0.0.1:19292",
    }
    assert list(settings.endpoint_overrides) == ["block_storage", "compute", "image"]  # sorted


def test_overrides_are_a_read_only_copy_and_settings_stay_hashable():
    given = {"compute": "http://127.0.0.1:18774/v2.1"}
    settings = OpenStackSettings(**BASE, endpoint_overrides=given)
    given["image"] = "http://127.0.0.1:19292"
    assert dict(settings.endpoint_overrides) == {"compute": "http://127.0.0.1:18774/v2.1"}
    with pytest.raises(TypeError):
        settings.endpoint_overrides["image"] = "http://x"  # type: ignore[index]
    same = OpenStackSettings(**BASE, endpoint_overrides={"compute": "http://127.0.0.1:18774/v2.1"})
    assert same == settings
    assert hash(same) == hash(settings)
    assert attrs.evolve(settings, endpoint_overrides={}) != settings
    assert "endpoint" not in repr(settings)


@pytest.mark.parametrize("key", ["volume", "block-storage", "identity", "network", "Compute", ""])
def test_unknown_keys_are_refused_naming_the_allowed_ones(key):
    with pytest.raises(ConfigError, match="block_storage, compute, image") as info:
        OpenStackSettings(**BASE, endpoint_overrides={key: "http://127.0.0.1:1"})
    assert info.value.system == "openstack"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://127.0.0.1/v2.1", "http"),
        ("127.0.0.1:8774/v2.1", "http"),
        ("http:///v2.1", "http"),
        ("http://admin:secret@127.0.0.1:8774", "credentials"),
    ],
)
def test_bad_urls_are_refused_before_any_io(url, message):
    with pytest.raises(ConfigError, match=message) as info:
        OpenStackSettings(**BASE, endpoint_overrides={"compute": url})
    assert "endpoint_overrides['compute']" in str(info.value)
    assert "secret" not in str(info.value)


@pytest.mark.parametrize("value", ["compute=http://x", [("compute", "http://x")]])
def test_overrides_must_be_a_mapping(value):
    with pytest.raises(ConfigError, match="mapping"):
        OpenStackSettings(**BASE, endpoint_overrides=value)


def test_override_urls_must_be_strings():
    with pytest.raises(ConfigError, match="URL string"):
        OpenStackSettings(**BASE, endpoint_overrides={"compute": 8774})


def test_none_means_no_overrides():
    assert dict(OpenStackSettings(**BASE, endpoint_overrides=None).endpoint_overrides) == {}


def test_from_env_reads_overrides():
    env = {
        **ENV,
        "CLOUDKIT_OPENSTACK_ENDPOINT_OVERRIDES": (
            " compute = http://nova:18774/v2.1 ,image=http://glance:19292/?a=b,, "
        ),
    }
    assert dict(OpenStackSettings.from_env(env).endpoint_overrides) == {
        "compute": "http://nova:18774/v2.1",
        "image": "http://glance:19292/?a=b",
    }
    assert dict(OpenStackSettings.from_env(ENV).endpoint_overrides) == {}
    blank = {**ENV, "CLOUDKIT_OPENSTACK_ENDPOINT_OVERRIDES": ""}
    assert dict(OpenStackSettings.from_env(blank).endpoint_overrides) == {}


@pytest.mark.parametrize("text", ["http://nova:18774/v2.1", "compute=", "=http://x", "compute"])
def test_from_env_refuses_malformed_overrides_naming_the_variable(text):
    env = {**ENV, "CLOUDKIT_OPENSTACK_ENDPOINT_OVERRIDES": text}
    with pytest.raises(ConfigError, match="CLOUDKIT_OPENSTACK_ENDPOINT_OVERRIDES") as info:
        OpenStackSettings.from_env(env)
    assert "nova" not in str(info.value)


def test_from_env_validates_override_keys():
    env = {**ENV, "CLOUDKIT_OPENSTACK_ENDPOINT_OVERRIDES": "network=http://neutron:9696"}
    with pytest.raises(ConfigError, match="block_storage, compute, image"):
        OpenStackSettings.from_env(env)


# ------------------------------------------------------------------------------------------ end to end
@pytest.fixture
def nova_proxy(openstack_fake: OpenStackFake) -> Iterator[FaultProxy]:
    with FaultProxy(openstack_fake.url, service="compute") as proxy:
        yield proxy


def test_wsrep_at_a_proxy_in_front_of_nova_is_retried(
    make_openstack, openstack_fake, nova_proxy, fake_clock, openstack_calls
):
    client = make_openstack(endpoint_overrides={"compute": f"{nova_proxy.url}/compute/v2.1"})
    nova_proxy.inject(Fault.wsrep(), method="GET", path="/servers/detail", times=2)
    assert client.list_servers() == []
    detail = [c for c in nova_proxy.calls if c.path.endswith("/servers/detail")]
    assert [(c.status, c.upstream_status, c.fault) for c in detail] == [
        (500, None, "error"),
        (500, None, "error"),
        (200, 200, None),
    ]
    assert [c.status for c in openstack_fake.calls if c.path.endswith("/servers/detail")] == [200]
    assert fake_clock.sleeps == [0.2, 0.4]  # cloudkit's RetryPolicy, on the fake clock
    # Every compute request went through the proxy, microversion negotiation included.
    compute = [(m, p) for m, p in openstack_calls.calls if p.startswith("/compute")]
    assert compute == [(c.method, c.path) for c in nova_proxy.calls]
    assert detail[-1].headers["openstack-api-version"] == "compute 2.100"
    assert openstack_calls.calls[0][1].startswith("/identity")  # Keystone is still asked directly


def test_unversioned_override_keeps_the_proxy_in_the_path(make_openstack, openstack_fake, nova_proxy):
    """The fake's version document links name the fake; keystoneauth keeps the override's host."""
    client = make_openstack(endpoint_overrides={"compute": f"{nova_proxy.url}/compute"})
    nova_proxy.inject(Fault.wsrep(), path="/servers/detail")
    assert client.list_servers() == []
    assert [c.path for c in nova_proxy.calls] == [
        "/compute",
        "/compute/v2.1/",
        "/compute/v2.1/servers/detail",
        "/compute/v2.1/servers/detail",
    ]


def test_every_service_through_its_own_proxy(make_openstack, openstack_fake):
    with (
        FaultProxy(openstack_fake.url, service="compute") as nova,
        FaultProxy(openstack_fake.url, service="volume") as cinder,
        FaultProxy(openstack_fake.url, service="image") as glance,
    ):
        client = make_openstack(
            endpoint_overrides={
                "compute": f"{nova.url}/compute/v2.1",
                # Cinder's catalog URL carries the project id; give it as such (see the settings' doc).
                "block_storage": f"{cinder.url}/volume/v3/{openstack_fake.portal.project_id}",
                "image": f"{glance.url}/image",
            }
        )
        cinder.inject(Fault.drop_after_effect(), method="POST", path="/volumes")
        image = next(i.id for i in client.list_images() if i.os_distro == "ubuntu")
        volume = client.create_volume("data-once", size=1)
        server = client.create_server("web-1", image=image, flavor="2", system_volume_size=10)
        client.attach_volume(server.id, volume.id)
    assert [v.name for v in openstack_fake.volumes()] == ["data-once", ""]  # once; "" is the root volume
    assert [c.fault for c in cinder.calls if c.fault] == ["drop_after_effect"]
    # Every request to Nova, Cinder and Glance went through its proxy; only Keystone was asked directly.
    reached = sorted((c.method, c.path, c.query) for c in openstack_fake.calls if c.service != "identity")
    proxied = sorted((c.method, c.path, c.query) for p in (nova, cinder, glance) for c in p.calls)
    assert reached == proxied
    assert {c.path.split("/")[1] for c in nova.calls} == {"compute"}
    assert {c.path.split("/")[1] for c in cinder.calls} == {"volume"}
    assert {c.path.split("/")[1] for c in glance.calls} == {"image"}
