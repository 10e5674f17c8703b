"""Shared test set-up: one Keras backend per pytest process (KERAS_BACKEND)."""

import datetime
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from keras_lerac.experiments.torch_cpu import avoid_onednn_hang  # noqa: E402

BACKEND = keras.backend.backend()
# torch on CPU: oneDNN's convolution backward hangs on CPUs without AVX-512 for some
# small channel counts (keras_lerac/experiments/torch_cpu.py); the suite tests LeRaC, not
# oneDNN. tests/test_torch_cpu.py checks the guard against the hanging case itself.
avoid_onednn_hang()


@pytest.fixture(autouse=True)
def _fresh_keras_state():
    """Each test starts from the same seed, float32 policy and fresh names."""
    # No garbage collection per test: with a backend loaded it costs ~0.5 s a time,
    # most of the suite's wall time.
    keras.utils.clear_session(free_memory=False)
    keras.mixed_precision.set_global_policy("float32")
    keras.utils.set_random_seed(0)
    yield
    keras.mixed_precision.set_global_policy("float32")


BACKENDS = ("tensorflow", "jax", "torch")


def rotation_backend(index: int, day: int) -> str:
    """The backend the `index`-th rotating smoke run takes in CI on `day`.

    The slow end-to-end smoke runs (every example's `--smoke`, the sensitivity study's)
    run on one backend a day in CI, so the suite stays within its time; every pair of
    run and backend comes once every 3 days. `LERAC_EXAMPLES=all` (what `make
    examples` sets) runs every one on every backend; `LERAC_EXAMPLES_DAY=N` picks the day.
    """
    return BACKENDS[(index + day) % len(BACKENDS)]


def rotation_runs_here(index: int) -> bool:
    """Whether the `index`-th rotating smoke run runs in this process (see `rotation_backend`)."""
    if os.environ.get("LERAC_EXAMPLES") == "all":
        return True
    day = int(os.environ.get("LERAC_EXAMPLES_DAY", datetime.date.today().toordinal()))
    return rotation_backend(index, day) == BACKEND


def rotating(index: int):
    """Skip marker for the `index`-th rotating smoke run on the days it runs elsewhere."""
    return pytest.mark.skipif(
        not rotation_runs_here(index),
        reason="CI rotation: runs on another backend today; LERAC_EXAMPLES=all (make examples) runs all",
    )


def only_backends(*names):
    """Skip marker for behaviour that is backend-specific by nature."""
    return pytest.mark.skipif(BACKEND not in names, reason=f"needs backend in {names}, have {BACKEND}")


@pytest.fixture
def rng():
    return np.random.default_rng(0)
