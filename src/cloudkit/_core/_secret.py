"""`Secret`: a string that never shows itself in a repr, str, log line or error message."""

from __future__ import annotations

import attrs

__all__ = ["Secret"]


@attrs.frozen(repr=False)
class Secret:
    """A password, token or key. ``repr`` and ``str`` print ``Secret('***')``; ask for the value.

    Example:
        >>> from cloudkit import Secret
        >>> s = Secret("hunter2")
        >>> s, f"{s}"
        (Secret('***'), "Secret('***')")
        >>> s.get_secret_value()
        'hunter2'
    """

    _value: str = attrs.field(alias="value")

    def get_secret_value(self) -> str:
        """Return the secret itself: only at the point where it goes on the wire."""
        return self._value

    def __repr__(self) -> str:
        """Never the value."""
        return "Secret('***')"

    __str__ = __repr__

    def __bool__(self) -> bool:
        """True when the secret is not empty."""
        return bool(self._value)
