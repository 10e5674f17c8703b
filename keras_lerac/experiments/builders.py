"""What each run of a comparison is built from: a fresh model, a fresh copy of the base optimizer.

A comparison builds its model many times (once per seed for the initial weights, once
per run) and never trains the optimizer it was given: every run gets its own copy.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from keras_lerac.experiments.inputs import InputError, first_line


def model_builder(model: Any, reinitialize: bool) -> Callable[[], Any]:
    """A function that builds a fresh model each call (weights drawn from the global seed).

    Args:
        model: A function returning a new, uncompiled `keras.Model`, a `keras.Model`,
            or the path of a `.keras` file (a model or file gives the architecture).
        reinitialize: With a model or file: fresh weights each call (`True`) or its
            own weights every time.

    Returns:
        The builder (the function itself when `model` is one).

    Raises:
        InputError: for a missing or unloadable file, or something that is not a model.
    """
    import keras

    from keras_lerac.saving import load_model

    if isinstance(model, (str, os.PathLike)):
        path = os.fspath(model)
        if not os.path.isfile(path):
            raise InputError(f"model file {path!r} does not exist")
        try:
            loaded = load_model(path, compile=False)  # says what is wrong with a damaged file
        except Exception as error:
            raise InputError(f"{path!r} is not a loadable Keras model: {first_line(error)}") from None
        if not isinstance(loaded, keras.Model):
            raise InputError(f"{path!r} holds a {type(loaded).__name__}, not a keras.Model")
        model = loaded
    if isinstance(model, keras.Model):
        template = model
        saved = template.get_weights()

        def build():
            clone = keras.models.clone_model(template)
            if not reinitialize:
                clone.set_weights(saved)
            return clone

        return build
    if callable(model):
        return model
    raise InputError(
        f"model must be a function returning an uncompiled keras.Model, a keras.Model or a .keras path; "
        f"got {type(model).__name__}"
    )


def build(builder: Callable[[], Any]) -> Any:
    """`builder()`, checked to be a built `keras.Model`.

    Raises:
        InputError: if the builder returned something else, or an unbuilt model.
    """
    import keras

    model = builder()
    if not isinstance(model, keras.Model):
        raise InputError(f"the model builder returned a {type(model).__name__}, not a keras.Model")
    if not model.built:
        raise InputError("the model builder returned an unbuilt model: give it an Input (keras.Input(shape))")
    return model


def clone_optimizer(optimizer: Any) -> Any:
    """A fresh optimizer with `optimizer`'s configuration (no variables, no state)."""
    import keras

    return keras.optimizers.deserialize(keras.optimizers.serialize(optimizer))


def base_optimizer(optimizer: Any) -> Any:
    """An optimizer instance from an instance (copied), a config dict or a name.

    Raises:
        InputError: if Keras cannot make an optimizer of `optimizer`.
    """
    import keras

    try:
        if isinstance(optimizer, keras.optimizers.Optimizer):
            return clone_optimizer(optimizer)
        return keras.optimizers.get(optimizer)
    except (TypeError, ValueError) as error:
        raise InputError(f"bad optimizer {optimizer!r}: {first_line(error)}") from None
