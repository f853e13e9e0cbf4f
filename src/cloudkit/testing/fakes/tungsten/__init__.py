"""A stateful Tungsten Fabric (OpenContrail) config API ("VNC API", contrail-api :8082) on loopback.

`TungstenFake` serves the REST shape of the VNC API server following the wire facts of
``/work/shared/reference/tungsten.md`` (the shared reference) and, where it is silent, the
``tungstenfabric/tf-controller`` source it cites. Guesses are marked ``# assumption:``.

`Fault`, `FaultMatch` and `Call` are the fake kit's, shared by every fake (re-exported here).

The package, moto-like: ``_schema`` (the kinds and their property checks), ``_store`` (objects,
fq-names, refs and back-refs), ``_hooks`` and ``_ipam`` (per-kind rules: networks and subnets, ports
and addresses, security groups, Keystone project sync), ``_rbac`` (aaa modes, rules, perms2, the token
check, scope capture), ``_keystone_client`` (keystonemiddleware's Keystone calls), the handlers
``_crud``, ``_lists`` and ``_actions``, and ``_routes`` (the table, built once, and the pipeline).

Types: ``project`` (mirrors Keystone projects under ``default-domain``), ``network-ipam``,
``virtual-network`` (with an auto-made ``routing-instance`` child), ``virtual-machine``,
``virtual-machine-interface``, ``instance-ip``, ``floating-ip-pool``, ``floating-ip``,
``security-group``, ``logical-router``, ``route-table``, ``network-policy`` (plus the seeded
``domain`` and ``global-system-config``).

Authentication is keystonemiddleware's: every request but ``/`` needs ``X-Auth-Token``, which the
fake validates against Keystone (``GET /v3/auth/tokens`` with its own service token in
``X-Auth-Token`` and the caller's in ``X-Subject-Token``; results cached per token). The
identity (user, project, roles) comes only from the token. Error bodies are plain text (the
message string, sent with bottle's default ``text/html`` content type), as contrail-api's error
handlers send them; only keystonemiddleware's 401 is JSON and the cloud-admin 403 ``text/plain``.

Example:
    >>> from cloudkit.testing.fakes.tungsten import TungstenFake
    >>> fake = TungstenFake(keystone_url="http://127.0.0.1:1/v3", aaa_mode="no-auth")
    >>> import httpx
    >>> with httpx.Client(transport=fake.transport()) as http:
    ...     [v["fq_name"][-1] for v in http.get("http://tf.test/virtual-networks").json()["virtual-networks"]]
    ['__link_local__', 'default-virtual-network', 'ip-fabric']
"""

from cloudkit.testing.fakes._kit import Call, Fault, FaultMatch
from cloudkit.testing.fakes.tungsten._fake import TungstenFake
from cloudkit.testing.fakes.tungsten._rbac import CaptureEffect, TungstenScopeCapture
from cloudkit.testing.fakes.tungsten._schema import AaaMode

__all__ = ["AaaMode", "Call", "CaptureEffect", "Fault", "FaultMatch", "TungstenFake", "TungstenScopeCapture"]
