"""Test configuration: a deterministic hypothesis profile for CI."""

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", derandomize=True, database=None, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")

# pytest-recording's own fixtures of these names would win over the cloudkit plugin's (both are
# plugins); fixtures imported into a conftest take precedence over every plugin.
from cloudkit.testing.plugin import default_cassette_name, vcr_cassette_dir, vcr_config  # noqa: E402

__all__ = ["default_cassette_name", "vcr_cassette_dir", "vcr_config"]
