"""LeRaC under Keras' distribution engines, each in a fresh process (device set-up
must happen before the backend's runtime starts)."""

import os
import subprocess
import sys
import textwrap

from conftest import only_backends

COMMON = """
import numpy as np
import keras
from keras_lerac import LeRaC

def data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 6)).astype("float32")
    y = (x @ rng.normal(size=(6, 3))).argmax(1).astype("int32")
    return x, y

def model_and_opt():
    keras.utils.set_random_seed(0)
    x_in = keras.Input((6,))
    h = keras.layers.Dense(16, activation="relu")(x_in)
    h = keras.layers.Dense(16, activation="relu")(h)
    model = keras.Model(x_in, keras.layers.Dense(3)(h))
    opt = LeRaC(keras.optimizers.SGD(0.05, momentum=0.9), min_learning_rate=1e-4,
                curriculum_steps=6, model=model)
    model.compile(optimizer=opt, loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model, opt

def check(model, opt, replicas):
    x, y = data()
    history = model.fit(x, y, batch_size=16, epochs=2, verbose=0, shuffle=False)
    step = int(keras.ops.convert_to_numpy(opt.iterations))
    assert step == 8, step
    assert np.allclose(opt.current_learning_rates(), opt.learning_rates_at(step), rtol=1e-5)
    assert np.isfinite(history.history["loss"]).all()
    print("REPLICAS", replicas, "OK", opt.learning_rates_at(step))
"""


def run(code, env_extra):
    env = dict(os.environ, **env_extra)
    script = textwrap.dedent(COMMON) + textwrap.dedent(code)
    proc = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout


@only_backends("jax")
def test_jax_data_parallel_on_two_host_devices():
    out = run(
        """
        import jax
        assert len(jax.devices()) == 2, jax.devices()
        keras.distribution.set_distribution(keras.distribution.DataParallel(devices=jax.devices()))
        model, opt = model_and_opt()
        check(model, opt, len(jax.devices()))
        """,
        {"KERAS_BACKEND": "jax", "XLA_FLAGS": "--xla_force_host_platform_device_count=2"},
    )
    assert "REPLICAS 2 OK" in out


@only_backends("tensorflow")
def test_tf_mirrored_strategy_on_two_logical_cpus():
    out = run(
        """
        import tensorflow as tf
        import keras_lerac  # importing the package must not start TF's runtime
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
        with strategy.scope():
            model, opt = model_and_opt()
        check(model, opt, strategy.num_replicas_in_sync)
        single, single_opt = model_and_opt()  # same seed, no strategy
        check(single, single_opt, 1)
        for a, b in zip(model.weights, single.weights):
            np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-4, atol=1e-5)
        """,
        {"KERAS_BACKEND": "tensorflow"},
    )
    assert "REPLICAS 2 OK" in out
