"""Tungsten Fabric config API (VNC API) over httpx, as a dedicated service account.

The client logs in to Keystone as its own TF service account and never forwards a portal user's token
(quirk ``tungsten.admin-scope-capture``); objects made for a customer live under the customer's project
and are owned by it. Setting a network's MTU also sets DHCP option 26 on its subnets
(``tungsten.mtu-not-in-dhcp``); plain-text errors become typed errors (``tungsten.plain-text-errors``).

Example:
    >>> from cloudkit.tungsten import TungstenSettings, blocking_objects
    >>> from cloudkit.errors import ConflictError
    >>> err = ConflictError("in use", detail="Delete when resource still referred: "
    ...     "['http://h:8082/virtual-machine-interface/6f1c0d3e-0000-4000-8000-000000000001']")
    >>> [ref.type for ref in blocking_objects(err)]
    ['virtual-machine-interface']
"""

from cloudkit._keystone import KeystoneIdentity
from cloudkit.tungsten._client import TungstenClient
from cloudkit.tungsten._models import (
    AllocationPool,
    DhcpOption,
    FloatingIp,
    FloatingIpPool,
    InstanceIp,
    LogicalRouter,
    ObjectRef,
    Port,
    RuleDirection,
    SecurityGroup,
    SecurityGroupRule,
    Subnet,
    VirtualNetwork,
    VrouterAgent,
)
from cloudkit.tungsten._settings import TungstenSettings
from cloudkit.tungsten._wire import blocking_objects

__all__ = [
    "AllocationPool",
    "DhcpOption",
    "FloatingIp",
    "FloatingIpPool",
    "InstanceIp",
    "KeystoneIdentity",
    "LogicalRouter",
    "ObjectRef",
    "Port",
    "RuleDirection",
    "SecurityGroup",
    "SecurityGroupRule",
    "Subnet",
    "TungstenClient",
    "TungstenSettings",
    "VirtualNetwork",
    "VrouterAgent",
    "blocking_objects",
]
