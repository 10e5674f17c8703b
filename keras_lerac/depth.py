"""Depth discovery: how deep each layer of a model sits, hence which depth bucket it is in.

A layer's depth is the longest path from any model input in the layer graph, so a skip
connection never makes a layer shallower and parallel branches share a level. Nested
functional and Sequential models are expanded into their layers; a layer used twice
takes the depth of its use nearest the input; layers without trainable variables do not
use a bucket. Subclassed models have no graph to read: their layers are taken in
tracking order, with a warning.

A layer's variables are every variable under it that the model trains, whatever the
`trainable` flags of the layers in between: with LoRA (`backbone.enable_lora(rank)`) a
frozen transformer block holds trainable LoRA kernels, and they belong to the block.
Layers that read only the shape of their input (`shape_only_layers()`, e.g. KerasHub's
`PositionEmbedding`, fed the token embeddings) sit beside that input, not after it;
`register_shape_only_layer` adds a layer class of your own.
"""

from __future__ import annotations

import warnings
from typing import Any

import keras

from keras_lerac import _keras
from keras_lerac._checks import check_int

__all__ = [
    "depth_buckets",
    "group_levels",
    "layer_depths",
    "layer_owners",
    "register_shape_only_layer",
    "shape_only_layers",
]

# Registered names (`keras.saving.get_registered_name`) of layers whose output depends on
# the shape of their input only: private, read with `shape_only_layers()`, extended with
# `register_shape_only_layer`.
_SHAPE_ONLY = {"keras_hub>PositionEmbedding"}


def shape_only_layers() -> tuple[str, ...]:
    """The registered names of the layers that read only the shape of their input.

    Such a layer (KerasHub's `PositionEmbedding`, fed the token embeddings) sits beside its
    input in depth, not after it: it does not take a depth level of its own.

    Returns:
        The names (`keras.saving.get_registered_name` of each class), sorted.
    """
    return tuple(sorted(_SHAPE_ONLY))


def register_shape_only_layer(layer_class: type | str) -> None:
    """Has depth discovery treat a layer class as reading only the shape of its input.

    Args:
        layer_class: A `keras.layers.Layer` subclass, or its registered name
            (`"package>ClassName"`, as `keras.saving.get_registered_name` gives it).

    Example:

    ```python
    import keras
    from keras_lerac import depth

    class Positions(keras.layers.Layer):  # reads the shape of its input only
        def build(self, input_shape):
            self.table = self.add_weight(shape=input_shape[1:])

        def call(self, x):
            return keras.ops.broadcast_to(self.table, keras.ops.shape(x))

    depth.register_shape_only_layer(Positions)
    ```
    """
    if isinstance(layer_class, str):
        name = layer_class
    elif isinstance(layer_class, type) and issubclass(layer_class, keras.layers.Layer):
        name = keras.saving.get_registered_name(layer_class)
    else:
        raise TypeError(
            "`register_shape_only_layer` takes a keras.layers.Layer subclass or its registered "
            f"name. Received: {layer_class!r}"
        )
    _SHAPE_ONLY.add(name)


def _shape_only(operation: Any) -> bool:
    return keras.saving.get_registered_name(type(operation)) in _SHAPE_ONLY


def trained_weights(layer: Any, trainable_ids: set) -> list:
    """The variables under `layer` that are among `trainable_ids` (ids of trained variables).

    `layer.trainable_variables` is empty for a layer set `trainable=False` even when a
    sublayer of it was made trainable again (LoRA); `layer.weights` lists them all.
    """
    return [v for v in layer.weights if id(v) in trainable_ids]


def _merge(depths: dict, layer: Any, depth: int) -> None:
    key = id(layer)
    if key not in depths or depth < depths[key][1]:
        depths[key] = (layer, depth)


def _expand(layer: Any, offset: int, depths: dict) -> int:
    """Records the depth of `layer` (or of its inner layers) after `offset`.

    Returns the depth of the layer's output: `offset + 1` for a plain layer,
    `offset + (the nested graph's depth)` for a nested model.
    """
    if _keras.is_graph_model(layer):
        inner, out = _graph_depths(layer)
        for sub, d in inner.values():
            _merge(depths, sub, offset + d)
        return offset + out
    if isinstance(layer, keras.layers.Layer):  # not a bare op such as GetItem
        _merge(depths, layer, offset + 1)
    return offset + 1


def _graph_depths(model: Any) -> tuple[dict, int]:
    """`({id: (layer, depth)}, output depth)` for one Sequential or functional model."""
    depths: dict = {}
    if isinstance(model, keras.Sequential):
        current = 0
        for layer in model.layers:
            current = _expand(layer, current, depths)
        return depths, current
    # Keras numbers node depth from the outputs; walk from the deepest (the inputs) up.
    # A node starts where its latest input ends; a shape-only layer starts where its
    # input started, beside it.
    node_start: dict[int, int] = {}
    node_end: dict[int, int] = {}
    out = 0
    nodes = _keras.nodes_by_depth(model)
    for keras_depth in sorted(nodes, reverse=True):
        for node in nodes[keras_depth]:
            op = node.operation
            parent_depths = node_start if _shape_only(op) else node_end
            start = max((parent_depths.get(id(p), 0) for p in node.parent_nodes), default=0)
            node_start[id(node)] = start
            if isinstance(op, keras.layers.InputLayer) or node.is_input:
                end = 0
            else:
                end = _expand(op, start, depths)
            node_end[id(node)] = end
            out = max(out, end)
    return depths, out


def _tracking_depths(model: Any) -> dict:
    warnings.warn(
        f"{type(model).__name__} is a subclassed model: it has no layer graph, so "
        "keras_lerac orders its layers by tracking order (the order they were assigned "
        "in __init__). If that is not input-to-output order, pass the buckets yourself: "
        "LeRaC(..., buckets=[[layer_a], [layer_b, layer_c], ...]) or regular "
        "expressions on variable.path.",
        stacklevel=3,
    )
    depths: dict = {}
    current = 0
    for layer in model.layers:
        current = _expand(layer, current, depths)
    return depths


def check_built(model: Any) -> None:
    """Raises unless `model` is a built `keras.Model` (its variables exist)."""
    if not isinstance(model, keras.Model):
        raise TypeError(f"`model` must be a keras.Model. Received: {type(model).__name__}")
    if not model.built:
        raise ValueError(
            f"Model {model.name!r} is not built, so its variables do not exist yet: build it "
            "first (give it a keras.Input, call it on data, or call model.build(input_shape))."
        )


def layer_depths(model: keras.Model) -> list[tuple[keras.layers.Layer, int]]:
    """The layers that hold trainable variables, with their depth from the input.

    Args:
        model: A built Keras model (functional, Sequential or subclassed).

    Returns:
        `(layer, depth)` pairs sorted by depth (1 = right after the input), ties in the
        model's layer order. Nested models are expanded into their layers.
    """
    check_built(model)
    if _keras.is_graph_model(model):
        depths, _ = _graph_depths(model)
    else:
        depths = _tracking_depths(model)
    order = {id(layer): i for i, layer in enumerate(_keras.flatten_layers(model))}
    trained = {id(v) for v in model.trainable_variables}
    pairs = [(layer, d) for layer, d in depths.values() if trained_weights(layer, trained)]
    pairs.sort(key=lambda p: (p[1], order.get(id(p[0]), len(order))))
    return pairs


def group_levels(num_levels: int, num_buckets: int | None) -> list[int]:
    """Bucket index of each of `num_levels` consecutive depth levels.

    `None` keeps one bucket per level; a number groups consecutive levels into that
    many buckets of near-equal size (the first buckets take the extra levels).
    """
    if num_buckets is None:
        return list(range(num_levels))
    if num_buckets > num_levels:
        raise ValueError(
            f"`num_buckets`={num_buckets} is more than the {num_levels} depth levels "
            f"that hold trainable variables. Use num_buckets <= {num_levels} (or None "
            "for one bucket per level)."
        )
    return [level * num_buckets // num_levels for level in range(num_levels)]


def depth_buckets(model: keras.Model, num_buckets: int | None = None) -> list[list[keras.Variable]]:
    """The model's trainable variables cut into depth buckets, nearest the input first.

    Args:
        model: A built Keras model.
        num_buckets: `None` for one bucket per depth level that holds trainable
            variables, or a number (>= 1) of buckets made of consecutive levels.

    Returns:
        A list of buckets, each a list of variables; every trainable variable of the
        model is in exactly one bucket.

    Example:

    ```python
    import keras
    import keras_lerac

    inputs = keras.Input((8,))
    x = keras.layers.Dense(16, activation="relu")(inputs)
    outputs = keras.layers.Dense(3)(x)
    model = keras.Model(inputs, outputs)
    buckets = keras_lerac.depth_buckets(model)  # [[kernel, bias], [kernel, bias]]
    opt = keras_lerac.LeRaC(keras.optimizers.Adam(1e-3), min_learning_rate=1e-7,
                            curriculum_steps=500, buckets=buckets)
    ```
    """
    owners = layer_owners(model, check_int("num_buckets", num_buckets, minimum=1, optional=True))
    buckets: list[list] = [[] for _ in range(max(b for b, _ in owners.values()) + 1)]
    for v in model.trainable_variables:
        buckets[owners[id(v)][0]].append(v)
    return buckets


def layer_owners(model: keras.Model, num_buckets: int | None) -> dict[int, tuple[int, str]]:
    """`{id(variable): (bucket, name of its layer)}` for every trainable variable of `model`."""
    pairs = layer_depths(model)
    trainable = model.trainable_variables
    if not trainable:
        raise ValueError(f"Model {model.name!r} has no trainable variables: nothing to train.")
    levels = sorted({d for _, d in pairs})
    level_of = {d: i for i, d in enumerate(levels)}
    bucket_of_level = group_levels(len(levels), num_buckets)
    trained = {id(v) for v in trainable}
    owners: dict[int, tuple[int, str]] = {}
    for layer, d in pairs:
        for v in trained_weights(layer, trained):
            owners.setdefault(id(v), (bucket_of_level[level_of[d]], layer.name))
    missing = [v.path for v in trainable if id(v) not in owners]
    if missing:
        raise ValueError(
            f"These trainable variables of {model.name!r} belong to no layer in the "
            f"model's graph, so they have no depth: {missing}. Pass the buckets "
            "explicitly: LeRaC(..., buckets=[...])."
        )
    return owners
