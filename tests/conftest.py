"""Test configuration: hypothesis profiles, and the lab in cloudkit's own CI.

cloudkit's plugin uses the lab only when asked (``--cloudkit-lab`` or ``CLOUDKIT_LAB=1``), never because
``CI`` is set: a portal's CI must not need a whole OpenStack. cloudkit's own CI does run the ``[lab]``
variants and must fail, not skip, when the lab is missing: ``.ci/run`` sets ``CLOUDKIT_LAB=1``, and this
file asks for the lab whenever ``CI`` is set in this repository, so the guarantee holds however the
suite is started there.

CI (``CI`` set) runs every property test with hypothesis' full default of 100 examples, derandomized so
a red run repeats. A developer's run takes 50 random examples a test: different ones every run, so
repeated local runs keep exploring, and the default test command stays under a minute on two cores.
Tests that set their own ``max_examples`` keep it.
"""

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", derandomize=True, database=None, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", deadline=None, max_examples=50)
settings.load_profile("ci" if os.environ.get("CI") else "dev")

if os.environ.get("CI"):
    os.environ.setdefault("CLOUDKIT_LAB", "1")

# A developer's shell may carry OpenStack's OS_* variables (OS_CLOUD, OS_AUTH_URL, ...) or a
# CLOUDKIT_CONFIG file: settings read from the process environment would pick them up, so the suite
# runs without them (tests that want them set them with monkeypatch).
for _name in [name for name in os.environ if name.startswith("OS_") or name == "CLOUDKIT_CONFIG"]:
    del os.environ[_name]
