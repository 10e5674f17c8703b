"""The regimes a comparison runs: one registry, read by the runs, the command and the tables.

Each regime is one `Regime` in `REGISTRY`: its name, a line saying what it is, and what it
changes in a run of the base optimizer. A curriculum regime wraps the base in `LeRaC` with
its schedule (all of them share K and the start ratio); any other regime says how it
builds its run (`build`). A new regime is one more entry: `keras-lerac compare`'s
choices and defaults, the runs, the table and its contrasts all read the registry.

| name | what it is |
|---|---|
| `conventional` | the base optimizer alone: the reference every regime is compared to |
| `warmup` | `LeRaC(schedule="warmup")`: every bucket from the lowest start rate (a warm-up control) |
| `linear_warmup` | `LeRaC(schedule="linear_warmup")`: every bucket linearly from 0 (a common warm-up) |
| `lerac` | `LeRaC` with the comparison's schedule |
| `anti` | `LeRaC(schedule="anti")`: LeRaC's start rates in reverse depth order |
| `cbs` | Curriculum by Smoothing; convolutional models only (`cbs_reason`) |

The contrasts (`contrasts`): every regime against `conventional`, and `lerac` against each
warm-up control (`Regime.warm_up`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

from keras_lerac.experiments.builders import build, clone_optimizer, model_builder
from keras_lerac.experiments.inputs import InputError, first_line

CBS_KERNEL_SIZE = 3


@dataclasses.dataclass(frozen=True)
class Regime:
    """A training regime a comparison can run.

    Args:
        name: What `compare_regimes(regimes=...)` and `--regimes` take.
        summary: One line: what the regime is.
        curriculum: Whether the run's optimizer is the base wrapped in `LeRaC`.
        schedule: A curriculum regime's LeRaC schedule; None runs the comparison's
            `schedule` argument (`lerac` itself).
        warm_up: A warm-up control: `lerac` is compared with it.
        default: One of `keras-lerac compare`'s default regimes.
        build: For a regime that is not a curriculum: `build(model, optimizer, settings)
            -> (model, optimizer, callbacks)`, what the run trains (`settings`: the
            `RegimeSettings`); None trains the model and base optimizer as they are.
        problem: `problem(model) -> str | None`: why the regime cannot run on a built
            model (None if it can); None if it runs on any model.
    """

    name: str
    summary: str
    curriculum: bool = False
    schedule: str | None = None
    warm_up: bool = False
    default: bool = False
    build: Callable[[Any, Any, Any], tuple[Any, Any, list]] | None = None
    problem: Callable[[Any], str | None] | None = None


def cbs_reason(model: Any) -> str | None:
    """Why CBS cannot run on the built `model` (None if it can): the one answer to that question."""
    from keras_lerac import cbs

    try:
        cbs.add_smoothing(model, kernel_size=CBS_KERNEL_SIZE, sigma=0.0)
    except (TypeError, ValueError) as error:
        return first_line(error)
    return None


def _cbs_run(model: Any, optimizer: Any, settings: Any) -> tuple[Any, Any, list]:
    from keras_lerac import cbs

    smoothed = cbs.add_smoothing(model, kernel_size=CBS_KERNEL_SIZE, sigma=settings.cbs_sigma)
    return (
        smoothed,
        optimizer,
        [cbs.SmoothingSchedule(decay=settings.cbs_decay, every_epochs=settings.cbs_every)],
    )


REGISTRY: tuple[Regime, ...] = (
    Regime("conventional", "the base optimizer alone (the reference)", default=True),
    Regime(
        "warmup",
        "every bucket from LeRaC's lowest start rate, rising to the base at K: a warm-up control",
        curriculum=True,
        schedule="warmup",
        warm_up=True,
        default=True,
    ),
    Regime(
        "linear_warmup",
        "every bucket from 0, rising linearly to the base at K: the common warm-up, a control",
        curriculum=True,
        schedule="linear_warmup",
        warm_up=True,
    ),
    Regime(
        "lerac",
        "LeRaC: the highest rates near the input, all rising to the base at K",
        curriculum=True,
        default=True,
    ),
    Regime(
        "anti",
        "LeRaC's start rates in reverse depth order (anti-curriculum)",
        curriculum=True,
        schedule="anti",
    ),
    Regime(
        "cbs",
        "Curriculum by Smoothing: Gaussian smoothing after each convolution, decaying",
        default=True,
        build=_cbs_run,
        problem=cbs_reason,
    ),
)
_BY_NAME = {regime.name: regime for regime in REGISTRY}
REGIMES = tuple(_BY_NAME)
REFERENCE = "conventional"
DEFAULT_REGIMES = tuple(r.name for r in REGISTRY if r.default)
# The LeRaC schedule each curriculum regime runs (None: the comparison's `schedule`).
CURRICULUM_REGIMES = {r.name: r.schedule for r in REGISTRY if r.curriculum}


def get_regime(name: str) -> Regime:
    """The registered regime `name`.

    Raises:
        InputError: for a name not in the registry, listing those that are.
    """
    if name not in _BY_NAME:
        raise InputError(f"unknown regime {name!r}: choose among {', '.join(REGIMES)}")
    return _BY_NAME[name]


def regime_problem(name: str, model: Any) -> str | None:
    """Why regime `name` cannot run on the built `model`, or None."""
    check = get_regime(name).problem
    return None if check is None else check(model)


def contrasts(regimes: Sequence[str]) -> list[tuple[str, str]]:
    """The pairs a comparison of `regimes` reports: each against conventional, lerac against each warm-up."""
    pairs = [(r, REFERENCE) for r in regimes if r != REFERENCE and REFERENCE in regimes]
    if "lerac" in regimes:
        pairs += [("lerac", r) for r in regimes if get_regime(r).warm_up]
    return pairs


def check_regimes(regimes: Sequence[str]) -> list[str]:
    """`regimes` without repeats, in order.

    Raises:
        InputError: for no regime, or one not among `REGIMES`.
    """
    regimes = list(dict.fromkeys(regimes))
    if not regimes:
        raise InputError("no regime to run: choose among " + ", ".join(REGIMES))
    for regime in regimes:
        get_regime(regime)
    return regimes


# --------------------------------------------------------------------------- cbs
def problems(regimes: Sequence[str], model: Any) -> dict[str, str]:
    """Why each of `regimes` cannot run on `model` (a model, builder or `.keras` path), for those that cannot.

    The model is built once, and only if one of the regimes can refuse a model.

    Raises:
        InputError: if `model` cannot be built or loaded, or a regime is unknown.
    """
    import keras

    checked = [r for r in regimes if get_regime(r).problem is not None]
    if not checked:
        return {}
    keras.utils.clear_session()
    built = build(model_builder(model, reinitialize=False))
    reasons = {r: regime_problem(r, built) for r in checked}
    return {r: reason for r, reason in reasons.items() if reason is not None}


# --------------------------------------------------------------------------- settings
def curriculum_arguments(
    total_steps: int | None,
    curriculum_steps: int | None,
    min_learning_rate: float | None,
    num_buckets: int | None,
) -> dict:
    """The `LeRaC` keyword arguments the curriculum regimes share: those given, as numbers."""
    arguments: dict = {}
    if total_steps is not None:
        arguments["total_steps"] = total_steps
    if curriculum_steps is not None:
        arguments["curriculum_steps"] = int(curriculum_steps)
    if min_learning_rate is not None:
        arguments["min_learning_rate"] = float(min_learning_rate)
    if num_buckets is not None:
        arguments["num_buckets"] = int(num_buckets)
    return arguments


@dataclasses.dataclass(frozen=True)
class RegimeSettings:
    """What the regimes other than conventional add to the base optimizer, and with what settings.

    Attributes:
        schedule: The `lerac` regime's curriculum schedule.
        curriculum: `LeRaC` keyword arguments of the curriculum regimes
            (`curriculum_arguments`).
        cbs_sigma: CBS initial sigma.
        cbs_decay: CBS sigma decay factor.
        cbs_every: CBS epochs between two decays.
    """

    schedule: str
    curriculum: dict
    cbs_sigma: float
    cbs_decay: float
    cbs_every: int

    def _lerac(self, regime: str, base: Any, model: Any) -> Any:
        from keras_lerac import LeRaC

        return LeRaC(
            clone_optimizer(base),
            **self.curriculum,
            model=model,
            schedule=CURRICULUM_REGIMES[regime] or self.schedule,
        )

    def check(self, regimes: Sequence[str], model: Any, base: Any) -> None:
        """Builds each curriculum regime's optimizer for `model`, so a bad setting fails before training.

        Raises:
            InputError: for a setting `LeRaC` rejects.
        """
        for regime in (r for r in regimes if r in CURRICULUM_REGIMES):
            try:
                self._lerac(regime, base, model)
            except (TypeError, ValueError) as error:
                raise InputError(f"regime {regime!r}: {first_line(error)}") from None

    def apply(self, regime: str, model: Any, base: Any) -> tuple[Any, Any, list]:
        """What one run of `regime` trains: the model, its optimizer and the regime's callbacks.

        Args:
            regime: One of `REGIMES`.
            model: A fresh model with the run's initial weights.
            base: The base optimizer (copied, never trained itself).

        Returns:
            `(model, optimizer, callbacks)`; the model is a new one for `cbs`.
        """
        from keras_lerac import CurriculumLogger

        spec = get_regime(regime)
        if spec.curriculum:
            return model, self._lerac(regime, base, model), [CurriculumLogger()]
        if spec.build is not None:
            return spec.build(model, clone_optimizer(base), self)
        return model, clone_optimizer(base), []

    def curriculum_record(self, optimizer: Any, steps_per_epoch: int | None) -> dict:
        """What a curriculum regime's `optimizer` ran: schedule, K, start rate, buckets (for results.json)."""
        config = optimizer.get_config()
        return {
            "lerac_schedule": self.schedule,
            "curriculum_steps": config["curriculum_steps"],
            "curriculum_epochs": None
            if not steps_per_epoch
            else config["curriculum_steps"] / steps_per_epoch,
            "min_learning_rate": optimizer.curriculum.start_rates[-1]
            if optimizer.built
            else config["min_learning_rate"],
            "total_steps": config.get("total_steps"),
            "suggested": list(optimizer.settings.suggested),
            "num_buckets": len(optimizer.curriculum.start_ratios),
        }

    def cbs_record(self) -> dict:
        """The CBS settings (for results.json)."""
        return {
            "kernel_size": CBS_KERNEL_SIZE,
            "sigma": self.cbs_sigma,
            "decay": self.cbs_decay,
            "every_epochs": self.cbs_every,
        }
