"""A griffe extension for the API reference (mkdocs.yml): chainrule's docstrings head their
doctests ``Example:``; griffe's Google-style parser reads only ``Examples:`` as a section of code,
so each docstring's ``Example:`` heading is read as ``Examples:`` (the docstrings stay as they are)."""

from __future__ import annotations

import re
from typing import Any

import griffe

_HEADING = re.compile(r"^(\s*)Example:\s*$", re.M)


class ExampleSections(griffe.Extension):
    """Read ``Example:`` as ``Examples:`` in every docstring griffe loads."""

    def on_instance(self, *, obj: Any, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = _HEADING.sub(r"\1Examples:", obj.docstring.value)
