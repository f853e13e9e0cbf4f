"""Server tags and metadata of the OpenStack fake's Nova: checks at create, list filters, ``/tags``.

Wire facts (seen from the lab's Nova 34; the 400 texts are Nova's jsonschema messages, copied from its
answers): tags at create from 2.52, tags in server bodies, the four list filters and the ``/tags``
subresource from 2.26 (its statuses and 404 texts seen from the lab too); at most 50 tags of 1 to 60
characters without ``/`` or ``,``; exact duplicates at create are dropped (``a`` and ``A`` are two tags);
Nova lists a server's tags sorted ignoring case; a MariaDB-backed Nova matches filter tags
case-insensitively. Below 2.26 Nova ignores the tag filters and lists every server.

Known difference: while a server is still a build request (its first reads, BUILD), the lab's Nova shows
its tags in the order given at create; the fake shows them sorted from the start.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Callable, Iterable

from cloudkit.testing.fakes._kit import Reply, Request
from cloudkit.testing.fakes.openstack._cloud import Cloud, Ctx
from cloudkit.testing.fakes.openstack._state import Json, Server
from cloudkit.testing.fakes.openstack._wire import STATUS_GOOD, ApiError, body_of, empty

MAX_TAGS = 50
MAX_TAG_LENGTH = 60
_TAG = re.compile(r"^[^,/]*$")
_METADATA_KEY = r"^[a-zA-Z0-9-_:. ]{1,255}$"
_FILTERS = ("tags", "tags-any", "not-tags", "not-tags-any")


def _invalid(field: str, value: object, problem: str) -> ApiError:
    return ApiError(400, f"Invalid input for field/attribute {field}. Value: {value}. {problem}")


def checked_tags(tags: object) -> list[str]:
    """Tags of a create or a ``PUT /tags`` body, as Nova stores them (deduplicated, sorted); 400 otherwise."""
    if not isinstance(tags, list):
        raise _invalid("tags", tags, f"{tags!r} is not of type 'array'")
    for index, tag in enumerate(tags):
        if not isinstance(tag, str):
            raise _invalid(str(index), tag, f"{tag!r} is not of type 'string'")
        if not tag:
            raise _invalid(str(index), tag, "'' should be non-empty")
        if len(tag) > MAX_TAG_LENGTH:
            raise _invalid(str(index), tag, f"{tag!r} is too long")
        if not _TAG.match(tag):
            raise _invalid(str(index), tag, f"{tag!r} does not match '^[^,/]*$'")
    if len(tags) > MAX_TAGS:
        raise _invalid("tags", tags, f"{tags} is too long")
    return _sorted(tags)


def _sorted(tags: Iterable[str]) -> list[str]:
    # As the lab's Nova 34 lists them: exact duplicates dropped, sorted ignoring case, ties in the order
    # given (["a", "A"] stays so). assumption: the order comes from MariaDB's index, not from Nova.
    return sorted(dict.fromkeys(tags), key=str.lower)


def checked_metadata(metadata: object) -> dict[str, str]:
    """Metadata of a create, as Nova checks it; 400 with Nova's messages otherwise."""
    if metadata is None:
        return {}
    if not isinstance(metadata, dict):
        raise _invalid("metadata", metadata, f"{metadata!r} is not of type 'object'")
    for key, value in metadata.items():
        if not re.match(_METADATA_KEY, key):
            raise _invalid(
                "metadata", metadata, f"{key!r} does not match any of the regexes: '{_METADATA_KEY}'"
            )
        if not isinstance(value, str):
            raise _invalid(key, value, f"{value!r} is not of type 'string'")
        if len(value) > 255:  # noqa: PLR2004 - Nova's limit
            raise _invalid(key, value, f"{value!r} is too long")
    return dict(metadata)


def create_tags(spec: Json, ctx: Ctx) -> list[str]:
    """The tags of a ``POST /servers`` body: refused below 2.52 as Nova refuses any unknown property."""
    if "tags" not in spec:
        return []
    if not ctx.at_least(2, 52):
        raise _invalid("server", spec, "Additional properties are not allowed ('tags' was unexpected)")
    return checked_tags(spec["tags"])


def list_filter(req: Request, ctx: Ctx) -> Callable[[Server], bool]:
    """Nova's tag filters of a server list (2.26+), matched case-insensitively as on MariaDB."""
    if not ctx.at_least(2, 26):
        return lambda _server: True  # Nova drops filters it does not know at this version
    wanted = {
        name: {t.lower() for t in (req.arg(name) or "").split(",") if t} for name in _FILTERS if req.arg(name)
    }

    def keep(server: Server) -> bool:
        have = {t.lower() for t in server.tags}
        return all(
            {
                "tags": want <= have,
                "tags-any": bool(want & have),
                "not-tags": not want <= have,
                "not-tags-any": not want & have,
            }[name]
            for name, want in wanted.items()
        )

    return keep


# ================================================================================== /servers/{id}/tags
def _tagged_server(cloud: Cloud, ctx: Ctx, server_id: str) -> Server:
    if not ctx.at_least(2, 26):
        raise ApiError(404, "The resource could not be found.")
    return cloud.server(ctx, server_id)


def list_server_tags(cloud: Cloud, _req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    """``GET /servers/{id}/tags``."""
    return Reply.json(STATUS_GOOD, {"tags": list(_tagged_server(cloud, ctx, params["id"]).tags)})


def replace_server_tags(cloud: Cloud, req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    """``PUT /servers/{id}/tags`` with ``{"tags": [...]}``: replaces them all."""
    server = _tagged_server(cloud, ctx, params["id"])
    server.tags = checked_tags(body_of(req).get("tags"))
    server.updated = cloud.now()
    return Reply.json(STATUS_GOOD, {"tags": list(server.tags)})


def delete_server_tags(cloud: Cloud, _req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    """``DELETE /servers/{id}/tags``."""
    _tagged_server(cloud, ctx, params["id"]).tags = []
    return empty(204)


def _tag_param(params: dict[str, str]) -> str:
    return urllib.parse.unquote(params["tag"])


def check_server_tag(cloud: Cloud, _req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    """``GET /servers/{id}/tags/{tag}``: 204 when present."""
    server = _tagged_server(cloud, ctx, params["id"])
    tag = _tag_param(params)
    if tag not in server.tags:
        raise ApiError(404, f"Server {server.id} has no tag '{tag}'")  # the lab's Nova 34
    return empty(204)


def add_server_tag(cloud: Cloud, _req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    """``PUT /servers/{id}/tags/{tag}``: 201 with a Location when new, 204 when already there."""
    server = _tagged_server(cloud, ctx, params["id"])
    tag = _tag_param(params)
    if tag in server.tags:
        return empty(204)
    if len(tag) > MAX_TAG_LENGTH or not tag or not _TAG.match(tag):
        raise _invalid("tag", tag, f"{tag!r} is not a valid tag")  # assumption: the path check's text
    if len(server.tags) >= MAX_TAGS:
        # assumption: Nova's TooManyInstanceTags text
        raise ApiError(400, f"Instance has too many tags: at most {MAX_TAGS}.")
    server.tags = _sorted([*server.tags, tag])
    location = f"{cloud.base_url}/compute/v2.1/servers/{server.id}/tags/{tag}"
    return empty(201, [("Location", location)])


def delete_server_tag(cloud: Cloud, _req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    """``DELETE /servers/{id}/tags/{tag}``: 204, or 404 when the server has no such tag."""
    server = _tagged_server(cloud, ctx, params["id"])
    tag = _tag_param(params)
    if tag not in server.tags:
        raise ApiError(404, f"Instance {server.id} has no tag '{tag}'")  # the lab's Nova 34
    server.tags = [t for t in server.tags if t != tag]
    return empty(204)
