"""What Cinder tells about itself: limits, quota sets, zones, filters, extensions, services, capabilities.

Follows Cinder 29 with its default configuration and policies (cinder/api/v3/limits.py with the
used-limits extension, api/contrib/quotas.py, availability_zones.py, services.py, capabilities.py,
api/v3/resource_filters.py with the resource_filters.json Cinder ships and devstack installs). The
fake's one backend is the ``lvm`` backend of host ``fake-cinder`` that the volume views already name.
The routes are registered in ``_cinder``.
"""

from __future__ import annotations

from cloudkit.testing.fakes._kit import Reply, Request
from cloudkit.testing.fakes.openstack._cinder_types import refuse_unless_admin
from cloudkit.testing.fakes.openstack._cloud import Cloud, Ctx
from cloudkit.testing.fakes.openstack._state import Json
from cloudkit.testing.fakes.openstack._wire import STATUS_GOOD, ApiError, as_bool, as_int, body_of, iso

_HOST = "fake-cinder"
_BACKEND = "lvm"
_VOLUME_HOST = f"{_HOST}@{_BACKEND}"
_ZONE = "nova"  # Cinder's default storage_availability_zone, as in devstack
# Cinder's default quota class (the initial migration writes it); per-type quotas default to -1.
_DEFAULT_QUOTAS = {
    "volumes": 10,
    "per_volume_gigabytes": -1,
    "snapshots": 10,
    "gigabytes": 1000,
    "backups": 10,
    "backup_gigabytes": 1000,
}
_GROUP_DEFAULTS = {"groups": 10}
_PER_TYPE = ("volumes", "gigabytes", "snapshots")
_MAX_QUOTA = 2**31 - 1  # cinder.common.constants.DB_MAX_INT
_NON_QUOTA_KEYS = ("tenant_id", "id")
# the names cinder/api/views/limits.py and contrib/used_limits.py give the quotas in GET /limits
_LIMIT_NAMES = {
    "volumes": "maxTotalVolumes",
    "snapshots": "maxTotalSnapshots",
    "gigabytes": "maxTotalVolumeGigabytes",
    "backups": "maxTotalBackups",
    "backup_gigabytes": "maxTotalBackupGigabytes",
}
_USED_NAMES = {
    "totalVolumesUsed": "volumes",
    "totalGigabytesUsed": "gigabytes",
    "totalSnapshotsUsed": "snapshots",
    "totalBackupsUsed": "backups",
    "totalBackupGigabytesUsed": "backup_gigabytes",
}
# etc/cinder/resource_filters.json of Cinder 29, as devstack installs it
RESOURCE_FILTERS: dict[str, list[str]] = {
    "volume": [
        "name",
        "status",
        "metadata",
        "bootable",
        "migration_status",
        "availability_zone",
        "group_id",
        "size",
        "created_at",
        "updated_at",
        "consumes_quota",
    ],
    "backup": ["name", "status", "volume_id"],
    "snapshot": ["name", "status", "volume_id", "metadata", "availability_zone", "consumes_quota"],
    "group": ["name"],
    "group_snapshot": ["name", "status", "group_id"],
    "attachment": ["volume_id", "status", "instance_id", "attach_status"],
    "message": ["resource_uuid", "resource_type", "event_id", "request_id", "message_level"],
    "pool": ["name", "volume_type"],
    "volume_type": ["is_public", "extra_specs"],
}
# (alias, name, updated, description) of every extension in cinder/api/contrib of Cinder 29;
# assumption: listed by module name (Cinder lists them in the order it found the files).
_EXTENSIONS = (
    ("os-admin-actions", "AdminActions", "2012-08-25T00:00:00+00:00", "Enable admin actions."),
    (
        "os-availability-zone",
        "AvailabilityZones",
        "2013-06-27T00:00:00+00:00",
        "Describe Availability Zones.",
    ),
    ("backups", "Backups", "2012-12-12T00:00:00+00:00", "Backups support."),
    ("capabilities", "Capabilities", "2015-08-31T00:00:00+00:00", "Capabilities support."),
    ("cgsnapshots", "Cgsnapshots", "2014-08-18T00:00:00+00:00", "cgsnapshots support."),
    ("consistencygroups", "Consistencygroups", "2014-08-18T00:00:00+00:00", "consistency groups support."),
    ("os-extended-services", "ExtendedServices", "2014-01-10T00:00:00-00:00", "Extended services support."),
    (
        "os-extended-snapshot-attributes",
        "ExtendedSnapshotAttributes",
        "2012-06-19T00:00:00+00:00",
        "Extended SnapshotAttributes support.",
    ),
    ("os-hosts", "Hosts", "2011-06-29T00:00:00+00:00", "Admin-only host administration."),
    ("qos-specs", "Qos_specs_manage", "2013-08-02T00:00:00+00:00", "QoS specs support."),
    ("os-quota-class-sets", "QuotaClasses", "2012-03-12T00:00:00+00:00", "Quota classes management support."),
    ("os-quota-sets", "Quotas", "2011-08-08T00:00:00+00:00", "Quota management support."),
    (
        "OS-SCH-HNT",
        "SchedulerHints",
        "2013-04-18T00:00:00+00:00",
        "Pass arbitrary key/value pairs to the scheduler.",
    ),
    ("scheduler-stats", "Scheduler_stats", "2014-09-07T00:00:00+00:00", "Scheduler stats support."),
    ("os-services", "Services", "2012-10-28T00:00:00-00:00", "Services support."),
    (
        "os-snapshot-actions",
        "SnapshotActions",
        "2013-07-16T00:00:00+00:00",
        "Enable snapshot manager actions.",
    ),
    (
        "os-snapshot-manage",
        "SnapshotManage",
        "2014-12-31T00:00:00+00:00",
        "Allows existing backend storage to be 'managed' by Cinder.",
    ),
    (
        "os-snapshot-unmanage",
        "SnapshotUnmanage",
        "2014-12-31T00:00:00+00:00",
        "Enable volume unmanage operation.",
    ),
    ("os-types-extra-specs", "TypesExtraSpecs", "2011-08-24T00:00:00+00:00", "Type extra specs support."),
    ("os-types-manage", "TypesManage", "2011-08-24T00:00:00+00:00", "Types manage support."),
    (
        "os-used-limits",
        "UsedLimits",
        "2013-10-03T00:00:00+00:00",
        "Provide data on limited resources that are being used.",
    ),
    ("os-volume-actions", "VolumeActions", "2012-05-31T00:00:00+00:00", "Enable volume actions."),
    (
        "os-volume-encryption-metadata",
        "VolumeEncryptionMetadata",
        "2013-07-10T00:00:00+00:00",
        "Volume encryption metadata retrieval support.",
    ),
    (
        "os-vol-host-attr",
        "VolumeHostAttribute",
        "2011-11-03T00:00:00+00:00",
        "Expose host as an attribute of a volume.",
    ),
    (
        "os-vol-image-meta",
        "VolumeImageMetadata",
        "2012-12-07T00:00:00+00:00",
        "Show image metadata associated with the volume.",
    ),
    (
        "os-volume-manage",
        "VolumeManage",
        "2014-02-10T00:00:00+00:00",
        "Allows existing backend storage to be 'managed' by Cinder.",
    ),
    (
        "os-vol-mig-status-attr",
        "VolumeMigStatusAttribute",
        "2013-08-08T00:00:00+00:00",
        "Expose migration_status as an attribute of a volume.",
    ),
    (
        "os-vol-tenant-attr",
        "VolumeTenantAttribute",
        "2011-11-03T00:00:00+00:00",
        "Expose the internal project_id as an attribute of a volume.",
    ),
    (
        "os-volume-transfer",
        "VolumeTransfer",
        "2013-05-29T00:00:00+00:00",
        "Volume transfer management support.",
    ),
    ("os-volume-type-access", "VolumeTypeAccess", "2014-06-26T00:00:00Z", "Volume type access support."),
    (
        "encryption",
        "VolumeTypeEncryption",
        "2013-07-01T00:00:00+00:00",
        "Encryption support for volume types.",
    ),
    (
        "os-volume-unmanage",
        "VolumeUnmanage",
        "2012-05-31T00:00:00+00:00",
        "Enable volume unmanage operation.",
    ),
)


# ================================================================================== quotas
def _resources(cloud: Cloud) -> dict[str, int]:
    """Every quota resource with its default, in Cinder's order (global, then per volume type)."""
    defaults = dict(_DEFAULT_QUOTAS)
    for vtype in sorted(cloud.state.volume_types.values(), key=lambda t: t.seq):
        for part in _PER_TYPE:
            defaults[f"{part}_{vtype.name}"] = -1
    return defaults | _GROUP_DEFAULTS


def _usage(cloud: Cloud, project_id: str) -> dict[str, int]:
    """What the project holds now; gigabytes counts snapshots too (Cinder's no_snapshot_gb_quota=False)."""
    volumes = [v for v in cloud.state.volumes.values() if v.project_id == project_id]
    snapshots = [s for s in cloud.state.snapshots.values() if s.project_id == project_id]
    used = {
        "volumes": len(volumes),
        "snapshots": len(snapshots),
        "gigabytes": sum(v.size for v in volumes) + sum(s.size for s in snapshots),
    }
    type_names = {t.id: t.name for t in cloud.state.volume_types.values()}
    for volume in volumes:
        name = type_names.get(volume.volume_type_id)
        if name is not None:
            used[f"volumes_{name}"] = used.get(f"volumes_{name}", 0) + 1
            used[f"gigabytes_{name}"] = used.get(f"gigabytes_{name}", 0) + volume.size
    return used


def _limits_of(cloud: Cloud, project_id: str) -> dict[str, int]:
    overrides = cloud.state.volume_quotas.get(project_id, {})
    return {key: overrides.get(key, default) for key, default in _resources(cloud).items()}


def _refuse_other_project(ctx: Ctx, project_id: str, policy: str) -> None:
    # SYSTEM_READER_OR_PROJECT_READER with the target project: an admin, or a reader of that project
    if not ctx.is_admin and project_id != ctx.project_id:
        raise ApiError(403, f"Policy doesn't allow {policy} to be performed.")


def show_quota_set(cloud: Cloud, req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    project_id = params["project"]
    _refuse_other_project(ctx, project_id, "volume_extension:quotas:show")
    limits = _limits_of(cloud, project_id)
    doc: Json
    if as_bool(req.arg("usage") or "false"):
        used = _usage(cloud, project_id)
        doc = {
            key: {"limit": limit, "in_use": used.get(key, 0), "reserved": 0} for key, limit in limits.items()
        }
    else:
        doc = dict(limits)
    doc["id"] = project_id
    return Reply.json(STATUS_GOOD, {"quota_set": doc})


def quota_defaults(cloud: Cloud, _req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    project_id = params["project"]
    _refuse_other_project(ctx, project_id, "volume_extension:quotas:show")
    return Reply.json(STATUS_GOOD, {"quota_set": {**_resources(cloud), "id": project_id}})


def update_quota_set(cloud: Cloud, req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    refuse_unless_admin(ctx, "volume_extension:quotas:update")
    project_id = params["project"]
    wanted = body_of(req).get("quota_set")
    if not isinstance(wanted, dict) or not wanted:
        # assumption: the jsonschema text Cinder's validation prints
        raise ApiError(400, "Invalid input for field/attribute quota_set. 'quota_set' is a required property")
    known = _resources(cloud)
    bad = [key for key in wanted if key not in known and key not in _NON_QUOTA_KEYS]
    if bad:
        raise ApiError(400, f"Invalid input received: Bad key(s) in quota set: {', '.join(bad)}")
    values = {key: as_int(value, key) for key, value in wanted.items() if key not in _NON_QUOTA_KEYS}
    used = _usage(cloud, project_id)
    for key, value in values.items():
        if not -1 <= value <= _MAX_QUOTA:
            raise ApiError(400, f"Invalid input received: {key} must be >= -1 and <= {_MAX_QUOTA}.")
        if key != "per_volume_gigabytes" and value != -1 and value < used.get(key, 0):
            raise ApiError(
                400,
                f"Quota {key} limit must be equal or greater than existing resources. Current usage is "
                f"{used.get(key, 0)} and the requested limit is {value}.",
            )
    cloud.state.volume_quotas.setdefault(project_id, {}).update(values)
    return Reply.json(STATUS_GOOD, {"quota_set": _limits_of(cloud, project_id)})


def delete_quota_set(cloud: Cloud, _req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    refuse_unless_admin(ctx, "volume_extension:quotas:delete")
    cloud.state.volume_quotas.pop(params["project"], None)
    return Reply(STATUS_GOOD, b"", "text/html; charset=UTF-8")  # a controller that returns None


# ================================================================================== limits
def get_limits(cloud: Cloud, req: Request, ctx: Ctx, _params: dict[str, str]) -> Reply:
    project_id = ctx.project_id
    asked = req.arg("project_id") or req.arg("tenant_id")
    if asked and ctx.is_admin and ctx.at_least(3, 39):  # mv.LIMITS_ADMIN_FILTER; otherwise ignored
        project_id = asked
    limits, used = _limits_of(cloud, project_id), _usage(cloud, project_id)
    absolute: Json = {_LIMIT_NAMES[key]: value for key, value in limits.items() if key in _LIMIT_NAMES}
    absolute |= {name: used.get(key, 0) for name, key in _USED_NAMES.items()}
    return Reply.json(STATUS_GOOD, {"limits": {"rate": [], "absolute": absolute}})


# ================================================================================== about the service
def list_availability_zones(_cloud: Cloud, _req: Request, _ctx: Ctx, _params: dict[str, str]) -> Reply:
    zones = [{"zoneName": _ZONE, "zoneState": {"available": True}}]
    return Reply.json(STATUS_GOOD, {"availabilityZoneInfo": zones})


def list_resource_filters(_cloud: Cloud, req: Request, ctx: Ctx, _params: dict[str, str]) -> Reply:
    if not ctx.at_least(3, 33):  # mv.RESOURCE_FILTER_CONFIG: older requests find no such resource
        raise ApiError(404, "The resource could not be found.")
    resource = req.arg("resource")
    if resource:
        chosen = {resource: RESOURCE_FILTERS[resource]} if resource in RESOURCE_FILTERS else {}
    else:
        chosen = RESOURCE_FILTERS
    filters = [{"resource": name, "filters": list(keys)} for name, keys in chosen.items()]
    return Reply.json(STATUS_GOOD, {"resource_filters": filters})


def list_extensions(_cloud: Cloud, _req: Request, _ctx: Ctx, _params: dict[str, str]) -> Reply:
    extensions = [
        {"name": name, "alias": alias, "description": text, "updated": updated, "links": []}
        for alias, name, updated, text in _EXTENSIONS
    ]
    return Reply.json(STATUS_GOOD, {"extensions": extensions})


def list_services(cloud: Cloud, req: Request, ctx: Ctx, _params: dict[str, str]) -> Reply:
    refuse_unless_admin(ctx, "volume_extension:services:index")
    updated = iso(cloud.wall(cloud.now()), style="cinder")  # every service reported just now: all up
    services: list[Json] = []
    for binary, host in (("cinder-scheduler", _HOST), ("cinder-volume", _VOLUME_HOST)):
        service: Json = {
            "binary": binary,
            "host": host,
            "zone": _ZONE,
            "status": "enabled",
            "state": "up",
            "updated_at": updated,
        }
        if ctx.at_least(3, 49) and binary == "cinder-volume":  # mv.BACKEND_STATE_REPORT
            service["backend_state"] = "up"
        if ctx.at_least(3, 7):  # mv.CLUSTER_SUPPORT
            service["cluster"] = None
        service["disabled_reason"] = None  # os-extended-services is loaded
        if binary == "cinder-volume":
            service |= {"replication_status": "disabled", "active_backend_id": None, "frozen": False}
        services.append(service)
    for key in ("host", "binary"):
        wanted = req.arg(key)
        if wanted is not None:
            services = [s for s in services if s[key] == wanted]
    return Reply.json(STATUS_GOOD, {"services": services})


def get_capabilities(_cloud: Cloud, _req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    refuse_unless_admin(ctx, "volume_extension:capabilities")
    if params["host"] != _VOLUME_HOST:
        raise ApiError(404, f"Can't find service: {params['host']}")

    def boolean(title: str, text: str) -> Json:
        return {"title": title, "description": text, "type": "boolean"}

    # assumption: what Cinder's LVM driver reports (cinder/volume/drivers/lvm.py, driver.py standard
    # capabilities); the fake has no real backend to ask
    doc: Json = {
        "namespace": f"OS::Storage::Capabilities::{_VOLUME_HOST}",
        "vendor_name": "Open Source",
        "volume_backend_name": _BACKEND,
        "pool_name": None,
        "driver_version": "3.0.0",
        "storage_protocol": "iSCSI",
        "display_name": None,
        "description": None,
        "visibility": None,
        "replication_targets": [],
        "properties": {
            "thin_provisioning": boolean("Thin Provisioning", "Sets thin provisioning."),
            "compression": boolean("Compression", "Enables compression."),
            "qos": boolean("QoS", "Enables QoS."),
            "replication_enabled": boolean("Replication", "Enables replication."),
        },
    }
    return Reply.json(STATUS_GOOD, doc)
