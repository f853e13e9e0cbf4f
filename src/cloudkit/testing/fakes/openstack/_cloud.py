"""The cloud every handler works on: state, time, tokens, callers, and what several services share."""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol, TypeVar
from urllib.parse import unquote, urlencode

from cloudkit.testing.fakes._kit import Reply, Request, RouteMiss, Router
from cloudkit.testing.fakes.openstack._state import (
    Attachment,
    Image,
    Json,
    Pending,
    Project,
    Server,
    Snapshot,
    State,
    Token,
    User,
    Volume,
)
from cloudkit.testing.fakes.openstack._wire import (
    STATUS_GOOD,
    ApiError,
    as_bool,
    body_of,
    page,
    parse_version,
    version_text,
)

_H = TypeVar("_H")


class _Item(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def name(self) -> str | None: ...
    @property
    def project_id(self) -> str: ...
    @property
    def seq(self) -> int: ...


_Listed = TypeVar("_Listed", bound=_Item)

COMPUTE_MIN = (2, 1)
VOLUME_MIN, VOLUME_MAX = (3, 0), (3, 71)  # Cinder's maximum at the reference's snapshot
UNAUTHORIZED = "The request you have made requires authentication."


@dataclass(frozen=True, slots=True)
class Options:
    transition_seconds: float
    token_ttl: float
    compute_max: tuple[int, int]


@dataclass(frozen=True, slots=True)
class Ctx:
    """Who is calling, with the negotiated microversion (compute/volume only)."""

    token: Token
    user: User
    project: Project | None
    roles: tuple[str, ...]
    microversion: tuple[int, int] = (0, 0)

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles

    @property
    def project_id(self) -> str:
        return self.project.id if self.project else ""

    def at_least(self, major: int, minor: int) -> bool:
        return self.microversion >= (major, minor)


class Cloud:
    """The state, its clock and the switches; every handler takes it. The caller holds the fake's lock."""

    def __init__(self, state: State, options: Options, now: Callable[[], float], wall0: float) -> None:
        self.state = state
        self.options = options
        self.now = now
        self._wall0 = wall0  # wall time (epoch seconds) at fake time 0
        self.base_url = ""
        self.reaches_guest = False
        self.image_boot_allowed = True
        self.max_page_size: int | None = None

    # ------------------------------------------------------------------------------ time
    def wall(self, t: float) -> float:
        return self._wall0 + t

    def later(self, apply: Callable[[], None]) -> None:
        due = self.now() + self.options.transition_seconds
        self.state.pending.append(Pending(due, self.state.next_seq(), apply))

    def tick(self) -> None:
        """Complete every transition that is due, oldest first."""
        now = self.now()
        while True:
            due = [p for p in self.state.pending if p.due <= now]
            if not due:
                return
            first = min(due, key=lambda p: (p.due, p.seq))
            self.state.pending.remove(first)
            first.apply()

    # ------------------------------------------------------------------------------ callers
    def token_problem(self, token_id: str | None) -> str | None:
        """Why the token is not valid now (None: it is valid)."""
        token = self.state.tokens.get(token_id or "")
        if token is None:
            return "Could not recognize Fernet token"
        user = self.state.users.get(token.user_id)
        # "Failed to validate token" is what a real Keystone 30 answered (real-keystone.md §2).
        if token.revoked or user is None or not user.enabled or self.now() >= token.expires:
            return "Failed to validate token"
        # keystone.same-second-revocation: a revocation event covers every token whose issued_at,
        # in whole seconds, is not after it (RevocationEvent.issued_before >= token.issued_at).
        issued = math.floor(token.issued)
        if any(event >= issued for event in self.state.revocations.get(user.id, ())):
            return "Failed to validate token"
        if token.project_id and not self.state.roles_of(user.id, token.project_id):
            return "Failed to validate token"
        return None

    def context(self, req: Request, *, microversion: tuple[int, int] = (0, 0)) -> Ctx:
        """The caller of ``req`` by its token; Keystone's 401 when it has none that is valid."""
        token_id = req.headers.get("x-auth-token")
        if not token_id or self.token_problem(token_id) is not None:
            identity = f"{self.base_url}/identity"
            raise ApiError(
                401,
                UNAUTHORIZED,
                envelope="keystone",
                headers=(("WWW-Authenticate", f'Keystone uri="{identity}"'),),
            )
        token = self.state.tokens[token_id]
        user = self.state.users[token.user_id]
        project = self.state.projects.get(token.project_id or "")
        roles = tuple(self.state.roles_of(user.id, project.id)) if project else ()
        return Ctx(token, user, project, roles, microversion)

    def microversion(self, req: Request, service: Literal["compute", "volume"]) -> tuple[int, int]:
        """The microversion ``req`` asks of ``service`` (its minimum when none); 400/406 when unusable."""
        low, high = (
            (COMPUTE_MIN, self.options.compute_max) if service == "compute" else (VOLUME_MIN, VOLUME_MAX)
        )
        wanted: str | None = None
        for part in req.headers.get("openstack-api-version", "").split(","):
            words = part.split()
            if len(words) == 2 and words[0].lower() == service:  # noqa: PLR2004 - "service version"
                wanted = words[1]
        if wanted is None and service == "compute":
            wanted = req.headers.get("x-openstack-nova-api-version")
        if wanted is None and service == "volume":
            wanted = req.headers.get("openstack-volume-api-version")
        if wanted is None:
            return low
        if wanted.strip().lower() == "latest":
            return high
        version = parse_version(wanted)
        if version is None:
            raise ApiError(
                400, f"API Version String {wanted} is of invalid format. Must be of format MajorNum.MinorNum."
            )
        if not low <= version <= high:
            raise ApiError(
                406,
                f"Version {wanted} is not supported by the API. Minimum is {version_text(low)} and "
                f"maximum is {version_text(high)}.",
            )
        return version

    def visible(self, req: Request, ctx: Ctx, items: Iterable[_Listed]) -> list[_Listed]:
        """The caller's project's ``items`` (all, for an admin asking ``all_tenants``), newest first."""
        everyone = ctx.is_admin and as_bool(req.arg("all_tenants") or "0")
        return sorted((i for i in items if everyone or i.project_id == ctx.project_id), key=lambda i: -i.seq)

    def paged(
        self,
        req: Request,
        key: str,
        items: list[_Listed],
        view: Callable[[_Listed], Json],
        links: Callable[[str], list[Json]] | None = None,
    ) -> Reply:
        """A Nova or Cinder list page of ``items`` under ``key``, with ``<key>_links`` naming the next one.

        With ``links`` the list without ``/detail`` shows each item's id, name and links only.
        """
        chosen, marker = page(items, req, lambda item: item.id, self.max_page_size)
        if links is not None and not req.path.endswith("/detail"):
            views = [{"id": item.id, "name": item.name, "links": links(item.id)} for item in chosen]
        else:
            views = [view(item) for item in chosen]
        doc: Json = {key: views}
        if marker is not None:
            params = {k: v[-1] for k, v in req.query.items() if k != "marker"}
            params["marker"] = marker
            doc[f"{key}_links"] = [{"rel": "next", "href": f"{self.base_url}{req.path}?{urlencode(params)}"}]
        return Reply.json(STATUS_GOOD, doc)

    # ------------------------------------------------------------------------------ shared lookups
    def server(self, ctx: Ctx, server_id: str) -> Server:
        # assumption: an admin token reaches any project's server by id (Nova's default admin policy);
        # lists stay within the token's project unless ``all_tenants`` is given.
        server = self.state.servers.get(server_id)
        if server is None or not (ctx.is_admin or server.project_id == ctx.project_id):
            raise ApiError(404, f"Instance {server_id} could not be found.")
        return server

    def volume(self, ctx: Ctx, volume_id: str) -> Volume:
        volume = self.state.volumes.get(volume_id)
        if volume is None or not (ctx.is_admin or volume.project_id == ctx.project_id):
            raise ApiError(404, f"Volume {volume_id} could not be found.")
        return volume

    def snapshot(self, ctx: Ctx, snapshot_id: str) -> Snapshot:
        snapshot = self.state.snapshots.get(snapshot_id)
        if snapshot is None or not (ctx.is_admin or snapshot.project_id == ctx.project_id):
            raise ApiError(404, f"Snapshot {snapshot_id} could not be found.")
        return snapshot

    @staticmethod
    def image_visible(image: Image, ctx: Ctx) -> bool:
        # Glance shows a shared image to each of its members, whatever the membership's status.
        shared_with = image.visibility == "shared" and ctx.project_id in image.members
        return (
            ctx.is_admin
            or image.visibility in ("public", "community")
            or image.owner == ctx.project_id
            or shared_with
        )

    def guest_attachments(self, server: Server) -> list[Attachment]:
        """Nova's block device mappings of the server: root first, then in attach order."""
        found = [
            a
            for v in self.state.volumes.values()
            for a in v.attachments
            if a.in_guest and a.server_id == server.id
        ]
        return sorted(found, key=lambda a: (a.volume_id != server.root_volume_id, a.device))

    def complete_attach(self, attachment: Attachment) -> None:
        volume = self.state.volumes.get(attachment.volume_id)
        if volume is None or attachment not in volume.attachments:
            return
        attachment.attached, attachment.attached_at = True, self.now()
        volume.status, volume.updated = "in-use", self.now()

    def new_volume(
        self,
        project_id: str,
        user_id: str,
        name: str,
        size: int,
        *,
        image_id: str | None = None,
        description: str | None = None,
    ) -> Volume:
        now = self.now()
        volume = Volume(
            id=str(uuid.uuid4()),
            project_id=project_id,
            user_id=user_id,
            name=name,
            description=description,
            size=size,
            status="creating",
            bootable=image_id is not None,
            seq=self.state.next_seq(),
            created=now,
            updated=now,
            image_id=image_id,
        )
        self.state.volumes[volume.id] = volume
        return volume


# ================================================================================== routing
def pick_action(req: Request, actions: Mapping[str, _H]) -> tuple[_H, Any]:
    """The handler and arguments of an ``/action`` body (one action); 400 when there is no such one."""
    body = body_of(req)
    if len(body) != 1:
        raise ApiError(400, "Malformed request body")
    action, args = next(iter(body.items()))
    handler = actions.get(action)
    if handler is None:
        raise ApiError(400, f"There is no such action: {action}")  # assumption: Cinder's text too
    return handler, args


Handler = Callable[[Cloud, Request, Ctx, dict[str, str]], Reply]
"""A resource handler: the cloud, the request, its caller and the path's parameters."""

Routes = Router[Handler]


def dispatch(routes: Routes, cloud: Cloud, req: Request, ctx: Ctx, rest: str) -> Reply:
    """Answer ``req`` from ``routes`` by its path below the service's version (``rest``)."""
    try:
        handler, params = routes.resolve(req.method, rest)
    except RouteMiss as miss:
        if miss.status == 405:  # noqa: PLR2004 - the path is known, the method is not
            raise ApiError(405, "The method specified is not allowed for this resource.") from None
        raise ApiError(404, "The resource could not be found.") from None
    # The services' routers (routes, webob) hand handlers decoded path segments: a keypair named
    # "my key" arrives as "my%20key" and is found as "my key".
    return handler(cloud, req, ctx, {name: unquote(value) for name, value in params.items()})
