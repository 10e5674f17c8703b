"""The Keras releases keras-lerac is tested on, and a cheap run-time check of its assumptions.

`check_installed_keras(optimizer)` runs once per process, from the first `LeRaC.build`:
a few attribute and signature checks of the private Keras names the package relies on
(no model, no variable, no step: microseconds), and the installed Keras' version against
the tested range. A failed assumption raises `KerasInternalsError`; a Keras outside the
tested range whose assumptions hold only warns. Each message is one line naming the Keras
version, the assumption and the tested range. `check_assumptions()` (run by the test
suite) is the thorough, behavioural check of the same assumptions.
"""

from __future__ import annotations

import inspect
import re
import warnings
from collections.abc import Callable
from typing import Any

import keras

from keras_lerac._keras._base import TESTED_RANGE, KerasInternalsError

# (lowest tested, first untested) Keras minor: pyproject.toml declares the same range.
TESTED_MINORS = ((3, 12), (3, 16))

_checked = False  # once per process: set after the first check that passed


def keras_minor(version: str | None = None) -> tuple[int, int] | None:
    """`(major, minor)` of a Keras version string (`keras.__version__` by default)."""
    match = re.match(r"(\d+)\.(\d+)", keras.__version__ if version is None else version)
    return (int(match.group(1)), int(match.group(2))) if match else None


def _has_parameters(owner: Any, name: str, parameters: tuple[str, ...]) -> bool:
    function = getattr(owner, name, None)
    if not callable(function):
        return False
    try:
        names = list(inspect.signature(function).parameters)
    except (TypeError, ValueError):
        return False
    return names[: len(parameters)] == list(parameters)


def _importable(module: str, *names: str) -> bool:
    import importlib

    try:
        found = importlib.import_module(module)
    except ImportError:
        return False
    return all(hasattr(found, name) for name in names)


def assumptions(optimizer: keras.optimizers.Optimizer) -> list[tuple[str, Callable[[], bool]]]:
    """The cheap checks: `(what keras-lerac relies on, a test of it)`.

    Args:
        optimizer: A constructed optimizer (its instance attributes are checked).
    """
    opt = keras.optimizers.Optimizer
    checks = [
        (
            "`Optimizer._backend_update_step(self, grads, trainable_variables, learning_rate)`",
            lambda: _has_parameters(opt, "_backend_update_step", ("self", "grads", "trainable_variables")),
        ),
        (
            "`Optimizer._apply_weight_decay(self, variables)`",
            lambda: _has_parameters(opt, "_apply_weight_decay", ("self", "variables")),
        ),
        (
            "`Optimizer._use_weight_decay(self, variable)`",
            lambda: _has_parameters(opt, "_use_weight_decay", ("self", "variable")),
        ),
        (
            "`Optimizer._var_key(self, variable)`",
            lambda: _has_parameters(opt, "_var_key", ("self", "variable")),
        ),
        (
            "`Optimizer._get_variable_index(self, variable)`",
            lambda: _has_parameters(opt, "_get_variable_index", ("self", "variable")),
        ),
        (
            "`Optimizer._get_current_learning_rate(self)`",
            lambda: _has_parameters(opt, "_get_current_learning_rate", ("self",)),
        ),
        (
            "`Optimizer._track_variable(self, variable)`",
            lambda: _has_parameters(opt, "_track_variable", ("self", "variable")),
        ),
        (
            "`Optimizer._untrack_variable(self, variable)`",
            lambda: _has_parameters(opt, "_untrack_variable", ("self", "variable")),
        ),
        (
            "`Optimizer._variables`, `_iterations` and `_learning_rate`",
            lambda: all(name in vars(optimizer) for name in ("_variables", "_iterations", "_learning_rate")),
        ),
        (
            "`Layer._flatten_layers(self, include_self, recursive)`",
            lambda: _has_parameters(
                keras.layers.Layer, "_flatten_layers", ("self", "include_self", "recursive")
            ),
        ),
        ("`Callback._model`", lambda: "_model" in vars(keras.callbacks.Callback())),
        (
            "`keras.src.backend.common.global_state.get_global_attribute` and `set_global_attribute`",
            lambda: _importable(
                "keras.src.backend.common.global_state", "get_global_attribute", "set_global_attribute"
            ),
        ),
        (
            "`keras.src.utils.tracking.no_automatic_dependency_tracking`",
            lambda: _importable("keras.src.utils.tracking", "no_automatic_dependency_tracking"),
        ),
        (
            "the convolution base classes in `keras.src.layers.convolutional`",
            lambda: all(
                _importable(f"keras.src.layers.convolutional.base_{module}", name)
                for module, name in (
                    ("conv", "BaseConv"),
                    ("conv_transpose", "BaseConvTranspose"),
                    ("depthwise_conv", "BaseDepthwiseConv"),
                    ("separable_conv", "BaseSeparableConv"),
                )
            ),
        ),
    ]
    backend = keras.backend.backend()
    if backend == "tensorflow":
        checks.append(
            (
                "`Optimizer._distribution_strategy` (TensorFlow)",
                lambda: hasattr(optimizer, "_distribution_strategy"),
            )
        )
    if backend == "torch":
        checks.append(
            (
                "`keras.src.backend.torch.optimizers.torch_sgd.SGD`, `torch_adam.Adam`, `torch_adamw.AdamW`",
                lambda: all(
                    _importable(f"keras.src.backend.torch.optimizers.torch_{module}", name)
                    for module, name in (("sgd", "SGD"), ("adam", "Adam"), ("adamw", "AdamW"))
                ),
            )
        )
    return checks


def check_installed_keras(optimizer: keras.optimizers.Optimizer) -> None:
    """Checks the installed Keras once per process: the first call checks, later ones return.

    Args:
        optimizer: The optimizer being built (its instance attributes are checked).

    Raises:
        KerasInternalsError: An assumption does not hold (raised again at each call until one passes).

    Warns:
        UserWarning: The installed Keras is outside the tested range (its assumptions hold).
    """
    global _checked
    if _checked:
        return
    for what, holds in assumptions(optimizer):
        if not holds():
            raise KerasInternalsError(
                f"keras-lerac relies on {what}, which keras {keras.__version__} does not provide; "
                f"keras-lerac is tested with keras{TESTED_RANGE}: install a Keras in that range "
                "(e.g. `pip install 'keras" + TESTED_RANGE + "'`)."
            )
    minor = keras_minor()
    low, high = TESTED_MINORS
    if minor is None or not low <= minor < high:
        warnings.warn(
            f"keras-lerac is tested with keras{TESTED_RANGE}, and keras {keras.__version__} is installed: "
            "the Keras internals it relies on are present, but it was not tested on this version.",
            stacklevel=2,
        )
    _checked = True
