"""Pure parts of the TF client against golden payloads from the shared reference (tungsten.md §6)."""

import json

import pytest

from cloudkit._keystone import parse_token
from cloudkit.errors import (
    ApiError,
    AuthenticationError,
    ConflictError,
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
    ResponseDecodeError,
    ServerError,
)
from cloudkit.tungsten import (
    AllocationPool,
    DhcpOption,
    ObjectRef,
    RuleDirection,
    SecurityGroupRule,
    Subnet,
    TungstenSettings,
    blocking_objects,
)
from cloudkit.tungsten import _quirks as quirks
from cloudkit.tungsten import _wire as wire

OP = "test"
VN = "8c84ff8a-1f3b-4c52-9b8e-2a1e6d2f0c11"
VMI = "6f1c0d3e-7a2b-4c3d-8e9f-0a1b2c3d4e5f"
PROJECT = "df7649a6-3c6f-4f7e-9c3a-1d2e3f4a5b6c"
IPAM = ["default-domain", "default-project", "default-network-ipam"]

# §6: POST /virtual-networks (the API-DOC create example) and its answer
CREATE_EXAMPLE = {
    "virtual-network": {
        "parent_type": "project",
        "fq_name": ["default-domain", "admin", "vn-blue"],
        "network_ipam_refs": [
            {
                "to": IPAM,
                "attr": {"ipam_subnets": [{"subnet": {"ip_prefix": "10.1.1.0", "ip_prefix_len": 24}}]},
            }
        ],
    }
}
CREATE_ANSWER = {
    "virtual-network": {
        "fq_name": ["default-domain", "admin", "vn-blue"],
        "name": "vn-blue",
        "uuid": VN,
        "href": f"http://h:8082/virtual-network/{VN}",
        "parent_uuid": PROJECT,
        "parent_href": f"http://h:8082/project/{PROJECT}",
    }
}


def settings(**overrides):
    base = {
        "url": "http://tf:8082",
        "auth_url": "http://ks:5000/v3",
        "username": "svc-tf",
        "password": "svc-pass",
        "project_name": "service",
    }
    return TungstenSettings(**{**base, **overrides})


# ---------------------------------------------------------------------------------------------- Keystone
def test_password_token_request_is_project_scoped_json():
    request = wire.token_request(settings(password='p"a\\ss'))
    assert (request.method, request.url, request.params) == (
        "POST",
        "http://ks:5000/v3/auth/tokens",
        (("nocatalog", ""),),
    )
    assert request.body == {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {"name": "svc-tf", "domain": {"name": "Default"}, "password": 'p"a\\ss'}
                },
            },
            "scope": {"project": {"name": "service", "domain": {"name": "Default"}}},
        }
    }
    json.dumps(request.body)  # a quote or backslash in a password stays valid JSON (vnc_api's bug)


def test_application_credential_token_request_has_no_scope():
    request = wire.token_request(
        TungstenSettings(
            url="http://tf:8082",
            auth_url="http://ks:5000/v3/",
            application_credential_id="ac-1",
            application_credential_secret="ac-secret",
        )
    )
    assert request.url == "http://ks:5000/v3/auth/tokens"
    assert request.body == {
        "auth": {
            "identity": {
                "methods": ["application_credential"],
                "application_credential": {"id": "ac-1", "secret": "ac-secret"},
            }
        }
    }


TOKEN_BODY = {
    "token": {
        "methods": ["password"],
        "user": {"id": "u-svc", "name": "svc-tf", "domain": {"id": "default", "name": "Default"}},
        "project": {"id": "p-service", "name": "service", "domain": {"id": "default", "name": "Default"}},
        "roles": [{"id": "r1", "name": "admin"}, {"id": "r2", "name": "member"}],
        "issued_at": "2024-03-01T10:00:00.000000Z",
        "expires_at": "2024-03-01T11:00:00.000000Z",
    }
}


def test_parse_token_reads_header_identity_and_lifetime():
    token = parse_token(
        201,
        {"X-Subject-Token": "gAAAAA-token"},
        json.dumps(TOKEN_BODY).encode(),
        system="tungsten",
        operation=OP,
    )
    assert token.value.get_secret_value() == "gAAAAA-token"
    assert token.lifetime == 3600.0
    me = token.identity
    assert (me.user_id, me.user_name, me.user_domain, me.project_name, me.roles) == (
        "u-svc",
        "svc-tf",
        "Default",
        "service",
        ("admin", "member"),
    )
    assert me.is_admin
    assert "gAAAAA-token" not in repr(token)


def test_parse_token_without_header_is_a_decode_error():
    with pytest.raises(ResponseDecodeError, match="X-Subject-Token"):
        parse_token(201, {}, json.dumps(TOKEN_BODY).encode(), system="tungsten", operation=OP)


def test_keystone_401_is_an_authentication_error_without_what_we_sent():
    body = b'{"error": {"code": 401, "message": "The request you have made requires authentication."}}'
    with pytest.raises(AuthenticationError) as info:
        parse_token(401, {}, body, system="tungsten", operation=OP)
    assert info.value.status == 401
    assert "requires authentication" in info.value.message


# ---------------------------------------------------------------------------------------------- requests
def test_get_request_leaves_children_and_back_refs_out():
    request = wire.get_request("http://tf:8082/", "virtual-network", VN)
    assert request.url == f"http://tf:8082/virtual-network/{VN}"
    assert request.params == (("exclude_children", "True"), ("exclude_back_refs", "True"))
    with_back_refs = wire.get_request("http://tf:8082", "virtual-machine-interface", VMI, back_refs=True)
    assert with_back_refs.params == (("exclude_children", "True"),)


def test_list_request_follows_the_reference_paging_example():
    # §6: GET /virtual-networks?page_marker=None&page_limit=2
    request = wire.list_request("http://tf:8082", "virtual-network", detail=False, page_limit=2)
    assert request.url == "http://tf:8082/virtual-networks"
    assert dict(request.params) == {"page_limit": "2", "page_marker": "None"}
    nxt = wire.list_request("http://tf:8082", "virtual-network", page_limit=2, page_marker=VN)
    assert dict(nxt.params)["page_marker"] == VN


def test_list_filters_are_json_encoded_as_the_server_decodes_them():
    # §6: GET /virtual-networks?filters=router_external==true,is_shared==false
    request = wire.list_request(
        "http://tf:8082", "virtual-network", filters={"router_external": True, "is_shared": False}
    )
    assert dict(request.params)["filters"] == "router_external==true,is_shared==false"


@pytest.mark.quirk("tungsten.naive-plurals")
@pytest.mark.parametrize(
    ("kind", "path"),
    [
        ("virtual-network", "/virtual-networks"),
        ("network-policy", "/network-policys"),
        ("virtual-DNS", "/virtual-DNSs"),
        ("bgp-as-a-service", "/bgp-as-a-services"),
    ],
)
def test_collection_paths_are_type_plus_s(kind, path):
    assert quirks.collection_path(kind) == path
    assert wire.create_request("http://tf:8082", kind, {}).url == f"http://tf:8082{path}"


# ---------------------------------------------------------------------------------------------- bodies
def test_virtual_network_body_matches_the_reference_create_example_plus_ownership_and_mtu():
    body = wire.virtual_network_body(
        uuid=VN,
        project_fq_name=["default-domain", "admin"],
        project_id=PROJECT,
        name="vn-blue",
        subnets=[Subnet(cidr="10.1.1.0/24")],
        mtu=None,
        ipam_fq_name=IPAM,
    )
    example = CREATE_EXAMPLE["virtual-network"]
    assert body["parent_type"] == example["parent_type"]
    assert body["fq_name"] == example["fq_name"]
    assert body["network_ipam_refs"][0]["to"] == IPAM
    subnet = body["network_ipam_refs"][0]["attr"]["ipam_subnets"][0]
    assert subnet["subnet"] == {"ip_prefix": "10.1.1.0", "ip_prefix_len": 24}
    assert "dhcp_option_list" not in subnet  # no MTU, no option 26
    assert "mtu" not in body
    assert body["uuid"] == VN  # client-side uuid: a lost answer is read back, not re-created
    assert body["perms2"] == {
        "owner": PROJECT.replace("-", ""),
        "owner_access": 7,
        "global_access": 0,
        "share": [],
    }


@pytest.mark.quirk("tungsten.mtu-not-in-dhcp")
def test_mtu_also_goes_to_dhcp_option_26_on_v4_subnets_only():
    body = wire.virtual_network_body(
        uuid=VN,
        project_fq_name=["default-domain", "alice"],
        project_id=PROJECT,
        name="net-1",
        subnets=[Subnet(cidr="10.0.0.0/24"), Subnet(cidr="fd00::/64")],
        mtu=1450,
        ipam_fq_name=IPAM,
    )
    assert body["mtu"] == 1450
    v4, v6 = body["network_ipam_refs"][0]["attr"]["ipam_subnets"]
    # §6 "MTU via DHCP on a subnet"
    assert v4["dhcp_option_list"] == {
        "dhcp_option": [{"dhcp_option_name": "26", "dhcp_option_value": "1450"}]
    }
    assert "dhcp_option_list" not in v6  # DHCPv4 option; IPv6 guests learn the MTU from router adverts


@pytest.mark.quirk("tungsten.mtu-not-in-dhcp")
def test_option_26_replaces_an_interface_mtu_given_by_name_and_keeps_other_options():
    options = [
        {"dhcp_option_name": "interface-mtu", "dhcp_option_value": "9000"},
        {"dhcp_option_name": "6", "dhcp_option_value": "10.0.0.2"},
    ]
    assert quirks.with_interface_mtu(options, 1400) == [
        {"dhcp_option_name": "6", "dhcp_option_value": "10.0.0.2"},
        {"dhcp_option_name": "26", "dhcp_option_value": "1400"},
    ]
    assert quirks.with_interface_mtu(options, None) == options


def test_subnet_details_go_on_the_wire():
    subnet = Subnet(
        cidr="10.0.0.0/24",
        gateway="10.0.0.1",
        dns_server="10.0.0.2",
        name="s1",
        dhcp_enabled=False,
        allocation_pools=(AllocationPool(start="10.0.0.10", end="10.0.0.20"),),
        dhcp_options=(DhcpOption(name="6", value="8.8.8.8"),),
    )
    entry = wire.ipam_subnet(subnet, None)
    assert entry == {
        "subnet": {"ip_prefix": "10.0.0.0", "ip_prefix_len": 24},
        "enable_dhcp": False,
        "default_gateway": "10.0.0.1",
        "dns_server_address": "10.0.0.2",
        "subnet_name": "s1",
        "allocation_pools": [{"start": "10.0.0.10", "end": "10.0.0.20"}],
        "dhcp_option_list": {"dhcp_option": [{"dhcp_option_name": "6", "dhcp_option_value": "8.8.8.8"}]},
    }


@pytest.mark.parametrize("cidr", ["10.0.0.1/24", "10.0.0.0/33", "not-a-cidr", ""])
def test_bad_cidrs_are_refused_before_any_request(cidr):
    with pytest.raises(InvalidArgumentError):
        wire.subnet_spec(cidr, operation=OP)


@pytest.mark.parametrize("mtu", [0, 67, 9217, True, 1450.0])
def test_bad_mtus_are_refused(mtu):
    with pytest.raises(InvalidArgumentError, match="mtu"):
        wire.virtual_network_body(
            uuid=VN,
            project_fq_name=["d", "p"],
            project_id=PROJECT,
            name="n",
            subnets=[],
            mtu=mtu,
            ipam_fq_name=IPAM,
        )


@pytest.mark.parametrize("name", ["", " x", "a:b", None])
def test_bad_names_are_refused(name):
    with pytest.raises(InvalidArgumentError, match="name"):
        wire.logical_router_body(uuid="u", project_fq_name=["d", "p"], project_id=PROJECT, name=name)


@pytest.mark.quirk("tungsten.admin-scope-capture")
def test_config_root_and_pool_children_get_the_customer_as_explicit_owner():
    network = ObjectRef(type="virtual-network", uuid=VN, fq_name=("default-domain", "alice", "net-1"))
    iip = wire.instance_ip_body(uuid="i1", project_id=PROJECT, network=network, address="10.0.0.5")
    assert "parent_type" not in iip
    assert iip["fq_name"] == ["i1"]
    assert iip["perms2"]["owner"] == PROJECT.replace("-", "")
    assert iip["instance_ip_family"] == "v4"
    pool = ObjectRef(type="floating-ip-pool", uuid="p1", fq_name=("default-domain", "admin", "ext", "public"))
    project = ObjectRef(type="project", uuid=PROJECT, fq_name=("default-domain", "alice"))
    fip = wire.floating_ip_body(uuid="f1", pool=pool, project=project)
    assert fip["fq_name"] == ["default-domain", "admin", "ext", "public", "f1"]
    assert fip["project_refs"] == [{"to": ["default-domain", "alice"], "uuid": PROJECT, "attr": None}]
    assert fip["perms2"]["owner"] == PROJECT.replace("-", "")


def test_port_body_refers_by_fq_name_and_uuid():
    network = ObjectRef(type="virtual-network", uuid=VN, fq_name=("default-domain", "alice", "net-1"))
    sg = ObjectRef(type="security-group", uuid="sg1", fq_name=("default-domain", "alice", "web"))
    body = wire.port_body(
        uuid=VMI,
        project_fq_name=["default-domain", "alice"],
        project_id=PROJECT,
        name="port-1",
        network=network,
        security_groups=[sg],
        mac_address="02:00:00:00:00:01",
    )
    assert body["virtual_network_refs"] == [{"to": list(network.fq_name), "uuid": VN, "attr": None}]
    assert body["security_group_refs"][0]["to"] == ["default-domain", "alice", "web"]
    assert body["virtual_machine_interface_mac_addresses"] == {"mac_address": ["02:00:00:00:00:01"]}


def test_security_group_rule_matches_the_reference_schema_example():
    # §6 "Security-group rule body": ingress tcp/443 from anywhere to this group
    rule = SecurityGroupRule(
        direction=RuleDirection.INGRESS, protocol="tcp", port_min=443, port_max=443, remote_cidr="0.0.0.0/0"
    )
    entry = wire.security_group_rule(rule, rule_uuid="r1")
    assert entry == {
        "rule_uuid": "r1",
        "direction": ">",
        "protocol": "tcp",
        "ethertype": "IPv4",
        "src_addresses": [{"subnet": {"ip_prefix": "0.0.0.0", "ip_prefix_len": 0}}],  # noqa: S104
        "src_ports": [{"start_port": 0, "end_port": 65535}],
        "dst_addresses": [{"security_group": "local"}],
        "dst_ports": [{"start_port": 443, "end_port": 443}],
    }
    back = wire.security_group_rule_of(wire._Node(entry, "$", OP))
    assert back == SecurityGroupRule(
        direction=RuleDirection.INGRESS,
        protocol="tcp",
        port_min=443,
        port_max=443,
        remote_cidr="0.0.0.0/0",
        uuid="r1",
    )


def test_egress_rule_puts_local_on_the_source_side():
    rule = SecurityGroupRule(direction=RuleDirection.EGRESS, remote_group="default-domain:alice:db")
    entry = wire.security_group_rule(rule, rule_uuid="r2")
    assert entry["src_addresses"] == [{"security_group": "local"}]
    assert entry["dst_addresses"] == [{"security_group": "default-domain:alice:db"}]
    back = wire.security_group_rule_of(wire._Node(entry, "$", OP))
    assert (back.direction, back.remote_group, back.remote_cidr) == (
        RuleDirection.EGRESS,
        "default-domain:alice:db",
        None,
    )


@pytest.mark.parametrize(
    "rule",
    [
        SecurityGroupRule(direction=RuleDirection.INGRESS, port_min=10, port_max=5),
        SecurityGroupRule(direction=RuleDirection.INGRESS, ethertype="IPX"),
        SecurityGroupRule(direction=RuleDirection.INGRESS, remote_cidr="0.0.0.0/0", remote_group="local"),
        SecurityGroupRule(direction=RuleDirection.INGRESS, remote_cidr="nope"),
    ],
)
def test_bad_rules_are_refused(rule):
    with pytest.raises(InvalidArgumentError):
        wire.security_group_rule(rule, rule_uuid="r")


@pytest.mark.quirk("tungsten.put-replaces-refs")
def test_ref_update_bodies_follow_the_reference():
    # §6: POST /ref-update {"operation": "ADD", "uuid", "type", "ref-type", "ref-uuid", "attr"}
    body = quirks.ref_update(
        "ADD",
        ObjectRef(type="virtual-network", uuid="e3a2"),
        ObjectRef(type="network-policy", uuid="7810"),
        {"sequence": {"major": 0, "minor": 0}},
    )
    assert body == {
        "operation": "ADD",
        "uuid": "e3a2",
        "type": "virtual-network",
        "ref-type": "network-policy",
        "ref-uuid": "7810",
        "attr": {"sequence": {"major": 0, "minor": 0}},
    }


@pytest.mark.quirk("tungsten.put-replaces-refs")
@pytest.mark.quirk("tungsten.mtu-not-in-dhcp")
def test_network_update_sends_the_complete_ipam_ref_list_and_keeps_subnet_uuids():
    other_ipam = ["default-domain", "alice", "ipam-2"]
    current = {
        "uuid": VN,
        "fq_name": ["default-domain", "alice", "net-1"],
        "mtu": 1500,
        "network_ipam_refs": [
            {
                "to": IPAM,
                "uuid": "ipam-1",
                "href": "http://h/network-ipam/ipam-1",
                "attr": {
                    "ipam_subnets": [
                        {
                            "subnet": {"ip_prefix": "10.0.0.0", "ip_prefix_len": 24},
                            "subnet_uuid": "s-1",
                            "default_gateway": "10.0.0.1",
                            "dhcp_option_list": {
                                "dhcp_option": [{"dhcp_option_name": "6", "dhcp_option_value": "10.0.0.2"}]
                            },
                        }
                    ],
                    "host_routes": None,
                },
            },
            {
                "to": other_ipam,
                "uuid": "ipam-2",
                "attr": {"ipam_subnets": [{"subnet": {"ip_prefix": "10.9.0.0", "ip_prefix_len": 24}}]},
            },
        ],
    }
    changes = wire.network_update(current, mtu=1400, subnets=None, operation=OP)
    assert changes["mtu"] == 1400
    refs = changes["network_ipam_refs"]
    assert [r["uuid"] for r in refs] == ["ipam-1", "ipam-2"]  # both refs survive the PUT
    assert all("href" not in r for r in refs)
    first = refs[0]["attr"]["ipam_subnets"][0]
    assert first["subnet_uuid"] == "s-1"
    assert first["default_gateway"] == "10.0.0.1"
    assert first["dhcp_option_list"]["dhcp_option"] == [
        {"dhcp_option_name": "6", "dhcp_option_value": "10.0.0.2"},
        {"dhcp_option_name": "26", "dhcp_option_value": "1400"},
    ]
    assert refs[0]["attr"]["host_routes"] is None  # other attr fields kept
    second = refs[1]["attr"]["ipam_subnets"][0]
    assert second["dhcp_option_list"]["dhcp_option"] == [
        {"dhcp_option_name": "26", "dhcp_option_value": "1400"}
    ]


def test_network_update_of_subnets_keeps_listed_drops_others_adds_new_with_the_current_mtu():
    current = {
        "uuid": VN,
        "fq_name": ["default-domain", "alice", "net-1"],
        "mtu": 1450,
        "network_ipam_refs": [
            {
                "to": IPAM,
                "uuid": "ipam-1",
                "attr": {
                    "ipam_subnets": [
                        {"subnet": {"ip_prefix": "10.0.0.0", "ip_prefix_len": 24}, "subnet_uuid": "keep"},
                        {"subnet": {"ip_prefix": "10.0.1.0", "ip_prefix_len": 24}, "subnet_uuid": "drop"},
                    ]
                },
            }
        ],
    }
    wanted = [Subnet(cidr="10.0.0.0/24"), Subnet(cidr="10.0.2.0/24")]
    changes = wire.network_update(current, mtu=None, subnets=wanted, operation=OP)
    assert "mtu" not in changes
    entries = changes["network_ipam_refs"][0]["attr"]["ipam_subnets"]
    assert [e.get("subnet_uuid") for e in entries] == ["keep", None]
    assert entries[1]["subnet"] == {"ip_prefix": "10.0.2.0", "ip_prefix_len": 24}
    assert entries[1]["dhcp_option_list"]["dhcp_option"][-1]["dhcp_option_value"] == "1450"


def test_network_update_cannot_add_subnets_without_an_ipam_ref():
    with pytest.raises(InvalidArgumentError, match="network-ipam"):
        wire.network_update(
            {"uuid": VN, "fq_name": ["d", "p", "n"]},
            mtu=None,
            subnets=[Subnet(cidr="10.0.0.0/24")],
            operation=OP,
        )


# ---------------------------------------------------------------------------------------------- answers
def test_create_answer_of_the_reference():
    assert wire.created_uuid(CREATE_ANSWER, "virtual-network", operation=OP) == VN


def test_read_example_decodes_into_a_network():
    obj = {
        **CREATE_ANSWER["virtual-network"],
        "parent_type": "project",
        "mtu": 1450,
        "router_external": False,
        "perms2": {"owner": PROJECT.replace("-", ""), "owner_access": 7, "global_access": 0, "share": []},
        "network_ipam_refs": [
            {
                "to": IPAM,
                "uuid": "ipam-1",
                "href": "http://h:8082/network-ipam/ipam-1",
                "attr": {
                    "ipam_subnets": [
                        {
                            "subnet": {"ip_prefix": "10.1.1.0", "ip_prefix_len": 24},
                            "default_gateway": "10.1.1.254",
                            "subnet_uuid": "s-1",
                            "enable_dhcp": True,
                            "dhcp_option_list": {
                                "dhcp_option": [{"dhcp_option_name": "26", "dhcp_option_value": "1450"}]
                            },
                        }
                    ]
                },
            }
        ],
    }
    vn = wire.virtual_network(obj, operation=OP)
    assert (vn.uuid, vn.name, vn.fq_name, vn.project_id, vn.mtu, vn.owner) == (
        VN,
        "vn-blue",
        ("default-domain", "admin", "vn-blue"),
        PROJECT,
        1450,
        PROJECT,
    )
    (subnet,) = vn.subnets
    assert (subnet.cidr, subnet.uuid, subnet.gateway, subnet.mtu) == (
        "10.1.1.0/24",
        "s-1",
        "10.1.1.254",
        1450,
    )


def test_list_pages_plain_detail_and_marker():
    # §6 list examples: plain, detail (wrapped per item), paginated with a top-level marker
    plain = {
        "virtual-networks": [{"href": "h", "uuid": VN, "fq_name": ["default-domain", "admin", "vn-blue"]}]
    }
    page = wire.list_page(plain, "virtual-network", detail=False, operation=OP)
    assert (page.objects[0]["uuid"], page.marker, page.paged) == (VN, None, False)
    detail = {"virtual-networks": [{"virtual-network": {"uuid": VN}}], "marker": VN}
    page = wire.list_page(detail, "virtual-network", detail=True, operation=OP)
    assert (page.objects, page.marker, page.paged) == (({"uuid": VN},), VN, True)
    last = {"virtual-networks": [], "marker": None}
    assert wire.list_page(last, "virtual-network", detail=True, operation=OP).marker is None


def test_id_to_fqname_and_fqname_to_id_answers():
    # §6: POST /id-to-fqname and /fqname-to-id
    assert wire.fq_name_of(
        {"type": "virtual-network", "fq_name": ["default-domain", "admin", "vn-blue"]}, operation=OP
    ) == ("virtual-network", ("default-domain", "admin", "vn-blue"))
    assert wire.uuid_of({"uuid": "e3a20048-8cc7-4cff-8c3b-ada61eb822ed"}, operation=OP).startswith("e3a2")
    assert wire.aaa_mode_of({"aaa-mode": "rbac"}, operation=OP) == "rbac"


def test_decode_errors_name_the_path():
    bad = {
        "uuid": VN,
        "fq_name": ["d", "p", "n"],
        "network_ipam_refs": [
            {"to": IPAM, "attr": {"ipam_subnets": [{"subnet": {"ip_prefix": "10.0.0.0"}}]}}
        ],
    }
    with pytest.raises(ResponseDecodeError) as info:
        wire.virtual_network(bad, operation=OP)
    path = "$.virtual-network.network_ipam_refs[0].attr.ipam_subnets[0].subnet.ip_prefix_len"
    assert info.value.problems == (f"{path}: expected an integer, got nothing",)


def test_a_2xx_answer_that_is_not_json_is_a_decode_error():
    with pytest.raises(ResponseDecodeError, match="unexpected shape"):
        wire.parse_reply(200, "text/html", b"<html>proxy</html>", operation=OP)
    assert wire.parse_reply(200, "text/plain", b"", operation=OP) is None


# ---------------------------------------------------------------------------------------------- errors
STILL_REFERRED = (
    f"Delete when resource still referred: ['http://h:8082/virtual-machine-interface/{VMI}', "
    "'http://h:8082/instance-ip/0a1b2c3d-0000-4000-8000-00000000000a']"
).encode()


@pytest.mark.quirk("tungsten.plain-text-errors")
@pytest.mark.parametrize(
    ("status", "text", "cls", "kind"),
    [
        (409, STILL_REFERRED.decode(), ConflictError, "still-referred"),
        (
            409,
            "Delete when children still present: ['http://h:8082/virtual-network/x']",
            ConflictError,
            "children-present",
        ),
        (
            409,
            f"['default-domain', 'admin', 'vn-blue'] already exists with uuid: {VN}",
            ConflictError,
            "exists",
        ),
        (
            409,
            f"{VN} already exists with fq_name: ['default-domain', 'admin', 'vn-blue']",
            ConflictError,
            "exists",
        ),
        (409, "IP address already in use", ConflictError, "ip-in-use"),
        (
            400,
            "Virtual-Network(['d', 'p', 'n']) has exhausted subnet(['10.0.0.0/30'])",
            ConflictError,
            None,
        ),
        (
            400,
            "Parent ['default-domain', 'nobody'] type project does not exist",
            NotFoundError,
            None,
        ),
        (400, "Bad reference in create: ...", NotFoundError, None),
        (400, "Invalid UUID format: x", ApiError, None),
        (401, "Authentication required", AuthenticationError, None),
        (403, "Permission Denied", PermissionDeniedError, None),
        (404, f"No virtual-network object found for id {VN}", NotFoundError, None),
        (412, "Over quota", ConflictError, None),
        (503, "Service Unavailable", ServerError, None),
    ],
)
def test_plain_text_errors_become_typed_errors(status, text, cls, kind):
    err = wire.error_from(status, "text/plain; charset=UTF-8", text.encode(), operation=OP)
    assert type(err) is cls
    assert quirks.classify(status, text) == (cls, kind)  # the kind shapes the message only
    assert (err.status, err.code, err.quirk, err.system) == (  # TF sends no code of its own
        status,
        None,
        "tungsten.plain-text-errors",
        "tungsten",
    )
    assert err.detail == text


@pytest.mark.quirk("tungsten.plain-text-errors")
def test_a_refused_delete_names_the_blocking_objects():
    subject = ObjectRef(type="virtual-network", uuid=VN)
    err = wire.error_from(
        409, "text/plain", STILL_REFERRED, operation="delete_virtual_network", subject=subject
    )
    assert isinstance(err, ConflictError)
    assert err.message == (
        f"cannot delete virtual-network {VN}: still referred to by virtual-machine-interface {VMI}, "
        "instance-ip 0a1b2c3d-0000-4000-8000-00000000000a"
    )
    assert blocking_objects(err) == (
        ObjectRef(type="virtual-machine-interface", uuid=VMI),
        ObjectRef(type="instance-ip", uuid="0a1b2c3d-0000-4000-8000-00000000000a"),
    )
    assert blocking_objects(ValueError("x")) == ()


@pytest.mark.quirk("tungsten.plain-text-errors")
def test_neutron_proxy_json_errors_map_by_exception_name():
    body = json.dumps({"exception": "NetworkNotFound", "net_id": VN, "msg": "Network could not be found"})
    err = wire.error_from(400, "application/json", body.encode(), operation=OP)
    assert isinstance(err, NotFoundError)
    assert err.code == "NetworkNotFound"
    assert "Network could not be found" in err.message
    admin = wire.error_from(400, "application/json", b'{"exception": "AdminRequired"}', operation=OP)
    assert isinstance(admin, PermissionDeniedError)
    other = wire.error_from(400, "application/json", b'{"exception": "BadRequest"}', operation=OP)
    assert type(other) is ApiError


def test_port_blockers_ignore_its_own_instance_ips():
    obj = {
        "instance_ip_back_refs": [{"uuid": "i1", "to": ["i1"]}],
        "logical_router_back_refs": [{"uuid": "r1", "to": ["d", "p", "r1"]}],
    }
    assert wire.port_blockers(obj, operation=OP) == (
        ObjectRef(type="logical-router", uuid="r1", fq_name=("d", "p", "r1")),
    )


def test_project_ids_are_dashed_for_tf_and_bare_for_owners():
    assert quirks.dashed("0123456789abcdef0123456789abcdef") == "01234567-89ab-cdef-0123-456789abcdef"
    assert quirks.dashed("cloud-admin") == "cloud-admin"
    assert quirks.undashed(PROJECT) == PROJECT.replace("-", "")
