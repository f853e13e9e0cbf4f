"""TF contract tests: the TF fixtures, the TF cassette configuration and the ``[cassette]`` marker.

Until ``cloudkit.testing.plugin`` imports ``cloudkit.testing._tungsten_fixtures`` (and lists
``tungsten_backend`` among the backends it marks for vcrpy), this conftest does both; afterwards it
is harmless (the same fixture functions, the marker added once).
"""

import os

import pytest

from cloudkit import __version__
from cloudkit.testing._tungsten_fixtures import (
    _tungsten_fake_server,
    make_tungsten,
    tungsten,
    tungsten_backend,
    tungsten_calls,
    tungsten_fake,
    tungsten_vcr_config,
)

__all__ = [
    "_tungsten_fake_server",
    "make_tungsten",
    "tungsten",
    "tungsten_backend",
    "tungsten_calls",
    "tungsten_fake",
]


def pytest_collection_modifyitems(items):
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is None or callspec.params.get("tungsten_backend") != "cassette":
            continue
        if item.get_closest_marker("vcr") is None:
            item.add_marker(pytest.mark.vcr)
            item.add_marker(pytest.mark.cassette)


@pytest.fixture
def vcr_config(secret_registry):
    against = f"cloudkit {__version__} against TungstenFake + OpenStackFake Keystone (embedded fakes)"
    return tungsten_vcr_config(
        secret_registry, recorded_against=os.environ.get("CLOUDKIT_RECORDED_AGAINST", against)
    )
