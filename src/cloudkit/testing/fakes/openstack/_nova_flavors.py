"""Nova's flavor management beside the flavor list: create, update, delete, access and extra specs.

Split from `_nova_resources` (which keeps the shared policy and validation helpers); wire facts as there:
an admin manages flavors (``403 Policy doesn't allow <rule> to be performed.`` for a member), flavor
``description`` from 2.55, ``extra_specs`` in the view from 2.61, private flavors seen only by the projects
given access.
"""

from __future__ import annotations

import re
import uuid

from cloudkit.testing.fakes._kit import Reply, Request
from cloudkit.testing.fakes.openstack._cloud import Cloud, Ctx, pick_action
from cloudkit.testing.fakes.openstack._nova_resources import (
    NAME_MAX,
    SPEC_KEY,
    checked_count,
    checked_name,
    invalid,
    require_admin,
    section,
    spec_value,
    unexpected,
)
from cloudkit.testing.fakes.openstack._state import Flavor, Json
from cloudkit.testing.fakes.openstack._wire import (
    STATUS_GOOD,
    ApiError,
    as_bool,
    as_int,
    body_of,
    empty,
    page,
)


# ================================================================================== flavors
def flavor_view(cloud: Cloud, flavor: Flavor, ctx: Ctx, *, detail: bool) -> Json:
    """A flavor as Nova shows it at the caller's microversion."""
    links = [
        {"rel": "self", "href": f"{cloud.base_url}/compute/v2.1/flavors/{flavor.id}"},
        {"rel": "bookmark", "href": f"{cloud.base_url}/compute/flavors/{flavor.id}"},
    ]
    view: Json = {"id": flavor.id, "name": flavor.name, "links": links}
    if ctx.at_least(2, 55):
        view["description"] = flavor.description
    if not detail:
        return view
    view.update(
        {
            "ram": flavor.ram,
            "vcpus": flavor.vcpus,
            "disk": flavor.disk,
            "OS-FLV-EXT-DATA:ephemeral": flavor.ephemeral,
            "OS-FLV-DISABLED:disabled": False,
            # Nova stores no swap as 0 and shows it as "" before 2.75
            "swap": flavor.swap if ctx.at_least(2, 75) or flavor.swap else "",
            "rxtx_factor": flavor.rxtx_factor,
            "os-flavor-access:is_public": flavor.is_public,
        }
    )
    if ctx.at_least(2, 61):
        view["extra_specs"] = dict(flavor.extra_specs)
    return view


def _may_use(flavor: Flavor, ctx: Ctx) -> bool:
    # Nova's flavor query for a non-admin: public flavors and the private ones its project was given.
    return ctx.is_admin or flavor.is_public or ctx.project_id in flavor.access


def listed_flavors(cloud: Cloud, req: Request, ctx: Ctx) -> tuple[list[Flavor], str | None]:
    """The flavors a ``GET /flavors`` shows, in Nova's default order (by id), and the next page's marker.

    ``is_public`` is Nova's ternary filter, for an admin only: absent or true lists the public flavors
    (and the private ones the project was given), false the private ones, ``none`` every flavor; a
    member always sees the public flavors and those its project was given.
    """
    flavors = sorted(cloud.state.flavors.values(), key=lambda f: f.id)
    wanted = req.arg("is_public")
    if ctx.is_admin and wanted is not None and wanted.strip().lower() == "none":
        chosen = flavors
    else:
        public = True if not ctx.is_admin or wanted is None else _filter_bool(wanted, "is_public")
        chosen = [f for f in flavors if f.is_public == public or (public and ctx.project_id in f.access)]
    for arg, attribute in (("minDisk", "disk"), ("minRam", "ram")):
        if req.arg(arg) is not None:
            least = as_int(req.arg(arg), arg)
            chosen = [f for f in chosen if getattr(f, attribute) >= least]
    if req.arg("marker") is not None and not any(f.id == req.arg("marker") for f in chosen):
        raise ApiError(400, f"Marker {req.arg('marker')} could not be found.")
    return page(chosen, req, lambda f: f.id, cloud.max_page_size)


def _filter_bool(text: str, name: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on", "t", "y"):
        return True
    if lowered in ("0", "false", "no", "off", "f", "n"):
        return False
    raise ApiError(400, f"Invalid {name} filter [{text}]")


def visible_flavor(cloud: Cloud, ctx: Ctx, flavor_id: str) -> Flavor:
    """The flavor ``flavor_id`` if the caller may see it; Nova's 404 otherwise."""
    flavor = cloud.state.flavors.get(flavor_id)
    if flavor is None or not _may_use(flavor, ctx):
        raise ApiError(404, f"Flavor {flavor_id} could not be found.")
    return flavor


_FLAVOR_ID = re.compile(r"^(?! )[a-zA-Z0-9. _-]+(?<! )$")
_FLAVOR_KEYS = {
    "name",
    "id",
    "ram",
    "vcpus",
    "disk",
    "OS-FLV-EXT-DATA:ephemeral",
    "swap",
    "rxtx_factor",
    "os-flavor-access:is_public",
}


def create_flavor(cloud: Cloud, req: Request, ctx: Ctx, _params: dict[str, str]) -> Reply:
    """``POST /flavors`` (admin): 200 with the new flavor; 409 when its name or id is taken."""
    require_admin(ctx, "os-flavor-manage:create")
    spec = section(req, "flavor")
    allowed = _FLAVOR_KEYS | ({"description"} if ctx.at_least(2, 55) else set())
    if set(spec) - allowed:
        raise unexpected("flavor", spec, set(spec) - allowed)
    name = checked_name(spec.get("name"))
    flavor_id = spec.get("id")
    if flavor_id is None:
        flavor_id = str(uuid.uuid4())
    elif not isinstance(flavor_id, str) or not _FLAVOR_ID.match(flavor_id) or len(flavor_id) > NAME_MAX:
        raise invalid("id", flavor_id)
    rxtx = spec.get("rxtx_factor", 1.0)
    if isinstance(rxtx, bool) or not isinstance(rxtx, int | float) or not 0 < rxtx <= 3.40282e38:  # noqa: PLR2004
        raise invalid("rxtx_factor", rxtx)
    description = spec.get("description")
    if description is not None and (not isinstance(description, str) or len(description) > 65535):  # noqa: PLR2004
        raise invalid("description", description)
    flavor = Flavor(
        id=flavor_id,
        name=name,
        vcpus=checked_count(spec.get("vcpus"), "vcpus", 1),
        ram=checked_count(spec.get("ram"), "ram", 1),
        disk=checked_count(spec.get("disk"), "disk", 0),
        ephemeral=checked_count(spec.get("OS-FLV-EXT-DATA:ephemeral", 0), "OS-FLV-EXT-DATA:ephemeral", 0),
        swap=checked_count(spec.get("swap") or 0, "swap", 0),
        rxtx_factor=float(rxtx),
        is_public=as_bool(spec.get("os-flavor-access:is_public", True)),
        description=description,
    )
    if any(f.name == name for f in cloud.state.flavors.values()):
        raise ApiError(409, f"Flavor with name {name} already exists.")
    if flavor.id in cloud.state.flavors:
        raise ApiError(409, f"Flavor with ID {flavor.id} already exists.")
    # Nova gives the creating project no access to its private flavor (bug 1209101, kept for compat).
    cloud.state.flavors[flavor.id] = flavor
    return Reply.json(STATUS_GOOD, {"flavor": flavor_view(cloud, flavor, ctx, detail=True)})


def update_flavor(cloud: Cloud, req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    """``PUT /flavors/{id}`` (2.55+, admin): only the description changes."""
    if not ctx.at_least(2, 55):
        raise ApiError(404, "The resource could not be found.")  # the method does not exist below 2.55
    require_admin(ctx, "os-flavor-manage:update")
    spec = section(req, "flavor")
    if set(spec) - {"description"} or "description" not in spec:
        raise invalid("flavor", spec, "'description' is a required property")
    description = spec["description"]
    if description is not None and (not isinstance(description, str) or len(description) > 65535):  # noqa: PLR2004
        raise invalid("description", description)
    flavor = visible_flavor(cloud, ctx, params["id"])
    flavor.description = description
    return Reply.json(STATUS_GOOD, {"flavor": flavor_view(cloud, flavor, ctx, detail=True)})


def delete_flavor(cloud: Cloud, _req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    """``DELETE /flavors/{id}`` (admin): 202; servers built from it keep their copy of it."""
    require_admin(ctx, "os-flavor-manage:delete")
    del cloud.state.flavors[visible_flavor(cloud, ctx, params["id"]).id]
    return empty(202)


def _access_view(flavor: Flavor) -> Json:
    return {"flavor_access": [{"flavor_id": flavor.id, "tenant_id": p} for p in flavor.access]}


def list_flavor_access(cloud: Cloud, _req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    """``GET /flavors/{id}/os-flavor-access`` (admin): the projects given a private flavor."""
    require_admin(ctx, "os-flavor-access")
    flavor = visible_flavor(cloud, ctx, params["id"])
    if flavor.is_public:
        raise ApiError(404, "Access list not available for public flavors.")
    return Reply.json(STATUS_GOOD, _access_view(flavor))


def flavor_action(cloud: Cloud, req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    """``POST /flavors/{id}/action``: ``addTenantAccess`` and ``removeTenantAccess`` (admin)."""
    handler, args = pick_action(req, {"addTenantAccess": _add_access, "removeTenantAccess": _remove_access})
    return handler(cloud, ctx, params["id"], args)


def _access_tenant(cloud: Cloud, action: str, args: object) -> str:
    tenant = args.get("tenant") if isinstance(args, dict) else None
    if not isinstance(tenant, str) or not tenant:
        raise invalid(action, args, "'tenant' is a required property")
    if tenant not in cloud.state.projects:  # Nova asks Keystone whether the project exists
        raise ApiError(400, f"Project ID {tenant} is not a valid project.")
    return tenant


def _add_access(cloud: Cloud, ctx: Ctx, flavor_id: str, args: object) -> Reply:
    require_admin(ctx, "os-flavor-access:add_tenant_access")
    tenant = _access_tenant(cloud, "addTenantAccess", args)
    flavor = visible_flavor(cloud, ctx, flavor_id)
    if flavor.is_public:
        raise ApiError(409, "Can not add access to a public flavor.")
    if tenant in flavor.access:
        raise ApiError(
            409, f"Flavor access already exists for flavor {flavor.id} and project {tenant} combination."
        )
    flavor.access.append(tenant)
    return Reply.json(STATUS_GOOD, _access_view(flavor))


def _remove_access(cloud: Cloud, ctx: Ctx, flavor_id: str, args: object) -> Reply:
    require_admin(ctx, "os-flavor-access:remove_tenant_access")
    tenant = _access_tenant(cloud, "removeTenantAccess", args)
    flavor = visible_flavor(cloud, ctx, flavor_id)
    if tenant not in flavor.access:
        raise ApiError(404, f"Flavor access not found for {flavor.id} / {tenant} combination.")
    flavor.access.remove(tenant)
    return Reply.json(STATUS_GOOD, _access_view(flavor))


# ================================================================================== flavor extra specs


def _checked_specs(specs: object) -> dict[str, str]:
    if not isinstance(specs, dict):
        raise invalid("extra_specs", specs, f"{specs!r} is not of type 'object'")
    for key in specs:
        if not SPEC_KEY.match(key):
            raise invalid("extra_specs", specs, f"{key!r} does not match any of the regexes")
    # assumption: 2.86's validation of namespaced keys (hw:, hw_rng:, ...) is not modeled: any key passes
    return {key: spec_value(key, value) for key, value in specs.items()}


def list_extra_specs(cloud: Cloud, _req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    """``GET /flavors/{id}/os-extra_specs``."""
    flavor = visible_flavor(cloud, ctx, params["id"])
    return Reply.json(STATUS_GOOD, {"extra_specs": dict(flavor.extra_specs)})


def create_extra_specs(cloud: Cloud, req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    """``POST /flavors/{id}/os-extra_specs`` (admin): adds or replaces the given keys, echoes them."""
    require_admin(ctx, "os-flavor-extra-specs:create")
    body = body_of(req)
    specs = _checked_specs(body.get("extra_specs"))
    flavor = visible_flavor(cloud, ctx, params["id"])
    flavor.extra_specs.update(specs)
    return Reply.json(STATUS_GOOD, body)


def _spec_key(flavor: Flavor, params: dict[str, str]) -> str:
    key = params["key"]
    if key not in flavor.extra_specs:
        raise ApiError(404, f"Flavor {flavor.id} has no extra specs with key {key}.")
    return key


def get_extra_spec(cloud: Cloud, _req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    """``GET /flavors/{id}/os-extra_specs/{key}``: ``{key: value}``."""
    flavor = visible_flavor(cloud, ctx, params["id"])
    key = _spec_key(flavor, params)
    return Reply.json(STATUS_GOOD, {key: flavor.extra_specs[key]})


def update_extra_spec(cloud: Cloud, req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    """``PUT /flavors/{id}/os-extra_specs/{key}`` (admin) with ``{key: value}``, echoed."""
    require_admin(ctx, "os-flavor-extra-specs:update")
    body = body_of(req)
    if params["key"] not in body:
        raise ApiError(400, "Request body and URI mismatch")
    if len(body) > 1:
        raise ApiError(400, "Request body contains too many items")
    specs = _checked_specs(body)
    flavor = visible_flavor(cloud, ctx, params["id"])
    flavor.extra_specs.update(specs)
    return Reply.json(STATUS_GOOD, body)


def delete_extra_spec(cloud: Cloud, _req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    """``DELETE /flavors/{id}/os-extra_specs/{key}`` (admin): 200 without a body."""
    require_admin(ctx, "os-flavor-extra-specs:delete")
    flavor = visible_flavor(cloud, ctx, params["id"])
    del flavor.extra_specs[_spec_key(flavor, params)]
    return empty(STATUS_GOOD)
