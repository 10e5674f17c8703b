"""`LeRaC`: a wrapper optimizer that gives each depth bucket its own curriculum rate."""

from __future__ import annotations

import contextlib
import numbers
import warnings
import weakref
from collections.abc import Sequence
from typing import Any

import keras
import numpy as np
from keras import ops
from keras.src.utils import tracking

from keras_lerac import depth, fused, schedules

LRSchedule = keras.optimizers.schedules.LearningRateSchedule

# Options that act on all variables at once: they belong on the wrapper, where they see
# every bucket (a global norm clipped per bucket would not be global).
WRAPPER_ONLY = (
    "clipnorm",
    "clipvalue",
    "global_clipnorm",
    "use_ema",
    "loss_scale_factor",
    "gradient_accumulation_steps",
)


def _public_class_name(cls: type) -> str:
    """`"SGD"` for `keras.optimizers.SGD` and its torch twin, else the registered name.

    Stored instead of the module path so that a saved model moves across backends.
    """
    public = getattr(keras.optimizers, cls.__name__, None)
    if isinstance(public, type) and issubclass(cls, public):
        return cls.__name__
    return keras.saving.get_registered_name(cls)


def _check_wrapped(optimizer: Any) -> None:
    if isinstance(optimizer, LeRaC):
        raise TypeError("`optimizer` is already a LeRaC optimizer: wrap the plain optimizer once.")
    if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        raise TypeError(
            "`optimizer` is a LossScaleOptimizer. Pass the plain optimizer: under a "
            "mixed_float16 policy `model.compile` wraps LeRaC in a LossScaleOptimizer itself."
        )
    if isinstance(optimizer, keras.optimizers.MultiOptimizer):
        raise TypeError(
            "`optimizer` is a MultiOptimizer: LeRaC needs one plain Keras optimizer to copy per bucket."
        )
    if not isinstance(optimizer, keras.optimizers.Optimizer):
        raise TypeError(
            "`optimizer` must be a Keras 3 optimizer instance (e.g. "
            f"keras.optimizers.SGD(0.1, momentum=0.9)). Received: {type(optimizer).__module__}."
            f"{type(optimizer).__name__}"
        )
    config = optimizer.get_config()
    for key in WRAPPER_ONLY:
        if config.get(key):
            raise ValueError(
                f"The wrapped optimizer sets `{key}`={config[key]!r}. Pass it to LeRaC(..., "
                f"{key}=...) instead: it acts on all buckets at once."
            )
    if not isinstance(optimizer._learning_rate, (LRSchedule, keras.Variable)):
        raise TypeError(
            "The wrapped optimizer's learning rate must be a float or a "
            "keras.optimizers.schedules.LearningRateSchedule (serializable, a function of "
            f"the step). Received: {optimizer._learning_rate!r}"
        )


@keras.saving.register_keras_serializable(package="keras_lerac")
class LeRaC(keras.optimizers.Optimizer):
    """Learning Rate Curriculum: per-depth learning rates that rise to the base rate.

    LeRaC (Croitoru et al., arXiv 2205.09180) cuts the model into depth buckets and
    gives each its own rate: bucket 0 (nearest the input) starts at the base rate
    `eta_0`, the last bucket at `min_learning_rate`, the others log-uniformly between.
    During the first `curriculum_steps` iterations every rate rises until it equals
    the base rate; from then on training is conventional. Each bucket holds its own
    copy of the wrapped optimizer with its own `LearningRateSchedule`; the base rate
    (a float or any schedule) keeps running underneath.

    Args:
        optimizer: A Keras optimizer. Its learning rate is the base rate; its other
            settings (momentum, betas, weight decay, ...) are copied to every bucket.
            Weight decay is applied per bucket with the bucket's rate.
        min_learning_rate: Start rate of the bucket nearest the output, in
            `(0, eta_0]`. Not needed when `initial_learning_rates` is given.
        curriculum_steps: `K`, the iteration (optimizer step) at which every bucket
            reaches the base rate. 0 turns the curriculum off.
        schedule: `"exponential"` (the paper's equation), `"linear"` (the paper's
            ablation) or `"stepwise"` (the official code: rates times `factor` every
            `update_every` iterations, capped at the base rate).
        num_buckets: `None` for one bucket per depth level that holds trainable
            variables; a number groups consecutive levels into that many buckets.
        buckets: Overrides depth discovery: a list of buckets (input side first), each
            a list of layers, variables, or regular expressions that fullmatch
            `variable.path`. `keras_lerac.depth_buckets(model)` gives such a list.
        model: The model being trained. With it, depth is the longest path from the
            input in the layer graph (nested models expanded). Without it (and without
            `buckets`), buckets follow the order of the variables Keras passes to
            `build` (layer order: topological for functional and Sequential models),
            one level per top-level layer.
        initial_learning_rates: Explicit start rate of every bucket (input side
            first), each in `(0, eta_0]`, e.g. to give the head its own start rate as
            the official code does.
        factor: Stepwise growth factor (> 1). Default 10, as in the official code.
        update_every: Stepwise update interval in iterations. Default: the interval
            that brings the lowest bucket to the base rate right at `curriculum_steps`.
        bucket_assignment: Bucket index of each trainable variable, by position in
            the list passed to `build`. Written to the config once built, so that
            `load_model` rebuilds the same buckets with no model at hand.
        name: The optimizer's name.
        **kwargs: Wrapper-level options of any Keras optimizer: `clipnorm`,
            `clipvalue`, `global_clipnorm` (across all buckets), `use_ema`,
            `ema_momentum`, `ema_overwrite_frequency`, `loss_scale_factor`,
            `gradient_accumulation_steps`.

    Example:

    ```python
    import keras
    from keras_lerac import LeRaC

    inputs = keras.Input((64,))
    x = keras.layers.Dense(64, activation="relu")(inputs)
    x = keras.layers.Dense(64, activation="relu")(x)
    model = keras.Model(inputs, keras.layers.Dense(10)(x))
    opt = LeRaC(keras.optimizers.SGD(0.1, momentum=0.9),
                min_learning_rate=1e-6, curriculum_steps=500, model=model)
    model.compile(optimizer=opt, loss="sparse_categorical_crossentropy")
    opt.build(model.trainable_variables)
    opt.learning_rates_at(0)      # [0.1, 0.000316..., 1e-06]
    opt.learning_rates_at(500)    # [0.1, 0.1, 0.1]
    ```
    """

    def __init__(
        self,
        optimizer: keras.optimizers.Optimizer,
        *,
        min_learning_rate: float | None = None,
        curriculum_steps: int,
        schedule: str = "exponential",
        num_buckets: int | None = None,
        buckets: Sequence[Sequence[Any]] | None = None,
        model: keras.Model | None = None,
        initial_learning_rates: Sequence[float] | None = None,
        factor: float = 10.0,
        update_every: int | None = None,
        bucket_assignment: Sequence[int] | None = None,
        name: str | None = None,
        **kwargs: Any,
    ):
        _check_wrapped(optimizer)
        for key in ("learning_rate", "weight_decay"):
            if key in kwargs:
                raise ValueError(
                    f"Set `{key}` on the wrapped optimizer, not on LeRaC: the wrapped "
                    "optimizer's rate is the base rate, and weight decay is applied per "
                    "bucket with that bucket's rate."
                )
        base = optimizer._learning_rate
        if isinstance(base, LRSchedule):
            base_rate = float(ops.convert_to_numpy(base(0)))
        else:
            base_rate = float(ops.convert_to_numpy(base))
            base = base_rate
        super().__init__(learning_rate=base, name=name or "lerac", **kwargs)

        self._inner_class_name = _public_class_name(type(optimizer))
        inner_config = optimizer.get_config()
        inner_config.pop("name", None)
        self._inner_config = inner_config
        self._base = base
        self._base_rate = base_rate
        exclude = getattr(optimizer, "_exclude_from_weight_decay", None)
        pattern = getattr(optimizer, "_exclude_from_weight_decay_pattern", None)
        if exclude or pattern is not None:
            self._exclude_from_weight_decay = set(exclude or ())
            self._exclude_from_weight_decay_pattern = pattern

        # Validate every argument now: a bad value should fail at construction.
        if not isinstance(curriculum_steps, numbers.Integral) or isinstance(curriculum_steps, bool):
            raise TypeError(f"`curriculum_steps` must be an int >= 0. Received: {curriculum_steps!r}")
        if curriculum_steps < 0:
            raise ValueError(
                f"`curriculum_steps` must be >= 0 (0 turns the curriculum off). Received: {curriculum_steps}"
            )
        self.curriculum_steps = int(curriculum_steps)
        self.schedule = schedules.check_schedule(schedule)
        depth.check_num_buckets(num_buckets)
        self.num_buckets = num_buckets
        if initial_learning_rates is None:
            if min_learning_rate is None:
                raise ValueError("Pass `min_learning_rate` (the start rate of the last bucket).")
            self._check_rate("min_learning_rate", min_learning_rate)
        else:
            if min_learning_rate is not None:
                raise ValueError("Pass `min_learning_rate` or `initial_learning_rates`, not both.")
            initial_learning_rates = [float(r) for r in initial_learning_rates]
            if not initial_learning_rates:
                raise ValueError("`initial_learning_rates` is empty: give one start rate per bucket.")
            for j, rate in enumerate(initial_learning_rates):
                self._check_rate(f"initial_learning_rates[{j}]", rate)
            if num_buckets is not None and num_buckets != len(initial_learning_rates):
                raise ValueError(
                    f"`num_buckets`={num_buckets} but `initial_learning_rates` has "
                    f"{len(initial_learning_rates)} entries: they must agree."
                )
        self.min_learning_rate = None if min_learning_rate is None else float(min_learning_rate)
        self.initial_learning_rates = initial_learning_rates
        if not factor > 1:
            raise ValueError(f"`factor` must be > 1. Received: factor={factor}")
        self.factor = float(factor)
        if update_every is not None and (not isinstance(update_every, numbers.Integral) or update_every < 1):
            raise ValueError(f"`update_every` must be an int >= 1 or None. Received: {update_every!r}")
        self.update_every = update_every
        if buckets is not None and num_buckets is not None:
            raise ValueError("Pass `buckets` or `num_buckets`, not both: explicit buckets fix their number.")
        if buckets is not None and model is not None:
            raise ValueError("Pass `buckets` or `model`, not both: explicit buckets replace depth discovery.")
        if model is not None and not isinstance(model, keras.Model):
            raise TypeError(f"`model` must be a keras.Model. Received: {type(model).__name__}")
        self._bucket_specs = buckets
        self._model_ref = None if model is None else weakref.ref(model)
        self._bucket_assignment = None if bucket_assignment is None else [int(b) for b in bucket_assignment]
        self._optimizers: list = []
        self._ratios: list[float] = []
        self._ratio_cache = None
        self._fused_update = None

    def _check_rate(self, arg: str, rate: Any) -> None:
        if not isinstance(rate, numbers.Real) or not 0 < rate <= self._base_rate * (1 + 1e-6):
            raise ValueError(
                f"`{arg}` must be in (0, base rate {self._base_rate:g}] (the wrapped optimizer's "
                f"learning rate). Received: {rate!r}"
            )

    # ------------------------------------------------------------------ building
    def _assign(self, var_list: list) -> list[int]:
        """Bucket index of each variable in `var_list`."""
        if self._bucket_assignment is not None:
            if len(self._bucket_assignment) != len(var_list):
                raise ValueError(
                    f"`bucket_assignment` has {len(self._bucket_assignment)} entries but the "
                    f"optimizer is built on {len(var_list)} variables: it was saved for another model."
                )
            return list(self._bucket_assignment)
        if self._bucket_specs is not None:
            return depth.resolve_bucket_specs(self._bucket_specs, var_list)
        if self._model_ref is not None:
            model = self._model_ref()
            if model is None:
                raise ValueError("The `model` passed to LeRaC no longer exists.")
            found = depth.depth_buckets(model, self.num_buckets)
            owner = {id(v): j for j, bucket in enumerate(found) for v in bucket}
            missing = [v.path for v in var_list if id(v) not in owner]
            if missing:
                raise ValueError(
                    f"Variables {missing} are not trainable variables of model "
                    f"{model.name!r}: pass the model being trained as `model`."
                )
            return [owner[id(v)] for v in var_list]
        levels = depth.path_groups(var_list)
        bucket_of_level = depth.group_levels(max(levels) + 1, self.num_buckets)
        return [bucket_of_level[level] for level in levels]

    def _creation_scope(self):
        """Inner optimizers must be created under the distribution strategy (TF)."""
        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            if not tf.distribute.has_strategy():
                return self._distribution_strategy.scope()
        return contextlib.nullcontext()

    def _make_bucket_optimizer(self, j: int, ratio: float, variables: list):
        config = dict(self._inner_config)
        config["name"] = f"{self.name}_bucket_{j}"
        config["learning_rate"] = schedules.CurriculumSchedule(
            self._base, ratio, self.curriculum_steps, self.schedule, self.factor, self._update_every
        )
        with self._creation_scope():
            inner = keras.optimizers.deserialize({"class_name": self._inner_class_name, "config": config})
        # One step counter for the whole curriculum: every bucket reads the wrapper's
        # `iterations`, so a skipped bucket stays in step and no per-bucket counter is
        # incremented or saved.
        inner._untrack_variable(inner._iterations)
        object.__setattr__(inner, "_iterations", self._iterations)
        for attr in ("_exclude_from_weight_decay", "_exclude_from_weight_decay_pattern"):
            if hasattr(self, attr):
                object.__setattr__(inner, attr, getattr(self, attr))
        inner.build(variables)
        return inner

    @tracking.no_automatic_dependency_tracking
    def build(self, var_list: list) -> None:
        """Cuts `var_list` into buckets and builds one inner optimizer per bucket."""
        if self.built:
            return
        var_list = list(var_list)
        if not var_list:
            raise ValueError("LeRaC was built on no trainable variables: the model has nothing to train.")
        assignment = self._assign(var_list)
        count = max(assignment) + 1
        if sorted(set(assignment)) != list(range(count)):
            raise ValueError(
                f"Bucket assignment {assignment} skips bucket indices: every bucket from 0 to "
                f"{count - 1} needs at least one variable. Renumber `bucket_assignment`."
            )
        if self.initial_learning_rates is not None:
            if len(self.initial_learning_rates) != count:
                raise ValueError(
                    f"`initial_learning_rates` has {len(self.initial_learning_rates)} entries "
                    f"but the model was cut into {count} buckets: give one rate per bucket."
                )
            ratios = [r / self._base_rate for r in self.initial_learning_rates]
        else:
            ratios = schedules.start_ratios(count, self._base_rate, self.min_learning_rate)
        self._ratios = [min(r, 1.0) for r in ratios]
        self._update_every = self.update_every or schedules.default_update_every(
            self.curriculum_steps, min(self._ratios), self.factor
        )
        self._bucket_assignment = assignment
        self._bucket_of = {self._var_key(v): b for v, b in zip(var_list, assignment)}
        self._optimizers = [
            self._make_bucket_optimizer(
                j, self._ratios[j], [v for v, b in zip(var_list, assignment) if b == j]
            )
            for j in range(count)
        ]
        # torch eager: one batched update over all buckets where Keras' math allows it.
        self._fused_update = fused.fused_update(self._optimizers)
        super().build(var_list)

    def _require_built(self, what: str, error: type = ValueError) -> None:
        if not self.built:
            raise error(
                f"`{what}` needs the buckets: build the optimizer first, e.g. "
                "`opt.build(model.trainable_variables)` (model.fit builds it too)."
            )

    # ------------------------------------------------------------------ inspection
    @property
    def optimizers(self) -> list:
        """The inner optimizers, one per bucket, index 0 nearest the input."""
        # AttributeError, so that `hasattr(opt, "optimizers")` (Keras' callbacks) is False.
        self._require_built("optimizers", AttributeError)
        return list(self._optimizers)

    @property
    def buckets(self) -> list[list]:
        """The variables of each bucket, index 0 nearest the input."""
        self._require_built("buckets", AttributeError)
        return [list(inner._trainable_variables) for inner in self._optimizers]

    @property
    def start_ratios(self) -> list[float]:
        """`eta_j(0) / eta_0` of each bucket."""
        self._require_built("start_ratios")
        return list(self._ratios)

    @property
    def base_learning_rate(self) -> float | LRSchedule:
        """The base rate: the wrapped optimizer's float rate or schedule."""
        return self._base

    def learning_rates_at(self, step: int) -> list[float]:
        """The planned rate of every bucket at iteration `step`, computed on the host.

        Args:
            step: An optimizer iteration (>= 0).

        Returns:
            A list of Python floats, bucket 0 (nearest the input) first.
        """
        self._require_built("learning_rates_at")
        return schedules.host_rates(
            step,
            self._base,
            self._ratios,
            self.curriculum_steps,
            self.schedule,
            self.factor,
            self._update_every,
        )

    def current_learning_rates(self) -> list[float]:
        """Every bucket's rate now, read from the live optimizer state (one device read)."""
        self._require_built("current_learning_rates")
        rates = ops.stack(self._bucket_rates(self.learning_rate))
        return [float(r) for r in ops.convert_to_numpy(rates)]

    def summary(self, model: keras.Model | None = None, print_fn=None) -> str:
        """Prints the curriculum plan: one row per bucket (see `keras_lerac.plan`)."""
        from keras_lerac.plan import plan

        return plan(model, self, print_fn=print_fn)

    # ------------------------------------------------------------------ the step
    @property
    def variables(self) -> list:
        # Positional: JAX's stateless_apply maps these values one to one.
        own = self._variables[:]
        for inner in self._optimizers:
            own.extend(inner.variables)
        return own

    @property
    def learning_rate(self):
        """The base rate now (the wrapped optimizer's rate at this iteration)."""
        return self._get_current_learning_rate()

    @learning_rate.setter
    def learning_rate(self, value):
        raise TypeError(
            "LeRaC's base rate cannot be set after construction (each bucket's schedule is "
            "built on it). To change the base rate during training, give the wrapped "
            "optimizer a keras.optimizers.schedules.LearningRateSchedule (e.g. "
            "PiecewiseConstantDecay or CosineDecay): LeRaC runs it under the curriculum."
        )

    def _ratio_tensor(self):
        if self._ratio_cache is not None:
            return self._ratio_cache
        ratios = ops.convert_to_tensor(np.asarray(self._ratios, dtype="float32"))
        if keras.backend.backend() == "torch":
            # Eager: keep one device copy instead of a host-to-device copy per step.
            # (In TF and JAX this is a constant of the traced step.)
            self._ratio_cache = ratios
        return ratios

    def _rate_vector(self, base_rate):
        """Every bucket's rate at the current iteration, as one vector op."""
        step = ops.cast(self._iterations, "float32")
        multipliers = schedules.curriculum_multiplier(
            step,
            self._ratio_tensor(),
            self.curriculum_steps,
            self.schedule,
            self.factor,
            self._update_every,
        )
        return ops.cast(base_rate, "float32") * multipliers

    def _bucket_rates(self, base_rate) -> list:
        return ops.unstack(self._rate_vector(base_rate), num=len(self._ratios))

    def _backend_update_step(self, grads, trainable_variables, learning_rate):
        groups = [([], []) for _ in self._optimizers]
        for grad, variable in zip(grads, trainable_variables):
            bucket_grads, bucket_vars = groups[self._bucket_of[self._var_key(variable)]]
            bucket_grads.append(grad)
            bucket_vars.append(variable)
        # A bucket whose gradients were all None was filtered out upstream: its group is
        # empty and it is skipped. Its schedule reads the shared step counter, so it
        # stays in step.
        for inner, (_, bucket_vars) in zip(self._optimizers, groups):
            if inner.weight_decay is not None and any(map(inner._use_weight_decay, bucket_vars)):
                inner._apply_weight_decay(bucket_vars)
        if self._fused_update is not None:
            self._fused_update(self._optimizers, groups, self._rate_vector(learning_rate))
            return
        rates = self._bucket_rates(learning_rate)
        for inner, rate, (bucket_grads, bucket_vars) in zip(self._optimizers, rates, groups):
            if bucket_vars:
                inner._backend_update_step(bucket_grads, bucket_vars, rate)

    # ------------------------------------------------------------------ saving
    def save_own_variables(self, store):
        # Keras saves the inner optimizers as children (attribute `_optimizers`).
        for i, variable in enumerate(self._variables):
            store[str(i)] = variable.numpy()

    def load_own_variables(self, store):
        if len(store.keys()) != len(self._variables):
            raise ValueError(
                f"The saved LeRaC optimizer has {len(store.keys())} own variables, this one "
                f"{len(self._variables)}: its wrapper options (EMA, gradient accumulation) differ."
            )
        for i, variable in enumerate(self._variables):
            variable.assign(store[str(i)])

    def get_config(self) -> dict:
        config = super().get_config()
        config.pop("learning_rate")
        config.pop("weight_decay")
        if not self.built and (self._model_ref is not None or self._bucket_specs is not None):
            warnings.warn(
                "LeRaC is serialized before it was built, so the buckets given by `model` or "
                "`buckets` are not in its config: build it first "
                "(`opt.build(model.trainable_variables)`).",
                stacklevel=2,
            )
        config.update(
            {
                "optimizer": {"class_name": self._inner_class_name, "config": self._inner_config},
                "min_learning_rate": self.min_learning_rate,
                "curriculum_steps": self.curriculum_steps,
                "schedule": self.schedule,
                "num_buckets": self.num_buckets,
                "initial_learning_rates": self.initial_learning_rates,
                "factor": self.factor,
                "update_every": self.update_every,
                "bucket_assignment": self._bucket_assignment,
            }
        )
        return config

    @classmethod
    def from_config(cls, config: dict, custom_objects=None) -> LeRaC:
        config = dict(config)
        optimizer = keras.optimizers.deserialize(config.pop("optimizer"), custom_objects=custom_objects)
        return cls(optimizer, **config)


LeRaCOptimizer = LeRaC
