"""Depth discovery: which depth bucket each trainable variable belongs to.

A layer's depth is the longest path from any model input in the layer graph, so a skip
connection never makes a layer shallower and parallel branches share a level. Nested
functional and Sequential models are expanded into their layers; a layer used twice
takes the depth of its use nearest the input; layers without trainable variables do not
use a bucket. Subclassed models have no graph to read: their layers are taken in
tracking order, with a warning.

A layer's variables are every variable under it that the model trains, whatever the
`trainable` flags of the layers in between: with LoRA (`backbone.enable_lora(rank)`) a
frozen transformer block holds trainable LoRA kernels, and they belong to the block.
Layers that read only the shape of their input (`SHAPE_ONLY_LAYERS`, e.g. KerasHub's
`PositionEmbedding`, fed the token embeddings) sit beside that input, not after it.
"""

from __future__ import annotations

import dataclasses
import re
import warnings
import weakref
from collections.abc import Sequence
from typing import Any

import keras

from keras_lerac import _keras
from keras_lerac._checks import check_int

__all__ = [
    "SHAPE_ONLY_LAYERS",
    "Buckets",
    "assign",
    "depth_buckets",
    "group_levels",
    "layer_depths",
    "resolve_bucket_specs",
]

# Registered names (`keras.saving.get_registered_name`) of layers whose output depends on
# the shape of their input only. Add a name to have your own layer treated the same.
SHAPE_ONLY_LAYERS = {"keras_hub>PositionEmbedding"}


def _shape_only(operation: Any) -> bool:
    return keras.saving.get_registered_name(type(operation)) in SHAPE_ONLY_LAYERS


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
    owners = _model_owners(model, check_int("num_buckets", num_buckets, minimum=1, optional=True))
    buckets: list[list] = [[] for _ in range(max(b for b, _ in owners.values()) + 1)]
    for v in model.trainable_variables:
        buckets[owners[id(v)][0]].append(v)
    return buckets


def _model_owners(model: keras.Model, num_buckets: int | None) -> dict[int, tuple[int, str]]:
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


def path_groups(variables: Sequence[Any]) -> list[int]:
    """Level of each variable when no model is at hand.

    Consecutive runs of variables that share their top-level layer form one level, in
    the given (layer) order. The top-level layer is the first component of
    `variable.path` after the prefix all paths share (a Sequential model puts its own
    name first), keeping at least one layer component.
    """
    parts = [v.path.split("/") for v in variables]
    shared = 0
    while all(len(p) > shared + 2 for p in parts) and len({p[shared] for p in parts}) == 1:
        shared += 1
    levels: list[int] = []
    previous, level = None, -1
    for p in parts:
        head = p[shared] if len(p) > 1 else p[0]
        if head != previous:
            level, previous = level + 1, head
        levels.append(level)
    return levels


def resolve_bucket_specs(specs: Sequence[Sequence[Any]], variables: Sequence[Any]) -> list[int]:
    """Bucket index of each variable from explicit bucket specs.

    Args:
        specs: A list of buckets; each a list of layers, variables, or regular
            expressions matched (`re.fullmatch`) against `variable.path`.
        variables: The optimizer's trainable variables.

    Returns:
        One bucket index per variable.
    """
    if not isinstance(specs, (list, tuple)) or not specs:
        raise ValueError(f"`buckets` must be a non-empty list of buckets. Received: {specs!r}")
    owner: dict[int, int] = {}
    patterns: list[tuple[re.Pattern, int]] = []
    for j, bucket in enumerate(specs):
        if not isinstance(bucket, (list, tuple)):
            bucket = [bucket]
        if not bucket:
            raise ValueError(f"`buckets[{j}]` is empty: every bucket needs a layer, variable or pattern.")
        for item in bucket:
            if isinstance(item, str):
                patterns.append((re.compile(item), j))
                continue
            if isinstance(item, keras.layers.Layer):
                members = trained_weights(item, {id(v) for v in variables})
            elif isinstance(item, keras.Variable) or hasattr(item, "path"):
                members = [item]
            else:
                raise TypeError(
                    f"`buckets[{j}]` holds {item!r}: each bucket item must be a Layer, a "
                    "Variable or a regular expression string."
                )
            for v in members:
                if id(v) in owner and owner[id(v)] != j:
                    raise ValueError(
                        f"Variable {v.path!r} is in `buckets[{owner[id(v)]}]` and "
                        f"`buckets[{j}]`: each variable must be in exactly one bucket."
                    )
                owner[id(v)] = j
    known = {id(v) for v in variables}
    stray = [p for p in owner if p not in known]
    if stray:
        raise ValueError(
            f"`buckets` name {len(stray)} variable(s) that are not among the trainable "
            "variables the optimizer was built with (frozen layers, or another model's "
            "layers): list only the trainable layers of the model being trained."
        )
    assignment = []
    for v in variables:
        hits = {owner[id(v)]} if id(v) in owner else set()
        hits |= {j for pattern, j in patterns if pattern.fullmatch(v.path)}
        if not hits:
            raise ValueError(
                f"Variable {v.path!r} is in no bucket. Every trainable variable must be in "
                "exactly one of `buckets` (as its layer, itself, or a pattern that "
                "fullmatches its path)."
            )
        if len(hits) > 1:
            raise ValueError(
                f"Variable {v.path!r} is in buckets {sorted(hits)}: each variable must be "
                "in exactly one bucket."
            )
        assignment.append(hits.pop())
    used = set(assignment)
    empty = [j for j in range(len(specs)) if j not in used]
    if empty:
        raise ValueError(
            f"`buckets` {empty} match no trainable variable: remove them, or fix their "
            "patterns (each must fullmatch a `variable.path`)."
        )
    return assignment


def _layer_of_path(variable: Any) -> str:
    """The layer part of a variable's path (`block1_conv/kernel` -> `block1_conv`)."""
    path = getattr(variable, "path", variable.name)
    return path.rsplit("/", 1)[0] if "/" in path else path


@dataclasses.dataclass(frozen=True)
class Buckets:
    """The depth buckets: each bucket's variables and the names of its layers.

    Made once by `assign` when the optimizer is built; the optimizer routes the step by
    it, and the plan, the logger and the plots read the layer names from it (never the
    graph again).

    Args:
        variables: Each bucket's variables, bucket 0 nearest the input first.
        layers: Each bucket's layer names, in order, without repeats.
        assignment: The bucket of each variable, by position in the list it was
            assigned from (what a saved config stores).
    """

    variables: tuple[tuple[Any, ...], ...]
    layers: tuple[tuple[str, ...], ...]
    assignment: tuple[int, ...]

    def __len__(self) -> int:
        return len(self.variables)

    @property
    def positions(self) -> list[list[int]]:
        """Each bucket's positions in the assigned list."""
        return [[i for i, b in enumerate(self.assignment) if b == j] for j in range(len(self))]


def _make_buckets(var_list: Sequence[Any], assignment: Sequence[int], names: Sequence[str]) -> Buckets:
    count = max(assignment) + 1 if assignment else 0
    if sorted(set(assignment)) != list(range(count)):
        raise ValueError(
            f"Bucket assignment {list(assignment)} skips bucket indices: every bucket from 0 to "
            f"{count - 1} needs at least one variable. Renumber `bucket_assignment`."
        )
    variables: list[list] = [[] for _ in range(count)]
    layers: list[list[str]] = [[] for _ in range(count)]
    for v, b, name in zip(var_list, assignment, names):
        variables[b].append(v)
        if name not in layers[b]:
            layers[b].append(name)
    return Buckets(tuple(map(tuple, variables)), tuple(map(tuple, layers)), tuple(assignment))


def assign(
    var_list: Sequence[Any],
    *,
    assignment: Sequence[int] | None = None,
    specs: Sequence[Sequence[Any]] | None = None,
    model: keras.Model | None = None,
    num_buckets: int | None = None,
) -> Buckets:
    """Cuts `var_list` (the optimizer's variables, in Keras' order) into `Buckets`.

    The first source given decides: a saved `assignment` (one bucket index per
    variable), explicit bucket `specs` (`resolve_bucket_specs`), the `model`'s graph
    depth (`depth_buckets`), or else the order of the variables themselves, one level
    per top-level layer (`path_groups`), grouped into `num_buckets` if given.

    Returns:
        The `Buckets`; a `ValueError` names any variable that falls in no bucket.
    """
    var_list = list(var_list)
    if not var_list:
        return Buckets((), (), ())
    names = [_layer_of_path(v) for v in var_list]
    if assignment is not None:
        if len(assignment) != len(var_list):
            raise ValueError(
                f"`bucket_assignment` has {len(assignment)} entries but the optimizer is built on "
                f"{len(var_list)} variables: it was saved for a model with other trainable variables "
                "(another model, or layers frozen or unfrozen since). Make the same variables "
                "trainable as when it was saved, or build a new LeRaC."
            )
        return _make_buckets(var_list, assignment, names)
    if specs is not None:
        layer_names = {
            id(v): item.name
            for bucket in specs
            for item in (bucket if isinstance(bucket, (list, tuple)) else [bucket])
            if isinstance(item, keras.layers.Layer)
            for v in item.weights
        }
        names = [layer_names.get(id(v), name) for v, name in zip(var_list, names)]
        return _make_buckets(var_list, resolve_bucket_specs(specs, var_list), names)
    if model is not None:
        owners = _model_owners(model, num_buckets)
        missing = [v.path for v in var_list if id(v) not in owners]
        if missing:
            raise ValueError(
                f"Variables {missing} are not trainable variables of model "
                f"{model.name!r}: pass the model being trained as `model`."
            )
        return _make_buckets(
            var_list, [owners[id(v)][0] for v in var_list], [owners[id(v)][1] for v in var_list]
        )
    levels = path_groups(var_list)
    bucket_of_level = group_levels(max(levels) + 1, num_buckets)
    return _make_buckets(var_list, [bucket_of_level[level] for level in levels], names)


class BucketSource:
    """Where an optimizer's buckets come from, checked once and kept for `build` and the config.

    Exactly one source decides (`assign`): a saved `assignment`, explicit bucket `specs`,
    the `model` (held by weak reference), or the variables' own order (grouped into
    `num_buckets` if given).

    Args:
        specs: Explicit buckets (layers, variables or path patterns), or None.
        model: The model being trained, or None.
        assignment: A saved bucket index per variable, or None.
        num_buckets: How many buckets to group depth levels into (None: one per level).
    """

    def __init__(
        self,
        specs: Sequence[Sequence[Any]] | None = None,
        model: keras.Model | None = None,
        assignment: Sequence[int] | None = None,
        num_buckets: int | None = None,
    ):
        if specs is not None and num_buckets is not None:
            raise ValueError("Pass `buckets` or `num_buckets`, not both: explicit buckets fix their number.")
        if specs is not None and model is not None:
            raise ValueError("Pass `buckets` or `model`, not both: explicit buckets replace depth discovery.")
        if model is not None and not isinstance(model, keras.Model):
            raise TypeError(f"`model` must be a keras.Model. Received: {type(model).__name__}")
        self.specs = specs
        self._model_ref = None if model is None else weakref.ref(model)
        self.assignment = (
            None
            if assignment is None
            else [check_int(f"bucket_assignment[{i}]", b) for i, b in enumerate(assignment)]
        )
        self.num_buckets = num_buckets
        self._cached: tuple | None = None  # (variable ids, assignment) for `config`

    @property
    def model(self) -> keras.Model | None:
        """The model, if one was given and still exists."""
        return None if self._model_ref is None else self._model_ref()

    def assign(self, var_list: Sequence[Any]) -> Buckets:
        """The `Buckets` of `var_list` (see `assign`)."""
        if self._model_ref is not None and self.model is None:
            raise ValueError("The `model` passed to LeRaC no longer exists.")
        return assign(
            var_list,
            assignment=self.assignment,
            specs=self.specs,
            model=self.model,
            num_buckets=self.num_buckets,
        )

    def config(self, built: Buckets | None) -> dict:
        """What a saved optimizer needs to rebuild the same buckets with no model at hand.

        The assignment once built; before that, the saved one, or the one the model's
        variables will get (Keras builds the optimizer on `model.trainable_variables`);
        else path patterns as given. `unresolved_buckets` names a source a config cannot
        hold (a model, layers) when no assignment exists yet.
        """
        assignment = list(built.assignment) if built is not None else self.assignment
        if assignment is None and self._model_ref is not None:
            model = self._model_ref()
            if model is not None and model.built:
                variables = model.trainable_variables
                key = tuple(id(v) for v in variables)
                if self._cached is None or self._cached[0] != key:
                    self._cached = (key, list(self.assign(variables).assignment))
                assignment = self._cached[1]
        specs = self.specs
        patterns_only = specs is not None and all(
            isinstance(item, str)
            for bucket in specs
            for item in (bucket if isinstance(bucket, (list, tuple)) else [bucket])
        )
        unresolved = None
        if assignment is None and (self._model_ref is not None or (specs is not None and not patterns_only)):
            unresolved = "model" if self._model_ref is not None else "buckets"
        return {
            "bucket_assignment": assignment,
            "buckets": [list(b) for b in specs] if patterns_only and assignment is None else None,
            "unresolved_buckets": unresolved,
        }

    @staticmethod
    def from_config(config: dict) -> dict:
        """`config` without `unresolved_buckets`, warning that those buckets are lost."""
        config = dict(config)
        unresolved = config.pop("unresolved_buckets", None)
        if unresolved is not None:
            warnings.warn(
                f"This LeRaC optimizer was saved before it was built, with its buckets given by "
                f"`{unresolved}=`, which a config cannot hold: its buckets now follow the order of "
                "the model's variables, one per top-level layer. Pass the same `buckets` / `model` "
                "to a new LeRaC to get the original buckets, or save after building.",
                stacklevel=3,
            )
        return config
