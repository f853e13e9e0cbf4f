"""The network part of ``cloudkit demo``: Tungsten Fabric as a dedicated service account.

Against the embedded fakes (the TF fake in cloud-admin mode, validating tokens on the OpenStack fake's
Keystone): the refused shared-admin configuration, what the shared account suffers in a customer's
scope, then a network with subnet and MTU for the customer, a port, a floating IP, and a delete that
TF refuses while the port still uses the network.
"""

from __future__ import annotations

from cloudkit._demos import Story
from cloudkit.errors import ConfigError, ConflictError, PermissionDeniedError
from cloudkit.openstack import OpenStackSettings
from cloudkit.platform import Platform
from cloudkit.tungsten import TungstenClient, TungstenSettings, blocking_objects

__all__ = ["run"]

_SERVICE = ("svc-tf", "svc-tf-pass", "service")  # the demo's dedicated TF service account
_PORTAL = ("portal", "portal-pass", "alice")  # the OpenStack fake's seeded portal identity


def run(story: Story) -> None:
    """Tell the TF story; raises if any step does not behave as told.

    Example:
        >>> import io
        >>> from cloudkit._demos.tungsten import run
        >>> class Quiet:
        ...     def heading(self, text): pass
        ...     def note(self, text): pass
        ...     def step(self, text, action): return action()
        ...     def expect_error(self, text, error, action):
        ...         try:
        ...             action()
        ...         except error as exc:
        ...             return exc
        ...         raise AssertionError(text)
        >>> run(Quiet())
    """
    from cloudkit.testing.fakes import OpenStackFake, TungstenFake  # noqa: PLC0415 (only the demo needs fakes)

    with OpenStackFake() as keystone, TungstenFake(keystone_url=keystone.auth_url) as tf:
        user, password, project = _SERVICE
        keystone.add_user(user, password, project=project, roles=("admin",))
        alice, admin_project = keystone.portal.project_id, keystone.admin.project_id
        story.heading(f"Tungsten Fabric fake on {tf.url} (cloud-admin mode; Keystone of the OpenStack fake)")

        story.heading("Quirk tungsten.admin-scope-capture: TF takes on the scope of whoever acts")
        auth_url = keystone.auth_url
        user_name, user_password, user_project = _PORTAL
        portal_tf = TungstenSettings(
            url=tf.url,
            auth_url=auth_url,
            username=user_name,
            password=user_password,
            project_name=user_project,
        )
        portal_os = OpenStackSettings(
            auth_url=auth_url, username=user_name, password=user_password, project_name=user_project
        )
        err = story.expect_error(
            "configure TF with the same Keystone user as the portal's OpenStack identity",
            ConfigError,
            lambda: Platform(openstack=portal_os, tungsten=portal_tf),
        )
        story.note(f"{err.message.split(': TF takes')[0]} (quirk {err.quirk})")
        with TungstenClient(portal_tf) as captured:
            denied = story.expect_error(
                "the same identity, acting in the customer's scope, lists routers anyway",
                PermissionDeniedError,
                captured.list_logical_routers,
            )
        story.note(f"{denied.message} ({denied.__notes__[0] if denied.__notes__ else 'no hint'})")
        tf.reset()

        settings = TungstenSettings(
            url=tf.url, auth_url=keystone.auth_url, username=user, password=password, project_name=project
        )
        with TungstenClient(settings) as client:
            me = story.step("log in as the dedicated TF service account", client.identity)
            story.note(f"{me.user_name} in project {me.project_name}, roles {', '.join(me.roles)}")

            story.heading("A customer's network, made by the service account, owned by the customer")
            vn = story.step(
                "create net-1 (10.0.0.0/24, MTU 1450) in project alice",
                lambda: client.create_virtual_network(
                    project_id=alice, name="net-1", subnets=["10.0.0.0/24"], mtu=1450
                ),
            )
            story.note(f"{':'.join(vn.fq_name)} {vn.uuid}, owner {vn.owner}")
            subnet = vn.subnets[0]
            story.note(f"quirk tungsten.mtu-not-in-dhcp: DHCP in {subnet.cidr} hands out MTU {subnet.mtu}")
            port = story.step(
                "create a port for vm-1 on net-1",
                lambda: client.create_port(project_id=alice, network_id=vn.uuid, name="vm-1-eth0"),
            )
            addresses = ", ".join(port.ip_addresses)
            story.note(f"port {port.uuid}: {addresses}; its guest learns MTU {tf.guest_mtu(port.uuid)}")

            story.heading("A floating IP from the public pool, bound to the port")
            ext = story.step(
                "create the external network public (203.0.113.0/24) in project admin",
                lambda: client.create_virtual_network(
                    project_id=admin_project,
                    name="public",
                    subnets=["203.0.113.0/24"],
                    external=True,
                ),
            )
            pool = story.step(
                "create its floating-IP pool",
                lambda: client.create_floating_ip_pool(network_id=ext.uuid, name="pool"),
            )
            fip = story.step(
                "allocate a floating IP to alice and bind it to the port",
                lambda: client.create_floating_ip(pool_id=pool.uuid, project_id=alice, port_id=port.uuid),
            )
            story.note(f"{fip.address} -> {port.ip_addresses[0]} (owner {fip.owner})")

            story.heading("Quirk tungsten.plain-text-errors: a delete TF refuses names what blocks it")
            conflict = story.expect_error(
                "delete net-1 while the port uses it",
                ConflictError,
                lambda: client.delete_virtual_network(vn.uuid),
            )
            story.note(conflict.message)
            story.note(f"blocking: {', '.join(ref.type for ref in blocking_objects(conflict))}")
            story.step("release the floating IP", lambda: client.delete_floating_ip(fip.uuid))
            story.step("delete the port and its address", lambda: client.delete_port(port.uuid))
            story.step("delete net-1", lambda: client.delete_virtual_network(vn.uuid))
        users = sorted({r.user or "-" for r in tf.calls})
        story.note(f"every TF request since the reset was made as: {', '.join(users)}")
