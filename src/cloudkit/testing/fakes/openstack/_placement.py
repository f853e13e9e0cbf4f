"""Placement (``/placement``) of the OpenStack fake: the read-only subset capacity checks use.

Routes (Placement api-ref): ``GET /placement`` (the version document), ``GET /resource_providers``,
``GET /resource_providers/{uuid}``, ``.../inventories``, ``.../usages`` and ``.../aggregates``
(microversion 1.1+; ``resource_provider_generation`` from 1.19). Placement's default policy lets only
an admin read any of them.

Consistency with Nova: the one compute host (``fake-compute-1``) is the one resource provider; its uuid
is the hypervisor's uuid (Nova's compute node uuid is its provider's uuid), its inventory is the host's
size with Nova's reserved memory and allocation ratios (`ComputeHost`), its aggregates are the uuids of
the Nova aggregates that hold the host (Nova mirrors host aggregate membership into Placement), and its
usages are the flavors of the servers placed on it: every server the scheduler did not refuse, with
``DISK_GB`` only for a server whose root disk is local (booted from an image), as Nova asks no disk of
Placement for a volume-backed root.
"""

from __future__ import annotations

import math
import re

from cloudkit.testing.fakes._kit import Reply, Request
from cloudkit.testing.fakes.openstack._cloud import Cloud
from cloudkit.testing.fakes.openstack._nova_hosts import HOST
from cloudkit.testing.fakes.openstack._state import Json, Server, uuid5
from cloudkit.testing.fakes.openstack._wire import STATUS_GOOD

PROVIDER = uuid5(f"hypervisor:{HOST}")
"""The provider's uuid: the hypervisor's (compute node's) uuid, as in Nova."""
MAX_VERSION = (1, 39)  # assumption: a 2024.1-era Placement; only the versions below matter here
_PROVIDER_PATH = re.compile(r"/resource_providers/(?P<uuid>[^/]+)(?P<part>/inventories|/usages|/aggregates)?")


class PlacementError(Exception):
    """An error in Placement's own JSON shape: ``{"errors": [{"status", "title", "detail", "code"}]}``."""

    def __init__(self, status: int, title: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.title, self.detail = status, title, detail

    def reply(self) -> Reply:
        error = {
            "status": self.status,
            "title": self.title,
            "detail": self.detail,
            "code": "placement.undefined_code",
        }
        return Reply.json(self.status, {"errors": [error]})


def serve(cloud: Cloud, req: Request) -> Reply:
    """Answer a request below ``/placement``."""
    path = req.path.rstrip("/")
    if path == "/placement" and req.method in ("GET", "HEAD"):  # the root needs no token in Placement
        version = {
            "id": "v1.0",
            "min_version": "1.0",
            "max_version": "{}.{}".format(*MAX_VERSION),
            "status": "CURRENT",
            "links": [{"rel": "self", "href": ""}],
        }
        return Reply.json(STATUS_GOOD, {"versions": [version]})
    ctx = cloud.context(req)  # keystonemiddleware's 401 comes first
    try:
        return _route(cloud, req, path.removeprefix("/placement"), admin=ctx.is_admin)
    except PlacementError as err:
        return err.reply()


def _route(cloud: Cloud, req: Request, rest: str, *, admin: bool) -> Reply:
    version = _microversion(req)
    if req.method != "GET":
        raise PlacementError(405, "Method Not Allowed", "This fake Placement answers reads only.")
    if not admin:
        # assumption: placement/policy.py's refusal text
        raise PlacementError(
            403, "Forbidden", "Policy does not allow placement:resource_providers to be performed."
        )
    if rest == "/resource_providers":
        return Reply.json(STATUS_GOOD, {"resource_providers": [_provider_view(cloud)]})
    found = _PROVIDER_PATH.fullmatch(rest)
    if found is None:
        raise PlacementError(404, "Not Found", "The resource could not be found.")
    if found["uuid"] != PROVIDER:
        raise PlacementError(404, "Not Found", f"No resource provider with uuid {found['uuid']} found")
    return Reply.json(STATUS_GOOD, _provider_part(cloud, found["part"], version))


def _provider_part(cloud: Cloud, part: str | None, version: tuple[int, int]) -> Json:
    if part is None:
        return _provider_view(cloud)
    if part == "/inventories":
        return {"inventories": inventories(cloud), **_generation(cloud)}
    if part == "/usages":
        return {"usages": usages(cloud), **_generation(cloud)}
    if version < (1, 1):
        raise PlacementError(404, "Not Found", "The resource could not be found.")
    body: Json = {"aggregates": aggregates(cloud)}
    if version >= (1, 19):
        body.update(_generation(cloud))
    return body


def _microversion(req: Request) -> tuple[int, int]:
    """``OpenStack-API-Version: placement 1.19`` (``latest`` is the maximum; none is 1.0)."""
    for part in req.headers.get("openstack-api-version", "").split(","):
        words = part.split()
        if len(words) == 2 and words[0].lower() == "placement":  # noqa: PLR2004
            if words[1] == "latest":
                return MAX_VERSION
            match = re.fullmatch(r"1\.(\d+)", words[1])
            if match is None or int(match[1]) > MAX_VERSION[1]:
                raise PlacementError(406, "Not Acceptable", f"Unacceptable version header: {words[1]}")
            return 1, int(match[1])
    return 1, 0


def _generation(cloud: Cloud) -> Json:
    # assumption: a generation that grows with the fake's changes; Placement bumps it per provider write
    return {"resource_provider_generation": cloud.state.seq}


def _provider_view(cloud: Cloud) -> Json:
    link = f"/resource_providers/{PROVIDER}"
    return {
        "uuid": PROVIDER,
        "name": HOST,
        "generation": cloud.state.seq,
        "parent_provider_uuid": None,
        "root_provider_uuid": PROVIDER,
        "links": [{"rel": "self", "href": link}]
        + [{"rel": r, "href": f"{link}/{r}"} for r in ("inventories", "usages", "aggregates")],
    }


def inventories(cloud: Cloud) -> dict[str, Json]:
    """The host's inventory, as Nova's resource tracker reports it to Placement."""
    host = cloud.state.compute_host

    def one(total: int, reserved: int, ratio: float) -> Json:
        return {
            "total": total,
            "reserved": reserved,
            "min_unit": 1,
            "max_unit": total,
            "step_size": 1,
            "allocation_ratio": ratio,
        }

    return {
        "VCPU": one(host.vcpus, 0, host.cpu_allocation_ratio),
        "MEMORY_MB": one(host.ram_mb, host.reserved_ram_mb, host.ram_allocation_ratio),
        "DISK_GB": one(host.disk_gb, 0, host.disk_allocation_ratio),
    }


def placed(cloud: Cloud) -> list[Server]:
    """The servers holding an allocation: all but those the scheduler refused (a fault, no host)."""
    return [s for s in cloud.state.servers.values() if s.fault is None]


def demand(server: Server) -> dict[str, int]:
    """What one server's flavor asks of Placement."""
    flavor = server.flavor
    local_root = flavor.disk if not server.root_volume_id else 0
    return {
        "VCPU": flavor.vcpus,
        "MEMORY_MB": flavor.ram,
        "DISK_GB": local_root + flavor.ephemeral + flavor.swap // 1024,
    }


def usages(cloud: Cloud, *, without: str | None = None) -> dict[str, int]:
    """The sum of the placed servers' demands (leaving out the server ``without``)."""
    total = {"VCPU": 0, "MEMORY_MB": 0, "DISK_GB": 0}
    for server in placed(cloud):
        if server.id != without:
            for name, amount in demand(server).items():
                total[name] += amount
    return total


def fits(cloud: Cloud, server: Server) -> bool:
    """Whether ``server`` fits what is left, by Placement's own rule: used + asked <= capacity."""
    used = usages(cloud, without=server.id)
    for name, inventory in inventories(cloud).items():
        capacity = math.floor((inventory["total"] - inventory["reserved"]) * inventory["allocation_ratio"])
        if used[name] + demand(server)[name] > capacity:
            return False
    return True


def aggregates(cloud: Cloud) -> list[str]:
    """The uuids of the Nova aggregates that hold the host."""
    held = (a for a in sorted(cloud.state.aggregates.values(), key=lambda a: a.id) if HOST in a.hosts)
    return [a.uuid for a in held]
