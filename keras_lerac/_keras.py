"""Every access to Keras internals, in one place.

keras-lerac relies on a few private parts of Keras 3 (tested on the version pinned in
`requirements-dev.txt`). Each function below wraps one of them, with a comment on what
it relies on; no other module of the package touches a private Keras name. A missing
attribute fails loudly here (never through a silent `getattr` default), and
`check_assumptions()` verifies every assumption against the installed Keras, so that a
Keras upgrade that breaks one is caught by one test with a message naming the version.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import keras

__all__ = [
    "KerasInternalsError",
    "apply_weight_decay",
    "base_update_step",
    "callback_model",
    "calling_callback_list",
    "creation_scope",
    "current_learning_rate",
    "check_assumptions",
    "conv_base_classes",
    "flatten_layers",
    "move_callback_first",
    "is_functional",
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


# ----------------------------------------------------------------------------- optimizers
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


@contextlib.contextmanager
def tracking_on() -> Iterator[None]:
    """Turns Keras' automatic variable tracking on inside the block.

    Keras optimizers record the variables they own by attribute assignment (`self.x =
    Variable(...)`), unless a caller switched tracking off for the thread (as wrapper
    optimizers' `build` does). Relies on: the switch being the global attribute
    `"tracking_on"` of `keras.src.backend.common.global_state`.
    """
    from keras.src.backend.common import global_state

    previous = global_state.get_global_attribute("tracking_on", True)
    global_state.set_global_attribute("tracking_on", True)
    try:
        yield
    finally:
        global_state.set_global_attribute("tracking_on", previous)


def untracked(function):
    """Decorator: Keras' automatic tracking is off while `function` runs.

    Relies on: `keras.src.utils.tracking.no_automatic_dependency_tracking`.
    """
    from keras.src.utils import tracking

    return tracking.no_automatic_dependency_tracking(function)


def _variables_in(value: Any, found: dict) -> None:
    if isinstance(value, keras.Variable):
        found.setdefault(id(value), value)
    elif isinstance(value, dict):
        for item in value.values():
            _variables_in(item, found)
    elif isinstance(value, (list, tuple)):
        for item in value:
            _variables_in(item, found)


def track_all_state(optimizer: keras.optimizers.Optimizer, foreign: list) -> list:
    """Tracks every variable the optimizer holds that it does not track yet.

    Every attribute of the optimizer is searched (through lists, tuples and dicts) for
    `keras.Variable`s; those that are neither in `optimizer.variables` nor in `foreign`
    (the model's variables, a shared step counter) are added to `optimizer.variables`,
    so that they are saved and carried through JAX's stateless step like any slot.

    Args:
        optimizer: A built optimizer.
        foreign: Variables the optimizer refers to but does not own.

    Returns:
        The variables that were added (empty when Keras tracked everything itself).

    Relies on: `Optimizer._track_variable` appending to the list `variables` returns.
    """
    found: dict = {}
    for value in vars(optimizer).values():
        _variables_in(value, found)
    known = {id(v) for v in optimizer.variables} | {id(v) for v in foreign}
    added = [v for key, v in found.items() if key not in known]
    for variable in added:
        try:
            optimizer._track_variable(variable)
        except AttributeError as error:
            raise _missing("Optimizer._track_variable", error) from None
    return added


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


# ----------------------------------------------------------------------------- callbacks
def callback_model(callback: keras.callbacks.Callback) -> Any:
    """The model a callback was given, without syncing state.

    On JAX, the public `Callback.model` property copies the trainer's state back into the
    model's variables (a device read) each time it is read; a callback that only needs the
    model's optimizer object reads the attribute behind it. Relies on: `Callback._model`.
    """
    try:
        return callback._model
    except AttributeError as error:
        raise _missing("Callback._model", error) from None


def calling_callback_list() -> Any:
    """The `keras.callbacks.CallbackList` whose `set_model` is calling our caller, or None.

    For a callback's `set_model(model)`: Keras builds one `CallbackList` per `fit` and
    calls `set_model` on each of its callbacks. Relies on: `CallbackList.set_model`
    calling `callback.set_model(model)` itself (so the list is `self` two frames up).
    """
    import inspect

    frame = inspect.currentframe()
    try:
        caller = frame.f_back.f_back if frame is not None and frame.f_back is not None else None
        owner = caller.f_locals.get("self") if caller is not None else None
    finally:
        del frame
    return owner if isinstance(owner, keras.callbacks.CallbackList) else None


def move_callback_first(callbacks: Any, callback: keras.callbacks.Callback) -> None:
    """Moves `callback` to the front of a `CallbackList`, so that it runs first.

    Safe while `CallbackList.set_model` iterates the list: the callbacks before it move
    one place up, and the iteration goes on with the one after it. Relies on:
    `CallbackList.callbacks`, the list it calls in order.
    """
    members = callbacks.callbacks
    if members and members[0] is not callback and any(c is callback for c in members):
        members.remove(callback)
        members.insert(0, callback)


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
    checked += ["is_functional", "nodes_by_depth"]
    if len(flatten_layers(model)) != 3:
        raise _missing("`_flatten_layers` listing every sublayer once")
    checked.append("flatten_layers")

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

    callback = keras.callbacks.Callback()
    callback.set_model(model)
    if callback_model(callback) is not model:
        raise _missing("`Callback.set_model` storing the model in `Callback._model`")
    checked.append("callback_model")

    seen = []

    class Probe(keras.callbacks.Callback):
        def set_model(self, model):
            super().set_model(model)
            found = calling_callback_list()
            seen.append(found)
            if found is not None:
                move_callback_first(found, self)

    first, probe, last = keras.callbacks.Callback(), Probe(), keras.callbacks.Callback()
    callback_list = keras.callbacks.CallbackList([first, probe, last], model=model)
    if seen != [callback_list] or callback_list.callbacks != [probe, first, last]:
        raise _missing(
            "`CallbackList.set_model` calling each callback's `set_model` on `CallbackList.callbacks`"
        )
    if callback_model(last) is not model:
        raise _missing("every callback's `set_model` called once when one moves itself first")
    checked += ["calling_callback_list", "move_callback_first"]

    holder = keras.optimizers.SGD(0.1)

    @untracked
    def assign_untracked():
        holder.hidden = [keras.Variable(1.0)]
        with tracking_on():
            holder.shown = keras.Variable(2.0)

    assign_untracked()
    if any(v is holder.hidden[0] for v in holder.variables):
        raise _missing("`no_automatic_dependency_tracking` switching automatic tracking off")
    if not any(v is holder.shown for v in holder.variables):
        raise _missing('the global attribute "tracking_on" switching automatic tracking')
    checked += ["untracked", "tracking_on"]
    if track_all_state(holder, []) != holder.hidden:
        raise _missing("`Optimizer._track_variable`")
    checked.append("track_all_state")

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

    # --- CBS ---
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
