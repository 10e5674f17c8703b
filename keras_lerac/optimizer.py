"""`LeRaC`: a wrapper optimizer that gives each depth bucket its own curriculum rate."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import keras
import numpy as np
from keras import ops

from keras_lerac import _keras, routing, schedules, wrapped
from keras_lerac.buckets import Buckets, BucketSource
from keras_lerac.curriculum import (
    Curriculum,
    LearningRateSchedule,
    base_rate_at,
    bucket_rate,
)
from keras_lerac.settings import Settings

# Attributes of LeRaC before 1.0, and where their values are now (a one-line error says so).
_MOVED = {
    **{
        name: f"settings.{name}"
        for name in (
            "curriculum_steps",
            "min_learning_rate",
            "total_steps",
            "schedule",
            "schedule_params",
            "num_buckets",
            "reference_learning_rate",
            "layer_decay",
            "initial_learning_rates",
        )
    },
    "factor": 'settings.schedule_params.get("factor")',
    "update_every": 'settings.schedule_params.get("update_every")',
    "suggested_settings": "settings.suggested",
    "start_ratios": "curriculum.start_ratios",
    "base_learning_rate": "curriculum.base",
}
# The key LeRaC adds to its saved variables when saved before it was built (see `load_own_variables`).
_UNBUILT = "saved_unbuilt"
# What a saved config holds besides the arguments: given back by `from_config` only.
_SAVED_ONLY = ("bucket_assignment", "weight_decay_exclusions", "suggested")


@keras.saving.register_keras_serializable(package="keras_lerac")
class LeRaC(keras.optimizers.Optimizer):
    """Learning Rate Curriculum: per-depth learning rates that rise to the base rate.

    LeRaC (Croitoru et al., arXiv 2205.09180) cuts the model into depth buckets and
    gives each its own rate: bucket 0 (nearest the input) follows the base rate, the
    last bucket starts at `min_learning_rate`, the others log-uniformly between.
    During the first `curriculum_steps` iterations every rate rises until it equals
    the base rate; from then on training is conventional. Each bucket holds its own
    copy of the wrapped optimizer with its own `LearningRateSchedule`; the base rate
    (a float or any schedule) keeps running underneath, and no bucket ever exceeds it.

    Args:
        optimizer: A Keras optimizer (any class, a user's own included). Its learning
            rate is the base rate; its other settings (momentum, betas, weight decay,
            `exclude_from_weight_decay`, ...) are copied to every bucket. Weight decay is
            applied per bucket with the bucket's rate.
        min_learning_rate: Start rate of the bucket nearest the output, in
            `(0, reference]`. Not needed when `initial_learning_rates` is given, nor
            when `curriculum_steps=0` (no curriculum: every start ratio is 1).
        curriculum_steps: `K`, the iteration (optimizer step) at which every bucket
            reaches the base rate. 0 turns the curriculum off. Not needed with
            `total_steps`.
        total_steps: The number of optimizer steps the training will run. Without
            `curriculum_steps` (or `min_learning_rate`), LeRaC picks K (and the last
            bucket's start rate) from it with `keras_lerac.curriculum.suggested_curriculum`,
            the rule the sensitivity study supports; explicit values override it. The
            plan and the config show the values chosen.
        schedule: The name of a registered schedule (`keras_lerac.schedules`):
            `"exponential"` (the paper's equation), `"linear"` (the paper's ablation),
            `"stepwise"` (the official code: rates times `factor` every `update_every`
            iterations, capped at the base rate), or a control for comparisons:
            `"warmup"` (every bucket starts at the lowest start rate, `min_learning_rate`
            also on a one-bucket model, and rises on the exponential to the base at K: an
            ordinary warm-up) or `"anti"` (LeRaC's
            start rates in reverse: lowest at the input). `keras_lerac.register_schedule`
            adds your own.
        schedule_params: The schedule's own parameters, for a schedule that takes any
            (`factor` and `update_every` are the stepwise schedule's, also accepted as
            arguments of their own).
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
            first), each in `(0, reference]`, e.g. to give the head its own start rate
            as the official code does.
        reference_learning_rate: The rate `min_learning_rate` and
            `initial_learning_rates` are fractions of: a bucket that starts at rate `r`
            runs at `r / reference` times the base rate. Defaults to the base rate
            (a float) or the peak of a Keras schedule (`warmup_target` of a warming-up
            `CosineDecay`, the largest value of `PiecewiseConstantDecay`, ...); a
            schedule of your own needs it.
        layer_decay: Layer-wise rate decay (LLRD, the fine-tuning recipe): bucket `j` of
            `n` runs at `layer_decay ** (n - 1 - j)` times its rate for good, so the
            head keeps the base rate and each bucket nearer the input gets `layer_decay`
            times the next one's. `None` (default) for none. With `curriculum_steps=0`
            this is plain LLRD; with a curriculum, both apply.
        factor: Stepwise growth factor (> 1). Default 10, as in the official code.
            Only for `schedule="stepwise"`.
        update_every: Stepwise update interval in iterations. Default: the interval
            that brings the lowest bucket to the base rate right at `curriculum_steps`.
            Only for `schedule="stepwise"`.
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
    opt.learning_rates_at(0)      # [0.1, 0.000316..., 1e-06]: the buckets come from `model`
    opt.learning_rates_at(500)    # [0.1, 0.1, 0.1]
    opt.settings.curriculum_steps # 500: every argument, checked and resolved
    ```

    Besides what every Keras optimizer has, a `LeRaC` optimizer shows `settings` (its
    arguments, checked and resolved), `curriculum` and `learning_rates_at` (the plan),
    `buckets`, `bucket_layers` and `bucket_optimizers`, `current_learning_rates` and
    `rate_scale` (the rates applied). `LeRaCOptimizer` is another name of this class.
    """

    def __init__(
        self,
        optimizer: keras.optimizers.Optimizer,
        *,
        min_learning_rate: float | None = None,
        curriculum_steps: int | None = None,
        total_steps: int | None = None,
        schedule: str = "exponential",
        schedule_params: dict | None = None,
        num_buckets: int | None = None,
        buckets: Sequence[Sequence[Any]] | None = None,
        model: keras.Model | None = None,
        initial_learning_rates: Sequence[float] | None = None,
        reference_learning_rate: float | None = None,
        layer_decay: float | None = None,
        factor: float | None = None,
        update_every: int | None = None,
        name: str | None = None,
        **kwargs: Any,
    ):
        wrapped.check_wrapped(optimizer, LeRaC)
        if "learning_rate" in kwargs:
            raise ValueError(
                "Set `learning_rate` on the wrapped optimizer, not on LeRaC: the wrapped "
                "optimizer's rate is the base rate every bucket rises to."
            )
        if "weight_decay" in kwargs:
            raise ValueError(
                "Set `weight_decay` on the wrapped optimizer, not on LeRaC: it is applied per "
                "bucket, with that bucket's rate."
            )
        base = wrapped.base_rate(optimizer)
        super().__init__(learning_rate=base, name=name or "lerac", **kwargs)
        self._base = base
        self._reference = wrapped.reference_rate(base, reference_learning_rate)
        self._inner_class = _keras.public_optimizer_class(type(optimizer))
        inner_config = optimizer.get_config()
        inner_config.pop("name", None)
        self._inner_config = inner_config
        self._decay_exclusions = wrapped.DecayExclusions(optimizer)

        # Every curriculum argument checked now: a bad value fails at construction.
        self.settings = Settings.resolve(
            self._reference,
            wrapped.reference_label(base, self._reference, reference_learning_rate),
            min_learning_rate=min_learning_rate,
            curriculum_steps=curriculum_steps,
            total_steps=total_steps,
            schedule=schedule,
            schedule_params=schedule_params,
            num_buckets=num_buckets,
            initial_learning_rates=initial_learning_rates,
            reference_learning_rate=reference_learning_rate,
            layer_decay=layer_decay,
            factor=factor,
            update_every=update_every,
        )
        # What Keras' rate callbacks change (`opt.learning_rate = x`): a factor on the base
        # rate, saved with the optimizer's state. The curriculum keeps running beneath it.
        self._rate_scale = self.add_variable((), initializer="ones", name="rate_scale")
        self._source = BucketSource(buckets, model, num_buckets=self.settings.num_buckets)
        self._buckets: Buckets | None = None
        self._optimizers: list = []
        self._router: routing.Router | None = None
        self._curriculum: Curriculum | None = None
        self._ratio_cache = None
        self._preview: tuple | None = None  # (variable ids, Buckets, Curriculum) before `build`

    # ------------------------------------------------------------------ building
    def _make_bucket_optimizer(self, j: int, variables: list) -> keras.optimizers.Optimizer:
        config = dict(self._inner_config)
        config["name"] = f"{self.name}_bucket_{j}"
        # The bucket's own rate is the applied one (scale included): its weight decay uses it.
        config["learning_rate"] = self._curriculum.bucket_schedule(j, scale=self._rate_scale)
        with _keras.creation_scope(self), _keras.tracking_on():
            # Tracking on: the inner optimizer records every variable it creates, as it
            # does outside a wrapper (a wrapper's `build` runs with tracking off).
            inner = self._inner_class.from_config(config)
            self._decay_exclusions.apply_to(inner, variables)
            inner.build(variables)
            # One step counter for the whole curriculum: every bucket reads the wrapper's
            # `iterations` (gradient accumulation included), so a skipped bucket stays in
            # step and no per-bucket counter is incremented or saved.
            unused_counter = _keras.share_step_count(inner, self)
        # Whatever attribute an optimizer keeps state in, it is tracked, hence in
        # `variables`: saved, restored, and carried through JAX's stateless step.
        _keras.track_all_state(inner, foreign=[*variables, _keras.step_counter(self), unused_counter])
        return inner

    @_keras.untracked
    def build(self, var_list: list) -> None:
        """Cuts `var_list` into buckets and builds one inner optimizer per bucket."""
        if self.built:
            return
        _keras.check_installed_keras(self)  # once per process: the Keras internals relied on
        var_list = list(var_list)
        buckets, self._curriculum = self._layout("build", var_list=var_list)
        self._preview = None
        if (
            len(buckets) == 1
            and self.settings.curriculum_steps > 0
            and self._curriculum.start_ratios[0] == 1.0
        ):
            warnings.warn(
                "LeRaC found a single bucket of trainable variables, so there is no curriculum: "
                "its one bucket runs at the base rate from step 0. Give LeRaC the model being "
                "trained (`model=`) for graph depth, or the buckets (`buckets=[...]`).",
                stacklevel=2,
            )
        self._buckets = buckets
        self._decay_exclusions.bind(var_list, self)
        self._optimizers = [self._make_bucket_optimizer(j, list(v)) for j, v in enumerate(buckets.variables)]
        self._router = routing.Router(
            buckets, var_list, self._optimizers, key=lambda v: _keras.variable_key(self, v)
        )
        super().build(var_list)

    def _require_built(self, what: str, error: type = ValueError) -> None:
        if not self.built:
            raise error(
                f"`{what}` needs the optimizer's state: build the optimizer first, e.g. "
                "`opt.build(model.trainable_variables)` (model.fit builds it too)."
            )

    def _layout(self, what: str, error: type = ValueError, var_list: list | None = None) -> tuple:
        """`(Buckets, Curriculum)`: the built ones; before `build`, those that `var_list` (by
        default the trainable variables of the model given as `model=`) will get."""
        if self.built:
            return self._buckets, self._curriculum
        if var_list is None:
            model = self._source.model
            if model is None:
                raise error(
                    f"`{what}` needs the buckets: pass the model to LeRaC (`model=`), or build "
                    "the optimizer first, e.g. `opt.build(model.trainable_variables)` (model.fit "
                    "builds it too)."
                )
            if not model.built:
                raise error(
                    f"`{what}` needs the buckets, and the model given as `model=` ({model.name!r}) "
                    "is not built yet: build it first (give it a keras.Input, call it on data, or "
                    "call model.build(input_shape))."
                )
            var_list = model.trainable_variables
        key = tuple(id(v) for v in var_list)
        if self._preview is None or self._preview[0] != key:
            buckets = self._source.assign(list(var_list))
            self._preview = (
                key,
                buckets,
                self.settings.curriculum(len(buckets), self._base, self._reference),
            )
        return self._preview[1:]

    # ------------------------------------------------------------------ inspection
    @property
    def bucket_optimizers(self) -> list:
        """The inner optimizers, one per bucket, index 0 nearest the input (once built).

        Not named `optimizers`: Keras' rate callbacks treat an optimizer with that
        attribute as several independent ones and set each rate; LeRaC presents one
        rate, `learning_rate`, the base rate every bucket follows.
        """
        self._require_built("bucket_optimizers")
        return list(self._optimizers)

    @property
    def buckets(self) -> list[list]:
        """The variables of each bucket, index 0 nearest the input (before `build` too,
        with `model=`)."""
        buckets, _ = self._layout("buckets", AttributeError)
        return [list(bucket) for bucket in buckets.variables]

    @property
    def bucket_layers(self) -> list[list[str]]:
        """The names of each bucket's layers, index 0 nearest the input (before `build` too,
        with `model=`)."""
        buckets, _ = self._layout("bucket_layers", AttributeError)
        return [list(names) for names in buckets.layers]

    @property
    def curriculum(self) -> Curriculum:
        """The `Curriculum`: base rate, start ratios, K, schedule (before `build` too, with
        `model=`)."""
        return self._layout("curriculum")[1]

    @property
    def rate_scale(self) -> float:
        """The factor Keras' rate callbacks put on the base rate (1.0 until one acts)."""
        return float(ops.convert_to_numpy(self._rate_scale))

    def learning_rates_at(self, step: int) -> list[float]:
        """The planned rate of every bucket at iteration `step`, computed on the host
        (before `build` too, with `model=`: the buckets come from the model).

        The plan: the base rate's own schedule under the curriculum (and layer decay).
        The rates applied are `rate_scale` times these; the scale is 1 unless a rate
        callback (`ReduceLROnPlateau`, `LearningRateScheduler`) changed `learning_rate`.

        Args:
            step: An optimizer iteration: an integer >= 0.

        Returns:
            A list of Python floats, bucket 0 (nearest the input) first.
        """
        return self.curriculum.rates_at(step)

    def current_learning_rates(self) -> list[float]:
        """Every bucket's rate now, scale included, read from the live state (one device read)."""
        self._require_built("current_learning_rates")
        if not self._optimizers:
            return []
        return [float(r) for r in ops.convert_to_numpy(self._rate_vector(self.learning_rate))]

    # ------------------------------------------------------------------ the step
    @property
    def variables(self) -> list:
        # Positional: JAX's stateless_apply maps these values one to one.
        own = _keras.own_variables(self)[:]
        for inner in self._optimizers:
            own.extend(inner.variables)
        return own

    @property
    def learning_rate(self):
        """The base rate now: the wrapped optimizer's rate at this step, times `rate_scale`.

        Setting it (as `ReduceLROnPlateau` and `LearningRateScheduler` do) scales the base
        rate: every bucket's rate is multiplied by the same factor, and the curriculum
        (and the base schedule) keeps running underneath.
        """
        return ops.cast(_keras.current_learning_rate(self), "float32") * self._rate_scale

    @learning_rate.setter
    def learning_rate(self, value):
        if isinstance(value, LearningRateSchedule) or callable(value):
            raise TypeError(
                "LeRaC's base schedule is fixed at construction (each bucket's schedule is built "
                "on it): give the wrapped optimizer the schedule. Setting `learning_rate` to a "
                f"number scales the base rate. Received: {value!r}"
            )
        target = float(ops.convert_to_numpy(value))
        base = float(ops.convert_to_numpy(base_rate_at(self._base, _keras.step_counter(self))))
        if base == 0:
            if target == 0:
                return
            raise ValueError(
                f"The base rate is 0 at this step (a warm-up from 0?): setting `learning_rate` "
                f"to {target:g} scales the base rate, which cannot scale 0 to {target:g}."
            )
        self._rate_scale.assign(target / base)

    def _ratio_tensors(self):
        """`(start ratios, layer factors or None)` as tensors."""
        if self._ratio_cache is not None:
            return self._ratio_cache
        ratios = ops.convert_to_tensor(np.asarray(self._curriculum.start_ratios, dtype="float32"))
        factors = self._curriculum.layer_factors
        factors = None if not factors else ops.convert_to_tensor(np.asarray(factors, dtype="float32"))
        if keras.backend.backend() == "torch":
            # Eager: keep one device copy instead of a host-to-device copy per step.
            # (In TF and JAX these are constants of the traced step.)
            self._ratio_cache = (ratios, factors)
        return ratios, factors

    def _rate_vector(self, base_rate):
        """Every bucket's rate at the current iteration, as one vector op.

        `base_rate` is `learning_rate` (the scale included), which Keras computes for
        the step anyway."""
        # The raw count, at which Keras also evaluates the base schedule.
        step = ops.cast(_keras.step_counter(self), "float32")
        ratios, factors = self._ratio_tensors()
        return bucket_rate(
            ops.cast(base_rate, "float32"), self._curriculum.multipliers(step, ratios, factors)
        )

    def _apply_weight_decay(self, variables):
        # Keras calls this before the update, as for any optimizer: each bucket decays
        # its variables with its own optimizer and rate (the schedule with the scale).
        self._router.apply_weight_decay(variables)

    def _backend_update_step(self, grads, trainable_variables, learning_rate):
        def keras_loop(grads, variables, rates):
            _keras.base_update_step(LeRaC, self, grads, variables, rates)

        self._router.update(grads, trainable_variables, self._rate_vector(learning_rate), keras_loop)

    def update_step(self, gradient, variable, learning_rate):
        """Updates one variable with its bucket's optimizer, at its bucket's rate.

        Keras' update loop calls this (the single pass); `learning_rate` holds every
        bucket's rate (for Adam, its step size), by bucket.
        """
        self._router.update_one(gradient, variable, learning_rate)

    # ------------------------------------------------------------------ saving
    def save_own_variables(self, store):
        # Keras saves the inner optimizers as children (attribute `bucket_optimizers`).
        for i, variable in enumerate(_keras.own_variables(self)):
            store[str(i)] = variable.numpy()
        if not self.built:  # compiled, never trained: the file holds no bucket state
            store[_UNBUILT] = np.asarray(1)

    def load_own_variables(self, store):
        keys = list(store.keys())
        unbuilt = _UNBUILT in keys
        count = len(keys) - unbuilt
        if not self.built and not unbuilt:
            model = self._source.model
            if model is None:
                warnings.warn(
                    f"Skipping the state of LeRaC optimizer {self.name!r}: it is not built yet, so "
                    "it has no buckets to restore (step count and every bucket's slots are left "
                    "as they are). Build it before loading weights: "
                    "`model.optimizer.build(model.trainable_variables)`, or pass `model=` to "
                    "LeRaC, or load the whole model with keras.saving.load_model.",
                    stacklevel=2,
                )
                return
            # Built here, Keras then restores every bucket optimizer (its children).
            self.build(model.trainable_variables)
        own = _keras.own_variables(self)
        if unbuilt:
            # Saved before it was built: only the variables made at construction (step count,
            # rate scale) have state in the file, and every bucket keeps the fresh state the
            # saved optimizer would have had: nothing is skipped, so nothing is said.
            own = own[:count]
            for inner in self._optimizers:
                _keep_fresh_state_on_next_load(inner)
        if count != len(own):
            raise ValueError(
                f"The saved LeRaC optimizer has {count} own variables, this one "
                f"{len(own)}: its wrapper options (EMA, gradient accumulation) differ."
            )
        for i, variable in enumerate(own):
            variable.assign(store[str(i)])

    def get_config(self) -> dict:
        config = super().get_config()
        config.pop("learning_rate")
        config.pop("weight_decay")
        config.update(
            {
                "optimizer": wrapped.class_spec(self._inner_class, self._inner_config),
                **self.settings.to_config(),
                **self._source.config(self._buckets),
                "weight_decay_exclusions": self._decay_exclusions.config(),
            }
        )
        module = schedules.registering_module(self.settings.schedule)
        if module is not None:  # a schedule of the user's: loading names the module to import
            config["schedule_module"] = module
        return config

    @classmethod
    def from_config(cls, config: dict, custom_objects=None) -> LeRaC:
        config = dict(config)
        schedules.get_schedule(config.get("schedule", "exponential"), config.pop("schedule_module", None))
        config = BucketSource.upgrade_config(Settings.upgrade_config(config))
        optimizer = wrapped.rebuild(config.pop("optimizer"), custom_objects)
        saved = {key: config.pop(key, None) for key in _SAVED_ONLY}
        opt = cls(optimizer, **config)
        opt._restore_saved(optimizer, **saved)
        return opt

    def _restore_saved(
        self,
        optimizer: keras.optimizers.Optimizer,
        bucket_assignment: Sequence[int] | None = None,
        weight_decay_exclusions: dict | None = None,
        suggested: Sequence[str] | None = None,
    ) -> None:
        """Takes back what only a saved config holds (not arguments of `LeRaC`): the bucket
        of each variable, what `exclude_from_weight_decay` excluded, and which settings the
        defaults rule chose, so that a loaded optimizer is the saved one with no model at hand."""
        self.settings = self.settings.remember_suggested(suggested or ())
        if bucket_assignment is not None:
            self._source = BucketSource(
                self._source.specs, None, bucket_assignment, self.settings.num_buckets
            )
        self._decay_exclusions = wrapped.DecayExclusions(optimizer, weight_decay_exclusions)

    def __getattr__(self, name: str) -> Any:
        # Only called for a missing attribute: the names LeRaC had before 1.0 say where
        # their values are now; any other name fails as usual.
        if name in _MOVED:
            raise AttributeError(f"`LeRaC.{name}` is gone since 1.0: read `opt.{_MOVED[name]}` instead.")
        found = getattr(type(self), name, None)
        if isinstance(found, property):  # the property raised AttributeError: raise its message
            found.fget(self)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")


def _keep_fresh_state_on_next_load(optimizer: keras.optimizers.Optimizer) -> None:
    """Makes Keras' next `optimizer.load_own_variables` keep the optimizer's fresh state if the
    file holds none for it (a bucket of a LeRaC saved before it was built), instead of warning
    that it skips the variables; a store that holds state is loaded as usual."""

    def load_own_variables(store):
        del optimizer.load_own_variables  # once: the class's method again from now on
        if list(store.keys()):
            optimizer.load_own_variables(store)

    optimizer.load_own_variables = load_own_variables


LeRaCOptimizer = LeRaC
"""Another name of `LeRaC`: the same class (`LeRaCOptimizer is LeRaC`), for code that names
optimizers `...Optimizer`; saved models record the class as `keras_lerac>LeRaC` either way."""


def unwrap_loss_scale(optimizer: Any) -> Any:
    """The optimizer inside any `LossScaleOptimizer` (what `compile` adds under mixed_float16)."""
    while isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        optimizer = optimizer.inner_optimizer
    return optimizer


def find_lerac(optimizer: Any) -> LeRaC:
    """The `LeRaC` optimizer inside `optimizer` (unwrapping a `LossScaleOptimizer`).

    Args:
        optimizer: A model's optimizer (`model.optimizer`).

    Returns:
        The `LeRaC` instance.

    Raises:
        TypeError: if no `LeRaC` optimizer is found.
    """
    seen = unwrap_loss_scale(optimizer)
    if not isinstance(seen, LeRaC):
        found = "no optimizer (the model is not compiled)" if optimizer is None else type(optimizer).__name__
        raise TypeError(
            "The model's optimizer is not a LeRaC optimizer (found "
            f"{found}). Compile the model with keras_lerac.LeRaC(...) to use the curriculum tools."
        )
    return seen
