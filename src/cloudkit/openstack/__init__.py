"""OpenStack (Nova, Cinder, Glance, Keystone) over openstacksdk: system volumes, verified attach, retries.

Example:
    >>> from cloudkit.openstack import AttachStrategy, OpenStackSettings
    >>> AttachStrategy.NOVA.value
    'nova'
"""

from cloudkit._keystone import KeystoneIdentity, KeystoneProject, KeystoneUser
from cloudkit.openstack._client import OpenStackClient
from cloudkit.openstack._identity import IdentityAdmin
from cloudkit.openstack._models import (
    AggregateCapacity,
    AttachStrategy,
    BuildFailure,
    ComputeLimits,
    Flavor,
    Image,
    Keypair,
    QuotaUsage,
    ResourceCapacity,
    Server,
    Snapshot,
    Volume,
    VolumeAttachment,
    VolumeLimits,
)
from cloudkit.openstack._session_auth import SessionAuthCache
from cloudkit.openstack._settings import AuthType, OpenStackSettings

__all__ = [
    "AggregateCapacity",
    "AttachStrategy",
    "AuthType",
    "BuildFailure",
    "ComputeLimits",
    "Flavor",
    "IdentityAdmin",
    "Image",
    "Keypair",
    "KeystoneIdentity",
    "KeystoneProject",
    "KeystoneUser",
    "OpenStackClient",
    "OpenStackSettings",
    "QuotaUsage",
    "ResourceCapacity",
    "Server",
    "SessionAuthCache",
    "Snapshot",
    "Volume",
    "VolumeAttachment",
    "VolumeLimits",
]
