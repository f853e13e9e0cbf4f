"""The analytics API subset of the Tungsten fake: vRouter UVEs, served on the fake's own port.

Real TF serves these from contrail-analytics-api (port 8081), a separate server; the fake answers them
next to the config API, so a client points ``analytics_url`` at the fake's URL. Routes::

    GET /analytics/uves/vrouters            [{"name": <node>, "href": ".../vrouter/<node>?flat"}]
    GET /analytics/uves/vrouter/<node>      {"VrouterAgent": {...}, "NodeStatus": {...}} (``?flat`` or not)

Wire facts: Juniper, "Contrail Analytics APIs and UVEs" (the list and the per-key UVE keyed by struct
name); the ``VrouterAgent`` fields from tf-controller src/vnsw/agent/uve/vrouter.sandesh. A UVE for an
unknown key answers ``{}`` (assumption: analytics-api answers an empty UVE, not 404).
The kernel is published at ``VrouterAgent.kernel_version`` (assumption: no TF release has that field;
see ``cloudkit.tungsten._wire.KERNEL_FIELD``).
"""

from __future__ import annotations

import json
from urllib.parse import quote, unquote

from cloudkit.testing.fakes._kit import Reply, Request
from cloudkit.testing.fakes.tungsten._rbac import Caller
from cloudkit.testing.fakes.tungsten._schema import Json, TfError
from cloudkit.testing.fakes.tungsten._store import Store

_PREFIX = "/analytics/uves/"


def vrouter_uve(*, kernel: str | None, build_version: str, platform: str) -> Json:
    """The flat UVE of one vRouter node as the fake serves it."""
    build_info = {"build-info": [{"build-version": build_version, "build-hostname": "tf-build"}]}
    agent: Json = {
        "build_info": json.dumps(build_info),
        "platform": platform,
        "hypervisor": "kvm",
        "mode": "VROUTER",
        "control_ip": "127.0.0.1",
        "self_ip_list": ["127.0.0.1"],
        "vhost_if": {"name": "vhost0", "mac_address": "00:00:5e:00:01:00"},
    }
    if kernel is not None:
        agent["kernel_version"] = kernel  # assumption: where a deployment publishes it (not TF's own)
    return {
        "VrouterAgent": agent,
        "NodeStatus": {"process_status": [{"module_id": "contrail-vrouter-agent", "state": "Functional"}]},
    }


def answer(st: Store, req: Request, caller: Caller) -> Reply:
    """One analytics request; only an admin reads UVEs (assumption: analytics-api in rbac/cloud-admin)."""
    if req.method not in ("GET", "HEAD"):
        raise TfError(405, "Method not allowed.")
    if not caller.admin:
        raise TfError(403, "Permission Denied")
    rest = req.path.removeprefix(_PREFIX)
    if rest == "vrouters":
        base = st.base_url()
        listed = [
            {"name": name, "href": f"{base}{_PREFIX}vrouter/{quote(name, safe='')}?flat"}
            for name in sorted(st.vrouters)
        ]
        return Reply.json(200, listed)
    kind, _, key = rest.partition("/")
    if kind == "vrouter" and key:
        return Reply.json(200, st.vrouters.get(unquote(key), {}))
    raise TfError(404, f"Not found: {req.raw_path!r}")
