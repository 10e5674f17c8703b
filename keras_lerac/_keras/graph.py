"""Keras internals of the layer graph: functional models' nodes, nested layers, conv bases.

Each accessor says what it relies on; `check()` at the end verifies it on the installed
Keras (`keras_lerac._keras.check_assumptions()` runs every module's check).
"""

from __future__ import annotations

from typing import Any

import keras

from keras_lerac._keras._base import _missing


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


def is_graph_model(layer: Any) -> bool:
    """Whether `layer` is a model with a layer graph: Sequential or functional."""
    return isinstance(layer, keras.Sequential) or is_functional(layer)


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


# --- CBS ---------------------------------------------------------------------------
# Public convolution layers of keras.layers, by base class. check_assumptions() also checks
# that every `keras.layers.*Conv*` class (ConvLSTM, a recurrent layer, aside) has one of
# these bases, so that a conv family Keras adds later is noticed.
_PUBLIC_CONVS = {
    "BaseConv": ("Conv1D", "Conv2D", "Conv3D"),
    "BaseConvTranspose": ("Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose"),
    "BaseDepthwiseConv": ("DepthwiseConv1D", "DepthwiseConv2D"),
    "BaseSeparableConv": ("SeparableConv1D", "SeparableConv2D"),
}
_CONV_ATTRIBUTES = ("kernel_size", "padding", "data_format", "activation")


def conv_base_classes() -> tuple[type, ...]:
    """The base classes of every Keras convolution layer (plain, transposed, depthwise,
    separable), for `isinstance` checks that also cover subclasses of the public convs.

    Relies on: `BaseConv`, `BaseConvTranspose`, `BaseDepthwiseConv` and
    `BaseSeparableConv` in `keras.src.layers.convolutional.base_*`, whose instances have
    `kernel_size` (a tuple), `padding`, `data_format` and `activation`.
    """
    try:
        from keras.src.layers.convolutional.base_conv import BaseConv
        from keras.src.layers.convolutional.base_conv_transpose import BaseConvTranspose
        from keras.src.layers.convolutional.base_depthwise_conv import BaseDepthwiseConv
        from keras.src.layers.convolutional.base_separable_conv import BaseSeparableConv
    except ImportError as error:
        raise _missing("the convolution base classes in keras.src.layers.convolutional", error) from None
    return (BaseConv, BaseConvTranspose, BaseDepthwiseConv, BaseSeparableConv)


# ----------------------------------------------------------------------------- check
def check() -> list[str]:
    """This module's part of `keras_lerac._keras.check_assumptions()`."""
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
    if not is_graph_model(model) or not is_graph_model(keras.Sequential([keras.layers.Dense(1)])):
        raise _missing("functional and Sequential models being graph models")
    checked += ["is_functional", "is_graph_model", "nodes_by_depth"]
    if len(flatten_layers(model)) != 3:
        raise _missing("`_flatten_layers` listing every sublayer once")
    checked.append("flatten_layers")

    bases = {base.__name__: base for base in conv_base_classes()}
    for base_name, public_names in _PUBLIC_CONVS.items():
        for public_name in public_names:
            cls = getattr(keras.layers, public_name, None)
            if cls is None or base_name not in bases or not issubclass(cls, bases[base_name]):
                raise _missing(f"keras.layers.{public_name} subclassing {base_name}")
    for name, obj in vars(keras.layers).items():  # a new conv family needs a new base here
        if isinstance(obj, type) and "Conv" in name and not name.startswith("ConvLSTM"):
            if not issubclass(obj, tuple(bases.values())):
                raise _missing(f"keras.layers.{name} subclassing one of {sorted(bases)}")
    samples = (
        keras.layers.Conv1D(1, 3),
        keras.layers.Conv1DTranspose(1, 3),
        keras.layers.DepthwiseConv1D(3),
        keras.layers.SeparableConv1D(1, 3),
    )
    for conv in samples:
        for attr in _CONV_ATTRIBUTES:
            if not hasattr(conv, attr):
                raise _missing(f"`{type(conv).__name__}.{attr}`")
        if conv.kernel_size != (3,):
            raise _missing(f"`{type(conv).__name__}.kernel_size` as a tuple")
    checked.append("conv_base_classes")
    return checked
