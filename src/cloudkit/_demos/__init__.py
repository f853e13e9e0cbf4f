"""The stories ``cloudkit demo`` tells, one module per system; each has ``run(story)``.

A story prints numbered steps: :class:`Story` is what a demo needs from it (``cloudkit.cli`` provides
the implementation).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, TypeVar

from cloudkit.errors import CloudkitError

__all__ = ["Story"]

T = TypeVar("T")


class Story(Protocol):
    """Numbered, readable steps; a failed step stops the story with its error.

    Example:
        >>> from cloudkit._demos import Story
        >>> Story.__name__
        'Story'
    """

    def heading(self, text: str) -> None:
        """Start a section."""

    def step(self, text: str, action: Callable[[], T]) -> T:
        """Run one step and print it; return what the action returned."""

    def expect_error(
        self, text: str, error: type[CloudkitError], action: Callable[[], object]
    ) -> CloudkitError:
        """Run one step that must raise ``error``; return the error."""

    def note(self, text: str) -> None:
        """Print an indented remark."""
