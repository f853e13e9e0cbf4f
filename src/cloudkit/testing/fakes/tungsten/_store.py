"""The Tungsten fake's object store: objects by uuid and fq-name, refs and back-refs, children, views.

`Store` is the whole state of one fake (the objects and what the API server remembers besides: the
aaa mode, cached tokens, scope captures); the handler modules work on it under the fake's lock.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from cloudkit.testing.fakes.tungsten._schema import (
    CLOUD_ADMIN,
    DEFAULT_PROJECT,
    DOMAIN,
    KINDS,
    PERMS_RWX,
    PERMS_RX,
    SG_ID_FIRST,
    AaaMode,
    Json,
    TfError,
    now_iso,
    uuid5,
)

if TYPE_CHECKING:
    from cloudkit.testing.fakes.tungsten._keystone_client import Identity, KeystoneClient
    from cloudkit.testing.fakes.tungsten._rbac import Rule, TungstenScopeCapture


@dataclass(slots=True)
class Obj:
    kind: str
    uuid: str
    fq_name: list[str]
    parent_type: str | None
    parent_uuid: str | None
    data: Json  # properties (with id_perms, perms2, display_name) and <type>_refs lists
    seq: int
    relaxed: set[str] = field(default_factory=set)  # ref uuids relaxed for delete (on the referrer)

    @property
    def perms2(self) -> Json:
        return cast("Json", self.data["perms2"])

    def refs(self, ref_field: str) -> list[Json]:
        return cast("list[Json]", self.data.get(ref_field) or [])

    def copy_with(self, changes: Mapping[str, Any]) -> Obj:
        """A detached copy with some fields replaced (an update is checked on it before it lands)."""
        data = {**copy.deepcopy(self.data), **copy.deepcopy(dict(changes))}
        return Obj(self.kind, self.uuid, self.fq_name, self.parent_type, self.parent_uuid, data, self.seq)


@dataclass(frozen=True, slots=True)
class Shape:
    """What a read or a list shows: field selection, children, back-refs, hrefs."""

    fields: frozenset[str] | None = None
    children: bool = True
    back_refs: bool = True
    hrefs: bool = True
    ref_hrefs: bool = True

    def wants(self, name: str) -> bool:
        return self.fields is None or name in self.fields


@dataclass(frozen=True, slots=True)
class Options:
    """How the fake was configured (kept across `TungstenFake.reset`)."""

    keystone_admin: tuple[str, str, str]
    seed: bool
    capture_scope: bool
    token_cache_seconds: float
    rbac_rules: tuple[Rule, ...]


class Store:
    """The VNC API server's state; the caller holds the fake's lock."""

    def __init__(
        self,
        options: Options,
        *,
        keystone: KeystoneClient,
        clock: Callable[[], float],
        aaa_mode: AaaMode,
        base_url: Callable[[], str],
        max_page_size: int | None = None,
    ) -> None:
        self.options = options
        self.keystone = keystone
        self.clock = clock
        self.aaa_mode: AaaMode = aaa_mode
        self.base_url = base_url
        self.max_page_size = max_page_size
        self.objs: dict[str, Obj] = {}
        self.by_fq: dict[tuple[str, tuple[str, ...]], str] = {}
        self.seq = 0
        self.token_cache: dict[str, tuple[Identity, float]] = {}
        self.captures: list[TungstenScopeCapture] = []
        self.vrouters: dict[str, Json] = {}  # analytics: the flat UVE of each vRouter node, by name
        self.seed()

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def find(self, kind: str, fq_name: Sequence[str]) -> Obj | None:
        found = self.by_fq.get((kind, tuple(fq_name)))
        return self.objs.get(found) if found else None

    def of_kind(self, kind: str) -> list[Obj]:
        return sorted((o for o in self.objs.values() if o.kind == kind), key=lambda o: o.seq)

    def put(self, obj: Obj) -> Obj:
        self.objs[obj.uuid] = obj
        self.by_fq[(obj.kind, tuple(obj.fq_name))] = obj.uuid
        return obj

    def drop(self, obj: Obj) -> None:
        self.objs.pop(obj.uuid, None)
        self.by_fq.pop((obj.kind, tuple(obj.fq_name)), None)

    @staticmethod
    def id_perms(obj_uuid: str, *, user_visible: bool = True, description: str | None = None) -> Json:
        number = uuid.UUID(obj_uuid).int
        now = now_iso()
        return {
            "permissions": {
                "owner": CLOUD_ADMIN,
                "owner_access": PERMS_RWX,
                "group": "cloud-admin-group",
                "group_access": PERMS_RWX,
                "other_access": PERMS_RWX,
            },
            "uuid": {"uuid_mslong": number >> 64, "uuid_lslong": number & ((1 << 64) - 1)},
            "enable": True,
            "created": now,
            "last_modified": now,
            "description": description,
            "user_visible": user_visible,
            "creator": None,
        }

    @staticmethod
    def perms2(owner: str, *, global_access: int = 0) -> Json:
        return {"owner": owner, "owner_access": PERMS_RWX, "global_access": global_access, "share": []}

    def system(
        self,
        kind: str,
        fq_name: list[str],
        *,
        owner: str = CLOUD_ADMIN,
        global_access: int = 0,
        **props: object,
    ) -> Obj:
        """Create a seeded or server-made object directly (no checks)."""
        parents = KINDS[kind].parents
        parent = self.find(parents[0], fq_name[:-1]) if parents and len(fq_name) > 1 else None
        obj_uuid = uuid5(f"{kind}:{':'.join(fq_name)}")
        data: Json = {
            "display_name": fq_name[-1],
            "id_perms": self.id_perms(obj_uuid),
            "perms2": self.perms2(owner, global_access=global_access),
            **props,
        }
        obj = Obj(
            kind,
            obj_uuid,
            list(fq_name),
            parent.kind if parent else None,
            parent.uuid if parent else None,
            data,
            self.next_seq(),
        )
        return self.put(obj)

    def seed(self) -> None:
        self.system("global-system-config", ["default-global-system-config"], autonomous_system=64512)
        self.system("domain", [DOMAIN])
        if not self.options.seed:
            return
        project = [DOMAIN, DEFAULT_PROJECT]
        self.system("project", project, quota={})
        # contrail-api makes the default IPAM readable by every tenant (global_access RX)
        self.system("network-ipam", [*project, "default-network-ipam"], global_access=PERMS_RX)
        for name, network_id in (("default-virtual-network", 1), ("ip-fabric", 2), ("__link_local__", 3)):
            vn = self.system(
                "virtual-network", [*project, name], virtual_network_network_id=network_id, is_shared=False
            )
            self.system("routing-instance", [*vn.fq_name, name], routing_instance_is_default=True)
        self.system(
            "security-group",
            [*project, "__no_rule__"],
            global_access=PERMS_RX,
            security_group_entries={},
            security_group_id=SG_ID_FIRST - 1,
        )

    def href(self, kind: str, obj_uuid: str) -> str:
        return f"{self.base_url()}/{kind}/{obj_uuid}"

    def children(self, obj: Obj) -> dict[str, list[Obj]]:
        found: dict[str, list[Obj]] = {}
        for other in sorted(self.objs.values(), key=lambda o: o.seq):
            if other.parent_uuid == obj.uuid:
                found.setdefault(f"{KINDS[other.kind].snake}s", []).append(other)
        return found

    def back_refs(self, obj: Obj) -> list[tuple[Obj, Json]]:
        ref_field = f"{KINDS[obj.kind].snake}_refs"
        found: list[tuple[Obj, Json]] = []
        for other in sorted(self.objs.values(), key=lambda o: o.seq):
            found.extend((other, ref) for ref in other.refs(ref_field) if ref.get("uuid") == obj.uuid)
        return found

    def link(self, kind: str, obj_uuid: str, fq_name: Sequence[str], *, hrefs: bool) -> Json:
        """A ref, child or back-ref entry: ``{"to", "uuid"}`` plus ``href`` unless excluded."""
        entry: Json = {"to": list(fq_name), "uuid": obj_uuid}
        if hrefs:
            entry["href"] = self.href(kind, obj_uuid)
        return entry

    def view(self, obj: Obj, shape: Shape | None = None) -> Json:
        """The object as ``GET /<type>/<uuid>`` shows it (under no type key)."""
        shape = shape or Shape()
        doc: Json = {"uuid": obj.uuid, "fq_name": list(obj.fq_name), "name": obj.fq_name[-1]}
        if obj.parent_type is not None and obj.parent_uuid is not None:
            doc.update(parent_type=obj.parent_type, parent_uuid=obj.parent_uuid)
            if shape.hrefs:
                doc["parent_href"] = self.href(obj.parent_type, obj.parent_uuid)
        if shape.hrefs:
            doc["href"] = self.href(obj.kind, obj.uuid)
        kind = KINDS[obj.kind]
        for key, value in obj.data.items():
            if key not in kind.refs:
                if shape.wants(key) or key in ("id_perms", "perms2"):
                    doc[key] = copy.deepcopy(value)
            elif value and shape.wants(key):
                ref_hrefs = shape.hrefs and shape.ref_hrefs
                doc[key] = [
                    {
                        **self.link(kind.refs[key], r["uuid"], r["to"], hrefs=ref_hrefs),
                        "attr": copy.deepcopy(r["attr"]),
                    }
                    for r in value
                ]
        doc.update(self.view_links(obj, shape))
        return doc

    def view_links(self, obj: Obj, shape: Shape) -> Json:
        """Children (``<type>s``) and back-refs (``<type>_back_refs``) of an object."""
        doc: Json = {}
        if shape.children:
            for child_field, members in self.children(obj).items():
                if shape.wants(child_field):
                    doc[child_field] = [
                        self.link(c.kind, c.uuid, c.fq_name, hrefs=shape.hrefs) for c in members
                    ]
        if shape.back_refs:
            for other, ref in self.back_refs(obj):
                back_field = f"{KINDS[other.kind].snake}_back_refs"
                if shape.wants(back_field):
                    entry = self.link(other.kind, other.uuid, other.fq_name, hrefs=shape.hrefs)
                    entry["attr"] = copy.deepcopy(ref.get("attr"))
                    doc.setdefault(back_field, []).append(entry)
        return doc

    def lookup(self, kind: str, obj_uuid: str) -> Obj:
        obj = self.objs.get(obj_uuid)
        if obj is None:
            raise TfError(404, f"Unknown id: {obj_uuid}")
        if obj.kind != kind:
            raise TfError(404, f"No {kind} object found for id {obj_uuid}")
        return obj

    @staticmethod
    def subnets(vn: Obj | None) -> list[Json]:
        if vn is None:
            return []
        return [
            s
            for ref in vn.refs("network_ipam_refs")
            for s in (ref.get("attr") or {}).get("ipam_subnets") or []
        ]

    def next_sg_id(self) -> int:
        used = [
            int(o.data.get("security_group_id") or 0)
            for o in self.objs.values()
            if o.kind == "security-group"
        ]
        return max([*used, SG_ID_FIRST - 1]) + 1
