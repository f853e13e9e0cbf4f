# ruff: noqa: INP001 (loaded by path from mkdocs.yml, never imported as part of a package)
"""A griffe extension for the docs site: read cloudkit's ``Example:`` docstring sections as examples.

cloudkit's docstrings head their runnable example ``Example:`` (singular, which ruff's Google convention
accepts and the docstrings use everywhere). griffe's Google parser knows only ``Examples:``; it reads
any other ``Word:`` line as an admonition of Markdown text, so the doctest lines would be rendered as
prose, and their ``[...]`` outputs as broken cross-references. Renaming the heading in every docstring
would touch hundreds of lines across the source for a rendering concern, so the site renames it here,
on the docstring text griffe is about to parse, and the source stays as it is.

Loaded by path from mkdocs.yml (``extensions:`` of the mkdocstrings python handler).
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_SINGULAR_EXAMPLE_HEADING = re.compile(r"^(\s*)Example:[ \t]*$", re.MULTILINE)


class ExampleSections(griffe.Extension):
    """Rewrite each ``Example:`` heading as ``Examples:`` before griffe parses the docstring."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:  # noqa: ARG002 (griffe's hook signature)
        """Rename the heading in the docstring of each object griffe loads."""
        if obj.docstring is not None:
            obj.docstring.value = _SINGULAR_EXAMPLE_HEADING.sub(r"\1Examples:", obj.docstring.value)
