"""Keras internals of callbacks: the model a callback holds, the list that calls it.

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


def calling_callback_list() -> Any:
    """The `keras.callbacks.CallbackList` whose `set_model` is calling our caller, or None.

    For a callback's `set_model(model)`: Keras builds one `CallbackList` per `fit` and
    calls `set_model` on each of its callbacks. Relies on: `CallbackList.set_model`
    calling `callback.set_model(model)` itself (so the list is `self` two frames up).
    """
    import inspect

    frame = inspect.currentframe()
    try:
        caller = frame.f_back.f_back if frame is not None and frame.f_back is not None else None
        owner = caller.f_locals.get("self") if caller is not None else None
    finally:
        del frame
    return owner if isinstance(owner, keras.callbacks.CallbackList) else None


def move_callback_first(callbacks: Any, callback: keras.callbacks.Callback) -> None:
    """Moves `callback` to the front of a `CallbackList`, so that it runs first.

    Safe while `CallbackList.set_model` iterates the list: the callbacks before it move
    one place up, and the iteration goes on with the one after it. Relies on:
    `CallbackList.callbacks`, the list it calls in order.
    """
    members = callbacks.callbacks
    if members and members[0] is not callback and any(c is callback for c in members):
        members.remove(callback)
        members.insert(0, callback)


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

    seen = []

    class Probe(keras.callbacks.Callback):
        def set_model(self, model):
            super().set_model(model)
            found = calling_callback_list()
            seen.append(found)
            if found is not None:
                move_callback_first(found, self)

    first, probe, last = keras.callbacks.Callback(), Probe(), keras.callbacks.Callback()
    callback_list = keras.callbacks.CallbackList([first, probe, last], model=model)
    if seen != [callback_list] or callback_list.callbacks != [probe, first, last]:
        raise _missing(
            "`CallbackList.set_model` calling each callback's `set_model` on `CallbackList.callbacks`"
        )
    if callback_model(last) is not model:
        raise _missing("every callback's `set_model` called once when one moves itself first")
    checked += ["calling_callback_list", "move_callback_first"]
    return checked
