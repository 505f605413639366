"""Write the gallery (docs/gallery/*.md): each script of examples/ with its source, what it printed
and the pictures it drew, from one real run.

``python scripts/docs_gallery.py`` runs every example (several minutes: the two long ones run a
shorter setting, named on their pages) and writes the pages and their figures under
``docs/figures/gallery-<name>/``; ``python scripts/docs_gallery.py xor`` one example's. The tests
check that each example has a page showing its current source (``tests/docs/test_site.py``), and
run the examples themselves (``tests/examples``).
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
GALLERY = ROOT / "docs" / "gallery"
FIGURES = ROOT / "docs" / "figures"

# the arguments of the gallery's run, where they are not the defaults (the page says so)
ARGUMENTS = {
    "mnist1d_baselines.py": ["--seeds", "0", "--steps", "2000"],
    "adding_problem.py": ["--steps", "1500"],
}
NO_OUT = {"graph_of_J.py"}  # writes docs/images/ itself


def examples() -> list[Path]:
    return sorted(EXAMPLES.glob("*.py"))


def slug(example: Path) -> str:
    return example.stem.replace("_", "-")


def docstring(example: Path) -> tuple[str, str]:
    """The example's title (its docstring's first line) and the rest of its docstring."""
    doc = ast.get_docstring(ast.parse(example.read_text(encoding="utf-8"))) or example.stem
    title, _, rest = doc.partition("\n")
    return title.strip().rstrip("."), rest.strip()


def source_block(example: Path) -> str:
    """The source as the page shows it (a ``py`` fence: shown, not run by the page tests)."""
    return "```py\n" + example.read_text(encoding="utf-8").rstrip("\n") + "\n```\n"


def run(example: Path) -> tuple[str, list[Path], list[str]]:
    """Run the example in a fresh interpreter: what it printed, the pictures it wrote, its arguments."""
    args = ARGUMENTS.get(example.name, [])
    out = Path(tempfile.mkdtemp(prefix="gallery-"))
    command = [sys.executable, str(example), *([] if example.name in NO_OUT else ["--out", str(out)]), *args]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg"}
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{example.name} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    pictures = sorted(out.glob("*.png"))
    if example.name in NO_OUT:
        pictures = sorted((ROOT / "docs" / "images").glob("graph_*.png"))
    return done.stdout.replace(str(out), "examples/output"), pictures, args  # the default folder, not ours


def page(example: Path, printed: str, pictures: list[str], args: list[str]) -> str:
    title, about = docstring(example)
    command = " ".join(["python", f"examples/{example.name}", *args])
    lines = [f"# {title}", "", f"`examples/{example.name}`", "", "```text", about, "```", ""]
    lines += ["## Run it", "", "```bash", command, "```", ""]
    if args:
        lines += [f"The gallery ran it with `{' '.join(args)}` (shorter than the defaults above), on a 2-core CPU.", ""]
    if printed.strip():
        lines += ["## What it printed", "", "```text", printed.rstrip("\n"), "```", ""]
    if pictures:
        lines += ["## What it drew", ""]
        lines += [f"![{Path(p).stem}]({p})" for p in pictures]
        lines.append("")
    lines += ["## The script", "", source_block(example)]
    return "\n".join(lines)


def index(pages: list[Path]) -> str:
    lines = ["# Gallery", "", "The scripts in `examples/`, each run once, with what it printed and drew:", ""]
    for example in pages:
        lines.append(f"- [{docstring(example)[0]}]({slug(example)}.md)")
    return "\n".join(lines) + "\n"


def main(names: list[str]) -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from docs_pages import shrink  # scripts/docs_pages.py: figures with a palette when smaller

    chosen = [EXAMPLES / (n if n.endswith(".py") else n + ".py") for n in names] or examples()
    GALLERY.mkdir(parents=True, exist_ok=True)
    for example in chosen:
        printed, pictures, args = run(example)
        folder = FIGURES / f"gallery-{slug(example)}"
        shown = []
        if example.name in NO_OUT:
            shown = [f"../images/{p.name}" for p in pictures]
        else:
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
            for p in pictures:
                shutil.copy(p, folder / p.name)
                shrink(folder / p.name)
                shown.append(f"../figures/{folder.name}/{p.name}")
        (GALLERY / f"{slug(example)}.md").write_text(page(example, printed, shown, args), encoding="utf-8")
        print(f"gallery/{slug(example)}.md: {len(shown)} pictures")
    (GALLERY / "index.md").write_text(index(examples()), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
