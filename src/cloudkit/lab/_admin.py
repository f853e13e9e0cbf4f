"""The admin calls the lab makes itself, over plain httpx: registration, seeding, readiness, tenants.

Per-test isolation lives here too: ``create_tenant`` makes a project and a member user, ``purge_project``
deletes everything a test left in a project (servers, snapshots, volumes), then the user and the project.
"""

from __future__ import annotations

import time
from typing import Any

import attrs
import httpx

from cloudkit._keystone import TOKEN_HEADER, login_body
from cloudkit.errors import LabError
from cloudkit.lab import _configs
from cloudkit.lab._configs import ADMIN_PASSWORD, SERVICE_USERS, LabPorts

LAB_ADMIN_HEADER = "X-Cloudkit-Lab-Admin"  # cassettes never record a request that carries it

__all__ = ["LabAdmin", "LabTenant"]

# devstack's m1 flavors with its ids (the embedded fake seeds the same)
_SEED_FLAVORS = (
    ("1", "m1.tiny", 1, 512, 1),
    ("2", "m1.small", 1, 2048, 20),
    ("3", "m1.medium", 2, 4096, 40),
    ("4", "m1.large", 4, 8192, 80),
    ("5", "m1.xlarge", 8, 16384, 160),
)
# Glance's own image fields (glance/api/v2/images.py's schema): anything else is a custom property.
_GLANCE_IMAGE_FIELDS = frozenset(
    {
        "id",
        "name",
        "status",
        "visibility",
        "protected",
        "os_hidden",
        "checksum",
        "os_hash_algo",
        "os_hash_value",
        "owner",
        "size",
        "virtual_size",
        "min_ram",
        "min_disk",
        "disk_format",
        "container_format",
        "created_at",
        "updated_at",
        "tags",
        "direct_url",
        "locations",
        "self",
        "file",
        "schema",
        "stores",
    }
)
_SEED_IMAGES = (
    ("cirros-0.6.2", "cirros", "0.6.2", 1),
    ("debian-12", "debian", "12", 2),
    ("ubuntu-24.04", "ubuntu", "24.04", 3),
)


def _refuse_errors(response: httpx.Response) -> None:
    """Every admin call must succeed, except a DELETE of what is already gone (clean-up is idempotent)."""
    already_gone = response.status_code == httpx.codes.NOT_FOUND and response.request.method == "DELETE"
    if not response.is_error or already_gone:
        return
    response.read()
    request = response.request
    raise LabError(
        f"{request.method} {request.url.copy_with(query=None)} answered {response.status_code}: "
        f"{response.text[:300]}",
        operation="admin",
    )


class LabAdmin:
    """The few Keystone/Nova/Glance admin calls the lab makes itself (plain httpx: no SDK warnings)."""

    def __init__(self, ports: LabPorts) -> None:
        self.ports = ports
        # The header keeps these calls out of cassettes recorded while the lab sets a test up.
        self.http = httpx.Client(
            timeout=60.0, headers={LAB_ADMIN_HEADER: "1"}, event_hooks={"response": [_refuse_errors]}
        )
        body = login_body(user_name="admin", password=ADMIN_PASSWORD, project_name="admin")
        reply = self.http.post(f"{_configs.keystone_url(ports)}/v3/auth/tokens", json=body)
        self.http.headers["X-Auth-Token"] = reply.headers[TOKEN_HEADER]
        self._admin_project: str | None = None

    def _cinder_url(self) -> str:
        """Cinder's v3 root in the admin project (looked up once per admin session)."""
        if self._admin_project is None:
            self._admin_project = self.ks("GET", "/projects", params={"name": "admin"})["projects"][0]["id"]
        return f"http://127.0.0.1:{self.ports.cinder}/v3/{self._admin_project}"

    def close(self) -> None:
        self.http.close()

    def ks(self, method: str, path: str, **kwargs: Any) -> Any:
        reply = self.http.request(method, f"{_configs.keystone_url(self.ports)}/v3{path}", **kwargs)
        return reply.json() if reply.content else None

    def find_or_create(self, collection: str, name: str, body: dict[str, Any]) -> str:
        found = self.ks("GET", f"/{collection}", params={"name": name})[collection]
        if found:
            return str(found[0]["id"])
        key = collection.removesuffix("s")
        return str(self.ks("POST", f"/{collection}", json={key: {"name": name, **body}})[key]["id"])

    def register_services(self) -> None:
        """Service project, users with admin+service roles, and the catalog (reference §7.5)."""
        project = self.find_or_create("projects", "service", {"domain_id": "default"})
        roles = {
            name: self.find_or_create("roles", name, {}) for name in ("admin", "service", "member", "reader")
        }
        for user in SERVICE_USERS:
            uid = self.find_or_create("users", user, {"password": f"{user}pass", "domain_id": "default"})
            for role in ("admin", "service"):
                self.ks("PUT", f"/projects/{project}/users/{uid}/roles/{roles[role]}")
        for name, kind, url in _configs.catalog(self.ports):
            if self.ks("GET", "/services", params={"type": kind})["services"]:
                continue
            sid = self.ks("POST", "/services", json={"service": {"name": name, "type": kind}})["service"][
                "id"
            ]
            for interface in ("public", "internal", "admin"):
                endpoint = {"service_id": sid, "interface": interface, "url": url, "region_id": "RegionOne"}
                self.ks("POST", "/endpoints", json={"endpoint": endpoint})

    def seed(self) -> None:
        """The flavors and public images the embedded fake is seeded with, so the same tests run on both."""
        nova = f"http://127.0.0.1:{self.ports.nova}/v2.1"
        for flavor_id, name, vcpus, ram, disk in _SEED_FLAVORS:
            flavor = {"id": flavor_id, "name": name, "vcpus": vcpus, "ram": ram, "disk": disk}
            self.http.post(f"{nova}/flavors", json={"flavor": flavor})
        glance = f"http://127.0.0.1:{self.ports.glance}/v2"
        for name, distro, version, min_disk in _SEED_IMAGES:
            spec = {
                "name": name,
                "disk_format": "raw",
                "container_format": "bare",
                "visibility": "public",
                "min_disk": min_disk,
                "os_distro": distro,
                "os_version": version,
            }
            created = self.http.post(f"{glance}/images", json=spec)
            self.http.put(
                f"{glance}/images/{created.json()['id']}/file",
                content=b"\0" * 1024 * 1024,
                headers={"Content-Type": "application/octet-stream"},  # else Glance answers 415
            )

    def restore_seed_images(self) -> None:
        """Give the seeded images back their OS metadata and drop properties others added.

        openstacksdk's functional ``compute/v2/test_image`` deletes every metadata key of the first image
        Nova lists (our ``ubuntu-24.04``) through Nova's image proxy; the portal tests pick images by
        ``os_distro``.
        """
        glance = f"http://127.0.0.1:{self.ports.glance}/v2"
        patch_type = {"Content-Type": "application/openstack-images-v2.1-json-patch"}
        for name, distro, version, _min_disk in _SEED_IMAGES:
            for image in self.http.get(f"{glance}/images", params={"name": name}).json()["images"]:
                extra = sorted(set(image) - _GLANCE_IMAGE_FIELDS - {"os_distro", "os_version"})
                ops: list[dict[str, Any]] = [{"op": "remove", "path": f"/{key}"} for key in extra]
                ops += [
                    {"op": "add", "path": "/os_distro", "value": distro},  # add also replaces
                    {"op": "add", "path": "/os_version", "value": version},
                ]
                self.http.patch(f"{glance}/images/{image['id']}", json=ops, headers=patch_type)

    def seed_network(self) -> None:
        """Neutron's bootstrap as devstack does it: the external network, its subnet, the default pool.

        The external flat network ``public`` (the default one for auto-allocation), its subnet, and the
        shared default IPv4 subnet pool: what ``networks="auto"`` and floating IPs need. devstack makes
        ``public`` external, not shared: a project boots on its own networks (or on the topology
        ``networks="auto"`` allocates from the pool) and reaches ``public`` through a router.
        """
        neutron = f"http://127.0.0.1:{self.ports.neutron}/v2.0"
        network = {
            "name": _configs.PUBLIC_NETWORK,
            "router:external": True,
            "is_default": True,
            "provider:network_type": "flat",
            "provider:physical_network": _configs.PUBLIC_NETWORK,
        }
        network_id = self.http.post(f"{neutron}/networks", json={"network": network}).json()["network"]["id"]
        subnet = {
            "name": _configs.PUBLIC_SUBNET,
            "network_id": network_id,
            "ip_version": 4,
            "cidr": _configs.PUBLIC_CIDR,
            "enable_dhcp": False,
        }
        self.http.post(f"{neutron}/subnets", json={"subnet": subnet})
        pool = {
            "name": _configs.SUBNET_POOL,
            "prefixes": [_configs.SUBNET_POOL_PREFIX],
            "default_prefixlen": _configs.SUBNET_POOL_PREFIXLEN,
            "shared": True,
            "is_default": True,
        }
        self.http.post(f"{neutron}/subnetpools", json={"subnetpool": pool})

    def wait_compute_up(self, deadline: float) -> None:
        """Until Nova itself reports nova-compute ``up``: what its scheduler checks before placing a server.

        After a restore the service row carries the snapshot's heartbeat, too old to count, until the
        first new one (5 s after nova-compute joins); a server asked for before that gets "No valid host".
        """
        url = f"http://127.0.0.1:{self.ports.nova}/v2.1/os-services"
        states: list[tuple[str, str]] = []
        while time.monotonic() < deadline:
            services = self.http.get(url, params={"binary": "nova-compute"}).json()["services"]
            states = [(str(s["state"]), str(s["status"])) for s in services]
            if ("up", "enabled") in states:
                return
            time.sleep(0.2)
        raise LabError(
            f"nova-compute never reported up to Nova: {states}; see nova-compute.log", operation="up"
        )

    def volume_round_trip(self, deadline: float) -> None:
        """Make and delete a 1 GiB volume: proves cinder-api, -scheduler and -volume talk to each other."""
        cinder = self._cinder_url()
        volume = self.http.post(f"{cinder}/volumes", json={"volume": {"size": 1, "name": "lab-ready-check"}})
        url = f"{cinder}/volumes/{volume.json()['volume']['id']}"
        status = "?"
        while time.monotonic() < deadline:
            status = self.http.get(url).json()["volume"]["status"]
            if status in {"available", "error"}:
                break
            time.sleep(0.2)
        self.http.delete(url)
        if status != "available":
            raise LabError(f"the ready-check volume ended {status!r}; see cinder-volume.log", operation="up")

    # ------------------------------------------------------------------------------ tenants
    def create_tenant(self, project: str, username: str, password: str) -> LabTenant:
        """A new project with a new user holding ``member`` in it (purge an older one first)."""
        project_id = self.ks(
            "POST", "/projects", json={"project": {"name": project, "domain_id": "default"}}
        )["project"]["id"]
        user = {
            "name": username,
            "password": password,
            "domain_id": "default",
            "default_project_id": project_id,
        }
        user_id = self.ks("POST", "/users", json={"user": user})["user"]["id"]
        member = self.ks("GET", "/roles", params={"name": "member"})["roles"][0]["id"]
        self.ks("PUT", f"/projects/{project_id}/users/{user_id}/roles/{member}")
        return LabTenant(project, project_id, username, user_id)

    def purge_project(self, project: str, username: str | None = None, *, timeout: float = 120.0) -> None:
        """Delete the project's servers, snapshots, volumes and networks, then its user and the project.

        Servers, snapshots and volumes are waited for until gone; Neutron deletes synchronously.
        """
        found = self.ks("GET", "/projects", params={"name": project})["projects"]
        deadline = time.monotonic() + timeout
        for entry in found:
            self._purge_compute_and_storage(str(entry["id"]), deadline)
            self._purge_network(str(entry["id"]))
        if username is not None:
            for user in self.ks("GET", "/users", params={"name": username})["users"]:
                self.ks("DELETE", f"/users/{user['id']}")
        for entry in found:
            self.ks("DELETE", f"/projects/{entry['id']}")

    def _purge_compute_and_storage(self, project_id: str, deadline: float) -> None:
        nova = f"http://127.0.0.1:{self.ports.nova}/v2.1"
        servers_url = f"{nova}/servers/detail"
        scope = {"all_tenants": "1", "project_id": project_id}
        for server in self.http.get(servers_url, params=scope).json()["servers"]:
            if server.get("locked"):
                self.http.post(f"{nova}/servers/{server['id']}/action", json={"unlock": None})
            self.http.delete(f"{nova}/servers/{server['id']}")
        self._wait_empty(
            lambda: self.http.get(servers_url, params=scope).json()["servers"], deadline, "servers"
        )
        cinder = self._cinder_url()
        snapshots_url = f"{cinder}/snapshots/detail"
        for snapshot in self.http.get(snapshots_url, params=scope).json()["snapshots"]:
            self.http.delete(f"{cinder}/snapshots/{snapshot['id']}")
        self._wait_empty(
            lambda: self.http.get(snapshots_url, params=scope).json()["snapshots"], deadline, "snapshots"
        )
        volumes_url = f"{cinder}/volumes/detail"
        for volume in self.http.get(volumes_url, params=scope).json()["volumes"]:
            url = f"{cinder}/volumes/{volume['id']}"
            if volume["status"] != "available":  # e.g. a Cinder-only attach a test left behind
                reset = {"os-reset_status": {"status": "available", "attach_status": "detached"}}
                self.http.post(f"{url}/action", json=reset)
            self.http.delete(url)
        self._wait_empty(
            lambda: self.http.get(volumes_url, params=scope).json()["volumes"], deadline, "volumes"
        )

    def _purge_network(self, project_id: str) -> None:
        """Delete the project's Neutron resources, after its servers (whose ports Nova releases).

        In the order Neutron accepts: floating IPs, the ports of servers and users, the auto-allocated
        topology, routers (interfaces first), networks with their subnets, security groups, subnet pools.
        """
        neutron = f"http://127.0.0.1:{self.ports.neutron}/v2.0"

        def listing(collection: str) -> list[dict[str, Any]]:
            found = self.http.get(f"{neutron}/{collection}", params={"project_id": project_id}).json()
            return list(found[collection.replace("-", "_")])

        for floating in listing("floatingips"):
            self.http.delete(f"{neutron}/floatingips/{floating['id']}")
        for port in listing("ports"):
            if not str(port["device_owner"]).startswith("network:"):  # Neutron deletes its own with the net
                self.http.delete(f"{neutron}/ports/{port['id']}")
        # The auto-allocated topology's record would otherwise outlive the network and router it names
        # (Neutron refuses while a floating IP or a port still needs them).
        self.http.delete(f"{neutron}/auto-allocated-topology/{project_id}")
        for router in listing("routers"):
            self._delete_router(neutron, str(router["id"]))
        for collection in ("networks", "security-groups", "subnetpools"):
            for item in listing(collection):
                self.http.delete(f"{neutron}/{collection}/{item['id']}")

    def _delete_router(self, neutron: str, router_id: str) -> None:
        """Detach its interfaces (Neutron refuses to delete a router that has any), then delete it."""
        url = f"{neutron}/routers/{router_id}"
        for port in self.http.get(f"{neutron}/ports", params={"device_id": router_id}).json()["ports"]:
            if port["device_owner"] != "network:router_gateway":  # the gateway goes with the router
                self.http.put(f"{url}/remove_router_interface", json={"port_id": port["id"]})
        self.http.delete(url)

    @staticmethod
    def _wait_empty(listing: Any, deadline: float, what: str) -> None:
        while True:
            left = listing()
            if not left:
                return
            if time.monotonic() > deadline:
                names = [(item.get("id"), item.get("status")) for item in left]
                raise LabError(f"cleanup: {what} still there: {names}", operation="purge")
            time.sleep(0.25)


@attrs.frozen
class LabTenant:
    """A project and its member user, made for one test.

    Example:
        >>> LabTenant("alice", "p-1", "portal", "u-1").project_name
        'alice'
    """

    project_name: str
    project_id: str
    username: str
    user_id: str
