"""Placement capacity per aggregate, failed builds and the doctor's ``openstack.capacity`` check (fake)."""

import datetime as dt
import io

import pytest

from cloudkit._doctor import DoctorSettings, run_doctor
from cloudkit._doctor_checks import check_capacity
from cloudkit.errors import CloudkitError, InvalidArgumentError
from cloudkit.openstack import OpenStackSettings

ADMIN = {"username": "admin", "password": "secret", "project_name": "admin"}
HOST = "fake-compute-1"
SMALL = "2"  # m1.small: 1 vCPU, 2048 MiB, 20 GiB


def _wall(fake):
    """The fake's wall clock, aware: its faults are stamped with it, ahead of ours by what `advance` added."""
    return dt.datetime.now(dt.UTC) + dt.timedelta(seconds=fake._offset)


def _image(client):
    return next(i.id for i in client.list_images() if i.os_distro == "ubuntu")


def _placement_calls(calls):
    return [(m, p.removeprefix("/placement")) for m, p in calls.calls if p.startswith("/placement/")]


@pytest.mark.quirk("openstack.capacity")
def test_capacity_reads_every_provider_then_names_the_aggregates(make_openstack, openstack_calls):
    admin = make_openstack(**ADMIN)
    (everything,) = admin.placement_capacity()
    assert _placement_calls(openstack_calls) == [
        ("GET", "/resource_providers"),
        ("GET", "/resource_providers/{id}/inventories"),
        ("GET", "/resource_providers/{id}/usages"),
        ("GET", "/resource_providers/{id}/aggregates"),
    ]
    assert openstack_calls.api_calls()[-1] == ("GET", "/os-aggregates")  # Nova's names, last
    assert (everything.aggregate, everything.label, everything.providers) == (None, "(no aggregate)", (HOST,))
    # the fake's host at Nova's defaults since 2023.1: 64 vCPU x 4.0, (262144 - 512) MiB x 1.0, 4000 GiB x 1.0
    assert [(r.resource_class, r.capacity, r.used) for r in everything.resources] == [
        ("VCPU", 256, 0),
        ("MEMORY_MB", 261632, 0),
        ("DISK_GB", 4000, 0),
    ]


def test_capacity_follows_servers_and_nova_aggregates(make_openstack, openstack_fake):
    admin = make_openstack(**ADMIN)
    portal = make_openstack()
    portal.create_server("web-1", image=_image(portal), flavor=SMALL, system_volume_size=10)
    sdk = admin._conn.compute
    aggregate = sdk.create_aggregate(name="fast")
    sdk.add_host_to_aggregate(aggregate, HOST)
    (fast,) = admin.placement_capacity()
    assert (fast.name, fast.label, fast.providers) == ("fast", "fast", (HOST,))
    assert fast.aggregate == sdk.get_aggregate(aggregate).uuid
    # a volume-backed server asks Placement for no disk: its root is a Cinder volume
    assert [(r.resource_class, r.used) for r in fast.resources] == [
        ("VCPU", 1),
        ("MEMORY_MB", 2048),
        ("DISK_GB", 0),
    ]


def test_a_member_may_not_read_placement(make_openstack):
    from cloudkit.errors import PermissionDeniedError

    with pytest.raises(PermissionDeniedError) as info:
        make_openstack().placement_capacity()
    assert (info.value.status, info.value.operation) == (403, "placement_capacity")


@pytest.mark.quirk("openstack.capacity")
def test_a_full_host_fails_builds_with_no_valid_host(make_openstack, openstack_fake):
    openstack_fake.set_compute_host(vcpus=2, cpu_allocation_ratio=1.0)
    admin, portal = make_openstack(**ADMIN), make_openstack()
    image = _image(portal)
    since = _wall(openstack_fake) - dt.timedelta(minutes=1)
    for name in ("web-1", "web-2"):
        portal.create_server(name, image=image, flavor=SMALL, system_volume_size=10)
    with pytest.raises(CloudkitError) as info:
        portal.create_server("web-3", image=image, flavor=SMALL, system_volume_size=10)
    assert "No valid host was found" in str(info.value)
    failures = admin.build_failures(since=since)
    assert [(f.name, f.message.strip()) for f in failures] == [("web-3", "No valid host was found.")]
    (everything,) = admin.placement_capacity()
    vcpu = everything.resource("VCPU")
    assert (vcpu.capacity, vcpu.used, vcpu.free, vcpu.free_percent) == (2, 2, 0, 0.0)  # web-3 holds nothing
    compute = admin._conn.compute  # Nova's view of the host agrees: web-3 never reached it
    (host,) = compute.get("/os-hypervisors/detail", microversion="2.87").json()["hypervisors"]
    assert (host["vcpus_used"], host["running_vms"]) == (2, 2)


def test_build_failures_needs_an_aware_time(make_openstack):
    with pytest.raises(InvalidArgumentError):
        make_openstack(**ADMIN).build_failures(since=dt.datetime(2026, 1, 1))  # noqa: DTZ001 (the point)


@pytest.mark.quirk("openstack.capacity")
def test_no_valid_host_builds_of_the_last_hour_count_older_ones_do_not(make_openstack, openstack_fake):
    admin, portal = make_openstack(**ADMIN), make_openstack()
    image = _image(portal)
    openstack_fake.fail_next_builds(1)
    with pytest.raises(CloudkitError):
        portal.create_server("old", image=image, flavor=SMALL, system_volume_size=10)
    openstack_fake.advance(2 * 3600)  # two hours later
    openstack_fake.fail_next_builds(2)
    for name in ("new-1", "new-2"):
        with pytest.raises(CloudkitError):
            portal.create_server(name, image=image, flavor=SMALL, system_volume_size=10)
    findings, notes = [], []
    check_capacity(admin, DoctorSettings(), findings, notes, now=lambda: _wall(openstack_fake), who="admin")
    (finding,) = findings
    assert finding.quirk == "openstack.capacity"
    assert finding.details["count"] == 2
    assert "2 build(s) failed with 'No valid host was found' in the last hour: new-" in finding.problem
    assert "old" not in finding.problem
    tolerant = DoctorSettings(no_valid_host_max=2)
    findings, notes = [], []
    check_capacity(admin, tolerant, findings, notes, now=lambda: _wall(openstack_fake), who="admin")
    assert findings == []
    assert "openstack: 2 'No valid host' build(s) in the last hour" in notes


@pytest.mark.quirk("openstack.capacity")
def test_doctor_names_the_aggregate_under_threshold_with_its_numbers(make_openstack, openstack_fake):
    openstack_fake.set_compute_host(vcpus=4, cpu_allocation_ratio=1.0)
    portal = make_openstack()
    image = _image(portal)
    for name in ("web-1", "web-2", "web-3", "web-4"):
        portal.create_server(name, image=image, flavor=SMALL, system_volume_size=10)
    out = io.StringIO()
    code = run_doctor(
        openstack=OpenStackSettings(
            auth_url=openstack_fake.auth_url, username="portal", password="portal-pass", project_name="alice"
        ),
        capacity_identity=OpenStackSettings(auth_url=openstack_fake.auth_url, **ADMIN),
        out=out,
        now=lambda: _wall(openstack_fake),
    )
    report = out.getvalue()
    assert code == 1, report
    assert (
        "FAIL  [openstack.capacity] openstack: aggregate '(no aggregate)' has 0 vCPU free of 4 "
        f"(0.0 %, under 10 %) on {HOST}" in report
    )
    assert "RAM" not in report.split("FAIL", 1)[1].split("fix:")[0]  # only the short class is named
    assert "1 problem(s), 0 warning(s)" in report


def test_doctor_skips_capacity_for_a_member_and_warns_when_refused(make_openstack, openstack_fake):
    out = io.StringIO()
    portal = OpenStackSettings(
        auth_url=openstack_fake.auth_url, username="portal", password="portal-pass", project_name="alice"
    )
    assert run_doctor(openstack=portal, out=out) == 0
    assert "openstack: capacity not checked: 'portal' is no admin" in out.getvalue()
    out = io.StringIO()
    assert run_doctor(openstack=portal, capacity_identity=portal, out=out) == 0  # not an admin after all
    report = out.getvalue()
    assert "WARN  [openstack.capacity] openstack: capacity (Placement) not checked" in report


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"min_free_percent": -1}, "min_free_percent must be within 0 and 100"),
        ({"no_valid_host_window": 0}, "no_valid_host_window must be > 0"),
        ({"no_valid_host_max": -1}, "no_valid_host_max must be >= 0"),
        ({"tf_release": "R1.0"}, "no documented kernels for TF release 'R1.0'"),
        ({"tf_supported_kernels": ("5.4.0", " ")}, "holds an empty kernel version"),
        ({"tf_kernel_field": "VrouterAgent..x"}, "tf_kernel_field must be a dotted UVE field name"),
        ({"tf_analytics_url": "ftp://x"}, "got scheme 'ftp'"),
    ],
)
def test_doctor_settings_refuse_bad_values(kwargs, message):
    from cloudkit.errors import ConfigError

    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(".", r"\.")):
        DoctorSettings(**kwargs)


def test_doctor_settings_from_env():
    from cloudkit.errors import ConfigError

    settings = DoctorSettings.from_env(
        {
            "CLOUDKIT_DOCTOR_MIN_FREE_PERCENT": "20",
            "CLOUDKIT_DOCTOR_NO_VALID_HOST_WINDOW": "600",
            "CLOUDKIT_DOCTOR_NO_VALID_HOST_MAX": "3",
            "CLOUDKIT_DOCTOR_TF_RELEASE": "R24.1",
            "CLOUDKIT_DOCTOR_TF_SUPPORTED_KERNELS": "5.15.0-91-generic",
            "CLOUDKIT_DOCTOR_TF_ANALYTICS_URL": "http://tf-analytics:8081",
        }
    )
    assert (settings.min_free_percent, settings.no_valid_host_window, settings.no_valid_host_max) == (
        20,
        600,
        3,
    )
    assert settings.supported_kernels == ("5.15.0-91-generic",)
    assert DoctorSettings.from_env({}) == DoctorSettings()
    with pytest.raises(ConfigError):
        DoctorSettings.from_env({"CLOUDKIT_DOCTOR_MIN_FREE_PERCENT": "lots"})
