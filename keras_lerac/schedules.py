"""Curriculum schedules: one pure function per schedule, registered by name.

A schedule says how a bucket's rate multiplier `m(t)` rises from the bucket's start
ratio `r` (its start rate over the reference rate) to 1 during the first `K` iterations:

    fn(step, start_ratio, curriculum_steps, *, xp, **params) -> multiplier

written once for any array namespace `xp` that has `power`, `floor`, `minimum` and
`where` (`keras.ops` in the optimizer's step, NumPy for the host-side plan), elementwise
in `start_ratio` (a scalar or one ratio per bucket). Its keyword parameters are the
schedule's own (the stepwise schedule's `factor` and `update_every`). `Schedule.multiplier`
wraps every schedule the same way: the multiplier is capped at 1 and is exactly 1 from
`t >= K` on, so no schedule can leave a bucket above the base rate or short of it.

A schedule may also lay the start ratios out across the buckets (`layout`: LeRaC's
ratios, bucket 0 nearest the input first, in; each bucket's ratio out). That is how the
comparison's controls come through the same door as LeRaC's schedules:

| name | rise | start ratios |
|---|---|---|
| `"exponential"` | `r ** (1 - t / K)` (the paper's equation) | LeRaC's: 1 at the input, lowest last |
| `"linear"` | `r + (1 - r) * t / K` (the paper's ablation) | LeRaC's |
| `"stepwise"` | `min(1, r * factor ** floor(t / update_every))` (the official code) | LeRaC's |
| `"warmup"` | exponential | every bucket at the lowest ratio: an ordinary warm-up |
| `"anti"` | exponential | LeRaC's in reverse: lowest at the input (anti-curriculum) |

A schedule of your own is one function and one call:

```python
import keras_lerac

@keras_lerac.register_schedule("cosine_rise")
def cosine_rise(step, start_ratio, curriculum_steps, *, xp):
    progress = step / curriculum_steps
    return start_ratio + (1.0 - start_ratio) * 0.5 * (1.0 - xp.cos(3.141592653589793 * progress))
```

after which `LeRaC(..., schedule="cosine_rise")` uses it, the plan, the logger and the
plots name it, and a saved model stores the name (register it again before loading).
"""

from __future__ import annotations

import dataclasses
import inspect
import math
from collections.abc import Callable, Sequence
from typing import Any

from keras import ops

from keras_lerac._checks import check_int, check_number

__all__ = [
    "Schedule",
    "default_update_every",
    "get_schedule",
    "register_schedule",
    "schedule_names",
]


@dataclasses.dataclass(frozen=True)
class Schedule:
    """A registered curriculum schedule.

    Args:
        name: The name `LeRaC(schedule=...)` takes.
        fn: `fn(step, start_ratio, curriculum_steps, *, xp, **params)`: the multiplier
            during the curriculum (`0 <= t < K`), elementwise in `start_ratio`.
        layout: `layout(ratios) -> ratios`: each bucket's start ratio from LeRaC's
            (bucket 0 nearest the input first), computed once on the host; `None` keeps
            LeRaC's.
        defaults: `defaults(params, ratios, curriculum_steps) -> params`: fills in the
            parameters whose default depends on the curriculum (stepwise's
            `update_every`); `None` if there are none.
        note: A line the plan prints about the schedule (the controls say they are
            not LeRaC); empty for none.
    """

    name: str
    fn: Callable[..., Any]
    layout: Callable[[list[float]], Sequence[float]] | None = None
    defaults: Callable[[dict, Sequence[float], int], dict] | None = None
    note: str = ""

    @property
    def param_names(self) -> tuple[str, ...]:
        """The keyword parameters of `fn` (other than `xp`)."""
        return tuple(
            p.name
            for p in inspect.signature(self.fn).parameters.values()
            if p.kind is inspect.Parameter.KEYWORD_ONLY and p.name != "xp"
        )

    def check_params(self, params: dict | None) -> dict:
        """`params` if `fn` takes every one of them, else a `ValueError` naming them."""
        params = dict(params or {})
        unknown = sorted(set(params) - set(self.param_names))
        if unknown:
            takes = ", ".join(f"`{p}`" for p in self.param_names) or "no parameters"
            raise ValueError(
                f"The {self.name!r} schedule takes {takes}; it has no {unknown}. Drop them, or "
                "choose a schedule that takes them (`factor` and `update_every` are stepwise's)."
            )
        return params

    def start(self, ratios: Sequence[float]) -> list[float]:
        """Each bucket's start ratio, from LeRaC's (bucket 0 nearest the input first)."""
        ratios = [float(r) for r in ratios]
        if self.layout is None:
            return ratios
        laid_out = [float(r) for r in self.layout(list(ratios))]
        if len(laid_out) != len(ratios):
            raise ValueError(
                f"The layout of schedule {self.name!r} returned {len(laid_out)} start ratios "
                f"for {len(ratios)} buckets: it must return one per bucket."
            )
        return laid_out

    def resolve(self, params: dict | None, ratios: Sequence[float], curriculum_steps: int) -> dict:
        """The parameters `fn` runs with: `params` checked, defaults filled in."""
        params = self.check_params(params)
        return dict(self.defaults(params, ratios, curriculum_steps)) if self.defaults else params

    def multiplier(
        self, step: Any, start_ratio: Any, curriculum_steps: int, params: dict | None = None, xp: Any = ops
    ) -> Any:
        """`m(t)`: `fn` capped at 1, and exactly 1 from `t >= K` on (every entry 1 for K = 0)."""
        if curriculum_steps == 0:
            return xp.power(start_ratio, 0.0)
        m = self.fn(step, start_ratio, curriculum_steps, xp=xp, **(params or {}))
        return xp.where(step >= curriculum_steps, 1.0, xp.minimum(m, 1.0))


_REGISTRY: dict[str, Schedule] = {}


def register_schedule(
    name: str,
    fn: Callable[..., Any] | None = None,
    *,
    layout: Callable[[list[float]], Sequence[float]] | None = None,
    defaults: Callable[[dict, Sequence[float], int], dict] | None = None,
    note: str = "",
    overwrite: bool = False,
) -> Any:
    """Registers a curriculum schedule under `name` (also usable as a decorator).

    Args:
        name: The name `LeRaC(schedule=name)` will take.
        fn: `fn(step, start_ratio, curriculum_steps, *, xp, **params)`, the multiplier
            during the curriculum, written with `xp` (`keras.ops` or NumPy) and
            elementwise in `start_ratio`. Omit it to use `register_schedule` as a
            decorator.
        layout: Optional `layout(ratios) -> ratios`: each bucket's start ratio from
            LeRaC's ratios (bucket 0 nearest the input first).
        defaults: Optional `defaults(params, ratios, curriculum_steps) -> params`
            filling in curriculum-dependent defaults.
        note: Optional line the plan prints about the schedule.
        overwrite: Replace a schedule already registered under `name`.

    Returns:
        `fn` (so the decorator leaves the function as it was), or the decorator.

    Example:

    >>> import keras_lerac
    >>> def half_way(step, start_ratio, curriculum_steps, *, xp):
    ...     return xp.where(step < curriculum_steps / 2, start_ratio, 1.0)
    >>> _ = keras_lerac.register_schedule("half_way", half_way, overwrite=True)
    >>> "half_way" in keras_lerac.schedule_names()
    True
    """
    if not isinstance(name, str) or not name:
        raise TypeError(f"A schedule's name must be a non-empty string. Received: {name!r}")
    if fn is None:
        return lambda f: register_schedule(
            name, f, layout=layout, defaults=defaults, note=note, overwrite=overwrite
        )
    if not callable(fn):
        raise TypeError(f"Schedule {name!r}: `fn` must be callable. Received: {fn!r}")
    if "xp" not in inspect.signature(fn).parameters:
        raise TypeError(
            f"Schedule {name!r}: `fn` must take the array namespace as a keyword argument `xp` "
            "(fn(step, start_ratio, curriculum_steps, *, xp, **params)), and compute with it."
        )
    if name in _REGISTRY and not overwrite:
        raise ValueError(
            f"A schedule named {name!r} is registered already: pass `overwrite=True` to replace it."
        )
    _REGISTRY[name] = Schedule(name, fn, layout, defaults, note)
    return fn


def get_schedule(name: str) -> Schedule:
    """The schedule registered under `name`; a `ValueError` listing the names if none is."""
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"`schedule` must be the name of a registered schedule, one of {schedule_names()} "
            f"(keras_lerac.register_schedule adds one). Received: schedule={name!r}"
        ) from None


def schedule_names() -> tuple[str, ...]:
    """The names of every registered schedule, in registration order."""
    return tuple(_REGISTRY)


# ----------------------------------------------------------------------------- built-ins
@register_schedule("exponential")
def exponential(step: Any, start_ratio: Any, curriculum_steps: int, *, xp: Any = ops) -> Any:
    """The paper's equation: `r ** (1 - t / K)`, a geometric rise from `r` to 1."""
    return xp.power(start_ratio, 1.0 - step / float(curriculum_steps))


@register_schedule("linear")
def linear(step: Any, start_ratio: Any, curriculum_steps: int, *, xp: Any = ops) -> Any:
    """The paper's ablation: `r + (1 - r) * t / K`."""
    return start_ratio + (1.0 - start_ratio) * (step / float(curriculum_steps))


def default_update_every(curriculum_steps: int, smallest_ratio: float, factor: float) -> int:
    """The stepwise update interval that brings the lowest bucket up right at `K`.

    The official code multiplies every rate by `factor` at each update point; with
    `n = ceil(log_factor(1 / smallest_ratio))` updates the lowest bucket reaches the
    base rate, so updates every `K // n` iterations end the climb at (about) `K`.

    Example:

    >>> default_update_every(100, 1e-5, 10.0)
    20
    """
    # The tolerance absorbs float32 rounding of the ratio (relative 6e-8), never a real
    # fraction of an update.
    updates = max(1, math.ceil(math.log(1.0 / smallest_ratio) / math.log(factor) - 1e-6))
    return max(1, curriculum_steps // updates)


def _stepwise_defaults(params: dict, ratios: Sequence[float], curriculum_steps: int) -> dict:
    factor = check_number("factor", params.get("factor", 10.0), low=1.0, low_open=True)
    update_every = params.get("update_every")
    if update_every is None:
        update_every = default_update_every(curriculum_steps, min(ratios, default=1.0), factor)
    return {"factor": factor, "update_every": check_int("update_every", update_every, minimum=1)}


@register_schedule("stepwise", defaults=_stepwise_defaults)
def stepwise(
    step: Any,
    start_ratio: Any,
    curriculum_steps: int,
    *,
    xp: Any = ops,
    factor: float = 10.0,
    update_every: int = 1,
) -> Any:
    """The official code's rule: every rate times `factor` each `update_every` iterations."""
    return start_ratio * xp.power(factor, xp.floor(step / float(update_every)))


def lowest_everywhere(ratios: list[float]) -> list[float]:
    """The warm-up control's layout: every bucket starts at the lowest ratio."""
    return [min(ratios, default=1.0)] * len(ratios)


def reversed_depth(ratios: list[float]) -> list[float]:
    """The anti-curriculum's layout: LeRaC's ratios in reverse bucket order."""
    return list(reversed(ratios))


register_schedule(
    "warmup",
    exponential,
    layout=lowest_everywhere,
    note="a control, not LeRaC: every bucket starts at the lowest rate, an ordinary warm-up",
)
register_schedule(
    "anti",
    exponential,
    layout=reversed_depth,
    note="a control, not LeRaC: start rates in reverse, lowest at the input",
)


def zero_everywhere(ratios: list[float]) -> list[float]:
    """The practitioner's warm-up layout: every bucket starts at 0."""
    return [0.0] * len(ratios)


register_schedule(
    "linear_warmup",
    linear,
    layout=zero_everywhere,
    note="a control, not LeRaC: every bucket rises linearly from 0, a practitioner's warm-up",
)
