"""The documentation site builds with ``mkdocs build --strict`` (no warning, no broken link, every
page in the navigation), and its API reference documents every public name."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

import chainrule

ROOT = Path(__file__).resolve().parents[2]

spec = importlib.util.spec_from_file_location("docs_reference", ROOT / "scripts" / "docs_reference.py")
docs_reference = importlib.util.module_from_spec(spec)
spec.loader.exec_module(docs_reference)


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    warnings = [line for line in done.stderr.splitlines() if "WARNING" in line or "ERROR" in line]
    assert done.returncode == 0 and not warnings, "mkdocs build --strict failed:\n" + "\n".join(
        warnings or [done.stderr[-3000:]]
    )
    return out


def documented(site: Path) -> set[str]:
    """The Python objects the site documents, from its inventory (objects.inv, Sphinx's format)."""
    data = (site / "objects.inv").read_bytes()
    body = zlib.decompress(data.split(b"\n", 4)[4]).decode("utf-8")
    return {line.split(" ", 1)[0] for line in body.splitlines() if " py:" in line}


def test_the_reference_pages_are_what_the_script_writes():
    for name, text in docs_reference.expected().items():
        path = ROOT / "docs" / "reference" / name
        assert path.exists() and path.read_text(encoding="utf-8") == text, (
            f"docs/reference/{name} is out of date: run python scripts/docs_reference.py"
        )


def test_the_site_builds_strict_and_documents_every_public_name(site):
    found = documented(site)
    expected = {}  # the path a user writes -> the path it may be documented under instead
    for _, _, modules in docs_reference.PAGES.values():
        for module in modules:
            expected[module] = module
            for name in docs_reference.public_names(module):
                expected[f"{module}.{name}"] = docs_reference.canonical(module, name)
    top = {n for n in chainrule.__all__ if f"chainrule.{n}" not in expected}
    assert top <= {n for n in top if docs_reference._foreign_class(getattr(chainrule, n))}, (
        f"public names of chainrule the reference leaves out: {sorted(top)}"
    )  # NumPy's dtypes (cr.float32, ...) are NumPy's to document
    missing = sorted(path for path, other in expected.items() if path not in found and other not in found)
    assert not missing, f"the API reference lacks {len(missing)} public names: {missing[:20]}"
    assert (site / "index.html").exists() and (site / "reference" / "nn.html").exists()


gallery_spec = importlib.util.spec_from_file_location("docs_gallery", ROOT / "scripts" / "docs_gallery.py")
docs_gallery = importlib.util.module_from_spec(gallery_spec)
gallery_spec.loader.exec_module(docs_gallery)


def test_every_example_has_a_gallery_page_with_its_current_source():
    for example in docs_gallery.examples():
        page = ROOT / "docs" / "gallery" / f"{docs_gallery.slug(example)}.md"
        assert page.exists(), f"no gallery page for {example.name}: run python scripts/docs_gallery.py {example.stem}"
        assert docs_gallery.source_block(example) in page.read_text(encoding="utf-8"), (
            f"the gallery shows an old {example.name}: run python scripts/docs_gallery.py {example.stem}"
        )
