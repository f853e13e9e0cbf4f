"""The lab's configuration files, rendered from one table of ports and paths.

Every value here was measured working in ``shared/reference/real-openstack-lab.md`` §5 and §7; the
comments say why the less obvious ones are there (the reference's pitfall numbers in brackets).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import attrs

__all__ = ["ADMIN_PASSWORD", "PORTS", "SERVICE_USERS", "LabPorts", "Rendered", "render_all"]

# The names and ranges devstack gives its bootstrap (lib/neutron: PUBLIC_NETWORK_NAME, FLOATING_RANGE,
# SUBNETPOOL_PREFIX_V4); the lab seeds the same, so what openstacksdk's functional tests look up exists.
PUBLIC_NETWORK = "public"
PUBLIC_SUBNET = "public-subnet"
PUBLIC_CIDR = "172.24.4.0/24"
SUBNET_POOL = "shared-default-subnetpool-v4"
SUBNET_POOL_PREFIX = "192.168.0.0/16"
SUBNET_POOL_PREFIXLEN = 26

ADMIN_PASSWORD = "adminpass"  # noqa: S105 (a throwaway loopback lab; printed by `cloudkit lab up`)
SERVICE_USERS = ("nova", "placement", "cinder", "neutron", "glance")  # password: "<name>pass"
REGION = "RegionOne"
DB_USER, DB_PASSWORD = "os", "ospass"
MYSQL_DATABASES = ("nova_api", "nova_cell0", "nova_cell1", "cinder", "neutron")


@attrs.frozen
class LabPorts:
    """Loopback ports of the lab; none of them is a service's default, so nothing else is disturbed.

    Example:
        >>> from cloudkit.lab import PORTS
        >>> PORTS.keystone, PORTS.nova, PORTS.cinder
        (25000, 28774, 28776)
    """

    mariadb: int = 23306
    rabbit: int = 25670
    rabbit_dist: int = 25671  # below the ephemeral range (32768-60999), so no client socket holds it
    epmd: int = 24369  # a private epmd, never the system's 4369
    keystone: int = 25000
    placement: int = 28778
    nova: int = 28774
    cinder: int = 28776
    neutron: int = 29696
    glance: int = 29292

    def all(self) -> dict[str, int]:
        """Every port by name."""
        return attrs.asdict(self)


PORTS = LabPorts()


def keystone_url(ports: LabPorts = PORTS) -> str:
    """Keystone's root URL (``/v3`` is served under it)."""
    return f"http://127.0.0.1:{ports.keystone}"


def catalog(ports: LabPorts = PORTS) -> list[tuple[str, str, str]]:
    """``(name, type, url)`` of every service registered in Keystone's catalog."""
    return [
        ("nova", "compute", f"http://127.0.0.1:{ports.nova}/v2.1"),
        ("placement", "placement", f"http://127.0.0.1:{ports.placement}"),
        ("cinderv3", "volumev3", f"http://127.0.0.1:{ports.cinder}/v3"),
        ("cinder", "block-storage", f"http://127.0.0.1:{ports.cinder}/v3"),
        ("neutron", "network", f"http://127.0.0.1:{ports.neutron}"),
        ("glance", "image", f"http://127.0.0.1:{ports.glance}"),
    ]


def _db_url(name: str, ports: LabPorts) -> str:
    return f"mysql+pymysql://{DB_USER}:{DB_PASSWORD}@127.0.0.1:{ports.mariadb}/{name}?charset=utf8"


def _auth(section: str, user: str, ports: LabPorts, *extra: str) -> str:
    lines = [
        f"[{section}]",
        "auth_type = password",
        f"auth_url = {keystone_url(ports)}",
        "project_domain_name = Default",
        "user_domain_name = Default",
        "project_name = service",
        f"username = {user}",
        f"password = {user}pass",
        f"region_name = {REGION}",
        *extra,
    ]
    return "\n".join(lines) + "\n"


def _authtoken(user: str, ports: LabPorts) -> str:
    # service_token_roles_required: Cinder tells Nova's requests from a user's, which is what produces the
    # real 409 ConflictNovaUsingAttachment for a user's os-detach of a Nova attachment [pitfall 10].
    lines = [
        "[keystone_authtoken]",
        f"www_authenticate_uri = {keystone_url(ports)}",
        f"auth_url = {keystone_url(ports)}",
        "auth_type = password",
        "project_domain_name = Default",
        "user_domain_name = Default",
        "project_name = service",
        f"username = {user}",
        f"password = {user}pass",
        "service_token_roles_required = true",
        "service_token_roles = service",
    ]
    return "\n".join(lines) + "\n"


def _shim(module: str, env: dict[str, str]) -> str:
    """A gunicorn entry module: the services parse sys.argv at import, so hide gunicorn's [pitfall 2]."""
    sets = "".join(f"os.environ[{k!r}] = {v!r}\n" for k, v in env.items())
    return (
        "import os, sys\n"
        f"{sets}"
        "_argv, sys.argv = sys.argv, sys.argv[:1]\n"
        "try:\n"
        f"    from {module} import application  # noqa: F401\n"
        "finally:\n"
        "    sys.argv = _argv\n"
    )


# FakeLoggingVolumeDriver inherits LVM's image path: it downloads the image and runs qemu-img through
# privsep/sudo, and the volume goes to error [pitfall 9]. Claiming a driver-side clone skips that; Cinder
# still reads the image from Glance and copies its metadata (bootable, volume_image_metadata).
LAB_CINDER_DRIVER = '''"""FakeLoggingVolumeDriver (upstream) that can make volumes from images."""
from cinder.tests.fake_driver import FakeLoggingVolumeDriver


class ImageFakeVolumeDriver(FakeLoggingVolumeDriver):
    def clone_image(self, context, volume, image_location, image_meta, image_service):
        return {}, True

    def copy_image_to_volume(self, context, volume, image_service, image_id, disable_sparse=False):
        pass

    def copy_volume_to_image(self, context, volume, image_service, image_meta):
        pass
'''


# Nova's fake virt driver never uploads a snapshot: the image Nova made for createImage stays `queued` and
# a client waiting for it to go `active` waits out its own timeout (openstacksdk's: an hour). This one
# uploads a MiB of zeros, as a real driver uploads the disk, so the snapshot goes `active`.
LAB_NOVA_DRIVER = '''"""FakeDriverWithoutFakeNodes (upstream) whose snapshots reach Glance."""
import io

from nova.image import glance
from nova.virt.fake import FakeDriverWithoutFakeNodes


class LabComputeDriver(FakeDriverWithoutFakeNodes):
    def snapshot(self, context, instance, image_id, update_task_state):
        super().snapshot(context, instance, image_id, update_task_state)
        disk = io.BytesIO(b"\\0" * 1024 * 1024)
        meta = {"disk_format": "raw", "container_format": "bare"}
        glance.API().update(context, image_id, meta, disk, purge_props=False)
'''

# With no L2 agent, ML2's openvswitch driver cannot bind a port: it ends `binding_failed` and Nova fails the
# build. This driver binds every port on any host at once (vif_type ovs, status ACTIVE), as an agentless
# backend such as OVN would. ML2 loads drivers only by entry point name, hence the dist-info beside it.
LAB_NEUTRON_DRIVER = '''"""An ML2 mechanism driver that binds every port on any host, with no agent."""
from neutron_lib import constants
from neutron_lib.api.definitions import portbindings
from neutron_lib.plugins.ml2 import api


class LabMechanismDriver(api.MechanismDriver):
    def initialize(self):
        pass

    def bind_port(self, context):
        for segment in context.segments_to_bind:
            context.set_binding(
                segment[api.ID],
                portbindings.VIF_TYPE_OVS,
                {portbindings.CAP_PORT_FILTER: True},
                status=constants.PORT_STATUS_ACTIVE,
            )
            return
'''
LAB_NEUTRON_ENTRY_POINTS = "[neutron.ml2.mechanism_drivers]\nlab = labneutron:LabMechanismDriver\n"


@attrs.frozen
class Rendered:
    """The lab's files: path relative to the run folder -> text, or -> a file shipped in a venv to copy."""

    files: dict[str, str]
    copies: dict[str, Path]

    def write(self, run: Path) -> None:
        """Write (and copy) every file under ``run``."""
        for relative, text in self.files.items():
            path = run / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        for relative, source in self.copies.items():
            shutil.copyfile(source, run / relative)


def render_all(run: Path, venvs: Path, ports: LabPorts = PORTS) -> Rendered:
    """Every config file of the lab, for a run folder ``run`` and the venvs under ``venvs``.

    Example:
        >>> from pathlib import Path
        >>> files = render_all(Path("/lab/run"), Path("/lab/venvs")).files
        >>> "compute_driver = labnova.LabComputeDriver" in files["nova/nova.conf"]
        True
        >>> "password = novapass" in files["nova/nova.conf"]
        True
    """
    rabbit = f"rabbit://guest:guest@127.0.0.1:{ports.rabbit}/"
    files: dict[str, str] = {}
    state = run / "keystone"
    files["keystone/keystone.conf"] = f"""[DEFAULT]
log_file = {run}/logs/keystone.log
[database]
connection = sqlite:///{state}/keystone.db
[token]
provider = fernet
expiration = 86400
[fernet_tokens]
key_repository = {state}/fernet-keys
[fernet_receipts]
key_repository = {state}/fernet-keys
[credential]
key_repository = {state}/credential-keys
[cache]
enabled = true
backend = dogpile.cache.memory
[identity]
# bcrypt at 4 rounds: logins take milliseconds, not a quarter second (a test lab, not a production cloud)
password_hash_rounds = 4
max_password_length = 72
"""
    files["keystone/ks_wsgi.py"] = _shim("keystone.wsgi.api", {"OS_KEYSTONE_CONFIG_DIR": str(state)})

    files["placement/placement.conf"] = f"""[DEFAULT]
log_file = {run}/logs/placement.log
[api]
auth_strategy = keystone
[placement_database]
connection = sqlite:///{run}/placement/placement.db
""" + _authtoken("placement", ports)
    files["placement/placement_wsgi.py"] = _shim(
        "placement.wsgi.api", {"OS_PLACEMENT_CONFIG_DIR": str(run / "placement")}
    )

    nova = run / "nova"
    files["nova/nova.conf"] = (
        f"""[DEFAULT]
transport_url = {rabbit}
# FakeDriver cannot restart (random node uuid, no compute_id file); FakeDriverWithoutFakeNodes can
# [pitfall 4]: the lab's driver is that one, with snapshots that reach Glance (nova/virt/labnova.py)
compute_driver = labnova.LabComputeDriver
host = lab-compute
state_path = {nova}
instances_path = {nova}/instances
my_ip = 127.0.0.1
my_block_storage_ip = 127.0.0.1
debug = false
[api]
auth_strategy = keystone
[wsgi]
api_paste_config = {nova}/api-paste.ini
[api_database]
connection = {_db_url("nova_api", ports)}
[database]
connection = {_db_url("nova_cell1", ports)}
[oslo_concurrency]
lock_path = {nova}/locks
[oslo_messaging_notifications]
driver = noop
[scheduler]
# `lab up` runs cell_v2 discover_hosts once; the periodic one can start 60 s late [pitfall 7]
discover_hosts_in_cells_interval = -1
workers = 1
[conductor]
workers = 1
[vnc]
# As devstack: remote-consoles answers a noVNC URL (the fake driver's console; no proxy listens on it)
enabled = true
novncproxy_base_url = http://127.0.0.1:6080/vnc_auto.html
[glance]
# Nova builds an image URL even for boot-from-volume servers [pitfall 3]
endpoint_override = http://127.0.0.1:{ports.glance}
[cinder]
os_region_name = {REGION}
catalog_info = volumev3::publicURL
"""
        + _auth("cinder", "nova", ports).split("\n", 1)[1]
        + _authtoken("nova", ports)
        + _auth("service_user", "nova", ports, "send_service_user_token = true")
        + _auth("placement", "nova", ports, "valid_interfaces = public")
        # default_floating_pool: the network Nova's deprecated os-floating-ips proxy takes from (devstack's)
        + _auth(
            "neutron", "nova", ports, "valid_interfaces = public", f"default_floating_pool = {PUBLIC_NETWORK}"
        )
    )
    files["nova/nova_api_wsgi.py"] = _shim(
        "nova.wsgi.osapi_compute",
        # The paste file must come first: nova loads its app from the first file [pitfall 2].
        {"OS_NOVA_CONFIG_FILES": "api-paste.ini;nova.conf", "OS_NOVA_CONFIG_DIR": str(nova)},
    )

    cinder = run / "cinder"
    files["cinder/cinder.conf"] = (
        f"""[DEFAULT]
transport_url = {rabbit}
auth_strategy = keystone
enabled_backends = fake
host = lab-cinder
my_ip = 127.0.0.1
state_path = {cinder}
osapi_volume_listen = 127.0.0.1
osapi_volume_listen_port = {ports.cinder}
osapi_volume_workers = 1
api_paste_config = {venvs}/cinder/etc/cinder/api-paste.ini
# The filters a non-admin may use on lists (by name, status, ...), the file cinder ships and devstack
# installs; without it Cinder answers any filter from a member with a 400.
resource_query_filters_file = {venvs}/cinder/etc/cinder/resource_filters.json
debug = false
[database]
connection = {_db_url("cinder", ports)}
[oslo_concurrency]
lock_path = {cinder}/locks
[oslo_messaging_notifications]
driver = noop
[fake]
volume_driver = labcinder.ImageFakeVolumeDriver
volume_backend_name = fake
target_helper = fake
"""
        + _authtoken("cinder", ports)
        + _auth("nova", "cinder", ports, "interface = public")
        + _auth("service_user", "cinder", ports, "send_service_user_token = true")
    )
    files["cinder/labcinder.py"] = LAB_CINDER_DRIVER

    glance = run / "glance"
    files["glance/glance-api.conf"] = f"""[DEFAULT]
enabled_backends = fs:file
log_file = {run}/logs/glance-api.log
[database]
connection = sqlite:///{glance}/glance.db
[glance_store]
default_backend = fs
[fs]
filesystem_store_datadir = {glance}/images
[os_glance_staging_store]
filesystem_store_datadir = {glance}/staging
[os_glance_tasks_store]
filesystem_store_datadir = {glance}/tasks
[paste_deploy]
flavor = keystone
config_file = {glance}/glance-api-paste.ini
""" + _authtoken("glance", ports)
    neutron = run / "neutron"
    files["neutron/neutron.conf"] = (
        f"""[DEFAULT]
core_plugin = ml2
# auto_allocate: `networks="auto"` and GET /v2.0/auto-allocated-topology, as devstack enables it
service_plugins = router,auto_allocate
auth_strategy = keystone
api_paste_config = {neutron}/api-paste.ini
# The API runs under gunicorn; with no agents there is nothing for RPC workers to serve.
rpc_workers = 0
rpc_state_report_workers = 0
# Casts to agents (none listen) go to the lab's RabbitMQ rather than a default broker on 5672.
transport_url = {rabbit}
# Nova hears network-changed and network-vif-plugged: a floating IP shows in a server's addresses at once
# rather than after Nova's 60 s cache heal (devstack's defaults, spelled out because the lab relies on them).
notify_nova_on_port_status_changes = true
notify_nova_on_port_data_changes = true
host = lab-neutron
state_path = {neutron}
log_file = {run}/logs/neutron-server.log
debug = false
[database]
connection = {_db_url("neutron", ports)}
[oslo_concurrency]
lock_path = {neutron}/locks
[oslo_messaging_notifications]
driver = noop
[ml2]
type_drivers = flat,vxlan
tenant_network_types = vxlan
mechanism_drivers = lab
extension_drivers = port_security
[ml2_type_flat]
flat_networks = {PUBLIC_NETWORK}
[ml2_type_vxlan]
vni_ranges = 1:1000
"""
        + _authtoken("neutron", ports)
        + _auth("nova", "neutron", ports, "endpoint_type = public")
    )
    files["neutron/neutron_wsgi.py"] = _shim(
        "neutron.wsgi.api",
        {"OS_NEUTRON_CONFIG_DIR": str(neutron), "OS_NEUTRON_CONFIG_FILES": "neutron.conf"},
    )
    # On PYTHONPATH for neutron-server: the module and the entry point ML2 finds it by.
    files["neutron/labneutron.py"] = LAB_NEUTRON_DRIVER
    dist_info = "neutron/labneutron-1.0.dist-info"
    files[f"{dist_info}/METADATA"] = "Metadata-Version: 2.1\nName: labneutron\nVersion: 1.0\n"
    files[f"{dist_info}/entry_points.txt"] = LAB_NEUTRON_ENTRY_POINTS

    copies = {
        "nova/api-paste.ini": venvs / "nova/etc/nova/api-paste.ini",
        "neutron/api-paste.ini": venvs / "neutron/etc/neutron/api-paste.ini",
        "glance/glance-api-paste.ini": venvs / "glance/etc/glance/glance-api-paste.ini",
    }
    return Rendered(files, copies)


def mysql_ready_sql() -> str:
    """SQL that (re)creates the lab's user and empty databases."""
    drops = " ".join(f"DROP DATABASE IF EXISTS {db};" for db in MYSQL_DATABASES)
    creates = " ".join(f"CREATE DATABASE {db};" for db in MYSQL_DATABASES)
    return (
        f"CREATE USER IF NOT EXISTS '{DB_USER}'@'127.0.0.1' IDENTIFIED BY '{DB_PASSWORD}'; "
        f"GRANT ALL PRIVILEGES ON *.* TO '{DB_USER}'@'127.0.0.1'; {drops} {creates}"
    )


def nova_cell0_url(ports: LabPorts = PORTS) -> str:
    """The cell0 database URL for ``nova-manage cell_v2 map_cell0``."""
    return _db_url("nova_cell0", ports)
