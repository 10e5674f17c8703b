"""The curriculum plan: one row per LeRaC bucket, available before training."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras
import numpy as np
from keras import ops

from keras_lerac.depth import check_built
from keras_lerac.optimizer import LeRaC, find_lerac
from keras_lerac.schedules import get_schedule

__all__ = ["plan", "plan_rows"]

_SUGGESTED = {"curriculum_steps": "K", "min_learning_rate": "start rates"}


def _prepare(model: keras.Model | None, optimizer: Any) -> LeRaC:
    if optimizer is None and model is not None:
        optimizer = getattr(model, "optimizer", None)
    opt = find_lerac(optimizer)
    if opt.built or _planned(opt):
        return opt
    if model is None:
        raise ValueError(
            "The LeRaC optimizer is not built and no model was given: pass the model "
            "(plan(model, optimizer)) or build the optimizer first "
            "(`opt.build(model.trainable_variables)`)."
        )
    check_built(model)
    opt.build(model.trainable_variables)
    return opt


def _planned(opt: LeRaC) -> bool:
    """Whether the unbuilt `opt` has its buckets already: from the model given as `model=`."""
    try:
        _ = opt.curriculum
    except ValueError:
        return False
    return True


def plan_rows(model: keras.Model | None, optimizer: Any) -> list[dict]:
    """The curriculum plan as data: one dict per bucket, bucket 0 nearest the input.

    Args:
        model: The model being trained, or `None` when `optimizer` is built. Layer
            names come from the optimizer's buckets (`opt.bucket_layers`).
        optimizer: A `LeRaC` optimizer, or a `LossScaleOptimizer` around one (or `None`
            to use `model.optimizer`). Given `model=`, it need not be built (its buckets
            come from that model); otherwise an unbuilt one is built on
            `model.trainable_variables`.

    Returns:
        A list of dicts with keys `bucket` (int), `layers` (layer names, in order),
        `variables` (variable paths), `params` (int), `start_ratio`, `start_rate`
        (`start_ratio` times the reference rate: `learning_rates_at(0)` unless the base
        schedule warms up), `mid_step` (`K // 2`), `mid_rate`
        (`learning_rates_at(K // 2)`), `end_rate` (`learning_rates_at(K)`) and
        `reach_step` (first iteration where the bucket's multiplier is within 1e-6 of 1,
        i.e. its rate equals the base rate).

    Example:

    ```python
    import keras
    import keras_lerac

    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(8), keras.layers.Dense(2)])
    opt = keras_lerac.LeRaC(keras.optimizers.SGD(0.1), min_learning_rate=1e-6,
                            curriculum_steps=500, model=model)
    rows = keras_lerac.plan_rows(model, opt)
    rows[-1]["start_rate"]   # 1e-06, == opt.learning_rates_at(0)[-1]
    ```
    """
    return _rows(_prepare(model, optimizer))


def _rows(opt: LeRaC) -> list[dict]:
    buckets = opt.buckets
    curriculum = opt.curriculum
    k = curriculum.steps
    mid = k // 2
    middle, end = curriculum.rates_at(mid), curriculum.rates_at(k)
    start = curriculum.start_rates
    rows = []
    for j, (variables, layers) in enumerate(zip(buckets, opt.bucket_layers)):
        rows.append(
            {
                "bucket": j,
                "layers": layers,
                "variables": [getattr(v, "path", v.name) for v in variables],
                "params": int(sum(int(np.prod(v.shape)) for v in variables)),
                "start_ratio": float(curriculum.start_ratios[j]),
                "layer_factor": float(curriculum.bucket_factors[j]),
                "start_rate": start[j],
                "mid_step": mid,
                "mid_rate": middle[j],
                "end_rate": end[j],
                "reach_step": curriculum.reach_step(j),
            }
        )
    return rows


def _abbreviate(names: list[str], width: int) -> str:
    text = ", ".join(names)
    if len(text) <= width:
        return text
    shown: list[str] = []
    for name in names:
        rest = len(names) - len(shown) - 1
        candidate = ", ".join(shown + [name]) + (f", ... (+{rest})" if rest else "")
        if len(candidate) > width:
            break
        shown.append(name)
    if not shown:
        first = names[0]
        more = f" (+{len(names) - 1})" if len(names) > 1 else ""
        return first[: max(1, width - len(more) - 3)] + "..." + more
    return ", ".join(shown) + f", ... (+{len(names) - len(shown)})"


def _describe_base(opt: LeRaC) -> str:
    curriculum = opt.curriculum
    base = curriculum.base
    if isinstance(base, keras.optimizers.schedules.LearningRateSchedule):
        at_zero = float(ops.convert_to_numpy(base(0)))
        return (
            f"{type(base).__name__} (at step 0: {at_zero:.4g}; start rates are fractions of "
            f"{curriculum.reference:.4g})"
        )
    return f"{float(base):.4g}"


def _schedule_note(opt: LeRaC) -> str:
    """What the schedule does on this model: the controls say they are not LeRaC, and a
    curriculum that leaves every bucket at the base rate says it is conventional training."""
    curriculum = opt.curriculum
    note = get_schedule(curriculum.schedule).note
    if curriculum.steps == 0 or all(r == 1.0 for r in curriculum.start_ratios):
        if curriculum.steps == 0:
            why = "K = 0"
        elif curriculum.num_buckets == 1:
            why = "one bucket, at the base rate from step 0"
        else:
            why = "every bucket starts at the base rate"
        same = f"equals conventional training here: {why}"
        if any(d != 1.0 for d in curriculum.bucket_factors):
            same = f"no curriculum here: {why} (the layer decay still applies)"
        return f"({curriculum.schedule}: {same}{f'; elsewhere {note}' if note else ''})"
    return f"({curriculum.schedule}: {note})" if note else ""


def plan(
    model: keras.Model | None, optimizer: Any = None, print_fn: Callable[[str], Any] | None = None
) -> str:
    """Prints the curriculum plan, like `model.summary()`: one row per bucket.

    Each row shows the bucket index (0 nearest the input), its layers (abbreviated when
    many), its parameter count, its start rate, its rate at iteration `K // 2`, and the
    iteration where it reaches the base rate. Works before training: with `model=`
    given to LeRaC the buckets come from that model, and an optimizer without it is
    built on `model.trainable_variables`.

    Args:
        model: The (built) model, or `None` if the optimizer is built.
        optimizer: A `LeRaC` optimizer (or a `LossScaleOptimizer` around one); `None`
            uses `model.optimizer`.
        print_fn: Called with the table. Defaults to `print`.

    Returns:
        The table as a string.

    Example:

    ```python
    import keras
    import keras_lerac

    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(8), keras.layers.Dense(2)])
    opt = keras_lerac.LeRaC(keras.optimizers.SGD(0.1, momentum=0.9),
                            min_learning_rate=1e-6, curriculum_steps=500, model=model)
    keras_lerac.plan(model, opt)
    ```
    """
    opt = _prepare(model, optimizer)
    rows = _rows(opt)
    settings = opt.settings
    k = settings.curriculum_steps
    mid = k // 2
    inner = opt.get_config()["optimizer"]["class_name"] if rows else "none"
    title = f"LeRaC curriculum plan{f' for {model.name!r}' if model is not None else ''}"
    info = (
        f"schedule={settings.schedule}  K={k} iterations  base rate={_describe_base(opt)}  "
        f"buckets={len(rows)}  inner optimizer={inner}"
    )
    notes = [note] if (note := _schedule_note(opt)) else []
    if settings.suggested:
        chosen = " and ".join(_SUGGESTED[s] for s in settings.suggested)
        notes.append(f"({chosen} suggested for {settings.total_steps} steps)")
    decayed = settings.layer_decay is not None
    if decayed:
        info += f"  layer_decay={settings.layer_decay:g}"
    headers = ["Bucket", "Layers", "Params", "Start rate", f"Rate at {mid}", "Reaches base at"]
    layer_width = 44
    cells = [
        [
            str(r["bucket"]),
            _abbreviate(r["layers"], layer_width),
            f"{r['params']:,}",
            f"{r['start_rate']:.3e}",
            f"{r['mid_rate']:.3e}",
            str(r["reach_step"]),
        ]
        for r in rows
    ]
    if decayed:  # the fixed factor, and the full rate is the factor times the base rate
        headers[-1] = "Full rate at"
        headers.insert(3, "Layer factor")
        for r, c in zip(rows, cells):
            c.insert(3, f"{r['layer_factor']:.3g}")
    widths = [max([len(h)] + [len(c[i]) for c in cells]) for i, h in enumerate(headers)]
    right = set(range(len(headers))) - {1}

    def line(values):
        return "  ".join(
            v.rjust(w) if i in right else v.ljust(w) for i, (v, w) in enumerate(zip(values, widths))
        )

    total_width = max(len(line(headers)), len(info), len(title))
    total_params = sum(r["params"] for r in rows)
    out = [
        title,
        info,
        *notes,
        "=" * total_width,
        line(headers),
        "-" * total_width,
        *(line(c) for c in cells),
        "=" * total_width,
        f"Total trainable params: {total_params:,}",
    ]
    table = "\n".join(out)
    (print_fn or print)(table)
    return table
