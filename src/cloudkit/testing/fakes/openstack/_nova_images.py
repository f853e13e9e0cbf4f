"""Nova's image proxy of the OpenStack fake: ``/images`` and ``/images/{id}/metadata`` (Glance's images).

Nova answers these up to 2.35 (the images) and 2.38 (their metadata) and 404 later (nova/api/openstack/
compute/images.py, image_metadata.py). An image's metadata is what Glance keeps besides its own fields:
``os_distro``, ``os_version`` and the other properties.
"""

from __future__ import annotations

from cloudkit.testing.fakes._kit import Reply, Request
from cloudkit.testing.fakes.openstack._cloud import Cloud, Ctx
from cloudkit.testing.fakes.openstack._state import Image, Json
from cloudkit.testing.fakes.openstack._wire import STATUS_GOOD, ApiError, body_of, empty, iso, page

_IMAGES_MAX, _METADATA_MAX = (2, 35), (2, 38)


def _until(ctx: Ctx, newest: tuple[int, int]) -> None:
    if ctx.microversion > newest:
        raise ApiError(404, "The resource could not be found.")


def _image(cloud: Cloud, ctx: Ctx, image_id: str) -> Image:
    image = cloud.state.images.get(image_id)
    if image is None or not cloud.image_visible(image, ctx):
        raise ApiError(404, "Image not found.")
    return image


def _writable(image: Image, ctx: Ctx) -> None:
    """Glance lets the owner (or an admin) change an image; Nova passes its refusal on as 403."""
    if not ctx.is_admin and image.owner != ctx.project_id:
        raise ApiError(403, f"Not authorized for image {image.id}.")


def metadata_of(image: Image) -> dict[str, str]:
    """The image's properties as Nova shows them (``os_distro`` and ``os_version`` among them)."""
    found = {"os_distro": image.os_distro, "os_version": image.os_version, **image.properties}
    return {k: v for k, v in found.items() if v != "" or k not in ("os_distro", "os_version")}


def _store(image: Image, metadata: dict[str, str]) -> None:
    rest = dict(metadata)
    # assumption: the fake's Glance shows an image without os_distro/os_version as ""
    image.os_distro, image.os_version = rest.pop("os_distro", ""), rest.pop("os_version", "")
    image.properties = rest


def _links(cloud: Cloud, image_id: str) -> list[Json]:
    return [
        {"rel": "self", "href": f"{cloud.base_url}/compute/v2.1/images/{image_id}"},
        {"rel": "bookmark", "href": f"{cloud.base_url}/compute/images/{image_id}"},
        {
            "rel": "alternate",
            "type": "application/vnd.openstack.image",
            "href": f"{cloud.base_url}/image/images/{image_id}",
        },
    ]


def _image_view(cloud: Cloud, image: Image) -> Json:
    created = iso(cloud.wall(image.created), style="nova")
    view: Json = {
        "id": image.id,
        "name": image.name,
        "minRam": 0,
        "minDisk": image.min_disk,
        "metadata": metadata_of(image),
        "created": created,
        "updated": created,
        "status": "ACTIVE",  # the fake's Glance images are all active
        "progress": 100,
        "OS-EXT-IMG-SIZE:size": image.size,
        "links": _links(cloud, image.id),
    }
    server_id = image.properties.get("instance_uuid")
    if server_id is not None:
        view["server"] = {
            "id": server_id,
            "links": [
                {"rel": "self", "href": f"{cloud.base_url}/compute/v2.1/servers/{server_id}"},
                {"rel": "bookmark", "href": f"{cloud.base_url}/compute/servers/{server_id}"},
            ],
        }
    return view


def list_images(cloud: Cloud, req: Request, ctx: Ctx, _params: dict[str, str]) -> Reply:
    """``GET /images`` and ``/images/detail`` (``name`` filter, ``limit`` and ``marker``)."""
    _until(ctx, _IMAGES_MAX)
    images = sorted(
        (i for i in cloud.state.images.values() if cloud.image_visible(i, ctx)),
        key=lambda i: (-i.created, -i.seq),  # Glance's order
    )
    name = req.arg("name")
    if name is not None:
        images = [i for i in images if i.name == name]
    chosen, _marker = page(images, req, lambda i: i.id, cloud.max_page_size)
    if req.path.endswith("/detail"):
        views = [_image_view(cloud, i) for i in chosen]
    else:
        views = [{"id": i.id, "name": i.name, "links": _links(cloud, i.id)} for i in chosen]
    return Reply.json(STATUS_GOOD, {"images": views})


def get_image(cloud: Cloud, _req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    """``GET /images/{id}``."""
    _until(ctx, _IMAGES_MAX)
    return Reply.json(STATUS_GOOD, {"image": _image_view(cloud, _image(cloud, ctx, params["id"]))})


def delete_image(cloud: Cloud, _req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    """``DELETE /images/{id}``: Glance deletes it."""
    _until(ctx, _IMAGES_MAX)
    image = _image(cloud, ctx, params["id"])
    if not ctx.is_admin and image.owner != ctx.project_id:
        raise ApiError(403, "You are not allowed to delete the image.")
    del cloud.state.images[image.id]
    return empty(204)


def _metadata_body(req: Request, key: str) -> dict[str, str]:
    value = body_of(req).get(key)
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise ApiError(400, f"Invalid input for field/attribute {key}. Value: {value}.")
    return {str(k): v for k, v in value.items()}


def image_metadata(cloud: Cloud, req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    """``GET``, ``POST`` (merge) and ``PUT`` (replace) ``/images/{id}/metadata``."""
    _until(ctx, _METADATA_MAX)
    image = _image(cloud, ctx, params["id"])
    if req.method == "GET":
        return Reply.json(STATUS_GOOD, {"metadata": metadata_of(image)})
    given = _metadata_body(req, "metadata")
    _writable(image, ctx)
    _store(image, given if req.method == "PUT" else {**metadata_of(image), **given})
    return Reply.json(STATUS_GOOD, {"metadata": metadata_of(image) if req.method == "POST" else given})


def image_metadata_item(cloud: Cloud, req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    """``GET``, ``PUT`` and ``DELETE`` ``/images/{id}/metadata/{key}``."""
    _until(ctx, _METADATA_MAX)
    key = params["key"]
    if req.method == "PUT":
        meta = _metadata_body(req, "meta")
        if key not in meta:
            raise ApiError(400, "Request body and URI mismatch")
    image = _image(cloud, ctx, params["id"])
    metadata = metadata_of(image)
    if req.method == "GET":
        if key not in metadata:
            raise ApiError(404, "The resource could not be found.")
        return Reply.json(STATUS_GOOD, {"meta": {key: metadata[key]}})
    if req.method == "PUT":
        _writable(image, ctx)
        _store(image, {**metadata, key: meta[key]})
        return Reply.json(STATUS_GOOD, {"meta": meta})
    if key not in metadata:
        raise ApiError(404, "Invalid metadata key")
    _writable(image, ctx)
    del metadata[key]
    _store(image, metadata)
    return empty(204)
