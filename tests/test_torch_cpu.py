"""The oneDNN convolution hang on torch CPU (keras_lerac/experiments/torch_cpu.py).

The case that hangs: the recipe's ResNet-18 at width 4 (its first shortcut is a 1x1
stride-2 conv, 4 -> 8 channels, channels-last), trained on torch with oneDNN's AVX2
kernels. `ONEDNN_MAX_CPU_ISA=AVX2` makes oneDNN pick those kernels on any x86 CPU, so
without the guard this test hangs here too (tried: killed by its timeout, 3 of 3).
"""

import os
import subprocess
import sys

import pytest
from conftest import only_backends

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

TRAIN_WIDTH_4 = """
import numpy as np, keras
from keras_lerac import LeRaC
from keras_lerac.experiments.torch_cpu import avoid_onednn_hang
from keras_lerac.experiments.recipes import resnet18
assert avoid_onednn_hang()
model = resnet18(10, width=4, blocks_per_stage=1)
model.compile(optimizer=LeRaC(keras.optimizers.SGD(0.1), total_steps=4, model=model),
              loss="sparse_categorical_crossentropy")
rng = np.random.default_rng(0)
x, y = rng.random((16, 32, 32, 3), dtype="float32"), rng.integers(0, 10, 16)
history = model.fit(x, y, batch_size=8, epochs=2, verbose=0)
print("trained", len(history.history["loss"]))
"""


@only_backends("torch")
def test_width_4_resnet18_trains_on_torch_with_onednn_avx2_kernels():
    env = dict(os.environ, KERAS_BACKEND="torch", ONEDNN_MAX_CPU_ISA="AVX2", PYTHONPATH=ROOT)
    try:
        proc = subprocess.run(
            [sys.executable, "-c", TRAIN_WIDTH_4], env=env, capture_output=True, text=True, timeout=120
        )
    except subprocess.TimeoutExpired:
        pytest.fail("the width-4 ResNet-18 hung on torch (oneDNN AVX2 conv backward): the guard failed")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "trained 2" in proc.stdout


def test_the_guard_acts_on_torch_only():
    import keras

    from keras_lerac.experiments.torch_cpu import avoid_onednn_hang

    assert avoid_onednn_hang() is (keras.backend.backend() == "torch")


@pytest.mark.parametrize("guard", [False, True], ids=["default", "torch_cpu_guard=True"])
def test_compare_regimes_touches_the_process_only_when_asked(monkeypatch, guard):
    import keras
    import numpy as np

    from keras_lerac.experiments import paired

    calls = []
    monkeypatch.setattr(paired, "avoid_onednn_hang", lambda: calls.append(1) or False)
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(32, 4)).astype("float32"), rng.integers(0, 2, 32)

    def build():
        return keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])

    paired.compare_regimes(
        build,
        (x, y),
        (x, y),
        optimizer="sgd",
        regimes=["conventional"],
        epochs=1,
        seeds=1,
        progress=False,
        curves=False,
        torch_cpu_guard=guard,
    )
    assert len(calls) == int(guard)
