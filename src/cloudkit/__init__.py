"""cloudkit: a typed SDK and test harness for cloud portals on billing, OpenStack and Tungsten Fabric.

Example:
    >>> import cloudkit
    >>> sorted(cloudkit.QUIRKS)[:2]
    ['billing.errors-at-http-200', 'billing.form-needs-sok']
"""

# Importing the systems registers their quirks.
import cloudkit.billing
import cloudkit.openstack
import cloudkit.session
import cloudkit.tungsten  # noqa: F401
from cloudkit._core import QUIRKS, Quirk, RetryPolicy, Secret, make_converter
from cloudkit.platform import Platform

__all__ = ["QUIRKS", "Platform", "Quirk", "RetryPolicy", "Secret", "make_converter"]
__version__ = "0.1.0"
