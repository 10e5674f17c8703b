"""Every access to Keras internals, in one package, split by Keras area.

keras-lerac relies on a few private parts of Keras 3 (tested on the releases in
`TESTED_RANGE`, which pyproject.toml declares). Each function wraps one of them, with a comment on what
it relies on; no other module of the package touches a private Keras name. A missing
attribute fails loudly here (never through a silent `getattr` default), and
`check_assumptions()` verifies every assumption against the installed Keras, so that a
Keras upgrade that breaks one is caught by one test with a message naming the version.
`check_installed_keras()` (`contract`) is its cheap version, run once per process by the
first `LeRaC.build`: attribute and signature checks, and the version against the range.

The areas: `graph` (functional models' nodes, nested layers, the conv base classes),
`optimizers` (optimizer state, the step counter, the update hooks, slots), `tracking`
(attribute tracking of optimizer state) and `callbacks`. Each module ends with its own
`check()`, beside the accessors it checks; `check_assumptions()` runs them all.
"""

from __future__ import annotations

from keras_lerac._keras import callbacks, graph, optimizers, tracking
from keras_lerac._keras._base import TESTED_RANGE, KerasInternalsError
from keras_lerac._keras.callbacks import callback_model
from keras_lerac._keras.contract import check_installed_keras
from keras_lerac._keras.graph import (
    conv_base_classes,
    flatten_layers,
    is_functional,
    is_graph_model,
    nodes_by_depth,
)
from keras_lerac._keras.optimizers import (
    apply_weight_decay,
    base_update_step,
    creation_scope,
    current_learning_rate,
    learning_rate_of,
    own_variables,
    public_optimizer_class,
    share_step_count,
    slots,
    step_counter,
    torch_fusable_classes,
    update_step,
    updates_one_by_one,
    variable_key,
    weight_decay_exclusions,
)
from keras_lerac._keras.tracking import track_all_state, tracking_on, untracked

__all__ = [
    "KerasInternalsError",
    "TESTED_RANGE",
    "apply_weight_decay",
    "base_update_step",
    "callback_model",
    "creation_scope",
    "current_learning_rate",
    "check_assumptions",
    "check_installed_keras",
    "conv_base_classes",
    "flatten_layers",
    "is_functional",
    "is_graph_model",
    "learning_rate_of",
    "nodes_by_depth",
    "own_variables",
    "public_optimizer_class",
    "share_step_count",
    "slots",
    "step_counter",
    "torch_fusable_classes",
    "track_all_state",
    "tracking_on",
    "untracked",
    "update_step",
    "updates_one_by_one",
    "variable_key",
    "weight_decay_exclusions",
]


def check_assumptions() -> list[str]:
    """Checks every assumption of every area against the installed Keras.

    Returns:
        The names of the accessors checked.

    Raises:
        KerasInternalsError: naming the first assumption that does not hold.
    """
    return [name for area in (graph, optimizers, tracking, callbacks) for name in area.check()]
