"""The lab's real Neutron, offline: its configs, the agentless ML2 driver, the bootstrap and the purge."""

import json
import sys
import types
from pathlib import Path

import httpx

from cloudkit.lab import PORTS, Lab, LabInfo
from cloudkit.lab._admin import LabAdmin, _refuse_errors
from cloudkit.lab._configs import (
    LAB_NEUTRON_DRIVER,
    LAB_NEUTRON_ENTRY_POINTS,
    MYSQL_DATABASES,
    mysql_ready_sql,
    render_all,
)


def _files() -> dict[str, str]:
    return render_all(Path("/lab/run"), Path("/lab/venvs")).files


def _section(conf: str, name: str) -> str:
    return conf.split(f"[{name}]\n", 1)[1].split("\n[", 1)[0]


def test_neutron_runs_ml2_with_the_lab_driver_behind_keystone():
    conf = _files()["neutron/neutron.conf"]
    defaults = _section(conf, "DEFAULT")
    assert "core_plugin = ml2" in defaults
    assert "service_plugins = router,auto_allocate" in defaults
    assert "auth_strategy = keystone" in defaults
    assert "rpc_workers = 0" in defaults
    assert f"transport_url = rabbit://guest:guest@127.0.0.1:{PORTS.rabbit}/" in defaults
    assert "notify_nova_on_port_data_changes = true" in defaults
    assert "mechanism_drivers = lab" in _section(conf, "ml2")
    assert "flat_networks = public" in _section(conf, "ml2_type_flat")
    assert f"127.0.0.1:{PORTS.mariadb}/neutron?" in _section(conf, "database")
    assert "username = neutron" in _section(conf, "keystone_authtoken")
    nova = _section(conf, "nova")  # how Neutron tells Nova about port changes
    assert "username = neutron" in nova
    assert "region_name = RegionOne" in nova


def test_nova_reaches_neutron_through_the_catalog_with_devstacks_floating_pool():
    neutron = _section(_files()["nova/nova.conf"], "neutron")
    assert "username = nova" in neutron
    assert "valid_interfaces = public" in neutron
    assert "default_floating_pool = public" in neutron


def test_neutron_wsgi_shim_and_paste_file():
    rendered = render_all(Path("/lab/run"), Path("/lab/venvs"))
    shim = rendered.files["neutron/neutron_wsgi.py"]
    assert "os.environ['OS_NEUTRON_CONFIG_DIR'] = '/lab/run/neutron'" in shim
    assert "from neutron.wsgi.api import application" in shim
    compile(shim, "neutron_wsgi.py", "exec")
    assert rendered.copies["neutron/api-paste.ini"] == Path("/lab/venvs/neutron/etc/neutron/api-paste.ini")


def test_the_driver_is_registered_by_entry_point_beside_its_module():
    files = _files()
    assert files["neutron/labneutron.py"] == LAB_NEUTRON_DRIVER
    assert files["neutron/labneutron-1.0.dist-info/entry_points.txt"] == LAB_NEUTRON_ENTRY_POINTS
    assert "[neutron.ml2.mechanism_drivers]\nlab = labneutron:LabMechanismDriver" in LAB_NEUTRON_ENTRY_POINTS
    assert "Name: labneutron" in files["neutron/labneutron-1.0.dist-info/METADATA"]


def test_the_driver_binds_the_first_segment_active_with_no_agent(monkeypatch):
    """Run the driver's source against stand-ins for neutron_lib (not installed here)."""
    fakes = {
        "neutron_lib": types.ModuleType("neutron_lib"),
        "neutron_lib.constants": types.SimpleNamespace(PORT_STATUS_ACTIVE="ACTIVE"),
        "neutron_lib.api": types.ModuleType("neutron_lib.api"),
        "neutron_lib.api.definitions": types.ModuleType("neutron_lib.api.definitions"),
        "neutron_lib.api.definitions.portbindings": types.SimpleNamespace(
            VIF_TYPE_OVS="ovs", CAP_PORT_FILTER="port_filter"
        ),
        "neutron_lib.plugins": types.ModuleType("neutron_lib.plugins"),
        "neutron_lib.plugins.ml2": types.ModuleType("neutron_lib.plugins.ml2"),
        "neutron_lib.plugins.ml2.api": types.SimpleNamespace(MechanismDriver=object, ID="id"),
    }
    fakes["neutron_lib"].constants = fakes["neutron_lib.constants"]  # type: ignore[attr-defined]
    fakes["neutron_lib.api.definitions"].portbindings = fakes["neutron_lib.api.definitions.portbindings"]  # type: ignore[attr-defined]
    fakes["neutron_lib.plugins.ml2"].api = fakes["neutron_lib.plugins.ml2.api"]  # type: ignore[attr-defined]
    for name, module in fakes.items():
        monkeypatch.setitem(sys.modules, name, module)
    namespace: dict[str, object] = {}
    exec(compile(LAB_NEUTRON_DRIVER, "labneutron.py", "exec"), namespace)  # noqa: S102 (our own source)
    bound = []
    context = types.SimpleNamespace(
        segments_to_bind=[{"id": "seg-1"}, {"id": "seg-2"}],
        set_binding=lambda *args, **kwargs: bound.append((args, kwargs)),
    )
    driver = namespace["LabMechanismDriver"]()  # type: ignore[operator]
    driver.initialize()
    driver.bind_port(context)
    assert bound == [(("seg-1", "ovs", {"port_filter": True}), {"status": "ACTIVE"})]


def test_the_neutron_database_is_made_and_kept_in_the_snapshot():
    assert "neutron" in MYSQL_DATABASES  # the snapshot dumps exactly these
    assert "CREATE DATABASE neutron;" in mysql_ready_sql()


def test_status_names_neutron_server_on_its_port(tmp_path):
    state = next(s for s in Lab(tmp_path, say=lambda _line: None).status() if s.name == "neutron-server")
    assert state.port == PORTS.neutron == 29696
    assert not state.alive


def test_describe_says_neutron_is_real():
    info = LabInfo(auth_url="http://127.0.0.1:25000/v3", seconds_to_ready=1.0, rss_mib=1, restored=True)
    text = info.describe()
    assert "Neutron 29696" in text
    assert "stub" not in text


def _admin(answer: object) -> LabAdmin:
    admin = object.__new__(LabAdmin)  # no login: the transport answers every call
    admin.ports = PORTS
    admin.http = httpx.Client(transport=httpx.MockTransport(answer))  # type: ignore[arg-type]
    return admin


def test_seed_network_is_devstacks_bootstrap():
    posted: dict[str, dict[str, object]] = {}

    def answer(request: httpx.Request) -> httpx.Response:
        kind = request.url.path.rsplit("/", 1)[-1]
        body = json.loads(request.content)
        posted[kind] = next(iter(body.values()))
        return httpx.Response(201, json={"network": {"id": "net-1"}} if kind == "networks" else body)

    admin = _admin(answer)
    admin.seed_network()
    admin.close()
    assert posted["networks"] == {
        "name": "public",
        "router:external": True,
        "is_default": True,
        "provider:network_type": "flat",
        "provider:physical_network": "public",
    }
    assert posted["subnets"]["network_id"] == "net-1"
    assert posted["subnets"]["cidr"] == "172.24.4.0/24"
    assert posted["subnets"]["enable_dhcp"] is False
    assert posted["subnetpools"] == {
        "name": "shared-default-subnetpool-v4",
        "prefixes": ["192.168.0.0/16"],
        "default_prefixlen": 26,
        "shared": True,
        "is_default": True,
    }


def test_purge_frees_floating_ips_and_ports_before_the_topology_and_routers_before_networks():
    calls: list[str] = []
    listings = {
        "floatingips": [{"id": "fip-1"}],
        "routers": [{"id": "r-1"}],
        "networks": [{"id": "net-1"}],
        "security_groups": [{"id": "sg-1"}],
        "subnetpools": [],
    }
    router_ports = [
        {"id": "gw-1", "device_owner": "network:router_gateway"},
        {"id": "if-1", "device_owner": "network:router_interface"},
    ]
    project_ports = [
        {"id": "vm-port", "device_owner": "compute:nova"},
        {"id": "dhcp-port", "device_owner": "network:dhcp"},
    ]

    def answer(request: httpx.Request) -> httpx.Response:
        path = request.url.path.removeprefix("/v2.0/")
        calls.append(f"{request.method} {path}")
        if request.method != "GET":
            return httpx.Response(204 if request.method == "DELETE" else 200, json={})
        if path == "ports":
            by_router = "device_id" in request.url.params
            return httpx.Response(200, json={"ports": router_ports if by_router else project_ports})
        assert request.url.params["project_id"] == "p-1"
        return httpx.Response(200, json={path.replace("-", "_"): listings[path.replace("-", "_")]})

    admin = _admin(answer)
    admin._purge_network("p-1")
    admin.close()
    writes = [c for c in calls if not c.startswith("GET")]
    assert writes == [
        "DELETE floatingips/fip-1",
        "DELETE ports/vm-port",  # a network-owned port goes with its network
        "DELETE auto-allocated-topology/p-1",
        "PUT routers/r-1/remove_router_interface",  # the gateway goes with the router
        "DELETE routers/r-1",
        "DELETE networks/net-1",
        "DELETE security-groups/sg-1",
    ]


def test_purge_of_a_project_without_an_auto_allocated_topology_accepts_its_404():
    def answer(request: httpx.Request) -> httpx.Response:
        if request.method == "DELETE":
            return httpx.Response(404, json={"NeutronError": {"type": "AutoAllocatedTopologyNotFound"}})
        collection = request.url.path.rsplit("/", 1)[-1].replace("-", "_")
        return httpx.Response(200, json={collection: []})

    admin = _admin(answer)
    admin.http.event_hooks = {"response": [_refuse_errors]}  # as LabAdmin's own client has
    admin._purge_network("p-1")
    admin.close()
