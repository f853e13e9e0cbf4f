"""Glance's image members, the interoperable import (``/stage``, ``/import``) and an image's tasks,
for the OpenStack fake's Glance, with the image lookups `_glance` shares.

Split from `_glance` (whose `serve` sends these paths here); wire facts as there: a real Glance 33 with
its default policies and one file store ``fs``. A shared image's owner adds members (``pending``), each
member project accepts or rejects its own membership; ``glance-direct`` imports the staged bytes, and
``web-download`` fails, as a Glance that cannot reach the URL does.
"""  # noqa: D205 (the summary names every resource)

from __future__ import annotations

import re

from cloudkit.testing.fakes._kit import Reply, Request
from cloudkit.testing.fakes.openstack import _glance_metadefs
from cloudkit.testing.fakes.openstack._cloud import Cloud, Ctx, Routes
from cloudkit.testing.fakes.openstack._state import GlanceTask, Image, ImageMember, Json
from cloudkit.testing.fakes.openstack._wire import STATUS_GOOD, ApiError, body_of, empty, iso

STORE = "fs"  # the one store of the lab's Glance (enabled_backends = fs:file)
IMPORT_METHODS = ("glance-direct", "web-download", "copy-image")
MEMBER_STATUSES = ("pending", "accepted", "rejected")
_PATHS = re.compile(r"/images/[^/]+/(members(/[^/]+)?|stage|import|tasks)")
ROUTES = Routes()


def serves(rest: str) -> bool:
    """Whether a path below ``/image/v2`` is one of this module's."""
    return _PATHS.fullmatch(rest) is not None


# ================================================================================== lookups
def when(cloud: Cloud, t: float) -> str:
    return iso(cloud.wall(t), style="nova")


def visible_image(cloud: Cloud, ctx: Ctx, image_id: str, missing: str | None = None) -> Image:
    image = cloud.state.images.get(image_id)
    if image is None or not cloud.image_visible(image, ctx):
        raise ApiError(404, missing or f"No image found with ID {image_id}")
    return image


def owned_image(cloud: Cloud, ctx: Ctx, image_id: str, action: str, missing: str | None = None) -> Image:
    """The image if the caller may change it: 404 when it cannot see it, 403 when it is not the owner."""
    image = visible_image(cloud, ctx, image_id, missing)
    if not (ctx.is_admin or image.owner == ctx.project_id):
        raise ApiError(403, f"You are not authorized to complete {action} action.")
    return image


def touch(cloud: Cloud, image: Image) -> None:
    image.updated = cloud.now()


# ================================================================================== data
def octet_stream(req: Request) -> bytes:
    """The image data of an upload or stage; with ``X-OpenStack-Image-Size`` it must be that long."""
    media_type = req.headers.get("content-type", "").split(";")[0].strip()
    if media_type != "application/octet-stream":
        raise ApiError(415, f"Invalid content type {media_type}".rstrip())
    declared = req.headers.get("x-openstack-image-size")
    if declared is not None:
        if not declared.isdigit():
            raise ApiError(400, "Invalid or missing image size in request headers.")
        expected, got = int(declared), len(req.body)
        if got > expected:
            raise ApiError(400, f"Size exceeds: expected {expected} bytes, got {got} bytes")
        if got < expected:
            raise ApiError(400, f"Size mismatch: expected {expected} bytes, got {got} bytes")
    return req.body


# ================================================================================== import, tasks
@ROUTES.route("PUT", "/images/{id}/stage")
def _stage(cloud: Cloud, req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    data = octet_stream(req)
    image = owned_image(cloud, ctx, params["id"], "modify_image")
    if image.status != "queued":
        raise ApiError(409, f"Image status transition from {image.status} to uploading is not allowed")
    image.staged, image.size, image.status = data, len(data), "uploading"
    touch(cloud, image)
    return empty(204)


@ROUTES.route("POST", "/images/{id}/import")
def _import(cloud: Cloud, req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    body = body_of(req)
    method = body.get("method")
    name = method.get("name") if isinstance(method, dict) else None
    if name not in IMPORT_METHODS:
        raise ApiError(400, f"Unknown import method name '{name}'.")
    assert isinstance(method, dict)  # noqa: S101 - narrowed by the name check above
    image = owned_image(cloud, ctx, params["id"], "modify_image")
    if name == "copy-image":
        # assumption: with one store the data is already everywhere it can be copied to
        raise ApiError(409, f"Image {image.id} is already present at store '{STORE}'")
    if image.status == "active":
        raise ApiError(409, "Image with status active cannot be target for import")
    if name == "glance-direct" and image.status != "uploading":
        raise ApiError(409, "Image needs to be staged before 'glance-direct' method can be used")
    if name == "web-download" and not _glance_metadefs.importable_uri(method.get("uri")):
        raise ApiError(400, f"URI for web-download does not pass filtering: {method.get('uri')}")
    task = _glance_metadefs.new_task(
        cloud, ctx, "api_image_import", {"image_id": image.id, "import_req": body}
    )
    task.image_id, task.input["backend"] = image.id, [STORE]
    image.properties["os_glance_import_task"] = task.id
    if name == "glance-direct":
        image.status = "importing"
    cloud.later(lambda: _finish_import(cloud, image, task, succeeded=name == "glance-direct"))
    return Reply(202, b"", "text/html; charset=UTF-8")


def _finish_import(cloud: Cloud, image: Image, task: GlanceTask, *, succeeded: bool) -> None:
    # The fake reaches no outside URL: web-download ends as a Glance without network access ends it.
    image.properties.pop("os_glance_import_task", None)
    image.properties["os_glance_importing_to_stores"] = ""
    image.properties["os_glance_failed_import"] = "" if succeeded else STORE
    if succeeded:
        image.data, image.staged, image.status = image.staged, None, "active"
        mib = len(image.data or b"") // 1024**2
        _glance_metadefs.finish_task(cloud, task, "success", f"Copied {mib} MiB", {"image_id": image.id})
    else:
        _glance_metadefs.finish_task(cloud, task, "failure", "Task failed due to Internal Error", None)
    touch(cloud, image)


@ROUTES.route("GET", "/images/{id}/tasks")
def _image_tasks(cloud: Cloud, _req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    image = visible_image(cloud, ctx, params["id"])
    tasks = sorted(
        (t for t in cloud.state.glance_tasks.values() if t.image_id == image.id), key=lambda t: -t.seq
    )

    def moment(t: float | None) -> str | None:
        return None if t is None else iso(cloud.wall(t), style="keystone").removesuffix("Z")

    views = [
        {
            "id": t.id,
            "type": t.type,
            "status": t.status,
            "owner": t.owner,
            "expires_at": moment(t.expires),
            "created_at": moment(t.created),
            "updated_at": moment(t.updated),
            "deleted_at": None,
            "deleted": False,
            "image_id": t.image_id,
            "request_id": t.request_id,
            "user_id": t.user_id,
            "input": t.input,
            "result": t.result,
            "message": t.message,
        }
        for t in tasks
    ]
    return Reply.json(STATUS_GOOD, {"tasks": views})


# ================================================================================== members
def _member_view(cloud: Cloud, image: Image, member: ImageMember) -> Json:
    return {
        "member_id": member.project_id,
        "image_id": image.id,
        "status": member.status,
        "created_at": when(cloud, member.created),
        "updated_at": when(cloud, member.updated),
        "schema": "/v2/schemas/member",
    }


def _shared_image(cloud: Cloud, ctx: Ctx, image_id: str, refusal: str) -> Image:
    image = visible_image(cloud, ctx, image_id)
    if image.visibility != "shared":
        raise ApiError(403, refusal)
    return image


def _member(image: Image, ctx: Ctx, member_id: str) -> ImageMember:
    member = image.members.get(member_id)
    # assumption: a member sees its own membership only, as in the member list
    if member is None or not (ctx.is_admin or ctx.project_id in (image.owner, member_id)):
        raise ApiError(404, f"{member_id} not found in the member list of the image {image.id}.")
    return member


@ROUTES.route("POST", "/images/{id}/members")
def _add_member(cloud: Cloud, req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    image_id = params["id"]
    image = _shared_image(cloud, ctx, image_id, f"Not allowed to create members for image {image_id}.")
    if not (ctx.is_admin or image.owner == ctx.project_id):
        raise ApiError(403, "You are not authorized to complete add_member action.")
    member_id = body_of(req).get("member")
    if not isinstance(member_id, str) or not member_id:
        raise ApiError(400, "Member to be added not specified")
    if member_id in image.members:
        raise ApiError(409, f"Member {member_id} is duplicated for image {image_id}")
    now = cloud.now()
    member = image.members[member_id] = ImageMember(member_id, "pending", now, now)
    return Reply.json(STATUS_GOOD, _member_view(cloud, image, member))


@ROUTES.route("GET", "/images/{id}/members")
def _list_members(cloud: Cloud, _req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    image_id = params["id"]
    refusal = f"Not allowed to list members for image {image_id}: Only shared images have members."
    image = _shared_image(cloud, ctx, image_id, refusal)
    everyone = ctx.is_admin or image.owner == ctx.project_id
    members = [m for m in image.members.values() if everyone or m.project_id == ctx.project_id]
    views = [_member_view(cloud, image, m) for m in members]
    return Reply.json(STATUS_GOOD, {"members": views, "schema": "/v2/schemas/members"})


@ROUTES.route("GET", "/images/{id}/members/{member}")
def _get_member(cloud: Cloud, _req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    image = visible_image(cloud, ctx, params["id"])
    return Reply.json(STATUS_GOOD, _member_view(cloud, image, _member(image, ctx, params["member"])))


@ROUTES.route("PUT", "/images/{id}/members/{member}")
def _update_member(cloud: Cloud, req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    image = visible_image(cloud, ctx, params["id"])
    member = _member(image, ctx, params["member"])
    if member.project_id != ctx.project_id and not ctx.is_admin:
        raise ApiError(403, "You are not authorized to complete modify_member action.")
    status = body_of(req).get("status")
    if status is None:
        raise ApiError(400, "Status not specified")  # assumption: Glance's text for a body without it
    if status not in MEMBER_STATUSES:
        raise ApiError(400, 'Incorrect request: Status must be "pending", "accepted" or "rejected".')
    member.status, member.updated = str(status), cloud.now()
    return Reply.json(STATUS_GOOD, _member_view(cloud, image, member))


@ROUTES.route("DELETE", "/images/{id}/members/{member}")
def _delete_member(cloud: Cloud, _req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    image = visible_image(cloud, ctx, params["id"])
    member = _member(image, ctx, params["member"])
    if not (ctx.is_admin or image.owner == ctx.project_id):
        raise ApiError(403, "You are not authorized to complete delete_member action.")
    del image.members[member.project_id]
    return empty(204)
