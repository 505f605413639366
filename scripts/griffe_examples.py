"""A griffe extension for the API reference (mkdocs.yml), so that docstrings written for reading in
the source also read well on the site (the docstrings stay as they are):

- chainrule's docstrings head their doctests ``Example:``; griffe's Google-style parser reads only
  ``Examples:`` as a section of code, so ``Example:`` is read as ``Examples:``;
- Sphinx's roles (``:func:`load```, ``:class:`Module```) mean nothing in Markdown: they are read as
  the code they name."""

from __future__ import annotations

import re
from typing import Any

import griffe

_HEADING = re.compile(r"^(\s*)Example:\s*$", re.M)
_ROLE = re.compile(r":(?:func|class|meth|mod|attr|data|exc|obj):`~?([^`]+)`")


class ExampleSections(griffe.Extension):
    """Read ``Example:`` as ``Examples:``, and Sphinx's roles as code, in every docstring griffe loads."""

    def on_instance(self, *, obj: Any, **kwargs: Any) -> None:
        if obj.docstring is not None:
            text = _HEADING.sub(r"\1Examples:", obj.docstring.value)
            obj.docstring.value = _ROLE.sub(r"``\1``", text)
