"""The cassette normalizer rewrites text bodies and leaves binary ones byte for byte."""

from types import SimpleNamespace

from cloudkit.testing._normalize import CassetteNormalizer


def test_a_binary_body_is_kept_byte_for_byte_and_a_text_one_normalized():
    normalizer = CassetteNormalizer()
    image = b"\x89PNG\r\n\x1a\n\xff\x00 not utf-8 \xfe"
    reply = {
        "status": {"code": 200},
        "headers": {"Content-Length": [str(len(image))]},
        "body": {"string": image},
    }
    assert normalizer.response(reply)["body"]["string"] == image
    request = SimpleNamespace(uri="http://127.0.0.1:41234/image/v2/images/x/file", body=image, headers={})
    assert normalizer.request(request).body == image

    uuid = "5f0c3e1a-1111-4222-8333-444455556666"
    text = {"status": {"code": 200}, "headers": {}, "body": {"string": f'{{"id": "{uuid}"}}'.encode()}}
    assert uuid.encode() not in normalizer.response(text)["body"]["string"]
