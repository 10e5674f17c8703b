"""How one step's gradients reach their buckets: the route LeRaC's update takes.

`Router` is made once, when LeRaC is built, from the buckets and one optimizer per
bucket. It picks one of three routes, the fastest that gives the same numbers:

- `"fused"` (torch SGD, Adam, AdamW): one batched `_foreach` pass over every bucket
  (`keras_lerac.fused`), on flat lists made once for the variables LeRaC was built with.
- `"single_pass"` (TensorFlow and JAX, optimizers whose update is `update_step` alone):
  one pass of Keras' own update loop over all the variables, its distribution logic
  included; `update_one` hands each variable to its bucket's optimizer with its
  bucket's rate (for the Adam family, its bucket's step size, computed once per step).
- `"per_bucket"`: each bucket's optimizer updates its own variables (other torch
  optimizers; Nadam, which advances its own state before the variables).

All three give the same update (tests/test_fast_paths.py).
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from typing import Any

import keras
from keras import ops

from keras_lerac import _keras, fused
from keras_lerac.buckets import Buckets

ROUTES = ("fused", "single_pass", "per_bucket")


class Router:
    """Routes a step's gradients (and weight decay) to the bucket optimizers.

    Args:
        buckets: The `Buckets` the variables were cut into.
        variables: The variables LeRaC was built with, in Keras' order.
        optimizers: One optimizer per bucket, bucket 0 first.
        key: The key the wrapper files a variable under (`variable -> key`), stable
            when a distribution hands over the same variable as another object.
    """

    def __init__(
        self,
        buckets: Buckets,
        variables: Sequence[Any],
        optimizers: Sequence[keras.optimizers.Optimizer],
        key: Callable[[Any], Any],
    ):
        self.optimizers = list(optimizers)
        self._built_variables = list(variables)
        self._positions = buckets.positions
        self._assignment = list(buckets.assignment)
        self._built_groups: list[list] | None = None
        self._key = key
        self._bucket_of = {key(v): b for v, b in zip(self._built_variables, buckets.assignment)}
        self._fused = fused.fused_update(self.optimizers)
        if self._fused is not None:
            self.route = "fused"
        elif keras.backend.backend() != "torch" and all(map(_keras.updates_one_by_one, self.optimizers)):
            self.route = "single_pass"
        else:
            self.route = "per_bucket"
        self._adam_alphas = self.route == "single_pass" and fused.adam_family(
            self.optimizers, self._built_variables
        )
        # JAX: XLA fuses a bucket's slice of the rate vector into its variables' updates,
        # one kernel for the vector per step. Independent per-bucket scalars would compile
        # about 2x faster but cost one kernel per bucket in every step
        # (benchmarks/profile_compile.py; README "Performance"). Elsewhere: one scalar each.
        # Why the vector compiles slower than plain: XLA's CPU compiler emits the kernels
        # of same-shaped variables' updates once when they are identical, and each
        # variable's slice has its own offset, so every update kernel is a distinct one
        # (every variable sliced at one offset compiles as fast as plain). A gather of the
        # rates by a bucket-index array, an unstack, an optimization barrier or a sort in
        # front of the slices leave the slices, and the compile, as they are.
        self._rates_as_vector = keras.backend.backend() == "jax"

    def use_per_bucket(self) -> None:
        """Takes the per-bucket route from now on (the reference the fast routes equal)."""
        self.route, self._fused, self._adam_alphas = "per_bucket", None, False

    def is_built_list(self, variables: Sequence[Any]) -> bool:
        """Whether `variables` are the variables LeRaC was built with, in their order."""
        return len(variables) == len(self._built_variables) and all(
            map(operator.is_, variables, self._built_variables)
        )

    def buckets_of(self, variables: Sequence[Any]) -> list[int]:
        """The bucket of each of `variables`."""
        return [self._bucket_of[self._key(v)] for v in variables]

    def groups(self, values: Sequence[Any], variables: Sequence[Any]) -> list[tuple[list, list]]:
        """`(values, variables)` of each bucket, in bucket order.

        The common case, every variable in build order, takes the positions computed at
        build time; a filtered list (None gradients dropped upstream) is grouped by key.
        """
        if self.is_built_list(variables):
            return [([values[i] for i in idx], [variables[i] for i in idx]) for idx in self._positions]
        groups: list[tuple[list, list]] = [([], []) for _ in self.optimizers]
        for value, variable in zip(values, variables):
            bucket_values, bucket_vars = groups[self._bucket_of[self._key(variable)]]
            bucket_values.append(value)
            bucket_vars.append(variable)
        return groups

    def apply_weight_decay(self, variables: Sequence[Any]) -> None:
        """Each bucket decays its variables with its own optimizer and rate.

        The bucket optimizers share the wrapped optimizer's settings: without weight
        decay (the first one's) there is nothing to do, and nothing is grouped.
        """
        if not self.optimizers or self.optimizers[0].weight_decay is None:
            return
        if self.is_built_list(variables):
            if self._built_groups is None:
                self._built_groups = [[variables[i] for i in idx] for idx in self._positions]
            groups = self._built_groups
        else:
            groups = [bucket_vars for _, bucket_vars in self.groups(variables, variables)]
        for inner, bucket_vars in zip(self.optimizers, groups):
            if bucket_vars:
                _keras.apply_weight_decay(inner, bucket_vars)

    def update(self, grads: list, variables: list, rates: Any, keras_loop: Callable) -> None:
        """One step: every bucket's variables updated at its rate.

        Args:
            grads: The gradients, one per variable (a bucket whose gradients were all
                None upstream is skipped; it reads the shared step counter, so it stays
                in step).
            variables: The variables, in the order of `grads`.
            rates: Every bucket's rate, as one vector.
            keras_loop: `(grads, variables, per_bucket_rates) -> None`: Keras' own
                update loop, which calls `update_one` per variable (the single pass).
        """
        if self.route == "fused":
            built = self.is_built_list(variables)
            buckets = self._assignment if built else self.buckets_of(variables)
            self._fused(grads, self._fused.flat(variables, buckets, built), rates)
        elif self.route == "single_pass":
            if self._adam_alphas:
                rates = fused.adam_alphas(self.optimizers[0], rates)
            if self._rates_as_vector:
                keras_loop(grads, variables, rates)
            else:
                keras_loop(grads, variables, ops.unstack(rates, num=len(self.optimizers)))
        else:
            per_bucket = ops.unstack(rates, num=len(self.optimizers))
            for inner, rate, (bucket_grads, bucket_vars) in zip(
                self.optimizers, per_bucket, self.groups(grads, variables)
            ):
                if bucket_vars:
                    _keras.update_step(inner, bucket_grads, bucket_vars, rate)

    def update_one(self, gradient: Any, variable: Any, rates: Any) -> None:
        """Updates one variable with its bucket's optimizer, at its bucket's entry of `rates`."""
        bucket = self._bucket_of[self._key(variable)]
        if self._adam_alphas:
            fused.adam_step(self.optimizers[bucket], gradient, variable, rates[bucket])
        else:
            self.optimizers[bucket].update_step(gradient, variable, rates[bucket])
