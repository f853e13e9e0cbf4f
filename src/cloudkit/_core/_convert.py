"""The cattrs converter factory: one converter per system, the same hooks everywhere.

Models are ``attrs.frozen`` with domain names; a converter turns them into plain JSON-ready data and
back (for caching in a portal's own tables, for notebooks, for property tests). Money stays exact:
``Decimal`` travels as a string.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation

import cattrs

__all__ = ["make_converter"]


def _structure_decimal(value: object, _: type) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise TypeError(f"expected a decimal string, got {type(value).__name__}")
    try:
        result = Decimal(value)
    except InvalidOperation as exc:
        raise ValueError(f"not a decimal: {value!r}") from exc
    if not result.is_finite():
        raise ValueError(f"not a finite decimal: {value!r}")
    return result


def _structure_date(value: object, _: type) -> dt.date:
    if not isinstance(value, str):
        raise TypeError(f"expected an ISO date string, got {type(value).__name__}")
    return dt.date.fromisoformat(value)


def _structure_datetime(value: object, _: type) -> dt.datetime:
    if not isinstance(value, str):
        raise TypeError(f"expected an ISO 8601 date-time string, got {type(value).__name__}")
    return dt.datetime.fromisoformat(value)


def make_converter(*, forbid_extra_keys: bool = False) -> cattrs.Converter:
    """A converter with cloudkit's hooks: ``Decimal`` <-> str, ``date`` and ``datetime`` <-> ISO 8601.

    Detailed validation is on, so a failure names the path of each bad field.

    Example:
        >>> from decimal import Decimal
        >>> from cloudkit import make_converter
        >>> from cloudkit.billing import Payment, PaymentStatus
        >>> c = make_converter()
        >>> p = Payment(id=7, amount=Decimal("100.00"), status=PaymentStatus.PROMISED)
        >>> data = c.unstructure(p)
        >>> data["amount"], data["status"]
        ('100.00', 3)
        >>> c.structure(data, Payment) == p
        True
    """
    converter = cattrs.Converter(forbid_extra_keys=forbid_extra_keys, detailed_validation=True)
    converter.register_unstructure_hook(Decimal, str)
    converter.register_structure_hook(Decimal, _structure_decimal)
    converter.register_unstructure_hook(dt.date, dt.date.isoformat)
    converter.register_structure_hook(dt.date, _structure_date)
    # datetime is a date: without its own hooks it would lose its time of day.
    converter.register_unstructure_hook(dt.datetime, dt.datetime.isoformat)
    converter.register_structure_hook(dt.datetime, _structure_datetime)
    return converter
