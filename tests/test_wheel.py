"""The package as users install it.

`import keras_lerac` on JAX or torch imports no TensorFlow (checked in a fresh process of
the test environment, where TensorFlow is installed: each backend's run checks its own).

The wheel test builds the wheel from this checkout, installs it with only
`keras-lerac[jax]` into a fresh virtual environment (no TensorFlow, no torch) and there
trains, saves, reloads (`keras_lerac.load_model`) and plans a small model. It runs when
`LERAC_WHEEL_TEST=1` (`make wheel-test`, which `.ci/run` calls after `make test`), on any
backend's process: it needs pip to reach PyPI once, then installs from a local wheelhouse
(`LERAC_WHEELHOUSE`, default `~/.cache/keras-lerac/wheelhouse`) with `--no-index`. The
dependencies are pinned to this environment's keras, jax, jaxlib and numpy (the tested
stack); `LERAC_WHEEL_LATEST=1` lets pip pick the newest the package's metadata allows.
"""

import email.parser
import importlib.metadata
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path

import keras
import pytest

ROOT = Path(__file__).resolve().parents[1]
BACKEND = keras.backend.backend()
STACK = ("keras", "jax", "jaxlib", "numpy")


def _clean_env(**extra: str) -> dict:
    """The environment without anything that would import this checkout instead."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    return {**env, **extra}


@pytest.mark.skipif(BACKEND == "tensorflow", reason="checks the JAX and torch backends")
def test_import_keras_lerac_loads_no_tensorflow():
    assert importlib.util.find_spec("tensorflow") is not None, "the check needs TensorFlow installed"
    code = textwrap.dedent(
        """
        import sys
        import keras_lerac
        for name in keras_lerac.__all__:
            getattr(keras_lerac, name)
        for name in ("buckets", "callbacks", "cbs", "curriculum", "depth", "schedules", "summary"):
            getattr(keras_lerac, name)
        print(sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "tf_keras")))
        """
    )
    env = _clean_env(KERAS_BACKEND=BACKEND, PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert done.stdout.strip().splitlines()[-1] == "[]", done.stdout


# What the fresh environment runs: the README's use, end to end, on JAX.
USER_SCRIPT = """
import importlib.util
import os
import sys

import numpy as np

import keras_lerac

assert "site-packages" in keras_lerac.__file__, keras_lerac.__file__  # the installed wheel
assert keras_lerac.__version__ == sys.argv[1], keras_lerac.__version__
assert importlib.util.find_spec("tensorflow") is None and importlib.util.find_spec("torch") is None

import keras

assert keras.backend.backend() == "jax"
model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(16, activation="relu"),
                          keras.layers.Dense(16, activation="relu"), keras.layers.Dense(3)])
opt = keras_lerac.LeRaC(keras.optimizers.SGD(0.1, momentum=0.9), total_steps=40, model=model)
table = keras_lerac.plan(model, opt)
assert "LeRaC curriculum plan" in table and len(opt.learning_rates_at(0)) == 3
model.compile(optimizer=opt, loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
rng = np.random.default_rng(0)
x = rng.normal(size=(64, 8)).astype("float32")
y = (x[:, 0] > 0).astype("int32") + (x[:, 1] > 0).astype("int32")
model.fit(x, y, batch_size=16, epochs=2, verbose=0, callbacks=[keras_lerac.CurriculumLogger()])
model.save("model.keras")
loaded = keras_lerac.load_model("model.keras")
assert type(loaded.optimizer) is keras_lerac.LeRaC and int(loaded.optimizer.iterations.numpy()) == 8
for a, b in zip(model.get_weights(), loaded.get_weights()):
    np.testing.assert_array_equal(a, b)
np.testing.assert_allclose(loaded.optimizer.current_learning_rates(), opt.current_learning_rates())
loaded.fit(x, y, batch_size=16, epochs=1, verbose=0)
keras_lerac.plan(loaded)
assert "tensorflow" not in sys.modules
print("WHEEL OK")
"""


def _build_wheel(tmp: Path) -> Path:
    """The wheel of this checkout, built from a copy (the build leaves nothing in the tree)."""
    source = tmp / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    shutil.copytree(
        ROOT / "keras_lerac", source / "keras_lerac", ignore=shutil.ignore_patterns("__pycache__")
    )
    # Without build isolation where setuptools is at hand (no download); else pip fetches it.
    isolation = [] if importlib.util.find_spec("setuptools") is None else ["--no-build-isolation"]
    dist = tmp / "dist"
    _pip("wheel", "--no-deps", *isolation, "--wheel-dir", str(dist), str(source))
    (wheel,) = dist.glob("keras_lerac-*.whl")
    return wheel


def _pip(*args: str, python: Path | None = None) -> str:
    target = [] if python is None else ["--python", str(python)]
    command = [sys.executable, "-m", "pip", *target, *args, "--disable-pip-version-check"]
    done = subprocess.run(command, capture_output=True, text=True, env=_clean_env())
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return done.stdout


def _install(python: Path, wheel: Path, tmp: Path) -> None:
    """`pip install <wheel>[jax]` into the environment of `python`, from the wheelhouse."""
    house = Path(os.environ.get("LERAC_WHEELHOUSE", Path.home() / ".cache" / "keras-lerac" / "wheelhouse"))
    house.mkdir(parents=True, exist_ok=True)
    pins = []
    if os.environ.get("LERAC_WHEEL_LATEST") != "1":
        pins = [f"{name}=={importlib.metadata.version(name)}" for name in STACK]
    constraints = tmp / "constraints.txt"
    constraints.write_text("\n".join(pins) + "\n")
    want = [f"{wheel}[jax]", "--constraint", str(constraints)]
    offline = ["--no-index", "--find-links", str(house)]
    try:
        _pip("install", "--no-compile", *offline, *want, python=python)
    except RuntimeError:  # the wheelhouse lacks something: fill it from PyPI once
        _pip("download", "--dest", str(house), *want)
        for copied in house.glob("keras_lerac-*.whl"):  # this build: installed from its path
            copied.unlink()
        _pip("install", "--no-compile", *offline, *want, python=python)


@pytest.mark.slow
@pytest.mark.skipif(
    os.environ.get("LERAC_WHEEL_TEST") != "1",
    reason="the wheel test runs with LERAC_WHEEL_TEST=1 (make wheel-test; .ci/run runs it after make test)",
)
def test_the_wheel_works_with_only_jax(tmp_path):
    start = time.perf_counter()
    wheel = _build_wheel(tmp_path)
    names = {Path(n).parts[0] for n in _wheel_files(wheel)}
    assert names == {"keras_lerac", f"keras_lerac-{_version()}.dist-info"}, names
    required = _requirements(wheel)
    assert sorted(required[""]) == ["keras", "numpy"]  # nothing else without an extra
    assert {"jax", "torch", "tensorflow", "plot"} <= set(required)
    assert sorted(required["jax"]) == ["jax", "jaxlib"]
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(tmp_path / "venv")], check=True)
    python = tmp_path / "venv" / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    _install(python, wheel, tmp_path)
    installed = {p["name"].lower() for p in json.loads(_pip("list", "--format", "json", python=python))}
    assert {"keras-lerac", "keras", "jax", "jaxlib"} <= installed
    assert not installed & {"tensorflow", "tensorflow-cpu", "torch", "keras-hub", "matplotlib"}, installed
    work = tmp_path / "work"
    work.mkdir()
    (work / "user.py").write_text(USER_SCRIPT)
    env = _clean_env(KERAS_BACKEND="jax")
    done = subprocess.run(
        [str(python), "user.py", _version()], cwd=work, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0 and done.stdout.strip().endswith("WHEEL OK"), done.stdout + done.stderr
    command = python.parent / ("keras-lerac.exe" if os.name == "nt" else "keras-lerac")
    done = subprocess.run([str(command), "--help"], cwd=work, env=env, capture_output=True, text=True)
    assert done.returncode == 0 and "compare" in done.stdout, done.stdout + done.stderr
    print(f"wheel test: {time.perf_counter() - start:.0f} s")


def _wheel_files(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as archive:
        return archive.namelist()


def _requirements(wheel: Path) -> dict[str, list[str]]:
    """`{extra: [project names]}` from the wheel's METADATA (`""`: the dependencies without an extra)."""
    with zipfile.ZipFile(wheel) as archive:
        (name,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        metadata = email.parser.Parser().parsestr(archive.read(name).decode())
    found: dict[str, list[str]] = {"": []}
    for line in metadata.get_all("Requires-Dist") or []:
        requirement, _, marker = line.partition(";")
        extra = re.search(r"extra\s*==\s*[\"']([^\"']+)", marker)
        project = re.match(r"[A-Za-z0-9._-]+", requirement.strip()).group(0).lower()
        found.setdefault(extra.group(1) if extra else "", []).append(project)
    return found


def _version() -> str:
    import keras_lerac

    return keras_lerac.__version__
