"""Property tests of the portal calls' parsers: models survive the wire, no answer breaks a parser.

The parsers read openstacksdk resources, so each fuzzed answer is turned into the resource openstacksdk
would build from that JSON (``Resource.existing``, as its list and fetch do). Contract: a parser returns
a model or raises :class:`~cloudkit.errors.ResponseDecodeError`; nothing else escapes, and no problem
report quotes a private key.
"""

import json

from hypothesis import example, given
from hypothesis import strategies as st
from openstack.block_storage.v3.availability_zone import AvailabilityZone as SdkVolumeZone
from openstack.block_storage.v3.limits import Limits as SdkVolumeLimits
from openstack.compute.v2.availability_zone import AvailabilityZone as SdkComputeZone
from openstack.compute.v2.keypair import Keypair as SdkKeypair
from openstack.compute.v2.limits import Limits as SdkComputeLimits

from cloudkit import Secret, make_converter
from cloudkit.errors import ResponseDecodeError
from cloudkit.openstack import ComputeLimits, Keypair, QuotaUsage, VolumeLimits
from cloudkit.openstack import _wire as wire
from cloudkit.openstack._client import _sdk_parsed

OP = "x"
KEYPAIR_FIELDS = ["name", "fingerprint", "public_key", "type", "private_key"]
ZONE_FIELDS = ["zoneName", "zoneState", "hosts"]
CONVERTER = make_converter()
STRICT = make_converter(forbid_extra_keys=True)
PRIVATE = "-----BEGIN OPENSSH PRIVATE KEY-----\nsecret-material\n-----END OPENSSH PRIVATE KEY-----\n"

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
names = st.text(st.characters(codec="ascii", categories=("L", "N")), min_size=1, max_size=20)
limits = st.none() | st.integers(min_value=0, max_value=10**6)
used = st.integers(min_value=0, max_value=10**6)


def quota_usages():
    return st.builds(QuotaUsage, limit=limits, used=used)


def keypairs():
    return st.builds(
        Keypair,
        name=names,
        fingerprint=names,
        public_key=names.map(lambda s: f"ssh-ed25519 {s}"),
        type=st.sampled_from(["ssh", "x509"]),
        private_key=st.none() | names.map(Secret),
    )


def compute_limits():
    return st.builds(ComputeLimits, instances=quota_usages(), cores=quota_usages(), ram_mib=quota_usages())


def volume_limits():
    return st.builds(VolumeLimits, volumes=quota_usages(), gigabytes=quota_usages(), snapshots=quota_usages())


def _wire_count(limit):
    return -1 if limit is None else limit


def _absolute(model, table):
    body = {}
    for field, ((_, limit_name), (_, used_name)) in table.items():
        usage = getattr(model, field)
        body[limit_name] = _wire_count(usage.limit)
        body[used_name] = usage.used
    return body


# ================================================================================== round trips
@given(st.one_of(keypairs(), compute_limits(), volume_limits(), quota_usages()))
def test_models_survive_the_converter_and_json(instance):
    data = CONVERTER.unstructure(instance)
    assert CONVERTER.structure(json.loads(json.dumps(data)), type(instance)) == instance
    assert STRICT.structure(STRICT.unstructure(instance), type(instance)) == instance


@given(keypairs())
def test_keypair_decodes_back_from_novas_body(pair):
    body = {"name": pair.name, "fingerprint": pair.fingerprint, "public_key": pair.public_key}
    body["type"] = pair.type
    if pair.private_key is not None:
        body["private_key"] = pair.private_key.get_secret_value()
    assert wire.keypair(SdkKeypair.existing(**body), operation=OP) == pair
    listed = SdkKeypair.existing(keypair=body)  # GET /os-keypairs wraps each item once more
    assert wire.keypair(listed, operation=OP) == pair


@given(compute_limits())
def test_compute_limits_decode_back(model):
    raw = SdkComputeLimits.existing(absolute=_absolute(model, wire._COMPUTE_QUOTAS), rate=[])
    assert wire.compute_limits(raw, operation=OP) == model


@given(volume_limits())
def test_volume_limits_decode_back(model):
    raw = SdkVolumeLimits.existing(absolute=_absolute(model, wire._VOLUME_QUOTAS), rate=[])
    assert wire.volume_limits(raw, operation=OP) == model


@given(quota_usages())
def test_left_is_never_negative_and_none_only_when_unlimited(usage):
    assert (usage.left is None) == usage.unlimited == (usage.limit is None)
    if usage.left is not None:
        assert usage.left == max(usage.limit - usage.used, 0)


@given(st.lists(st.tuples(names, st.booleans()), max_size=5))
def test_available_zones_keep_nova_order_once_each(zones):
    raws = [SdkComputeZone.existing(zoneName=n, zoneState={"available": a}, hosts=None) for n, a in zones]
    expected = list(dict.fromkeys(n for n, available in zones if available))
    assert wire.available_zones(raws, operation=OP) == expected


# ================================================================================== fuzz
def _only_decode_errors(parse, build):
    """openstacksdk builds the resource from the answer (as the client runs it), then the parser reads it."""
    try:
        parse(_sdk_parsed(OP, build), operation=OP)
    except ResponseDecodeError as exc:
        shown = f"{exc} {exc.problems}"
    else:
        return
    assert "secret-material" not in shown


@given(st.dictionaries(st.sampled_from(KEYPAIR_FIELDS), json_values))
@example({"name": "k", "fingerprint": "f", "public_key": "p", "private_key": 7})
@example({"name": "k", "fingerprint": 3, "public_key": "p", "private_key": PRIVATE})
def test_keypair_parser_raises_only_decode_errors(body):
    _only_decode_errors(wire.keypair, lambda: SdkKeypair.existing(**body))


SMALL = st.integers(min_value=-3, max_value=5)
_COMPUTE_NAMES = [n for pair in wire._COMPUTE_QUOTAS.values() for _, n in pair]
_VOLUME_NAMES = [n for pair in wire._VOLUME_QUOTAS.values() for _, n in pair]


@given(
    st.one_of(
        json_values,
        st.dictionaries(st.sampled_from(_COMPUTE_NAMES), json_values | SMALL),
    )
)
@example(dict.fromkeys(_COMPUTE_NAMES, -1))
@example(dict.fromkeys(_COMPUTE_NAMES, "12"))
def test_compute_limits_parser_raises_only_decode_errors(absolute):
    _only_decode_errors(wire.compute_limits, lambda: SdkComputeLimits.existing(absolute=absolute))


@given(
    st.one_of(
        json_values,
        st.dictionaries(st.sampled_from(_VOLUME_NAMES), json_values | SMALL),
    )
)
@example(dict.fromkeys(_VOLUME_NAMES, "x"))  # openstacksdk converts these to int on read, and fails
@example(dict.fromkeys(_VOLUME_NAMES, -2))
@example({"maxTotalVolumes": float("inf")})  # requests reads JSON's Infinity; int() of it overflows
def test_volume_limits_parser_raises_only_decode_errors(absolute):
    _only_decode_errors(wire.volume_limits, lambda: SdkVolumeLimits.existing(absolute=absolute))


@given(st.lists(st.dictionaries(st.sampled_from(ZONE_FIELDS), json_values), max_size=3))
@example([{"zoneName": "nova", "zoneState": {"available": "yes"}}])
def test_zone_parser_raises_only_decode_errors(zones):
    for kind in (SdkComputeZone, SdkVolumeZone):
        _only_decode_errors(wire.available_zones, lambda kind=kind: [kind.existing(**z) for z in zones])


@given(json_values | st.dictionaries(st.just("output"), json_values))
def test_console_parser_raises_only_decode_errors(body):
    _only_decode_errors(wire.console_output, lambda: body)
