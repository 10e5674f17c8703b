"""Keras internals of optimizers: their state, step counter, update hooks and slots.

Each accessor says what it relies on; `check()` at the end verifies it on the installed
Keras (`keras_lerac._keras.check_assumptions()` runs every module's check).
"""

from __future__ import annotations

import contextlib
from typing import Any

import keras

from keras_lerac._keras._base import _missing

# `LeRaC` overrides two hooks of `Optimizer`: `_backend_update_step(grads, variables,
# learning_rate)`, which Keras' `apply` calls after clipping and gradient accumulation,
# with the optimizer's current rate, and `_apply_weight_decay(variables)`, called just
# before it. `check_assumptions` verifies that both are still called.


def public_optimizer_class(cls: type) -> type:
    """The backend-independent class of an optimizer class.

    Relies on: each backend's own optimizer classes (e.g. torch's fused SGD, which
    `keras.optimizers.SGD(...)` returns on the torch backend) living under
    `keras.src.backend` and subclassing the public class of the same name.
    A user's class is returned as it is.
    """
    public = getattr(keras.optimizers, cls.__name__, None)
    if (
        cls.__module__.startswith("keras.src.backend.")
        and isinstance(public, type)
        and issubclass(cls, public)
    ):
        return public
    return cls


def own_variables(optimizer: keras.optimizers.Optimizer) -> list:
    """The variables the optimizer itself created (a wrapper's, without its inner ones').

    Relies on: `Optimizer._variables`, the list `Optimizer.variables` copies.
    """
    try:
        return optimizer._variables
    except AttributeError as error:
        raise _missing("Optimizer._variables", error) from None


def step_counter(optimizer: keras.optimizers.Optimizer) -> keras.Variable:
    """The raw step counter: micro-batches under gradient accumulation.

    Keras evaluates a learning-rate schedule at this count. Relies on:
    `Optimizer._iterations`.
    """
    try:
        return optimizer._iterations
    except AttributeError as error:
        raise _missing("Optimizer._iterations", error) from None


def variable_key(optimizer: keras.optimizers.Optimizer, variable: Any) -> Any:
    """The key the optimizer files `variable` under (stable under TF distribution).

    Relies on: `Optimizer._var_key`.
    """
    return optimizer._var_key(variable)


def current_learning_rate(optimizer: keras.optimizers.Optimizer) -> Any:
    """The optimizer's rate at its current step (a schedule evaluated at the raw count).

    Relies on: `Optimizer._get_current_learning_rate`.
    """
    return optimizer._get_current_learning_rate()


def creation_scope(optimizer: keras.optimizers.Optimizer):
    """Where variables an optimizer creates for itself must be created.

    On TensorFlow without a strategy in scope, the optimizer's own default strategy (a
    `build` may run inside a traced step). Relies on: TF optimizers' `_distribution_strategy`.
    """
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        if not tf.distribute.has_strategy():
            return optimizer._distribution_strategy.scope()
    return contextlib.nullcontext()


def learning_rate_of(optimizer: keras.optimizers.Optimizer) -> Any:
    """The optimizer's learning rate as given: a `keras.Variable`, a schedule or a callable.

    Relies on: `Optimizer._learning_rate` holding it (the public `learning_rate` property
    evaluates a schedule instead).
    """
    try:
        return optimizer._learning_rate
    except AttributeError as error:
        raise _missing("Optimizer._learning_rate", error) from None


def share_step_count(
    optimizer: keras.optimizers.Optimizer, source: keras.optimizers.Optimizer
) -> keras.Variable:
    """Makes a built `optimizer` count its steps with `source`'s counter.

    Afterwards `optimizer.iterations` reads what `source.iterations` reads (gradient
    accumulation included: it counts updates, not micro-batches), so the step count of
    Adam's bias corrections and the like is `source`'s. Its own counter is untracked:
    neither saved nor carried through JAX's stateless step.

    Relies on: `Optimizer._iterations` being the counter, `_untrack_variable`, and the
    `iterations` property floor-dividing `_iterations` by `gradient_accumulation_steps`
    (which a built optimizer reads nowhere else but in `apply`, and `LeRaC` never calls
    a bucket optimizer's `apply`).

    Returns:
        The optimizer's own counter, now unused (TensorFlow's checkpoint bookkeeping
        still refers to it).
    """
    try:
        own = optimizer._iterations
        optimizer._untrack_variable(own)
        shared = source._iterations
    except AttributeError as error:
        raise _missing("Optimizer._iterations and Optimizer._untrack_variable", error) from None
    object.__setattr__(optimizer, "_iterations", shared)
    optimizer.gradient_accumulation_steps = source.gradient_accumulation_steps
    return own


def weight_decay_exclusions(optimizer: keras.optimizers.Optimizer) -> tuple[set, str | None]:
    """What `optimizer.exclude_from_weight_decay(...)` was given.

    Returns:
        `(variable keys, name pattern or None)`; empty when it was never called.

    Relies on: `exclude_from_weight_decay` storing the keys in
    `_exclude_from_weight_decay` and a compiled regular expression in
    `_exclude_from_weight_decay_pattern`; both attributes exist only once it was called.
    """
    if "_exclude_from_weight_decay" not in vars(optimizer):
        return set(), None
    pattern = optimizer._exclude_from_weight_decay_pattern
    return set(optimizer._exclude_from_weight_decay), None if pattern is None else pattern.pattern


def apply_weight_decay(optimizer: keras.optimizers.Optimizer, variables: list) -> None:
    """Applies the optimizer's weight decay (with its own rate) to `variables`.

    Relies on: `Optimizer._use_weight_decay(variable)` and
    `Optimizer._apply_weight_decay(variables)`.
    """
    if optimizer.weight_decay is not None and any(map(optimizer._use_weight_decay, variables)):
        optimizer._apply_weight_decay(variables)


def update_step(optimizer: keras.optimizers.Optimizer, grads: list, variables: list, rate: Any) -> None:
    """One update of `variables` by `optimizer` at learning rate `rate`.

    Relies on: `Optimizer._backend_update_step(grads, variables, learning_rate)`, the
    hook `apply` calls once gradients are final.
    """
    optimizer._backend_update_step(grads, variables, rate)


def base_update_step(cls: type, optimizer: Any, grads: list, variables: list, rate: Any) -> None:
    """Keras' own update loop, from the base class of `cls`, run on `optimizer`.

    It calls `optimizer.update_step(grad, variable, rate)` for each variable (TensorFlow:
    after summing the gradients across replicas, under the distribution strategy).
    Relies on: the backends' `_backend_update_step` calling `self.update_step` per
    variable (TensorFlow through `_distributed_tf_update_step`).
    """
    super(cls, optimizer)._backend_update_step(grads, variables, rate)


def updates_one_by_one(optimizer: keras.optimizers.Optimizer) -> bool:
    """Whether the optimizer's whole update is its `update_step`, variable by variable.

    True unless its class overrides `_backend_update_step` (Nadam does, to advance a
    scalar state once per step before the variables). Relies on: Keras' own
    `_backend_update_step` calling `update_step` per variable and nothing else.
    """
    return type(optimizer)._backend_update_step is keras.optimizers.Optimizer._backend_update_step


def torch_fusable_classes() -> dict:
    """`{"sgd": class, "adam": class, "adamw": class}`: Keras' torch optimizers that
    `fused.py` reproduces.

    Relies on: `keras.src.backend.torch.optimizers.torch_sgd.SGD`, `torch_adam.Adam` and
    `torch_adamw.AdamW` (Adam's update; its decay is `_apply_weight_decay`), which update
    with `torch._foreach_*` ops and keep their slots in the lists `momentums` (SGD) and
    `_momentums`, `_velocities` (Adam, AdamW), by variable index.
    """
    from keras.src.backend.torch.optimizers import torch_adam, torch_adamw, torch_sgd

    return {"sgd": torch_sgd.SGD, "adam": torch_adam.Adam, "adamw": torch_adamw.AdamW}


def slots(optimizer: keras.optimizers.Optimizer, name: str, variable: keras.Variable) -> keras.Variable:
    """The optimizer's slot `name` (e.g. `"_momentums"`) of `variable`.

    Relies on: slot lists indexed by `Optimizer._get_variable_index(variable)`.
    """
    try:
        return getattr(optimizer, name)[optimizer._get_variable_index(variable)]
    except AttributeError as error:
        raise _missing(
            f"`{type(optimizer).__name__}.{name}` and `Optimizer._get_variable_index`", error
        ) from None


# ----------------------------------------------------------------------------- check
def check() -> list[str]:
    """This module's part of `keras_lerac._keras.check_assumptions()`."""
    checked = []
    sgd = keras.optimizers.SGD(0.1)
    if public_optimizer_class(type(sgd)) is not keras.optimizers.SGD:
        raise _missing("backend optimizer classes subclassing the public class of the same name")
    if not isinstance(learning_rate_of(sgd), keras.Variable):
        raise _missing("`Optimizer._learning_rate` holding a float rate as a Variable")
    checked += ["public_optimizer_class", "learning_rate_of"]
    if own_variables(sgd) != sgd.variables or step_counter(sgd) is not sgd.iterations:
        raise _missing("`Optimizer._variables` and `_iterations` behind `variables` and `iterations`")
    if float(keras.ops.convert_to_numpy(current_learning_rate(sgd))) != float(
        keras.ops.convert_to_numpy(sgd.learning_rate)
    ):
        raise _missing("`Optimizer._get_current_learning_rate`")
    with creation_scope(sgd):
        pass
    checked += ["own_variables", "step_counter", "current_learning_rate", "creation_scope"]

    calls = []

    class Probe(keras.optimizers.SGD):
        def _backend_update_step(self, grads, variables, learning_rate):
            calls.append(len(variables))
            super()._backend_update_step(grads, variables, learning_rate)

    probe, source = Probe(0.1), keras.optimizers.SGD(0.1, gradient_accumulation_steps=2)
    variable = keras.Variable([1.0, 2.0])
    probe.build([variable])
    share_step_count(probe, source)
    if any(v is source.iterations for v in probe.variables):
        raise _missing("`_untrack_variable` removing a variable from `Optimizer.variables`")
    probe.exclude_from_weight_decay(var_names=["bias"])
    if weight_decay_exclusions(probe)[1] != "bias":
        raise _missing("`exclude_from_weight_decay` storing `_exclude_from_weight_decay_pattern`")
    source.build([variable])
    for _ in range(4):
        source.apply([keras.ops.ones((2,))], [variable])
    if int(keras.ops.convert_to_numpy(probe.iterations)) != 2:
        raise _missing(
            "`Optimizer.iterations` counting updates as `_iterations // gradient_accumulation_steps`"
        )
    share_step_count(probe, keras.optimizers.SGD(0.1))  # a fresh counter for the next check
    probe.apply([keras.ops.ones((2,))], [variable])
    if variable_key(probe, variable) not in vars(probe)["_trainable_variables_indices"]:
        raise _missing("`Optimizer._var_key` keying the variable index")
    if calls != [1] or int(keras.ops.convert_to_numpy(probe.iterations)) != 1:
        raise _missing("`Optimizer.apply` calling `_backend_update_step` and counting with `_iterations`")
    checked += ["share_step_count", "weight_decay_exclusions", "variable_key", "update_step"]

    updated = []

    class Router(keras.optimizers.SGD):
        def update_step(self, gradient, variable, learning_rate):
            updated.append((variable, learning_rate))

    router, pair = Router(0.1), [keras.Variable([1.0]), keras.Variable([2.0])]
    router.build(pair)
    base_update_step(Router, router, [keras.ops.ones((1,))] * 2, pair, "rates")
    if [rate for _, rate in updated] != ["rates", "rates"]:
        raise _missing(
            "`_backend_update_step` calling `update_step(grad, variable, learning_rate)` per variable"
        )
    checked.append("base_update_step")
    if not updates_one_by_one(router) or updates_one_by_one(keras.optimizers.Nadam(0.1)):
        raise _missing(
            "a plain subclass updating with update_step alone, and Nadam overriding `_backend_update_step`"
        )
    checked.append("updates_one_by_one")

    decaying = keras.optimizers.SGD(0.5, weight_decay=0.5)
    decayed = keras.Variable([1.0])
    decaying.build([decayed])
    apply_weight_decay(decaying, [decayed])
    if abs(float(keras.ops.convert_to_numpy(decayed)[0]) - 0.75) > 1e-6:
        raise _missing("`Optimizer._apply_weight_decay` decaying by learning_rate * weight_decay")
    checked.append("apply_weight_decay")

    if keras.backend.backend() == "torch":
        classes = torch_fusable_classes()
        sgd, adam = keras.optimizers.SGD(0.1, momentum=0.9), keras.optimizers.Adam(0.1)
        adamw = keras.optimizers.AdamW(0.1)
        if (type(sgd), type(adam), type(adamw)) != (classes["sgd"], classes["adam"], classes["adamw"]):
            raise _missing("keras.optimizers.SGD/Adam/AdamW being the torch_sgd/adam/adamw classes on torch")
        if not issubclass(classes["adamw"], classes["adam"]) or "update_step" in vars(classes["adamw"]):
            raise _missing("torch AdamW updating as torch Adam does")
        sgd.build([variable])
        adam.build([variable])
        for optimizer, name in ((sgd, "momentums"), (adam, "_momentums"), (adam, "_velocities")):
            if tuple(slots(optimizer, name, variable).shape) != (2,):
                raise _missing(f"the slot list `{name}`")
        checked.append("torch_fusable_classes")

    return checked
