"""``cloudkit.lab``: a real OpenStack control plane on loopback, for tests that need the real thing.

Keystone 30, Placement 16, Nova 34 (api, conductor, scheduler, compute on the upstream fake virt driver),
Neutron 29 (the API with ML2 and an agentless lab mechanism driver, router and auto-allocation; devstack's
external network ``public`` and default subnet pool), Cinder 29 (api, scheduler, volume on the upstream
fake volume driver) and Glance 33 from PyPI, with a private MariaDB and RabbitMQ from Debian, all on
127.0.0.1. Networks, ports, routers and floating IPs are real API objects, but no agent runs, so no packet
flows. See ``docs/lab.md``.

Example (not run here: it starts about 25 processes)::

    from cloudkit.lab import Lab
    lab = Lab()
    lab.install()              # pinned venvs, cached in ~/.cache/cloudkit-lab
    info = lab.up()            # ~30 s the first time, less from the saved snapshot
    settings = info.admin_settings()
    lab.down()
"""

from cloudkit.lab._configs import ADMIN_PASSWORD, PORTS, LabPorts
from cloudkit.lab._control import Lab, LabInfo, ServiceState

__all__ = ["ADMIN_PASSWORD", "PORTS", "Lab", "LabInfo", "LabPorts", "ServiceState"]
