"""The built-in models of the `keras-lerac` command, its runner and the benchmarks.

Every builder has the signature `builder(input_shape, num_classes) -> keras.Model` and
returns an uncompiled functional model that outputs logits. The named models are in
`MODELS`; `mlp` and `cnn` are the parameterised families behind studies over depth (any
depth and width, with or without residual connections and batch normalisation), named
`mlp_d<depth>_w<width>[_res][_bn]` and `cnn_d<depth>_w<width>[_res][_bn]`, which
`get_model` builds from the name too. Convolutions are followed by `BatchNormalization`
(where there is one) and `Activation("relu")`, as in the official CBS code's ResNets.

This module imports Keras only when a model is built, so the command can check a model
name without loading a backend.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import keras


class _Layers:
    """`keras.layers`, imported on first use."""

    def __getattr__(self, name):
        import keras

        return getattr(keras.layers, name)


layers = _Layers()


def _model(inputs, outputs, name: str) -> keras.Model:
    import keras

    return keras.Model(inputs, outputs, name=name)


def _input(shape: tuple, name: str):
    import keras

    return keras.Input(tuple(shape), name=name)


__all__ = [
    "MODELS",
    "check_model_name",
    "cnn",
    "digits_cnn",
    "digits_mlp",
    "get_model",
    "is_conv_model",
    "mlp",
    "resnet_small",
    "resnet_tiny",
]


def _conv_bn_relu(x, filters: int, name: str, strides: int = 1):
    x = layers.Conv2D(filters, 3, strides=strides, padding="same", use_bias=False, name=f"{name}_conv")(x)
    x = layers.BatchNormalization(name=f"{name}_bn")(x)
    return layers.Activation("relu", name=f"{name}_relu")(x)


def digits_cnn(input_shape: tuple = (8, 8, 1), num_classes: int = 10) -> keras.Model:
    """A small CNN: two conv blocks (conv, batch norm, ReLU), pooling, a dense head.

    Args:
        input_shape: Shape of one image, channels last.
        num_classes: Number of classes (logits out).

    Returns:
        An uncompiled functional `keras.Model` named `"digits_cnn"`.

    Example:

    >>> model = digits_cnn((8, 8, 1), 10)
    >>> model.output_shape
    (None, 10)
    """
    inputs = _input(input_shape, "image")
    x = _conv_bn_relu(inputs, 16, "block1")
    x = _conv_bn_relu(x, 32, "block2")
    x = layers.MaxPooling2D(2, name="pool")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(64, name="fc")(x)
    x = layers.Activation("relu", name="fc_relu")(x)
    outputs = layers.Dense(num_classes, name="logits")(x)
    return _model(inputs, outputs, "digits_cnn")


def digits_mlp(input_shape: tuple = (8, 8, 1), num_classes: int = 10) -> keras.Model:
    """A multilayer perceptron: flatten, three hidden Dense layers with ReLU, a head.

    Args:
        input_shape: Shape of one example (flattened first).
        num_classes: Number of classes (logits out).

    Returns:
        An uncompiled functional `keras.Model` named `"digits_mlp"`.
    """
    inputs = _input(input_shape, "image")
    x = layers.Flatten(name="flatten")(inputs)
    for i, units in enumerate((128, 64, 64)):
        x = layers.Dense(units, activation="relu", name=f"dense_{i + 1}")(x)
    outputs = layers.Dense(num_classes, name="logits")(x)
    return _model(inputs, outputs, "digits_mlp")


def _residual_block(x, filters: int, name: str, strides: int = 1):
    shortcut = x
    y = _conv_bn_relu(x, filters, f"{name}_a", strides=strides)
    y = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_b_conv")(y)
    y = layers.BatchNormalization(name=f"{name}_b_bn")(y)
    if strides != 1 or shortcut.shape[-1] != filters:
        shortcut = layers.Conv2D(filters, 1, strides=strides, use_bias=False, name=f"{name}_short_conv")(
            shortcut
        )
        shortcut = layers.BatchNormalization(name=f"{name}_short_bn")(shortcut)
    y = layers.Add(name=f"{name}_add")([y, shortcut])
    return layers.Activation("relu", name=f"{name}_out")(y)


def resnet_tiny(input_shape: tuple = (8, 8, 1), num_classes: int = 10) -> keras.Model:
    """A tiny residual CNN: a stem and two residual blocks, global pooling, a head.

    The second block halves the resolution and has a 1x1 shortcut convolution, so the
    depth buckets of LeRaC see parallel branches (they share a depth level).

    Args:
        input_shape: Shape of one image, channels last.
        num_classes: Number of classes (logits out).

    Returns:
        An uncompiled functional `keras.Model` named `"resnet_tiny"`.
    """
    inputs = _input(input_shape, "image")
    x = _conv_bn_relu(inputs, 16, "stem")
    x = _residual_block(x, 16, "res1")
    x = _residual_block(x, 32, "res2", strides=2)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = layers.Dense(num_classes, name="logits")(x)
    return _model(inputs, outputs, "resnet_tiny")


def resnet_small(
    input_shape: tuple = (32, 32, 3), num_classes: int = 10, *, widths: tuple = (16, 32, 64)
) -> keras.Model:
    """A small residual CNN for 32x32 images: a stem and one residual block per width.

    Each block after the first halves the resolution with a strided conv and a 1x1
    projection shortcut; with the default widths the model has 15 depth buckets. The
    model of `benchmarks/overhead.py`.

    Args:
        input_shape: Shape of one image, channels last.
        num_classes: Number of classes (logits out).
        widths: Channels of each residual block.

    Returns:
        An uncompiled functional `keras.Model` named `"resnet_small"`.
    """
    inputs = _input(input_shape, "image")
    x = _conv_bn_relu(inputs, widths[0], "stem")
    for i, width in enumerate(widths):
        x = _residual_block(x, width, f"block{i + 1}", strides=1 if i == 0 else 2)
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    outputs = layers.Dense(num_classes, name="head")(x)
    return _model(inputs, outputs, "resnet_small")


def _hidden(x, make_layer, index: int, residual: bool, norm: bool):
    """One hidden layer: `h = relu(norm(layer(x)))`, plus `x` when residual (after the first)."""
    h = make_layer(x)
    if norm:
        h = layers.BatchNormalization(name=f"bn{index}")(h)
    h = layers.Activation("relu", name=f"relu{index}")(h)
    if residual and index > 0:
        h = layers.Add(name=f"add{index}")([x, h])
    return h


def mlp(
    input_shape: tuple = (64,),
    num_classes: int = 10,
    *,
    depth: int = 3,
    width: int = 64,
    residual: bool = False,
    norm: bool = False,
) -> keras.Model:
    """A multilayer perceptron of any depth: `depth` hidden Dense layers and a head.

    Hidden layer `i` computes `h_i = relu(bn(dense(x)))` (no batch norm unless `norm`);
    with `residual`, every hidden layer after the first adds its input: `x + h_i`
    (all hidden layers have `width` units, so the skip is the identity). Inputs with
    more than one axis are flattened first.

    Args:
        input_shape: Shape of one example.
        num_classes: Number of classes (logits out).
        depth: Number of hidden layers (>= 1).
        width: Units of every hidden layer.
        residual: Identity skip connections around hidden layers 2..depth.
        norm: Batch normalisation after every hidden Dense layer (which then has no bias).

    Returns:
        An uncompiled functional `keras.Model` named like `"mlp_d6_w64_res_bn"`.

    Example:

    >>> model = mlp((13,), 3, depth=6, residual=True)
    >>> model.name, model.output_shape
    ('mlp_d6_w64_res', (None, 3))
    """
    if depth < 1:
        raise ValueError(f"`depth` must be >= 1. Received: depth={depth}")
    inputs = _input(input_shape, "features")
    x = layers.Flatten(name="flatten")(inputs) if len(input_shape) > 1 else inputs
    for i in range(depth):
        dense = layers.Dense(width, use_bias=not norm, name=f"dense{i}")
        x = _hidden(x, dense, i, residual, norm)
    outputs = layers.Dense(num_classes, name="logits")(x)
    return _model(inputs, outputs, _family_name("mlp", depth, width, residual, norm))


def cnn(
    input_shape: tuple = (8, 8, 1),
    num_classes: int = 10,
    *,
    depth: int = 3,
    width: int = 16,
    residual: bool = False,
    norm: bool = True,
) -> keras.Model:
    """A plain stack of 3x3 convolutions of any depth, global pooling and a head.

    Conv layer `i` computes `h_i = relu(bn(conv3x3(x)))` at the input's resolution
    (no pooling: on 8x8 digits every conv sees the whole image after a few layers);
    with `residual`, every conv after the first adds its input: `x + h_i`. Convs have
    no activation of their own, so Curriculum by Smoothing can follow them.

    Args:
        input_shape: Shape of one image, channels last.
        num_classes: Number of classes (logits out).
        depth: Number of conv layers (>= 1).
        width: Channels of every conv layer.
        residual: Identity skip connections around convs 2..depth.
        norm: Batch normalisation after every conv (which then has no bias).

    Returns:
        An uncompiled functional `keras.Model` named like `"cnn_d6_w16_bn"`.
    """
    if depth < 1:
        raise ValueError(f"`depth` must be >= 1. Received: depth={depth}")
    inputs = _input(input_shape, "image")
    x = inputs
    for i in range(depth):
        conv = layers.Conv2D(width, 3, padding="same", use_bias=not norm, name=f"conv{i}")
        x = _hidden(x, conv, i, residual, norm)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = layers.Dense(num_classes, name="logits")(x)
    return _model(inputs, outputs, _family_name("cnn", depth, width, residual, norm))


def _family_name(kind: str, depth: int, width: int, residual: bool, norm: bool) -> str:
    return f"{kind}_d{depth}_w{width}" + ("_res" if residual else "") + ("_bn" if norm else "")


MODELS: dict[str, Callable[[tuple, int], keras.Model]] = {
    "digits_cnn": digits_cnn,
    "digits_mlp": digits_mlp,
    "resnet_tiny": resnet_tiny,
    "resnet_small": resnet_small,
}


FAMILIES = {"mlp": mlp, "cnn": cnn}
_FAMILY_NAME = re.compile(r"(mlp|cnn)_d(\d+)_w(\d+)(_res)?(_bn)?")
CONV_PREFIXES = ("cnn", "digits_cnn", "resnet_")


def check_model_name(name: str) -> str:
    """Returns `name` if `get_model` can build it, else raises `ValueError` saying what can."""
    if name in MODELS or _FAMILY_NAME.fullmatch(name):
        return name
    raise ValueError(
        f"Unknown model {name!r}. Choose one of: {', '.join(sorted(MODELS))}, or a family "
        "name mlp_d<depth>_w<width>[_res][_bn] / cnn_d<depth>_w<width>[_res][_bn] (e.g. mlp_d6_w64_res)."
    )


def is_conv_model(name: str) -> bool:
    """Whether built-in model `name` takes images (its data is loaded as images, not vectors).

    Whether CBS can run on a model is asked of the built model: `regimes.cbs_reason`.
    """
    return check_model_name(name).startswith(CONV_PREFIXES)


def get_model(name: str, input_shape: tuple, num_classes: int) -> keras.Model:
    """Builds model `name`: one of `MODELS`, or a family name such as `mlp_d6_w64_res`.

    Args:
        name: A key of `MODELS`, or `<mlp|cnn>_d<depth>_w<width>` with the optional
            suffixes `_res` (residual connections) and `_bn` (batch normalisation).
        input_shape: Shape of one example.
        num_classes: Number of classes.

    Returns:
        An uncompiled functional `keras.Model` that outputs logits.
    """
    check_model_name(name)
    if name in MODELS:
        return MODELS[name](tuple(input_shape), int(num_classes))
    kind, depth, width, residual, norm = _FAMILY_NAME.fullmatch(name).groups()
    return FAMILIES[kind](
        tuple(input_shape),
        int(num_classes),
        depth=int(depth),
        width=int(width),
        residual=bool(residual),
        norm=bool(norm),
    )
