"""Runs the Keras-facing tests against each Keras 3 minor release: `make compat`.

For each version, a throwaway virtual environment under `--root` gets that Keras; the
conformance, state and optimizer tests then run in it, on one backend (JAX by default: the
lightest to install), with this checkout's `keras_lerac` first on the path. One line per
version comes out: the Keras installed, and pytest's counts.

By default each environment sees the running interpreter's packages (jax, numpy, pytest...)
through a `.pth` file and installs only Keras itself (`--no-deps`), so that a run needs
one small download per version and Keras is the only thing that differs; `--fresh`
installs everything from the index instead (Keras, jax, the test tools).

Not run in CI (it downloads); its output is in docs/compatibility.md.

Example:
    python tools/compat.py                       # 3.12 to 3.15, JAX
    python tools/compat.py --versions 3.14 3.15 --backend torch
"""

from __future__ import annotations

import argparse
import os
import pathlib
import re
import subprocess
import sys
import sysconfig

ROOT = pathlib.Path(__file__).resolve().parents[1]
VERSIONS = ("3.12", "3.13", "3.14", "3.15")
TESTS = ("tests/test_conformance.py", "tests/test_state.py", "tests/test_optimizer.py")
FRESH = ("jax==0.10.2", "jaxlib==0.10.2", "numpy", "scikit-learn", "pytest", "hypothesis", "pytest-timeout")


def build(venv: pathlib.Path, version: str, fresh: bool) -> str:
    """Makes `venv` with Keras `version`.* in it; returns the Keras version installed."""
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    spec = f"keras=={version}.*"
    if fresh:
        pip = [str(python), "-m", "pip", "install", "--quiet", spec, *FRESH]
    else:
        purelib = subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        shared = sysconfig.get_paths()["purelib"]
        # After the venv's own site-packages on sys.path: its Keras wins over the shared one.
        pathlib.Path(purelib, "compat-shared.pth").write_text(shared + "\n")
        pip = [str(python), "-m", "pip", "install", "--quiet", "--no-deps", spec]
    subprocess.run(pip, check=True)
    return subprocess.run(
        [str(python), "-c", "import importlib.metadata as m; print(m.version('keras'))"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


def run_tests(venv: pathlib.Path, backend: str, tests: tuple[str, ...]) -> tuple[dict[str, int], str]:
    """Runs `tests` in `venv`; returns pytest's counts and its last lines."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), KERAS_BACKEND=backend)
    result = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pytest", "-q", "-p", "no:cacheprovider", *tests],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    lines = result.stdout.strip().splitlines()
    summary = lines[-1] if lines else result.stderr.strip()[-300:]
    counts = {kind: int(n) for n, kind in re.findall(r"(\d+) (passed|failed|errors?|skipped)", summary)}
    return counts, "\n".join(lines[-40:])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--versions", nargs="+", default=list(VERSIONS), help="Keras minors, e.g. 3.13")
    parser.add_argument("--backend", default="jax")
    parser.add_argument("--root", default="/tmp/keras-lerac-compat", help="where the venvs go")
    parser.add_argument("--fresh", action="store_true", help="install everything, not only Keras")
    parser.add_argument("--verbose", action="store_true", help="print the failures' last lines")
    parser.add_argument("tests", nargs="*", default=list(TESTS))
    args = parser.parse_args(argv)
    worst = 0
    for version in args.versions:
        venv = pathlib.Path(args.root) / f"keras{version}"
        installed = build(venv, version, args.fresh)
        counts, tail = run_tests(venv, args.backend, tuple(args.tests))
        failed = counts.get("failed", 0) + counts.get("error", 0) + counts.get("errors", 0)
        print(
            f"keras {installed} ({args.backend}): {counts.get('passed', 0)} passed, {failed} failed"
            + (f", {counts['skipped']} skipped" if counts.get("skipped") else ""),
            flush=True,
        )
        if failed or not counts:
            worst = 1
            if args.verbose:
                print(tail, flush=True)
    return worst


if __name__ == "__main__":
    sys.exit(main())
