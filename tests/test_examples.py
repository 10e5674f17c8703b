"""Every script in examples/ runs its --smoke configuration on every backend.

Each example runs in a fresh process (the scripts pick devices and distribution set-ups
at start-up) under the backend of the pytest process (the suite runs once per backend).
The examples' own assertions (applied rates equal the plan, two processes equal one, ...)
make them exit non-zero when they fail; the tests check the exit status and the lines
that report the result.

The full matrix (every example on every backend) takes longer than CI's budget allows
on a 2-core machine, so by default each example runs on one backend per day, rotating
(`conftest.rotation_backend`: deterministic, every pair within 3 days), and
`custom_training_loop.py`, whose code differs per backend, runs on all three.
`LERAC_EXAMPLES=all` (what `make examples` sets) runs the whole matrix;
`LERAC_EXAMPLES_DAY=N` picks the rotation's day.
"""

import os
import pathlib
import re
import subprocess
import sys

import pytest
from conftest import BACKEND, BACKENDS, rotation_backend, rotation_runs_here

ROOT = pathlib.Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"

# script -> (extra arguments, modules it needs, lines it must print: all backends, or per backend)
CASES = {
    "quickstart": (
        [],
        ["sklearn", "matplotlib"],
        [
            r"LeRaC curriculum plan",
            r"lerac: K = 2 of 86 steps",  # the defaults rule: 2.5 % of 2 epochs of 43 steps
            r"conventional: test accuracy \d+\.\d\d%",
            r"lerac: test accuracy \d+\.\d\d%",
            r"Wrote the curriculum plot to lerac-results/quickstart/curriculum\.png",
        ],
    ),
    "text_classification": (
        [],
        ["keras_hub", "tensorflow_datasets"],
        [r"layer_decay=0\.8", r"conventional: accuracy", r"lerac: accuracy", r"llrd: accuracy"],
    ),
    "image_classification": (
        [],
        ["keras_hub", "keras_cv", "tensorflow_datasets"],
        [r"buckets=\d+", r"conventional: test accuracy", r"lerac: test accuracy"],
    ),
    "lora_causal_lm": (
        ["--output", "{tmp}/lm.keras"],
        ["keras_hub"],
        [
            r"Bucket\s+Layers.*\n-+\n\s+0\s+transformer_layer_0.*\n\s+1\s+transformer_layer_1",
            r"reloaded: optimizer LeRaC with 2 buckets of Adam, step (\d+) \(saved at step \1\)",
        ],
    ),
    "custom_training_loop": (
        [],
        ["sklearn"],
        [r"loop: 21 steps, applied rates == plan at every step", r"test accuracy \d+\.\d\d%"],
    ),
    "multi_host": (
        ["--output", "{tmp}/weights"],
        ["sklearn"],
        {
            "jax": [
                r"process 0: 16 steps",
                r"process 1: 16 steps",
                r"data parallel: 2 processes == 1 process on the same global batches",
                r"momentum shards per device: \[\(128, 64\), \(128, 64\)\]",
            ],
            "torch": [
                r"process 0: 16 steps, applied rates == plan at every step",
                r"process 1: 16 steps, applied rates == plan at every step",
                r"data parallel: 2 processes == 1 process on the same global batches",
                r"model parallel needs JAX's keras.distribution \(this is torch\): run KERAS_BACKEND=jax",
            ],
            "tensorflow": [
                r"MirroredStrategy: 2 replicas, 16 steps, rates == plan",
                r"data parallel: 2 replicas == 1 device on the same global batches",
                r"model parallel needs JAX's keras.distribution \(this is tensorflow\)",
            ],
        },
    ),
    "resnet18_cifar": (
        [],
        ["tensorflow_datasets"],
        [r"conventional\s+\d+\.\d\d", r"lerac\s+\d+\.\d\d", r"LeRaC start rates"],
    ),
}
EVERY_BACKEND_ALWAYS = ("custom_training_loop",)  # its code differs per backend


def example_backend(name: str, day: int) -> str:
    """The backend an example runs on in CI on `day`: each pair once every 3 days."""
    return rotation_backend(sorted(CASES).index(name), day)


def runs_here(name: str) -> bool:
    return name in EVERY_BACKEND_ALWAYS or rotation_runs_here(sorted(CASES).index(name))


def test_every_example_has_a_case_and_a_line_in_the_readme():
    scripts = sorted(p.stem for p in EXAMPLES.glob("*.py"))
    assert scripts == sorted(CASES)
    readme = (EXAMPLES / "README.md").read_text()
    for name in scripts:
        assert f"examples/{name}.py" in readme, name


def test_the_rotation_covers_every_example_on_every_backend_in_three_days():
    pairs = {(name, example_backend(name, day)) for name in CASES for day in (700_000, 700_001, 700_002)}
    assert pairs == {(name, b) for name in CASES for b in BACKENDS}
    for day in (700_000, 700_001, 700_002):  # each day spreads the examples over the backends
        counts = [sum(example_backend(n, day) == b for n in CASES) for b in BACKENDS]
        assert max(counts) - min(counts) <= 1, counts


def test_no_example_imports_by_path():
    for script in [*EXAMPLES.glob("*.py"), *(ROOT / "benchmarks" / "recipes").glob("*.py")]:
        assert "sys.path" not in script.read_text(), f"{script.name} changes sys.path"


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(CASES))
def test_example_smoke_run(name, tmp_path):
    extra, modules, expected = CASES[name]
    if not runs_here(name):
        pytest.skip(
            f"CI rotation: {name} runs on another backend today; LERAC_EXAMPLES=all (make examples) runs all"
        )
    for module in modules:
        pytest.importorskip(module)
    if isinstance(expected, dict):
        expected = expected[BACKEND]
    args = [a.format(tmp=tmp_path) for a in extra]
    cwd = tmp_path / "cwd"  # outputs asked for go under tmp_path; nothing else may land here
    cwd.mkdir()
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))  # this checkout's package
    env = dict(os.environ, KERAS_BACKEND=BACKEND, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=path)
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / f"{name}.py"), "--smoke", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=280,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    for pattern in expected:
        assert re.search(pattern, proc.stdout), f"{pattern!r} not in the output:\n{proc.stdout[-3000:]}"
    # An example writes under the directory it names and prints (lerac-results/ by default,
    # git-ignored), never loose files into the working directory.
    assert {p.name for p in cwd.iterdir()} <= {"lerac-results"}, sorted(p.name for p in cwd.iterdir())
    if name == "quickstart":
        assert (cwd / "lerac-results" / "quickstart" / "curriculum.png").stat().st_size > 0
