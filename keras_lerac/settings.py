"""LeRaC's curriculum settings: its arguments checked, defaults resolved, stored in one place.

`Settings.resolve` turns `LeRaC(...)`'s curriculum arguments into a validated, frozen
value (failing at construction, each message naming the argument): K and the last
bucket's start rate from the training's length where they are not given (the defaults
rule, `keras_lerac.curriculum.suggested_curriculum`), the schedule and its parameters
from the registry. `Settings.curriculum` makes the `Curriculum` once the number of
buckets is known, and `to_config` / `Settings.resolve(**config)` (with
`remember_suggested` for the `suggested` key) make the round trip through a saved model.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from keras_lerac._checks import check_int, check_number
from keras_lerac.curriculum import (
    Curriculum,
    LearningRateSchedule,
    as_float32,
    layer_factors,
    start_ratios,
    suggested_curriculum,
)
from keras_lerac.schedules import get_schedule

__all__ = ["Settings"]

# The fields the defaults rule can choose, in the order `suggested` names them.
_SUGGESTABLE = ("curriculum_steps", "min_learning_rate")


@dataclasses.dataclass(frozen=True)
class Settings:
    """LeRaC's curriculum arguments, checked and resolved (see `LeRaC` for each one).

    Build it with `Settings.resolve`; the fields are the values in force.
    `suggested` names the fields the defaults rule chose from `total_steps`.
    """

    curriculum_steps: int
    min_learning_rate: float | None = None
    initial_learning_rates: tuple[float, ...] | None = None
    total_steps: int | None = None
    schedule: str = "exponential"
    schedule_params: dict = dataclasses.field(default_factory=dict)
    num_buckets: int | None = None
    reference_learning_rate: float | None = None
    layer_decay: float | None = None
    suggested: tuple[str, ...] = ()

    @classmethod
    def resolve(
        cls,
        reference: float,
        reference_label: str,
        *,
        min_learning_rate: Any = None,
        curriculum_steps: Any = None,
        total_steps: Any = None,
        schedule: Any = "exponential",
        schedule_params: Any = None,
        num_buckets: Any = None,
        initial_learning_rates: Any = None,
        reference_learning_rate: Any = None,
        layer_decay: Any = None,
        factor: Any = None,
        update_every: Any = None,
    ) -> Settings:
        """Checks every argument and fills in the defaults.

        Args:
            reference: The rate start rates are fractions of (bounds the start rates).
            reference_label: How to name that rate in an error message.
            **arguments: `LeRaC`'s curriculum arguments, as the user gave them.

        Returns:
            The settings.
        """
        total_steps = check_int("total_steps", total_steps, minimum=1, optional=True)
        chosen = []
        if curriculum_steps is None:
            if total_steps is None:
                raise ValueError(
                    "Pass `curriculum_steps` (K, the step where every bucket reaches the base rate) "
                    "or `total_steps` (the number of steps the training runs), from which LeRaC "
                    "picks K and the start rates (keras_lerac.curriculum.suggested_curriculum)."
                )
            curriculum_steps = suggested_curriculum(total_steps)[0]
            chosen.append("curriculum_steps")
        curriculum_steps = check_int("curriculum_steps", curriculum_steps)
        found = get_schedule(schedule)
        num_buckets = check_int("num_buckets", num_buckets, minimum=1, optional=True)
        bound = dict(low=0.0, low_open=True, high=reference, high_label=reference_label)
        if initial_learning_rates is None:
            if min_learning_rate is None and curriculum_steps > 0:
                if total_steps is None:
                    raise ValueError(
                        "Pass `min_learning_rate` (the start rate of the last bucket), or "
                        "`initial_learning_rates`, or `total_steps` (LeRaC then picks the start "
                        "rates), or `curriculum_steps=0` for no curriculum."
                    )
                min_learning_rate = as_float32(suggested_curriculum(total_steps)[1] * reference)
                chosen.append("min_learning_rate")
            min_learning_rate = check_number("min_learning_rate", min_learning_rate, optional=True, **bound)
        else:
            if min_learning_rate is not None:
                raise ValueError("Pass `min_learning_rate` or `initial_learning_rates`, not both.")
            if isinstance(initial_learning_rates, (str, bytes)) or not isinstance(
                initial_learning_rates, Sequence
            ):
                raise TypeError(
                    "`initial_learning_rates` must be a list of numbers, one start rate per bucket. "
                    f"Received: {initial_learning_rates!r}"
                )
            if not initial_learning_rates:
                raise ValueError("`initial_learning_rates` is empty: give one start rate per bucket.")
            initial_learning_rates = tuple(
                check_number(f"initial_learning_rates[{j}]", rate, **bound)
                for j, rate in enumerate(initial_learning_rates)
            )
            if num_buckets is not None and num_buckets != len(initial_learning_rates):
                raise ValueError(
                    f"`num_buckets`={num_buckets} but `initial_learning_rates` has "
                    f"{len(initial_learning_rates)} entries: they must agree."
                )
        return cls(
            curriculum_steps=curriculum_steps,
            min_learning_rate=min_learning_rate,
            initial_learning_rates=initial_learning_rates,
            total_steps=total_steps,
            schedule=found.name,
            schedule_params=_schedule_params(found.name, schedule_params, factor, update_every),
            num_buckets=num_buckets,
            reference_learning_rate=reference_learning_rate,
            layer_decay=check_number(
                "layer_decay", layer_decay, low=0.0, low_open=True, high=1.0, optional=True
            ),
            suggested=tuple(chosen),
        )

    def curriculum(self, count: int, base: float | LearningRateSchedule, reference: float) -> Curriculum:
        """The `Curriculum` for `count` buckets under the base rate `base`."""
        if self.initial_learning_rates is not None:
            if len(self.initial_learning_rates) != count:
                raise ValueError(
                    f"`initial_learning_rates` has {len(self.initial_learning_rates)} entries "
                    f"but the model was cut into {count} buckets: give one rate per bucket."
                )
            ratios = [min(1.0, r / reference) for r in self.initial_learning_rates]
            lowest = min(ratios)
        elif self.min_learning_rate is None:  # no curriculum
            ratios, lowest = [1.0] * count, 1.0
        else:
            lowest = min(1.0, self.min_learning_rate / reference)
            ratios = [min(1.0, r) for r in start_ratios(count, lowest)]
        schedule = get_schedule(self.schedule)
        # The controls lay the start ratios out their own way: the warm-up starts every
        # bucket at the lowest ratio, also on one bucket (where LeRaC's only ratio is 1).
        ratios = schedule.start(ratios, lowest)
        decay = tuple(layer_factors(count, self.layer_decay)) if self.layer_decay is not None else ()
        params = schedule.resolve(self.schedule_params, ratios, self.curriculum_steps)
        return Curriculum(base, reference, tuple(ratios), self.curriculum_steps, self.schedule, params, decay)

    def remember_suggested(self, names: Sequence[str]) -> Settings:
        """These settings, with the fields in `names` also remembered as chosen by the defaults
        rule (a saved config holds their values, and `suggested` says they were chosen)."""
        chosen = [n for n in _SUGGESTABLE if n in names or n in self.suggested]
        return dataclasses.replace(self, suggested=tuple(chosen))

    def to_config(self) -> dict:
        """The arguments that give these settings back through `Settings.resolve`."""
        config = dataclasses.asdict(self)
        config["schedule_params"] = dict(self.schedule_params)
        config["suggested"] = list(self.suggested)
        if self.initial_learning_rates is not None:
            config["initial_learning_rates"] = list(self.initial_learning_rates)
        return config

    @staticmethod
    def upgrade_config(config: dict) -> dict:
        """`config` with the keys of older versions dropped: configs written before the
        schedule registry held `factor` (10.0 by default) and `update_every` for every
        schedule."""
        config = dict(config)
        params = get_schedule(config.get("schedule", "exponential")).param_names
        for legacy in ("factor", "update_every"):
            if legacy in config and legacy not in params:
                config.pop(legacy)
        return config


def _schedule_params(schedule: str, params: Any, factor: Any, update_every: Any) -> dict:
    """`schedule_params` with `factor` / `update_every` merged in, checked against the schedule."""
    if params is not None and not isinstance(params, dict):
        raise TypeError(f"`schedule_params` must be a dict. Received: {params!r}")
    params = dict(params or {})
    for name, value in (("factor", factor), ("update_every", update_every)):
        if value is None:
            continue
        if name in params:
            raise ValueError(f"Pass `{name}` once: as an argument or in `schedule_params`, not both.")
        params[name] = value
    if "factor" in params:
        params["factor"] = check_number("factor", params["factor"], low=1.0, low_open=True)
    if "update_every" in params:
        params["update_every"] = check_int("update_every", params["update_every"], minimum=1)
    found = get_schedule(schedule)
    params = found.check_params(params)
    missing = found.missing_params
    if missing:  # not checked at registration: checked now, with its parameters
        absent = [p for p in missing if p not in params]
        if absent:
            raise ValueError(
                f"The {schedule!r} schedule needs {', '.join(f'`{p}`' for p in absent)}: pass "
                f"schedule_params={{{', '.join(f'{p!r}: ...' for p in absent)}}}."
            )
        found.check(params)
    return params
