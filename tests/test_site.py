"""The documentation site builds strictly, and its API reference covers every public name.

`mkdocs build --strict` (what `make docs` runs) fails on any warning: a broken link or
anchor in a page, a link to a repository file that is not there (docs/_hooks/site.py), a
page missing from the nav, a docstring mkdocstrings cannot read, a cross-reference to
nothing. A build takes a few seconds; it does not import the package (the reference is
read from the source), so it is the same on every backend.
"""

import os
import shutil
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def build(config: Path, site: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(config), "-d", str(site)],
        cwd=config.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("site")
    proc = build(ROOT / "mkdocs.yml", out)
    assert proc.returncode == 0, proc.stderr[-5000:]
    return out


def inventory(site: Path) -> set[str]:
    """The objects the API reference documents (mkdocstrings' `objects.inv`)."""
    body = (site / "objects.inv").read_bytes().split(b"\n", 4)[4]  # after 4 header lines
    return {line.split()[0] for line in zlib.decompress(body).decode().splitlines()}


def test_the_site_builds_strictly_with_every_page(site):
    assert (site / "index.html").exists()
    home = (site / "index.html").read_text(encoding="utf-8")
    assert "When to use LeRaC" in home and 'href="cli/' in home, (
        "the home page is README.md, links made relative"
    )
    for page in ["getting-started", "curriculum", "controls", "pipelines", "cbs", "saving", "performance"]:
        assert (site / page / "index.html").exists(), page
    for page in ["results", "compatibility", "cli", "benchmarks", "sensitivity", "reference/optimizer"]:
        assert (site / page / "index.html").exists(), page


def test_the_api_reference_documents_every_public_name(site):
    import keras_lerac

    documented = inventory(site)
    names = [n for n in keras_lerac.__all__ if not n.startswith("__")]
    missing = [n for n in names if f"keras_lerac.{n}" not in documented]
    assert missing == [], f"public names the API reference lacks: {missing}"
    modules = [f"keras_lerac.{m}" for m in keras_lerac._SUBMODULES]
    assert [m for m in modules if m not in documented] == []
    canonical = {
        f"{getattr(keras_lerac, n).__module__}.{getattr(keras_lerac, n).__qualname__}"
        for n in names
        if n != "LeRaCOptimizer"  # the same class as LeRaC
    }
    assert sorted(canonical - documented) == [], "every public name is documented where it is defined"


def _scratch_repository(tmp_path: Path) -> Path:
    """A copy of the docs beside links to the rest of the repository, to break on purpose."""
    for name in ["mkdocs.yml", "README.md"]:
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "docs", tmp_path / "docs")
    for name in ["keras_lerac", "benchmarks", "examples"]:
        (tmp_path / name).symlink_to(ROOT / name)
    return tmp_path


BROKEN = {
    "[the plan](curriculum.md#no-such-section)": "no-such-section",
    "[a page](no-such-page.md)": "no-such-page.md",
    "[a results file](../benchmarks/results/no-such-file.json)": "no-such-file.json",
    "[a name][keras_lerac.optimizer.NoSuchName]": "NoSuchName",
}


def test_a_broken_link_fails_the_build(tmp_path):
    # One build with every kind of broken link: the strict build reports each, then fails.
    repo = _scratch_repository(tmp_path)
    page = repo / "docs" / "controls.md"
    page.write_text(page.read_text() + "".join(f"\nSee {link}.\n" for link in BROKEN))
    proc = build(repo / "mkdocs.yml", tmp_path / "site")
    assert proc.returncode != 0, "the strict build accepted broken links"
    missed = [link for link, complaint in BROKEN.items() if complaint not in proc.stderr]
    assert missed == [], f"the build did not report {missed}:\n{proc.stderr[-3000:]}"
