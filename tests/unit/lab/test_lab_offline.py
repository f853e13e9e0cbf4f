"""The lab's parts that need no running service: configs, seeding and purging, errors, status, the CLI."""

import json
from pathlib import Path

import httpx
import pytest

from cloudkit import cli
from cloudkit.cli import main
from cloudkit.errors import LabError
from cloudkit.lab import PORTS, Lab, LabInfo, _control
from cloudkit.lab._admin import LabAdmin
from cloudkit.lab._configs import render_all


def _quiet(_line):
    pass


def test_every_service_config_points_at_the_lab_ports_and_nothing_default():
    files = render_all(Path("/lab/run"), Path("/lab/venvs")).files
    text = "\n".join(files.values())
    for default_port in (":5000", ":8774/", ":8776", ":9292", ":5672", ":3306"):
        assert default_port not in text
    assert f"rabbit://guest:guest@127.0.0.1:{PORTS.rabbit}/" in files["nova/nova.conf"]
    assert "send_service_user_token = true" in files["cinder/cinder.conf"]
    assert "volume_driver = labcinder.ImageFakeVolumeDriver" in files["cinder/cinder.conf"]
    assert "class ImageFakeVolumeDriver(FakeLoggingVolumeDriver)" in files["cinder/labcinder.py"]


def test_wsgi_shims_hide_argv_and_set_the_config_dir():
    shim = render_all(Path("/lab/run"), Path("/lab/venvs")).files["nova/nova_api_wsgi.py"]
    assert "os.environ['OS_NOVA_CONFIG_FILES'] = 'api-paste.ini;nova.conf'" in shim
    assert "_argv, sys.argv = sys.argv, sys.argv[:1]" in shim
    compile(shim, "nova_api_wsgi.py", "exec")


def test_lab_info_never_shows_the_password_in_its_repr():
    info = LabInfo(auth_url="http://127.0.0.1:25000/v3", seconds_to_ready=1.0, rss_mib=1, restored=True)
    assert "adminpass" not in repr(info)
    assert "adminpass" in info.describe()  # printed on purpose: a fixed test credential of a loopback lab
    assert info.admin_settings().auth_url == "http://127.0.0.1:25000/v3"


def test_status_of_a_lab_that_never_ran(tmp_path):
    lab = Lab(tmp_path, say=_quiet)
    assert not any(state.alive for state in lab.status())
    assert lab.info() is None
    lab.down()  # nothing of its own to stop, and nothing else is touched (see the next test)


def test_up_without_venvs_says_to_install(tmp_path, monkeypatch):
    monkeypatch.setattr(_control.Lab, "_check_system_packages", lambda _self: None)
    with pytest.raises(LabError, match="cloudkit lab install"):
        Lab(tmp_path, say=_quiet).up()


def test_missing_debian_packages_are_named_with_the_command_to_install_them(tmp_path, monkeypatch):
    monkeypatch.setattr(_control.shutil, "which", lambda _name: None)
    monkeypatch.setattr(_control, "_RABBIT_SERVER", tmp_path / "no-rabbitmq-server")
    with pytest.raises(LabError) as info:
        Lab(tmp_path, say=_quiet).install()
    assert "apt-get install -y --no-install-recommends mariadb-server rabbitmq-server" in str(info.value)
    assert info.value.system == "lab"


def test_cli_lab_status_without_a_lab_exits_1(tmp_path, capsys):
    assert main(["lab", "status", "--home", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "nova-compute" in out
    assert "down" in out


def test_snapshot_is_used_only_when_its_stamp_matches(tmp_path):
    lab = Lab(tmp_path, say=_quiet)
    assert not lab._snapshot_usable()
    lab.snapshot_dir.mkdir()
    (lab.snapshot_dir / "files.tar").write_bytes(b"")
    (lab.snapshot_dir / "mysql.sql").write_bytes(b"")
    (lab.snapshot_dir / "stamp.json").write_text(lab._snapshot_stamp())
    assert lab._snapshot_usable()
    stale = json.loads(lab._snapshot_stamp()) | {"constraints": "0000"}
    (lab.snapshot_dir / "stamp.json").write_text(json.dumps(stale, sort_keys=True))
    assert not lab._snapshot_usable()


def test_record_folds_the_callers_selection_into_the_cassette_half(tmp_path, monkeypatch):
    (tmp_path / "tests/contract/openstack").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    ran = []
    monkeypatch.setattr(cli.subprocess, "call", lambda command, **_: ran.append(command) or 0)
    assert cli.run_record("openstack", ["-k", "not keystone", "-x"]) == 0
    command = ran[0]
    assert command[command.index("-k") + 1] == "cassette and (not keystone)"
    assert command.count("-k") == 1
    assert command[-1] == "-x"


def test_down_stops_only_what_this_lab_recorded(tmp_path, monkeypatch):
    """A lab home that never started anything must not stop another lab's RabbitMQ found by its port."""
    killed = []
    monkeypatch.setattr(_control.os, "kill", lambda pid, sig: killed.append((pid, sig)))
    monkeypatch.setattr(_control.os, "killpg", lambda pid, sig: killed.append((pid, sig)))
    monkeypatch.setattr(_control, "_port_owner", lambda _port: 4242)  # "someone" owns every lab port
    Lab(tmp_path, say=_quiet).down()
    assert killed == []


def test_a_lab_with_a_dead_process_fails_fast_naming_it(tmp_path):
    from cloudkit.testing._lab_fixtures import _require_whole

    with pytest.raises(pytest.fail.Exception, match="running without mariadb, rabbitmq, keystone"):
        _require_whole(Lab(tmp_path, say=_quiet))


def test_cinder_reads_the_resource_filters_its_package_ships_as_devstack_does():
    conf = render_all(Path("/lab/run"), Path("/lab/venvs")).files["cinder/cinder.conf"]
    defaults = conf.split("[database]")[0]
    assert "resource_query_filters_file = /lab/venvs/cinder/etc/cinder/resource_filters.json" in defaults


def test_seed_makes_devstacks_five_m1_flavors_with_its_ids():
    posted = []

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/flavors"):
            posted.append(json.loads(request.content)["flavor"])
        return httpx.Response(201, json={"id": "image-1"})

    admin = object.__new__(LabAdmin)  # no login: the transport answers every call
    admin.ports = PORTS
    admin.http = httpx.Client(transport=httpx.MockTransport(answer))
    admin.seed()
    admin.close()
    assert [(f["id"], f["name"], f["vcpus"], f["ram"], f["disk"]) for f in posted] == [
        ("1", "m1.tiny", 1, 512, 1),
        ("2", "m1.small", 1, 2048, 20),
        ("3", "m1.medium", 2, 4096, 40),
        ("4", "m1.large", 4, 8192, 80),
        ("5", "m1.xlarge", 8, 16384, 160),
    ]


def test_restore_seed_images_puts_back_os_metadata_and_drops_added_properties():
    patches = {}

    def answer(request):
        if request.method == "GET":
            name = request.url.params["name"]
            image = {"id": f"id-{name}", "name": name, "status": "active", "min_disk": 1}
            if name == "ubuntu-24.04":  # what openstacksdk's compute image test leaves behind
                image |= {"k1": "v1.1", "k2": "v2"}
            else:
                image |= {"os_distro": "stale"}
            return httpx.Response(200, json={"images": [image]})
        patches[request.url.path.rsplit("/", 1)[-1]] = (
            request.headers["Content-Type"],
            json.loads(request.content),
        )
        return httpx.Response(200, json={})

    admin = object.__new__(LabAdmin)
    admin.ports = PORTS
    admin.http = httpx.Client(transport=httpx.MockTransport(answer))
    admin.restore_seed_images()
    admin.close()
    kind, ops = patches["id-ubuntu-24.04"]
    assert kind == "application/openstack-images-v2.1-json-patch"
    assert ops == [
        {"op": "remove", "path": "/k1"},
        {"op": "remove", "path": "/k2"},
        {"op": "add", "path": "/os_distro", "value": "ubuntu"},
        {"op": "add", "path": "/os_version", "value": "24.04"},
    ]
    assert patches["id-cirros-0.6.2"][1] == [
        {"op": "add", "path": "/os_distro", "value": "cirros"},
        {"op": "add", "path": "/os_version", "value": "0.6.2"},
    ]


def test_nova_compute_runs_the_lab_driver_whose_snapshots_reach_glance():
    conf = render_all(Path("/lab/run"), Path("/lab/venvs")).files["nova/nova.conf"]
    assert "compute_driver = labnova.LabComputeDriver" in conf
    from cloudkit.lab._configs import LAB_NOVA_DRIVER

    assert "class LabComputeDriver(FakeDriverWithoutFakeNodes)" in LAB_NOVA_DRIVER
    assert "glance.API().update(context, image_id, meta, disk, purge_props=False)" in LAB_NOVA_DRIVER
    compile(LAB_NOVA_DRIVER, "labnova.py", "exec")


def test_the_lab_compute_driver_is_written_where_nova_looks_it_up(tmp_path):
    """Nova 34 imports ``nova.virt.<compute_driver>`` and nothing else."""
    lab = Lab(tmp_path, say=_quiet)
    with pytest.raises(LabError, match="cloudkit lab install"):
        lab._place_lab_compute_driver()
    virt = lab.venvs / "nova/lib/python3.11/site-packages/nova/virt"
    virt.mkdir(parents=True)
    lab._place_lab_compute_driver()
    assert "class LabComputeDriver" in (virt / "labnova.py").read_text()
