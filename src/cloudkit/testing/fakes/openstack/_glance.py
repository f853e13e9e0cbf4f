"""Glance (image v2) of the OpenStack fake: images, their data, tags, actions and discovery.

Follows a real Glance 33 with its default policies and one file store ``fs`` (as the lab runs it):
an image is made ``queued``, its data arrives by ``PUT /file`` (``active`` at once, checksums from
the bytes) or by the interoperable import (``glance-direct`` after ``/stage``; ``web-download``
fails, as a Glance that cannot reach the URL does). Members, the import and an image's tasks are in
`_glance_sharing`; schemas, metadata definitions and tasks in ``_glance_metadefs``; `serve` sends
those paths there.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import uuid
from typing import Any
from urllib.parse import unquote, urlencode

from cloudkit.testing.fakes._kit import Reply, Request
from cloudkit.testing.fakes.openstack import _glance_metadefs, _glance_sharing
from cloudkit.testing.fakes.openstack._cloud import Cloud, Ctx, Routes, dispatch
from cloudkit.testing.fakes.openstack._glance_sharing import (
    IMPORT_METHODS,
    MEMBER_STATUSES,
    STORE,
    octet_stream,
    owned_image,
    touch,
    visible_image,
    when,
)
from cloudkit.testing.fakes.openstack._state import Image, Json
from cloudkit.testing.fakes.openstack._wire import (
    STATUS_GOOD,
    STATUS_MULTIPLE,
    ApiError,
    as_bool,
    as_int,
    body_of,
    empty,
)

_LIMIT_DEFAULT, _LIMIT_MAX = 25, 1000
_NEWEST_MINOR = 17  # assumption: Glance 33 lists v2.0 ... v2.17, the newest CURRENT
DISK_FORMATS = (None, "ami", "ari", "aki", "vhd", "vhdx", "vmdk", "raw", "qcow2", "vdi", "iso", "ploop")
CONTAINER_FORMATS = (None, "ami", "ari", "aki", "bare", "ovf", "ova", "docker", "compressed")
VISIBILITIES = ("public", "private", "shared", "community")
_ENUMS = {"disk_format": DISK_FORMATS, "container_format": CONTAINER_FORMATS, "visibility": VISIBILITIES}
_MAX_LENGTH = 255  # the image schema's maxLength of a name, an owner and a tag
_PATCH_TYPES = {  # Glance's PATCH media types and the JSON-patch draft each speaks
    "application/openstack-images-v2.0-json-patch": 4,
    "application/openstack-images-v2.1-json-patch": 10,
}
# glance/api/v2/images.py RequestDeserializer and the domain's read-only attributes
_READ_ONLY = (
    "created_at",
    "updated_at",
    "status",
    "checksum",
    "size",
    "virtual_size",
    "direct_url",
    "self",
    "file",
    "schema",
    "id",
    "os_hash_algo",
    "os_hash_value",
)
_CREATE_DISALLOWED = (*(k for k in _READ_ONLY if k != "id"), "stores")
_RESERVED = ("location", "deleted", "deleted_at")
_RESERVED_PREFIX = "os_glance"
_SORT_KEYS = ("name", "status", "container_format", "disk_format", "size", "id", "created_at", "updated_at")
_LIST_RESERVED = {"limit", "marker", "sort_key", "sort_dir", "sort", "member_status", "visibility", "tag"}
ROUTES = Routes()


def serve(cloud: Cloud, req: Request) -> Reply:
    """Answer a request below ``/image``."""
    path = req.path
    if path in ("/image", "/image/v2") and req.method in ("GET", "HEAD"):
        return Reply.json(STATUS_MULTIPLE, {"versions": _versions(cloud)})
    rest = path.removeprefix("/image/v2")
    if rest == path:
        raise ApiError(404, "The resource could not be found.")
    routes = ROUTES
    if rest.startswith(_glance_metadefs.PREFIXES):
        routes = _glance_metadefs.ROUTES
    elif _glance_sharing.serves(rest):
        routes = _glance_sharing.ROUTES
    return dispatch(routes, cloud, req, cloud.context(req), rest)


def _versions(cloud: Cloud) -> list[Json]:
    href = f"{cloud.base_url}/image/v2/"
    return [
        {
            "id": f"v2.{minor}",
            "status": "CURRENT" if minor == _NEWEST_MINOR else "SUPPORTED",
            "links": [{"rel": "self", "href": href}],
        }
        for minor in range(_NEWEST_MINOR, -1, -1)
    ]


# ================================================================================== views
@functools.lru_cache(maxsize=16)
def _seed_bytes(image_id: str, size: int) -> bytes:
    """The made-up, fixed bytes of a seeded image (its checksums and its download agree)."""
    block = hashlib.sha512(image_id.encode()).digest()
    return (block * (size // len(block) + 1))[:size]


@functools.lru_cache(maxsize=64)
def _digests(content: bytes) -> tuple[str, str]:
    return hashlib.md5(content, usedforsecurity=False).hexdigest(), hashlib.sha512(content).hexdigest()


def _content(image: Image) -> bytes | None:
    """The image's data; None while it has none."""
    if image.status not in ("active", "deactivated"):
        return None
    if image.data is not None:
        return image.data
    return _seed_bytes(image.id, image.size or 0)


def custom_properties(image: Image) -> dict[str, str]:
    """The image's properties beyond Glance's base ones, as they appear at the top of its view."""
    named = {"os_distro": image.os_distro, "os_version": image.os_version}
    return {**image.properties, **{k: v for k, v in named.items() if v}}


def image_view(cloud: Cloud, image: Image) -> Json:
    """An image as Glance shows it (custom properties first, then the base ones)."""
    content = _content(image)
    md5, sha512 = _digests(content) if content is not None else (None, None)
    doc: Json = {
        **custom_properties(image),
        "name": image.name,
        "disk_format": image.disk_format,
        "container_format": image.container_format,
        "visibility": image.visibility,
        "size": image.size,
        # assumption: Glance's format inspector reports a raw image's size; others stay unknown here
        "virtual_size": image.size if content is not None and image.disk_format == "raw" else None,
        "status": image.status,
        "checksum": md5,
        "protected": image.protected,
        "min_ram": image.min_ram,
        "min_disk": image.min_disk,
        "owner": image.owner,
        "os_hidden": image.os_hidden,
        "os_hash_algo": "sha512" if sha512 else None,
        "os_hash_value": sha512,
        "id": image.id,
        "created_at": when(cloud, image.created),
        "updated_at": when(cloud, image.created if image.updated is None else image.updated),
        "tags": list(image.tags),
        "self": f"/v2/images/{image.id}",
        "file": f"/v2/images/{image.id}/file",
        "schema": "/v2/schemas/image",
    }
    if image.status == "active":  # a real Glance with enabled_backends names the stores holding the data
        doc["stores"] = STORE
    return doc


def _schema_error(value: object, problem: str) -> ApiError:
    # assumption: the first line of jsonschema's message; Glance adds the failing schema after it
    return ApiError(400, f"Provided object does not match schema 'image': {_py(value)} {problem}")


def _py(value: object) -> str:
    return repr(value) if not isinstance(value, bool) else str(value)


def _problem(key: str, value: object) -> str | None:  # noqa: PLR0911 - one answer per kind of attribute
    """What Glance's image schema finds wrong with ``value`` for attribute ``key`` (None: nothing)."""
    if key in _ENUMS:
        return None if value in _ENUMS[key] else f"is not one of {list(_ENUMS[key])}"
    if key in ("min_disk", "min_ram"):
        if not isinstance(value, int) or isinstance(value, bool):
            return "is not of type 'integer'"
        return "is less than the minimum of 0" if value < 0 else None
    if key in ("protected", "os_hidden"):
        return None if isinstance(value, bool) else "is not of type 'boolean'"
    if key == "tags":
        if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
            return "is not of type 'array'"
        return "is too long" if any(len(t) > _MAX_LENGTH for t in value) else None
    if key in ("name", "owner"):
        if value is not None and not isinstance(value, str):
            return "is not of type 'null', 'string'"
        return "is too long" if isinstance(value, str) and len(value) > _MAX_LENGTH else None
    # any other property: additionalProperties {"type": "string"}
    return None if isinstance(value, str) else "is not of type 'string'"


def _check_value(key: str, value: object) -> None:
    """Check one attribute against Glance's image schema; 400 with its message otherwise."""
    problem = _problem(key, value)
    if problem is not None:
        raise _schema_error(value, problem)


def _check_reserved(key: str) -> None:
    if key in _RESERVED or key.startswith(_RESERVED_PREFIX):
        raise ApiError(403, f"Attribute '{key}' is reserved.")


def _set_attribute(cloud: Cloud, ctx: Ctx, image: Image, key: str, value: Any) -> None:
    """Set a base attribute or a custom property (the checks Glance's domain makes on a change)."""
    if key in ("disk_format", "container_format") and image.status not in ("queued", "importing"):
        raise ApiError(403, f"Attribute {key} can be only replaced for a queued image.")
    if key == "visibility" and value == "public" and image.visibility != "public" and not ctx.is_admin:
        raise ApiError(403, "You are not authorized to complete publicize_image action.")
    if key == "owner" and not ctx.is_admin:
        raise ApiError(403, "Owner can't be updated by non admin.")
    if key == "tags":
        image.tags = list(dict.fromkeys(value))
    elif key == "os_distro":
        image.os_distro = value
    elif key == "os_version":
        image.os_version = value
    elif _base_attribute(key):
        setattr(image, key, value)
    else:
        image.properties[key] = value
    touch(cloud, image)


def _base_attribute(key: str) -> bool:
    return key in (
        "name",
        "disk_format",
        "container_format",
        "visibility",
        "owner",
        "min_disk",
        "min_ram",
        "protected",
        "os_hidden",
        "tags",
    )


# ================================================================================== images
@ROUTES.route("GET", "/images")
def _list_images(cloud: Cloud, req: Request, ctx: Ctx, _params: dict[str, str]) -> Reply:
    limit_text = req.arg("limit")
    limit = _LIMIT_DEFAULT if limit_text is None else as_int(limit_text, "limit")
    if limit < 0:
        raise ApiError(400, "limit param must be positive")
    limit = min(limit, _LIMIT_MAX, cloud.max_page_size or _LIMIT_MAX)
    images = _listed(cloud, req, ctx)
    views = [image_view(cloud, i) for i in images]
    for key, values in req.query.items():
        if key not in _LIST_RESERVED:
            views = [v for v in views if _matches(v, key, values[-1])]
    marker = req.arg("marker")
    if marker is not None:
        index = next((n for n, v in enumerate(views) if v["id"] == marker), None)
        if index is None:
            raise ApiError(400, f"No image found with ID {marker}")
        views = views[index + 1 :]
    chosen = views[:limit]
    params = [(k, v[-1]) for k, v in req.query.items() if k != "marker"]
    query = urlencode(params)
    doc: Json = {
        "images": chosen,
        "first": "/v2/images" + (f"?{query}" if query else ""),
        "schema": "/v2/schemas/images",
    }
    if chosen and len(chosen) == limit:  # Glance: a full page gets a next link (the next may be empty)
        doc["next"] = "/v2/images?" + urlencode([*params, ("marker", chosen[-1]["id"])])
    return Reply.json(STATUS_GOOD, doc)


def _listed(cloud: Cloud, req: Request, ctx: Ctx) -> list[Image]:
    """The images a list shows the caller before property filters, sorted (glance/db image_get_all)."""
    member_status = req.arg("member_status") or "accepted"
    if member_status not in (*MEMBER_STATUSES, "all"):
        raise ApiError(400, f"Invalid status: {member_status}")
    visibility = req.arg("visibility")
    if visibility is not None and visibility not in (*VISIBILITIES, "all"):
        raise ApiError(400, f"Invalid visibility value: {visibility}")
    images = listed_images(
        cloud,
        ctx,
        member_status=member_status,
        visibility=visibility,
        tags=req.query.get("tag", []),
        hidden=None if "os_hidden" in req.query else False,  # the os_hidden filter, when given, decides
    )
    sort_key = req.arg("sort_key") or "created_at"
    if sort_key not in _SORT_KEYS:
        raise ApiError(
            400, f"Invalid sort key: {sort_key}. It must be one of the following: {', '.join(_SORT_KEYS)}."
        )
    sort_dir = req.arg("sort_dir") or "desc"
    if sort_dir not in ("asc", "desc"):
        raise ApiError(400, f"Invalid sort direction: {sort_dir}")

    def key(image: Image) -> tuple[Any, ...]:
        if sort_key in ("created_at", "updated_at"):
            moment = image.created if sort_key == "created_at" or image.updated is None else image.updated
            return (moment, image.seq)
        value = getattr(image, sort_key)
        return (value is not None, value if value is not None else "", image.seq)

    return sorted(images, key=key, reverse=sort_dir == "desc")


def listed_images(
    cloud: Cloud,
    ctx: Ctx,
    *,
    member_status: str = "accepted",
    visibility: str | None = None,
    tags: list[str] | None = None,
    hidden: bool | None = False,
) -> list[Image]:
    """The images Glance's list shows the caller, newest first; by default as an unfiltered
    ``GET /v2/images`` (which Nova's image proxy makes too): no community images but the project's
    own, shared ones only once accepted, no ``os_hidden`` ones.
    """  # noqa: D205 (the summary needs the defaults)

    def shown(image: Image) -> bool:
        member = image.members.get(ctx.project_id)
        as_member = (
            image.visibility == "shared" and member is not None and member_status in ("all", member.status)
        )
        if not (
            ctx.is_admin
            or image.visibility in ("public", "community")
            or image.owner == ctx.project_id
            or as_member
        ):
            return False
        if hidden is not None and image.os_hidden != hidden:
            return False
        if visibility is not None:
            return visibility in ("all", image.visibility)
        return image.visibility != "community" or image.owner == ctx.project_id

    images = [i for i in cloud.state.images.values() if shown(i) and all(t in i.tags for t in tags or ())]
    return sorted(images, key=lambda i: (i.created, i.seq), reverse=True)


def _matches(view: Json, key: str, wanted: str) -> bool:
    if key in ("os_hidden", "protected"):
        return bool(view.get(key)) == as_bool(wanted)
    if key == "size_min":
        return (view.get("size") or 0) >= as_int(wanted, key)
    if key == "size_max":
        return view.get("size") is not None and view["size"] <= as_int(wanted, key)
    value = view.get(key)
    return value is not None and str(value) == wanted


@ROUTES.route("POST", "/images")
def _create_image(cloud: Cloud, req: Request, ctx: Ctx, _params: dict[str, str]) -> Reply:
    body = body_of(req)
    for key in body:
        if key in _CREATE_DISALLOWED:
            raise ApiError(403, f"Attribute '{key}' is read-only.")
        _check_reserved(key)
        if key != "id":
            _check_value(key, body[key])
    visibility = body.get("visibility", "shared")
    if visibility == "public" and not ctx.is_admin:
        raise ApiError(403, "You are not authorized to complete publicize_image action.")
    image_id = str(body.get("id") or uuid.uuid4())
    if image_id in cloud.state.images:
        raise ApiError(409, f"Image ID {image_id} already exists!")
    owner = body.get("owner") if ctx.is_admin and body.get("owner") else ctx.project_id
    now = cloud.now()
    custom = {k: v for k, v in body.items() if k != "id" and not _base_attribute(k)}
    image = Image(
        id=image_id,
        name=body.get("name"),
        os_distro=custom.pop("os_distro", ""),
        os_version=custom.pop("os_version", ""),
        min_disk=body.get("min_disk", 0),
        owner=str(owner),
        visibility=visibility,
        seq=cloud.state.next_seq(),
        created=now,
        size=None,
        status="queued",
        disk_format=body.get("disk_format"),
        container_format=body.get("container_format"),
        min_ram=body.get("min_ram", 0),
        protected=body.get("protected", False),
        os_hidden=body.get("os_hidden", False),
        properties=custom,
        tags=list(dict.fromkeys(body.get("tags", []))),
    )
    cloud.state.images[image.id] = image
    headers = [
        ("Location", f"{cloud.base_url}/image/v2/images/{image.id}"),
        ("OpenStack-image-import-methods", ",".join(IMPORT_METHODS)),
        ("OpenStack-image-store-ids", STORE),
    ]
    return Reply.json(201, image_view(cloud, image), headers)


@ROUTES.route("GET", "/images/{id}")
def _get_image(cloud: Cloud, _req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    return Reply.json(STATUS_GOOD, image_view(cloud, visible_image(cloud, ctx, params["id"])))


@ROUTES.route("PATCH", "/images/{id}")
def _update_image(cloud: Cloud, req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    media_type = req.headers.get("content-type", "").split(";")[0].strip()
    draft = _PATCH_TYPES.get(media_type)
    if draft is None:
        raise ApiError(415, f"Image PATCH expects Content-Type one of: {', '.join(_PATCH_TYPES)}")
    changes = _patch_changes(req)
    image = owned_image(cloud, ctx, params["id"], "modify_image")
    # Glance applies the changes to its domain object and saves once: a failing change saves nothing.
    draft_image = dataclasses.replace(
        image,
        properties=dict(image.properties),
        tags=list(image.tags),
        members=dict(image.members),
    )
    for change in changes:
        _apply_change(cloud, ctx, draft_image, change, draft)
    cloud.state.images[image.id] = draft_image
    return Reply.json(STATUS_GOOD, image_view(cloud, draft_image))


def _patch_changes(req: Request) -> list[tuple[str, str, Any]]:
    """The (op, attribute, value) changes of a JSON-patch body, checked as Glance's deserializer does."""
    try:
        doc = json.loads(req.body) if req.body else None
    except ValueError:
        raise ApiError(400, "Malformed JSON in request body.") from None
    if not isinstance(doc, list):
        raise ApiError(400, "Request body must be a JSON array of operation objects.")
    changes = []
    for raw in doc:
        if not isinstance(raw, dict):
            raise ApiError(400, "Operations must be JSON objects.")
        op = raw.get("op")
        if op not in ("add", "remove", "replace"):
            raise ApiError(
                400, f"Invalid operation: `{op}`. It must be one of the following: add, remove, replace."
            )
        pointer = str(raw.get("path", ""))
        parts = [p.replace("~1", "/").replace("~0", "~") for p in pointer.split("/")[1:]]
        if not pointer.startswith("/") or len(parts) != 1 or not parts[0]:
            raise ApiError(400, f"Invalid JSON pointer for this resource: '{pointer}'")
        key = parts[0]
        if key in _READ_ONLY:
            raise ApiError(403, f"Attribute '{key}' is read-only.")
        _check_reserved(key)
        if op != "remove":
            if "value" not in raw:
                raise ApiError(400, f'Operation "{op}" requires a member named "value".')
            _check_value(key, raw["value"])
        changes.append((str(op), key, raw.get("value")))
    return changes


def _apply_change(cloud: Cloud, ctx: Ctx, image: Image, change: tuple[str, str, Any], draft: int) -> None:
    op, key, value = change
    present = _base_attribute(key) or key in custom_properties(image)
    if op == "remove":
        if _base_attribute(key):
            raise ApiError(403, f"Property {key} may not be removed.")
        if not present:
            raise ApiError(409, f"Property {key} does not exist.")
        if key in ("os_distro", "os_version"):
            setattr(image, key, "")
        else:
            del image.properties[key]
        touch(cloud, image)
        return
    if op == "replace" and not present:
        raise ApiError(409, f"Property {key} does not exist.")
    if op == "add" and present and draft == 4:  # noqa: PLR2004 - JSON-patch draft 4 (v2.0) refuses it
        raise ApiError(409, f"Property {key} already present.")
    _set_attribute(cloud, ctx, image, key, value)


@ROUTES.route("DELETE", "/images/{id}")
def _delete_image(cloud: Cloud, _req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    image_id = params["id"]
    image = owned_image(cloud, ctx, image_id, "delete_image", f"Failed to find image {image_id} to delete")
    if image.protected:
        raise ApiError(403, f"Image {image_id} is protected and cannot be deleted.")
    del cloud.state.images[image_id]
    return empty(204)


# ================================================================================== data
@ROUTES.route("PUT", "/images/{id}/file")
def _upload(cloud: Cloud, req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    data = octet_stream(req)
    image = owned_image(cloud, ctx, params["id"], "upload_image")
    if image.status != "queued":
        raise ApiError(409, f"Image status transition from {image.status} to saving is not allowed")
    image.data, image.size, image.status = data, len(data), "active"
    touch(cloud, image)
    return empty(204)


@ROUTES.route("GET", "/images/{id}/file")
def _download(cloud: Cloud, _req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    image = visible_image(cloud, ctx, params["id"])
    if image.status == "deactivated" and not ctx.is_admin:
        raise ApiError(403, "The requested image has been deactivated. Image data download is forbidden.")
    content = _content(image)
    if content is None:
        return empty(204)
    md5, _sha512 = _digests(content)
    return Reply(STATUS_GOOD, content, "application/octet-stream", (("Content-MD5", md5),))


# ================================================================================== tags, actions
@ROUTES.route("PUT", "/images/{id}/tags/{tag}")
def _add_tag(cloud: Cloud, _req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    image = owned_image(cloud, ctx, params["id"], "modify_image")
    tag = unquote(params["tag"])
    if len(tag) > _MAX_LENGTH:
        raise ApiError(400, f"Provided object does not match schema 'image': {tag!r} is too long")
    if tag not in image.tags:
        image.tags.append(tag)
    touch(cloud, image)
    return empty(204)


@ROUTES.route("DELETE", "/images/{id}/tags/{tag}")
def _delete_tag(cloud: Cloud, _req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    image = owned_image(cloud, ctx, params["id"], "modify_image")
    tag = unquote(params["tag"])
    if tag not in image.tags:
        raise ApiError(404, "The resource could not be found.")
    image.tags.remove(tag)
    touch(cloud, image)
    return empty(204)


@ROUTES.route("POST", "/images/{id}/actions/{action}")
def _action(cloud: Cloud, _req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    action = params["action"]
    if action not in ("deactivate", "reactivate"):
        raise ApiError(404, "The resource could not be found.")
    image = owned_image(cloud, ctx, params["id"], action)
    source, target = ("active", "deactivated") if action == "deactivate" else ("deactivated", "active")
    if image.status not in (source, target):
        raise ApiError(403, f"Not allowed to {action} image in status '{image.status}'")
    if image.status == source:
        image.status = target
        touch(cloud, image)
    return empty(204)


# ================================================================================== discovery
@ROUTES.route("GET", "/info/import")
def _import_info(_cloud: Cloud, _req: Request, _ctx: Ctx, _params: dict[str, str]) -> Reply:
    methods = {"description": "Import methods available.", "type": "array", "value": list(IMPORT_METHODS)}
    return Reply.json(STATUS_GOOD, {"import-methods": methods})


@ROUTES.route("GET", "/info/stores")
def _stores_info(_cloud: Cloud, _req: Request, _ctx: Ctx, _params: dict[str, str]) -> Reply:
    return Reply.json(STATUS_GOOD, {"stores": [{"id": STORE, "default": "true"}]})


@ROUTES.route("GET", "/info/usage")
def _usage_info(_cloud: Cloud, _req: Request, _ctx: Ctx, _params: dict[str, str]) -> Reply:
    return Reply.json(STATUS_GOOD, {"usage": {}})  # Glance without per-project quotas (the default)


@ROUTES.route("GET", "/info/stores/detail")
def _stores_detail(_cloud: Cloud, _req: Request, ctx: Ctx, _params: dict[str, str]) -> Reply:
    if not ctx.is_admin:
        raise ApiError(403, "You are not authorized to complete stores_info_detail action.")
    properties = {"data_dir": "/var/lib/glance/images", "chunk_size": 65536, "thin_provisioning": False}
    store = {"id": STORE, "default": "true", "type": "file", "properties": properties, "weight": 0}
    return Reply.json(STATUS_GOOD, {"stores": [store]})
