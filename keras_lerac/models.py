"""Small built-in models for the `keras-lerac` command and the examples.

Every builder has the signature `builder(input_shape, num_classes) -> keras.Model`,
returns an uncompiled functional model that outputs logits, and is registered in
`MODELS` under its name. `mlp` and `cnn` (not in `MODELS`) are the parameterised
families behind studies over depth (any depth and width, with or without residual
connections and batch normalisation): the same signature plus keyword-only settings.
Convolutions have `activation=None` and are followed by `BatchNormalization` (where
there is one) and `Activation("relu")`, so that Curriculum by Smoothing
(`keras_lerac.cbs.add_smoothing`) can insert its Gaussian filter right after each conv.
"""

from __future__ import annotations

from collections.abc import Callable

import keras
from keras import layers

__all__ = ["MODELS", "digits_cnn", "digits_mlp", "resnet_tiny", "get_model", "mlp", "cnn"]


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
    inputs = keras.Input(input_shape, name="image")
    x = _conv_bn_relu(inputs, 16, "block1")
    x = _conv_bn_relu(x, 32, "block2")
    x = layers.MaxPooling2D(2, name="pool")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(64, name="fc")(x)
    x = layers.Activation("relu", name="fc_relu")(x)
    outputs = layers.Dense(num_classes, name="logits")(x)
    return keras.Model(inputs, outputs, name="digits_cnn")


def digits_mlp(input_shape: tuple = (8, 8, 1), num_classes: int = 10) -> keras.Model:
    """A multilayer perceptron: flatten, three hidden Dense layers with ReLU, a head.

    Args:
        input_shape: Shape of one example (flattened first).
        num_classes: Number of classes (logits out).

    Returns:
        An uncompiled functional `keras.Model` named `"digits_mlp"`.
    """
    inputs = keras.Input(input_shape, name="image")
    x = layers.Flatten(name="flatten")(inputs)
    for i, units in enumerate((128, 64, 64)):
        x = layers.Dense(units, activation="relu", name=f"dense_{i + 1}")(x)
    outputs = layers.Dense(num_classes, name="logits")(x)
    return keras.Model(inputs, outputs, name="digits_mlp")


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
    inputs = keras.Input(input_shape, name="image")
    x = _conv_bn_relu(inputs, 16, "stem")
    x = _residual_block(x, 16, "res1")
    x = _residual_block(x, 32, "res2", strides=2)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = layers.Dense(num_classes, name="logits")(x)
    return keras.Model(inputs, outputs, name="resnet_tiny")


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
    inputs = keras.Input(tuple(input_shape), name="features")
    x = layers.Flatten(name="flatten")(inputs) if len(input_shape) > 1 else inputs
    for i in range(depth):
        dense = layers.Dense(width, use_bias=not norm, name=f"dense{i}")
        x = _hidden(x, dense, i, residual, norm)
    outputs = layers.Dense(num_classes, name="logits")(x)
    return keras.Model(inputs, outputs, name=_family_name("mlp", depth, width, residual, norm))


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
    inputs = keras.Input(tuple(input_shape), name="image")
    x = inputs
    for i in range(depth):
        conv = layers.Conv2D(width, 3, padding="same", use_bias=not norm, name=f"conv{i}")
        x = _hidden(x, conv, i, residual, norm)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = layers.Dense(num_classes, name="logits")(x)
    return keras.Model(inputs, outputs, name=_family_name("cnn", depth, width, residual, norm))


def _family_name(kind: str, depth: int, width: int, residual: bool, norm: bool) -> str:
    return f"{kind}_d{depth}_w{width}" + ("_res" if residual else "") + ("_bn" if norm else "")


MODELS: dict[str, Callable[[tuple, int], keras.Model]] = {
    "digits_cnn": digits_cnn,
    "digits_mlp": digits_mlp,
    "resnet_tiny": resnet_tiny,
}


def get_model(name: str, input_shape: tuple, num_classes: int) -> keras.Model:
    """Builds the registered model `name` (see `MODELS`)."""
    if name not in MODELS:
        raise ValueError(f"Unknown model {name!r}. Choose one of: {', '.join(sorted(MODELS))}.")
    return MODELS[name](tuple(input_shape), int(num_classes))
