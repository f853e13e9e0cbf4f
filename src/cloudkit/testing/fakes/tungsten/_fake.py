"""`TungstenFake`: the facade over the store, the routes and the shared fake kit."""

from __future__ import annotations

import dataclasses
import http
import re
import threading
import time
from collections.abc import Callable, Iterable
from urllib.parse import unquote

from cloudkit.testing.fakes._kit import Call, Fault, FaultKind, LoopbackFake, Reply, Request
from cloudkit.testing.fakes.tungsten import _actions as actions
from cloudkit.testing.fakes.tungsten import _analytics as analytics
from cloudkit.testing.fakes.tungsten import _hooks as hooks
from cloudkit.testing.fakes.tungsten import _rbac as rbac
from cloudkit.testing.fakes.tungsten import _routes as routes
from cloudkit.testing.fakes.tungsten._keystone_client import KeystoneClient
from cloudkit.testing.fakes.tungsten._rbac import Caller, TungstenScopeCapture, parse_rule
from cloudkit.testing.fakes.tungsten._schema import AAA_MODES, BOTTLE_TEXT, KINDS, AaaMode, Json, TfError
from cloudkit.testing.fakes.tungsten._store import Options, Store

_MASK = "***"


class TungstenFake(LoopbackFake):
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

    Analytics: `set_vrouter` publishes a vRouter node's UVE, served at ``/analytics/uves/vrouters`` and
    ``/analytics/uves/vrouter/<node>`` on this same port (real TF serves them from contrail-analytics-api,
    port 8081), with the node's kernel at ``VrouterAgent.kernel_version`` (an assumption: TF's own UVE
    has no kernel; quirk ``tungsten.vrouter-kernel``).

    ``max_page_size`` caps the objects of one page of a paginated list below the ``page_limit`` a
    client asks for (None: as asked, contrail-api's own behaviour); the answer still carries the
    marker of the next page, so a client that follows markers reads everything.

    Every `Call` carries ``service`` ``"tungsten"`` (``"neutron"`` for ``/neutron/...``), ``token``
    (``"***"`` when one was sent), the identity Keystone resolved it to (``user``, ``project``,
    ``project_id``, ``roles``) and ``note`` (why it captured the integration identity's scope).
    Injected ``error`` faults answer as contrail-api's errors do: plain text with bottle's
    ``text/html`` content type (the status's reason phrase unless a message or body is given).

    Example:
        >>> import httpx
        >>> from cloudkit.testing.fakes import OpenStackFake
        >>> from cloudkit.testing.fakes.tungsten import Fault
        >>> with OpenStackFake() as keystone, TungstenFake(keystone_url=keystone.auth_url) as tf:
        ...     with httpx.Client(trust_env=False) as http:
        ...         login = keystone.admin.token_request()
        ...         issued = http.post(f"{keystone.auth_url}/auth/tokens", json=login)
        ...         headers = {"X-Auth-Token": issued.headers["X-Subject-Token"]}
        ...         ipams = http.get(f"{tf.url}/network-ipams", headers=headers).json()
        ...         tf.inject(Fault.server_error(503, "No connection to zookeeper."), path="/network-ipams")
        ...         down = http.get(f"{tf.url}/network-ipams", headers=headers)
        ...         denied = http.get(f"{tf.url}/network-ipams")
        >>> [i["fq_name"] for i in ipams["network-ipams"]]
        [['default-domain', 'default-project', 'default-network-ipam']]
        >>> down.status_code, down.text, tf.calls[1].fault, tf.calls[1].user
        (503, 'No connection to zookeeper.', 'error', None)
        >>> denied.status_code, tf.calls[-1].token, tf.calls[0].user, tf.calls[0].service
        (401, None, 'admin', 'tungsten')
    """

    _what = "tungsten fake"

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
        max_page_size: int | None = None,
    ) -> None:
        """Configure the fake; nothing listens until `start`.

        ``clock`` gives epoch seconds; a cached token is used until its ``expires_at`` passes on
        that clock or ``token_cache_seconds`` (keystonemiddleware's ``token_cache_time``) have gone
        by, then Keystone is asked again.

        Example:
            >>> TungstenFake(keystone_url="http://127.0.0.1:5000/identity/v3").aaa_mode
            'cloud-admin'
        """
        super().__init__(port=port)
        _check_mode(aaa_mode)
        _check_page_size(max_page_size)
        self._initial_mode: AaaMode = aaa_mode
        self._initial_page_size = max_page_size
        self._options = Options(
            keystone_admin=keystone_admin,
            seed=seed,
            capture_scope=capture_scope,
            token_cache_seconds=token_cache_seconds,
            rbac_rules=tuple(parse_rule(r) for r in rbac_rules),
        )
        self._keystone = KeystoneClient(keystone_url, keystone_admin)
        self._clock = clock
        self._answered = threading.local()  # the caller and note of the request this thread answered
        self._tf = self._new_store()

    def _new_store(self) -> Store:
        return Store(
            self._options,
            keystone=self._keystone,
            clock=self._clock,
            aaa_mode=self._initial_mode,
            base_url=lambda: self.base_url,
            max_page_size=self._initial_page_size,
        )

    # ------------------------------------------------------------------------------ switches
    @property
    def aaa_mode(self) -> AaaMode:
        """The authorisation mode now in force (also changed by ``PUT /aaa-mode``; `reset` restores it).

        Example:
            >>> fake = TungstenFake(keystone_url="http://127.0.0.1:1/v3", aaa_mode="rbac")
            >>> fake.aaa_mode = "no-auth"
            >>> fake.reset()
            >>> fake.aaa_mode
            'rbac'
        """
        return self._tf.aaa_mode

    @aaa_mode.setter
    def aaa_mode(self, value: AaaMode) -> None:
        _check_mode(value)
        with self._lock:
            self._tf.aaa_mode = value

    @property
    def max_page_size(self) -> int | None:
        """The most objects one page of a paginated list holds (None: what ``page_limit`` asks).

        Example:
            >>> fake = TungstenFake(keystone_url="http://127.0.0.1:1/v3")
            >>> fake.max_page_size = 2
            >>> fake.max_page_size, (fake.reset(), fake.max_page_size)[1]
            (2, None)
        """
        return self._tf.max_page_size

    @max_page_size.setter
    def max_page_size(self, value: int | None) -> None:
        _check_page_size(value)
        with self._lock:
            self._tf.max_page_size = value

    # ------------------------------------------------------------------------------ seeding
    def sync_project(self, project_id: str, name: str) -> str:
        """The TF project of Keystone project ``name`` (``project_id``, hex), made as vnc_openstack's sync
        makes it (with its ``default`` security group) if missing; its TF uuid (the id, dashed).

        contrail-api syncs on demand, when a project is first read; this does it now, without Keystone.

        Example:
            >>> fake = TungstenFake(keystone_url="http://127.0.0.1:1/v3")
            >>> fake.sync_project("1651cf3e08b35e16b7847376503c81c8", "alice")
            '1651cf3e-08b3-5e16-b784-7376503c81c8'
            >>> fake.get("project", "1651cf3e-08b3-5e16-b784-7376503c81c8")["fq_name"]
            ['default-domain', 'alice']
        """  # noqa: D205 (two-line summary)
        with self._lock:
            return hooks.sync_project(self._tf, project_id, name).uuid

    # ------------------------------------------------------------------------------ peeking
    def objects(self, type_name: str) -> list[Json]:
        """Every object of a type as an admin ``GET`` shows it (no type key), oldest first.

        Example:
            >>> fake = TungstenFake(keystone_url="http://127.0.0.1:1/v3")
            >>> [o["name"] for o in fake.objects("virtual-network")]
            ['default-virtual-network', 'ip-fabric', '__link_local__']
        """
        if type_name not in KINDS:
            raise ValueError(f"unknown type {type_name!r}; the fake knows {sorted(KINDS)}")
        with self._lock:
            return [self._tf.view(o) for o in self._tf.of_kind(type_name)]

    def get(self, type_name: str, uuid: str) -> Json | None:
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

    def set_vrouter(
        self,
        name: str,
        *,
        kernel: str | None,
        build_version: str = "21.12",
        platform: str = "HOST",
    ) -> None:
        """Publish (or replace) the analytics UVE of a vRouter node, with the kernel it runs.

        ``kernel=None`` publishes a UVE without a kernel, as TF's own agent sends it (no such field);
        the kernel otherwise sits at ``VrouterAgent.kernel_version`` (an assumption: see
        quirk ``tungsten.vrouter-kernel``). Served at ``/analytics/uves/vrouters`` and
        ``/analytics/uves/vrouter/<name>``; `reset` forgets every node.

        Example:
            >>> fake = TungstenFake(keystone_url="http://127.0.0.1:1/v3")
            >>> fake.set_vrouter("cmp-1", kernel="5.4.0-92-generic")
            >>> fake.vrouters()
            ['cmp-1']
            >>> fake.set_vrouter("", kernel=None)
            Traceback (most recent call last):
            ...
            ValueError: a vRouter node needs a name
        """
        if not name:
            raise ValueError("a vRouter node needs a name")
        uve = analytics.vrouter_uve(kernel=kernel, build_version=build_version, platform=platform)
        with self._lock:
            self._tf.vrouters[name] = uve

    def vrouters(self) -> list[str]:
        """The vRouter nodes the analytics API lists, sorted.

        Example:
            >>> TungstenFake(keystone_url="http://127.0.0.1:1/v3").vrouters()
            []
        """
        with self._lock:
            return sorted(self._tf.vrouters)

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
                return actions.guest_dhcp_options(self._tf, vmi_uuid)
            except TfError as err:
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

    # ------------------------------------------------------------------------------ kit hooks
    def _classify(self, request: Request) -> Request:
        """Paths are percent-decoded as bottle routes them; ``/neutron/...`` is the Neutron proxy."""
        path = re.sub(r"/+", "/", unquote(request.raw_path)).rstrip("/") or "/"
        service = "neutron" if path.startswith("/neutron/") else "tungsten"
        return dataclasses.replace(super()._classify(request), path=path, service=service)

    def _answer(self, request: Request) -> Reply:
        reply, caller = routes.answer(self._tf, request)
        note = rbac.detect_capture(self._tf, request, caller, reply.status)
        self._answered.last = (request, caller, note)
        return reply

    def _fault_reply(self, fault: Fault, request: Request) -> Reply:  # noqa: ARG002 - a hook
        """contrail-api's error answer: plain text sent with bottle's content type (a JSON body as given)."""
        status = fault.status or 500
        if fault.body is not None and fault.content_type == "application/json":
            return Reply(status, fault.body, fault.content_type)
        if fault.body is not None:
            return Reply(status, fault.body, BOTTLE_TEXT)
        return Reply(status, (fault.message or _phrase(status)).encode(), BOTTLE_TEXT)

    def _record(self, request: Request, reply: Reply | None, fault: FaultKind | None) -> Call:
        answered = getattr(self._answered, "last", None)
        self._answered.last = None
        caller: Caller | None = None
        note: str | None = None
        if answered is not None and answered[0] is request:
            _request, caller, note = answered
        ident = caller.identity if caller else None
        return dataclasses.replace(
            super()._record(request, reply, fault),
            token=_MASK if request.headers.get("x-auth-token") else None,
            user=ident.user if ident else None,
            project=ident.project if ident else None,
            project_id=ident.project_id if ident else None,
            roles=ident.roles if ident else (),
            note=note,
        )

    def _reset_state(self) -> None:
        """Back to the seeded state, the first ``aaa_mode`` and ``max_page_size``; tokens and captures go."""
        self._tf = self._new_store()

    def _after_stop(self) -> None:
        with self._lock:
            self._keystone.close()


def _check_mode(mode: object) -> None:
    if mode not in AAA_MODES:
        raise ValueError(f"aaa_mode must be one of {AAA_MODES}, got {mode!r}")


def _check_page_size(size: int | None) -> None:
    if size is not None and size < 1:
        raise ValueError(f"max_page_size must be at least 1 (or None), got {size}")


def _phrase(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return f"{status} error"
