"""TF analytics contract: vRouter UVEs read as the service account, against the cassette and the live fakes.

The cassette is recorded against the TF fake (``source: fake``): it proves what cloudkit sends (the list,
then each node's UVE with ``?flat``), not how a real contrail-analytics-api answers. The fake serves the
analytics paths on the config API's port, so ``analytics_url`` is the client's own URL here.
"""

import pytest

from cloudkit.tungsten import VrouterAgent


@pytest.mark.quirk("tungsten.vrouter-kernel")
def test_vrouter_agents__kernels(tungsten_backend):
    if tungsten_backend.fake is not None:
        tungsten_backend.fake.set_vrouter("cmp-1", kernel="5.4.0-92-generic")
        tungsten_backend.fake.set_vrouter("cmp-7", kernel="5.15.0-91-generic")
        tungsten_backend.fake.set_vrouter("cmp-8", kernel=None)
    client = tungsten_backend.make_client()
    agents = client.vrouter_agents(analytics_url=client.settings.url)
    assert tungsten_backend.make_client.calls.tf_calls() == [
        ("GET", "/analytics/uves/vrouters"),
        ("GET", "/analytics/uves/vrouter/cmp-1"),
        ("GET", "/analytics/uves/vrouter/cmp-7"),
        ("GET", "/analytics/uves/vrouter/cmp-8"),
    ]
    assert agents == [
        VrouterAgent(name="cmp-1", kernel="5.4.0-92-generic", build_version="21.12", platform="HOST"),
        VrouterAgent(name="cmp-7", kernel="5.15.0-91-generic", build_version="21.12", platform="HOST"),
        VrouterAgent(name="cmp-8", kernel=None, build_version="21.12", platform="HOST"),
    ]
