"""Shared plumbing that knows no system: secrets, settings, retries, HTTP, quirks, conversion."""

from cloudkit._core._convert import make_converter
from cloudkit._core._quirks import QUIRKS, Quirk, quirk
from cloudkit._core._retry import RetryPolicy
from cloudkit._core._secret import Secret

__all__ = ["QUIRKS", "Quirk", "RetryPolicy", "Secret", "make_converter", "quirk"]
