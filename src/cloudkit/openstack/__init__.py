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
    AttachStrategy,
    Flavor,
    Image,
    Server,
    Snapshot,
    Volume,
    VolumeAttachment,
)
from cloudkit.openstack._session_auth import SessionAuthCache
from cloudkit.openstack._settings import AuthType, OpenStackSettings

__all__ = [
    "AttachStrategy",
    "AuthType",
    "Flavor",
    "IdentityAdmin",
    "Image",
    "KeystoneIdentity",
    "KeystoneProject",
    "KeystoneUser",
    "OpenStackClient",
    "OpenStackSettings",
    "Server",
    "SessionAuthCache",
    "Snapshot",
    "Volume",
    "VolumeAttachment",
]
