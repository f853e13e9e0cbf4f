"""Property tests of the TF wire: models round-trip, bodies decode back, no payload breaks a decoder.

Exception contract (``cloudkit.tungsten._wire``): a payload either decodes or raises a
:class:`~cloudkit.errors.CloudkitError` (``ResponseDecodeError`` for a bad shape, a typed ``ApiError``
for a refusal). Never ``KeyError``/``TypeError``/``AttributeError``/``ValueError`` from our code.
"""

import contextlib
import ipaddress
import json
import string

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cloudkit import make_converter
from cloudkit._keystone import parse_token
from cloudkit.errors import ApiError, CloudkitError
from cloudkit.tungsten import (
    AllocationPool,
    DhcpOption,
    FloatingIp,
    FloatingIpPool,
    InstanceIp,
    KeystoneIdentity,
    LogicalRouter,
    ObjectRef,
    Port,
    RuleDirection,
    SecurityGroup,
    SecurityGroupRule,
    Subnet,
    VirtualNetwork,
    VrouterAgent,
)
from cloudkit.tungsten import _wire as wire

CONVERTER = make_converter()
STRICT = make_converter(forbid_extra_keys=True)
OP = "prop"

names = st.text(alphabet=string.ascii_letters + string.digits + "-_", min_size=1, max_size=12)
uuids = st.uuids().map(str)
fq_names = st.lists(names, min_size=1, max_size=4).map(tuple)
v4_networks = st.builds(
    lambda addr, length: str(ipaddress.ip_network(f"{ipaddress.IPv4Address(addr)}/{length}", strict=False)),
    st.integers(0, 2**32 - 1),
    st.integers(8, 30),
)
v6_networks = st.builds(
    lambda addr, length: str(ipaddress.ip_network(f"{ipaddress.IPv6Address(addr)}/{length}", strict=False)),
    st.integers(0, 2**128 - 1),
    st.integers(16, 120),
)
options = st.builds(DhcpOption, name=st.sampled_from(["6", "15", "26", "interface-mtu"]), value=names)
subnets = st.builds(
    Subnet,
    cidr=v4_networks | v6_networks,
    uuid=st.none() | uuids,
    gateway=st.none() | st.ip_addresses(v=4).map(str),
    dns_server=st.none() | st.ip_addresses(v=4).map(str),
    dhcp_enabled=st.booleans(),
    dhcp_options=st.lists(options, max_size=3).map(tuple),
    allocation_pools=st.lists(
        st.builds(AllocationPool, start=st.ip_addresses(v=4).map(str), end=st.ip_addresses(v=4).map(str)),
        max_size=2,
    ).map(tuple),
    name=st.none() | names,
)
rules = st.builds(
    SecurityGroupRule,
    direction=st.sampled_from(RuleDirection),
    protocol=st.sampled_from(["any", "tcp", "udp", "icmp", "6"]),
    ethertype=st.just("IPv4"),
    port_min=st.integers(0, 1000),
    port_max=st.integers(1000, 65535),
    remote_cidr=st.none() | v4_networks,
    remote_group=st.none(),
    uuid=st.none() | uuids,
)
owners = st.none() | uuids
MODELS = {
    ObjectRef: st.builds(ObjectRef, type=names, uuid=uuids, fq_name=fq_names),
    DhcpOption: options,
    AllocationPool: st.builds(AllocationPool, start=names, end=names),
    Subnet: subnets,
    VirtualNetwork: st.builds(
        VirtualNetwork,
        uuid=uuids,
        name=names,
        fq_name=fq_names,
        project_id=owners,
        subnets=st.lists(subnets, max_size=3).map(tuple),
        mtu=st.none() | st.integers(68, 9216),
        external=st.booleans(),
        shared=st.booleans(),
        owner=owners,
    ),
    Port: st.builds(
        Port,
        uuid=uuids,
        name=names,
        fq_name=fq_names,
        network_id=owners,
        project_id=owners,
        mac_addresses=st.lists(names, max_size=2).map(tuple),
        ip_addresses=st.lists(st.ip_addresses().map(str), max_size=2).map(tuple),
        instance_ip_ids=st.lists(uuids, max_size=2).map(tuple),
        security_group_ids=st.lists(uuids, max_size=2).map(tuple),
        floating_ip_ids=st.lists(uuids, max_size=2).map(tuple),
        device_owner=st.none() | names,
        owner=owners,
    ),
    InstanceIp: st.builds(
        InstanceIp,
        uuid=uuids,
        name=names,
        address=st.none() | st.ip_addresses().map(str),
        network_id=owners,
        port_ids=st.lists(uuids, max_size=2).map(tuple),
        family=st.none() | st.sampled_from(["v4", "v6"]),
        subnet_uuid=owners,
        owner=owners,
    ),
    FloatingIpPool: st.builds(
        FloatingIpPool,
        uuid=uuids,
        name=names,
        fq_name=fq_names,
        network_id=owners,
        subnet_uuids=st.lists(uuids, max_size=2).map(tuple),
        owner=owners,
    ),
    FloatingIp: st.builds(
        FloatingIp,
        uuid=uuids,
        name=names,
        fq_name=fq_names,
        address=st.none() | st.ip_addresses().map(str),
        pool_id=owners,
        project_ids=st.lists(uuids, max_size=2).map(tuple),
        port_ids=st.lists(uuids, max_size=2).map(tuple),
        fixed_ip_address=st.none() | st.ip_addresses().map(str),
        owner=owners,
    ),
    SecurityGroupRule: rules,
    SecurityGroup: st.builds(
        SecurityGroup,
        uuid=uuids,
        name=names,
        fq_name=fq_names,
        project_id=owners,
        rules=st.lists(rules, max_size=3).map(tuple),
        owner=owners,
    ),
    LogicalRouter: st.builds(
        LogicalRouter,
        uuid=uuids,
        name=names,
        fq_name=fq_names,
        project_id=owners,
        port_ids=st.lists(uuids, max_size=2).map(tuple),
        gateway_network_ids=st.lists(uuids, max_size=2).map(tuple),
        owner=owners,
    ),
    VrouterAgent: st.builds(
        VrouterAgent,
        name=names,
        kernel=st.none() | names,
        build_version=st.none() | names,
        platform=st.none() | names,
    ),
    KeystoneIdentity: st.builds(
        KeystoneIdentity,
        user_id=names,
        user_name=names,
        user_domain=st.none() | names,
        project_id=st.none() | names,
        project_name=st.none() | names,
        roles=st.lists(names, max_size=3).map(tuple),
    ),
}
PER_MODEL = settings(max_examples=40)


def test_every_public_model_has_a_strategy():
    from cloudkit import tungsten

    public = {
        getattr(tungsten, n)
        for n in tungsten.__all__
        if attrs.has(getattr(tungsten, n)) and n != "TungstenSettings"
    }
    assert public == set(MODELS)


@pytest.mark.parametrize("model", list(MODELS), ids=lambda cls: cls.__name__)
@PER_MODEL
@given(data=st.data())
def test_models_round_trip_through_the_converter_and_json_text(model, data):
    instance = data.draw(MODELS[model])
    assert CONVERTER.structure(CONVERTER.unstructure(instance), model) == instance
    text = json.dumps(STRICT.unstructure(instance))
    assert STRICT.structure(json.loads(text), model) == instance


# ---------------------------------------------------------------------------------------------- bodies
@given(
    subnet_list=st.lists(subnets, max_size=3, unique_by=lambda s: s.cidr),
    mtu=st.none() | st.integers(68, 9216),
    name=names,
    uuid=uuids,
)
def test_a_network_body_read_back_gives_the_same_network(subnet_list, mtu, name, uuid):
    body = wire.virtual_network_body(
        uuid=uuid,
        project_fq_name=["default-domain", "alice"],
        project_id="0123456789abcdef0123456789abcdef",
        name=name,
        subnets=subnet_list,
        mtu=mtu,
        ipam_fq_name=["default-domain", "default-project", "default-network-ipam"],
    )
    vn = wire.virtual_network(json.loads(json.dumps(body)), operation=OP)
    assert (vn.uuid, vn.name, vn.mtu) == (uuid, name, mtu)
    assert vn.cidrs == tuple(s.cidr for s in subnet_list)
    for sent, read in zip(subnet_list, vn.subnets, strict=True):
        is_v4 = ipaddress.ip_network(sent.cidr).version == 4
        if mtu is not None and is_v4:
            assert read.mtu == mtu  # quirk tungsten.mtu-not-in-dhcp: guests get the network's MTU
        else:
            assert read.dhcp_options == sent.dhcp_options
        assert (read.uuid, read.gateway, read.allocation_pools) == (
            sent.uuid,
            sent.gateway,
            sent.allocation_pools,
        )


@given(rule=rules, rule_uuid=uuids)
def test_security_group_rules_survive_the_wire(rule, rule_uuid):
    entry = wire.security_group_rule(rule, rule_uuid=rule_uuid)
    back = wire.security_group_rule_of(wire._Node(json.loads(json.dumps(entry)), "$", OP))
    expected = attrs.evolve(rule, uuid=rule.uuid or rule_uuid, remote_cidr=rule.remote_cidr or "0.0.0.0/0")
    assert back == expected


@given(
    mtu=st.integers(68, 9216),
    current=st.lists(subnets, min_size=1, max_size=3, unique_by=lambda s: s.cidr),
)
def test_an_mtu_update_keeps_every_subnet_and_sets_option_26(mtu, current):
    body = wire.virtual_network_body(
        uuid="u",
        project_fq_name=["d", "p"],
        project_id="0123456789abcdef0123456789abcdef",
        name="n",
        subnets=current,
        mtu=None,
        ipam_fq_name=["d", "p", "ipam"],
    )
    changes = wire.network_update(body, mtu=mtu, subnets=None, operation=OP)
    after = wire.virtual_network({**body, **changes}, operation=OP)
    assert after.cidrs == tuple(s.cidr for s in current)
    assert [s.uuid for s in after.subnets] == [s.uuid for s in current]
    assert all(s.mtu == mtu for s in after.subnets if ipaddress.ip_network(s.cidr).version == 4)


# ---------------------------------------------------------------------------------------------- fuzzing
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=25,
)
KEYS = [
    "uuid",
    "fq_name",
    "name",
    "mtu",
    "parent_type",
    "parent_uuid",
    "perms2",
    "network_ipam_refs",
    "attr",
    "ipam_subnets",
    "subnet",
    "ip_prefix",
    "ip_prefix_len",
    "dhcp_option_list",
    "dhcp_option",
    "virtual_network_refs",
    "instance_ip_back_refs",
    "security_group_entries",
    "policy_rule",
    "src_addresses",
    "dst_addresses",
    "dst_ports",
    "start_port",
    "end_port",
    "floating_ip_pool_subnets",
    "subnet_uuid",
    "virtual_machine_interface_mac_addresses",
    "mac_address",
]
shaped = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 70000) | st.text(max_size=8) | st.just("10.0.0.0"),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.sampled_from(KEYS), children, max_size=6)
    ),
    max_leaves=30,
)
DECODERS = [
    wire.virtual_network,
    wire.port,
    wire.instance_ip,
    wire.floating_ip_pool,
    wire.floating_ip,
    wire.security_group,
    wire.logical_router,
    wire.security_group_rules,
    wire.port_blockers,
]


@pytest.mark.parametrize("decode", DECODERS, ids=lambda f: f.__name__)
@settings(max_examples=60)
@given(payload=json_values | shaped)
def test_decoders_raise_only_cloudkit_errors(decode, payload):
    with contextlib.suppress(CloudkitError):
        decode(payload, operation=OP)


@settings(max_examples=80)
@given(payload=json_values | shaped, kind=st.sampled_from(["virtual-network", "instance-ip"]))
def test_envelope_decoders_raise_only_cloudkit_errors(payload, kind):
    for decode in (
        lambda: wire.list_page(payload, kind, detail=True, operation=OP),
        lambda: wire.list_page(payload, kind, detail=False, operation=OP),
        lambda: wire.created_uuid(payload, kind, operation=OP),
        lambda: wire.fq_name_of(payload, operation=OP),
        lambda: wire.object_of(payload, kind, operation=OP),
        lambda: wire.network_update(payload, mtu=1400, subnets=None, operation=OP),
    ):
        with contextlib.suppress(CloudkitError):
            decode()


@given(
    status=st.integers(100, 599),
    body=st.binary(max_size=200),
    content_type=st.sampled_from(["text/plain", "application/json", ""]),
)
def test_any_answer_is_a_value_or_a_cloudkit_error(status, body, content_type):
    if 200 <= status < 300:
        with contextlib.suppress(CloudkitError):
            wire.parse_reply(status, content_type, body, operation=OP)
        return
    with pytest.raises(ApiError) as info:
        wire.parse_reply(status, content_type, body, operation=OP)
    assert info.value.status == status


@given(
    status=st.integers(100, 599),
    body=st.binary(max_size=200) | json_values.map(lambda v: json.dumps(v).encode()),
)
def test_any_keystone_answer_is_a_token_or_a_cloudkit_error(status, body):
    with contextlib.suppress(CloudkitError):
        parse_token(status, {"X-Subject-Token": "t"}, body, system="tungsten", operation=OP)


@given(text=st.text(max_size=8) | st.from_regex(r"\A\s*-*[0-9²]{1,4}\s*\Z"))
def test_integer_fields_in_text_decode_or_raise_a_decode_error(text):
    try:
        value = wire._Node(text, "$.mtu", OP).opt_int()
    except CloudkitError:
        return
    assert value == int(text)
