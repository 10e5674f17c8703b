"""Small models and data shared by the optimizer tests."""

import keras
import numpy as np


def mlp(depth=3, width=8, inputs=6, classes=3, name=None):
    x_in = keras.Input((inputs,))
    x = x_in
    for i in range(depth - 1):
        x = keras.layers.Dense(width, activation="relu", name=f"hidden_{i}")(x)
    out = keras.layers.Dense(classes, name="head")(x)
    return keras.Model(x_in, out, name=name)


def residual_cnn(name=None):
    """conv -> [conv, conv] + skip -> pool -> dense: the skip path must not make
    the block's convs shallower, and the parallel 1x1 shortcut shares a level."""
    x_in = keras.Input((8, 8, 3))
    stem = keras.layers.Conv2D(4, 3, padding="same", name="stem")(x_in)
    a = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="block_a")(stem)
    b = keras.layers.Conv2D(8, 3, padding="same", name="block_b")(a)
    short = keras.layers.Conv2D(8, 1, name="shortcut")(stem)
    x = keras.layers.Add()([b, short])
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    out = keras.layers.Dense(3, name="head")(x)
    return keras.Model(x_in, out, name=name)


def classification_data(n=64, inputs=6, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, inputs)).astype("float32")
    w = rng.normal(size=(inputs, classes))
    y = np.argmax(x @ w, axis=1).astype("int32")
    return x, y


USER_MODULE = """
import numpy as np

import keras_lerac


@keras_lerac.register_schedule("{name}")
def rise(step, start_ratio, curriculum_steps, *, xp):
    return {body}
"""
COSINE_RISE = "start_ratio + (1.0 - start_ratio) * 0.5 * (1.0 - xp.cos(np.pi * step / curriculum_steps))"


def write_user_module(directory, module="lerac_user_schedules", name="user_cosine", body=COSINE_RISE):
    """A module of the user's, `directory/module.py`, that registers a schedule `name` when
    imported: `rise(step, start_ratio, curriculum_steps, *, xp)` returning `body`."""
    (directory / f"{module}.py").write_text(USER_MODULE.format(name=name, body=body))
    return module, name
