"""TF unit tests on the live fakes: the TF fixtures (until cloudkit's plugin registers them itself)."""

from cloudkit.testing._tungsten_fixtures import (
    _tungsten_fake_server,
    make_tungsten,
    tungsten,
    tungsten_calls,
    tungsten_fake,
)

__all__ = ["_tungsten_fake_server", "make_tungsten", "tungsten", "tungsten_calls", "tungsten_fake"]
