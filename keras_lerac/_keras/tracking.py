"""Keras internals of attribute tracking: which variables an optimizer owns and saves.

Each accessor says what it relies on; `check()` at the end verifies it on the installed
Keras (`keras_lerac._keras.check_assumptions()` runs every module's check).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import keras

from keras_lerac._keras._base import _missing


@contextlib.contextmanager
def tracking_on() -> Iterator[None]:
    """Turns Keras' automatic variable tracking on inside the block.

    Keras optimizers record the variables they own by attribute assignment (`self.x =
    Variable(...)`), unless a caller switched tracking off for the thread (as wrapper
    optimizers' `build` does). Relies on: the switch being the global attribute
    `"tracking_on"` of `keras.src.backend.common.global_state`.
    """
    from keras.src.backend.common import global_state

    previous = global_state.get_global_attribute("tracking_on", True)
    global_state.set_global_attribute("tracking_on", True)
    try:
        yield
    finally:
        global_state.set_global_attribute("tracking_on", previous)


def untracked(function):
    """Decorator: Keras' automatic tracking is off while `function` runs.

    Relies on: `keras.src.utils.tracking.no_automatic_dependency_tracking`.
    """
    from keras.src.utils import tracking

    return tracking.no_automatic_dependency_tracking(function)


def _variables_in(value: Any, found: dict) -> None:
    if isinstance(value, keras.Variable):
        found.setdefault(id(value), value)
    elif isinstance(value, dict):
        for item in value.values():
            _variables_in(item, found)
    elif isinstance(value, (list, tuple)):
        for item in value:
            _variables_in(item, found)


def track_all_state(optimizer: keras.optimizers.Optimizer, foreign: list) -> list:
    """Tracks every variable the optimizer holds that it does not track yet.

    Every attribute of the optimizer is searched (through lists, tuples and dicts) for
    `keras.Variable`s; those that are neither in `optimizer.variables` nor in `foreign`
    (the model's variables, a shared step counter) are added to `optimizer.variables`,
    so that they are saved and carried through JAX's stateless step like any slot.

    Args:
        optimizer: A built optimizer.
        foreign: Variables the optimizer refers to but does not own.

    Returns:
        The variables that were added (empty when Keras tracked everything itself).

    Relies on: `Optimizer._track_variable` appending to the list `variables` returns.
    """
    found: dict = {}
    for value in vars(optimizer).values():
        _variables_in(value, found)
    known = {id(v) for v in optimizer.variables} | {id(v) for v in foreign}
    added = [v for key, v in found.items() if key not in known]
    for variable in added:
        try:
            optimizer._track_variable(variable)
        except AttributeError as error:
            raise _missing("Optimizer._track_variable", error) from None
    return added


# ----------------------------------------------------------------------------- check
def check() -> list[str]:
    """This module's part of `keras_lerac._keras.check_assumptions()`."""
    checked = []
    holder = keras.optimizers.SGD(0.1)

    @untracked
    def assign_untracked():
        holder.hidden = [keras.Variable(1.0)]
        with tracking_on():
            holder.shown = keras.Variable(2.0)

    assign_untracked()
    if any(v is holder.hidden[0] for v in holder.variables):
        raise _missing("`no_automatic_dependency_tracking` switching automatic tracking off")
    if not any(v is holder.shown for v in holder.variables):
        raise _missing('the global attribute "tracking_on" switching automatic tracking')
    checked += ["untracked", "tracking_on"]
    if track_all_state(holder, []) != holder.hidden:
        raise _missing("`Optimizer._track_variable`")
    checked.append("track_all_state")
    return checked
