"""Every page of the documentation site runs: its python blocks in order, in a fresh namespace
(scripts/docs_pages.py), with its figures written to a temporary folder, and every figure it shows
is one its code makes."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

spec = importlib.util.spec_from_file_location("docs_pages", ROOT / "scripts" / "docs_pages.py")
docs_pages = importlib.util.module_from_spec(spec)
spec.loader.exec_module(docs_pages)

PAGES = [p for p in docs_pages.pages() if docs_pages.blocks(p)]


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(docs_pages.DOCS)) for p in PAGES])
def test_page_runs_and_makes_its_figures(page, tmp_path):
    docs_pages.run_page(page, tmp_path, fast=True)
    made = {p.name for p in tmp_path.iterdir()}
    shown = docs_pages.figures_shown(page)
    assert set(shown) <= made, f"{page.name} shows figures its code does not make: {sorted(set(shown) - made)}"
    for name in shown:  # the site shows the files made with FAST off
        assert (docs_pages.DOCS / "figures" / docs_pages.figure_folder(page) / name).exists()


def test_the_runner_notices_a_failing_block(tmp_path):
    page = tmp_path / "broken.md"
    page.write_text("```python\nx = 1\n```\n\ntext\n\n```python\nraise ValueError('no')\n```\n")
    with pytest.raises(RuntimeError, match="block 2 failed: ValueError: no"):
        docs_pages.run_page(page, tmp_path / "figures")
