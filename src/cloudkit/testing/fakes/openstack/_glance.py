"""Glance (image v2) of the OpenStack fake: versions, image list and show."""

from __future__ import annotations

import hashlib
from urllib.parse import urlencode

from cloudkit.testing.fakes._kit import Reply, Request
from cloudkit.testing.fakes.openstack._cloud import Cloud, Ctx, Routes, dispatch
from cloudkit.testing.fakes.openstack._state import Image, Json
from cloudkit.testing.fakes.openstack._wire import STATUS_GOOD, STATUS_MULTIPLE, ApiError, as_int, iso

_LIMIT_DEFAULT, _LIMIT_MAX = 25, 1000
_NEWEST_MINOR = 17  # assumption: Glance 33 lists v2.0 ... v2.17, the newest CURRENT
ROUTES = Routes()


def serve(cloud: Cloud, req: Request) -> Reply:
    """Answer a request below ``/image``."""
    path = req.path
    if path in ("/image", "/image/v2") and req.method in ("GET", "HEAD"):
        return Reply.json(STATUS_MULTIPLE, {"versions": _versions(cloud)})
    rest = path.removeprefix("/image/v2")
    if rest == path:
        raise ApiError(404, "The resource could not be found.")
    return dispatch(ROUTES, cloud, req, cloud.context(req), rest)


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


def _image_view(cloud: Cloud, image: Image) -> Json:
    created = iso(cloud.wall(image.created), style="nova")
    digest = hashlib.sha512(image.id.encode()).hexdigest()
    return {
        "id": image.id,
        "name": image.name,
        "status": "active",
        "visibility": image.visibility,
        "protected": False,
        "os_hidden": False,
        "disk_format": "qcow2",
        "container_format": "bare",
        "size": image.size,
        "virtual_size": None,
        "min_disk": image.min_disk,
        "min_ram": 0,
        "owner": image.owner,
        "checksum": digest[:32],
        "os_hash_algo": "sha512",
        "os_hash_value": digest,
        "tags": [],
        "created_at": created,
        "updated_at": created,
        "self": f"/v2/images/{image.id}",
        "file": f"/v2/images/{image.id}/file",
        "schema": "/v2/schemas/image",
        "os_distro": image.os_distro,
        "os_version": image.os_version,
    }


@ROUTES.route("GET", "/images")
def _list_images(cloud: Cloud, req: Request, ctx: Ctx, _params: dict[str, str]) -> Reply:
    limit_text = req.arg("limit")
    limit = _LIMIT_DEFAULT if limit_text is None else as_int(limit_text, "limit")
    if limit < 0:
        raise ApiError(400, "limit param must be positive")
    limit = min(limit, _LIMIT_MAX, cloud.max_page_size or _LIMIT_MAX)
    images = sorted(
        (i for i in cloud.state.images.values() if cloud.image_visible(i, ctx)),
        key=lambda i: (-i.created, -i.seq),  # Glance's default: created_at desc, then id
    )
    reserved = {"limit", "marker", "sort_key", "sort_dir", "sort"}
    views = [_image_view(cloud, i) for i in images]
    for key, values in req.query.items():
        if key not in reserved:
            views = [v for v in views if str(v.get(key)) == values[-1]]
    marker = req.arg("marker")
    if marker is not None:
        index = next((n for n, v in enumerate(views) if v["id"] == marker), None)
        if index is None:
            raise ApiError(400, f"Invalid marker. Image {marker} could not be found.")  # assumption
        views = views[index + 1 :]
    chosen = views[:limit]
    params = [(k, v[-1]) for k, v in req.query.items() if k != "marker"]
    query = urlencode(params)
    doc: Json = {
        "images": chosen,
        "schema": "/v2/schemas/images",
        "first": "/v2/images" + (f"?{query}" if query else ""),
    }
    if chosen and len(chosen) == limit:  # Glance: a full page gets a next link (the next may be empty)
        doc["next"] = "/v2/images?" + urlencode([*params, ("marker", chosen[-1]["id"])])
    return Reply.json(STATUS_GOOD, doc)


@ROUTES.route("GET", "/images/{id}")
def _get_image(cloud: Cloud, _req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    image = cloud.state.images.get(params["id"])
    if image is None or not cloud.image_visible(image, ctx):
        raise ApiError(404, f"No image found with ID {params['id']}")  # assumption: Glance's text
    return Reply.json(STATUS_GOOD, _image_view(cloud, image))
