"""Lists of one type (http_resource_list): anchors, filters, detail, fields, counts and pages."""

from __future__ import annotations

import json
import uuid
from collections.abc import (
    Mapping,
)
from dataclasses import (
    dataclass,
)
from typing import (
    Any,
)

from cloudkit.testing.fakes._kit import (
    Request,
)
from cloudkit.testing.fakes.tungsten import _rbac as rbac
from cloudkit.testing.fakes.tungsten._rbac import (
    Caller,
)
from cloudkit.testing.fakes.tungsten._schema import (
    KINDS,
    PAGINATE_COUNT,
    Json,
    TfError,
)
from cloudkit.testing.fakes.tungsten._store import (
    Obj,
    Shape,
    Store,
)


@dataclass(slots=True)
class Query:
    """The parsed query of a list request."""

    kind: str
    parent_uuids: list[str] | None
    back_ref_uuids: list[str] | None
    obj_uuids: list[str] | None
    filters: dict[str, list[object]]
    paginate: bool
    marker: str | None
    limit: int
    count: bool
    detail: bool
    fields: frozenset[str]
    hrefs: bool


def list_collection(st: Store, req: Request, caller: Caller, kind: str) -> Json:
    plural = f"{kind}s"
    query = _query(st, req, kind)
    if query is None:
        return {plural: []}
    if query.parent_uuids is not None:
        query.parent_uuids = [
            u for u in query.parent_uuids if u not in st.objs or rbac.can_read(st, caller, st.objs[u])
        ]
    if query.obj_uuids is None and query.back_ref_uuids is None and query.parent_uuids == []:
        return {plural: []}
    if query.count and caller.admin and not query.paginate:
        return {plural: {"count": len(_fetch(st, query, None, None)[0])}}
    visible, marker = _collect(st, caller, query)
    found: object = {"count": len(visible)} if query.count else [_list_item(st, o, query) for o in visible]
    return {plural: found, "marker": marker} if query.paginate else {plural: found}


def _query(st: Store, req: Request, kind: str) -> Query | None:
    """The list's query parameters (http_resource_list); None when ``fq_names`` matched nothing."""
    info = KINDS[kind]
    parent_uuids: list[str] | None = None
    if "parent_fq_name_str" in req.query:
        parent_fq = (req.arg("parent_fq_name_str") or "").split(":")
        parent_types = [req.arg("parent_type") or ""] if "parent_type" in req.query else list(info.parents)
        parent_uuids = [p.uuid for t in parent_types if (p := st.find(t, parent_fq)) is not None]
    elif "parent_id" in req.query:
        parent_uuids = (req.arg("parent_id") or "").split(",")
    obj_uuids = (req.arg("obj_uuids") or "").split(",") if "obj_uuids" in req.query else None
    if "fq_names" in req.query:
        named = [o.uuid for t in (req.arg("fq_names") or "").split(",") if (o := st.find(kind, t.split(":")))]
        if obj_uuids is None and not named:
            return None
        obj_uuids = [*(obj_uuids or []), *named]
    asked = _page_limit(req.arg("page_limit")) if "page_limit" in req.query else PAGINATE_COUNT
    return Query(
        kind=kind,
        parent_uuids=parent_uuids,
        back_ref_uuids=(req.arg("back_ref_id") or "").split(",") if "back_ref_id" in req.query else None,
        obj_uuids=obj_uuids,
        filters=_filters(req.arg("filters")),
        paginate="page_marker" in req.query or "page_limit" in req.query,
        marker=_page_marker(req.arg("page_marker")),
        limit=min(asked, st.max_page_size or asked),
        count="true" in (req.arg("count") or "").lower(),
        detail="true" in (req.arg("detail") or "").lower(),
        fields=frozenset(f for f in (req.arg("fields") or "").split(",") if f),
        hrefs="exclude_hrefs" not in req.query,
    )


def _collect(st: Store, caller: Caller, query: Query) -> tuple[list[Obj], str | None]:
    """_list_collection's page loop: fetch, drop what the caller may not read, refill the page."""
    if not query.paginate:
        rows, _ = _fetch(st, query, None, None)
        return [o for o in rows if listable(st, caller, o)], None
    visible: list[Obj] = []
    start, remaining = query.marker, query.limit
    while True:
        rows, marker = _fetch(st, query, start, remaining)
        visible.extend(o for o in rows if listable(st, caller, o))
        start, remaining = marker, remaining - len(rows)
        if marker is None or remaining <= 0:
            return visible, marker


def _list_item(st: Store, obj: Obj, query: Query) -> Json:
    if query.detail:
        fields = query.fields or None
        shape = Shape(
            fields, children=bool(fields), back_refs=bool(fields), hrefs=query.hrefs, ref_hrefs=False
        )
        return {obj.kind: st.view(obj, shape)}
    item: Json = {"uuid": obj.uuid, "fq_name": list(obj.fq_name)}
    if query.hrefs:
        item["href"] = st.href(obj.kind, obj.uuid)
    if query.fields:
        extra = st.view(obj, Shape(query.fields, hrefs=query.hrefs))
        item.update({k: v for k, v in extra.items() if k in query.fields})
    return item


def listable(st: Store, caller: Caller, obj: Obj) -> bool:
    if caller.admin or st.aaa_mode != "rbac":
        return True
    if not obj.data["id_perms"].get("user_visible", True):
        return False
    return rbac.can_read(st, caller, obj)


def _page_marker(text: str | None) -> str | None:
    if not text or text.lower() == "none":
        return None
    try:
        uuid.UUID(text.split(":")[-1])
    except ValueError as exc:
        raise TfError(400, f"Invalid page_marker {text}: {exc}") from None
    return text


def _page_limit(text: str | None) -> int:
    try:
        value = int(text or "")
    except ValueError as exc:
        raise TfError(400, f"Invalid page_limit {text}: {exc}") from None
    if value <= 0:
        raise TfError(400, f"Invalid page_limit {text}: page_limit has to be greater than zero")
    return value


def _filters(text: str | None) -> dict[str, list[object]]:
    """utils.get_filters: ``k==v,k2==v2``, values JSON-decoded when they parse, repeats OR-ed."""
    found: dict[str, list[object]] = {}
    if not text:
        return found
    for item in text.split(","):
        pieces = item.split("==")
        if len(pieces) != 2:  # noqa: PLR2004 - key and value
            raise TfError(400, f"Invalid filter {text}")
        key, raw = pieces
        value: object
        try:
            value = json.loads(raw)
        except ValueError:
            value = raw
        values = found.setdefault(key, [])
        if value not in values:
            values.append(value)
    return found


def _matches(obj: Obj, filters: Mapping[str, list[object]]) -> bool:
    """vnc_cassandra filter_rows: only property filters count; a missing property never matches."""
    props = KINDS[obj.kind].props
    if not filters or not any(key in props for key in filters):
        return True
    for key, wanted in filters.items():
        if key not in obj.data or key not in props:
            return False
        value = obj.data[key]
        if isinstance(value, dict):
            if not any(subset(w, value) for w in wanted):
                return False
        elif value not in wanted:
            return False
    return True


def _fetch(st: Store, query: Query, start: str | None, count: int | None) -> tuple[list[Obj], str | None]:
    """vnc_cassandra.object_list: rows after property filters and the next marker."""
    everything = st.of_kind(query.kind)
    if query.parent_uuids or query.back_ref_uuids:
        return _fetch_anchored(query, everything, start, count)
    if query.obj_uuids is not None:
        wanted, marker = query.obj_uuids, None
        if count is not None:
            begin = (wanted.index(start) + 1 if start in wanted else len(wanted)) if start else 0
            wanted = wanted[begin:]
            if len(wanted) >= count:
                wanted = wanted[:count]
                marker = wanted[-1]
        by_uuid = {o.uuid: o for o in everything}
        rows = [by_uuid[u] for u in dict.fromkeys(wanted) if u in by_uuid]
        return [o for o in rows if _matches(o, query.filters)], marker
    # every object of the type, in the order of the fq-name table (``<fq_name_str>:<uuid>``)
    columns = sorted((":".join(o.fq_name) + ":" + o.uuid, o) for o in everything)
    if start:
        columns = [c for c in columns if c[0] > start]
    marker = None
    if count is not None and len(columns) >= count:
        columns = columns[:count]
        marker = columns[-1][0]
    return [o for _col, o in columns if _matches(o, query.filters)], marker


def _fetch_anchored(
    query: Query, rows: list[Obj], start: str | None, count: int | None
) -> tuple[list[Obj], str | None]:
    """Children of parents or referrers of objects; paginated by uuid, the marker is the last uuid."""
    if query.parent_uuids:
        rows = [o for o in rows if o.parent_uuid in query.parent_uuids]
    if query.back_ref_uuids:
        targets = set(query.back_ref_uuids)
        rows = [
            o for o in rows if any(r.get("uuid") in targets for f in KINDS[o.kind].refs for r in o.refs(f))
        ]
    if query.obj_uuids:
        rows = [o for o in rows if o.uuid in query.obj_uuids]
    rows = [o for o in rows if _matches(o, query.filters)]
    if count is None:
        return rows, None
    rows = sorted((o for o in rows if not start or o.uuid > start), key=lambda o: o.uuid)[:count]
    return rows, rows[-1].uuid if rows else None


def subset(wanted: object, value: Mapping[str, Any]) -> bool:
    if isinstance(wanted, str):
        try:
            wanted = json.loads(wanted)
        except ValueError:
            return False
    if not isinstance(wanted, dict):
        return False
    return all(key in value and value[key] == item for key, item in wanted.items())
