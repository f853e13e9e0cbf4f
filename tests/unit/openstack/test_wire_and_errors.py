"""Pure parts of the OpenStack client: SDK resource conversion and error translation."""

import keystoneauth1.exceptions as ks_exc
import openstack.exceptions as os_exc
import pytest
import requests
from openstack.block_storage.v3.volume import Volume as SdkVolume
from openstack.compute.v2.server import Server as SdkServer

from cloudkit.errors import (
    ApiError,
    AuthenticationError,
    ConfigError,
    ConflictError,
    NotFoundError,
    RequestTimeoutError,
    ServerError,
    SystemVolumeError,
    TransportError,
)
from cloudkit.openstack import OpenStackSettings
from cloudkit.openstack import _wire as wire
from cloudkit.openstack._client import _translate

WSREP = "(pymysql.err.InternalError) (1047, 'WSREP has not yet prepared node for application use')"


def http_exception(status, message):
    response = requests.Response()
    response.status_code = status
    response.headers["x-openstack-request-id"] = "req-123"
    return os_exc.HttpException(message=message, response=response, details=message)


def test_server_system_volume_is_the_root_attachment():
    server = SdkServer(
        id="s1", name="web", status="ACTIVE", attached_volumes=[{"id": "v-data"}, {"id": "v-root"}]
    )
    volumes = [
        SdkVolume(id="v-data", attachments=[{"server_id": "s1", "device": "/dev/vdb"}]),
        SdkVolume(id="v-root", attachments=[{"server_id": "s1", "device": "/dev/vda"}], bootable="true"),
    ]
    assert wire.system_volume_id(server, volumes) == "v-root"
    model = wire.server(server, system_volume="v-root", operation="get_server")
    assert (model.id, model.status, model.volume_ids) == ("s1", "ACTIVE", ("v-data", "v-root"))


def test_single_attached_volume_without_cinder_view_is_the_boot_volume():
    server = SdkServer(id="s1", attached_volumes=[{"id": "v1"}])
    assert wire.system_volume_id(server, []) == "v1"


def test_volume_conversion():
    volume = SdkVolume(
        id="v1",
        name="data",
        status="in-use",
        size=20,
        bootable="false",
        attachments=[{"server_id": "s1", "device": "/dev/vdb", "attachment_id": "a1"}],
    )
    model = wire.volume(volume, operation="get_volume")
    assert (model.size, model.bootable, model.server_ids) == (20, False, ("s1",))
    assert wire.volume_attachment_id_on(volume, "s1") == "a1"
    assert wire.volume_device_on(volume, "s1") == "/dev/vdb"


@pytest.mark.quirk("openstack.wsrep-not-ready")
def test_wsrep_500_is_a_retryable_server_error_tagged_with_the_quirk():
    with pytest.raises(ServerError) as info, _translate("list_servers"):
        raise http_exception(500, WSREP)
    assert info.value.quirk == "openstack.wsrep-not-ready"
    assert info.value.retryable
    assert info.value.request_id == "req-123"
    assert info.value.code is None


@pytest.mark.quirk("openstack.system-volume")
@pytest.mark.parametrize(
    ("status", "message"),
    [(400, "Cannot detach a root device volume"), (403, "Can't detach root device volume")],
)
def test_nova_root_detach_refusal_maps_to_system_volume_error(status, message):
    with pytest.raises(SystemVolumeError), _translate("detach_volume"):
        raise http_exception(status, message)


@pytest.mark.parametrize(
    ("exc", "cls"),
    [
        (http_exception(404, "not found"), NotFoundError),
        (http_exception(409, "Instance abc is locked"), ConflictError),
        (http_exception(400, "bad"), ApiError),
        (http_exception(503, "unavailable"), ServerError),
        (
            ks_exc.Unauthorized("The request you have made requires authentication.", http_status=401),
            AuthenticationError,
        ),
        (ks_exc.ConnectFailure("refused"), TransportError),
        (ks_exc.ConnectTimeout("slow"), RequestTimeoutError),
        (requests.ConnectionError("reset"), TransportError),
    ],
)
def test_no_third_party_exception_escapes(exc, cls):
    with pytest.raises(cls) as info, _translate("op"):
        raise exc
    assert type(info.value) is cls
    assert info.value.system == "openstack"
    assert info.value.__cause__ is exc


def test_conflict_locked_is_not_retryable():
    with pytest.raises(ConflictError) as info, _translate("op"):
        raise http_exception(409, "Instance abc is locked")
    assert not info.value.retryable


def test_settings_hide_password_and_turn_retries_off():
    settings = OpenStackSettings(
        auth_url="http://ks:5000/v3", username="portal", password="hunter2", project_name="alice"
    )
    assert "hunter2" not in repr(settings)
    config = settings.connection_config()
    assert (config["connect_retries"], config["status_code_retries"]) == (0, 0)
    with pytest.raises(ConfigError):
        OpenStackSettings(auth_url="ks:5000", username="p", password="x", project_name="a")
