"""Shared plumbing that knows no system: secrets, settings, retries, HTTP, errors, quirks, conversion."""

from cloudkit._core._convert import make_converter
from cloudkit._core._errors import error_for_status, request_id_from, scrub
from cloudkit._core._quirks import QUIRKS, Quirk, quirk
from cloudkit._core._retry import Poller, RetryPolicy
from cloudkit._core._secret import Secret

__all__ = [
    "QUIRKS",
    "Poller",
    "Quirk",
    "RetryPolicy",
    "Secret",
    "error_for_status",
    "make_converter",
    "quirk",
    "request_id_from",
    "scrub",
]
