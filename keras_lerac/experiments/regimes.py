"""The regimes a comparison runs, and what each one changes in a run of the base optimizer.

- `conventional`: the base optimizer alone (the reference every regime is compared to).
- `warmup`, `lerac`, `anti`: the base wrapped in `LeRaC` with the `warmup`, the chosen
  and the `anti` schedule, sharing K and the start ratio (`CURRICULUM_REGIMES`), with a
  `CurriculumLogger`.
- `cbs`: Curriculum by Smoothing: the model with Gaussian smoothing after its
  convolutions and a `SmoothingSchedule`; convolutional models only (`cbs_problem`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from keras_lerac.experiments.builders import build, clone_optimizer, model_builder
from keras_lerac.experiments.inputs import InputError, first_line

REGIMES = ("conventional", "warmup", "lerac", "anti", "cbs")
REFERENCE = "conventional"
# The LeRaC schedule each curriculum regime runs (`lerac`: the `schedule` argument).
CURRICULUM_REGIMES = {"warmup": "warmup", "lerac": None, "anti": "anti"}
CBS_KERNEL_SIZE = 3


def check_regimes(regimes: Sequence[str]) -> list[str]:
    """`regimes` without repeats, in order.

    Raises:
        InputError: for no regime, or one not among `REGIMES`.
    """
    regimes = list(dict.fromkeys(regimes))
    if not regimes:
        raise InputError("no regime to run: choose among " + ", ".join(REGIMES))
    for regime in regimes:
        if regime not in REGIMES:
            raise InputError(f"unknown regime {regime!r}: choose among {', '.join(REGIMES)}")
    return regimes


# --------------------------------------------------------------------------- cbs
def cbs_problem(model: Any) -> str | None:
    """Why Curriculum by Smoothing cannot run on `model` (a model, builder or `.keras` path), or None.

    Raises:
        InputError: if `model` cannot be built or loaded.
    """
    import keras

    keras.utils.clear_session()
    return cbs_reason(build(model_builder(model, reinitialize=False)))


def cbs_reason(model: Any) -> str | None:
    """Why CBS cannot run on the built `model` (None if it can)."""
    from keras_lerac import cbs

    try:
        cbs.add_smoothing(model, kernel_size=CBS_KERNEL_SIZE, sigma=0.0)
    except (TypeError, ValueError) as error:
        return first_line(error)
    return None


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

        if regime in CURRICULUM_REGIMES:
            return model, self._lerac(regime, base, model), [CurriculumLogger()]
        optimizer = clone_optimizer(base)
        if regime == "cbs":
            from keras_lerac import cbs

            model = cbs.add_smoothing(model, kernel_size=CBS_KERNEL_SIZE, sigma=self.cbs_sigma)
            return (
                model,
                optimizer,
                [cbs.SmoothingSchedule(decay=self.cbs_decay, every_epochs=self.cbs_every)],
            )
        return model, optimizer, []

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
