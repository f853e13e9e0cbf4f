"""OpenStack (Nova, Cinder, Glance, Keystone) over openstacksdk: system volumes, verified attach, retries.

Example:
    >>> from cloudkit.openstack import AttachStrategy, OpenStackSettings
    >>> AttachStrategy.NOVA.value
    'nova'
"""

from cloudkit.openstack._client import OpenStackClient
from cloudkit.openstack._models import (
    AttachStrategy,
    Flavor,
    Image,
    Server,
    Snapshot,
    TokenInfo,
    Volume,
    VolumeAttachment,
)
from cloudkit.openstack._settings import OpenStackSettings

__all__ = [
    "AttachStrategy",
    "Flavor",
    "Image",
    "OpenStackClient",
    "OpenStackSettings",
    "Server",
    "Snapshot",
    "TokenInfo",
    "Volume",
    "VolumeAttachment",
]
