"""What `OpenStackFake` hands out: credentials and read-only snapshots of its state."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cloudkit._keystone import login_body


@dataclass(frozen=True, slots=True)
class FakeCredentials:
    """A seeded or added Keystone user with its password and its one project (domain ``Default``).

    The password is the one given when the user was made; a change over the wire does not update
    this record.

    Example:
        >>> from cloudkit.testing.fakes import OpenStackFake
        >>> creds = OpenStackFake().portal
        >>> creds.username, creds.project_name
        ('portal', 'alice')
        >>> sorted(creds.auth("http://127.0.0.1:5000/identity/v3"))[:3]
        ['auth_url', 'password', 'project_domain_name']
    """

    username: str
    password: str
    project_name: str
    user_id: str
    project_id: str
    domain_name: str = "Default"

    def auth(self, auth_url: str) -> dict[str, str]:
        """The ``auth`` dict for ``openstack.connection.Connection(auth=...)`` (password, project scope).

        Example:
            >>> from cloudkit.testing.fakes import OpenStackFake
            >>> OpenStackFake().admin.auth("http://x/identity/v3")["project_name"]
            'admin'
        """
        return {
            "auth_url": auth_url,
            "username": self.username,
            "password": self.password,
            "project_name": self.project_name,
            "user_domain_name": self.domain_name,
            "project_domain_name": self.domain_name,
        }

    def token_request(self) -> dict[str, Any]:
        """The body of ``POST /v3/auth/tokens`` for a project-scoped password token.

        Example:
            >>> from cloudkit.testing.fakes import OpenStackFake
            >>> body = OpenStackFake().portal.token_request()
            >>> body["auth"]["scope"]["project"]["name"]
            'alice'
        """
        return login_body(
            user_name=self.username,
            password=self.password,
            user_domain=self.domain_name,
            project_name=self.project_name,
            project_domain=self.domain_name,
        )


@dataclass(frozen=True, slots=True)
class FakeVolumeAttachment:
    """One attachment of a volume as the fake keeps it.

    ``in_guest`` is True when Nova knows it (a block device mapping: it shows in
    ``os-volume_attachments``); ``attached`` is False while it is still ``attaching``.

    Example:
        >>> FakeVolumeAttachment("a-1", "s-1", None, "/dev/vdb", True, True, False).in_guest
        True
    """

    attachment_id: str
    server_id: str | None
    host_name: str | None
    device: str
    attached: bool
    in_guest: bool
    delete_on_termination: bool


@dataclass(frozen=True, slots=True)
class FakeVolume:
    """A snapshot of one Cinder volume.

    Example:
        >>> from cloudkit.testing.fakes import OpenStackFake
        >>> OpenStackFake().volumes()
        []
    """

    id: str
    project_id: str
    name: str
    size: int
    status: str
    bootable: bool
    metadata: Mapping[str, str]
    attachments: tuple[FakeVolumeAttachment, ...]
    image_id: str | None


@dataclass(frozen=True, slots=True)
class FakeServer:
    """A snapshot of one Nova server; ``volume_ids`` are the volumes Nova has mapped, root first.

    ``tags`` are its Nova tags (sorted, as Nova lists them); ``metadata`` everything in its metadata,
    cloudkit's create marker (``cloudkit_request``) included.

    Example:
        >>> from cloudkit.testing.fakes import OpenStackFake
        >>> OpenStackFake().servers()
        []
    """

    id: str
    project_id: str
    name: str
    status: str
    vm_state: str
    task_state: str | None
    power_state: int
    locked: bool
    locked_reason: str | None
    flavor_id: str
    root_volume_id: str
    volume_ids: tuple[str, ...]
    tags: tuple[str, ...] = ()
    metadata: dict[str, str] = field(default_factory=dict, hash=False)


@dataclass(frozen=True, slots=True)
class FakeSnapshot:
    """A snapshot of one Cinder volume snapshot.

    Example:
        >>> from cloudkit.testing.fakes import OpenStackFake
        >>> OpenStackFake().snapshots()
        []
    """

    snapshot_id: str
    id: str
    project_id: str
    name: str
    size: int
    status: str
