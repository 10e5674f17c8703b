"""Every access to Keras internals, in one place.

keras-lerac relies on a few private parts of Keras 3 (tested on the version pinned in
`requirements-dev.txt`). Each function below wraps one of them, with a comment on what
it relies on; no other module of the package touches a private Keras name. A missing
attribute fails loudly here (never through a silent `getattr` default), and
`check_assumptions()` verifies every assumption against the installed Keras, so that a
Keras upgrade that breaks one is caught by one test with a message naming the version.
"""

from __future__ import annotations

from typing import Any

import keras

__all__ = [
    "KerasInternalsError",
    "check_assumptions",
    "flatten_layers",
    "is_functional",
    "nodes_by_depth",
]


class KerasInternalsError(RuntimeError):
    """A private part of Keras that keras-lerac relies on is missing or changed."""


def _missing(what: str, error: Exception | None = None) -> KerasInternalsError:
    return KerasInternalsError(
        f"keras-lerac relies on {what}, which keras {keras.__version__} does not provide "
        f"({error!r}). keras-lerac is tested with keras 3.15; please report this."
    )


# ----------------------------------------------------------------------------- graphs
def is_functional(model: Any) -> bool:
    """Whether `model` is a functional model (a layer graph), Sequential excluded.

    Relies on: functional models (and Sequential ones, excluded here) are the models
    that carry `_nodes_by_depth`, Keras' record of the layer graph.
    """
    return (
        isinstance(model, keras.Model)
        and not isinstance(model, keras.Sequential)
        and hasattr(model, "_nodes_by_depth")
    )


def nodes_by_depth(model: keras.Model) -> dict:
    """`{depth: [node, ...]}` of a functional model, depth 0 at the outputs.

    Relies on: `Functional._nodes_by_depth`, and on each node having `operation`,
    `parent_nodes` and `is_input`.
    """
    try:
        return model._nodes_by_depth
    except AttributeError as error:
        raise _missing("Functional._nodes_by_depth", error) from None


def flatten_layers(layer: Any) -> list:
    """All layers inside `layer`, recursively, each once, in tracking order.

    Relies on: `Layer._flatten_layers(include_self=False, recursive=True)`.
    """
    try:
        return list(layer._flatten_layers(include_self=False, recursive=True))
    except AttributeError as error:
        raise _missing("Layer._flatten_layers", error) from None


# ----------------------------------------------------------------------------- checks
def check_assumptions() -> list[str]:
    """Checks every assumption above against the installed Keras.

    Returns:
        The names of the assumptions checked.

    Raises:
        KerasInternalsError: naming the first assumption that does not hold.
    """
    checked = []
    inputs = keras.Input((2,))
    model = keras.Model(inputs, keras.layers.Dense(1)(keras.layers.Dense(2)(inputs)))
    if not is_functional(model):
        raise _missing("functional models carrying `_nodes_by_depth`")
    nodes = [n for level in nodes_by_depth(model).values() for n in level]
    for node in nodes:
        for attr in ("operation", "parent_nodes", "is_input"):
            if not hasattr(node, attr):
                raise _missing(f"`Node.{attr}`")
    checked.append("nodes_by_depth")
    if len(flatten_layers(model)) != 3:
        raise _missing("`_flatten_layers` listing every sublayer once")
    checked.append("flatten_layers")
    return checked
