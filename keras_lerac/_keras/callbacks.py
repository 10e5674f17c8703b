"""Keras internals of callbacks: the model a callback holds.

Each accessor says what it relies on; `check()` at the end verifies it on the installed
Keras (`keras_lerac._keras.check_assumptions()` runs every module's check).
"""

from __future__ import annotations

from typing import Any

import keras

from keras_lerac._keras._base import _missing


def callback_model(callback: keras.callbacks.Callback) -> Any:
    """The model a callback was given, without syncing state.

    On JAX, the public `Callback.model` property copies the trainer's state back into the
    model's variables (a device read) each time it is read; a callback that only needs the
    model's optimizer object reads the attribute behind it. Relies on: `Callback._model`.
    """
    try:
        return callback._model
    except AttributeError as error:
        raise _missing("Callback._model", error) from None


# ----------------------------------------------------------------------------- check
def check() -> list[str]:
    """This module's part of `keras_lerac._keras.check_assumptions()`."""
    checked = []
    inputs = keras.Input((2,))
    model = keras.Model(inputs, keras.layers.Dense(1)(keras.layers.Dense(2)(inputs)))
    callback = keras.callbacks.Callback()
    callback.set_model(model)
    if callback_model(callback) is not model:
        raise _missing("`Callback.set_model` storing the model in `Callback._model`")
    checked.append("callback_model")
    return checked
