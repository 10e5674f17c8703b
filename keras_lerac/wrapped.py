"""The optimizer LeRaC wraps: what it may be, its base and reference rates, how it is stored.

LeRaC copies the wrapped optimizer once per bucket, so it checks here what cannot be
copied per bucket (wrapper optimizers, options that act on all variables at once), reads
the base rate (a float or a schedule) and the reference rate the start rates are
fractions of, and stores the optimizer's class under a name `load_model` can resolve.
"""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

from keras_lerac import _keras
from keras_lerac._checks import check_number
from keras_lerac.curriculum import LearningRateSchedule, as_float32, peak_rate

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


def check_wrapped(optimizer: Any, wrapper_class: type) -> None:
    """Raises unless `optimizer` is a plain Keras optimizer LeRaC can copy per bucket."""
    if isinstance(optimizer, wrapper_class):
        raise TypeError("`optimizer` is already a LeRaC optimizer: wrap the plain optimizer once.")
    if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        raise TypeError(
            "`optimizer` is a LossScaleOptimizer. Pass the plain optimizer: under a "
            "mixed_float16 policy `model.compile` wraps LeRaC in a LossScaleOptimizer itself."
        )
    multi = getattr(keras.optimizers, "MultiOptimizer", None)  # Keras 3.15 and later
    if multi is not None and isinstance(optimizer, multi):
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


def base_rate(optimizer: keras.optimizers.Optimizer) -> float | LearningRateSchedule:
    """The wrapped optimizer's rate: a positive float or a `LearningRateSchedule`."""
    rate = _keras.learning_rate_of(optimizer)
    if isinstance(rate, LearningRateSchedule):
        return rate
    if not isinstance(rate, keras.Variable):
        raise TypeError(
            "The wrapped optimizer's learning rate must be a float or a "
            "keras.optimizers.schedules.LearningRateSchedule (serializable, a function of "
            f"the step). Received: {rate!r}"
        )
    value = as_float32(ops.convert_to_numpy(rate))  # 0.1, not the float32 0.10000000149
    if not value > 0:
        raise ValueError(
            f"The wrapped optimizer's learning rate is {value:g}: the base rate must be > 0 "
            "(a warm-up from 0 is a LearningRateSchedule, e.g. CosineDecay(0.0, ..., warmup_target=0.1))."
        )
    return value


def reference_rate(base: float | LearningRateSchedule, explicit: Any) -> float:
    """The rate start rates are fractions of: `explicit`, else the base rate's peak."""
    if explicit is not None:
        return check_number("reference_learning_rate", explicit, low=0.0, low_open=True)
    peak = peak_rate(base)
    if peak is None:
        raise ValueError(
            f"LeRaC cannot tell the peak of the base schedule {type(base).__name__}, so it cannot "
            "tell what `min_learning_rate` / `initial_learning_rates` are fractions of. Pass "
            "`reference_learning_rate=` (usually the schedule's peak rate): a bucket that starts "
            "at rate r runs at r / reference_learning_rate times the base schedule."
        )
    if not peak > 0:
        raise ValueError(
            f"The base schedule {type(base).__name__} never rises above 0: the base rate must be > 0."
        )
    return peak


def reference_label(base: float | LearningRateSchedule, reference: float, explicit: Any) -> str:
    """How an error message names the reference rate."""
    if explicit is not None:
        return f"reference_learning_rate {reference:g}"
    if isinstance(base, LearningRateSchedule):
        return f"the peak {reference:g} of the base {type(base).__name__}"
    return f"the base rate {reference:g}"


def class_spec(cls: type, config: dict) -> dict:
    """How the wrapped optimizer is stored in LeRaC's config (and found again by `load_model`)."""
    if getattr(keras.optimizers, cls.__name__, None) is cls:
        return {
            "module": "keras.optimizers",
            "class_name": cls.__name__,
            "registered_name": None,
            "config": config,
        }
    return {
        "module": cls.__module__,
        "class_name": cls.__name__,
        "registered_name": keras.saving.get_registered_name(cls),
        "config": config,
    }


def rebuild(spec: dict, custom_objects: dict | None = None) -> keras.optimizers.Optimizer:
    """The wrapped optimizer from its `class_spec`: a clear `TypeError` if the class is not found."""
    public = getattr(keras.optimizers, spec["class_name"], None)
    if spec.get("module", "keras.optimizers") == "keras.optimizers" and isinstance(public, type):
        return public.from_config(spec["config"])
    name = spec.get("registered_name") or spec["class_name"]
    try:
        optimizer = keras.saving.deserialize_keras_object(dict(spec), custom_objects=custom_objects)
    except Exception as error:  # Keras raises TypeError or ImportError, depending on the case
        optimizer = error
    if not isinstance(optimizer, keras.optimizers.Optimizer):
        raise TypeError(
            f"LeRaC cannot rebuild its wrapped optimizer class {name!r} (module "
            f"{spec.get('module')!r}). Register the class with "
            "@keras.saving.register_keras_serializable(), or pass it when loading: "
            f"keras.saving.load_model(path, custom_objects={{{spec['class_name']!r}: {spec['class_name']}}})."
        )
    return optimizer


class DecayExclusions:
    """What the wrapped optimizer's `exclude_from_weight_decay` excluded, for every bucket.

    Variables are known by key until LeRaC is built, then by position in the built list,
    which is what a saved config holds (a loaded model has new variable objects); a name
    pattern is kept as it is.

    Args:
        optimizer: The wrapped optimizer.
        saved: `config()` of a saved LeRaC, or None.
    """

    def __init__(self, optimizer: keras.optimizers.Optimizer, saved: dict | None = None):
        saved = saved or {}
        self._keys, pattern = _keras.weight_decay_exclusions(optimizer)
        self.pattern = pattern or saved.get("pattern")
        self.positions = saved.get("positions")

    def bind(self, variables: list, wrapper: keras.optimizers.Optimizer) -> None:
        """Fixes which of the built `variables` are excluded (the wrapper's own call counts too)."""
        keys = self._keys | _keras.weight_decay_exclusions(wrapper)[0]
        if self.positions is not None:
            keys |= {id(variables[i]) for i in self.positions}
        self._keys = keys
        self.positions = [i for i, v in enumerate(variables) if id(v) in keys]

    def apply_to(self, optimizer: keras.optimizers.Optimizer, variables: list) -> None:
        """Excludes the same of `variables` (and the same names) on a bucket's optimizer."""
        excluded = [v for v in variables if id(v) in self._keys]
        if excluded or self.pattern is not None:
            names = None if self.pattern is None else [self.pattern]
            optimizer.exclude_from_weight_decay(var_list=excluded, var_names=names)

    def config(self) -> dict:
        """`{"pattern": ..., "positions": ...}`: what LeRaC's config stores."""
        return {"pattern": self.pattern, "positions": self.positions}
