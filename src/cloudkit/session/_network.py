"""`CustomerNetwork`: Tungsten Fabric where one customer's network is concerned.

A customer's token never reaches TF (quirk ``tungsten.admin-scope-capture``): TF is always called as the
platform's dedicated TF service account. What makes a call the customer's is the project it is bound
to, which comes from the customer's verified session, never from the request.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from cloudkit.tungsten import Port, SecurityGroup, Subnet, TungstenClient, VirtualNetwork

__all__ = ["CustomerNetwork"]


@attrs.frozen(kw_only=True, repr=False)
class CustomerNetwork:
    """The platform's TF service account, bound to one customer's Keystone project.

    Made by :meth:`SessionManager.tungsten` from a verified session; every method acts in that project
    only. For anything else, ``client`` is the service account's full :class:`TungstenClient` (shared by
    the manager: do not close it).

    Attributes:
        client: the TF client of the platform's service account.
        project_id: the customer's Keystone project id (TF's project uuid is the same, with dashes).

    Example:
        >>> from cloudkit.session import CustomerNetwork
        >>> from cloudkit.tungsten import TungstenClient, TungstenSettings
        >>> tf = TungstenClient(TungstenSettings(url="http://127.0.0.1:8082", auth_url="http://127.0.0.1:5000/v3",
        ...                                      username="svc-tf", password="pw", project_name="service"))
        >>> CustomerNetwork(client=tf, project_id="9f3b")
        CustomerNetwork(project_id='9f3b', client=TungstenClient(url='http://127.0.0.1:8082', account='svc-tf'))
        >>> tf.close()
    """  # noqa: E501 (doctest lines)

    client: TungstenClient
    project_id: str

    def __repr__(self) -> str:
        """The project and the account; never a credential."""
        return f"CustomerNetwork(project_id={self.project_id!r}, client={self.client!r})"

    def list_virtual_networks(self) -> list[VirtualNetwork]:
        """The customer's virtual networks (every page)."""
        return self.client.list_virtual_networks(project_id=self.project_id)

    def list_ports(self) -> list[Port]:
        """The customer's ports (virtual machine interfaces)."""
        return self.client.list_ports(project_id=self.project_id)

    def list_security_groups(self) -> list[SecurityGroup]:
        """The customer's security groups."""
        return self.client.list_security_groups(project_id=self.project_id)

    def create_virtual_network(
        self, name: str, *, subnets: Sequence[str | Subnet] = (), mtu: int | None = None
    ) -> VirtualNetwork:
        """A new network with ``subnets`` under the customer's project, owned by it."""
        return self.client.create_virtual_network(
            project_id=self.project_id, name=name, subnets=subnets, mtu=mtu
        )
