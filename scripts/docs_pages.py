"""Run the documentation's pages: every fenced ``python`` block of a page, in order, in one fresh
namespace per page, so that the site can never show code that does not run.

A page's code sees two names besides the builtins:

- ``FIGURES``: the folder its figures go to (``fig.savefig(FIGURES / "activations.png")``); the
  page shows them as ``![...](../figures/<page>/activations.png)``;
- ``FAST``: True in the tests, False when the site's figures are made; a page that trains for long
  shrinks its run with it (``epochs = 3 if FAST else 60``).

It runs in a temporary working folder (files a page writes go there), with matplotlib's Agg backend.
Blocks fenced as ``bash``, ``text`` or anything else are not run.

``python scripts/docs_pages.py`` makes every page's figures under ``docs/figures/<page>/`` (FAST
off); ``python scripts/docs_pages.py docs/course/07-computational-graphs.md`` one page's.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
FENCE = re.compile(r"^```python[^\n]*\n(.*?)^```", re.S | re.M)
IMAGE = re.compile(r"!\[[^\]]*\]\(([^)\s]+)\)")


def pages() -> list[Path]:
    """Every Markdown page of the site."""
    return sorted(p for p in DOCS.rglob("*.md") if "figures" not in p.parts)


def blocks(page: Path) -> list[str]:
    """The page's ``python`` blocks, in order."""
    return FENCE.findall(page.read_text(encoding="utf-8"))


def figure_folder(page: Path) -> str:
    """The folder name of a page's figures: its path under docs/ without the suffix, slashes as dashes."""
    return "-".join(page.relative_to(DOCS).with_suffix("").parts)


def figures_shown(page: Path) -> list[str]:
    """The figure files the page shows (image links into ../figures/<its folder>/), by file name."""
    own = f"figures/{figure_folder(page)}/"
    return [link.split(own, 1)[1] for link in IMAGE.findall(page.read_text(encoding="utf-8")) if own in link]


def _shown(page: Path) -> str:
    return str(page.relative_to(ROOT)) if page.is_relative_to(ROOT) else page.name


def run_page(page: Path, figures: Path, fast: bool = True) -> str:
    """Run ``page``'s code with ``FIGURES = figures``; returns what it printed."""
    page, figures = Path(page).resolve(), Path(figures).resolve()  # (it runs in another folder)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figures.mkdir(parents=True, exist_ok=True)
    namespace = {"__name__": "docs_page", "FIGURES": figures, "FAST": fast}
    printed = io.StringIO()
    old = Path.cwd()
    with tempfile.TemporaryDirectory() as work:
        os.chdir(work)
        try:
            with contextlib.redirect_stdout(printed):
                for i, code in enumerate(blocks(page)):
                    try:
                        exec(compile(code, f"{_shown(page)} (block {i + 1})", "exec"), namespace)
                    except Exception as e:
                        raise RuntimeError(f"{_shown(page)}: block {i + 1} failed: {type(e).__name__}: {e}") from e
        finally:
            os.chdir(old)
            plt.close("all")
    return printed.getvalue()


def shrink(png: Path) -> None:
    """Rewrite a figure with a palette of 256 colours when that makes it smaller (plots have few
    colours: the files shrink about three times and look the same)."""
    from PIL import Image

    with Image.open(png) as image:
        small = image.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    tmp = png.with_suffix(".tmp.png")
    small.save(tmp, optimize=True)
    if tmp.stat().st_size < png.stat().st_size:
        tmp.replace(png)
    else:
        tmp.unlink()


def main(argv: list[str]) -> int:
    chosen = [Path(a).resolve() for a in argv] or pages()
    for page in chosen:
        if not blocks(page):
            continue
        out = DOCS / "figures" / figure_folder(page)
        run_page(page, out, fast=False)
        for png in out.glob("*.png"):
            shrink(png)
        missing = [f for f in figures_shown(page) if not (out / f).exists()]
        print(
            f"{page.relative_to(ROOT)}: figures in {out.relative_to(ROOT)}"
            + (f", MISSING {missing}" if missing else "")
        )
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))  # the pages import chainrule from this checkout
    sys.exit(main(sys.argv[1:]))
