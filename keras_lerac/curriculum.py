"""The curriculum: small pure functions, one value object, and a Keras schedule per bucket.

LeRaC gives bucket `j` the rate `eta_j(t) = base(t) * m_j(t)`, where `base` is the
wrapped optimizer's own rate (a float or any schedule) and `m_j` is a multiplier that
starts at the bucket's start ratio `r_j` and rises to exactly 1 at iteration `K`:

a schedule from the registry in `keras_lerac.schedules` (`"exponential"`, the paper's
equation `r_j ** (1 - t / K)`; `"linear"`; `"stepwise"`; the controls `"warmup"` and
`"anti"`; a user's own), and `m_j(t) = 1` for `t >= K` in every case. As `m_j <= 1`, no
bucket ever exceeds the base rate, and a bucket with `r_j = 1` follows it exactly.

Layer-wise rate decay (LLRD) multiplies bucket `j`'s rate by a fixed factor `d_j <= 1`
as well, `eta_j(t) = base(t) * d_j * m_j(t)`, with `d_j = decay ** (n - 1 - j)` for `n`
buckets: the head keeps the base rate, each bucket nearer the input gets `decay` times
the next one's (`layer_factors`).

The start ratios are fractions of a *reference rate*: the base rate itself when it is a
float, the peak of a Keras schedule (`peak_rate`), or a rate the user names. With a
warm-up from 0 the base rate is 0 at first, so the reference is what gives "start
rate 1e-6" a meaning: the bucket's rate is `1e-6 / reference` times the base rate.

Each schedule is written once for any array namespace (`keras.ops` or `numpy`): the
optimizer's step evaluates it with `keras.ops`, `Curriculum.rates_at` with NumPy on the
host, so the plan, the logger and the live rates come from the same formula.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import keras
import numpy as np
from keras import ops

from keras_lerac._checks import check_int, check_number
from keras_lerac.schedules import get_schedule

LearningRateSchedule = keras.optimizers.schedules.LearningRateSchedule
# LeRaC's own schedules (the paper's, its ablation's, the official code's) and the
# comparison's controls; `keras_lerac.schedules.schedule_names()` lists every registered one.
SCHEDULES = ("exponential", "linear", "stepwise")
CONTROLS = ("warmup", "anti")
# A bucket has reached the base rate once its multiplier is within this of 1.
REACH_TOLERANCE = 1e-6


def as_float32(value: float) -> float:
    """The shortest decimal that rounds to the same float32 as `value`.

    A rate lives on the device as a float32: `SGD(0.1)` holds 0.10000000149..., which
    the host would otherwise carry into every ratio and logarithm (a stepwise interval
    one update short, a start rate printed as 1.0000000149e-05). Every rate LeRaC reads
    or derives on the host goes through this, so it is the number the user wrote and
    the same float32 on the device.

    Example:

    >>> as_float32(0.10000000149011612), as_float32(1e-4 * 0.1)
    (0.1, 1e-05)
    """
    return float(str(np.float32(value)))


def check_schedule(schedule: str) -> str:
    """Returns `schedule` if it names a registered schedule, else raises `ValueError`."""
    return get_schedule(schedule).name


def start_ratios(num_buckets: int, lowest_ratio: float) -> list[float]:
    """Start multipliers `eta_j(0) / reference`, log-uniform from 1 down to `lowest_ratio`.

    Args:
        num_buckets: Number of depth buckets (>= 0).
        lowest_ratio: Start ratio of the last bucket (nearest the output), in (0, 1].

    Returns:
        A list of `num_buckets` floats, the first 1.0 and the last `lowest_ratio`
        (with a single bucket, `[1.0]`).

    Example:

    >>> [round(r, 6) for r in start_ratios(3, 1e-4)]
    [1.0, 0.01, 0.0001]
    """
    if num_buckets <= 1:
        return [1.0] * num_buckets
    low = math.log(lowest_ratio)
    # The ends exact: the last bucket starts at `lowest_ratio` itself (exp(log(x)) is
    # off by an ulp), the ratio the warm-up control gives every bucket.
    return [1.0] + [math.exp(low * j / (num_buckets - 1)) for j in range(1, num_buckets - 1)] + [lowest_ratio]


# The defaults rule, measured by the sensitivity study (the benchmarks/sensitivity package,
# docs/sensitivity.md, README "When to use LeRaC"): see `suggested_curriculum`.
SUGGESTED_K_FRACTION = 0.025
SUGGESTED_LOWEST_RATIO = 1e-4


def suggested_curriculum(total_steps: int) -> tuple[int, float]:
    """`(K, start ratio of the last bucket)` for a run of `total_steps` optimizer steps.

    The rule: **K is 2.5 % of the training steps** (at least 1) and the bucket nearest
    the output starts at **1e-4 times the base rate** (the buckets between are
    log-uniform, `start_ratios`). `LeRaC(optimizer, total_steps=N)` uses it when
    `curriculum_steps` / `min_learning_rate` are not given.

    Why (the sensitivity study, 20 configurations x 12 seeds, paired by seed, final-epoch
    test accuracy; docs/sensitivity.md has the tables):

    - **K decides whether LeRaC costs; the start ratio hardly does.** At start ratio
      1e-4, no configuration lost significantly (more than 2 standard errors) with K
      at 0.5 %, 1 % or 2.5 % of the steps; at 5 % one did (-0.22 points), at 10 %
      three (down to -0.50, Adam), at 20 % five (-5.5 points on a spirals task, -1.9
      on a 5-epoch run, -1.3 on wine, -0.9 with Adam). 2.5 % is the longest
      curriculum that cost nothing measurable, and it is the paper's fraction for
      ResNets on CIFAR (K = 5 of 200 epochs).
    - **Start ratios from 1e-1 to 1e-8 are level at K <= 2.5 %** (the six K x ratio
      grids: no cell with K <= 2.5 % lost significantly); small ratios cost only with
      long K. 1e-4 lies in the paper's range (1e-3 of the base rate for BERT to 1e-7
      for ResNets) and is the ratio the study crossed with every configuration.
    - Depth (3 to 20 layers, with and without residual connections and batch norm,
      so 4 to 41 buckets), the optimizer (SGD with momentum, Adam; Adam's cost grows
      fastest with K) and the training length (210 to 1,890 steps) did not move the
      safe range: K <= 2.5 % lost nowhere. The rule depends on the length alone.

    At these settings LeRaC was level with conventional training on every healthy
    configuration (mean difference +0.01 points); its gains came where conventional
    training was unstable (a plain 20-layer MLP, a base rate at the edge of stability),
    and there a warm-up of the same K (`schedule="warmup"`) could not be told apart from
    it (the controls study, benchmarks/results/controls/).
    The paper's settings for long GPU runs (K = 2 to 7 epochs of 100 to 200, 1 to
    3.5 % of training) bracket the same fraction.

    Args:
        total_steps: The number of optimizer steps the training will run (>= 1).

    Returns:
        `(curriculum_steps, lowest_ratio)`: K in iterations and the last bucket's start
        rate as a fraction of the reference rate.

    Example:

    >>> suggested_curriculum(630)  # 15 epochs of 42 batches
    (16, 0.0001)
    >>> suggested_curriculum(78_200)  # the paper's CIFAR-10 run: 200 epochs of 391
    (1955, 0.0001)
    >>> suggested_curriculum(10)
    (1, 0.0001)
    """
    total_steps = check_int("total_steps", total_steps, minimum=1)
    return max(1, round(SUGGESTED_K_FRACTION * total_steps)), SUGGESTED_LOWEST_RATIO


def curriculum_multiplier(
    step: Any,
    start_ratio: Any,
    curriculum_steps: int,
    schedule: str = "exponential",
    xp: Any = ops,
    **params: Any,
) -> Any:
    """The curriculum multiplier `m(t)` for one or many buckets.

    Args:
        step: The iteration `t` (a float scalar tensor or number).
        start_ratio: `r_j`, a scalar or a 1-D array (one per bucket), already laid out
            (see `keras_lerac.schedules.Schedule.start`).
        curriculum_steps: `K`; from `t >= K` on the multiplier is exactly 1.
        schedule: The name of a registered schedule.
        xp: Array namespace: `keras.ops` (traceable) or `numpy` (host).
        **params: The schedule's own parameters (stepwise: `factor`, `update_every`).

    Returns:
        The multiplier, with the shape of `start_ratio`.
    """
    found = get_schedule(schedule)
    return found.multiplier(step, start_ratio, curriculum_steps, found.check_params(params), xp=xp)


def bucket_multiplier(
    schedule: str,
    params: dict,
    step: Any,
    start_ratio: Any,
    curriculum_steps: int,
    factor: Any = None,
    xp: Any = ops,
) -> Any:
    """`d_j * m_j(step)`: a bucket's (or, with arrays, every bucket's) rate over the base rate.

    Args:
        schedule: The name of a registered schedule.
        params: Its checked parameters.
        step: The iteration.
        start_ratio: `r_j`: a scalar or an array of `xp`, one per bucket.
        curriculum_steps: `K`.
        factor: `d_j` (layer-wise rate decay): a scalar or an array of `xp`; `None` for 1.
        xp: `keras.ops` (traceable) or `numpy` (host).
    """
    m = get_schedule(schedule).multiplier(step, start_ratio, curriculum_steps, params, xp=xp)
    return m if factor is None else m * factor


def bucket_rate(base: Any, multiplier: Any, scale: Any = None) -> Any:
    """A bucket's rate: `(base * scale) * multiplier` (`scale` None: the base alone).

    The one place the rate product is written: the optimizer's step, each bucket's
    `CurriculumSchedule` and the host plan (`Curriculum.rates_at`) all call it, so they
    multiply in the same order and agree to the bit.

    Args:
        base: The base rate at the step (the wrapped optimizer's rate or schedule).
        multiplier: `d_j * m_j(step)` (`bucket_multiplier`).
        scale: The rate callbacks' scale (`LeRaC.rate_scale`), or None where `base` is
            scaled already (`LeRaC.learning_rate`, what Keras hands the step).
    """
    return (base if scale is None else base * scale) * multiplier


def layer_factors(num_buckets: int, decay: float | None) -> list[float]:
    """The fixed LLRD factors `d_j = decay ** (n - 1 - j)`: 1 for the head (last bucket).

    Args:
        num_buckets: Number of buckets `n`.
        decay: The per-bucket decay in (0, 1], or `None` for no decay (all factors 1).

    Returns:
        `num_buckets` floats, bucket 0 (nearest the input) first.

    Example:

    >>> layer_factors(3, 0.5)
    [0.25, 0.5, 1.0]
    """
    if decay is None:
        return [1.0] * num_buckets
    return [float(decay) ** (num_buckets - 1 - j) for j in range(num_buckets)]


def base_rate_at(base: float | LearningRateSchedule, step: Any) -> Any:
    """The base rate at `step`: the float itself, or the schedule evaluated (traceable)."""
    if isinstance(base, LearningRateSchedule):
        return base(step)
    return base


def peak_rate(base: float | LearningRateSchedule) -> float | None:
    """The highest rate a base rate reaches, where Keras' schedules define it.

    A float is its own peak. `CosineDecay` peaks at `warmup_target` (when it warms up)
    or `initial_learning_rate`; `PiecewiseConstantDecay` at its largest value;
    `PolynomialDecay` at the larger of its two ends; `ExponentialDecay`,
    `InverseTimeDecay` and `CosineDecayRestarts` at `initial_learning_rate` when they
    decay (growing ones have no peak).

    Args:
        base: A float or a `LearningRateSchedule`.

    Returns:
        The peak as a float, or `None` for a schedule whose peak is not known (a user's
        own schedule): LeRaC then needs `reference_learning_rate`.
    """
    s = keras.optimizers.schedules
    if not isinstance(base, LearningRateSchedule):
        return float(base)
    if isinstance(base, s.CosineDecay):
        if base.warmup_target is not None:
            return max(float(base.initial_learning_rate), float(base.warmup_target))
        return float(base.initial_learning_rate)
    if isinstance(base, s.PiecewiseConstantDecay):
        return max(float(v) for v in base.values)
    if isinstance(base, s.PolynomialDecay):
        return max(float(base.initial_learning_rate), float(base.end_learning_rate))
    if isinstance(base, s.ExponentialDecay) and base.decay_rate <= 1:
        return float(base.initial_learning_rate)
    if isinstance(base, s.InverseTimeDecay) and base.decay_rate >= 0:
        return float(base.initial_learning_rate)
    if isinstance(base, s.CosineDecayRestarts) and base.get_config()["m_mul"] <= 1:
        return float(base.initial_learning_rate)
    return None


@dataclasses.dataclass(frozen=True)
class Curriculum:
    """Everything that decides every bucket's rate at every step.

    The optimizer's step (`multipliers` with `keras.ops`), the host-side rates of the
    plan, the logger and the plots (`rates_at`), and the bucket schedules all read this
    one object, so each formula is written once.

    Args:
        base: The base rate: a float or a `LearningRateSchedule`.
        reference: The rate the start ratios are fractions of (`peak_rate(base)` by
            default).
        start_ratios: `r_j` of each bucket, bucket 0 nearest the input, each in (0, 1],
            as the schedule laid them out (`Schedule.start`): each bucket's own start.
        steps: `K`, the iteration where every bucket reaches the base rate (0: off).
        schedule: The name of a registered schedule (`keras_lerac.schedules`).
        params: The schedule's parameters, defaults resolved (stepwise: `factor`,
            `update_every`).
        layer_factors: Fixed per-bucket factors `d_j` in (0, 1] (layer-wise rate
            decay); empty for none (every factor 1).
    """

    base: float | LearningRateSchedule
    reference: float
    start_ratios: tuple[float, ...]
    steps: int
    schedule: str = "exponential"
    params: dict = dataclasses.field(default_factory=dict)
    layer_factors: tuple[float, ...] = ()

    @property
    def num_buckets(self) -> int:
        return len(self.start_ratios)

    @property
    def bucket_factors(self) -> tuple[float, ...]:
        """`d_j` of every bucket (1 without layer-wise rate decay)."""
        return self.layer_factors or (1.0,) * self.num_buckets

    @property
    def start_rates(self) -> list[float]:
        """`reference * d_j * r_j`: each bucket's rate at t = 0 when the base is at its reference."""
        return [self.reference * d * r for d, r in zip(self.bucket_factors, self.start_ratios)]

    def multipliers(self, step: Any, ratios: Any = None, factors: Any = None, xp: Any = ops) -> Any:
        """`d_j * m_j(step)` of every bucket: the bucket's rate over the base rate.

        Args:
            step: The iteration.
            ratios: The start ratios as an array of `xp`, if cached.
            factors: The layer factors as an array of `xp`, if cached.
            xp: `keras.ops` (traceable) or `numpy` (host).
        """
        ratios = self.start_ratios if ratios is None else ratios
        if not self.layer_factors:
            factors = None
        elif factors is None:
            factors = (
                np.asarray(self.layer_factors)
                if xp is np
                else ops.convert_to_tensor(np.float32(self.layer_factors))
            )
        return bucket_multiplier(self.schedule, self.params, step, ratios, self.steps, factors, xp=xp)

    def rates_at(self, step: int) -> list[float]:
        """Every bucket's rate at iteration `step`, as Python floats computed on the host."""
        step = check_int("step", step)
        base = float(ops.convert_to_numpy(base_rate_at(self.base, step)))
        m = self.multipliers(float(step), np.asarray(self.start_ratios, dtype=np.float64), xp=np)
        return [float(bucket_rate(base, float(x))) for x in np.atleast_1d(m)][: self.num_buckets]

    def reach_step(self, bucket: int) -> int:
        """First iteration where bucket `bucket`'s multiplier is within 1e-6 of 1.

        The multiplier never decreases, so a binary search over `[0, K]` finds it.
        """
        schedule = get_schedule(self.schedule)

        def reached(step: int) -> bool:
            m = schedule.multiplier(float(step), self.start_ratios[bucket], self.steps, self.params, xp=np)
            return float(m) >= 1 - REACH_TOLERANCE

        low, high = 0, self.steps
        if reached(low):
            return 0
        while high - low > 1:
            mid = (low + high) // 2
            low, high = (low, mid) if reached(mid) else (mid, high)
        return high

    def bucket_schedule(self, bucket: int, scale: Any = None) -> CurriculumSchedule:
        """Bucket `bucket`'s rate as a serializable Keras `LearningRateSchedule`.

        Args:
            bucket: The bucket's index.
            scale: A scalar variable the rate is multiplied by (the rate callbacks'
                scale), or `None`.
        """
        schedule = CurriculumSchedule(
            self.base,
            self.start_ratios[bucket],
            self.steps,
            self.schedule,
            layer_factor=self.bucket_factors[bucket],
            **self.params,
        )
        schedule.scale = scale
        return schedule


@keras.saving.register_keras_serializable(package="keras_lerac")
class CurriculumSchedule(LearningRateSchedule):
    """One bucket's learning rate: the base rate times the curriculum multiplier.

    Args:
        base_learning_rate: The rate the bucket reaches at `curriculum_steps`: a float
            or any `LearningRateSchedule`, which keeps running underneath.
        start_ratio: `eta_j(0) / reference`, in `(0, 1]`.
        curriculum_steps: `K`, the iteration where the curriculum ends (>= 0).
        schedule: The name of a registered schedule (default `"exponential"`).
        layer_factor: The bucket's fixed layer-wise decay factor `d_j` in (0, 1].
        **params: The schedule's own parameters (stepwise: `factor`, `update_every`).

    Example:

    >>> s = CurriculumSchedule(0.1, start_ratio=1e-4, curriculum_steps=100)
    >>> round(float(s(50)), 6)  # halfway: 0.1 * (1e-4) ** 0.5
    0.001
    >>> round(float(s(100)), 6)
    0.1
    """

    def __init__(
        self,
        base_learning_rate: float | LearningRateSchedule,
        start_ratio: float,
        curriculum_steps: int,
        schedule: str = "exponential",
        layer_factor: float = 1.0,
        **params: Any,
    ):
        self.base_learning_rate = base_learning_rate
        self.layer_factor = check_number("layer_factor", layer_factor, low=0.0, low_open=True, high=1.0)
        # Set by LeRaC, not saved in the config: a scalar variable (the scale Keras' rate
        # callbacks put on the base rate) that the rate is multiplied by.
        self.scale = None
        self.start_ratio = float(start_ratio)
        self.curriculum_steps = check_int("curriculum_steps", curriculum_steps)
        self.schedule = check_schedule(schedule)
        self.params = get_schedule(schedule).check_params(params)

    def __call__(self, step):
        multiplier = bucket_multiplier(
            self.schedule,
            self.params,
            ops.cast(step, "float32"),
            self.start_ratio,
            self.curriculum_steps,
            self.layer_factor,
        )
        scale = None if self.scale is None else ops.cast(self.scale, "float32")
        return bucket_rate(
            ops.cast(base_rate_at(self.base_learning_rate, step), "float32"), multiplier, scale
        )

    def get_config(self) -> dict:
        base = self.base_learning_rate
        if isinstance(base, LearningRateSchedule):
            base = keras.optimizers.schedules.serialize(base)
        return {
            "base_learning_rate": base,
            "start_ratio": self.start_ratio,
            "curriculum_steps": self.curriculum_steps,
            "schedule": self.schedule,
            "layer_factor": self.layer_factor,
            "params": dict(self.params),
        }

    @classmethod
    def from_config(cls, config: dict) -> CurriculumSchedule:
        config = dict(config)
        if isinstance(config["base_learning_rate"], dict):
            config["base_learning_rate"] = keras.optimizers.schedules.deserialize(
                config["base_learning_rate"]
            )
        params = dict(config.pop("params", None) or {})
        for legacy in ("factor", "update_every"):  # configs written before the registry
            value = config.pop(legacy, None)
            if (
                value is not None
                and legacy in get_schedule(config.get("schedule", "exponential")).param_names
            ):
                params.setdefault(legacy, value)
        return cls(**config, **params)
