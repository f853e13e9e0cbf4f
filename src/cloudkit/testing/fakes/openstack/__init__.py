"""A stateful OpenStack (Keystone, Nova, Cinder, Glance, Neutron, Placement) on loopback for openstacksdk.

`OpenStackFake` serves subsets of Keystone v3, Nova (compute v2.1 with microversions), Cinder
(block-storage v3), Glance (image v2) and Neutron (network v2.0) from one HTTP server, following the
wire facts of ``research/openstack.md`` (the shared reference): JSON shapes, status codes, fault
envelopes (``{"badRequest": {...}}``, Keystone's ``{"error": {...}}``, ``{"NeutronError": {...}}``),
``x-openstack-request-id`` on every answer. A token's catalog points every service at this same server::

    /identity            Keystone version list (300)     /identity/v3          Keystone v3
    /compute             Nova version list               /compute/v2.1         Nova v2.1
    /volume              Cinder version list (300)       /volume/v3/{project}  Cinder v3
    /image               Glance version list (300)       /image/v2             Glance v2
    /networking          Neutron version list            /networking/v2.0      Neutron v2.0
    /placement           Placement root (versions)       /placement/...        Placement (reads)

A server boots from an image (a local disk) or from a volume, as Nova lets it;
``image_boot_allowed=False`` models a cloud that boots from volume only. It reproduces the upstream
behaviour cloudkit exists to handle: Cinder's ``os-attach`` only writes
Cinder's records (Nova never lists the volume) unless ``cinder_attach_reaches_guest=True``; the root
volume of a server cannot be detached (400); a locked server refuses a non-admin with 409; a
password change revokes every token of the user, including one issued in the same second after it.
Server tags follow the lab's Nova: at create from 2.52 (Nova's own 400 texts), the four list filters
(``tags``, ``tags-any``, ``not-tags``, ``not-tags-any``) from 2.26, compared ignoring case as on
MariaDB, and the ``/servers/{id}/tags`` subresource. Faults (5xx answers, the Galera ``WSREP`` 500,
dropped connections, effects without an answer, held answers) are injected per request with the kit's
``Fault``. Status transitions (``BUILD`` → ``ACTIVE``, ``attaching`` → ``in-use``, ...) complete
``transition_seconds`` after they start on the fake's clock, at the first request or state peek that
comes later. Nova schedules by Placement's room: the one compute host's inventory (``set_compute_host``
sizes it; Nova's default ratios) minus what placed servers' flavors hold, and a build that does not fit
ends in ``ERROR`` with "No valid host was found." (``fail_next_builds`` forces one). Guesses where the
reference is
silent are marked ``# assumption:``.

Layout: ``_state`` (records and seed), ``_cloud`` (time, tokens, callers, shared lookups),
``_wire`` and ``_envelopes`` (answers and error shapes, the latter shared with ``FaultProxy``), one
module per service (``_keystone``, ``_nova`` with ``_nova_actions``, ``_nova_tags``, ``_nova_metadata``,
``_nova_images``, ``_nova_flavors``, ``_nova_resources`` (keypairs, limits, quotas, server groups),
``_nova_hosts`` (zones, aggregates, hypervisors, services, extensions) and ``_nova_network`` (Nova's side
of Neutron), ``_cinder`` with ``_cinder_types``, ``_cinder_info``, ``_cinder_attachments``,
``_cinder_groups`` and ``_cinder_more``, ``_glance`` with ``_glance_sharing`` (members, import, an
image's tasks), ``_glance_metadefs`` and the real Glance schema documents ``_glance_schemas.json``,
``_placement`` (resource providers, inventories, usages, aggregates),
``_neutron`` with ``_neutron_core``, ``_neutron_ports``, ``_neutron_l3``, ``_neutron_state`` and the
extension list ``_neutron_extensions.json``, each with its routes built once at import), and the facade
``_fake``.

Neutron is Neutron 29 with ML2 and the ``router`` and ``auto_allocate`` plugins and no agents, seeded
as devstack (the flat external network ``public``, the shared default subnet pool): a server gets a
port on each network it names (or on the auto-allocated topology for ``"auto"``), bound ``ACTIVE`` on
the compute host; floating IPs stay ``DOWN``.

Example:
    >>> import httpx
    >>> with OpenStackFake() as fake, httpx.Client(trust_env=False) as http:
    ...     reply = http.post(f"{fake.auth_url}/auth/tokens", json=fake.portal.token_request())
    >>> reply.status_code, reply.json()["token"]["project"]["name"]
    (201, 'alice')
"""

from cloudkit.testing.fakes.openstack._envelopes import ServiceName
from cloudkit.testing.fakes.openstack._fake import OpenStackFake
from cloudkit.testing.fakes.openstack._records import (
    FakeCredentials,
    FakeServer,
    FakeSnapshot,
    FakeVolume,
    FakeVolumeAttachment,
)

__all__ = [
    "FakeCredentials",
    "FakeServer",
    "FakeSnapshot",
    "FakeVolume",
    "FakeVolumeAttachment",
    "OpenStackFake",
    "ServiceName",
]
