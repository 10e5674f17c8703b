"""Shared test set-up: one Keras backend per pytest process (KERAS_BACKEND)."""

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


def only_backends(*names):
    """Skip marker for behaviour that is backend-specific by nature."""
    return pytest.mark.skipif(BACKEND not in names, reason=f"needs backend in {names}, have {BACKEND}")


@pytest.fixture
def rng():
    return np.random.default_rng(0)
