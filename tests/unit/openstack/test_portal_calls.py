"""The portal calls' pure parts and their refusals before any request (keypairs, limits, zones,
console output, image upload)."""

import io
import os
import sys

import pytest
import requests
from openstack.compute.v2.keypair import Keypair as SdkKeypair

from cloudkit import Secret
from cloudkit.errors import ApiError, InvalidArgumentError, ResponseDecodeError, SilentNoOpError
from cloudkit.openstack import Keypair, _quirks
from cloudkit.openstack import _wire as wire
from cloudkit.openstack._client import _UPLOAD_CHUNK, _ProgressReader, _readable_file
from cloudkit.testing import Fault

PUBLIC = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOdA portal@laptop"
PRIVATE = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n"


# ------------------------------------------------------------------------------ keypairs
def test_generated_keypair_keeps_the_private_key_secret():
    raw = SdkKeypair.existing(
        name="laptop", fingerprint="ab:cd", public_key=PUBLIC, type="ssh", private_key=PRIVATE, user_id="u1"
    )
    pair = wire.keypair(raw, operation="create_keypair")
    assert pair.private_key == Secret(PRIVATE)
    assert "b3BlbnNzaC1rZXktdjEAAAAA" not in f"{pair!r} {pair} {pair.private_key}"
    assert "private_key=Secret('***')" in repr(pair)


def test_listed_keypair_has_no_private_key_and_defaults_to_ssh():
    raw = SdkKeypair.existing(keypair={"name": "laptop", "fingerprint": "ab:cd", "public_key": PUBLIC})
    assert wire.keypair(raw, operation="list_keypairs") == Keypair(
        name="laptop", fingerprint="ab:cd", public_key=PUBLIC, type="ssh", private_key=None
    )


def test_bad_private_key_type_is_a_decode_error_that_quotes_nothing():
    raw = SdkKeypair.existing(name="k", fingerprint="f", public_key=PUBLIC, private_key=["-----BEGIN x"])
    with pytest.raises(ResponseDecodeError) as info:
        wire.keypair(raw, operation="create_keypair")
    assert info.value.problems == ("$.keypair.private_key: expected a non-empty string, got list",)


@pytest.mark.parametrize("name", ["", " lead", "trail ", "a/b", "a.b", "x" * 256, 7, None])
def test_keypair_names_nova_refuses_are_refused(name):
    with pytest.raises(InvalidArgumentError, match="keypair name"):
        wire.check_keypair_name(name, operation="create_keypair")


@pytest.mark.parametrize("name", ["a", "alice laptop", "web_1-a", "x" * 255])
def test_keypair_names_nova_takes_pass(name):
    assert wire.check_keypair_name(name, operation="create_keypair") == name


@pytest.mark.parametrize(
    ("key", "message"),
    [
        (PRIVATE, "is a private key"),
        ("-----BEGIN RSA PRIVATE KEY-----\nMIIE", "is a private key"),
        ("", "one OpenSSH public key line"),
        ("AAAAC3NzaC1lZDI1NTE5", "one OpenSSH public key line"),
        (f"{PUBLIC}\n{PUBLIC}", "one OpenSSH public key line"),
        (b"ssh-ed25519 AAAA", "must be a string"),
    ],
)
def test_bad_public_keys_are_refused_without_quoting_them(key, message):
    with pytest.raises(InvalidArgumentError, match=message) as info:
        wire.check_public_key(key, operation="create_keypair")
    assert "b3BlbnNzaC1rZXktdjEAAAAA" not in str(info.value)
    assert "MIIE" not in str(info.value)


def test_public_key_line_is_stripped():
    assert wire.check_public_key(f"  {PUBLIC}\n", operation="create_keypair") == PUBLIC
    ecdsa = "ecdsa-sha2-nistp256 AAAAE2VjZHNh="
    assert wire.check_public_key(ecdsa, operation="create_keypair") == ecdsa


def test_client_refuses_bad_keypair_input_before_any_request(openstack, openstack_calls):
    openstack_calls.clear()
    with pytest.raises(InvalidArgumentError):
        openstack.create_keypair("bad/name")
    with pytest.raises(InvalidArgumentError, match="private key"):
        openstack.create_keypair("ok", public_key=PRIVATE)
    with pytest.raises(InvalidArgumentError):
        openstack.delete_keypair("")
    assert openstack_calls.calls == []


# ------------------------------------------------------------------------------ limits, zones, console
def test_unlimited_is_none_and_over_quota_leaves_nothing():
    from openstack.compute.v2.limits import Limits as SdkLimits

    absolute = {
        "maxTotalInstances": -1,
        "totalInstancesUsed": 3,
        "maxTotalCores": 2,
        "totalCoresUsed": 4,
        "maxTotalRAMSize": 51200,
        "totalRAMUsed": 2048,
    }
    limits = wire.compute_limits(SdkLimits.existing(absolute=absolute), operation="compute_limits")
    assert (limits.instances.limit, limits.instances.left, limits.instances.used) == (None, None, 3)
    assert (limits.cores.left, limits.ram_mib.left) == (0, 49152)


def test_missing_quota_names_its_wire_path():
    from openstack.block_storage.v3.limits import Limits as SdkLimits

    raw = SdkLimits.existing(absolute={"maxTotalVolumes": 10, "totalVolumesUsed": 0})
    with pytest.raises(ResponseDecodeError) as info:
        wire.volume_limits(raw, operation="volume_limits")
    (problem,) = info.value.problems
    assert problem == "$.limits.absolute.maxTotalVolumeGigabytes: expected an integer >= -1, got None"


def test_client_refuses_bad_zone_service_and_console_length_before_any_request(openstack, openstack_calls):
    openstack_calls.clear()
    with pytest.raises(InvalidArgumentError, match="'compute' or 'volume'"):
        openstack.list_availability_zones("network")
    for length in (-1, 1.5, True, "10"):
        with pytest.raises(InvalidArgumentError, match="length must be an int >= 0"):
            openstack.console_output("s1", length=length)
    with pytest.raises(InvalidArgumentError, match="server_id"):
        openstack.console_output("")
    assert openstack_calls.calls == []


# ------------------------------------------------------------------------------ image upload
def test_upload_headers_are_glances_one_content_type():
    assert _quirks.upload_headers(3000) == {
        "Content-Type": "application/octet-stream",
        "X-OpenStack-Image-Size": "3000",
    }
    assert _quirks.upload_headers.quirk.id == "openstack.glance-upload-octet-stream"


def test_progress_reader_streams_in_bounded_chunks_and_reports_each():
    data = bytes(range(256)) * (3 * _UPLOAD_CHUNK // 256 + 7)
    seen = []
    reader = _ProgressReader(io.BytesIO(data), len(data), lambda sent, total: seen.append((sent, total)))
    assert len(reader) == len(data)
    assert seen == [(0, len(data))]
    got = [reader.read(10 * _UPLOAD_CHUNK) for _ in range(5)]
    assert all(len(chunk) <= _UPLOAD_CHUNK for chunk in got)
    assert b"".join(got) == data
    assert [sent for sent, _ in seen] == [0, _UPLOAD_CHUNK, 2 * _UPLOAD_CHUNK, 3 * _UPLOAD_CHUNK, len(data)]


def test_progress_reader_read_all_still_reports_per_chunk():
    data = b"x" * (2 * _UPLOAD_CHUNK + 1)
    seen = []
    reader = _ProgressReader(io.BytesIO(data), len(data), lambda sent, _total: seen.append(sent))
    assert reader.read() == data
    assert seen == [0, _UPLOAD_CHUNK, 2 * _UPLOAD_CHUNK, len(data)]
    assert reader.read() == b""


def test_readable_file_refusals(tmp_path):
    with pytest.raises(InvalidArgumentError, match="no such file"):
        _readable_file(tmp_path / "missing.qcow2", "upload_image")
    with pytest.raises(InvalidArgumentError, match="not a regular file"):
        _readable_file(tmp_path, "upload_image")
    empty = tmp_path / "empty.raw"
    empty.write_bytes(b"")
    with pytest.raises(InvalidArgumentError, match="is empty"):
        _readable_file(empty, "upload_image")
    with pytest.raises(InvalidArgumentError, match="must be a file path"):
        _readable_file(42, "upload_image")
    ok = tmp_path / "ok.raw"
    ok.write_bytes(b"x")
    assert _readable_file(str(ok), "upload_image") == ok


@pytest.mark.skipif(sys.platform == "win32" or os.geteuid() == 0, reason="root reads any file")
def test_unreadable_file_is_refused(tmp_path):
    locked = tmp_path / "locked.raw"
    locked.write_bytes(b"x")
    locked.chmod(0)
    with pytest.raises(InvalidArgumentError, match="cannot read"):
        _readable_file(locked, "upload_image")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": ""}, "name must be"),
        ({"name": "x" * 256}, "name must be"),
        ({"disk_format": "qcow3"}, "disk_format 'qcow3'"),
        ({"container_format": "zip"}, "container_format 'zip'"),
        ({"min_disk": -1}, "min_disk"),
        ({"min_disk": True}, "min_disk"),
        ({"progress": "not callable"}, "progress must be callable"),
        ({"path": "/nonexistent/disk.qcow2"}, "no such file"),
        ({"wait": -1}, "wait must be"),
    ],
)
def test_upload_image_refuses_bad_input_before_any_request(
    openstack, openstack_calls, tmp_path, kwargs, message
):
    disk = tmp_path / "disk.qcow2"
    disk.write_bytes(b"QFI\xfb" + b"\0" * 60)
    args = {"name": "debian-13", "path": disk, **kwargs}
    openstack_calls.clear()
    with pytest.raises(InvalidArgumentError, match=message):
        openstack.upload_image(args.pop("name"), args.pop("path"), **args)
    assert openstack_calls.calls == []


# ------------------------------------------------------------------------------ image upload on the fake
def _disk(tmp_path, size=5000):
    disk = tmp_path / "disk.raw"
    disk.write_bytes(b"d" * size)
    return disk


def test_upload_exact_call_sequence(openstack, openstack_calls, tmp_path):
    openstack.list_images()
    openstack_calls.clear()
    image = openstack.upload_image("disk", _disk(tmp_path), disk_format="raw")
    assert openstack_calls.api_calls() == [
        ("POST", "/images"),
        ("PUT", "/images/{id}/file"),
        ("GET", "/images/{id}"),
    ]
    assert image.status == "active"


def test_upload_answer_lost_after_the_data_landed_is_not_sent_again(
    openstack, openstack_fake, openstack_calls, tmp_path
):
    openstack.list_images()
    openstack_fake.inject(Fault.drop_after_effect(), method="PUT", path="/images/{id}/file", times=1)
    openstack_calls.clear()
    image = openstack.upload_image("disk", _disk(tmp_path), disk_format="raw")
    assert image.status == "active"
    puts = [c for c in openstack_fake.calls if c.method == "PUT" and c.path.endswith("/file")]
    assert len(puts) == 1  # the read-back found the data stored
    assert openstack_calls.api_calls()[-2:] == [("GET", "/images/{id}"), ("GET", "/images/{id}")]


def test_upload_refused_before_landing_is_sent_again_from_the_start(
    openstack, openstack_fake, openstack_calls, tmp_path
):
    openstack.list_images()
    openstack_fake.inject(Fault.server_error(503), method="PUT", path="/images/{id}/file", times=1)
    openstack_calls.clear()
    seen = []
    image = openstack.upload_image(
        "disk", _disk(tmp_path), disk_format="raw", progress=lambda sent, _total: seen.append(sent)
    )
    assert image.status == "active"
    assert openstack_calls.api_calls() == [
        ("POST", "/images"),
        ("PUT", "/images/{id}/file"),  # 503
        ("GET", "/images/{id}"),  # not stored: send again
        ("PUT", "/images/{id}/file"),
        ("GET", "/images/{id}"),
    ]
    assert seen.count(0) == 2  # the second upload started again at 0
    assert seen[-1] == 5000


def test_create_answer_lost_after_landing_makes_one_image(openstack, openstack_fake, tmp_path):
    openstack.list_images()
    openstack_fake.inject(Fault.drop_after_effect(), method="POST", path="/images", times=1)
    image = openstack.upload_image("only-once", _disk(tmp_path), disk_format="raw")
    assert [i.id for i in openstack.list_images() if i.name == "only-once"] == [image.id]


def test_refused_upload_leaves_no_queued_image(openstack, openstack_fake, openstack_calls, tmp_path):
    openstack.list_images()
    openstack_fake.inject(Fault.server_error(400), method="PUT", path="/images/{id}/file", times=1)
    openstack_calls.clear()
    with pytest.raises(ApiError) as info:
        openstack.upload_image("too-big", _disk(tmp_path), disk_format="raw")
    assert info.value.status == 400
    assert openstack_calls.api_calls() == [
        ("POST", "/images"),
        ("PUT", "/images/{id}/file"),
        ("DELETE", "/images/{id}"),
    ]
    assert "too-big" not in {i.name for i in openstack.list_images()}


def test_a_failing_progress_callback_stops_the_upload_and_cleans_up(openstack, openstack_calls, tmp_path):
    def cancel(sent, _total):
        if sent:
            raise KeyboardInterrupt  # what a user's Ctrl-C or a cancelled portal request looks like

    openstack.list_images()
    openstack_calls.clear()
    with pytest.raises(KeyboardInterrupt):
        openstack.upload_image(
            "cancelled", _disk(tmp_path, 3 * 1024 * 1024), disk_format="raw", progress=cancel
        )
    assert openstack_calls.api_calls()[0] == ("POST", "/images")
    assert openstack_calls.api_calls()[-1] == ("DELETE", "/images/{id}")
    assert "cancelled" not in {i.name for i in openstack.list_images()}


def test_an_upload_glance_swallowed_is_a_silent_no_op_and_leaves_nothing(
    openstack, openstack_calls, monkeypatch, tmp_path
):
    def swallowed(*_args, **_kwargs):  # a 204 that stored nothing (the OpenStack fake cannot swallow)
        response = requests.Response()
        response.status_code = 204
        return response

    openstack.list_images()
    monkeypatch.setattr(openstack._conn.image, "put", swallowed)
    openstack_calls.clear()
    with pytest.raises(SilentNoOpError, match="still queued"):
        openstack.upload_image("swallowed", _disk(tmp_path), disk_format="raw")
    assert openstack_calls.api_calls() == [
        ("POST", "/images"),
        ("GET", "/images/{id}"),
        ("DELETE", "/images/{id}"),
    ]
    assert "swallowed" not in {i.name for i in openstack.list_images()}
