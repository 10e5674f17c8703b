"""Buckets: which bucket each of the optimizer's variables is in, and where that comes from.

`assign` cuts the variables an optimizer is built on into `Buckets` (each bucket's
variables and layer names), from the first source given: a saved assignment, explicit
bucket specs (layers, variables or path patterns), the model's graph depth
(`keras_lerac.depth`), or the variables' own order. `BucketSource` holds that source
from construction to `build`, and writes what a saved optimizer needs to rebuild the
same buckets. A variable that falls in no bucket is an error, never a default.
"""

from __future__ import annotations

import dataclasses
import re
import warnings
import weakref
from collections.abc import Sequence
from typing import Any

import keras

from keras_lerac import depth
from keras_lerac._checks import check_int

__all__ = [
    "AssignmentMismatchError",
    "BucketSource",
    "Buckets",
    "assign",
    "path_groups",
    "resolve_bucket_specs",
]


class AssignmentMismatchError(ValueError):
    """A saved `bucket_assignment` does not fit the variables the optimizer is built on."""


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
                members = depth.trained_weights(item, {id(v) for v in variables})
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
            raise AssignmentMismatchError(
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
        owners = depth.layer_owners(model, num_buckets)
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
    bucket_of_level = depth.group_levels(max(levels) + 1, num_buckets)
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
    def upgrade_config(config: dict) -> dict:
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
