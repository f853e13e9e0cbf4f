"""Neutron (network v2.0) of the OpenStack fake: the versions document and the one route table.

Modelled on Neutron 29 with ML2 and the ``router`` and ``auto_allocate`` service plugins, without
agents (as the lab runs it). Networks and subnets (and the views, lists and errors) are in
`_neutron_core`, ports and security groups in `_neutron_ports`, routers, floating IPs, auto-allocation,
subnet pools, extensions and quotas in `_neutron_l3`, the records and
the devstack seed (``public``, ``shared-default-subnetpool-v4``) in `_neutron_state`.
"""

from __future__ import annotations

from cloudkit.testing.fakes._kit import Reply, Request, RouteMiss
from cloudkit.testing.fakes.openstack import _neutron_l3, _neutron_ports
from cloudkit.testing.fakes.openstack._cloud import Cloud
from cloudkit.testing.fakes.openstack._neutron_core import ROUTES, NeutronError, fail
from cloudkit.testing.fakes.openstack._wire import STATUS_GOOD, ApiError

_neutron_ports.register(ROUTES)
_neutron_l3.register(ROUTES)


def serve(cloud: Cloud, req: Request) -> Reply:
    """Answer a request below ``/networking``."""
    path = req.path.rstrip("/")
    if path == "/networking" and req.method in ("GET", "HEAD"):
        link = {"href": f"{cloud.base_url}/networking/v2.0/", "rel": "self"}
        return Reply.json(STATUS_GOOD, {"versions": [{"id": "v2.0", "status": "CURRENT", "links": [link]}]})
    rest = path.removeprefix("/networking/v2.0")
    if rest == path:
        raise ApiError(404, "The resource could not be found.", envelope="plain")
    ctx = cloud.context(req)
    try:
        if rest == "":
            return _resources(cloud)
        try:
            handler, params = ROUTES.resolve(req.method, rest.removesuffix(".json"))
        except RouteMiss as miss:
            if miss.status == 405:  # noqa: PLR2004 - the path is known, the method is not
                raise fail(
                    405, "HTTPMethodNotAllowed", "The method is not allowed for this resource."
                ) from None
            raise fail(404, "HTTPNotFound", "The resource could not be found.") from None
        return handler(cloud, req, ctx, params)
    except NeutronError as err:
        return err.neutron_reply()


def _resources(cloud: Cloud) -> Reply:
    base = f"{cloud.base_url}/networking/v2.0"
    rows = [
        {"name": single, "collection": f"{single}s", "links": [{"href": f"{base}/{single}s", "rel": "self"}]}
        for single in ("subnet", "subnetpool", "network", "port")
    ]
    return Reply.json(STATUS_GOOD, {"resources": rows})
