"""Glance schemas, metadata definitions (metadefs) and tasks of the OpenStack fake.

The schema documents are a real Glance 33's, as its ``/v2/schemas/...`` served them
(``_glance_schemas.json``). Metadefs follow Glance's default policy: any caller reads the public
namespaces and its own project's, only an admin writes. Tasks (``/v2/tasks``) are admin-only; a task
the fake cannot carry out (an import from a URL: the fake reaches no outside network) ends in
``failure`` as it does on a Glance that cannot reach the URL.
"""

from __future__ import annotations

import importlib.resources
import ipaddress
import json
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote, urlencode, urlsplit

from cloudkit.testing.fakes._kit import Reply, Request
from cloudkit.testing.fakes.openstack._cloud import Cloud, Ctx, Routes
from cloudkit.testing.fakes.openstack._state import GlanceTask, Json, MetadefNamespace
from cloudkit.testing.fakes.openstack._wire import STATUS_GOOD, ApiError, as_bool, as_int, body_of, empty, iso

PREFIXES = ("/schemas", "/metadefs", "/tasks")
"""The paths below ``/image/v2`` this module answers."""

ROUTES = Routes()
_LIMIT_DEFAULT = 25
_NS = "/metadefs/namespaces/{ns}"
_READ_ONLY = ("self", "schema", "created_at", "updated_at")  # checked in this order, as Glance does
_PROPERTY_TYPES = ("array", "boolean", "integer", "number", "object", "string", None)
_TASK_TYPES = ("import", "api_image_import", "location_import")
_TASK_TTL = 48 * 3600.0  # Glance's task_time_to_live default


def _schemas() -> dict[str, Json]:
    text = importlib.resources.files(__package__).joinpath("_glance_schemas.json").read_text()
    schemas: dict[str, Json] = json.loads(text)
    return schemas


_SCHEMAS = _schemas()


def importable_uri(uri: object) -> bool:
    """Glance's import filtering (``validate_uri``) with its defaults.

    http(s) only, ports 80 and 443 only, and no loopback or link-local address. A real Glance also
    resolves a host name (and refuses one that does not resolve); the fake does not.
    """
    if not isinstance(uri, str):
        return False
    parts = urlsplit(uri)
    try:
        port = parts.port
    except ValueError:
        return False
    if parts.scheme not in ("http", "https") or not parts.hostname or port not in (None, 80, 443):
        return False
    try:
        address = ipaddress.ip_address(parts.hostname)
    except ValueError:
        return True
    return not (address.is_loopback or address.is_link_local)


def _when(cloud: Cloud, t: float) -> str:
    return iso(cloud.wall(t), style="nova")


def _admin(ctx: Ctx, action: str) -> None:
    if not ctx.is_admin:
        raise ApiError(403, f"You are not authorized to complete {action} action.")


def _schema_error(schema: str, problem: str) -> ApiError:
    # assumption: the first line of jsonschema's message; Glance adds the failing schema after it
    return ApiError(400, f"Provided object does not match schema '{schema}': {problem}")


def _required(body: Json, schema: str, *names: str) -> None:
    for name in names:
        if name not in body:
            raise _schema_error(schema, f"'{name}' is a required property")
    for name in ("name", "namespace"):
        if name in body and not isinstance(body[name], str):
            raise _schema_error(schema, f"{body[name]!r} is not of type 'string'")


def _writable(body: Json) -> None:
    for key in _READ_ONLY:
        if key in body:
            raise ApiError(403, f"Attribute '{key}' is read-only.")


# ================================================================================== schemas
@ROUTES.route("GET", "/schemas/{name:path}")
def _schema(_cloud: Cloud, _req: Request, _ctx: Ctx, params: dict[str, str]) -> Reply:
    schema = _SCHEMAS.get(params["name"])
    if schema is None:
        raise ApiError(404, "The resource could not be found.")
    return Reply.json(STATUS_GOOD, schema)


# ================================================================================== namespaces
def _namespace(cloud: Cloud, ctx: Ctx, name: str) -> MetadefNamespace:
    namespace = cloud.state.metadef_namespaces.get(name)
    if namespace is None:
        raise ApiError(404, f"Metadata definition namespace={name} was not found.")
    if not (ctx.is_admin or namespace.visibility == "public" or namespace.owner == ctx.project_id):
        raise ApiError(404, "The resource could not be found.")
    return namespace


def _association_view(cloud: Cloud, association: Json) -> Json:
    doc = {k: v for k, v in association.items() if k not in ("created", "updated")}
    return doc | {
        "created_at": _when(cloud, association["created"]),
        "updated_at": _when(cloud, association["updated"]),
    }


def _object_view(cloud: Cloud, namespace: MetadefNamespace, obj: Json, *, given: Json | None = None) -> Json:
    """An object as Glance shows it; ``given``: answer only what the request named (create, update)."""
    shown = given if given is not None else {"required": [], "properties": {}, **obj}
    doc: Json = {"name": obj["name"]}
    for key in ("required", "description", "properties"):
        if key in shown:
            doc[key] = obj.get(key, shown[key])
    doc |= {
        "created_at": _when(cloud, obj["created"]),
        "updated_at": _when(cloud, obj["updated"]),
        "self": f"/v2/metadefs/namespaces/{namespace.namespace}/objects/{obj['name']}",
        "schema": "/v2/schemas/metadefs/object",
    }
    return doc


def _namespace_view(cloud: Cloud, namespace: MetadefNamespace, *, full: bool) -> Json:
    doc: Json = {"namespace": namespace.namespace}
    if namespace.display_name is not None:
        doc["display_name"] = namespace.display_name
    if namespace.description is not None:
        doc["description"] = namespace.description
    doc |= {
        "visibility": namespace.visibility,
        "protected": namespace.protected,
        "owner": namespace.owner,
        "created_at": _when(cloud, namespace.created),
        "updated_at": _when(cloud, namespace.updated),
    }
    if namespace.resource_types:
        doc["resource_type_associations"] = [
            _association_view(cloud, a) for a in namespace.resource_types.values()
        ]
    if full and namespace.properties:
        doc["properties"] = {
            name: {k: v for k, v in prop.items() if k != "name"}
            for name, prop in namespace.properties.items()
        }
    if full and namespace.objects:
        doc["objects"] = [_object_view(cloud, namespace, o) for o in namespace.objects.values()]
    if full and namespace.tags:
        doc["tags"] = [{"name": name} for name in reversed(namespace.tags)]
    doc |= {
        "self": f"/v2/metadefs/namespaces/{namespace.namespace}",
        "schema": "/v2/schemas/metadefs/namespace",
    }
    return doc


@ROUTES.route("GET", "/metadefs/namespaces")
def _list_namespaces(cloud: Cloud, req: Request, ctx: Ctx, _params: dict[str, str]) -> Reply:
    visibility = req.arg("visibility")
    wanted_types = [t for t in (req.arg("resource_types") or "").split(",") if t]
    namespaces = [
        n
        for n in sorted(cloud.state.metadef_namespaces.values(), key=lambda n: -n.seq)
        if (ctx.is_admin or n.visibility == "public" or n.owner == ctx.project_id)
        and visibility in (None, n.visibility)
        and (not wanted_types or any(t in n.resource_types for t in wanted_types))
    ]
    return _page(
        req, "namespaces", namespaces, lambda n: n.namespace, lambda n: _namespace_view(cloud, n, full=False)
    )


def _page(
    req: Request, key: str, items: list[Any], ident: Callable[[Any], str], view: Callable[[Any], Json]
) -> Reply:
    """A Glance list page: ``first``, ``schema`` and, after a full page, ``next`` (as for images)."""
    limit_text = req.arg("limit")
    limit = _LIMIT_DEFAULT if limit_text is None else as_int(limit_text, "limit")
    if limit < 0:
        raise ApiError(400, "limit param must be positive")
    marker = req.arg("marker")
    if marker is not None:
        index = next((n for n, item in enumerate(items) if ident(item) == marker), None)
        if index is None:
            raise ApiError(400, f"Invalid marker {marker}")  # assumption: Glance's text
        items = items[index + 1 :]
    chosen = items[:limit]
    base = "/v2" + req.path.removeprefix("/image/v2")
    params = [(k, v[-1]) for k, v in req.query.items() if k != "marker"]
    query = urlencode(params)
    schema = {"namespaces": "/v2/schemas/metadefs/namespaces", "tasks": "/v2/schemas/tasks"}[key]
    doc: Json = {
        key: [view(item) for item in chosen],
        "first": base + (f"?{query}" if query else ""),
        "schema": schema,
    }
    if chosen and len(chosen) == limit:
        doc["next"] = f"{base}?" + urlencode([*params, ("marker", ident(chosen[-1]))])
    return Reply.json(STATUS_GOOD, doc)


def _namespace_fields(ctx: Ctx, body: Json) -> Json:
    """The namespace's own fields from a create or update body, checked against Glance's schema."""
    _writable(body)
    _required(body, "namespace", "namespace")
    visibility = body.get("visibility") or "private"
    if visibility not in ("public", "private"):
        raise _schema_error("namespace", f"{visibility!r} is not one of ['public', 'private']")
    protected = body.get("protected") or False
    if not isinstance(protected, bool):
        raise _schema_error("namespace", f"{protected!r} is not of type 'boolean'")
    return {
        "namespace": body["namespace"],
        "display_name": body.get("display_name"),
        "description": body.get("description"),
        "visibility": visibility,
        "protected": protected,
        "owner": body.get("owner") or ctx.project_id,
    }


@ROUTES.route("POST", "/metadefs/namespaces")
def _create_namespace(cloud: Cloud, req: Request, ctx: Ctx, _params: dict[str, str]) -> Reply:
    _admin(ctx, "add_metadef_namespace")
    body = body_of(req)
    fields = _namespace_fields(ctx, body)
    name = fields["namespace"]
    if name in cloud.state.metadef_namespaces:
        raise ApiError(409, f"The metadata definition namespace={name} already exists.")
    now = cloud.now()
    namespace = MetadefNamespace(
        owner=fields.pop("owner"), seq=cloud.state.next_seq(), created=now, updated=now, **fields
    )
    for association in body.get("resource_type_associations") or []:
        _associate(cloud, namespace, association)
    for prop_name, prop in (body.get("properties") or {}).items():
        namespace.properties[prop_name] = _ordered({"name": prop_name, **prop})
    for obj in body.get("objects") or []:
        namespace.objects[obj["name"]] = {**_object_fields(obj), "created": now, "updated": now}
    for tag in body.get("tags") or []:
        namespace.tags[tag["name"]] = (now, now)
    cloud.state.metadef_namespaces[name] = namespace
    doc = {
        k: v
        for k, v in _namespace_view(cloud, namespace, full=False).items()
        if k != "resource_type_associations"
    }
    nested: Json = {
        k: body[k] for k in ("resource_type_associations", "properties", "objects", "tags") if k in body
    }
    doc = {
        **{k: v for k, v in doc.items() if k not in ("self", "schema")},
        **nested,
        "self": doc["self"],
        "schema": doc["schema"],
    }
    headers = [("Location", f"{cloud.base_url}/image/v2/metadefs/namespaces/{name}")]
    return Reply.json(201, doc, headers)


@ROUTES.route("GET", _NS)
def _get_namespace(cloud: Cloud, _req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    return Reply.json(STATUS_GOOD, _namespace_view(cloud, _namespace(cloud, ctx, params["ns"]), full=True))


@ROUTES.route("PUT", _NS)
def _update_namespace(cloud: Cloud, req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    namespace = _namespace(cloud, ctx, params["ns"])
    body = body_of(req)
    fields = _namespace_fields(ctx, body)
    _admin(ctx, "modify_metadef_namespace")
    new_name = fields["namespace"]
    if new_name != namespace.namespace and new_name in cloud.state.metadef_namespaces:
        raise ApiError(409, f"The metadata definition namespace={new_name} already exists.")
    # Glance replaces every field: what the body leaves out goes back to its create default.
    for key, value in fields.items():
        setattr(namespace, key, value)
    namespace.updated = cloud.now()
    namespaces = cloud.state.metadef_namespaces
    namespaces.pop(params["ns"])
    namespaces[new_name] = namespace
    return Reply.json(STATUS_GOOD, _namespace_view(cloud, namespace, full=False))


@ROUTES.route("DELETE", _NS)
def _delete_namespace(cloud: Cloud, _req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    namespace = _namespace(cloud, ctx, params["ns"])
    _admin(ctx, "delete_metadef_namespace")
    if namespace.protected:
        raise ApiError(
            403, f"Metadata definition namespace {namespace.namespace} is protected and cannot be deleted."
        )
    del cloud.state.metadef_namespaces[namespace.namespace]
    return empty(204)


# ================================================================================== objects
def _object(namespace: MetadefNamespace, name: str) -> Json:
    obj = namespace.objects.get(name)
    if obj is None:
        raise ApiError(404, f"Could not find metadata object {name}")
    return obj


def _object_fields(body: Json) -> Json:
    _writable(body)
    _required(body, "object", "name")
    fields: Json = {k: body[k] for k in ("name", "description", "required", "properties") if k in body}
    if isinstance(fields.get("properties"), dict):
        fields["properties"] = {name: _ordered(prop) for name, prop in fields["properties"].items()}
    return fields


@ROUTES.route("GET", f"{_NS}/objects")
def _list_objects(cloud: Cloud, _req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    namespace = _namespace(cloud, ctx, params["ns"])
    views = [_object_view(cloud, namespace, o) for o in namespace.objects.values()]
    return Reply.json(STATUS_GOOD, {"objects": views, "schema": "v2/schemas/metadefs/objects"})  # sic: no "/"


@ROUTES.route("POST", f"{_NS}/objects")
def _create_object(cloud: Cloud, req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    namespace = _namespace(cloud, ctx, params["ns"])
    _admin(ctx, "add_metadef_object")
    fields = _object_fields(body_of(req))
    name = fields["name"]
    if name in namespace.objects:
        raise ApiError(
            409,
            f"A metadata definition object with name={name} already exists in "
            f"namespace={namespace.namespace}.",
        )
    now = cloud.now()
    obj = namespace.objects[name] = {**fields, "created": now, "updated": now}
    return Reply.json(201, _object_view(cloud, namespace, obj, given=fields))


@ROUTES.route("GET", f"{_NS}/objects/{{name}}")
def _get_object(cloud: Cloud, _req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    namespace = _namespace(cloud, ctx, params["ns"])
    return Reply.json(
        STATUS_GOOD, _object_view(cloud, namespace, _object(namespace, unquote(params["name"])))
    )


@ROUTES.route("PUT", f"{_NS}/objects/{{name}}")
def _update_object(cloud: Cloud, req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    namespace = _namespace(cloud, ctx, params["ns"])
    old = _object(namespace, unquote(params["name"]))
    _admin(ctx, "modify_metadef_object")
    fields = _object_fields(body_of(req))
    if fields["name"] != old["name"] and fields["name"] in namespace.objects:
        raise ApiError(
            409,
            f"A metadata definition object with name={fields['name']} already exists in "
            f"namespace={namespace.namespace}.",
        )
    del namespace.objects[old["name"]]
    obj = namespace.objects[fields["name"]] = {**fields, "created": old["created"], "updated": cloud.now()}
    return Reply.json(STATUS_GOOD, _object_view(cloud, namespace, obj, given=fields))


@ROUTES.route("DELETE", f"{_NS}/objects/{{name}}")
def _delete_object(cloud: Cloud, _req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    namespace = _namespace(cloud, ctx, params["ns"])
    obj = _object(namespace, unquote(params["name"]))
    _admin(ctx, "delete_metadef_object")
    del namespace.objects[obj["name"]]
    return empty(204)


@ROUTES.route("DELETE", f"{_NS}/objects")
def _delete_objects(cloud: Cloud, _req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    namespace = _namespace(cloud, ctx, params["ns"])
    _admin(ctx, "delete_metadef_object")
    namespace.objects.clear()
    return empty(204)


# ================================================================================== properties
def _property(namespace: MetadefNamespace, name: str) -> Json:
    prop = namespace.properties.get(name)
    if prop is None:
        raise ApiError(404, f"Could not find property {name}")
    return prop


def _property_fields(body: Json) -> Json:
    _required(body, "property", "name", "title", "type")
    if body["type"] not in _PROPERTY_TYPES:
        raise _schema_error("property", f"{body['type']!r} is not one of {list(_PROPERTY_TYPES)}")
    return _ordered(body)


def _ordered(prop: Json) -> Json:
    """A property document in Glance's order (name, type, title, description, then the rest)."""
    order = ("name", "type", "title", "description")
    return {**{k: prop[k] for k in order if k in prop}, **{k: v for k, v in prop.items() if k not in order}}


@ROUTES.route("GET", f"{_NS}/properties")
def _list_properties(cloud: Cloud, _req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    namespace = _namespace(cloud, ctx, params["ns"])
    return Reply.json(STATUS_GOOD, {"properties": dict(namespace.properties)})


@ROUTES.route("POST", f"{_NS}/properties")
def _create_property(cloud: Cloud, req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    namespace = _namespace(cloud, ctx, params["ns"])
    _admin(ctx, "add_metadef_property")
    prop = _property_fields(body_of(req))
    if prop["name"] in namespace.properties:
        raise ApiError(
            409,
            f"A metadata definition property with name={prop['name']} already exists in "
            f"namespace={namespace.namespace}.",
        )
    namespace.properties[prop["name"]] = prop
    return Reply.json(201, prop)


@ROUTES.route("GET", f"{_NS}/properties/{{name}}")
def _get_property(cloud: Cloud, _req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    namespace = _namespace(cloud, ctx, params["ns"])
    return Reply.json(STATUS_GOOD, _property(namespace, unquote(params["name"])))


@ROUTES.route("PUT", f"{_NS}/properties/{{name}}")
def _update_property(cloud: Cloud, req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    namespace = _namespace(cloud, ctx, params["ns"])
    old = _property(namespace, unquote(params["name"]))
    _admin(ctx, "modify_metadef_property")
    prop = _property_fields(body_of(req))
    if prop["name"] != old["name"] and prop["name"] in namespace.properties:
        raise ApiError(
            409,
            f"A metadata definition property with name={prop['name']} already exists in "
            f"namespace={namespace.namespace}.",
        )
    del namespace.properties[old["name"]]
    namespace.properties[prop["name"]] = prop
    return Reply.json(STATUS_GOOD, prop)


@ROUTES.route("DELETE", f"{_NS}/properties/{{name}}")
def _delete_property(cloud: Cloud, _req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    namespace = _namespace(cloud, ctx, params["ns"])
    prop = _property(namespace, unquote(params["name"]))
    _admin(ctx, "remove_metadef_property")
    del namespace.properties[prop["name"]]
    return empty(204)


@ROUTES.route("DELETE", f"{_NS}/properties")
def _delete_properties(cloud: Cloud, _req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    namespace = _namespace(cloud, ctx, params["ns"])
    _admin(ctx, "remove_metadef_property")
    namespace.properties.clear()
    return empty(204)


# ================================================================================== tags
def _tag_view(cloud: Cloud, name: str, times: tuple[float, float]) -> Json:
    return {"name": name, "created_at": _when(cloud, times[0]), "updated_at": _when(cloud, times[1])}


def _tag_conflict(namespace: MetadefNamespace, name: str) -> None:
    # Glance compares metadef tag names ignoring case
    if name.lower() in (t.lower() for t in namespace.tags):
        raise ApiError(
            409,
            f"A metadata tag with name={name} already exists in namespace={namespace.namespace}. "
            "(Please note that metadata tag names are case insensitive).",
        )


def _tag(namespace: MetadefNamespace, name: str) -> tuple[float, float]:
    times = namespace.tags.get(name)
    if times is None:
        raise ApiError(404, f"Could not find metadata tag {name}")
    return times


@ROUTES.route("GET", f"{_NS}/tags")
def _list_tags(cloud: Cloud, _req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    namespace = _namespace(cloud, ctx, params["ns"])
    return Reply.json(STATUS_GOOD, {"tags": [{"name": n} for n in reversed(namespace.tags)]})  # newest first


@ROUTES.route("POST", f"{_NS}/tags")
def _create_tags(cloud: Cloud, req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    namespace = _namespace(cloud, ctx, params["ns"])
    _admin(ctx, "add_metadef_tags")
    tags = body_of(req).get("tags")
    if not isinstance(tags, list) or not all(
        isinstance(t, dict) and isinstance(t.get("name"), str) for t in tags
    ):
        raise _schema_error("tags", "'tags' is a required property")
    names = [t["name"] for t in tags]
    if not as_bool(req.headers.get("x-openstack-append", "false")):
        namespace.tags.clear()  # without the append header the list replaces every tag
    now = cloud.now()
    for name in names:
        _tag_conflict(namespace, name)
        namespace.tags[name] = (now, now)
    return Reply.json(201, {"tags": [{"name": n} for n in names]})


@ROUTES.route("DELETE", f"{_NS}/tags")
def _delete_tags(cloud: Cloud, _req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    namespace = _namespace(cloud, ctx, params["ns"])
    _admin(ctx, "delete_metadef_tags")
    namespace.tags.clear()
    return empty(204)


@ROUTES.route("POST", f"{_NS}/tags/{{name}}")
def _create_tag(cloud: Cloud, _req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    namespace = _namespace(cloud, ctx, params["ns"])
    _admin(ctx, "add_metadef_tag")
    name = unquote(params["name"])
    _tag_conflict(namespace, name)
    now = cloud.now()
    namespace.tags[name] = (now, now)
    return Reply.json(201, _tag_view(cloud, name, namespace.tags[name]))


@ROUTES.route("GET", f"{_NS}/tags/{{name}}")
def _get_tag(cloud: Cloud, _req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    namespace = _namespace(cloud, ctx, params["ns"])
    name = unquote(params["name"])
    return Reply.json(STATUS_GOOD, _tag_view(cloud, name, _tag(namespace, name)))


@ROUTES.route("PUT", f"{_NS}/tags/{{name}}")
def _update_tag(cloud: Cloud, req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    namespace = _namespace(cloud, ctx, params["ns"])
    old = unquote(params["name"])
    created, _updated = _tag(namespace, old)
    _admin(ctx, "modify_metadef_tag")
    new = body_of(req).get("name")
    if not isinstance(new, str):
        raise _schema_error("tag", "'name' is a required property")
    if new.lower() != old.lower():
        _tag_conflict(namespace, new)
    del namespace.tags[old]
    namespace.tags[new] = (created, cloud.now())
    return Reply.json(STATUS_GOOD, _tag_view(cloud, new, namespace.tags[new]))


@ROUTES.route("DELETE", f"{_NS}/tags/{{name}}")
def _delete_tag(cloud: Cloud, _req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    namespace = _namespace(cloud, ctx, params["ns"])
    name = unquote(params["name"])
    _tag(namespace, name)
    _admin(ctx, "delete_metadef_tag")
    del namespace.tags[name]
    return empty(204)


# ================================================================================== resource types
def _associate(cloud: Cloud, namespace: MetadefNamespace, body: Json) -> Json:
    _required(body, "resource_type_association", "name")
    name = body["name"]
    if name in namespace.resource_types:
        raise ApiError(
            409,
            f"The metadata definition resource-type association of resource-type={name} to "
            f"namespace={namespace.namespace} already exists.",
        )
    now = cloud.now()
    cloud.state.metadef_resource_types.setdefault(name, now)  # the type outlives its associations
    fields: Json = {k: body[k] for k in ("name", "prefix", "properties_target") if k in body}
    association = namespace.resource_types[name] = {**fields, "created": now, "updated": now}
    return association


@ROUTES.route("GET", "/metadefs/resource_types")
def _list_resource_types(cloud: Cloud, _req: Request, _ctx: Ctx, _params: dict[str, str]) -> Reply:
    views = [
        {"name": name, "created_at": _when(cloud, created), "updated_at": _when(cloud, created)}
        for name, created in cloud.state.metadef_resource_types.items()
    ]
    return Reply.json(STATUS_GOOD, {"resource_types": views})


@ROUTES.route("GET", f"{_NS}/resource_types")
def _list_associations(cloud: Cloud, _req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    namespace = _namespace(cloud, ctx, params["ns"])
    views = [_association_view(cloud, a) for a in namespace.resource_types.values()]
    return Reply.json(STATUS_GOOD, {"resource_type_associations": views})


@ROUTES.route("POST", f"{_NS}/resource_types")
def _create_association(cloud: Cloud, req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    namespace = _namespace(cloud, ctx, params["ns"])
    _admin(ctx, "add_metadef_resource_type_association")
    association = _associate(cloud, namespace, body_of(req))
    return Reply.json(201, _association_view(cloud, association))


@ROUTES.route("DELETE", f"{_NS}/resource_types/{{name}}")
def _delete_association(cloud: Cloud, _req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    namespace = _namespace(cloud, ctx, params["ns"])
    name = unquote(params["name"])
    if name not in namespace.resource_types:
        raise ApiError(404, f"Failed to find resource type {name} to delete")
    _admin(ctx, "remove_metadef_resource_type_association")
    del namespace.resource_types[name]
    return empty(204)


# ================================================================================== tasks
def _task_view(cloud: Cloud, task: GlanceTask, *, full: bool) -> Json:
    doc: Json = {"id": task.id}
    if full:
        doc["input"] = task.input
    doc |= {"type": task.type, "status": task.status, "owner": task.owner}
    if full:
        doc |= {"message": task.message, "result": task.result}
    doc |= {
        "created_at": _when(cloud, task.created),
        "updated_at": _when(cloud, task.updated),
        "self": f"/v2/tasks/{task.id}",
        "schema": "/v2/schemas/task",
    }
    if full:
        doc |= {"request_id": task.request_id, "user_id": task.user_id}
    if task.expires is not None:
        doc["expires_at"] = _when(cloud, task.expires)
    return doc


@ROUTES.route("GET", "/tasks")
def _list_tasks(cloud: Cloud, req: Request, ctx: Ctx, _params: dict[str, str]) -> Reply:
    _admin(ctx, "tasks_api_access")
    tasks = [
        t
        for t in sorted(cloud.state.glance_tasks.values(), key=lambda t: -t.seq)
        if req.arg("status") in (None, t.status) and req.arg("type") in (None, t.type)
    ]
    return _page(req, "tasks", tasks, lambda t: t.id, lambda t: _task_view(cloud, t, full=False))


@ROUTES.route("POST", "/tasks")
def _create_task(cloud: Cloud, req: Request, ctx: Ctx, _params: dict[str, str]) -> Reply:
    _admin(ctx, "tasks_api_access")
    body = body_of(req)
    kind = body.get("type")
    if kind not in _TASK_TYPES:
        raise _schema_error("task", f"{kind!r} is not one of {list(_TASK_TYPES)}")
    task_input = body.get("input")
    if task_input is None:
        raise ApiError(400, "Task 'input' is required")
    if not isinstance(task_input, dict):
        raise _schema_error("task", f"{task_input!r} is not of type 'object'")
    source = task_input.get("import_from")
    if kind == "import" and not source:
        raise ApiError(400, f"Invalid location: {source}")
    if kind == "import" and not importable_uri(source):
        raise ApiError(400, f"URI for legacy import task does not pass filtering: {source}")
    task = new_task(cloud, ctx, str(kind), task_input)
    cloud.later(lambda: finish_task(cloud, task, "failure", "Task failed due to Internal Error", None))
    headers = [("Location", f"{cloud.base_url}/image/v2/tasks/{task.id}")]
    return Reply.json(201, _task_view(cloud, task, full=True), headers)


@ROUTES.route("GET", "/tasks/{id}")
def _get_task(cloud: Cloud, _req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    _admin(ctx, "tasks_api_access")
    task = cloud.state.glance_tasks.get(params["id"])
    if task is None:
        raise ApiError(404, f"Could not find task {params['id']}")
    return Reply.json(STATUS_GOOD, _task_view(cloud, task, full=True))


def new_task(cloud: Cloud, ctx: Ctx, kind: str, task_input: Json) -> GlanceTask:
    """A pending Glance task of the caller's project."""
    now = cloud.now()
    task = GlanceTask(
        id=str(uuid.uuid4()),
        type=kind,
        input=task_input,
        owner=ctx.project_id,
        user_id=ctx.user.id,
        request_id=f"req-{uuid.uuid4()}",
        seq=cloud.state.next_seq(),
        created=now,
        updated=now,
    )
    cloud.state.glance_tasks[task.id] = task
    return task


def finish_task(cloud: Cloud, task: GlanceTask, status: str, message: str, result: Json | None) -> None:
    """End ``task``; Glance keeps a finished task for ``task_time_to_live`` (48 hours)."""
    task.status, task.message, task.result = status, message, result
    task.updated = cloud.now()
    task.expires = task.updated + _TASK_TTL
