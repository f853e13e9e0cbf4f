"""A stateful Tungsten Fabric (OpenContrail) config API ("VNC API", contrail-api :8082) on loopback.

`TungstenFake` serves the REST shape of the VNC API server following the wire facts of
``/work/shared/reference/tungsten.md`` (the shared reference) and, where it is silent, the
``tungstenfabric/tf-controller`` source it cites. Guesses are marked ``# assumption:``.

Routes (``<type>`` is hyphenated; the collection is always the naive ``<type>s``)::

    GET  /                              home page (no token needed)
    GET  /<type>s                       list: parent_id, parent_fq_name_str, back_ref_id, obj_uuids,
                                        fq_names, detail, count, fields, filters, page_marker,
                                        page_limit, exclude_hrefs
    POST /<type>s                       create  {"<type>": {...}}
    GET|PUT|DELETE /<type>/<uuid>       read (fields, exclude_back_refs, exclude_children), update, delete
    POST /fqname-to-id  /id-to-fqname  /ref-update  /ref-relax-for-delete  /chown  /chmod
    GET|PUT /aaa-mode
    POST /neutron/network  /neutron/router      vnc_openstack's proxy: READ and READALL only

Types: ``project`` (mirrors Keystone projects under ``default-domain``), ``network-ipam``,
``virtual-network`` (with an auto-made ``routing-instance`` child), ``virtual-machine``,
``virtual-machine-interface``, ``instance-ip``, ``floating-ip-pool``, ``floating-ip``,
``security-group``, ``logical-router``, ``route-table``, ``network-policy`` (plus the seeded
``domain`` and ``global-system-config``).

Authentication is keystonemiddleware's: every request but ``/`` needs ``X-Auth-Token``, which the
fake validates against Keystone (``GET /v3/auth/tokens`` with its own service token in
``X-Auth-Token`` and the caller's in ``X-Subject-Token``; results cached per token). The
identity (user, project, roles) comes only from the token. Error bodies are plain text (the
message string, sent with bottle's default ``text/html`` content type), as contrail-api's error
handlers send them; only keystonemiddleware's 401 is JSON and the cloud-admin 403 ``text/plain``.

Example:
    >>> import httpx
    >>> from cloudkit.testing.fakes.openstack import OpenStackFake
    >>> with OpenStackFake() as keystone, TungstenFake(keystone_url=keystone.auth_url) as tf:
    ...     with httpx.Client(trust_env=False) as http:
    ...         issued = http.post(f"{keystone.auth_url}/auth/tokens", json=keystone.admin.token_request())
    ...         headers = {"X-Auth-Token": issued.headers["X-Subject-Token"]}
    ...         ipams = http.get(f"{tf.url}/network-ipams", headers=headers).json()
    ...         denied = http.get(f"{tf.url}/network-ipams")
    >>> [i["fq_name"] for i in ipams["network-ipams"]]
    [['default-domain', 'default-project', 'default-network-ipam']]
    >>> denied.status_code, tf.requests[-1].token
    (401, None)
"""

from __future__ import annotations

import copy
import datetime as dt
import http
import ipaddress
import json
import pprint
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, cast
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

import httpx

from cloudkit.testing.fakes._loopback import LoopbackServer, LoopbackService, QuietHandler, SlowGate

__all__ = [
    "AaaMode",
    "CaptureEffect",
    "Fault",
    "RecordedCall",
    "TungstenCall",
    "TungstenFake",
    "TungstenFault",
    "TungstenFaultKind",
    "TungstenScopeCapture",
]

_Json = dict[str, Any]
_Network = ipaddress.IPv4Network | ipaddress.IPv6Network
AaaMode = Literal["cloud-admin", "rbac", "no-auth"]
TungstenFaultKind = Literal["server_error", "drop_connection", "slow"]
CaptureEffect = Literal["denied", "narrowed", "over-privileged"]

_AAA_MODES: tuple[AaaMode, ...] = ("cloud-admin", "rbac", "no-auth")
_NAMESPACE = uuid.UUID("5b7c0c52-8d1e-4f63-9a3e-2f1d6c4b8a90")  # seeds get uuid5 ids in it: fixed
_DOMAIN = "default-domain"
_DEFAULT_PROJECT = "default-project"
_CLOUD_ADMIN = "cloud-admin"  # the owner of objects made without a project scope
_CLOUD_ADMIN_ROLE = "admin"  # contrail-api's cloud_admin_role default
_PERMS_R, _PERMS_W, _PERMS_X = 4, 2, 1
_PERMS_RWX, _PERMS_RX = 7, 5
_MODE_WORDS = {
    4: "read",
    2: "write",
    1: "link",
    3: "write,link",
    5: "read,link",
    6: "read,write",
    7: "read,write,link",
}
_OPS = {"GET": "R", "HEAD": "R", "POST": "C", "PUT": "U", "DELETE": "D"}
_PAGINATE_COUNT = 256  # contrail-api's paginate_count default
_SG_ID_FIRST = 8000001  # assumption: SGID_MIN_ALLOC is 8000000 and __no_rule__ takes the first
_SYSTEM_VNS = (("ip-fabric",), ("__link_local__",))
_UNAUTHORIZED = {
    "error": {
        "code": 401,
        "title": "Unauthorized",
        "message": "The request you have made requires authentication.",
    }
}
_BOTTLE_TEXT = "text/html; charset=UTF-8"  # bottle's default content type, used for its error bodies
_IP_PROTOCOLS = frozenset(
    # assumption: the names cfgm_common.protocols.IP_PROTOCOL_NAMES accepts besides numbers
    {"any", "icmp", "igmp", "tcp", "udp", "icmp6", "ipv6-icmp", "gre", "esp", "ah", "sctp", "vrrp", "ospf"}
)
_DEFAULT_RBAC_RULES = (
    # contrail-api's own default-api-access-list (_create_default_rbac_rule)
    "fqname-to-id => *:CRUD",
    "id-to-fqname => *:CRUD",
    "useragent-kv => *:CRUD",
    "documentation => *:R",
    "/ => *:R",
    "watch => *:R",
    "logical-router.logical_router_gateway_external => *:R",
)


def _uuid5(name: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, name))


def _fmt(value: object) -> str:
    """Python's ``pprint.pformat``, which contrail-api uses for fq_names in its messages."""
    return pprint.pformat(value)


def _now_iso() -> str:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None).isoformat()


def _dashed(project_id: str) -> str:
    """Keystone's hex project id as the TF project uuid (dashes inserted)."""
    return str(uuid.UUID(project_id))


def _bare(owner: str) -> str:
    return owner.replace("-", "")


# ================================================================================== public records
@dataclass(frozen=True, slots=True)
class TungstenCall:
    """One request the fake received, with the identity its token resolved to.

    ``token`` is ``"***"`` when an ``X-Auth-Token`` was sent and None otherwise; ``user``,
    ``project`` (name), ``project_id`` (Keystone's hex id) and ``roles`` are what Keystone said
    about that token (None/empty when it was missing or invalid, or in ``no-auth`` mode).
    ``status`` is None when no answer was sent (a dropped connection); ``note`` says why the
    request captured the integration identity's scope, if it did.

    Example:
        >>> call = TungstenCall("GET", "/virtual-networks", "", 200, "***", "bob", "bob", "ab", ("reader",))
        >>> call.status, call.roles, call.note is None
        (200, ('reader',), True)
    """

    method: str
    path: str
    query: str
    status: int | None
    token: str | None
    user: str | None
    project: str | None
    project_id: str | None
    roles: tuple[str, ...] = ()
    body: str = ""
    fault: TungstenFaultKind | None = None
    note: str | None = None


RecordedCall = TungstenCall
"""The name the other fakes use for a recorded request."""


@dataclass(frozen=True, slots=True)
class TungstenScopeCapture:
    """TF's integration identity arrived with a token scoped to a customer project.

    contrail-api has no identity of its own: it authorises, filters and assigns ownership with the
    scope of the token it is given (reference §2.5). When the shared admin account the portal uses
    for TF is switched to a customer's scope, TF "takes on" that scope. ``effect`` is what the
    request met: ``"denied"`` (403: no ``admin`` role there), ``"narrowed"`` (rbac: the admin
    project's routing objects drop out of view and new config-root objects get the customer as
    owner) or ``"over-privileged"`` (the account holds ``admin`` on the customer project too, so
    that scope sees and changes every tenant's objects).

    Example:
        >>> c = TungstenScopeCapture("admin", "cust1", "ab12", ("member",), "GET", "/logical-routers", 403,
        ...                          "denied", "why")
        >>> c.effect
        'denied'
    """

    user: str
    project: str
    project_id: str
    roles: tuple[str, ...]
    method: str
    path: str
    status: int
    effect: CaptureEffect
    reason: str


@dataclass(frozen=True, slots=True)
class TungstenFault:
    """A fault for `TungstenFake.inject`; build one with the class methods.

    Example:
        >>> TungstenFault.server_error(503, "No connection to zookeeper.").text
        'No connection to zookeeper.'
        >>> TungstenFault.drop_connection().kind
        'drop_connection'
    """

    kind: TungstenFaultKind
    status: int = 500
    text: str = ""
    hold: float = 0.0

    @classmethod
    def server_error(cls, status: int = 503, text: str | None = None) -> TungstenFault:
        """An error answer with a plain-text body (default: the HTTP reason phrase).

        Example:
            >>> TungstenFault.server_error(500).text
            'Internal Server Error'
        """
        if not 400 <= status < 600:  # noqa: PLR2004 - the HTTP error range
            raise ValueError(f"status must be an HTTP error code, got {status}")
        return cls(
            kind="server_error", status=status, text=http.HTTPStatus(status).phrase if text is None else text
        )

    @classmethod
    def drop_connection(cls) -> TungstenFault:
        """Close the socket without any answer and without handling the request.

        Example:
            >>> TungstenFault.drop_connection().status
            500
        """
        return cls(kind="drop_connection")

    @classmethod
    def slow(cls, *, timeout: float = 5.0) -> TungstenFault:
        """Hold the answer until `TungstenFake.release_slow` or ``timeout`` seconds, then answer.

        Example:
            >>> TungstenFault.slow(timeout=1.0).hold
            1.0
        """
        return cls(kind="slow", hold=timeout)


Fault = TungstenFault
"""The name the other fakes use for a fault."""


# ================================================================================== schema subset
@dataclass(frozen=True, slots=True)
class _Kind:
    """One resource type: parents (empty: config-root), refs (field -> target type), properties."""

    name: str
    parents: tuple[str, ...]
    refs: Mapping[str, str]
    props: frozenset[str]
    ints: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    bools: frozenset[str] = frozenset()
    strings: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # value -> allowed (empty: any)

    @property
    def snake(self) -> str:
        return self.name.replace("-", "_")


_BASE_PROPS = frozenset({"id_perms", "perms2", "display_name", "annotations"})


def _kind(
    name: str,
    parents: tuple[str, ...],
    refs: Mapping[str, str],
    complex_props: Iterable[str] = (),
    *,
    ints: Mapping[str, tuple[int, int]] | None = None,
    bools: Iterable[str] = (),
    strings: Mapping[str, tuple[str, ...]] | None = None,
) -> _Kind:
    ints = dict(ints or {})
    strings = {"display_name": (), **(strings or {})}
    props = _BASE_PROPS | set(complex_props) | set(ints) | set(bools) | set(strings)
    return _Kind(name, parents, dict(refs), frozenset(props), ints, frozenset(bools), strings)


_KINDS: dict[str, _Kind] = {
    k.name: k
    for k in (
        _kind("domain", (), {}, ["domain_limits"]),
        _kind(
            "global-system-config",
            (),
            {},
            ["ip_fabric_subnets"],
            ints={"autonomous_system": (1, 4294967295)},
            strings={"config_version": ()},
        ),
        _kind(
            "project",
            ("domain",),
            {"floating_ip_pool_refs": "floating-ip-pool"},
            ["quota"],
            bools=["vxlan_routing", "alarm_enable", "enable_security_policy_draft"],
        ),
        _kind(
            "network-ipam",
            ("project",),
            {},
            ["network_ipam_mgmt", "ipam_subnets"],
            bools=["ipam_subnetting"],
            strings={"ipam_subnet_method": ("user-defined-subnet", "flat-subnet", "auto-subnet")},
        ),
        _kind(
            "virtual-network",
            ("project",),
            {
                "network_ipam_refs": "network-ipam",
                "network_policy_refs": "network-policy",
                "route_table_refs": "route-table",
            },
            [
                "virtual_network_properties",
                "route_target_list",
                "import_route_target_list",
                "export_route_target_list",
                "provider_properties",
                "ecmp_hashing_include_fields",
                "mac_limit_control",
                "mac_move_control",
                "virtual_network_fat_flow_protocols",
                "virtual_network_routed_properties",
            ],
            ints={
                "mtu": (0, 9216),
                "virtual_network_network_id": (0, 4294967295),
                "mac_aging_time": (0, 86400),
            },
            bools=[
                "router_external",
                "is_shared",
                "port_security_enabled",
                "flood_unknown_unicast",
                "external_ipam",
                "fabric_snat",
                "igmp_enable",
                "layer2_control_word",
                "mac_learning_enabled",
                "mac_ip_learning_enable",
                "pbb_etree_enable",
                "pbb_evpn_enable",
                "is_provider_network",
                "multi_policy_service_chains_enabled",
            ],
            strings={
                "address_allocation_mode": (
                    "user-defined-subnet-preferred",
                    "user-defined-subnet-only",
                    "flat-subnet-preferred",
                    "flat-subnet-only",
                ),
                "virtual_network_category": (),
            },
        ),
        _kind(
            "routing-instance",
            ("virtual-network",),
            {},
            ["static_route_entries", "service_chain_information"],
            bools=["routing_instance_is_default", "routing_instance_fabric_snat", "routing_instance_has_pnf"],
        ),
        _kind("virtual-machine", (), {}, strings={"server_type": ()}),
        _kind(
            "virtual-machine-interface",
            ("project", "virtual-machine", "virtual-router"),
            {
                "virtual_network_refs": "virtual-network",
                "security_group_refs": "security-group",
                "virtual_machine_refs": "virtual-machine",
            },
            [
                "virtual_machine_interface_mac_addresses",
                "virtual_machine_interface_bindings",
                "virtual_machine_interface_dhcp_option_list",
                "virtual_machine_interface_allowed_address_pairs",
                "virtual_machine_interface_host_routes",
                "virtual_machine_interface_properties",
                "virtual_machine_interface_fat_flow_protocols",
                "ecmp_hashing_include_fields",
                "vrf_assign_table",
            ],
            bools=[
                "port_security_enabled",
                "virtual_machine_interface_disable_policy",
                "igmp_enable",
                "vlan_tag_based_bridge_domain",
            ],
            strings={"virtual_machine_interface_device_owner": ()},
        ),
        _kind(
            "instance-ip",
            (),
            {
                "virtual_network_refs": "virtual-network",
                "virtual_machine_interface_refs": "virtual-machine-interface",
                "network_ipam_refs": "network-ipam",
            },
            ["instance_ip_subnet", "secondary_ip_tracking_ip"],
            bools=[
                "instance_ip_local_ip",
                "instance_ip_secondary",
                "service_health_check_ip",
                "service_instance_ip",
            ],
            strings={
                "instance_ip_address": (),
                "instance_ip_family": ("v4", "v6"),
                "instance_ip_mode": ("active-active", "active-standby"),
                "instance_ip_subscriber_tag": (),
                "subnet_uuid": (),
            },
        ),
        _kind("floating-ip-pool", ("virtual-network",), {}, ["floating_ip_pool_subnets"]),
        _kind(
            "floating-ip",
            ("floating-ip-pool", "instance-ip"),
            {"project_refs": "project", "virtual_machine_interface_refs": "virtual-machine-interface"},
            ["floating_ip_port_mappings"],
            bools=["floating_ip_is_virtual_ip", "floating_ip_port_mappings_enable"],
            strings={
                "floating_ip_address": (),
                "floating_ip_address_family": ("v4", "v6"),
                "floating_ip_fixed_ip_address": (),
                "floating_ip_traffic_direction": ("ingress", "egress", "both"),
            },
        ),
        _kind(
            "security-group",
            ("project",),
            {},
            ["security_group_entries"],
            ints={"security_group_id": (0, 4294967295), "configured_security_group_id": (0, 4294967295)},
        ),
        _kind(
            "logical-router",
            ("project",),
            {
                "virtual_machine_interface_refs": "virtual-machine-interface",
                "virtual_network_refs": "virtual-network",
                "route_table_refs": "route-table",
            },
            ["configured_route_target_list", "logical_router_dhcp_relay_server"],
            bools=["logical_router_gateway_external"],
            strings={
                "logical_router_type": ("snat-routing", "vxlan-routing"),
                "vxlan_network_identifier": (),
            },
        ),
        _kind("route-table", ("project",), {}, ["routes"]),
        _kind("network-policy", ("project",), {}, ["network_policy_entries"]),
    )
}
_PLURALS = {f"{name}s": name for name in _KINDS}
_NEUTRON = {  # resource -> (VNC type, Neutron's not-found exception, its id keyword)
    "network": ("virtual-network", "NetworkNotFound", "net_id"),
    "router": ("logical-router", "RouterNotFound", "router_id"),
}
_ACTIONS = (
    "fqname-to-id",
    "id-to-fqname",
    "ref-update",
    "ref-relax-for-delete",
    "chown",
    "chmod",
    "aaa-mode",
)
_VN_PROPERTIES_INTS = {
    "vxlan_network_identifier": (1, 16777215),
    "mtu": (0, 9216),
    "max_flows": (0, 4294967295),
}
_VN_PROPERTIES_CHOICES = {"forwarding_mode": ("l2_l3", "l2", "l3"), "rpf": ("enable", "disable")}
_VN_PROPERTIES_FIELDS = frozenset(
    {"allow_transit", "network_id", "mirror_destination", *_VN_PROPERTIES_INTS, *_VN_PROPERTIES_CHOICES}
)


# ================================================================================== state model
@dataclass(slots=True)
class _Obj:
    kind: str
    uuid: str
    fq_name: list[str]
    parent_type: str | None
    parent_uuid: str | None
    data: _Json  # properties (with id_perms, perms2, display_name) and <type>_refs lists
    seq: int
    relaxed: set[str] = field(default_factory=set)  # ref uuids relaxed for delete (on the referrer)

    @property
    def perms2(self) -> _Json:
        return cast("_Json", self.data["perms2"])

    def refs(self, ref_field: str) -> list[_Json]:
        return cast("list[_Json]", self.data.get(ref_field) or [])

    def copy_with(self, changes: Mapping[str, Any]) -> _Obj:
        """A detached copy with some fields replaced (an update is checked on it before it lands)."""
        data = {**copy.deepcopy(self.data), **copy.deepcopy(dict(changes))}
        return _Obj(self.kind, self.uuid, self.fq_name, self.parent_type, self.parent_uuid, data, self.seq)


@dataclass(frozen=True, slots=True)
class _Identity:
    """What keystonemiddleware puts in the environ: from the token only."""

    user_id: str
    user: str
    project_id: str | None  # Keystone's hex id
    project: str | None
    domain_id: str | None
    roles: tuple[str, ...]
    expires: float  # epoch seconds


@dataclass(frozen=True, slots=True)
class _Caller:
    identity: _Identity | None
    admin: bool
    project_id: str | None  # what HTTP_X_PROJECT_ID holds (hex, no dashes)

    @property
    def roles(self) -> tuple[str, ...]:
        return self.identity.roles if self.identity else ()


@dataclass(frozen=True, slots=True)
class _Rule:
    obj: str
    fld: str  # "*" for the whole object
    perms: tuple[tuple[str, str], ...]  # (role, crud)


def _parse_rule(text: str) -> _Rule:
    """``"<object>[.<field>] => <role>:<CRUD>[, <role>:<CRUD>]"`` (provision_rbac.py's notation)."""
    left, sep, right = text.partition("=>")
    if not sep:
        raise ValueError(f"an rbac rule looks like 'virtual-network => member:CRUD', got {text!r}")
    target = left.strip()
    obj, _, fld = target.partition(".") if target not in ("/", "*") else (target, "", "")
    perms: list[tuple[str, str]] = []
    for part in right.split(","):
        role, colon, crud = part.strip().partition(":")
        if not colon or not role or not set(crud) <= set("CRUD"):
            raise ValueError(f"bad role:CRUD part {part!r} in rbac rule {text!r}")
        perms.append((role, crud))
    return _Rule(obj, fld or "*", tuple(perms))


# ================================================================================== wire plumbing
class _ApiError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        *,
        content_type: str = _BOTTLE_TEXT,
        headers: Iterable[tuple[str, str]] = (),
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.content_type = content_type
        self.headers = tuple(headers)


class _KeystoneUnavailableError(Exception):
    pass


@dataclass(frozen=True, slots=True)
class _Reply:
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()


def _json_reply(doc: object, status: int = 200) -> _Reply:
    return _Reply(status, json.dumps(doc).encode(), "application/json")


def _error_reply(err: _ApiError) -> _Reply:
    return _Reply(err.status, err.message.encode(), err.content_type, err.headers)


@dataclass(frozen=True, slots=True)
class _Request:
    method: str
    path: str  # normalised: no query, no trailing slash
    raw_path: str
    query: Mapping[str, list[str]]
    query_string: str
    headers: Mapping[str, str]  # lower-case names
    body: bytes

    def arg(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else None

    def has(self, name: str) -> bool:
        return name in self.query

    def json(self) -> object:
        if not self.body:
            return None
        try:
            return cast("object", json.loads(self.body))
        except ValueError:
            raise _ApiError(400, "Invalid JSON in request body") from None  # assumption: bottle's text


def _as_list(value: object) -> list[str] | None:
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return [str(v) for v in value]
    return None


def _ip(text: object) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(str(text))
    except ValueError:
        return None


# ================================================================================== keystone side
class _Keystone:
    """keystonemiddleware's view of Keystone: a service token, token validation, project lookups."""

    def __init__(self, url: str, admin: tuple[str, str, str]) -> None:
        base = url.rstrip("/")
        self.url = base if base.endswith("/v3") else f"{base}/v3"
        self.www_authenticate = self.url.removesuffix("/v3")
        self._admin = admin
        self._service_token: str | None = None
        self._http: httpx.Client | None = None

    def close(self) -> None:
        client, self._http = self._http, None
        if client is not None:
            client.close()
        self._service_token = None

    def _client(self) -> httpx.Client:
        if self._http is None:
            self._http = httpx.Client(trust_env=False, timeout=10.0)
        return self._http

    def _issue_service_token(self) -> str:
        user, password, project = self._admin
        domain = {"id": "default"}
        body = {
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {"user": {"name": user, "password": password, "domain": domain}},
                },
                "scope": {"project": {"name": project, "domain": domain}},
            }
        }
        try:
            reply = self._client().post(f"{self.url}/auth/tokens?nocatalog", json=body)
        except httpx.HTTPError as exc:
            raise _KeystoneUnavailableError(str(exc)) from exc
        if reply.status_code != 201:  # noqa: PLR2004 - Keystone's token-issued status
            raise _KeystoneUnavailableError(f"service login answered {reply.status_code}")
        self._service_token = reply.headers["X-Subject-Token"]
        return self._service_token

    def _get(self, path: str, headers: Mapping[str, str] | None = None) -> httpx.Response:
        for attempt in (1, 2):
            token = self._service_token or self._issue_service_token()
            try:
                reply = self._client().get(
                    f"{self.url}{path}", headers={"X-Auth-Token": token, **(headers or {})}
                )
            except httpx.HTTPError as exc:
                raise _KeystoneUnavailableError(str(exc)) from exc
            if reply.status_code == 401 and attempt == 1:  # noqa: PLR2004 - the service token expired
                self._service_token = None
                continue
            return reply
        raise _KeystoneUnavailableError("unreachable")  # pragma: no cover - the loop returns

    def validate(self, token: str) -> _Identity | None:
        """The identity behind a token, or None when Keystone says it is not valid (404)."""
        reply = self._get("/auth/tokens?nocatalog", {"X-Subject-Token": token})
        if reply.status_code in (401, 403, 404):
            return None
        if reply.status_code != 200:  # noqa: PLR2004 - Keystone's success
            raise _KeystoneUnavailableError(f"token validation answered {reply.status_code}")
        body = reply.json()["token"]
        project = body.get("project") or {}
        expires = dt.datetime.fromisoformat(str(body["expires_at"]))
        if expires.tzinfo is None:
            expires = expires.replace(tzinfo=dt.UTC)
        return _Identity(
            user_id=str(body["user"]["id"]),
            user=str(body["user"]["name"]),
            project_id=str(project["id"]) if project else None,
            project=str(project["name"]) if project else None,
            domain_id=str((project.get("domain") or {}).get("id", "default")) if project else None,
            roles=tuple(str(r["name"]) for r in body.get("roles") or ()),
            expires=expires.timestamp(),
        )

    def project(self, *, project_id: str | None = None, name: str | None = None) -> tuple[str, str] | None:
        """``(hex id, name)`` of a Keystone project, found by id or by name; None when unknown."""
        if project_id is not None:
            reply = self._get(f"/projects/{project_id}")
            if reply.status_code != 200:  # noqa: PLR2004 - Keystone's success
                return None
            found = reply.json()["project"]
            return str(found["id"]), str(found["name"])
        reply = self._get(f"/projects?{urlencode({'name': name or ''})}")
        if reply.status_code != 200:  # noqa: PLR2004 - Keystone's success
            return None
        projects = reply.json().get("projects") or []
        return (str(projects[0]["id"]), str(projects[0]["name"])) if projects else None


# ================================================================================== the API server
@dataclass(slots=True)
class _Query:
    """The parsed query of a list request."""

    kind: str
    parent_uuids: list[str] | None
    back_ref_uuids: list[str] | None
    obj_uuids: list[str] | None
    filters: dict[str, list[object]]
    paginate: bool
    marker: str | None
    limit: int
    count: bool
    detail: bool
    fields: frozenset[str]
    hrefs: bool


@dataclass(frozen=True, slots=True)
class _Shape:
    """What a read or a list shows: field selection, children, back-refs, hrefs."""

    fields: frozenset[str] | None = None
    children: bool = True
    back_refs: bool = True
    hrefs: bool = True
    ref_hrefs: bool = True

    def wants(self, name: str) -> bool:
        return self.fields is None or name in self.fields


@dataclass(slots=True)
class _Options:
    keystone_admin: tuple[str, str, str]
    seed: bool
    capture_scope: bool
    token_cache_seconds: float
    rbac_rules: tuple[_Rule, ...]


class _Server:
    """The VNC API server's state and handlers; the caller holds the fake's lock."""

    def __init__(
        self, options: _Options, keystone: _Keystone, clock: Callable[[], float], aaa_mode: AaaMode
    ) -> None:
        self.options = options
        self.keystone = keystone
        self.clock = clock
        self.aaa_mode: AaaMode = aaa_mode
        self.base_url = ""
        self.objs: dict[str, _Obj] = {}
        self.by_fq: dict[tuple[str, tuple[str, ...]], str] = {}
        self.seq = 0
        self.token_cache: dict[str, tuple[_Identity, float]] = {}
        self.captures: list[TungstenScopeCapture] = []
        self._seed()

    # ------------------------------------------------------------------------------ store
    def _next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def find(self, kind: str, fq_name: Sequence[str]) -> _Obj | None:
        found = self.by_fq.get((kind, tuple(fq_name)))
        return self.objs.get(found) if found else None

    def of_kind(self, kind: str) -> list[_Obj]:
        return sorted((o for o in self.objs.values() if o.kind == kind), key=lambda o: o.seq)

    def _put(self, obj: _Obj) -> _Obj:
        self.objs[obj.uuid] = obj
        self.by_fq[(obj.kind, tuple(obj.fq_name))] = obj.uuid
        return obj

    def _drop(self, obj: _Obj) -> None:
        self.objs.pop(obj.uuid, None)
        self.by_fq.pop((obj.kind, tuple(obj.fq_name)), None)

    @staticmethod
    def _id_perms(obj_uuid: str, *, user_visible: bool = True, description: str | None = None) -> _Json:
        number = uuid.UUID(obj_uuid).int
        now = _now_iso()
        return {
            "permissions": {
                "owner": _CLOUD_ADMIN,
                "owner_access": _PERMS_RWX,
                "group": "cloud-admin-group",
                "group_access": _PERMS_RWX,
                "other_access": _PERMS_RWX,
            },
            "uuid": {"uuid_mslong": number >> 64, "uuid_lslong": number & ((1 << 64) - 1)},
            "enable": True,
            "created": now,
            "last_modified": now,
            "description": description,
            "user_visible": user_visible,
            "creator": None,
        }

    @staticmethod
    def _perms2(owner: str, *, global_access: int = 0) -> _Json:
        return {"owner": owner, "owner_access": _PERMS_RWX, "global_access": global_access, "share": []}

    def _system(
        self,
        kind: str,
        fq_name: list[str],
        *,
        owner: str = _CLOUD_ADMIN,
        global_access: int = 0,
        **props: object,
    ) -> _Obj:
        """Create a seeded or server-made object directly (no checks)."""
        parents = _KINDS[kind].parents
        parent = self.find(parents[0], fq_name[:-1]) if parents and len(fq_name) > 1 else None
        obj_uuid = _uuid5(f"{kind}:{':'.join(fq_name)}")
        data: _Json = {
            "display_name": fq_name[-1],
            "id_perms": self._id_perms(obj_uuid),
            "perms2": self._perms2(owner, global_access=global_access),
            **props,
        }
        obj = _Obj(
            kind,
            obj_uuid,
            list(fq_name),
            parent.kind if parent else None,
            parent.uuid if parent else None,
            data,
            self._next_seq(),
        )
        return self._put(obj)

    def _seed(self) -> None:
        self._system("global-system-config", ["default-global-system-config"], autonomous_system=64512)
        self._system("domain", [_DOMAIN])
        if not self.options.seed:
            return
        project = [_DOMAIN, _DEFAULT_PROJECT]
        self._system("project", project, quota={})
        # contrail-api makes the default IPAM readable by every tenant (global_access RX)
        self._system("network-ipam", [*project, "default-network-ipam"], global_access=_PERMS_RX)
        for name, network_id in (("default-virtual-network", 1), ("ip-fabric", 2), ("__link_local__", 3)):
            vn = self._system(
                "virtual-network", [*project, name], virtual_network_network_id=network_id, is_shared=False
            )
            self._system("routing-instance", [*vn.fq_name, name], routing_instance_is_default=True)
        self._system(
            "security-group",
            [*project, "__no_rule__"],
            global_access=_PERMS_RX,
            security_group_entries={},
            security_group_id=_SG_ID_FIRST - 1,
        )

    # ------------------------------------------------------------------------------ views
    def href(self, kind: str, obj_uuid: str) -> str:
        return f"{self.base_url}/{kind}/{obj_uuid}"

    def children(self, obj: _Obj) -> dict[str, list[_Obj]]:
        found: dict[str, list[_Obj]] = {}
        for other in sorted(self.objs.values(), key=lambda o: o.seq):
            if other.parent_uuid == obj.uuid:
                found.setdefault(f"{_KINDS[other.kind].snake}s", []).append(other)
        return found

    def back_refs(self, obj: _Obj) -> list[tuple[_Obj, _Json]]:
        ref_field = f"{_KINDS[obj.kind].snake}_refs"
        found: list[tuple[_Obj, _Json]] = []
        for other in sorted(self.objs.values(), key=lambda o: o.seq):
            found.extend((other, ref) for ref in other.refs(ref_field) if ref.get("uuid") == obj.uuid)
        return found

    def link(self, kind: str, obj_uuid: str, fq_name: Sequence[str], *, hrefs: bool) -> _Json:
        """A ref, child or back-ref entry: ``{"to", "uuid"}`` plus ``href`` unless excluded."""
        entry: _Json = {"to": list(fq_name), "uuid": obj_uuid}
        if hrefs:
            entry["href"] = self.href(kind, obj_uuid)
        return entry

    def view(self, obj: _Obj, shape: _Shape | None = None) -> _Json:
        """The object as ``GET /<type>/<uuid>`` shows it (under no type key)."""
        shape = shape or _Shape()
        doc: _Json = {"uuid": obj.uuid, "fq_name": list(obj.fq_name), "name": obj.fq_name[-1]}
        if obj.parent_type is not None and obj.parent_uuid is not None:
            doc.update(parent_type=obj.parent_type, parent_uuid=obj.parent_uuid)
            if shape.hrefs:
                doc["parent_href"] = self.href(obj.parent_type, obj.parent_uuid)
        if shape.hrefs:
            doc["href"] = self.href(obj.kind, obj.uuid)
        kind = _KINDS[obj.kind]
        for key, value in obj.data.items():
            if key not in kind.refs:
                if shape.wants(key) or key in ("id_perms", "perms2"):
                    doc[key] = copy.deepcopy(value)
            elif value and shape.wants(key):
                ref_hrefs = shape.hrefs and shape.ref_hrefs
                doc[key] = [
                    {
                        **self.link(kind.refs[key], r["uuid"], r["to"], hrefs=ref_hrefs),
                        "attr": copy.deepcopy(r["attr"]),
                    }
                    for r in value
                ]
        doc.update(self._view_links(obj, shape))
        return doc

    def _view_links(self, obj: _Obj, shape: _Shape) -> _Json:
        """Children (``<type>s``) and back-refs (``<type>_back_refs``) of an object."""
        doc: _Json = {}
        if shape.children:
            for child_field, members in self.children(obj).items():
                if shape.wants(child_field):
                    doc[child_field] = [
                        self.link(c.kind, c.uuid, c.fq_name, hrefs=shape.hrefs) for c in members
                    ]
        if shape.back_refs:
            for other, ref in self.back_refs(obj):
                back_field = f"{_KINDS[other.kind].snake}_back_refs"
                if shape.wants(back_field):
                    entry = self.link(other.kind, other.uuid, other.fq_name, hrefs=shape.hrefs)
                    entry["attr"] = copy.deepcopy(ref.get("attr"))
                    doc.setdefault(back_field, []).append(entry)
        return doc

    # ------------------------------------------------------------------------------ identity
    def identity(self, token: str) -> _Identity | None:
        """keystonemiddleware: the cached identity of a token, or Keystone's answer."""
        now = self.clock()
        cached = self.token_cache.get(token)
        if cached is not None:
            ident, at = cached
            if now >= ident.expires:
                del self.token_cache[token]
                return None
            if now - at < self.options.token_cache_seconds:
                return ident
        fresh = self.keystone.validate(token)
        if fresh is None or now >= fresh.expires:
            self.token_cache.pop(token, None)
            return None
        self.token_cache[token] = (fresh, now)
        return fresh

    def sync_project(self, project_id: str, name: str) -> _Obj:
        """vnc_openstack's keystone sync: the TF project for a Keystone project (made if missing)."""
        obj = self.objs.get(_dashed(project_id))
        if obj is not None:
            return obj
        if self.find("project", [_DOMAIN, name]) is not None:
            # assumption: a same-named stale project stays; the real resync may rename (name-<uuid>)
            return cast("_Obj", self.find("project", [_DOMAIN, name]))
        domain = self.find("domain", [_DOMAIN])
        assert domain is not None  # noqa: S101 - always seeded
        obj_uuid = _dashed(project_id)
        data: _Json = {
            "display_name": name,
            "id_perms": self._id_perms(obj_uuid),
            "perms2": self._perms2(project_id),  # a project owns itself (reference §2.4)
            "quota": {},
        }
        obj = self._put(
            _Obj("project", obj_uuid, [_DOMAIN, name], "domain", domain.uuid, data, self._next_seq())
        )
        self._default_security_group(obj)
        return obj

    def _default_security_group(self, project: _Obj) -> None:
        """The ``default`` SG vnc_openstack makes for a project synced from Keystone."""
        sg_fq = [*project.fq_name, "default"]
        # assumption: vnc_openstack's default rules (ingress from the group itself, egress anywhere)
        rules = []
        for ethertype, anywhere in (("IPv4", str(ipaddress.IPv4Address(0))), ("IPv6", "::")):
            ports = [{"start_port": 0, "end_port": 65535}]
            rules.append(
                {
                    "rule_uuid": str(uuid.uuid4()),
                    "direction": ">",
                    "protocol": "any",
                    "ethertype": ethertype,
                    "src_addresses": [{"security_group": ":".join(sg_fq)}],
                    "src_ports": ports,
                    "dst_addresses": [{"security_group": "local"}],
                    "dst_ports": ports,
                }
            )
            rules.append(
                {
                    "rule_uuid": str(uuid.uuid4()),
                    "direction": ">",
                    "protocol": "any",
                    "ethertype": ethertype,
                    "src_addresses": [{"security_group": "local"}],
                    "src_ports": ports,
                    "dst_addresses": [{"subnet": {"ip_prefix": anywhere, "ip_prefix_len": 0}}],
                    "dst_ports": ports,
                }
            )
        obj_uuid = str(uuid.uuid4())
        data: _Json = {
            "display_name": "default",
            "id_perms": self._id_perms(obj_uuid, description="Default security group"),
            "perms2": self._perms2(project.perms2["owner"]),
            "security_group_entries": {"policy_rule": rules},
            "security_group_id": self._next_sg_id(),
        }
        self._put(_Obj("security-group", obj_uuid, sg_fq, "project", project.uuid, data, self._next_seq()))

    def project_from_keystone(self, *, project_id: str | None = None, name: str | None = None) -> _Obj | None:
        """The on-demand sync hook (pre_project_read / pre_project_read_fqname)."""
        try:
            found = self.keystone.project(project_id=project_id, name=name)
        except _KeystoneUnavailableError:
            return None
        return self.sync_project(*found) if found else None

    # ------------------------------------------------------------------------------ permissions
    def rbac_on(self, caller: _Caller) -> bool:
        return self.aaa_mode == "rbac" and not caller.admin

    @staticmethod
    def granted(caller: _Caller, perms2: Mapping[str, Any], mode: int) -> int:
        """The bits of ``mode`` that perms2 grants the caller's project (owner, share, global)."""
        owner = _bare(str(perms2.get("owner") or ""))
        perms = int(perms2.get("owner_access", 0)) << 6 | int(perms2.get("global_access", 0))
        mask = 0o7
        if caller.project_id == owner:
            mask |= 0o700
        domain_id = _bare(_uuid5(f"domain:{_DOMAIN}"))
        for item in perms2.get("share") or []:
            share_type, _, share_id = str(item.get("tenant", "")).rpartition(":")
            mine = caller.project_id if (share_type or "tenant") == "tenant" else domain_id
            if mine == _bare(share_id):
                perms |= int(item.get("tenant_access", 0)) << 3
                mask |= 0o070
                break
        ok = mask & perms & (mode | mode << 3 | mode << 6)
        return (ok & 0o7) | (ok >> 3 & 0o7) | (ok >> 6 & 0o7)

    def check(
        self,
        caller: _Caller,
        msg_uuid: str | None,
        perms2: Mapping[str, Any],
        mode: int,
        *,
        owner_for_delete: str | None = None,
    ) -> None:
        """vnc_perms.validate_perms_rbac: 403 with contrail-api's message when the mode is not granted."""
        if not self.rbac_on(caller):
            return
        ident = caller.identity
        err = (
            f"Permission Denied for {list(caller.roles)} to {_MODE_WORDS[mode]} operation in domain "
            f"'{_DOMAIN}' and project '{ident.project if ident else None}' "
        )
        owner = _bare(str(perms2.get("owner") or ""))
        if not owner:
            raise _ApiError(403, err + f"RBAC: {msg_uuid} doesn't have  perms2 owner set ")
        ok = self.granted(caller, perms2, mode) != 0
        if ok and owner_for_delete is not None:
            ok = caller.project_id == _bare(owner_for_delete)
        if not ok:
            user = ident.user if ident else None
            raise _ApiError(
                403, err + f"RBAC: {user} doesn't have {_MODE_WORDS[mode]} permission in project '{owner}'"
            )

    def can_read(self, caller: _Caller, obj: _Obj) -> bool:
        try:
            self.check(caller, obj.uuid, obj.perms2, _PERMS_R)
        except _ApiError:
            return False
        return True

    def api_rules(self, req: _Request, caller: _Caller, obj_key: str, body: object) -> None:
        """vnc_rbac.validate_request: the api-access-list layer (global rules plus the configured ones)."""
        if not self.rbac_on(caller):
            return
        roles = list(caller.roles)
        if not roles:
            raise _ApiError(401, "roles empty!!")
        op = _OPS.get(req.method, "R")
        ident = caller.identity
        err = _ApiError(
            403,
            f"Permission Denied for {ident.user if ident else None} as {roles} to {op} {obj_key} in "
            f"{ident.project if ident else None}",
        )
        obj_rule, field_rules, wildcard = self._rules_for(obj_key)

        def match(rule: _Rule) -> bool:
            return any(role in [*roles, "*"] and op in crud for role, crud in rule.perms)

        fields = _first_level_fields(body, obj_key)
        if field_rules and fields:
            for name in fields & field_rules.keys():
                if not match(field_rules[name]):
                    raise err
            if not fields - field_rules.keys():
                return
        chosen = obj_rule or wildcard
        if chosen is None or not match(chosen):
            raise err

    def _rules_for(self, obj_key: str) -> tuple[_Rule | None, dict[str, _Rule], _Rule | None]:
        """get_rbac_rules, collapsed: the object rule, its field rules and the wildcard rule."""
        rules = [_parse_rule(r) for r in _DEFAULT_RBAC_RULES] + list(self.options.rbac_rules)
        obj_rule = None
        field_rules: dict[str, _Rule] = {}
        for rule in rules:
            if rule.obj == obj_key and rule.fld == "*":
                obj_rule = _merge(obj_rule, rule)
            elif rule.obj == obj_key:
                field_rules[rule.fld] = _merge(field_rules.get(rule.fld), rule)
        return obj_rule, field_rules, _merge_all([r for r in rules if r.obj == "*"])

    # ------------------------------------------------------------------------------ dispatch
    def authenticate(self, req: _Request) -> _Caller:
        if self.aaa_mode == "no-auth":
            # with auth off nothing strips client headers: X-Project-Id is whatever the client sent
            project_id = req.headers.get("x-project-id")
            return _Caller(None, admin=True, project_id=_bare(project_id) if project_id else None)
        token = req.headers.get("x-auth-token")
        ident = self.identity(token) if token else None
        if ident is None:
            # assumption: keystonemiddleware's JSON 401 with WWW-Authenticate (not contrail-api's text)
            raise _ApiError(
                401,
                json.dumps(_UNAUTHORIZED),
                content_type="application/json",
                headers=[("WWW-Authenticate", f'Keystone uri="{self.keystone.www_authenticate}"')],
            )
        if ident.project_id and ident.project:
            self.sync_project(ident.project_id, ident.project)
        admin = _CLOUD_ADMIN_ROLE in (r.lower() for r in ident.roles)
        return _Caller(ident, admin=admin, project_id=ident.project_id)

    def gate(self, caller: _Caller) -> None:
        """AuthPostKeystone: in cloud-admin mode only tokens with role ``admin`` get through."""
        if self.aaa_mode == "cloud-admin" and not caller.admin:
            raise _ApiError(403, "403 Permission Denied", content_type="text/plain")

    def route(self, req: _Request, caller: _Caller) -> _Reply:
        parts = [p for p in req.path.split("/") if p]
        if not parts and req.method in ("GET", "HEAD"):
            return _json_reply(self.home())
        first = parts[0] if parts else ""
        body = req.json() if req.method in ("POST", "PUT") else None
        self.api_rules(req, caller, _PLURALS.get(first, first) or "/", body)
        if len(parts) == 1 and first in _ACTIONS:
            return self._action(req, caller, first, body)
        if len(parts) == 1 and first in _PLURALS:
            return self._route_collection(req, caller, _PLURALS[first], body)
        if len(parts) == 2 and first in _KINDS:  # noqa: PLR2004 - /<type>/<uuid>
            return self._route_object(req, caller, first, parts[1], body)
        if len(parts) == 2 and first == "neutron" and parts[1] in _NEUTRON and req.method == "POST":  # noqa: PLR2004
            return self.neutron(caller, parts[1], body)
        raise _ApiError(404, f"Not found: {req.raw_path!r}")

    def _route_collection(self, req: _Request, caller: _Caller, kind: str, body: object) -> _Reply:
        if req.method in ("GET", "HEAD"):
            return _json_reply(self.list_collection(req, caller, kind))
        if req.method == "POST":
            return _json_reply(self.create(caller, kind, body))
        raise _ApiError(405, "Method not allowed.")

    def _route_object(self, req: _Request, caller: _Caller, kind: str, obj_uuid: str, body: object) -> _Reply:
        if req.method in ("GET", "HEAD"):
            return _json_reply({kind: self.read(req, caller, kind, obj_uuid)})
        if req.method == "PUT":
            updated = self.update(caller, kind, obj_uuid, body)
            return _Reply(200, b"", _BOTTLE_TEXT) if updated is None else _json_reply(updated)
        if req.method == "DELETE":
            self.delete(caller, kind, obj_uuid)
            return _Reply(200, b"", _BOTTLE_TEXT)
        raise _ApiError(405, "Method not allowed.")

    def _action(self, req: _Request, caller: _Caller, name: str, body: object) -> _Reply:
        if name == "aaa-mode":
            return self._aaa_mode(req, caller, body)
        if req.method != "POST":
            raise _ApiError(405, "Method not allowed.")
        if not isinstance(body, dict):
            raise _ApiError(400, "Bad Request, body must be a JSON object")  # assumption
        handlers: dict[str, Callable[[_Caller, _Json], _Json]] = {
            "fqname-to-id": self.fq_name_to_id,
            "id-to-fqname": self.id_to_fq_name,
            "ref-update": self.ref_update,
            "ref-relax-for-delete": self.ref_relax,
            "chown": self.chown,
            "chmod": self.chmod,
        }
        return _json_reply(handlers[name](caller, body))

    def _aaa_mode(self, req: _Request, caller: _Caller, body: object) -> _Reply:
        if req.method in ("GET", "HEAD"):
            return _json_reply({"aaa-mode": self.aaa_mode})
        if req.method != "PUT":
            raise _ApiError(405, "Method not allowed.")
        mode = body.get("aaa-mode") if isinstance(body, dict) else None
        if mode not in _AAA_MODES:
            # assumption: the real handler raises ValueError (a 500); a 400 with its text here
            raise _ApiError(400, f"Invalid aaa-mode {mode}")
        if not caller.admin:
            raise _ApiError(403, " Permission denied")
        self.aaa_mode = cast("AaaMode", mode)
        return _json_reply({"aaa-mode": self.aaa_mode})

    def home(self) -> _Json:
        links: list[_Json] = [{"link": {"href": self.base_url, "name": "root", "rel": "root"}}]
        for name in _KINDS:
            links.append({"link": {"href": f"{self.base_url}/{name}s", "name": name, "rel": "collection"}})
            links.append({"link": {"href": f"{self.base_url}/{name}", "name": name, "rel": "resource-base"}})
        links.extend(
            {"link": {"href": f"{self.base_url}/{action}", "name": action, "rel": "action"}}
            for action in _ACTIONS
        )
        return {"href": self.base_url, "links": links}

    # ------------------------------------------------------------------------------ lookups
    def lookup(self, kind: str, obj_uuid: str) -> _Obj:
        obj = self.objs.get(obj_uuid)
        if obj is None:
            raise _ApiError(404, f"Unknown id: {obj_uuid}")
        if obj.kind != kind:
            raise _ApiError(404, f"No {kind} object found for id {obj_uuid}")
        return obj

    def _resolve_ref(self, target: str, ref: object) -> _Obj | None:
        if not isinstance(ref, dict):
            return None
        ref_uuid = ref.get("uuid")
        if isinstance(ref_uuid, str) and ref_uuid:
            found = self.objs.get(ref_uuid)
            return found if found is not None and found.kind == target else None
        fq = _as_list(ref.get("to"))
        if fq is None:
            return None
        found = self.find(target, fq)
        if found is None and target == "project" and len(fq) == 2:  # noqa: PLR2004 - [domain, project]
            found = self.project_from_keystone(name=fq[1])
        return found

    # ------------------------------------------------------------------------------ read
    def read(self, req: _Request, caller: _Caller, kind: str, obj_uuid: str) -> _Json:
        if obj_uuid not in self.objs and kind == "project":
            try:
                project_id = uuid.UUID(obj_uuid).hex
            except ValueError:
                project_id = None
            if project_id is not None:
                self.project_from_keystone(project_id=project_id)  # pre_project_read: the keystone sync
        obj = self.lookup(kind, obj_uuid)
        self.check(caller, obj.uuid, obj.perms2, _PERMS_R)
        if not obj.data["id_perms"].get("user_visible", True) and not caller.admin:
            raise _ApiError(404, f"This object is not visible by users: {obj_uuid}")
        fields_arg = req.arg("fields")
        fields = frozenset(fields_arg.split(",")) if fields_arg is not None else None
        shape = _Shape(
            fields=fields,
            children=fields is not None or not req.has("exclude_children"),
            back_refs=fields is not None or not req.has("exclude_back_refs"),
            hrefs=not req.has("exclude_hrefs"),
        )
        return self.view(obj, shape)

    # ------------------------------------------------------------------------------ list
    def list_collection(self, req: _Request, caller: _Caller, kind: str) -> _Json:
        plural = f"{kind}s"
        query = self._query(req, kind)
        if query is None:
            return {plural: []}
        if query.parent_uuids is not None:
            query.parent_uuids = [
                u for u in query.parent_uuids if u not in self.objs or self.can_read(caller, self.objs[u])
            ]
        if query.obj_uuids is None and query.back_ref_uuids is None and query.parent_uuids == []:
            return {plural: []}
        if query.count and caller.admin and not query.paginate:
            return {plural: {"count": len(self._fetch(query, None, None)[0])}}
        visible, marker = self._collect(caller, query)
        found: object = (
            {"count": len(visible)} if query.count else [self._list_item(o, query) for o in visible]
        )
        return {plural: found, "marker": marker} if query.paginate else {plural: found}

    def _query(self, req: _Request, kind: str) -> _Query | None:
        """The list's query parameters (http_resource_list); None when ``fq_names`` matched nothing."""
        info = _KINDS[kind]
        parent_uuids: list[str] | None = None
        if req.has("parent_fq_name_str"):
            parent_fq = (req.arg("parent_fq_name_str") or "").split(":")
            parent_types = [req.arg("parent_type") or ""] if req.has("parent_type") else list(info.parents)
            parent_uuids = [p.uuid for t in parent_types if (p := self.find(t, parent_fq)) is not None]
        elif req.has("parent_id"):
            parent_uuids = (req.arg("parent_id") or "").split(",")
        obj_uuids = (req.arg("obj_uuids") or "").split(",") if req.has("obj_uuids") else None
        if req.has("fq_names"):
            named = [
                o.uuid for t in (req.arg("fq_names") or "").split(",") if (o := self.find(kind, t.split(":")))
            ]
            if obj_uuids is None and not named:
                return None
            obj_uuids = [*(obj_uuids or []), *named]
        return _Query(
            kind=kind,
            parent_uuids=parent_uuids,
            back_ref_uuids=(req.arg("back_ref_id") or "").split(",") if req.has("back_ref_id") else None,
            obj_uuids=obj_uuids,
            filters=self._filters(req.arg("filters")),
            paginate=req.has("page_marker") or req.has("page_limit"),
            marker=self._page_marker(req.arg("page_marker")),
            limit=self._page_limit(req.arg("page_limit")) if req.has("page_limit") else _PAGINATE_COUNT,
            count="true" in (req.arg("count") or "").lower(),
            detail="true" in (req.arg("detail") or "").lower(),
            fields=frozenset(f for f in (req.arg("fields") or "").split(",") if f),
            hrefs=not req.has("exclude_hrefs"),
        )

    def _collect(self, caller: _Caller, query: _Query) -> tuple[list[_Obj], str | None]:
        """_list_collection's page loop: fetch, drop what the caller may not read, refill the page."""
        if not query.paginate:
            rows, _ = self._fetch(query, None, None)
            return [o for o in rows if self._listable(caller, o)], None
        visible: list[_Obj] = []
        start, remaining = query.marker, query.limit
        while True:
            rows, marker = self._fetch(query, start, remaining)
            visible.extend(o for o in rows if self._listable(caller, o))
            start, remaining = marker, remaining - len(rows)
            if marker is None or remaining <= 0:
                return visible, marker

    def _list_item(self, obj: _Obj, query: _Query) -> _Json:
        if query.detail:
            fields = query.fields or None
            shape = _Shape(
                fields, children=bool(fields), back_refs=bool(fields), hrefs=query.hrefs, ref_hrefs=False
            )
            return {obj.kind: self.view(obj, shape)}
        item: _Json = {"uuid": obj.uuid, "fq_name": list(obj.fq_name)}
        if query.hrefs:
            item["href"] = self.href(obj.kind, obj.uuid)
        if query.fields:
            extra = self.view(obj, _Shape(query.fields, hrefs=query.hrefs))
            item.update({k: v for k, v in extra.items() if k in query.fields})
        return item

    def _listable(self, caller: _Caller, obj: _Obj) -> bool:
        if caller.admin or self.aaa_mode != "rbac":
            return True
        if not obj.data["id_perms"].get("user_visible", True):
            return False
        return self.can_read(caller, obj)

    @staticmethod
    def _page_marker(text: str | None) -> str | None:
        if not text or text.lower() == "none":
            return None
        try:
            uuid.UUID(text.split(":")[-1])
        except ValueError as exc:
            raise _ApiError(400, f"Invalid page_marker {text}: {exc}") from None
        return text

    @staticmethod
    def _page_limit(text: str | None) -> int:
        try:
            value = int(text or "")
        except ValueError as exc:
            raise _ApiError(400, f"Invalid page_limit {text}: {exc}") from None
        if value <= 0:
            raise _ApiError(400, f"Invalid page_limit {text}: page_limit has to be greater than zero")
        return value

    @staticmethod
    def _filters(text: str | None) -> dict[str, list[object]]:
        """utils.get_filters: ``k==v,k2==v2``, values JSON-decoded when they parse, repeats OR-ed."""
        found: dict[str, list[object]] = {}
        if not text:
            return found
        for item in text.split(","):
            pieces = item.split("==")
            if len(pieces) != 2:  # noqa: PLR2004 - key and value
                raise _ApiError(400, f"Invalid filter {text}")
            key, raw = pieces
            value: object
            try:
                value = json.loads(raw)
            except ValueError:
                value = raw
            values = found.setdefault(key, [])
            if value not in values:
                values.append(value)
        return found

    def _matches(self, obj: _Obj, filters: Mapping[str, list[object]]) -> bool:
        """vnc_cassandra filter_rows: only property filters count; a missing property never matches."""
        props = _KINDS[obj.kind].props
        if not filters or not any(key in props for key in filters):
            return True
        for key, wanted in filters.items():
            if key not in obj.data or key not in props:
                return False
            value = obj.data[key]
            if isinstance(value, dict):
                if not any(_subset(w, value) for w in wanted):
                    return False
            elif value not in wanted:
                return False
        return True

    def _fetch(self, query: _Query, start: str | None, count: int | None) -> tuple[list[_Obj], str | None]:
        """vnc_cassandra.object_list: rows after property filters and the next marker."""
        everything = self.of_kind(query.kind)
        if query.parent_uuids or query.back_ref_uuids:
            return self._fetch_anchored(query, everything, start, count)
        if query.obj_uuids is not None:
            wanted, marker = query.obj_uuids, None
            if count is not None:
                begin = (wanted.index(start) + 1 if start in wanted else len(wanted)) if start else 0
                wanted = wanted[begin:]
                if len(wanted) >= count:
                    wanted = wanted[:count]
                    marker = wanted[-1]
            by_uuid = {o.uuid: o for o in everything}
            rows = [by_uuid[u] for u in dict.fromkeys(wanted) if u in by_uuid]
            return [o for o in rows if self._matches(o, query.filters)], marker
        # every object of the type, in the order of the fq-name table (``<fq_name_str>:<uuid>``)
        columns = sorted((":".join(o.fq_name) + ":" + o.uuid, o) for o in everything)
        if start:
            columns = [c for c in columns if c[0] > start]
        marker = None
        if count is not None and len(columns) >= count:
            columns = columns[:count]
            marker = columns[-1][0]
        return [o for _col, o in columns if self._matches(o, query.filters)], marker

    def _fetch_anchored(
        self, query: _Query, rows: list[_Obj], start: str | None, count: int | None
    ) -> tuple[list[_Obj], str | None]:
        """Children of parents or referrers of objects; paginated by uuid, the marker is the last uuid."""
        if query.parent_uuids:
            rows = [o for o in rows if o.parent_uuid in query.parent_uuids]
        if query.back_ref_uuids:
            targets = set(query.back_ref_uuids)
            rows = [
                o
                for o in rows
                if any(r.get("uuid") in targets for f in _KINDS[o.kind].refs for r in o.refs(f))
            ]
        if query.obj_uuids:
            rows = [o for o in rows if o.uuid in query.obj_uuids]
        rows = [o for o in rows if self._matches(o, query.filters)]
        if count is None:
            return rows, None
        rows = sorted((o for o in rows if not start or o.uuid > start), key=lambda o: o.uuid)[:count]
        return rows, rows[-1].uuid if rows else None

    # ------------------------------------------------------------------------------ create
    def create(self, caller: _Caller, kind: str, body: object) -> _Json:
        """http_resource_create, in contrail-api's order of checks."""
        info = _KINDS[kind]
        obj_dict = _post_body(kind, body)
        request_repr = repr(copy.deepcopy(obj_dict))
        fq_name = _post_fq_name(obj_dict)
        id_perms_in = _json_dict(obj_dict.get("id_perms"))
        if id_perms_in.get("user_visible", True) is False and not caller.admin:
            raise _ApiError(400, "This object is not visible by users")
        self._validate_props(info, obj_dict, "create")
        self._validate_refs(info, obj_dict, "create")
        existing = self.find(kind, fq_name)
        if existing is not None:
            raise _ApiError(409, f"{_fmt(fq_name)} already exists with uuid: {existing.uuid}")
        parent_type = self._parent_type(info, obj_dict, fq_name)
        perms2 = self._new_perms2(caller, info, obj_dict, fq_name, parent_type)
        obj_uuid = self._new_uuid(obj_dict)
        parent = self._parent_for_create(caller, parent_type, fq_name)
        refs = self._link_refs(
            caller, info, obj_dict, lambda: f"Unknown reference in resource create {request_repr}."
        )
        data: _Json = {k: v for k, v in obj_dict.items() if k in info.props}
        data.update(refs)
        data["perms2"] = perms2
        data["id_perms"] = self._id_perms(
            obj_uuid,
            user_visible=id_perms_in.get("user_visible", True) is not False,
            description=cast("str | None", id_perms_in.get("description")),
        )
        if "enable" in id_perms_in:
            data["id_perms"]["enable"] = bool(id_perms_in["enable"])
        if data.get("display_name") is None:
            data["display_name"] = fq_name[-1]
        obj = _Obj(
            kind, obj_uuid, fq_name, parent.kind if parent else None, parent.uuid if parent else None, data, 0
        )
        hook = getattr(self, f"_pre_create_{info.snake}", None)
        if hook is not None:
            hook(obj)
        obj.seq = self._next_seq()
        self._put(obj)
        if kind == "virtual-network":  # post_dbe_create: the VN's own routing instance
            name = fq_name[-1]
            self._system(
                "routing-instance", [*fq_name, name], owner=perms2["owner"], routing_instance_is_default=True
            )
        reply = self.link(kind, obj_uuid, fq_name, hrefs=True)
        reply["name"] = fq_name[-1]
        del reply["to"]
        reply["fq_name"] = fq_name
        if parent is not None:
            reply.update(
                parent_type=parent.kind,
                parent_uuid=parent.uuid,
                parent_href=self.href(parent.kind, parent.uuid),
            )
        return {kind: reply}

    def _new_uuid(self, obj_dict: Mapping[str, Any]) -> str:
        """A client-supplied uuid must be canonical and unused; otherwise a fresh uuid4."""
        obj_uuid = obj_dict.get("uuid")
        if obj_uuid is None:
            return str(uuid.uuid4())
        try:
            canonical = str(uuid.UUID(str(obj_uuid)))
        except ValueError:
            canonical = ""
        if canonical != obj_uuid:
            raise _ApiError(400, f"Invalid UUID format: {obj_uuid}")
        if obj_uuid in self.objs:
            raise _ApiError(
                409, f"{obj_uuid} already exists with fq_name: {_fmt(self.objs[obj_uuid].fq_name)}"
            )
        return canonical

    def _parent_for_create(self, caller: _Caller, parent_type: str | None, fq_name: list[str]) -> _Obj | None:
        """The parent must exist (400) and the caller needs write permission on it."""
        if parent_type is None:
            return None
        parent = self._parent(parent_type, fq_name)
        if parent is None:
            raise _ApiError(400, f"Parent {_fmt(fq_name[:-1])} type {parent_type} does not exist")
        self.check(caller, parent.uuid, parent.perms2, _PERMS_W)
        return parent

    def _parent(self, parent_type: str, fq_name: list[str]) -> _Obj | None:
        parent = self.find(parent_type, fq_name[:-1])
        if parent is None and parent_type == "project" and len(fq_name) == 3:  # noqa: PLR2004 - d:p:name
            parent = self.project_from_keystone(name=fq_name[1])  # assumption: the keystone poll has run
        return parent

    @staticmethod
    def _parent_type(info: _Kind, obj_dict: Mapping[str, Any], fq_name: list[str]) -> str | None:
        """validate_parent_type, with contrail-api's messages."""
        allowed = list(info.parents) or ["config-root"]
        parent_type = obj_dict.get("parent_type")
        if parent_type == "config-root":
            parent_type = None
        if parent_type:
            if parent_type not in allowed:
                raise _ApiError(400, f"Invalid parent type: {parent_type}. Allowed types: {allowed}")
        elif len(allowed) > 1:
            raise _ApiError(400, f"Missing parent type: {parent_type}. Allowed types: {allowed}")
        elif allowed != ["config-root"]:
            parent_type = allowed[0]
        if parent_type is None:
            if len(fq_name) != 1:
                raise _ApiError(400, f"Invalid fq-name of an object with no parent: {fq_name}")
        elif len(fq_name) < 2:  # noqa: PLR2004 - parent and name
            raise _ApiError(400, f"Invalid fq-name for object with parent_type {parent_type}: {fq_name}")
        return cast("str | None", parent_type)

    def _new_perms2(
        self,
        caller: _Caller,
        info: _Kind,
        obj_dict: Mapping[str, Any],
        fq_name: list[str],
        parent_type: str | None,
    ) -> _Json:
        """_ensure_perms2_present: who owns a new object (reference §2.4)."""
        perms2 = self._perms2(_CLOUD_ADMIN)
        requested = obj_dict.get("perms2")
        if info.name == "project" and "uuid" in obj_dict:
            perms2["owner"] = _bare(str(obj_dict["uuid"]))
        elif isinstance(requested, dict) and requested.get("owner"):
            perms2["owner"] = requested["owner"]
        elif parent_type is not None and parent_type != "domain":
            perms2["owner"] = self._parent_owner(parent_type, obj_dict, fq_name)
        else:  # a domain's child or a config-root object: the caller's project
            perms2["owner"] = caller.project_id or _CLOUD_ADMIN
        if isinstance(requested, dict):
            perms2.update(copy.deepcopy(requested))
        return perms2

    def _parent_owner(self, parent_type: str, obj_dict: Mapping[str, Any], fq_name: list[str]) -> str:
        """A child of a project, VN or pool is owned like its parent, whoever asks."""
        parent_uuid = obj_dict.get("parent_uuid")
        if parent_uuid is None:
            parent = self._parent(parent_type, fq_name)
            if parent is None:
                # contrail-api looks the parent up here, before its own parent check: 404, not 400
                raise _ApiError(404, f"Name{_fmt(fq_name[:-1])} not found")
        else:
            parent = self.objs.get(str(parent_uuid))
            if parent is None:
                snake = parent_type.replace("-", "_")
                raise _ApiError(404, f"Parent {snake} cannot be found: Unknown id: {parent_uuid}")
        return str(parent.perms2["owner"])

    def _validate_props(self, info: _Kind, obj_dict: _Json, operation: str) -> None:
        """_validate_props_in_request for the simple properties and a few complex ones."""
        where = "Bad property in create: " if operation == "create" else "Bad property in http_put: "
        for name in sorted(info.props & obj_dict.keys()):
            value = obj_dict[name]
            if value is None or value in ("", [], {}, 0, False):
                continue
            simple = name in info.ints or name in info.bools or name in info.strings
            if not simple and not isinstance(value, dict):
                raise _ApiError(400, f"{where}Error in property {name} type {name} value of {value} ")
            try:
                obj_dict[name] = _check_prop(info, name, value)
            except (TypeError, ValueError) as exc:
                detail = str(exc) if simple else f"{name} value {value} {exc}"
                raise _ApiError(400, f"{where}Error validating property {detail}") from None

    @staticmethod
    def _validate_refs(info: _Kind, obj_dict: _Json, operation: str) -> None:
        where = "Bad reference in create: " if operation == "create" else "Bad reference in http_put: "
        for ref_field in info.refs:
            refs = obj_dict.get(ref_field)
            if refs is None:
                continue
            if not isinstance(refs, list) or not all(isinstance(r, dict) for r in refs):
                raise _ApiError(400, f"{where}{ref_field} must be a list of references")  # assumption
            subnet_refs = ref_field == "network_ipam_refs" and info.name == "virtual-network"
            for ref in refs if subnet_refs else []:
                try:
                    if ref.get("attr") is not None:
                        _check_vn_subnets(ref["attr"])
                except (TypeError, ValueError) as exc:
                    raise _ApiError(
                        400, f"{where}Error validating reference {ref_field} value {ref} {exc}"
                    ) from None

    def _link_refs(
        self, caller: _Caller, info: _Kind, obj_dict: Mapping[str, Any], unknown: Callable[[], str]
    ) -> _Json:
        """Resolve every ref of the body (uuid or fq_name), checking link permission on each target."""
        refs: _Json = {}
        for ref_field, target in info.refs.items():
            given = obj_dict.get(ref_field)
            if given is None:
                continue
            resolved = []
            for ref in cast("list[object]", given):
                found = self._resolve_ref(target, ref)
                if found is None:
                    raise _ApiError(400, unknown())
                self.check(caller, found.uuid, found.perms2, _PERMS_X)
                attr = cast("_Json", ref).get("attr")
                resolved.append({"to": list(found.fq_name), "uuid": found.uuid, "attr": copy.deepcopy(attr)})
            refs[ref_field] = resolved
        return refs

    # ------------------------------------------------------------------------------ type hooks
    def _pre_create_virtual_network(self, obj: _Obj) -> None:
        data = obj.data
        if data.get("virtual_network_network_id") is not None:
            raise _ApiError(403, "Cannot set the virtual network ID")
        if data["perms2"].get("global_access", 0) == _PERMS_RWX:
            data["is_shared"] = True
        elif data.get("is_shared"):
            data["perms2"]["global_access"] = _PERMS_RWX
        else:
            data["is_shared"] = False
        self._prepare_subnets(obj, None)
        used = [
            int(o.data.get("virtual_network_network_id") or 0)
            for o in self.objs.values()
            if o.kind == "virtual-network"
        ]
        data["virtual_network_network_id"] = max([*used, 4]) + 1

    def _prepare_subnets(self, obj: _Obj, old: _Obj | None) -> None:
        """vnc_addr_mgmt: normalise, check, give subnet_uuid, default_gateway and dns_server_address."""
        old_subnets = {_cidr(s): s for s in self.subnets(old)}
        cidrs = []
        for subnet in self.subnets(obj):
            network = _network(subnet)
            cidrs.append(network)
            _prepare_subnet(
                subnet, network, old_subnets.get(f"{network.network_address}/{network.prefixlen}")
            )
        for index, first in enumerate(cidrs):
            for second in cidrs[index + 1 :]:
                if _overlap(first, second):
                    raise _ApiError(
                        400, f"Overlapping addresses: [IPNetwork('{first}'), IPNetwork('{second}')]"
                    )

    @staticmethod
    def subnets(vn: _Obj | None) -> list[_Json]:
        if vn is None:
            return []
        return [
            s
            for ref in vn.refs("network_ipam_refs")
            for s in (ref.get("attr") or {}).get("ipam_subnets") or []
        ]

    def _in_use(self, vn: _Obj) -> set[str]:
        used: set[str] = set()
        for obj in self.objs.values():
            if obj.kind == "instance-ip" and any(
                r["uuid"] == vn.uuid for r in obj.refs("virtual_network_refs")
            ):
                used.add(str(obj.data.get("instance_ip_address")))
            elif obj.kind == "floating-ip":
                pool = self.objs.get(obj.parent_uuid or "")
                if pool is not None and pool.kind == "floating-ip-pool" and pool.parent_uuid == vn.uuid:
                    used.add(str(obj.data.get("floating_ip_address")))
        return used

    def _allocate(
        self,
        vn: _Obj,
        *,
        requested: str | None,
        subnet_uuid: str | None,
        family: str | None,
        only: Sequence[str] | None = None,
    ) -> tuple[str, _Json]:
        """Address allocation from the VN's subnets (from the end unless addr_from_start)."""
        subnets = self.subnets(vn)
        if not subnets:
            raise _ApiError(400, f"Virtual-Network({vn.fq_name}) has no defined subnet(s)")
        subnets = [
            s
            for s in subnets
            if (not subnet_uuid or s.get("subnet_uuid") == subnet_uuid)
            and (not only or s.get("subnet_uuid") in only)
            and (family not in ("v4", "v6") or f"v{_network(s).version}" == family)
        ]
        used = self._in_use(vn)
        if requested is not None:
            return _claim(vn, subnets, requested, used)
        for subnet in subnets:
            found = _first_free(subnet, used)
            if found is not None:
                return found, subnet
        names = [_cidr(s) for s in subnets]
        raise _ApiError(400, f"Virtual-Network({[str(p) for p in vn.fq_name]}) has exhausted subnet({names})")

    def _pre_create_instance_ip(self, obj: _Obj) -> None:
        vn_refs = obj.refs("virtual_network_refs")
        if not vn_refs:
            # assumption: the real hook reads refs it never checked; a VN ref is required here
            raise _ApiError(400, "Instance IP must have a virtual-network reference")
        if tuple(vn_refs[0]["to"][-1:]) in _SYSTEM_VNS:
            return
        vn = self.objs[vn_refs[0]["uuid"]]
        requested = obj.data.get("instance_ip_address")
        address, subnet = self._allocate(
            vn,
            requested=str(requested) if requested else None,
            subnet_uuid=cast("str | None", obj.data.get("subnet_uuid")),
            family=cast("str | None", obj.data.get("instance_ip_family")),
        )
        obj.data["instance_ip_address"] = address
        obj.data["subnet_uuid"] = subnet["subnet_uuid"]
        obj.data["instance_ip_subnet"] = copy.deepcopy(subnet["subnet"])
        obj.data.setdefault("instance_ip_family", f"v{_network(subnet).version}")

    def _pre_create_floating_ip(self, obj: _Obj) -> None:
        pool = self.objs.get(obj.parent_uuid or "")
        if pool is None or pool.kind != "floating-ip-pool":
            return
        vn = self.objs[str(pool.parent_uuid)]
        requested = obj.data.get("floating_ip_address")
        only = cast("list[str] | None", (pool.data.get("floating_ip_pool_subnets") or {}).get("subnet_uuid"))
        try:
            address, subnet = self._allocate(
                vn,
                requested=str(requested) if requested else None,
                subnet_uuid=None,
                family=cast("str | None", obj.data.get("floating_ip_address_family")),
                only=only,
            )
        except _ApiError as err:
            # floating_ip.py answers allocation failures other than "in use" with 500
            raise _ApiError(err.status if err.status == 409 else 500, err.message) from None  # noqa: PLR2004
        obj.data["floating_ip_address"] = address
        obj.data.setdefault("floating_ip_address_family", f"v{_network(subnet).version}")

    def _pre_create_virtual_machine_interface(self, obj: _Obj) -> None:
        if not obj.refs("virtual_network_refs"):
            raise _ApiError(400, "Virtual Machine Interface must have valide Virtual Network reference")
        if not (obj.data.get("virtual_machine_interface_mac_addresses") or {}).get("mac_address"):
            u = obj.uuid
            mac = f"02:{u[0:2]}:{u[2:4]}:{u[4:6]}:{u[6:8]}:{u[9:11]}"
            obj.data["virtual_machine_interface_mac_addresses"] = {"mac_address": [mac]}

    def _next_sg_id(self) -> int:
        used = [
            int(o.data.get("security_group_id") or 0)
            for o in self.objs.values()
            if o.kind == "security-group"
        ]
        return max([*used, _SG_ID_FIRST - 1]) + 1

    def _pre_create_security_group(self, obj: _Obj) -> None:
        if obj.data.get("security_group_id") is not None:
            raise _ApiError(403, "Cannot set the security group ID")
        _check_policy_rules(obj.data.get("security_group_entries"))
        obj.data["security_group_id"] = self._next_sg_id()

    def _pre_create_network_policy(self, obj: _Obj) -> None:
        _check_policy_rules(obj.data.get("network_policy_entries"), network_policy=True)

    # ------------------------------------------------------------------------------ update
    def update(self, caller: _Caller, kind: str, obj_uuid: str, body: object) -> _Json | None:
        """http_resource_update: only the given fields change; a given ref list replaces the stored one."""
        info = _KINDS[kind]
        if not body or not isinstance(body, dict) or not body.get(kind):
            return None
        if not isinstance(body[kind], dict):
            raise _ApiError(400, f"Bad Request, {kind} must be a JSON object")  # assumption
        obj_dict: _Json = copy.deepcopy(body[kind])
        if "perms2" in obj_dict and "owner" not in _json_dict(obj_dict["perms2"]):
            raise _ApiError(400, "owner in perms2 must be present")
        obj = self.lookup(kind, obj_uuid)
        if not obj.data["id_perms"].get("user_visible", True) and not caller.admin:
            raise _ApiError(404, f"This object is not visible by users: {obj_uuid}")
        self._validate_props(info, obj_dict, "update")
        self._validate_refs(info, obj_dict, "update")
        self.check(caller, obj.uuid, obj.perms2, _PERMS_W)
        refs = self._link_refs(
            caller, info, obj_dict, lambda: f"Unknown reference in resource update {obj_dict}."
        )
        changes = {k: v for k, v in obj_dict.items() if k in info.props and k not in ("id_perms", "perms2")}
        _pre_update(kind, obj, changes)
        candidate = obj.copy_with({**changes, **refs})
        if "perms2" in obj_dict:
            candidate.data["perms2"] = {**obj.perms2, **copy.deepcopy(obj_dict["perms2"])}
        id_perms_in = _json_dict(obj_dict.get("id_perms"))
        candidate.data["id_perms"].update(
            {k: v for k, v in id_perms_in.items() if k in ("enable", "description")}
        )
        if kind == "virtual-network":
            self._vn_update(obj, candidate, obj_dict)
        candidate.data["id_perms"]["last_modified"] = _now_iso()
        obj.data = candidate.data
        return {kind: {"uuid": obj.uuid, "href": self.href(kind, obj.uuid)}}

    def _vn_update(self, old: _Obj, new: _Obj, obj_dict: Mapping[str, Any]) -> None:
        global_access = (obj_dict.get("perms2") or {}).get("global_access")
        is_shared = obj_dict.get("is_shared")
        external = obj_dict.get("router_external")
        if (
            global_access is not None
            and is_shared is not None
            and is_shared != (global_access == _PERMS_RWX)
            and (not external)
        ):
            raise _ApiError(400, f"Inconsistent is_shared ({is_shared}) and global_access ({global_access})")
        if (
            global_access is not None
            and external is not None
            and external != (global_access == _PERMS_RX)
            and (not is_shared)
        ):
            raise _ApiError(
                400, f"Inconsistent router_external ({external}) and global_access ({global_access})"
            )
        if global_access is not None:
            new.data["is_shared"] = global_access != 0
        elif is_shared is not None or external is not None:
            new.data["perms2"]["global_access"] = _PERMS_RWX if is_shared else _PERMS_RX if external else 0
        if "network_ipam_refs" in obj_dict:
            self._prepare_subnets(new, old)
            kept = {_cidr(s) for s in self.subnets(new)}
            for address in sorted(self._in_use(old)):
                ip = ipaddress.ip_address(address)
                for subnet in self.subnets(old):
                    if ip in _network(subnet) and _cidr(subnet) not in kept:
                        raise _ApiError(409, f"Cannot Delete IP Block, IP({address}) is in use")

    # ------------------------------------------------------------------------------ delete
    def delete(self, caller: _Caller, kind: str, obj_uuid: str) -> None:
        """http_resource_delete: 409 while non-default children or unrelaxed back-refs exist."""
        obj = self.objs.get(obj_uuid)
        if obj is None:
            raise _ApiError(404, f"ID {obj_uuid} does not exist")
        if obj.kind != kind:
            raise _ApiError(404, f"No {kind} object found for id {obj_uuid}")
        if not obj.data["id_perms"].get("user_visible", True) and not caller.admin:
            raise _ApiError(404, f"This object is not visible by users: {obj_uuid}")
        owner = str(obj.perms2.get("owner", ""))
        self.check(caller, obj.parent_uuid, obj.perms2, _PERMS_W, owner_for_delete=owner)
        if kind == "virtual-network" and tuple(obj.fq_name[-1:]) in _SYSTEM_VNS:
            # assumption: virtual_network_http_delete's text for the system VNs
            raise _ApiError(409, f"Cannot delete system virtual network {obj.fq_name[-1]}")
        children = [c for members in self.children(obj).values() for c in members]
        blocking = [self.href(c.kind, c.uuid) for c in children if not self._auto_child(obj, c)]
        if blocking:
            raise _ApiError(409, f"Delete when children still present: {blocking}")
        referrers = [
            self.href(o.kind, o.uuid) for o, _ref in self.back_refs(obj) if obj.uuid not in o.relaxed
        ]
        if referrers:
            raise _ApiError(409, f"Delete when resource still referred: {referrers}")
        for child in children:
            self._drop(child)
        self._drop(obj)
        self._forget_refs_to(obj)

    def _forget_refs_to(self, gone: _Obj) -> None:
        """Refs relaxed for delete go with the object they pointed at."""
        for other in self.objs.values():
            for ref_field in _KINDS[other.kind].refs:
                if any(r["uuid"] == gone.uuid for r in other.refs(ref_field)):
                    other.data[ref_field] = [r for r in other.refs(ref_field) if r["uuid"] != gone.uuid]
            other.relaxed.discard(gone.uuid)

    @staticmethod
    def _auto_child(parent: _Obj, child: _Obj) -> bool:
        """Children that do not block a delete (and go with their parent).

        These are ``default-<type>`` children, the VN's routing instance and a project's
        keystone-made ``default`` SG (vnc_openstack's pre_project_delete removes it).
        """
        if child.fq_name[-1] == f"default-{child.kind}":
            return True
        if parent.kind == "virtual-network" and child.kind == "routing-instance":
            return True
        return parent.kind == "project" and child.kind == "security-group" and child.fq_name[-1] == "default"

    # ------------------------------------------------------------------------------ actions
    def fq_name_to_id(self, caller: _Caller, body: _Json) -> _Json:
        kind = str(body.get("type") or "").replace("_", "-")
        if kind not in _KINDS:
            raise _ApiError(404, f"Resource type '{body.get('type')}' not found")
        fq_name = body.get("fq_name")
        if not isinstance(fq_name, list):
            raise _ApiError(
                400, "Bad Request, fq_name must be a list"
            )  # assumption: the real one raises KeyError
        found = self.find(kind, [str(p) for p in fq_name])
        if found is None and kind == "project" and len(fq_name) == 2:  # noqa: PLR2004 - [domain, project]
            found = self.project_from_keystone(name=str(fq_name[1]))
        if found is None:
            raise _ApiError(404, f"Name {_fmt(fq_name)} not found")
        self.check(caller, found.uuid, found.perms2, _PERMS_R)
        return {"uuid": found.uuid}

    def id_to_fq_name(self, caller: _Caller, body: _Json) -> _Json:
        obj_uuid = str(body.get("uuid"))
        obj = self.objs.get(obj_uuid)
        if obj is not None:
            self.check(caller, obj.uuid, obj.perms2, _PERMS_R)
        if obj is None:
            raise _ApiError(404, f"UUID {obj_uuid} not found")
        return {"fq_name": list(obj.fq_name), "type": obj.kind}

    def ref_update(self, caller: _Caller, body: _Json) -> _Json:
        """ref_update_http_post: add (or re-attr) or delete one ref of one object."""
        kind, obj_uuid, ref_kind, operation = _ref_update_fields(body)
        ref_field = f"{ref_kind.replace('-', '_')}_refs"
        if ref_field not in _KINDS[kind].refs:
            raise _ApiError(400, f"Bad Request: {kind} has no reference field {ref_field}")  # assumption
        target_uuid, target = self._ref_target(body, ref_kind, operation)
        obj = self.objs.get(obj_uuid)
        if obj is None or obj.kind != kind:
            raise _ApiError(404, f"Unknown id: {obj_uuid}")
        self.check(caller, obj.uuid, obj.perms2, _PERMS_W)
        refs = [
            r for r in copy.deepcopy(obj.refs(ref_field)) if r["uuid"] != target_uuid or operation == "ADD"
        ]
        if target is not None and operation == "ADD":
            self.check(caller, target.uuid, target.perms2, _PERMS_X)
            attr = copy.deepcopy(body.get("attr"))
            if ref_field == "network_ipam_refs" and kind == "virtual-network" and attr is not None:
                try:
                    _check_vn_subnets(attr)
                except (TypeError, ValueError) as exc:
                    raise _ApiError(400, f"Bad reference in ref-update: {exc}") from None
            existing = next((r for r in refs if r["uuid"] == target_uuid), None)
            if existing is None:
                refs.append({"to": list(target.fq_name), "uuid": target.uuid, "attr": attr})
            else:
                existing["attr"] = attr
        if kind == "virtual-network" and ref_field == "network_ipam_refs":
            candidate = obj.copy_with({ref_field: refs})
            self._vn_update(obj, candidate, {ref_field: refs})
            refs = candidate.refs(ref_field)
        obj.data[ref_field] = refs
        if body.get("relax_ref_for_delete") and operation == "ADD":
            obj.relaxed.add(target_uuid)
        return {"uuid": obj.uuid}

    def _ref_target(self, body: _Json, ref_kind: str, operation: str) -> tuple[str, _Obj | None]:
        """The ref's target by ``ref-uuid`` or ``ref-fq-name`` (a DELETE may name a gone uuid)."""
        ref_uuid, ref_fq = body.get("ref-uuid"), body.get("ref-fq-name")
        if not ref_uuid and not ref_fq:
            raise _ApiError(400, "Bad Request: ref-uuid or ref-fq-name must be specified")
        if not ref_uuid:
            target = self.find(ref_kind, [str(p) for p in cast("list[object]", ref_fq)])
            if target is None:
                raise _ApiError(404, f"Name {_fmt(ref_fq)} not found")
            return target.uuid, target
        target = self.objs.get(str(ref_uuid))
        if target is None and operation == "ADD":
            raise _ApiError(404, f"Unknown id: {ref_uuid}")
        return str(ref_uuid), target

    def ref_relax(self, _caller: _Caller, body: _Json) -> _Json:
        obj_uuid, ref_uuid = body.get("uuid"), body.get("ref-uuid")
        if None in (obj_uuid, ref_uuid):
            raise _ApiError(
                400, f"Bad Request: Both uuid and ref-uuid should be specified: {obj_uuid}, {ref_uuid}."
            )
        obj = self.objs.get(str(obj_uuid))
        if obj is None or str(ref_uuid) not in self.objs:
            raise _ApiError(404, f"uuid {obj_uuid} not found")
        obj.relaxed.add(str(ref_uuid))
        return {"uuid": obj.uuid}

    def _perms_rw(self, caller: _Caller, obj: _Obj) -> None:
        """obj_perms must include ``RW`` (chown, chmod)."""
        rw = _PERMS_R | _PERMS_W
        if self.rbac_on(caller) and self.granted(caller, obj.perms2, _PERMS_RWX) & rw != rw:
            raise _ApiError(403, " Permission denied")

    def _owned(self, body: _Json) -> _Obj:
        obj_uuid = body.get("uuid")
        if not isinstance(obj_uuid, str):
            raise _ApiError(400, "'uuid'")
        try:
            uuid.UUID(obj_uuid)
        except ValueError:
            raise _ApiError(400, "Bad Request, invalid object id") from None
        obj = self.objs.get(obj_uuid)
        if obj is None:
            raise _ApiError(404, f"Unknown id: {obj_uuid}")
        return obj

    def chown(self, caller: _Caller, body: _Json) -> _Json:
        obj = self._owned(body)
        owner = body.get("owner")
        try:
            uuid.UUID(str(owner))
        except ValueError:
            raise _ApiError(400, "Bad Request, invalid owner") from None
        self._perms_rw(caller, obj)
        obj.perms2["owner"] = str(owner)
        return {}

    def chmod(self, caller: _Caller, body: _Json) -> _Json:
        """obj_chmod_http_post: owner, owner_access, global_access and share of one object."""
        obj = self._owned(body)
        self._perms_rw(caller, obj)
        perms2 = dict(obj.perms2)
        if body.get("owner"):
            try:
                uuid.UUID(str(body["owner"]))
            except ValueError:
                raise _ApiError(400, "Bad Request, invalid owner") from None
            perms2["owner"] = _bare(str(body["owner"]))
        for key in ("owner_access", "global_access"):
            if body.get(key) is not None:
                if not _access(body[key]):
                    raise _ApiError(400, f"Bad Request, invalid {key} value")
                perms2[key] = body[key]
        if body.get("share") is not None:
            _check_share(body["share"])
            perms2["share"] = copy.deepcopy(body["share"])
        obj.data["perms2"] = perms2
        if obj.kind == "virtual-network" and body.get("global_access") is not None:
            obj.data["is_shared"] = body["global_access"] != 0
        return {}

    # ------------------------------------------------------------------------------ neutron proxy
    def neutron(self, caller: _Caller, resource: str, body: object) -> _Reply:
        """vnc_openstack's ``POST /neutron/<resource>``, read side only, run with the caller's identity.

        The Contrail neutron plugin forwards the end user's token, and the in-process VNC calls reuse
        the incoming identity (reference §2.5): what a READALL returns is what that token may read.
        """
        context, data = _neutron_body(body)
        kind, not_found, id_key = _NEUTRON[resource]
        operation = context.get("operation")
        if operation == "READ":
            obj = self.objs.get(str(data.get("id")))
            if obj is None or obj.kind != kind or not self._listable(caller, obj):
                raise _neutron_error(not_found, **{id_key: data.get("id")})
            return _json_reply(self._neutron_view(obj))
        if operation != "READALL":
            # assumption: the fake serves reads only; writes go through the VNC API
            raise _neutron_error(
                "BadRequest", resource=resource, msg=f"operation {operation} is not simulated"
            )
        tenant = str(context.get("tenant") or context.get("tenant_id") or "")
        filters = _json_dict(data.get("filters"))
        found = []
        for obj in self.of_kind(kind):
            view = self._neutron_view(obj)
            mine = view["tenant_id"] == tenant or view.get("shared") or view.get("router:external")
            if not self._listable(caller, obj) or not (context.get("is_admin") or mine):
                continue
            if all(view.get(key) in values for key, values in filters.items() if isinstance(values, list)):
                found.append(view)
        return _Reply(200, json.dumps(found).encode(), _BOTTLE_TEXT)  # a str from the handler: bottle's type

    def _neutron_view(self, obj: _Obj) -> _Json:
        enabled = bool(obj.data["id_perms"].get("enable", True))
        tenant = _bare(obj.parent_uuid or "")
        view: _Json = {
            "id": obj.uuid,
            "name": obj.data.get("display_name") or obj.fq_name[-1],
            "tenant_id": tenant,
            "project_id": tenant,
            "admin_state_up": enabled,
        }
        if obj.kind == "virtual-network":
            view.update(
                {
                    "shared": bool(obj.data.get("is_shared")),
                    "status": "ACTIVE" if enabled else "DOWN",
                    "router:external": bool(obj.data.get("router_external")),
                    "mtu": obj.data.get("mtu"),
                    "subnets": [s["subnet_uuid"] for s in self.subnets(obj)],
                }
            )
            return view
        gateway = next(iter(obj.refs("virtual_network_refs")), None)
        view.update(
            {
                "shared": False,
                "status": "ACTIVE",
                "gw_port_id": None,
                "external_gateway_info": {"network_id": gateway["uuid"], "enable_snat": True}
                if gateway
                else None,
            }
        )
        return view

    # ------------------------------------------------------------------------------ DHCP view
    def guest_dhcp_options(self, vmi_uuid: str) -> dict[str, str]:
        """The DHCP options a guest on this port gets: VMI over subnet over IPAM (agent precedence)."""
        vmi = self.lookup("virtual-machine-interface", vmi_uuid)
        vn_refs = vmi.refs("virtual_network_refs")
        vn = self.objs.get(vn_refs[0]["uuid"]) if vn_refs else None
        address = self._port_address(vmi)
        layers: list[object] = []
        if vn is not None:
            ipams = [self.objs.get(ref["uuid"]) for ref in vn.refs("network_ipam_refs")]
            layers.extend(
                _json_dict(i.data.get("network_ipam_mgmt")).get("dhcp_option_list") for i in ipams if i
            )
            layers.extend(
                s.get("dhcp_option_list")
                for s in self.subnets(vn)
                if address is not None and address in _network(s)
            )
        layers.append(vmi.data.get("virtual_machine_interface_dhcp_option_list"))
        options: dict[str, str] = {}
        for layer in layers:
            for option in _json_dict(layer).get("dhcp_option") or []:
                name = str(option.get("dhcp_option_name"))
                options[_DHCP_NAMES.get(name, name)] = str(option.get("dhcp_option_value"))
        return options

    def _port_address(self, vmi: _Obj) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
        for iip in self.of_kind("instance-ip"):
            if any(r["uuid"] == vmi.uuid for r in iip.refs("virtual_machine_interface_refs")):
                return _ip(iip.data.get("instance_ip_address"))
        return None


_DHCP_NAMES = {
    "26": "interface-mtu",
    "6": "domain-name-servers",
    "15": "domain-name",
}


def _post_body(kind: str, body: object) -> _Json:
    if not isinstance(body, dict) or not isinstance(body.get(kind), dict):
        # assumption: the real server fails on the missing key (KeyError, 500); a clean 400 here
        raise _ApiError(400, f"Bad Request, no {kind} in POST body")
    return copy.deepcopy(cast("_Json", body[kind]))


def _post_fq_name(obj_dict: Mapping[str, Any]) -> list[str]:
    """_post_validate: fq_name present, a list of strings, no ``:`` in the name."""
    given = obj_dict.get("fq_name")
    if not given:
        raise _ApiError(400, "Bad Request, no fq_name in POST body")
    fq_name = _as_list(given)
    if fq_name is None:
        raise _ApiError(400, f"Bad Request, fq_name must be a list of strings: {given!r}")  # assumption
    if ":" in fq_name[-1]:
        raise _ApiError(400, "Bad Request, name has one of invalid chars {':'}")
    return fq_name


def _json_dict(value: object) -> _Json:
    return cast("_Json", value) if isinstance(value, dict) else {}


def _check_prop(info: _Kind, name: str, value: object) -> object:
    """One property's value (ints normalised); TypeError/ValueError with contrail-api's texts."""
    if name in info.ints:
        return _check_int(name, value, info.ints[name])
    if name in info.bools:
        if not isinstance(value, bool):
            raise TypeError(f"{name}: true/false expected instead of {value}")
        return value
    if name in info.strings:
        _check_string(name, value, info.strings[name])
        return value
    _check_complex(name, cast("Mapping[str, Any]", value))
    return value


def _pre_update(kind: str, obj: _Obj, changes: Mapping[str, Any]) -> None:
    """The type hooks' refusals on update: system ids and create-only addresses stay as they are."""
    if kind == "virtual-network" and changes.get("virtual_network_network_id") not in (
        None,
        obj.data.get("virtual_network_network_id"),
    ):
        raise _ApiError(403, "Cannot update the virtual network ID")  # assumption: the text
    if kind == "security-group":
        new_id = changes.get("security_group_id")
        if new_id is not None and new_id != obj.data.get("security_group_id"):
            raise _ApiError(403, "Cannot update the security group ID")  # assumption: the text
        if "security_group_entries" in changes:
            _check_policy_rules(changes["security_group_entries"])
    if kind == "network-policy" and "network_policy_entries" in changes:
        _check_policy_rules(changes["network_policy_entries"], network_policy=True)
    address_field = {"instance-ip": "instance_ip_address", "floating-ip": "floating_ip_address"}.get(kind)
    if address_field and changes.get(address_field) not in (None, obj.data.get(address_field)):
        raise _ApiError(400, f"{address_field} cannot be updated")  # assumption: a create-only property


def _ref_update_fields(body: Mapping[str, Any]) -> tuple[str, str, str, str]:
    """type, uuid, ref-type and operation of a ref-update, with contrail-api's 404/400 texts."""
    kind, obj_uuid, ref_kind, operation = (body.get(k) for k in ("type", "uuid", "ref-type", "operation"))
    for name in (kind, ref_kind):
        if name is not None and name not in _KINDS:
            raise _ApiError(404, f"Resource type '{name}' not found")
    if None in (kind, obj_uuid, ref_kind, operation):
        fields = f"{kind}, {obj_uuid}, {ref_kind}, {operation}"
        raise _ApiError(400, f"Bad Request: type/uuid/ref-type/operation is null: {fields}.")
    operation = str(operation).upper()
    if operation not in ("ADD", "DELETE"):
        raise _ApiError(400, f"Bad Request: operation should be add or delete: {operation}")
    return str(kind), str(obj_uuid), str(ref_kind), operation


def _access(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= _PERMS_RWX


def _check_share(share: object) -> None:
    """The share list of chmod: ``[{"tenant": "[tenant:|domain:]<uuid>", "tenant_access": 0-7}]``."""
    if not isinstance(share, list):
        raise _ApiError(400, "Bad Request, invalid share list")
    for item in share:
        share_type, _, share_id = str(_json_dict(item).get("tenant", "")).rpartition(":")
        try:
            uuid.UUID(share_id)
        except ValueError:
            raise _ApiError(400, "Bad Request, invalid share list") from None
        if share_type not in ("", "tenant", "domain") or not _access(_json_dict(item).get("tenant_access")):
            raise _ApiError(400, "Bad Request, invalid share list")


def _neutron_body(body: object) -> tuple[_Json, _Json]:
    """``{"context": {...}, "data": {...}}``; tenant and tenant_id must agree (_get_requests_data)."""
    if not isinstance(body, dict) or not isinstance(body.get("context"), dict) or "data" not in body:
        raise _ApiError(400, "Unable to parse request data: 'context'")
    context = dict(body["context"])
    if context.get("tenant") and context.get("tenant_id") and context["tenant"] != context["tenant_id"]:
        raise _ApiError(400, "Unable to parse request data")
    return context, _json_dict(body["data"])


def _neutron_error(exception: str, **kwargs: object) -> _ApiError:
    """vnc_openstack's errors: 400 with a JSON body naming the Neutron exception."""
    return _ApiError(400, json.dumps({"exception": exception, **kwargs}))


def _first_level_fields(body: object, obj_key: str) -> set[str]:
    """The body's first-level fields vnc_rbac matches field rules against (uuid and fq_name dropped)."""
    if not isinstance(body, dict):
        return set()
    inner = body[obj_key] if isinstance(body.get(obj_key), dict) else body
    return set(inner) - {"uuid", "fq_name"}


def _merge(first: _Rule | None, second: _Rule) -> _Rule:
    """get_rbac_rules: rules for the same object.field collapse, CRUD letters unioned per role."""
    if first is None:
        return second
    perms = dict(first.perms)
    for role, crud in second.perms:
        perms[role] = "".join(sorted(set(perms.get(role, "")) | set(crud), key="CRUD".index))
    return _Rule(first.obj, first.fld, tuple(perms.items()))


def _merge_all(rules: Sequence[_Rule]) -> _Rule | None:
    merged: _Rule | None = None
    for rule in rules:
        merged = _merge(merged, rule)
    return merged


def _subset(wanted: object, value: Mapping[str, Any]) -> bool:
    if isinstance(wanted, str):
        try:
            wanted = json.loads(wanted)
        except ValueError:
            return False
    if not isinstance(wanted, dict):
        return False
    return all(key in value and value[key] == item for key, item in wanted.items())


def _check_int(name: str, value: object, bounds: tuple[int, int]) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        try:
            value = int(cast("Any", value))
        except (TypeError, ValueError):
            raise ValueError(f"{name}: integer value expected instead of {value}") from None
    low, high = bounds
    if not low <= value <= high:
        raise ValueError(f"{name}: value must be between {low} and {high}")
    return value


def _check_string(name: str, value: object, allowed: tuple[str, ...]) -> None:
    if not isinstance(value, str):
        raise TypeError(f"{name}: string value expected instead of {value}")
    if allowed and value not in allowed:
        raise ValueError(f"{name}: value must be one of {list(allowed)}")


def _check_complex(name: str, value: Mapping[str, Any]) -> None:
    if name == "virtual_network_properties":
        for key, item in value.items():
            if key not in _VN_PROPERTIES_FIELDS:
                raise ValueError(f"class VirtualNetworkType does not have field {key}")
            if item in (None, "", 0):
                continue
            if key in _VN_PROPERTIES_INTS:
                _check_int(key, item, _VN_PROPERTIES_INTS[key])
            elif key in _VN_PROPERTIES_CHOICES:
                _check_string(key, item, _VN_PROPERTIES_CHOICES[key])
    elif name.endswith("dhcp_option_list"):
        _check_dhcp_options(value)


def _check_dhcp_options(value: object) -> None:
    if not isinstance(value, dict):
        raise TypeError("DhcpOptionsListType must be an object")
    options = value.get("dhcp_option") or []
    if not isinstance(options, list):
        raise TypeError(f"Field dhcp_option must be a list. Received value: {options}")
    for option in options:
        if not isinstance(option, dict) or not option.get("dhcp_option_name"):
            raise TypeError(f"dhcp_option needs dhcp_option_name: {option}")  # assumption


def _network(subnet: Mapping[str, Any]) -> _Network:
    spec = subnet.get("subnet")
    if not isinstance(spec, dict):
        raise TypeError("Subnet type is invalid")
    cidr = f"{spec.get('ip_prefix')}/{spec.get('ip_prefix_len')}"
    try:
        return ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        raise ValueError(f"Subnet type '{cidr}' is invalid") from None


def _cidr(subnet: Mapping[str, Any]) -> str:
    network = _network(subnet)
    return f"{network.network_address}/{network.prefixlen}"


def _check_vn_subnets(attr: object) -> None:
    if not isinstance(attr, dict):
        raise TypeError("VnSubnetsType must be an object")
    subnets = attr.get("ipam_subnets") or []
    if not isinstance(subnets, list):
        raise TypeError(f"Field ipam_subnets must be a list. Received value: {subnets}")
    for subnet in subnets:
        if not isinstance(subnet, dict):
            raise TypeError("IpamSubnetType must be an object")
        _network(subnet)
        if subnet.get("dhcp_option_list") is not None:
            _check_dhcp_options(subnet["dhcp_option_list"])


def _overlap(first: _Network, second: _Network) -> bool:
    if isinstance(first, ipaddress.IPv4Network) and isinstance(second, ipaddress.IPv4Network):
        return first.subnet_of(second) or second.subnet_of(first)
    if isinstance(first, ipaddress.IPv6Network) and isinstance(second, ipaddress.IPv6Network):
        return first.subnet_of(second) or second.subnet_of(first)
    return False


def _prepare_subnet(subnet: _Json, network: _Network, previous: Mapping[str, Any] | None) -> None:
    """One IpamSubnetType: pools, gateway and DNS checked; system fields filled (kept on update)."""
    name = f"{network.network_address}/{network.prefixlen}"
    for pool in subnet.get("allocation_pools") or []:
        start, end = _ip(pool.get("start")), _ip(pool.get("end"))
        if start is None or end is None:
            text = f"start:{pool.get('start')}, end:{pool.get('end')} in subnet:{name}"
            raise _ApiError(400, f"Invalid allocation Pool {text}")
        if start not in network or end not in network:
            raise _ApiError(400, f"allocation pool start:{start}, end:{end} out of cidr:{name}")
    gateway = subnet.get("default_gateway")
    _check_gateway(gateway, network, name)
    if previous is not None and gateway not in (None, "none", previous.get("default_gateway")):
        old = previous.get("default_gateway")
        raise _ApiError(400, f"default gateway change is not allowed orig:{old}, new: {gateway}")
    dns = subnet.get("dns_server_address")
    if dns and dns != "None" and _ip(dns) is None:
        raise _ApiError(400, f"Invalid Dns Server Ip address:{dns}")
    from_start = bool(subnet.get("addr_from_start"))
    old = previous or {}
    low, high = network.network_address, network.broadcast_address
    subnet_uuid = subnet.get("subnet_uuid") or old.get("subnet_uuid") or str(uuid.uuid4())
    try:
        uuid.UUID(str(subnet_uuid))
    except ValueError:
        raise _ApiError(400, f"Invalid subnet-uuid {subnet_uuid} in subnet:{name}") from None
    subnet["subnet"] = {"ip_prefix": str(low), "ip_prefix_len": network.prefixlen}
    subnet["default_gateway"] = (
        gateway or old.get("default_gateway") or str(low + 1 if from_start else high - 1)
    )
    subnet["dns_server_address"] = (
        dns or old.get("dns_server_address") or str(low + 2 if from_start else high - 2)
    )
    subnet["subnet_uuid"] = subnet_uuid
    subnet.setdefault("enable_dhcp", True)
    subnet.setdefault("addr_from_start", from_start)


def _check_gateway(gateway: object, network: _Network, name: str) -> None:
    if not gateway or gateway == "None":
        return
    gw = _ip(gateway)
    if gw is None:
        raise _ApiError(400, f"Invalid gateway Ip address:{gateway}")
    unset = int(gw) == 0  # 0.0.0.0 or :: means "no gateway"
    if not unset and not int(network.network_address) + 1 <= int(gw) <= int(network.broadcast_address) - 1:
        raise _ApiError(400, f"gateway Ip {gateway} out of cidr: {name}")


def _claim(vn: _Obj, subnets: list[_Json], requested: str, used: set[str]) -> tuple[str, _Json]:
    """A requested address: 409 when taken (the gateway may go to a router port)."""
    address = _ip(requested)
    if address is None:
        raise _ApiError(400, f"Invalid IP address: {requested}")  # assumption
    for subnet in subnets:
        network = _network(subnet)
        if address in network:
            reserved = {str(network.network_address), str(network.broadcast_address)}
            reserved.add(str(subnet.get("dns_server_address")))
            if requested in used or requested in reserved:
                raise _ApiError(409, "IP address already in use")
            return requested, subnet
    # assumption: the text for an address outside every subnet of the VN
    raise _ApiError(400, f"Virtual-Network({vn.fq_name}) has no subnet for requested IP {requested}")


def _first_free(subnet: Mapping[str, Any], used: set[str]) -> str | None:
    """The next address: pools (default: the whole subnet), network/broadcast/gateway/DNS excluded."""
    network = _network(subnet)
    first, last = int(network.network_address), int(network.broadcast_address)
    excluded = {first, last}
    for key in ("default_gateway", "dns_server_address"):
        address = _ip(subnet.get(key))
        if address is not None:
            excluded.add(int(address))
    pools = [
        (int(ipaddress.ip_address(p["start"])), int(ipaddress.ip_address(p["end"])))
        for p in subnet.get("allocation_pools") or []
    ] or [(first, last - 1)]
    from_start = bool(subnet.get("addr_from_start"))
    make = ipaddress.IPv4Address if network.version == 4 else ipaddress.IPv6Address  # noqa: PLR2004
    for start, end in pools if from_start else list(reversed(pools)):
        candidates = range(start, end + 1) if from_start else range(end, start - 1, -1)
        for number in candidates:
            text = str(make(number))
            if number not in excluded and text not in used:
                return text
    return None


def _check_policy_rules(entries: object, *, network_policy: bool = False) -> None:
    """_policy_base.check_policy_rules: duplicates, rule_uuid, protocol, ethertype, 'local'."""
    if not entries:
        return
    rules = _json_dict(entries).get("policy_rule") or []
    if not isinstance(rules, list) or not all(isinstance(r, dict) for r in rules):
        raise _ApiError(400, "Bad Request, policy_rule must be a list of rules")  # assumption
    ignore = ("rule_uuid", "created", "last_modified")
    bare = [{k: v for k, v in r.items() if k not in ignore} for r in rules]
    for index, rule in enumerate(bare):
        if rule in bare[:index] + bare[index + 1 :]:
            raise _ApiError(409, f"Rule already exists : {rules[index].get('rule_uuid')}")
    for rule in rules:
        if not rule.get("rule_uuid"):
            rule["rule_uuid"] = str(uuid.uuid4())
        protocol = str(rule.get("protocol", ""))
        if protocol.isdigit() and not 0 <= int(protocol) <= 255:  # noqa: PLR2004 - IP protocol numbers
            raise _ApiError(400, f"Rule with invalid protocol : {protocol}")
        if not protocol.isdigit() and protocol.lower() not in _IP_PROTOCOLS:
            raise _ApiError(400, f"Rule with invalid protocol : {protocol.lower()}")
        if network_policy:
            _check_network_policy_rule(rule)
        else:
            _check_security_group_rule(rule)


def _check_network_policy_rule(rule: Mapping[str, Any]) -> None:
    if rule.get("action_list") is None:
        raise _ApiError(400, "Action is required")
    addresses = [*(rule.get("src_addresses") or []), *(rule.get("dst_addresses") or [])]
    if any(a.get("security_group") is not None for a in addresses):
        raise _ApiError(400, "Config Error: policy rule refering to security group is not allowed")


def _check_security_group_rule(rule: Mapping[str, Any]) -> None:
    sources = rule.get("src_addresses") or []
    destinations = rule.get("dst_addresses") or []
    ethertype = rule.get("ethertype")
    for address in [*sources, *destinations] if ethertype is not None else []:
        if address.get("subnet") is None:
            continue
        try:
            network = _network(address)
        except (TypeError, ValueError) as exc:
            raise _ApiError(400, str(exc)) from None
        if ethertype != f"IPv{network.version}":
            raise _ApiError(400, f"Rule subnet {network} doesn't match ethertype {ethertype}")
    groups = {a.get("security_group") for a in [*sources, *destinations]}
    if "local" not in groups:
        raise _ApiError(400, "At least one of source or destination addresses must be 'local'")


# ================================================================================== HTTP
class _HttpHandler(QuietHandler):
    def serve(self) -> None:
        self._serve()

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        parts = urlsplit(self.path)
        path = re.sub(r"/+", "/", unquote(parts.path)).rstrip("/") or "/"
        request = _Request(
            method=self.command,
            path=path,
            raw_path=parts.path,
            query=parse_qs(parts.query, keep_blank_values=True),
            query_string=parts.query,
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
        )
        try:
            reply = cast("LoopbackServer", self.server).fake._serve(request)  # noqa: SLF001
        except Exception as exc:
            # A bug in the fake must not pass for a network fault: answer 500 naming it, then let
            # socketserver print the traceback.
            text = f"tungsten fake internal error: {type(exc).__name__}: {exc}\n"
            self._send(_Reply(500, text.encode(), "text/plain; charset=utf-8"))
            raise
        if reply is None:  # the fault that closes the socket without an answer
            self.close_connection = True
            return
        self._send(reply)

    def _send(self, reply: _Reply) -> None:
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        for name, value in reply.headers:
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(reply.body)


# ================================================================================== facade
@dataclass(slots=True)
class _ArmedFault:
    fault: TungstenFault
    method: str | None
    path: str | None
    pattern: re.Pattern[str] | None
    remaining: int

    def matches(self, request: _Request) -> bool:
        if self.method is not None and self.method.upper() != request.method:
            return False
        if self.path is None:
            return True
        found = self.path in request.raw_path
        return found or (self.pattern is not None and self.pattern.search(request.raw_path) is not None)


class TungstenFake(LoopbackService):
    """The Tungsten Fabric config API on ``127.0.0.1`` (an OS-chosen port), validating tokens on Keystone.

    ``keystone_url`` is Keystone v3 (``OpenStackFake.auth_url`` or a real one; ``/v3`` is added when
    missing). ``keystone_admin`` is ``(user, password, project)`` of the identity TF's keystone
    middleware and keystone sync log in with (``admin_user``/``admin_password``/``admin_tenant_name``
    in contrail-api.conf); it is also the *integration identity* of the scope-capture scenario.

    ``aaa_mode`` is ``cloud-admin`` (only tokens with role ``admin`` pass: plain ``403 Permission
    Denied`` otherwise), ``rbac`` (api-access-list rules, then per-object ``perms2``) or ``no-auth``
    (no token needed). ``rbac_rules`` are the rules provisioning added to the global api-access-list
    on top of contrail-api's own defaults, in ``"<object>[.<field>] => <role>:<CRUD>"`` notation.
    The default ``"* => member:CRUD"`` is an assumption: a deployment whose tenants can work at all
    (contrail-api's own list opens only fqname-to-id, id-to-fqname and a few reads).

    Seed (``seed=True``): ``default-global-system-config``, ``default-domain``, ``default-project``,
    ``default-network-ipam`` (readable by all, global_access 5), the VNs ``default-virtual-network``,
    ``ip-fabric`` and ``__link_local__`` (the last two cannot be deleted) and SG ``__no_rule__``.
    With ``seed=False`` only the global config and ``default-domain``. Keystone projects appear as
    TF projects (uuid = Keystone id with dashes, owner = that id, a ``default`` SG) when a token
    scoped to them arrives or when a read or a create needs them.

    With ``capture_scope=True`` a request by the integration identity (``keystone_admin[0]``) whose
    token is scoped to a project other than ``keystone_admin[2]`` is recorded as a
    `TungstenScopeCapture` and `routing_managed` turns False. The request itself is authorised
    exactly as TF does (by that token's scope and roles) either way; ``capture_scope=False`` only
    turns the detector off.

    Example:
        >>> from cloudkit.testing.fakes.openstack import OpenStackFake
        >>> with OpenStackFake() as keystone:
        ...     tf = TungstenFake(keystone_url=keystone.auth_url, aaa_mode="rbac").start()
        ...     tf.url.startswith("http://127.0.0.1:"), tf.aaa_mode, tf.routing_managed()
        ...     tf.stop()
        (True, 'rbac', True)
    """

    _what = "tungsten fake"
    _handler = _HttpHandler

    def __init__(
        self,
        *,
        keystone_url: str,
        keystone_admin: tuple[str, str, str] = ("admin", "secret", "admin"),
        aaa_mode: AaaMode = "cloud-admin",
        seed: bool = True,
        port: int = 0,
        capture_scope: bool = True,
        rbac_rules: Iterable[str] = ("* => member:CRUD",),
        token_cache_seconds: float = 300.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Configure the fake; nothing listens until `start`.

        ``clock`` gives epoch seconds; a cached token is used until its ``expires_at`` passes on
        that clock or ``token_cache_seconds`` (keystonemiddleware's ``token_cache_time``) have gone
        by, then Keystone is asked again.

        Example:
            >>> TungstenFake(keystone_url="http://127.0.0.1:5000/identity/v3").aaa_mode
            'cloud-admin'
        """
        if aaa_mode not in _AAA_MODES:
            raise ValueError(f"aaa_mode must be one of {_AAA_MODES}, got {aaa_mode!r}")
        self._initial_mode: AaaMode = aaa_mode
        self._options = _Options(
            keystone_admin=keystone_admin,
            seed=seed,
            capture_scope=capture_scope,
            token_cache_seconds=token_cache_seconds,
            rbac_rules=tuple(_parse_rule(r) for r in rbac_rules),
        )
        self._keystone = _Keystone(keystone_url, keystone_admin)
        self._clock = clock
        self._port = port
        self._lock = threading.RLock()
        self._faults: list[_ArmedFault] = []
        self._slow = SlowGate()
        self._server: LoopbackServer | None = None
        self._tf = _Server(self._options, self._keystone, clock, aaa_mode)
        self.requests: list[TungstenCall] = []
        """Every request received, in the order the answers were decided; tokens replaced by ``"***"``."""

    # ------------------------------------------------------------------------------ lifecycle
    def _before_serving(self) -> None:
        self._tf.base_url = self.url  # hrefs in answers name the fake's own address

    def _after_stop(self) -> None:
        with self._lock:
            self._keystone.close()

    def reset(self) -> None:
        """Back to the seeded state and the first ``aaa_mode``; forget requests, faults, tokens, captures.

        Example:
            >>> fake = TungstenFake(keystone_url="http://127.0.0.1:1/v3", aaa_mode="rbac")
            >>> fake.aaa_mode = "no-auth"
            >>> fake.reset()
            >>> fake.aaa_mode
            'rbac'
        """
        with self._lock:
            base_url = self._tf.base_url
            self._tf = _Server(self._options, self._keystone, self._clock, self._initial_mode)
            self._tf.base_url = base_url
            self._faults.clear()
            self.requests.clear()
        self._slow.reset()

    @property
    def aaa_mode(self) -> AaaMode:
        """The authorisation mode now in force (also changed by ``PUT /aaa-mode``).

        Example:
            >>> fake = TungstenFake(keystone_url="http://127.0.0.1:1/v3")
            >>> fake.aaa_mode = "rbac"
            >>> fake.aaa_mode
            'rbac'
        """
        return self._tf.aaa_mode

    @aaa_mode.setter
    def aaa_mode(self, value: AaaMode) -> None:
        if value not in _AAA_MODES:
            raise ValueError(f"aaa_mode must be one of {_AAA_MODES}, got {value!r}")
        with self._lock:
            self._tf.aaa_mode = value

    # ------------------------------------------------------------------------------ peeking
    def objects(self, type_name: str) -> list[_Json]:
        """Every object of a type as an admin ``GET`` shows it (no type key), oldest first.

        Example:
            >>> fake = TungstenFake(keystone_url="http://127.0.0.1:1/v3")
            >>> [o["name"] for o in fake.objects("virtual-network")]
            ['default-virtual-network', 'ip-fabric', '__link_local__']
        """
        if type_name not in _KINDS:
            raise ValueError(f"unknown type {type_name!r}; the fake knows {sorted(_KINDS)}")
        with self._lock:
            return [self._tf.view(o) for o in self._tf.of_kind(type_name)]

    def get(self, type_name: str, uuid: str) -> _Json | None:
        """One object as an admin ``GET`` shows it, or None (unknown uuid or another type).

        Example:
            >>> fake = TungstenFake(keystone_url="http://127.0.0.1:1/v3")
            >>> ipam = fake.objects("network-ipam")[0]
            >>> fake.get("network-ipam", ipam["uuid"])["perms2"]["global_access"]
            5
            >>> fake.get("virtual-network", ipam["uuid"]) is None
            True
        """
        with self._lock:
            obj = self._tf.objs.get(uuid)
            return None if obj is None or obj.kind != type_name else self._tf.view(obj)

    def routing_managed(self) -> bool:
        """False once the integration identity's scope has been captured by a customer project.

        Example:
            >>> TungstenFake(keystone_url="http://127.0.0.1:1/v3").routing_managed()
            True
        """
        with self._lock:
            return not self._tf.captures

    @property
    def captures(self) -> list[TungstenScopeCapture]:
        """Every scope capture so far (see `TungstenScopeCapture`), oldest first.

        Example:
            >>> TungstenFake(keystone_url="http://127.0.0.1:1/v3").captures
            []
        """
        with self._lock:
            return list(self._tf.captures)

    def guest_dhcp_options(self, vmi_uuid: str) -> dict[str, str]:
        """The DHCP options a guest behind this port receives (VMI over subnet over IPAM), by name.

        Option 26 is reported as ``"interface-mtu"``. TF does not derive it from the VN's ``mtu``:
        only what a client put in a ``dhcp_option_list`` shows here.

        Example:
            >>> TungstenFake(keystone_url="http://127.0.0.1:1/v3").guest_dhcp_options("nope")
            Traceback (most recent call last):
            ...
            ValueError: Unknown id: nope
        """
        with self._lock:
            try:
                return self._tf.guest_dhcp_options(vmi_uuid)
            except _ApiError as err:
                raise ValueError(err.message) from None

    def guest_mtu(self, vmi_uuid: str) -> int | None:
        """The MTU a guest behind this port learns by DHCP (option 26), or None when none is offered.

        Example:
            >>> TungstenFake(keystone_url="http://127.0.0.1:1/v3").guest_mtu("nope")
            Traceback (most recent call last):
            ...
            ValueError: Unknown id: nope
        """
        value = self.guest_dhcp_options(vmi_uuid).get("interface-mtu")
        return int(value) if value is not None and value.isdigit() else None

    # ------------------------------------------------------------------------------ faults
    def inject(
        self, fault: TungstenFault, *, method: str | None = None, path: str | None = None, times: int = 1
    ) -> None:
        """Give the next ``times`` matching requests this fault.

        ``path`` matches the request path (without the query) as a substring or, failing that, as a
        regular expression (``re.search``); ``method`` is compared case-insensitively.

        Example:
            >>> fake = TungstenFake(keystone_url="http://127.0.0.1:1/v3")
            >>> fake.inject(TungstenFault.server_error(503), method="POST", path="/virtual-networks")
        """
        if times < 1:
            raise ValueError(f"times must be at least 1, got {times}")
        try:
            pattern = re.compile(path) if path is not None else None
        except re.error:
            pattern = None
        with self._lock:
            self._faults.append(_ArmedFault(fault, method, path, pattern, times))

    def release_slow(self) -> None:
        """Let one held ``slow`` answer go (or the next one, if none is held yet).

        Example:
            >>> TungstenFake(keystone_url="http://127.0.0.1:1/v3").release_slow()
        """
        self._slow.release()

    def wait_until_held(self, timeout: float = 5.0) -> bool:
        """Block until a ``slow`` answer is being held (True) or ``timeout`` passes (False).

        Example:
            >>> TungstenFake(keystone_url="http://127.0.0.1:1/v3").wait_until_held(timeout=0.0)
            False
        """
        return self._slow.wait_until_held(timeout)

    # ------------------------------------------------------------------------------ serving
    def _take_fault(self, request: _Request) -> TungstenFault | None:
        with self._lock:
            for armed in self._faults:
                if armed.matches(request):
                    armed.remaining -= 1
                    if armed.remaining == 0:
                        self._faults.remove(armed)
                    return armed.fault
        return None

    def _hold(self, fault: TungstenFault) -> None:
        self._slow.hold(fault.hold)

    def _serve(self, request: _Request) -> _Reply | None:
        """One HTTP request: apply a fault, handle it, record it; None means close without answer."""
        fault = self._take_fault(request)
        kind = fault.kind if fault is not None else None
        caller: _Caller | None = None
        note: str | None = None
        reply: _Reply | None
        if fault is not None and kind == "drop_connection":
            reply = None
        elif fault is not None and kind == "server_error":
            reply = _Reply(fault.status, fault.text.encode(), _BOTTLE_TEXT)
        else:
            if fault is not None and kind == "slow":
                self._hold(fault)
            with self._lock:
                reply, caller = self._handle(request)
                note = self._detect_capture(request, caller, reply.status)
        self._record(request, reply, kind, caller, note)
        return reply

    def _handle(self, request: _Request) -> tuple[_Reply, _Caller | None]:
        tf = self._tf
        caller: _Caller | None = None
        try:
            if request.path == "/" or request.path.startswith("/documentation"):
                caller = _Caller(None, admin=False, project_id=None)  # the whitelist: no token needed
                return tf.route(request, _Caller(None, admin=True, project_id=None)), caller
            try:
                caller = tf.authenticate(request)
            except _KeystoneUnavailableError:
                # assumption: keystonemiddleware's answer when it cannot reach Keystone
                raise _ApiError(
                    503, "The server is currently unavailable. Please try again at a later time."
                ) from None
            tf.gate(caller)
            return tf.route(request, caller), caller
        except _ApiError as err:
            return _error_reply(err), caller

    def _detect_capture(self, request: _Request, caller: _Caller | None, status: int) -> str | None:
        ident = caller.identity if caller else None
        user, _password, home = self._options.keystone_admin
        if not self._options.capture_scope or ident is None or ident.user != user:
            return None
        if ident.project in (None, home):
            return None
        roles = tuple(ident.roles)
        effect: CaptureEffect
        if status == 403:  # noqa: PLR2004 - refused
            effect = "denied"
            consequence = (
                "TF refuses the call (403), so routing objects of the admin project cannot be managed"
            )
        elif _CLOUD_ADMIN_ROLE in (r.lower() for r in roles):
            effect = "over-privileged"
            consequence = (
                "the account holds admin there too, so this scope sees and changes every tenant's objects"
            )
        else:
            effect = "narrowed"
            consequence = (
                f"objects owned by project {home!r} (external VN, FIP pools, routers, route tables) drop "
                f"out of view and new config-root objects become owned by {ident.project!r}"
            )
        reason = (
            f"scope captured: TF's integration identity {user!r} arrived with a token scoped to project "
            f"{ident.project!r} (roles {list(roles)}) instead of {home!r}; TF authorises and assigns "
            f"ownership with the caller's scope: {consequence}"
        )
        self._tf.captures.append(
            TungstenScopeCapture(
                user=user,
                project=str(ident.project),
                project_id=str(ident.project_id),
                roles=roles,
                method=request.method,
                path=request.raw_path,
                status=status,
                effect=effect,
                reason=reason,
            )
        )
        return reason

    def _record(
        self,
        request: _Request,
        reply: _Reply | None,
        fault: TungstenFaultKind | None,
        caller: _Caller | None,
        note: str | None,
    ) -> None:
        ident = caller.identity if caller else None
        call = TungstenCall(
            method=request.method,
            path=request.raw_path,
            query=request.query_string,
            status=None if reply is None else reply.status,
            token="***" if request.headers.get("x-auth-token") else None,
            user=ident.user if ident else None,
            project=ident.project if ident else None,
            project_id=ident.project_id if ident else None,
            roles=ident.roles if ident else (),
            body=request.body.decode("utf-8", "replace"),
            fault=fault,
            note=note,
        )
        with self._lock:
            self.requests.append(call)
