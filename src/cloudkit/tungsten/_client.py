"""`TungstenClient`: the only TF module that does I/O, over httpx.

It logs in to Keystone itself as the dedicated TF service account (quirk
``tungsten.admin-scope-capture``), keeps the token and renews it before it expires (and once more on a
401), and sends that token, and only that token, on every TF request. Each public method is thin: it
checks arguments, asks ``_wire`` to build the request, sends it through the one retry layer and asks
``_wire`` to parse the answer. Creates carry a client-side uuid and are repeated only when a read-back
shows the first attempt did not land.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid as uuid_lib
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import Any, Self

import attrs
import httpx

from cloudkit._core._errors import scrub
from cloudkit._core._http import make_http_client, translate_transport_errors
from cloudkit._core._retry import RetryPolicy
from cloudkit._keystone import KeystoneIdentity, KeystoneToken, read_token
from cloudkit.errors import (
    CloudkitError,
    ConflictError,
    InvalidArgumentError,
    NotFoundError,
    ResponseDecodeError,
)
from cloudkit.tungsten import _quirks, _wire
from cloudkit.tungsten._models import (
    FloatingIp,
    FloatingIpPool,
    InstanceIp,
    LogicalRouter,
    ObjectRef,
    Port,
    SecurityGroup,
    SecurityGroupRule,
    Subnet,
    VirtualNetwork,
    VrouterAgent,
)
from cloudkit.tungsten._settings import TungstenSettings

__all__ = ["TungstenClient"]

log = logging.getLogger("cloudkit.tungsten")
SYSTEM = "tungsten"
_BULK = 25  # ids per back_ref_id filter, as vnc_api's POST_FOR_LIST_THRESHOLD
_MAX_PAGES = 10_000  # a list longer than this many pages is a server that never ends it
_UNKNOWN_LIFETIME = 3600.0  # Keystone's default token lifetime, when a token does not say


@attrs.define
class _Token:
    issued: KeystoneToken
    renew_at: float


class TungstenClient:
    """A typed client for the Tungsten Fabric config API (VNC API), acting as a dedicated service account.

    The client authenticates with Keystone itself (password or application credential from
    ``settings``) and has no way to take a caller's token: a portal user's token never reaches TF
    (quirk ``tungsten.admin-scope-capture``). Objects made for a customer are created under the
    customer's project with an explicit ``perms2.owner``, so the customer sees them in its own scope.

    Args:
        settings: where TF and Keystone are, and the service account's credentials.
        http: an ``httpx.Client`` to use (the caller keeps ownership); by default one is made.
        retry: the retry policy for reads, updates, deletes and verified creates.
        clock: monotonic seconds, for token renewal (tests inject a fake clock).
        new_uuid: makes the uuid a create carries (tests make it deterministic).

    Example:
        >>> from cloudkit.tungsten import TungstenClient, TungstenSettings
        >>> tf = TungstenClient(TungstenSettings(url="http://127.0.0.1:8082", auth_url="http://127.0.0.1:5000/v3",
        ...                                      username="svc-tf", password="secret", project_name="service"))
        >>> tf
        TungstenClient(url='http://127.0.0.1:8082', account='svc-tf')
        >>> tf.close()
    """  # noqa: E501 (a doctest line)

    def __init__(
        self,
        settings: TungstenSettings,
        *,
        http: httpx.Client | None = None,
        retry: RetryPolicy | None = None,
        clock: Callable[[], float] = time.monotonic,
        new_uuid: Callable[[], str] = lambda: str(uuid_lib.uuid4()),
    ) -> None:
        """Create a client; nothing is sent until the first call."""
        self._settings = settings
        self._owns_http = http is None
        self._http = http or make_http_client(
            timeout=httpx.Timeout(settings.timeout, connect=min(5.0, settings.timeout)),
            verify=settings.verify_tls,
        )
        self._retry = retry or RetryPolicy()
        self._clock = clock
        self._new_uuid = new_uuid
        self._lock = threading.Lock()
        self._token: _Token | None = None
        self._base = settings.url

    # ------------------------------------------------------------------------------ lifecycle
    def __repr__(self) -> str:
        """Where and as which account; never a password or token."""
        s = self._settings
        account = s.username or s.application_credential_id
        return f"TungstenClient(url={s.url!r}, account={account!r})"

    def __enter__(self) -> Self:
        """Use as a context manager; the HTTP client is closed on exit if this client made it."""
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close on exit."""
        self.close()

    def close(self) -> None:
        """Close the HTTP client if this client made it."""
        if self._owns_http:
            self._http.close()

    @property
    def settings(self) -> TungstenSettings:
        """The settings this client was made with."""
        return self._settings

    # ------------------------------------------------------------------------------ identity
    def identity(self) -> KeystoneIdentity:
        """Who this client is in Keystone (the service account's own token: user, project, roles).

        Raises:
            AuthenticationError: Keystone refused the service account's credentials.
        """
        return self._current_token().issued.identity

    def aaa_mode(self) -> str:
        """TF's authorisation mode: ``"no-auth"``, ``"cloud-admin"`` or ``"rbac"`` (``GET /aaa-mode``)."""
        operation = "aaa_mode"
        payload = self._read(_wire.aaa_mode_request(self._base), operation)
        return _wire.aaa_mode_of(payload, operation=operation)

    # ------------------------------------------------------------------------------ analytics
    def vrouter_agents(
        self, *, analytics_url: str | None = None, kernel_field: str = _wire.KERNEL_FIELD
    ) -> list[VrouterAgent]:
        """Every vRouter agent TF's analytics API knows, with its kernel, build and platform.

        Reads ``GET /analytics/uves/vrouters`` then each ``/analytics/uves/vrouter/<name>?flat`` with the
        service account's token.

        Args:
            analytics_url: contrail-analytics-api (default: the config API's host, port 8081).
            kernel_field: the dotted UVE field that holds the node's kernel (``uname -r``). TF's own UVEs
                carry none, so the deployment names where it publishes it (default
                ``VrouterAgent.kernel_version``; quirk ``tungsten.vrouter-kernel``).

        Example:
            >>> from cloudkit.testing.fakes import OpenStackFake, TungstenFake
            >>> from cloudkit.tungsten import TungstenClient, TungstenSettings
            >>> with OpenStackFake() as keystone, TungstenFake(keystone_url=keystone.auth_url) as fake:
            ...     fake.set_vrouter("cmp-1", kernel="5.4.0-92-generic")
            ...     with TungstenClient(TungstenSettings(url=fake.url, auth_url=keystone.auth_url,
            ...             username="admin", password="secret", project_name="admin")) as tf:
            ...         agents = tf.vrouter_agents(analytics_url=fake.url)
            >>> [(a.name, a.kernel) for a in agents]
            [('cmp-1', '5.4.0-92-generic')]
        """
        operation = "vrouter_agents"
        if not kernel_field or not all(kernel_field.split(".")):
            raise InvalidArgumentError(
                f"kernel_field must be a dotted UVE field name, got {kernel_field!r}",
                system=SYSTEM,
                operation=operation,
            )
        # assumption: contrail-analytics-api accepts the service account's Keystone token (its own
        # keystone auth, like the config API's) and answers UVEs to the admin role
        base = analytics_url or _wire.analytics_base(self._base)
        names = _wire.vrouter_names_of(
            self._read(_wire.vrouters_request(base), operation), operation=operation
        )
        return [
            _wire.vrouter_agent_of(
                self._read(_wire.vrouter_request(base, name), operation),
                name,
                operation=operation,
                kernel_field=kernel_field,
            )
            for name in names
        ]

    # ------------------------------------------------------------------------------ virtual networks
    def create_virtual_network(
        self,
        *,
        project_id: str,
        name: str,
        subnets: Sequence[str | Subnet] = (),
        mtu: int | None = None,
        external: bool = False,
        shared: bool = False,
    ) -> VirtualNetwork:
        """Create a network with subnets under the customer's project, owned by it.

        Three requests: read the project (TF syncs it from Keystone on a miss), create the network with
        its client-side uuid, read it back (TF fills in subnet uuids and gateways). Setting ``mtu`` also
        sets DHCP option 26 on every IPv4 subnet (quirk ``tungsten.mtu-not-in-dhcp``).

        Args:
            project_id: the customer's project (Keystone id, dashed or not).
            name: the network's name, unique in the project.
            subnets: CIDRs such as ``"10.0.0.0/24"``, or :class:`Subnet` values for gateways and pools.
            mtu: the network MTU (68-9216); ``None`` leaves TF's default.
            external: ``router_external``: a source of floating IPs and router gateways.
            shared: ``is_shared``: visible to every project.

        Raises:
            InvalidArgumentError: a bad name, CIDR or MTU (before any request).
            NotFoundError: no such project.
            ConflictError: a network of that name exists in the project (code ``exists``).

        Example:
            >>> from cloudkit.testing.fakes import OpenStackFake, TungstenFake
            >>> from cloudkit.tungsten import TungstenClient, TungstenSettings
            >>> with OpenStackFake() as keystone, TungstenFake(keystone_url=keystone.auth_url) as fake:
            ...     _ = keystone.add_user("svc-tf", "svc-pass", project="service", roles=["admin"])
            ...     with TungstenClient(TungstenSettings(url=fake.url, auth_url=keystone.auth_url,
            ...             username="svc-tf", password="svc-pass", project_name="service")) as tf:
            ...         vn = tf.create_virtual_network(project_id=keystone.portal.project_id, name="net-1",
            ...                                        subnets=["10.0.0.0/24"], mtu=1450)
            ...         [n.name for n in tf.list_virtual_networks(project_id=keystone.portal.project_id)]
            ...         tf.get_virtual_network(vn.uuid).subnets[0].mtu
            ...         tf.delete_virtual_network(vn.uuid)
            ['net-1']
            1450
        """
        operation = "create_virtual_network"
        specs = [_wire.subnet_spec(s, operation=operation) for s in subnets]
        project = self._project(project_id, operation)
        net_uuid = self._new_uuid()
        body = _wire.virtual_network_body(
            uuid=net_uuid,
            project_fq_name=project.fq_name,
            project_id=project.uuid,
            name=name,
            subnets=specs,
            mtu=mtu,
            ipam_fq_name=self._settings.ipam_fq_name,
            external=external,
            shared=shared,
            operation=operation,
        )
        return self.get_virtual_network(self._create(_wire.VIRTUAL_NETWORK, net_uuid, body, operation))

    def get_virtual_network(
        self, uuid: str | None = None, *, fq_name: Sequence[str] | None = None
    ) -> VirtualNetwork:
        """A network by uuid, or by fq_name (``("default-domain", "<project>", "<name>")``).

        Raises:
            NotFoundError: no network with that uuid (or the uuid is another type's) or fq_name.
        """
        operation = "get_virtual_network"
        net_uuid = self._resolve(_wire.VIRTUAL_NETWORK, uuid, fq_name, operation)
        obj = self._get(_wire.VIRTUAL_NETWORK, net_uuid, operation)
        return _wire.virtual_network(obj, operation=operation)

    def list_virtual_networks(
        self, *, project_id: str | None = None, filters: Mapping[str, object] | None = None
    ) -> list[VirtualNetwork]:
        """Networks of one project (or all that the service account sees), every page read.

        ``filters`` are TF's property filters, e.g. ``{"router_external": True}``.
        """
        operation = "list_virtual_networks"
        parent = _project_uuid(project_id, operation) if project_id is not None else None
        objects = self._list_all(_wire.VIRTUAL_NETWORK, operation, parent_id=parent, filters=filters)
        return [_wire.virtual_network(obj, operation=operation) for obj in objects]

    def update_virtual_network(
        self, uuid: str, *, mtu: int | None = None, subnets: Sequence[str | Subnet] | None = None
    ) -> VirtualNetwork:
        """Change a network's MTU and/or its subnets in one PUT, then read it back.

        Setting ``mtu`` rewrites DHCP option 26 on every IPv4 subnet (``tungsten.mtu-not-in-dhcp``).
        ``subnets`` is the complete wanted list: existing subnets with a listed CIDR keep their uuid and
        options, others are removed, new CIDRs are added. The PUT carries the complete
        ``network_ipam_refs`` list as read, because TF replaces the stored list with whatever a PUT
        sends (``tungsten.put-replaces-refs``).
        """
        operation = "update_virtual_network"
        specs = None if subnets is None else [_wire.subnet_spec(s, operation=operation) for s in subnets]
        current = self._get(_wire.VIRTUAL_NETWORK, uuid, operation)
        changes = _wire.network_update(current, mtu=mtu, subnets=specs, operation=operation)
        self._update(_wire.VIRTUAL_NETWORK, uuid, changes, operation)
        return self.get_virtual_network(uuid)

    def delete_virtual_network(self, uuid: str) -> None:
        """Delete a network.

        Raises:
            ConflictError: ports, instance IPs or pools still use it; the message names them and
                :func:`~cloudkit.tungsten.blocking_objects` returns them (code ``still-referred`` or
                ``children-present``).
            NotFoundError: no such network.
        """
        self._delete(_wire.VIRTUAL_NETWORK, uuid, "delete_virtual_network")

    # ------------------------------------------------------------------------------ ports
    def create_port(
        self,
        *,
        project_id: str,
        network_id: str,
        name: str,
        security_group_ids: Sequence[str] = (),
        ip_address: str | None = None,
        mac_address: str | None = None,
        device_owner: str | None = None,
    ) -> Port:
        """Create a port (virtual machine interface) on a network with one address, owned by the project.

        The port is created, then an instance IP for it (TF allocates the address unless
        ``ip_address`` is given). If the address cannot be had, the port is deleted again.

        Raises:
            ConflictError: the address is in use (``ip-in-use``), the subnet is exhausted
                (``subnet-exhausted``) or the name is taken (``exists``).
            NotFoundError: no such project, network or security group.
        """
        operation = "create_port"
        project = self._project(project_id, operation)
        network = self._lookup(network_id, _wire.VIRTUAL_NETWORK, operation)
        groups = [self._lookup(sg, _wire.SECURITY_GROUP, operation) for sg in security_group_ids]
        port_uuid = self._new_uuid()
        body = _wire.port_body(
            uuid=port_uuid,
            project_fq_name=project.fq_name,
            project_id=project.uuid,
            name=name,
            network=network,
            security_groups=groups,
            mac_address=mac_address,
            device_owner=device_owner,
            operation=operation,
        )
        port_uuid = self._create(_wire.PORT, port_uuid, body, operation)
        port_ref = ObjectRef(type=_wire.PORT, uuid=port_uuid, fq_name=(*project.fq_name, name))
        try:
            self._create_instance_ip(project.uuid, network, port_ref, ip_address, operation)
        except CloudkitError:
            log.info("tungsten %s: no address for port %s; deleting it again", operation, port_uuid)
            self._delete(_wire.PORT, port_uuid, operation)
            raise
        return self.get_port(port_uuid)

    def get_port(self, uuid: str | None = None, *, fq_name: Sequence[str] | None = None) -> Port:
        """A port by uuid or fq_name, with the addresses of its instance IPs."""
        operation = "get_port"
        port_uuid = self._resolve(_wire.PORT, uuid, fq_name, operation)
        obj = self._get(_wire.PORT, port_uuid, operation, back_refs=True)
        addresses = self._addresses_of([port_uuid], operation).get(port_uuid, ())
        return _wire.port(obj, operation=operation, addresses=addresses)

    def list_ports(self, *, project_id: str | None = None, network_id: str | None = None) -> list[Port]:
        """Ports of a project and/or on a network, with their addresses."""
        operation = "list_ports"
        parent = _project_uuid(project_id, operation) if project_id is not None else None
        objects = self._list_all(_wire.PORT, operation, parent_id=parent, back_ref_id=network_id)
        ports = [_wire.port(obj, operation=operation) for obj in objects]
        addresses = self._addresses_of([p.uuid for p in ports], operation)
        return [attrs.evolve(p, ip_addresses=addresses.get(p.uuid, ())) for p in ports]

    def delete_port(self, uuid: str) -> None:
        """Delete a port and its instance IPs.

        Raises:
            ConflictError: a floating IP or router still uses the port (nothing is deleted then).
        """
        operation = "delete_port"
        obj = self._get(_wire.PORT, uuid, operation, back_refs=True)
        blockers = _wire.port_blockers(obj, operation=operation)
        if blockers:
            named = ", ".join(f"{b.type} {b.uuid}" for b in blockers)
            raise ConflictError(
                f"cannot delete {_wire.PORT} {uuid}: still referred to by {named}",
                system=SYSTEM,
                operation=operation,
                detail=" ".join(f"{self._base}/{b.type}/{b.uuid}" for b in blockers),
            )
        for iip in _wire.port(obj, operation=operation).instance_ip_ids:
            self._delete(_wire.INSTANCE_IP, iip, operation)
        self._delete(_wire.PORT, uuid, operation)

    # ------------------------------------------------------------------------------ instance IPs
    def create_instance_ip(
        self, *, project_id: str, network_id: str, port_id: str | None = None, address: str | None = None
    ) -> InstanceIp:
        """Allocate an address on a network (for a port, if given), owned by the customer's project.

        An ``instance-ip`` hangs off the config root: without the explicit owner cloudkit sets, TF would
        make it owned by the service account's project (``tungsten.admin-scope-capture``).
        """
        operation = "create_instance_ip"
        project = self._project(project_id, operation)
        network = self._lookup(network_id, _wire.VIRTUAL_NETWORK, operation)
        port_ref = self._lookup(port_id, _wire.PORT, operation) if port_id else None
        iip_uuid = self._create_instance_ip(project.uuid, network, port_ref, address, operation)
        return self.get_instance_ip(iip_uuid)

    def get_instance_ip(self, uuid: str) -> InstanceIp:
        """An instance IP by uuid."""
        operation = "get_instance_ip"
        return _wire.instance_ip(self._get(_wire.INSTANCE_IP, uuid, operation), operation=operation)

    def list_instance_ips(
        self, *, network_id: str | None = None, port_id: str | None = None
    ) -> list[InstanceIp]:
        """Instance IPs on a network or of a port (or all)."""
        operation = "list_instance_ips"
        objects = self._list_all(_wire.INSTANCE_IP, operation, back_ref_id=port_id or network_id)
        found = [_wire.instance_ip(obj, operation=operation) for obj in objects]
        if port_id and network_id:
            found = [iip for iip in found if iip.network_id == network_id]
        return found

    def delete_instance_ip(self, uuid: str) -> None:
        """Release an address."""
        self._delete(_wire.INSTANCE_IP, uuid, "delete_instance_ip")

    # ------------------------------------------------------------------------------ floating IPs
    def create_floating_ip_pool(
        self, *, network_id: str, name: str, subnet_uuids: Sequence[str] = (), project_id: str | None = None
    ) -> FloatingIpPool:
        """Create a floating-IP pool on a network; owned by ``project_id``, else by the network's owner."""
        operation = "create_floating_ip_pool"
        net_obj = self._get(_wire.VIRTUAL_NETWORK, network_id, operation)
        net = _wire.virtual_network(net_obj, operation=operation)
        owner = _project_uuid(project_id, operation) if project_id else net.owner or net.project_id
        if owner is None:
            raise InvalidArgumentError(
                "the network has no owner to give the pool; pass project_id",
                system=SYSTEM,
                operation=operation,
            )
        pool_uuid = self._new_uuid()
        body = _wire.floating_ip_pool_body(
            uuid=pool_uuid,
            network=ObjectRef(type=_wire.VIRTUAL_NETWORK, uuid=net.uuid, fq_name=net.fq_name),
            owner_project_id=owner,
            name=name,
            subnet_uuids=subnet_uuids,
            operation=operation,
        )
        return self.get_floating_ip_pool(self._create(_wire.FLOATING_IP_POOL, pool_uuid, body, operation))

    def get_floating_ip_pool(
        self, uuid: str | None = None, *, fq_name: Sequence[str] | None = None
    ) -> FloatingIpPool:
        """A floating-IP pool by uuid or fq_name."""
        operation = "get_floating_ip_pool"
        pool_uuid = self._resolve(_wire.FLOATING_IP_POOL, uuid, fq_name, operation)
        return _wire.floating_ip_pool(
            self._get(_wire.FLOATING_IP_POOL, pool_uuid, operation), operation=operation
        )

    def list_floating_ip_pools(self, *, network_id: str | None = None) -> list[FloatingIpPool]:
        """Floating-IP pools (of one network)."""
        operation = "list_floating_ip_pools"
        objects = self._list_all(_wire.FLOATING_IP_POOL, operation, parent_id=network_id)
        return [_wire.floating_ip_pool(obj, operation=operation) for obj in objects]

    def delete_floating_ip_pool(self, uuid: str) -> None:
        """Delete a pool (refused with ConflictError while floating IPs are allocated from it)."""
        self._delete(_wire.FLOATING_IP_POOL, uuid, "delete_floating_ip_pool")

    def create_floating_ip(
        self, *, pool_id: str, project_id: str, port_id: str | None = None, address: str | None = None
    ) -> FloatingIp:
        """Allocate a floating IP from a pool to a project (owned by it), optionally bound to a port."""
        operation = "create_floating_ip"
        pool = self._lookup(pool_id, _wire.FLOATING_IP_POOL, operation)
        project = self._project(project_id, operation)
        port_ref = self._lookup(port_id, _wire.PORT, operation) if port_id else None
        fip_uuid = self._new_uuid()
        body = _wire.floating_ip_body(
            uuid=fip_uuid, pool=pool, project=project, port=port_ref, address=address, operation=operation
        )
        return self.get_floating_ip(self._create(_wire.FLOATING_IP, fip_uuid, body, operation))

    def get_floating_ip(self, uuid: str) -> FloatingIp:
        """A floating IP by uuid."""
        operation = "get_floating_ip"
        return _wire.floating_ip(self._get(_wire.FLOATING_IP, uuid, operation), operation=operation)

    def list_floating_ips(
        self, *, project_id: str | None = None, pool_id: str | None = None
    ) -> list[FloatingIp]:
        """Floating IPs given to a project and/or from a pool."""
        operation = "list_floating_ips"
        project = _project_uuid(project_id, operation) if project_id is not None else None
        objects = self._list_all(_wire.FLOATING_IP, operation, parent_id=pool_id, back_ref_id=project)
        return [_wire.floating_ip(obj, operation=operation) for obj in objects]

    def associate_floating_ip(self, uuid: str, *, port_id: str) -> FloatingIp:
        """Bind a floating IP to a port with one ``/ref-update`` (``tungsten.put-replaces-refs``)."""
        operation = "associate_floating_ip"
        port_ref = self._lookup(port_id, _wire.PORT, operation)
        self._ref_update("ADD", _wire.FLOATING_IP, uuid, port_ref, operation)
        return self.get_floating_ip(uuid)

    def disassociate_floating_ip(self, uuid: str, *, port_id: str | None = None) -> FloatingIp:
        """Unbind a floating IP from ``port_id`` (or from every port it is bound to)."""
        operation = "disassociate_floating_ip"
        ports = (port_id,) if port_id else self.get_floating_ip(uuid).port_ids
        for port in ports:
            self._ref_update(
                "DELETE", _wire.FLOATING_IP, uuid, ObjectRef(type=_wire.PORT, uuid=port), operation
            )
        return self.get_floating_ip(uuid)

    def delete_floating_ip(self, uuid: str) -> None:
        """Release a floating IP."""
        self._delete(_wire.FLOATING_IP, uuid, "delete_floating_ip")

    # ------------------------------------------------------------------------------ security groups
    def create_security_group(
        self, *, project_id: str, name: str, rules: Sequence[SecurityGroupRule] = ()
    ) -> SecurityGroup:
        """Create a security group with rules under the customer's project, owned by it."""
        operation = "create_security_group"
        entries = [
            _wire.security_group_rule(r, rule_uuid=self._new_uuid(), operation=operation) for r in rules
        ]
        project = self._project(project_id, operation)
        sg_uuid = self._new_uuid()
        body = _wire.security_group_body(
            uuid=sg_uuid,
            project_fq_name=project.fq_name,
            project_id=project.uuid,
            name=name,
            rules=entries,
            operation=operation,
        )
        return self.get_security_group(self._create(_wire.SECURITY_GROUP, sg_uuid, body, operation))

    def get_security_group(
        self, uuid: str | None = None, *, fq_name: Sequence[str] | None = None
    ) -> SecurityGroup:
        """A security group by uuid or fq_name."""
        operation = "get_security_group"
        sg_uuid = self._resolve(_wire.SECURITY_GROUP, uuid, fq_name, operation)
        return _wire.security_group(self._get(_wire.SECURITY_GROUP, sg_uuid, operation), operation=operation)

    def list_security_groups(self, *, project_id: str | None = None) -> list[SecurityGroup]:
        """Security groups of a project (or all)."""
        operation = "list_security_groups"
        parent = _project_uuid(project_id, operation) if project_id is not None else None
        objects = self._list_all(_wire.SECURITY_GROUP, operation, parent_id=parent)
        return [_wire.security_group(obj, operation=operation) for obj in objects]

    def add_security_group_rule(self, uuid: str, rule: SecurityGroupRule) -> SecurityGroup:
        """Add one rule: read the group's rules, PUT them back with the new one, read back."""
        operation = "add_security_group_rule"
        entry = _wire.security_group_rule(rule, rule_uuid=self._new_uuid(), operation=operation)
        current = _wire.security_group_rules(
            self._get(_wire.SECURITY_GROUP, uuid, operation), operation=operation
        )
        self._update(_wire.SECURITY_GROUP, uuid, _wire.security_group_entries([*current, entry]), operation)
        return self.get_security_group(uuid)

    def remove_security_group_rule(self, uuid: str, rule_uuid: str) -> SecurityGroup:
        """Remove the rule with ``rule_uuid`` (NotFoundError when the group has no such rule)."""
        operation = "remove_security_group_rule"
        current = _wire.security_group_rules(
            self._get(_wire.SECURITY_GROUP, uuid, operation), operation=operation
        )
        kept = [r for r in current if r.get("rule_uuid") != rule_uuid]
        if len(kept) == len(current):
            raise NotFoundError(
                f"security group {uuid} has no rule {rule_uuid}", system=SYSTEM, operation=operation
            )
        self._update(_wire.SECURITY_GROUP, uuid, _wire.security_group_entries(kept), operation)
        return self.get_security_group(uuid)

    def delete_security_group(self, uuid: str) -> None:
        """Delete a security group (ConflictError while ports use it)."""
        self._delete(_wire.SECURITY_GROUP, uuid, "delete_security_group")

    # ------------------------------------------------------------------------------ logical routers
    def create_logical_router(
        self, *, project_id: str, name: str, gateway_network_id: str | None = None
    ) -> LogicalRouter:
        """Create a logical router under the customer's project, owned by it (optionally with a gateway)."""
        operation = "create_logical_router"
        project = self._project(project_id, operation)
        gateway = (
            self._lookup(gateway_network_id, _wire.VIRTUAL_NETWORK, operation) if gateway_network_id else None
        )
        lr_uuid = self._new_uuid()
        body = _wire.logical_router_body(
            uuid=lr_uuid,
            project_fq_name=project.fq_name,
            project_id=project.uuid,
            name=name,
            gateway=gateway,
            operation=operation,
        )
        return self.get_logical_router(self._create(_wire.LOGICAL_ROUTER, lr_uuid, body, operation))

    def get_logical_router(
        self, uuid: str | None = None, *, fq_name: Sequence[str] | None = None
    ) -> LogicalRouter:
        """A logical router by uuid or fq_name."""
        operation = "get_logical_router"
        lr_uuid = self._resolve(_wire.LOGICAL_ROUTER, uuid, fq_name, operation)
        return _wire.logical_router(self._get(_wire.LOGICAL_ROUTER, lr_uuid, operation), operation=operation)

    def list_logical_routers(self, *, project_id: str | None = None) -> list[LogicalRouter]:
        """Logical routers of a project (or all)."""
        operation = "list_logical_routers"
        parent = _project_uuid(project_id, operation) if project_id is not None else None
        objects = self._list_all(_wire.LOGICAL_ROUTER, operation, parent_id=parent)
        return [_wire.logical_router(obj, operation=operation) for obj in objects]

    def add_router_interface(self, uuid: str, *, network_id: str) -> Port:
        """Connect a network's first IPv4 subnet to a router: a router port holding the subnet's gateway.

        The port (``device_owner`` ``network:router_interface``) is created in the router's project, gets
        the gateway address, and is added to the router with one ``/ref-update``.
        """
        operation = "add_router_interface"
        router = self.get_logical_router(uuid)
        network = self.get_virtual_network(network_id)
        gateway = next((s.gateway for s in network.subnets if s.gateway and "." in s.gateway), None)
        if router.project_id is None:
            raise InvalidArgumentError(f"router {uuid} has no project", system=SYSTEM, operation=operation)
        port = self.create_port(
            project_id=router.project_id,
            network_id=network.uuid,
            name=f"{router.name}-{network.name}-if",
            ip_address=gateway,
            device_owner=_wire.ROUTER_INTERFACE_OWNER,
        )
        self._ref_update(
            "ADD",
            _wire.LOGICAL_ROUTER,
            uuid,
            ObjectRef(type=_wire.PORT, uuid=port.uuid, fq_name=port.fq_name),
            operation,
        )
        return self.get_port(port.uuid)

    def remove_router_interface(self, uuid: str, *, port_id: str) -> None:
        """Disconnect a router port (one ``/ref-update``) and delete it with its address."""
        operation = "remove_router_interface"
        self._ref_update(
            "DELETE", _wire.LOGICAL_ROUTER, uuid, ObjectRef(type=_wire.PORT, uuid=port_id), operation
        )
        self.delete_port(port_id)

    def set_router_gateway(self, uuid: str, *, network_id: str) -> LogicalRouter:
        """Give a router an external gateway network (one ``/ref-update``)."""
        operation = "set_router_gateway"
        network = self._lookup(network_id, _wire.VIRTUAL_NETWORK, operation)
        self._ref_update("ADD", _wire.LOGICAL_ROUTER, uuid, network, operation)
        return self.get_logical_router(uuid)

    def clear_router_gateway(self, uuid: str) -> LogicalRouter:
        """Remove a router's gateway network(s)."""
        operation = "clear_router_gateway"
        for net in self.get_logical_router(uuid).gateway_network_ids:
            self._ref_update(
                "DELETE",
                _wire.LOGICAL_ROUTER,
                uuid,
                ObjectRef(type=_wire.VIRTUAL_NETWORK, uuid=net),
                operation,
            )
        return self.get_logical_router(uuid)

    def delete_logical_router(self, uuid: str) -> None:
        """Delete a logical router."""
        self._delete(_wire.LOGICAL_ROUTER, uuid, "delete_logical_router")

    # ------------------------------------------------------------------------------ generic
    def ensure_project(self, project_id: str) -> ObjectRef:
        """The TF project of a Keystone project, made by TF's Keystone sync if TF has not seen it yet.

        TF never gets a project created by hand: contrail-api's ``vnc_openstack`` copies it from Keystone
        (same id, dashes inserted, with its ``default`` security group) when a read names a project it
        does not know (``keystone_sync_on_demand``, on by default). So this is one read of
        ``GET /project/<uuid>`` as the service account; repeating it changes nothing.

        Args:
            project_id: the Keystone project id (with or without dashes).

        Raises:
            NotFoundError: TF does not know the project and did not sync it (no such Keystone project, or
                the deployment's on-demand sync is off: its periodic resync will bring it later).

        Example:
            >>> from cloudkit.openstack import IdentityAdmin, OpenStackSettings
            >>> from cloudkit.testing.fakes import OpenStackFake, TungstenFake
            >>> from cloudkit.tungsten import TungstenClient, TungstenSettings
            >>> with OpenStackFake() as cloud, TungstenFake(keystone_url=cloud.auth_url) as fake:
            ...     _ = cloud.add_user("svc-tf", "svc-tf-pass", project="service", roles=("admin",))
            ...     with IdentityAdmin(OpenStackSettings(auth_url=cloud.auth_url, username="admin",
            ...                                          password="secret", project_name="admin")) as admin:
            ...         project = admin.ensure_project("cust-42")
            ...     with TungstenClient(TungstenSettings(url=fake.url, auth_url=cloud.auth_url,
            ...             username="svc-tf", password="svc-tf-pass", project_name="service")) as tf:
            ...         ref = tf.ensure_project(project.id)
            ...         groups = [g.name for g in tf.list_security_groups(project_id=project.id)]
            >>> (ref.fq_name, ref.uuid.replace("-", "") == project.id, groups)
            (('default-domain', 'cust-42'), True, ['default'])
        """
        operation = "ensure_project"
        try:
            return self._project(project_id, operation)
        except NotFoundError as exc:
            exc.add_note(
                "TF makes a project from Keystone on the first read of it (keystone_sync_on_demand); "
                "check that the Keystone project exists and that the sync is on"
            )
            raise

    def fq_name_to_id(self, obj_type: str, fq_name: Sequence[str]) -> str:
        """The uuid of the ``obj_type`` object named ``fq_name`` (``POST /fqname-to-id``)."""
        operation = "fq_name_to_id"
        parts: Sequence[object] = fq_name
        if not parts or not all(isinstance(part, str) and part for part in parts):
            raise InvalidArgumentError(
                "fq_name must be a non-empty list of names", system=SYSTEM, operation=operation
            )
        payload = self._read(
            _wire.action_request(self._base, "fqname-to-id", {"type": obj_type, "fq_name": list(fq_name)}),
            operation,
        )
        return _wire.uuid_of(payload, operation=operation)

    def id_to_fq_name(self, uuid: str) -> ObjectRef:
        """The type and fq_name of the object with ``uuid`` (``POST /id-to-fqname``)."""
        operation = "id_to_fq_name"
        payload = self._read(
            _wire.action_request(self._base, "id-to-fqname", {"uuid": uuid}),
            operation,
            subject=ObjectRef(type="object", uuid=uuid),
        )
        kind, fq_name = _wire.fq_name_of(payload, operation=operation)
        return ObjectRef(type=kind, uuid=uuid, fq_name=fq_name)

    def add_ref(self, obj_type: str, uuid: str, ref_type: str, ref_uuid: str, *, attr: Any = None) -> None:
        """Add (or re-attribute) one ref with ``POST /ref-update``, leaving the others alone."""
        self._ref_update("ADD", obj_type, uuid, ObjectRef(type=ref_type, uuid=ref_uuid), "add_ref", attr=attr)

    def remove_ref(self, obj_type: str, uuid: str, ref_type: str, ref_uuid: str) -> None:
        """Remove one ref with ``POST /ref-update``."""
        self._ref_update("DELETE", obj_type, uuid, ObjectRef(type=ref_type, uuid=ref_uuid), "remove_ref")

    def get_object(self, obj_type: str, uuid: str) -> dict[str, Any]:
        """Any object as TF returns it (the escape hatch for types cloudkit does not model)."""
        return self._get(obj_type, uuid, "get_object", back_refs=True)

    def list_objects(
        self,
        obj_type: str,
        *,
        parent_id: str | None = None,
        back_ref_id: str | None = None,
        filters: Mapping[str, object] | None = None,
    ) -> list[dict[str, Any]]:
        """Every object of a type as TF returns it (detail, every page read)."""
        return self._list_all(
            obj_type, "list_objects", parent_id=parent_id, back_ref_id=back_ref_id, filters=filters
        )

    def delete_object(self, obj_type: str, uuid: str) -> None:
        """Delete any object (ConflictError naming the blockers when TF refuses)."""
        self._delete(obj_type, uuid, "delete_object")

    # ------------------------------------------------------------------------------ internals: lookups
    def _project(self, project_id: str, operation: str) -> ObjectRef:
        """Read the project (TF's on-demand Keystone sync answers a read of a project it has not seen yet)."""
        project_uuid = _project_uuid(project_id, operation)
        obj = self._get(_wire.PROJECT, project_uuid, operation)
        return _wire.object_ref({"uuid": project_uuid, **obj}, _wire.PROJECT, operation=operation)

    def _lookup(self, uuid: str, obj_type: str, operation: str) -> ObjectRef:
        """The fq_name of a referenced object (refs are sent with ``to``), checking its type."""
        payload = self._read(
            _wire.action_request(self._base, "id-to-fqname", {"uuid": uuid}),
            operation,
            subject=ObjectRef(type=obj_type, uuid=uuid),
        )
        kind, fq_name = _wire.fq_name_of(payload, operation=operation)
        if kind != obj_type:
            raise NotFoundError(
                f"{uuid} is a {kind}, not a {obj_type}",
                system=SYSTEM,
                operation=operation,
            )
        return ObjectRef(type=obj_type, uuid=uuid, fq_name=fq_name)

    def _resolve(self, obj_type: str, uuid: str | None, fq_name: Sequence[str] | None, operation: str) -> str:
        if (uuid is None) == (fq_name is None):
            raise InvalidArgumentError("give either a uuid or an fq_name", system=SYSTEM, operation=operation)
        value: object = uuid
        if value is not None:
            if not isinstance(value, str) or not value:
                raise InvalidArgumentError(
                    f"uuid must be non-empty text, got {uuid!r}", system=SYSTEM, operation=operation
                )
            return value
        assert fq_name is not None  # noqa: S101 (checked above)
        return self.fq_name_to_id(obj_type, fq_name)

    def _addresses_of(self, port_uuids: Sequence[str], operation: str) -> dict[str, tuple[str, ...]]:
        found: dict[str, list[str]] = {}
        for start in range(0, len(port_uuids), _BULK):
            chunk = port_uuids[start : start + _BULK]
            objects = self._list_all(_wire.INSTANCE_IP, operation, back_ref_id=",".join(chunk))
            for obj in objects:
                iip = _wire.instance_ip(obj, operation=operation)
                for port in iip.port_ids:
                    if iip.address and port in chunk:
                        found.setdefault(port, []).append(iip.address)
        return {port: tuple(sorted(addresses)) for port, addresses in found.items()}

    def _create_instance_ip(
        self,
        project_uuid: str,
        network: ObjectRef,
        port: ObjectRef | None,
        address: str | None,
        operation: str,
    ) -> str:
        iip_uuid = self._new_uuid()
        body = _wire.instance_ip_body(
            uuid=iip_uuid,
            project_id=project_uuid,
            network=network,
            port=port,
            address=address,
            operation=operation,
        )
        return self._create(_wire.INSTANCE_IP, iip_uuid, body, operation)

    # ------------------------------------------------------------------------------ internals: verbs
    def _get(
        self, obj_type: str, uuid: str, operation: str, *, back_refs: bool = False, fields: Sequence[str] = ()
    ) -> dict[str, Any]:
        subject = ObjectRef(type=obj_type, uuid=uuid)
        request = _wire.get_request(self._base, obj_type, uuid, back_refs=back_refs, fields=fields)
        payload = self._read(request, operation, subject=subject)
        return _wire.object_of(payload, obj_type, operation=operation)

    def _list_all(
        self,
        obj_type: str,
        operation: str,
        *,
        parent_id: str | None = None,
        back_ref_id: str | None = None,
        filters: Mapping[str, object] | None = None,
    ) -> list[dict[str, Any]]:
        """Every page of a detail list, read until TF's own end marker (``marker`` null or absent).

        contrail-api ends a paginated list with ``"marker": null`` (reference tungsten.md, "Pagination",
        from its source, vnc_cfg_api_server L4082-4108); the fake does the same.

        Whatever page size TF really used (``paginate_count`` may cap ``page_limit``; rbac filtering may
        leave a page short or even empty), only the marker says whether more follows. A marker seen
        before, or more than ``_MAX_PAGES`` pages, is a ``ResponseDecodeError`` rather than a loop.
        """
        found: list[dict[str, Any]] = []
        marker: str | None = None
        seen: set[str] = set()
        for _ in range(_MAX_PAGES):
            request = _wire.list_request(
                self._base,
                obj_type,
                parent_id=parent_id,
                back_ref_id=back_ref_id,
                filters=filters,
                page_limit=self._settings.page_size,
                page_marker=marker,
            )
            page = _wire.list_page(self._read(request, operation), obj_type, detail=True, operation=operation)
            found.extend(page.objects)
            if not page.paged or page.marker is None:
                return found
            if page.marker in seen:
                raise ResponseDecodeError(
                    f"TF answered the {obj_type} list with a page marker it had already given",
                    problems=(f"$.marker: {page.marker!r} repeats (after {len(seen)} pages)",),
                    system=SYSTEM,
                    operation=operation,
                )
            seen.add(page.marker)
            marker = page.marker
        raise ResponseDecodeError(
            f"TF did not end the {obj_type} list within {_MAX_PAGES} pages",
            problems=(f"$.marker: still {marker!r} after {_MAX_PAGES} pages",),
            system=SYSTEM,
            operation=operation,
        )

    def _create(self, obj_type: str, obj_uuid: str, body: dict[str, Any], operation: str) -> str:
        """POST a create; after a lost answer, repeat it only if reading the uuid shows it did not land.

        Returns the uuid TF stored (the client-side one, unless the server chose another).
        """
        request = _wire.create_request(self._base, obj_type, body)
        subject = ObjectRef(type=obj_type, uuid=obj_uuid)

        attempts = 0

        def attempt() -> str:
            nonlocal attempts
            attempts += 1
            try:
                payload = self._exchange(request, operation, subject)
            except ConflictError as exc:
                # A repeat whose first attempt landed after all: TF names our own uuid as taken.
                if (
                    attempts > 1
                    and _quirks.classify(409, exc.detail or "")[1] == "exists"
                    and obj_uuid in (exc.detail or "")
                ):
                    return obj_uuid
                raise
            returned = _wire.created_uuid(payload, obj_type, operation=operation)
            if returned != obj_uuid:
                log.warning("tungsten %s: TF stored uuid %s, not %s", operation, returned, obj_uuid)
            return returned

        def landed() -> str | None:
            try:
                self._exchange(_wire.get_request(self._base, obj_type, obj_uuid), operation, subject)
            except NotFoundError:
                return None
            return obj_uuid

        return self._retry.call_write(attempt, landed=landed, system=SYSTEM, operation=operation)

    def _update(self, obj_type: str, uuid: str, changes: dict[str, Any], operation: str) -> None:
        request = _wire.update_request(self._base, obj_type, uuid, changes)
        self._read(request, operation, subject=ObjectRef(type=obj_type, uuid=uuid))

    def _delete(self, obj_type: str, uuid: str, operation: str) -> None:
        """DELETE; a 404 on a repeated attempt means the first one landed."""
        request = _wire.delete_request(self._base, obj_type, uuid)
        subject = ObjectRef(type=obj_type, uuid=uuid)
        attempts = 0

        def attempt() -> None:
            nonlocal attempts
            attempts += 1
            try:
                self._exchange(request, operation, subject)
            except NotFoundError:
                if attempts == 1:
                    raise

        self._retry.call(attempt, system=SYSTEM, operation=operation)

    def _ref_update(
        self, op: str, obj_type: str, uuid: str, ref: ObjectRef, operation: str, *, attr: Any = None
    ) -> None:
        body = _quirks.ref_update(op, ObjectRef(type=obj_type, uuid=uuid), ref, attr)
        self._read(
            _wire.action_request(self._base, "ref-update", body),
            operation,
            subject=ObjectRef(type=obj_type, uuid=uuid),
        )

    def _read(self, request: _wire.WireRequest, operation: str, *, subject: ObjectRef | None = None) -> Any:
        """An idempotent exchange through the retry policy."""
        return self._retry.call(
            lambda: self._exchange(request, operation, subject), system=SYSTEM, operation=operation
        )

    # ------------------------------------------------------------------------------ internals: HTTP
    def _exchange(self, wire: _wire.WireRequest, operation: str, subject: ObjectRef | None) -> Any:
        """One request with the service account's token; one re-authentication on a 401."""
        for attempt in (1, 2):
            token = self._current_token()
            response = self._send(wire, operation, token=token.issued.value.get_secret_value())
            if response.status_code == httpx.codes.UNAUTHORIZED and attempt == 1:
                log.info("tungsten %s: TF refused the token (401); authenticating again", operation)
                self._drop_token(token)
                continue
            try:
                return _wire.parse_reply(
                    response.status_code,
                    response.headers.get("content-type", ""),
                    response.content,
                    operation=operation,
                    subject=subject,
                )
            except CloudkitError as exc:
                scrub(_quirks.explain_refusal(exc, token.issued.identity), self._secrets())
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _send(self, wire: _wire.WireRequest, operation: str, *, token: str | None) -> httpx.Response:
        headers = {"Accept": "application/json"}
        if token is not None:
            headers["X-Auth-Token"] = token
        request = self._http.build_request(
            wire.method, wire.url, params=list(wire.params) or None, json=wire.body, headers=headers
        )
        log.debug("tungsten %s: %s %s", operation, wire.method, wire.url)
        try:
            with translate_transport_errors(SYSTEM, operation):
                return self._http.send(request)
        except CloudkitError as exc:
            scrub(exc, self._secrets())
            raise

    def _current_token(self) -> _Token:
        with self._lock:
            token = self._token
            if token is None or self._clock() >= token.renew_at:
                token = self._authenticate()
                self._token = token
            return token

    def _drop_token(self, token: _Token) -> None:
        with self._lock:
            if self._token is token:
                self._token = None

    def _authenticate(self) -> _Token:
        """Log in as the service account (called with the lock held), through the retry policy."""
        operation = "authenticate"
        wire = _wire.token_request(self._settings)

        def once() -> KeystoneToken:
            response = self._send(wire, operation, token=None)
            try:
                return read_token(response, system=SYSTEM, operation=operation)
            except CloudkitError as exc:
                scrub(exc, self._secrets())
                raise

        issued = self._retry.call(once, system=SYSTEM, operation=operation)
        lifetime = issued.lifetime if issued.lifetime is not None else _UNKNOWN_LIFETIME
        margin = min(self._settings.token_renew_margin, lifetime / 2)
        log.debug(
            "tungsten: authenticated as %s (roles %s)", issued.identity.user_name, issued.identity.roles
        )
        return _Token(issued=issued, renew_at=self._clock() + lifetime - margin)

    def _secrets(self) -> list[str]:
        settings = self._settings
        found = [
            secret.get_secret_value()
            for secret in (settings.password, settings.application_credential_secret)
            if secret is not None
        ]
        if self._token is not None:
            found.append(self._token.issued.value.get_secret_value())
        return found


def _project_uuid(project_id: str | None, operation: str) -> str:
    """A project id (Keystone's 32 hex digits or TF's dashed uuid) in TF's dashed form."""
    try:
        return str(uuid_lib.UUID(str(project_id)))
    except ValueError:
        raise InvalidArgumentError(
            f"project_id must be a Keystone project id or TF project uuid, got {project_id!r}",
            system=SYSTEM,
            operation=operation,
        ) from None
