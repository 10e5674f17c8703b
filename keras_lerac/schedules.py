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
ratios, bucket 0 nearest the input first, in; each bucket's ratio out; a layout that takes
a `lowest` argument also gets the curriculum's lowest start ratio, `min_learning_rate`
over the reference rate, which LeRaC's ratios lack on one bucket: there its only ratio
is 1). That is how the comparison's controls come through the same door as LeRaC's
schedules:

| name | rise | start ratios |
|---|---|---|
| `"exponential"` | `r ** (1 - t / K)` (the paper's equation) | LeRaC's: 1 at the input, lowest last |
| `"linear"` | `r + (1 - r) * t / K` (the paper's ablation) | LeRaC's |
| `"stepwise"` | `min(1, r * factor ** floor(t / update_every))` (the official code) | LeRaC's |
| `"warmup"` | exponential | every bucket at the lowest ratio, on any bucket count: an ordinary warm-up |
| `"anti"` | exponential | LeRaC's in reverse: lowest at the input (anti-curriculum) |

A schedule of your own is one function and one call:

```python
import keras_lerac

@keras_lerac.register_schedule("cosine_rise")
def cosine_rise(step, start_ratio, curriculum_steps, *, xp):
    progress = step / curriculum_steps
    return start_ratio + (1.0 - start_ratio) * 0.5 * (1.0 - xp.cos(3.141592653589793 * progress))
```

after which `LeRaC(..., schedule="cosine_rise")` uses it and the plan, the logger and the
plots name it. On one bucket LeRaC's schedules (and `"anti"`) equal conventional training,
and the plan says so; `"warmup"` still warms up.

**Checked when registered.** `register_schedule` runs the function once on 3 distinct
start ratios (1, 1e-2, 1e-4) for the steps 0 to 3 of K = 4: with NumPy (one ratio and
the vector, as the plan computes the rates on the host) and with `keras.ops` as the
optimizer's step runs it: traced by `tf.function` on TensorFlow and `jax.jit` on JAX,
eager on torch with tensors that need grad (they refuse NumPy, as a GPU tensor does, and
warn when made a Python float: an error here). Each run must give one finite multiplier
per start ratio. So a schedule written with `np.cos` or `math.cos` (it plans fine on the
host, then fails inside the traced step) is refused on every backend, and one returning
a scalar (one rate for every bucket) or a non-finite value too, each with one line naming
the schedule and what is wrong. On torch alone `math.cos` of the step would run (a 0-d
tensor becomes a float, a host sync per step); it is refused there too, so that a
schedule that passes the check runs on every backend. A schedule whose parameters have
no default is checked when `LeRaC` is given them (`schedule_params`). The package's own
schedules are tested instead (no check at import).

**Saved by name and module.** A saved model stores the schedule's name and, for a
schedule not built in, the module of its function (`schedule_module` in LeRaC's config).
Loading a model whose schedule is not registered in the process fails with one line:
`The schedule 'cosine_rise' is not registered: import my_schedules (which registers it)
before loading.` The `keras-lerac` command takes such modules with `--import MODULE` or
`--schedule MODULE:NAME`, and `keras-lerac plan --model saved.keras` imports the module
the file records (docs/cli.md, "Custom schedules").
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import math
from collections.abc import Callable, Sequence
from typing import Any

import keras
import numpy as np
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
            LeRaC's. A layout with a `lowest` parameter also gets the curriculum's lowest
            start ratio (`Schedule.start`).
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

    def start(self, ratios: Sequence[float], lowest: float | None = None) -> list[float]:
        """Each bucket's start ratio, from LeRaC's (bucket 0 nearest the input first).

        Args:
            ratios: LeRaC's start ratios.
            lowest: The curriculum's lowest start ratio (`min_learning_rate` over the
                reference rate), also on one bucket, where LeRaC's only ratio is 1;
                `min(ratios)` when not given. A layout that takes a `lowest` argument
                gets it (the warm-up control starts every bucket there).
        """
        ratios = [float(r) for r in ratios]
        if self.layout is None:
            return ratios
        lowest = min(ratios, default=1.0) if lowest is None else float(lowest)
        takes_lowest = "lowest" in inspect.signature(self.layout).parameters
        laid_out = self.layout(list(ratios), lowest=lowest) if takes_lowest else self.layout(list(ratios))
        laid_out = [float(r) for r in laid_out]
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

    @property
    def missing_params(self) -> tuple[str, ...]:
        """The keyword parameters of `fn` that have no default and `defaults` does not fill."""
        try:
            filled = self.resolve({}, _PROBE_RATIOS, _PROBE_STEPS) if self.defaults else {}
        except Exception:  # a `defaults` that needs parameters given: they are missing
            filled = {}
        return tuple(
            p.name
            for p in inspect.signature(self.fn).parameters.values()
            if p.kind is inspect.Parameter.KEYWORD_ONLY
            and p.name != "xp"
            and p.default is inspect.Parameter.empty
            and p.name not in filled
        )

    def check(self, params: dict | None = None) -> None:
        """Runs the schedule once as the plan and the optimizer's step run it, or raises.

        `fn` runs on 3 distinct start ratios (1, 1e-2, 1e-4) for the steps `0..K-1` of
        `K = 4`: with NumPy (the plan's host-side rates, also on one ratio) and with the
        backend's ops as the optimizer's step runs them (traced by `tf.function` on
        TensorFlow, `jax.jit` on JAX; eager on torch, with tensors that refuse
        conversion to NumPy, as a GPU tensor does). Each run must give one finite
        multiplier per start ratio.

        Args:
            params: The schedule's parameters (its defaults filled in here).

        Raises:
            ValueError: One line naming the schedule and what is wrong.
        """
        params = self.resolve(params, _PROBE_RATIOS, _PROBE_STEPS)
        self.start(_PROBE_RATIOS)  # a layout must give one start ratio per bucket
        vector = np.asarray(_PROBE_RATIOS, dtype=np.float64)
        on_host = (
            "It must run on NumPy floats and arrays as well (xp=numpy: the plan's host-side rates), "
            "elementwise in `start_ratio`."
        )
        on_device = (
            "Write it with the `xp` ops it is given (xp.cos, not np.cos or math.cos): in the "
            "optimizer's step `xp` is keras.ops, on tensors that are traced (TensorFlow, JAX) or "
            "may be on a GPU (torch)."
        )
        for how, run, ratios, hint in (
            ("NumPy (xp=numpy, one start ratio)", _numpy_runner, _PROBE_RATIOS[1], on_host),
            ("NumPy (xp=numpy)", _numpy_runner, vector, on_host),
            (f"the ops of the optimizer's step ({_backend_run_name()})", _backend_runner, vector, on_device),
        ):
            try:
                with np.errstate(all="ignore"):  # a non-finite value is reported below
                    values = run(self.fn, ratios, params)
            except Exception as error:  # the user's code: any error is the schedule's
                raise ValueError(
                    f"Schedule {self.name!r} failed when run with {how}: {_one_line(error)} {hint}"
                ) from None
            for t, value in enumerate(values):
                if np.shape(value) != np.shape(ratios):
                    raise ValueError(
                        f"Schedule {self.name!r} returned a multiplier of shape {np.shape(value)} for "
                        f"start ratios of shape {np.shape(ratios)} (run with {how}): it must return one "
                        "multiplier per start ratio, elementwise in `start_ratio` (a scalar would give "
                        "every bucket the same rate)."
                    )
                if not np.all(np.isfinite(value)):
                    raise ValueError(
                        f"Schedule {self.name!r} gave a non-finite multiplier {np.asarray(value).tolist()} "
                        f"at step {t} of K={_PROBE_STEPS} for start ratios {np.asarray(ratios).tolist()} "
                        f"(run with {how}): it must be finite for every start ratio in (0, 1], 1 included."
                    )


# The registration check's probe: 3 distinct start ratios (the first bucket's 1 among
# them) and a short curriculum, run at steps 0..K-1.
_PROBE_RATIOS = (1.0, 1e-2, 1e-4)
_PROBE_STEPS = 4


def _one_line(error: Exception) -> str:
    """`Type: message` on one line (TensorFlow heads a traced error with "in user code:"
    and ends it with the error itself: its last line then)."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    text = (lines[-1] if lines[0].endswith(":") else lines[0]) if lines else ""
    if not text.startswith(type(error).__name__):
        text = f"{type(error).__name__}: {text}"
    return text[:240].rstrip(".") + "."


def _numpy_runner(fn: Callable[..., Any], ratios: Any, params: dict) -> list:
    """`fn` on the host, as `Curriculum.rates_at` and `reach_step` run it."""
    return [fn(float(t), ratios, _PROBE_STEPS, xp=np, **params) for t in range(_PROBE_STEPS)]


def _backend_run_name() -> str:
    backend = keras.backend.backend()
    how = {"tensorflow": "traced by tf.function", "jax": "traced by jax.jit"}.get(backend, "eager")
    return f"keras.ops on {backend}, {how}"


@functools.cache
def _host_refusing_class() -> type:
    """A torch tensor class that raises when made a Python number, a bool or NumPy (made once)."""
    import torch

    class HostRefusingTensor(torch.Tensor):
        def _refuse(self, *args, **kwargs):
            raise TypeError(
                "the schedule made a Python or NumPy value of a tensor (math.*, np.*, float(), "
                "or an `if` on a tensor)"
            )

        __float__ = __int__ = __index__ = __bool__ = item = tolist = numpy = __array__ = _refuse

    return HostRefusingTensor


def _host_refusing(values: Any) -> Any:
    """`values` as a torch tensor that refuses to become a host value."""
    import torch

    return torch.as_tensor(np.asarray(values, dtype="float32")).as_subclass(_host_refusing_class())


def _backend_runner(fn: Callable[..., Any], ratios: Any, params: dict) -> list:
    """`fn` with `keras.ops` on float32 tensors, traced as the optimizer's step is."""

    def step_fn(step, start_ratios):
        return fn(step, start_ratios, _PROBE_STEPS, xp=ops, **params)

    backend = keras.backend.backend()
    ratios = np.asarray(ratios, dtype="float32")
    if backend == "tensorflow":
        import tensorflow as tf

        step_fn = tf.function(step_fn)
    elif backend == "jax":
        import jax

        step_fn = jax.jit(step_fn)
    if backend == "torch":
        # Eager on torch: tensors that refuse to become host values (a Python float, a
        # bool, a NumPy array), as a traced or a GPU tensor does, so np.cos, math.cos and
        # Python branches on the step fail here as they would in the step elsewhere.
        import torch

        start = _host_refusing(ratios)
        values = [step_fn(_host_refusing(np.float32(t)), start) for t in range(_PROBE_STEPS)]
        return [np.asarray(torch.as_tensor(v).as_subclass(torch.Tensor).detach().cpu()) for v in values]
    start = ops.convert_to_tensor(ratios)
    return [
        ops.convert_to_numpy(step_fn(ops.convert_to_tensor(np.float32(t)), start))
        for t in range(_PROBE_STEPS)
    ]


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
            LeRaC's ratios (bucket 0 nearest the input first); `layout(ratios, lowest)`
            also gets the curriculum's lowest start ratio (on one bucket too).
        defaults: Optional `defaults(params, ratios, curriculum_steps) -> params`
            filling in curriculum-dependent defaults.
        note: Optional line the plan prints about the schedule.
        overwrite: Replace a schedule already registered under `name`.

    Returns:
        `fn` (so the decorator leaves the function as it was), or the decorator.

    Raises:
        ValueError: The schedule fails its check (`Schedule.check`: run once with NumPy
            and with the backend's ops as the optimizer's step runs them, one finite
            multiplier per start ratio), or `name` is taken.

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
    schedule = Schedule(name, fn, layout, defaults, note)
    if not is_builtin(schedule) and not schedule.missing_params:
        schedule.check()  # else checked with its parameters when LeRaC is made (Settings)
    _REGISTRY[name] = schedule
    return fn


def is_builtin(schedule: Schedule) -> bool:
    """Whether `schedule` is one of the package's own (defined in this module)."""
    return getattr(schedule.fn, "__module__", None) == __name__


def registering_module(name: str) -> str | None:
    """The module of a registered schedule's function (`fn.__module__`), the one to import
    before loading a model saved with it; `None` for the package's own schedules."""
    schedule = get_schedule(name)
    return None if is_builtin(schedule) else getattr(schedule.fn, "__module__", None)


def get_schedule(name: str, module: str | None = None) -> Schedule:
    """The schedule registered under `name`; a `ValueError` listing the names if none is.

    Args:
        name: The schedule's name.
        module: The module that registered it, as a saved config records it
            (`registering_module`): the error then says to import it.
    """
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        if module == "__main__":
            raise ValueError(
                f"The schedule {name!r} is not registered: the script that saved the model (__main__) "
                "registered it; register it again (keras_lerac.register_schedule) before loading."
            ) from None
        if module:
            raise ValueError(
                f"The schedule {name!r} is not registered: import {module} (which registers it) "
                "before loading."
            ) from None
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


def lowest_everywhere(ratios: list[float], lowest: float | None = None) -> list[float]:
    """The warm-up control's layout: every bucket starts at the curriculum's lowest ratio.

    `lowest` is `min_learning_rate` over the reference rate whatever the bucket count:
    on a one-bucket model, where LeRaC's only ratio is 1, the warm-up still warms up.
    """
    return [min(ratios, default=1.0) if lowest is None else lowest] * len(ratios)


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
