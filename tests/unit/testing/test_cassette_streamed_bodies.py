"""OpenStack cassettes: a streamed (file) request body is saved and matched as bytes; a generated
private key never reaches a cassette."""

import io
import json

from vcr.request import Request
from vcr.serialize import deserialize, serialize
from vcr.serializers import yamlserializer

from cloudkit.testing import SecretRegistry, openstack_vcr_config
from cloudkit.testing._cassettes import openstack_matcher

URL = "http://127.0.0.1:9292/v2/images/00000000-0000-4000-a000-000000000001/file"


def _scrub_request(request):
    config = openstack_vcr_config(SecretRegistry(), recorded_against="OpenStackFake")
    return config["before_record_request"](request)


def _scrub_response(body):
    config = openstack_vcr_config(SecretRegistry(), recorded_against="OpenStackFake")
    reply = {"status": {"code": 200}, "headers": {}, "body": {"string": body}}
    return config["before_record_response"](reply)


def test_a_file_body_is_recorded_as_bytes_and_loads_back():
    live = Request("PUT", URL, io.BytesIO(b"image data"), {"Content-Type": "application/octet-stream"})
    recorded = _scrub_request(live)
    assert recorded.body == b"image data"
    response = {"status": {"code": 204, "message": "No Content"}, "headers": {}, "body": {"string": b""}}
    text = serialize({"requests": [recorded], "responses": [response]}, yamlserializer)
    assert "!!python" not in text
    (loaded,), _ = deserialize(text, yamlserializer)
    assert loaded.body == b"image data"


def test_a_replayed_file_body_matches_the_recorded_bytes():
    stored = _scrub_request(Request("PUT", URL, b"image data", {}))
    replayed = _scrub_request(Request("PUT", URL, io.BytesIO(b"image data"), {}))
    openstack_matcher(replayed, stored)  # raises AssertionError when they do not match


def test_other_bodies_are_left_as_they_are():
    request = Request("POST", URL.removesuffix("/file"), b'{"name": "x"}', {})
    assert _scrub_request(request) is request


def test_a_generated_private_key_is_scrubbed_from_the_reply():
    private = "-----BEGIN RSA PRIVATE KEY-----\nMIIE\n"
    body = {"keypair": {"name": "k", "private_key": private, "public_key": "ssh"}}
    scrubbed = json.loads(_scrub_response(json.dumps(body).encode())["body"]["string"])
    assert scrubbed["keypair"]["private_key"] == "REDACTED"
    assert scrubbed["keypair"]["public_key"] == "ssh"
