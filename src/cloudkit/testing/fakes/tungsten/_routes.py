"""The Tungsten fake's routes (built once, at import) and its request pipeline.

A request is authenticated as keystonemiddleware does (only ``/`` and ``/documentation`` need no
token), refused in cloud-admin mode without role ``admin``, checked against the api-access-list and
only then routed: contrail-api answers 403 before 404, and unknown paths still meet the rbac rules.

Routes (``<type>`` is hyphenated; the collection is always the naive ``<type>s``)::

    GET  /                              home page (no token needed)
    GET|POST /<type>s                   list (see `_lists`), create
    GET|PUT|DELETE /<type>/<uuid>       read, update, delete
    POST /fqname-to-id  /id-to-fqname  /ref-update  /ref-relax-for-delete  /chown  /chmod
    GET|PUT /aaa-mode
    POST /neutron/network  /neutron/router      vnc_openstack's proxy: READ and READALL only
    GET  /analytics/uves/vrouters  /analytics/uves/vrouter/<node>   analytics-api's vRouter UVEs
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from cloudkit.testing.fakes._kit import Reply, Request, RouteMiss, Router
from cloudkit.testing.fakes.tungsten import _actions as actions
from cloudkit.testing.fakes.tungsten import _analytics as analytics
from cloudkit.testing.fakes.tungsten import _crud as crud
from cloudkit.testing.fakes.tungsten import _hooks as hooks
from cloudkit.testing.fakes.tungsten import _lists as lists
from cloudkit.testing.fakes.tungsten import _rbac as rbac
from cloudkit.testing.fakes.tungsten._keystone_client import KeystoneUnavailableError
from cloudkit.testing.fakes.tungsten._rbac import Caller
from cloudkit.testing.fakes.tungsten._schema import BOTTLE_TEXT, KINDS, NEUTRON, PLURALS, Json, TfError
from cloudkit.testing.fakes.tungsten._store import Store

Handler = Callable[[Store, Request, Caller, object, Mapping[str, str]], Reply]
"""A route's handler: the state, the request, who sent it, its JSON body (POST/PUT) and path parameters."""

ROUTER: Router[Handler] = Router()

_EMPTY = Reply(200, b"", BOTTLE_TEXT)  # what bottle sends for a handler that returns nothing


def answer(st: Store, request: Request) -> tuple[Reply, Caller | None]:
    """The answer to one request and the caller it was authorised as (None: no identity resolved)."""
    caller: Caller | None = None
    try:
        if request.path == "/" or request.path.startswith("/documentation"):
            caller = Caller(None, admin=False, project_id=None)  # the whitelist: no token needed
            return _route(st, request, Caller(None, admin=True, project_id=None)), caller
        try:
            caller = rbac.authenticate(st, request)
        except KeystoneUnavailableError:
            # assumption: keystonemiddleware's answer when it cannot reach Keystone
            raise TfError(
                503, "The server is currently unavailable. Please try again at a later time."
            ) from None
        ident = caller.identity
        if ident is not None and ident.project_id and ident.project:
            hooks.sync_project(st, ident.project_id, ident.project)
        rbac.gate(st, caller)
        return _route(st, request, caller), caller
    except TfError as err:
        return err.reply(), caller


def _route(st: Store, req: Request, caller: Caller) -> Reply:
    parts = [p for p in req.path.split("/") if p]
    if not parts and req.method in ("GET", "HEAD"):
        return Reply.json(200, actions.home(st))
    first = parts[0] if parts else ""
    if first == "analytics":  # contrail-analytics-api's own paths: no api-access-list there
        return analytics.answer(st, req, caller)
    body = _body(req) if req.method in ("POST", "PUT") else None
    rbac.api_rules(st, req, caller, PLURALS.get(first, first) or "/", body)
    try:
        handler, params = ROUTER.resolve(req.method, req.path)
    except RouteMiss as miss:
        if miss.status == 405 and first != "neutron":  # noqa: PLR2004 - vnc_openstack's paths are POST or 404
            raise TfError(405, "Method not allowed.") from None
        raise TfError(404, f"Not found: {req.raw_path!r}") from None
    return handler(st, req, caller, body, params)


def _body(req: Request) -> object:
    try:
        return req.json()
    except ValueError:
        raise TfError(400, "Invalid JSON in request body") from None  # assumption: bottle's text


def _json_object(body: object) -> Json:
    if not isinstance(body, dict):
        raise TfError(400, "Bad Request, body must be a JSON object")  # assumption
    return body


# ================================================================================== the table
def _collection(kind: str) -> tuple[Handler, Handler]:
    def list_(st: Store, req: Request, caller: Caller, _body: object, _params: Mapping[str, str]) -> Reply:
        return Reply.json(200, lists.list_collection(st, req, caller, kind))

    def create(st: Store, _req: Request, caller: Caller, body: object, _params: Mapping[str, str]) -> Reply:
        return Reply.json(200, crud.create(st, caller, kind, body))

    return list_, create


def _resource(kind: str) -> tuple[Handler, Handler, Handler]:
    def read(st: Store, req: Request, caller: Caller, _body: object, params: Mapping[str, str]) -> Reply:
        return Reply.json(200, {kind: crud.read(st, req, caller, kind, params["uuid"])})

    def update(st: Store, _req: Request, caller: Caller, body: object, params: Mapping[str, str]) -> Reply:
        updated = crud.update(st, caller, kind, params["uuid"], body)
        return _EMPTY if updated is None else Reply.json(200, updated)

    def delete(st: Store, _req: Request, caller: Caller, _body: object, params: Mapping[str, str]) -> Reply:
        crud.delete(st, caller, kind, params["uuid"])
        return _EMPTY

    return read, update, delete


def _action(run: Callable[[Store, Caller, Json], Json]) -> Handler:
    def handle(st: Store, _req: Request, caller: Caller, body: object, _params: Mapping[str, str]) -> Reply:
        return Reply.json(200, run(st, caller, _json_object(body)))

    return handle


def _neutron(resource: str) -> Handler:
    def handle(st: Store, _req: Request, caller: Caller, body: object, _params: Mapping[str, str]) -> Reply:
        return actions.neutron(st, caller, resource, body)

    return handle


def _aaa_get(st: Store, _req: Request, _caller: Caller, _body: object, _params: Mapping[str, str]) -> Reply:
    return Reply.json(200, actions.aaa_mode_get(st))


def _aaa_put(st: Store, _req: Request, caller: Caller, body: object, _params: Mapping[str, str]) -> Reply:
    return Reply.json(200, actions.aaa_mode_put(st, caller, body))


def _build() -> None:
    for kind in KINDS:
        list_, create = _collection(kind)
        ROUTER.add("GET", f"/{kind}s", list_)
        ROUTER.add("POST", f"/{kind}s", create)
        read, update, delete = _resource(kind)
        ROUTER.add("GET", f"/{kind}/{{uuid}}", read)
        ROUTER.add("PUT", f"/{kind}/{{uuid}}", update)
        ROUTER.add("DELETE", f"/{kind}/{{uuid}}", delete)
    for path, run in (
        ("/fqname-to-id", actions.fq_name_to_id),
        ("/id-to-fqname", actions.id_to_fq_name),
        ("/ref-update", actions.ref_update),
        ("/ref-relax-for-delete", actions.ref_relax),
        ("/chown", actions.chown),
        ("/chmod", actions.chmod),
    ):
        ROUTER.add("POST", path, _action(run))
    ROUTER.add("GET", "/aaa-mode", _aaa_get)
    ROUTER.add("PUT", "/aaa-mode", _aaa_put)
    for resource in NEUTRON:
        ROUTER.add("POST", f"/neutron/{resource}", _neutron(resource))


_build()
