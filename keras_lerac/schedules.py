"""The curriculum as small pure functions and Keras `LearningRateSchedule`s.

LeRaC gives bucket `j` the rate `eta_j(t) = base(t) * m_j(t)`, where `base` is the
wrapped optimizer's own rate (a float or any schedule) and `m_j` is a multiplier that
starts at `eta_j(0) / eta_0` and rises to exactly 1 at iteration `K`:

- `"exponential"` (the paper's equation): `m_j(t) = r_j ** (1 - t / K)`;
- `"linear"` (the paper's ablation): `m_j(t) = r_j + (1 - r_j) * t / K`;
- `"stepwise"` (the official code's rule): `m_j(t) = min(1, r_j * factor ** floor(t / U))`,
  with `U = update_every`;

and `m_j(t) = 1` for `t >= K` in every case.

`curriculum_multiplier` is written once for any array namespace that has `minimum`,
`power`, `floor` and `where` (both `keras.ops` and `numpy` do): the optimizer calls it
with `keras.ops` inside the training step, `learning_rates_at` with NumPy on the host,
so the plan and the live rates come from the same formula.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import keras
import numpy as np
from keras import ops

SCHEDULES = ("exponential", "linear", "stepwise")


def check_schedule(schedule: str) -> str:
    """Returns `schedule` if it names a curriculum, else raises `ValueError`."""
    if schedule not in SCHEDULES:
        raise ValueError(f"`schedule` must be one of {SCHEDULES}. Received: schedule={schedule!r}")
    return schedule


def start_ratios(num_buckets: int, base_learning_rate: float, min_learning_rate: float) -> list[float]:
    """Start multipliers `eta_j(0) / eta_0`, log-uniform from 1 down to `min / base`.

    Args:
        num_buckets: Number of depth buckets (>= 1).
        base_learning_rate: `eta_0`, the wrapped optimizer's initial rate.
        min_learning_rate: Start rate of the last bucket (nearest the output).

    Returns:
        A list of `num_buckets` floats, the first 1.0; the last is
        `min_learning_rate / base_learning_rate` (with a single bucket, 1.0).

    Example:

    >>> [round(r, 6) for r in start_ratios(3, 0.1, 1e-5)]
    [1.0, 0.01, 0.0001]
    """
    if num_buckets == 1:
        return [1.0]
    low = math.log(min_learning_rate / base_learning_rate)
    return [math.exp(low * j / (num_buckets - 1)) for j in range(num_buckets)]


def default_update_every(curriculum_steps: int, smallest_ratio: float, factor: float) -> int:
    """The stepwise update interval that brings the lowest bucket up right at `K`.

    The official code multiplies every rate by `factor` at each update point; with
    `n = ceil(log_factor(1 / smallest_ratio))` updates the lowest bucket reaches the
    base rate, so updates every `K // n` iterations end the climb at (about) `K`.
    """
    updates = max(1, math.ceil(math.log(1.0 / smallest_ratio) / math.log(factor) - 1e-9))
    return max(1, curriculum_steps // updates)


def curriculum_multiplier(
    step: Any,
    start_ratio: Any,
    curriculum_steps: int,
    schedule: str = "exponential",
    factor: float = 10.0,
    update_every: int = 1,
    xp: Any = ops,
) -> Any:
    """The curriculum multiplier `m(t)` for one or many buckets.

    Args:
        step: The iteration `t` (a float scalar tensor or number).
        start_ratio: `eta_j(0) / eta_0`, a scalar or a 1-D array (one per bucket).
        curriculum_steps: `K`; from `t >= K` on the multiplier is exactly 1.
        schedule: `"exponential"`, `"linear"` or `"stepwise"`.
        factor: Stepwise growth factor per update point.
        update_every: Stepwise update interval `U`, in iterations.
        xp: Array namespace: `keras.ops` (traceable) or `numpy` (host).

    Returns:
        The multiplier, with the shape of `start_ratio`.
    """
    if curriculum_steps == 0:
        return xp.power(start_ratio, 0.0)
    progress = xp.minimum(step / float(curriculum_steps), 1.0)
    if schedule == "exponential":
        # r ** 0 == 1 exactly, so every bucket lands on the base rate at t = K.
        return xp.power(start_ratio, 1.0 - progress)
    if schedule == "linear":
        return start_ratio + (1.0 - start_ratio) * progress
    if schedule == "stepwise":
        grown = start_ratio * xp.power(factor, xp.floor(step / float(update_every)))
        return xp.where(progress >= 1.0, 1.0, xp.minimum(grown, 1.0))
    raise ValueError(check_schedule(schedule))


@keras.saving.register_keras_serializable(package="keras_lerac")
class CurriculumSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """One bucket's learning rate: the base rate times the curriculum multiplier.

    Args:
        base_learning_rate: The rate the bucket reaches at `curriculum_steps`: a float
            or any `LearningRateSchedule`, which keeps running underneath.
        start_ratio: `eta_j(0) / eta_0`, in `(0, 1]`.
        curriculum_steps: `K`, the iteration where the curriculum ends (>= 0).
        schedule: `"exponential"` (default), `"linear"` or `"stepwise"`.
        factor: Stepwise growth factor (> 1).
        update_every: Stepwise update interval in iterations (>= 1).

    Example:

    >>> s = CurriculumSchedule(0.1, start_ratio=1e-4, curriculum_steps=100)
    >>> round(float(s(50)), 6)  # halfway: 0.1 * (1e-4) ** 0.5
    0.001
    >>> round(float(s(100)), 6)
    0.1
    """

    def __init__(
        self,
        base_learning_rate: float | keras.optimizers.schedules.LearningRateSchedule,
        start_ratio: float,
        curriculum_steps: int,
        schedule: str = "exponential",
        factor: float = 10.0,
        update_every: int = 1,
    ):
        self.base_learning_rate = base_learning_rate
        self.start_ratio = float(start_ratio)
        self.curriculum_steps = int(curriculum_steps)
        self.schedule = check_schedule(schedule)
        self.factor = float(factor)
        self.update_every = int(update_every)

    def base_at(self, step):
        if isinstance(self.base_learning_rate, keras.optimizers.schedules.LearningRateSchedule):
            return self.base_learning_rate(step)
        return self.base_learning_rate

    def __call__(self, step):
        t = ops.cast(step, "float32")
        m = curriculum_multiplier(
            t, self.start_ratio, self.curriculum_steps, self.schedule, self.factor, self.update_every
        )
        return ops.cast(self.base_at(step), "float32") * m

    def get_config(self) -> dict:
        base = self.base_learning_rate
        if isinstance(base, keras.optimizers.schedules.LearningRateSchedule):
            base = keras.optimizers.schedules.serialize(base)
        return {
            "base_learning_rate": base,
            "start_ratio": self.start_ratio,
            "curriculum_steps": self.curriculum_steps,
            "schedule": self.schedule,
            "factor": self.factor,
            "update_every": self.update_every,
        }

    @classmethod
    def from_config(cls, config: dict) -> CurriculumSchedule:
        config = dict(config)
        if isinstance(config["base_learning_rate"], dict):
            config["base_learning_rate"] = keras.optimizers.schedules.deserialize(
                config["base_learning_rate"]
            )
        return cls(**config)


def host_rates(
    step: int,
    base_learning_rate: Any,
    ratios: Sequence[float],
    curriculum_steps: int,
    schedule: str,
    factor: float,
    update_every: int,
) -> list[float]:
    """Every bucket's rate at iteration `step`, computed on the host with NumPy.

    A base `LearningRateSchedule` is evaluated once through `keras.ops` and read back.
    """
    if isinstance(base_learning_rate, keras.optimizers.schedules.LearningRateSchedule):
        base = float(ops.convert_to_numpy(base_learning_rate(step)))
    else:
        base = float(base_learning_rate)
    m = curriculum_multiplier(
        float(step),
        np.asarray(ratios, dtype=np.float64),
        curriculum_steps,
        schedule,
        factor,
        update_every,
        xp=np,
    )
    return [base * float(x) for x in np.atleast_1d(m)]
