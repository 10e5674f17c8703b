"""Timing LeRaC against the plain optimizer: paired rounds, their statistics, the checks.

`measure` times arms (a plain reference, its independent copy `plain2` as the noise
floor, LeRaC variants) in interleaved rounds in one process, in a Williams order;
`summarise` turns the rounds into paired ratios with distribution-free 95% CIs and
checks them against targets. The harnesses (`overhead`, `scaling`, `gpu`) differ only
in their models and arms: each resolves its mode's settings with `options` and measures
a model with `measure_model` (built once, every arm cloned from its initial weights).
"""

from __future__ import annotations

import gc
import math
import statistics
import time
from collections.abc import Callable, Sequence

REFERENCE_ARM = "plain"
FLOOR_ARM = "plain2"
LOGGER_TARGET = 1.01  # (lerac+logger) / lerac
# Optimizer state: plain's bytes + at most this many scalars per bucket (and 4 more).
SCALARS_PER_BUCKET = 4
SCALAR_BYTES = 8


# ---------------------------------------------------------------------- statistics
def median_ci(values: Sequence[float], confidence: float = 0.95) -> tuple[float, float]:
    """Distribution-free confidence interval of the median: two order statistics.

    With `n` values the interval is `[x_(k), x_(n+1-k)]` (sorted, 1-based), `k` the largest
    with `P(Binomial(n, 1/2) <= k - 1) <= (1 - confidence) / 2`. Under 6 values no
    `k >= 1` qualifies; the interval is then `[min, max]` (its coverage is lower).
    """
    xs = sorted(values)
    n = len(xs)
    if n == 0:
        raise ValueError("median_ci of no values")
    tail = (1.0 - confidence) / 2.0
    k, cumulative = 0, 0.0
    for j in range(n + 1):
        cumulative += math.comb(n, j) / 2.0**n  # P(B <= j)
        if cumulative > tail:
            break
        k = j + 1
    if k < 1:
        return xs[0], xs[-1]
    return xs[k - 1], xs[n - k]


def ratio_stats(values: Sequence[float]) -> dict:
    """Median, its 95% CI, min/max and count of a list of paired ratios."""
    values = [float(v) for v in values]
    lo, hi = median_ci(values)
    return {
        "median": statistics.median(values),
        "ci": [lo, hi],
        "spread": [min(values), max(values)],
        "n": len(values),
        "values": values,
    }


def round_order(arms: Sequence[str], r: int) -> list[str]:
    """The arms' order in round `r`: a Williams design (balanced for first-order carry-over).

    Row 0 is `0, 1, n-1, 2, n-2, ...`; row `k` adds `k` (mod n). For an odd number of arms
    the second half of the period is the mirrored square. Over one period (n rounds, 2n
    when n is odd) every arm takes every position equally often and directly follows
    every other arm equally often.
    """
    n = len(arms)
    if n <= 1:
        return list(arms)
    base, lo, hi = [0], 1, n - 1
    while len(base) < n:
        if len(base) % 2:
            base.append(lo)
            lo += 1
        else:
            base.append(hi)
            hi -= 1
    period = n if n % 2 == 0 else 2 * n
    k = r % period
    row = [(b + k) % n for b in base]
    if k >= n:
        row.reverse()
    return [arms[i] for i in row]


def williams_period(n: int) -> int:
    return n if n % 2 == 0 else 2 * n


def noise_of(value: float, ci: Sequence[float] | None, floor: dict | None) -> float:
    """How far the measurement could be off: the CI half-width or the floor's distance from 1."""
    noise = 0.0
    if ci is not None:
        noise = max(noise, value - ci[0], ci[1] - value)
    if floor is not None:
        noise = max(noise, abs(floor["ci"][0] - 1.0), abs(floor["ci"][1] - 1.0), abs(floor["median"] - 1.0))
    return noise


def check(value: float, target: float, ci=None, floor=None) -> dict:
    """A target check: PASS when value <= target; unresolved when the target lies within the noise."""
    noise = noise_of(value, ci, floor)
    return {
        "value": value,
        "target": target,
        "pass": bool(value <= target),
        "noise": noise,
        "resolved": bool(abs(value - target) > noise),
        "ci": list(ci) if ci is not None else None,
    }


# ---------------------------------------------------------------------- measuring
def optimizer_state(optimizer) -> tuple[int, int]:
    import numpy as np

    count, nbytes = 0, 0
    for v in optimizer.variables:
        count += 1
        nbytes += int(np.prod(v.shape, dtype=np.int64)) * np.dtype(v.dtype).itemsize
    return count, nbytes


def num_buckets(optimizer):
    from keras_lerac.optimizer import unwrap_loss_scale

    optimizer = unwrap_loss_scale(optimizer)
    return len(optimizer.bucket_optimizers) if hasattr(optimizer, "bucket_optimizers") else None


def _window_callback():
    import keras

    class Window(keras.callbacks.Callback):
        """Times the epoch's steps: from the first batch's start to the epoch's end.

        The clock starts at the first `on_train_batch_begin`, after Keras has set up the
        epoch's data iterator (tens of milliseconds on TensorFlow: the same for every arm,
        it would only dilute the ratios). No batch-END hook: those would switch off
        Keras' asynchronous callback dispatch; batch-begin hooks do not.
        """

        def on_epoch_begin(self, epoch, logs=None):
            self.start = None

        def on_train_batch_begin(self, batch, logs=None):
            if self.start is None:
                self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            # Block until the last update is done (JAX dispatches asynchronously).
            keras.ops.convert_to_numpy(self.model.trainable_variables[-1])
            self.seconds = time.perf_counter() - self.start

    return Window()


def timed_fit(model, callbacks, x, y, batch_size) -> tuple[float, float]:
    """(epoch window seconds, whole fit call seconds) of one block."""
    window = _window_callback()
    start = time.perf_counter()
    model.fit(x, y, batch_size=batch_size, epochs=1, verbose=0, shuffle=False, callbacks=[*callbacks, window])
    return window.seconds, time.perf_counter() - start


def options(
    settings: dict,
    rounds: int | None = None,
    steps: int | None = None,
    block_s: float | None = None,
    first_repeats: int | None = None,
) -> dict:
    """`measure`'s timing options: a mode's `settings` with the command line's overrides.

    An override of None (or 0) keeps the mode's `rounds`, `steps` and `first_repeats`
    (1 when the mode names none); `block_s` keeps the mode's only when None (0 is a value).
    """
    return {
        "rounds": rounds or settings["rounds"],
        "steps": steps or settings["steps"],
        "block_s": settings["block_s"] if block_s is None else block_s,
        "steps_range": settings["steps_range"],
        "first_repeats": first_repeats or settings.get("first_repeats", 1),
    }


def measure_model(
    build: Callable[[], object],
    make: Callable[[str, object, list], tuple],
    arms: Sequence[str],
    data: Callable[[int], tuple],
    batch: int,
    **kwargs,
) -> tuple[str, dict]:
    """`measure` on one model, built once from seed 0: every arm starts from its weights.

    Args:
        build: `build() -> model`, called after `keras.utils.set_random_seed(0)`.
        make: `make(arm, model, weights) -> (compiled model, callbacks)`: a fresh clone
            of `model` with `weights`, per call.
        arms, data, batch, kwargs: As for `measure`.

    Returns:
        The built model's name and `measure`'s dict. The Keras session is cleared (and
        the garbage collected) afterwards, so the next model starts from a clean slate.
    """
    import keras

    def build_and_measure():
        keras.utils.set_random_seed(0)
        base = build()
        weights = base.get_weights()
        return base.name, measure(lambda arm: make(arm, base, weights), arms, data, batch, **kwargs)

    try:
        return build_and_measure()
    finally:
        # The model and its weights went with build_and_measure's frame: now collect them.
        keras.utils.clear_session()
        gc.collect()


def step_times(row: dict) -> str:
    """`plain 1.23 ms, lerac 1.25 ms, ...`: each arm's median step time, for a progress line."""
    return ", ".join(f"{arm} {a['step_ms_median']:.2f} ms" for arm, a in row["arms"].items())


def measure(
    make: Callable[[str], tuple],
    arms: Sequence[str],
    data: Callable[[int], tuple],
    batch: int,
    *,
    first_steps: int,
    rounds: int,
    steps: int | None = None,
    block_s: float = 0.4,
    steps_range: tuple[int, int] = (3, 400),
    first_repeats: int = 1,
    rotate: int = 0,
    log: Callable[[str], None] | None = None,
) -> dict:
    """Measures `arms` against each other in this process; returns the row's measurements.

    Args:
        make: `make(arm) -> (compiled model, callbacks)`, a fresh model per call.
        arms: The arms, `plain` (the reference) first by convention.
        data: `data(steps) -> (x, y)`, exactly `steps` batches.
        batch: Batch size.
        first_steps: Batches of the first (compiling) fit and of the warm-up block.
        rounds: Timed rounds (Williams order).
        steps: Steps per timed block; None: calibrated so a block takes about `block_s`
            seconds of the plain arm, clipped to `steps_range`.
        first_repeats: How many times every arm is built and its first epoch timed.
        rotate: Offset of the first-epoch order (vary it between rows).
        log: Progress messages.

    Returns:
        `{"arms": {arm: {...}}, "steps", "rounds", "first_steps", "first_repeats",
        "orders", "calibration_ms", "buckets"}`.
    """
    arms = list(arms)
    results = {arm: {"first_epoch_s_all": [], "step_ms": [], "fit_ms_per_step": []} for arm in arms}
    x_first, y_first = data(first_steps)
    built: dict = {}
    buckets = None
    for k in range(max(1, first_repeats)):
        built.clear()
        gc.collect()
        for arm in round_order(arms, rotate + k):
            model, callbacks = make(arm)
            _, whole = timed_fit(model, callbacks, x_first, y_first, batch)
            results[arm]["first_epoch_s_all"].append(whole)
            built[arm] = (model, callbacks)
    for arm, (model, _) in built.items():
        a = results[arm]
        a["first_epoch_s"] = statistics.median(a["first_epoch_s_all"])
        a["opt_vars"], a["opt_bytes"] = optimizer_state(model.optimizer)
        a["jit_compile"] = bool(model.jit_compile)
        a["buckets"] = num_buckets(model.optimizer)
        if a["buckets"] is not None and buckets is None:
            buckets = a["buckets"]
    # Warm-up block (untimed) for every arm; the plain arms' step time sizes the blocks.
    warm = {}
    for arm in arms:
        model, callbacks = built[arm]
        window, _ = timed_fit(model, callbacks, x_first, y_first, batch)
        warm[arm] = window / first_steps
    reference = [warm[a] for a in (REFERENCE_ARM, FLOOR_ARM) if a in warm] or list(warm.values())
    per_step = min(reference)
    if steps is None:
        lo, hi = steps_range
        steps = int(min(hi, max(lo, math.ceil(block_s / max(per_step, 1e-9)))))
    x, y = data(steps)
    if steps != first_steps:
        # One more untimed block per arm on the timed data, so whatever a new data size
        # costs once (a retrace, a new buffer) lands on no timed round.
        for arm in arms:
            timed_fit(*built[arm], x, y, batch)
    orders = []
    for r in range(rounds):
        order = round_order(arms, r)
        orders.append(order)
        gc.collect()
        for arm in order:
            model, callbacks = built[arm]
            window, whole = timed_fit(model, callbacks, x, y, batch)
            results[arm]["step_ms"].append(1000.0 * window / steps)
            results[arm]["fit_ms_per_step"].append(1000.0 * whole / steps)
    for a in results.values():
        a["step_ms_median"] = statistics.median(a["step_ms"])
        a["step_ms_min"] = min(a["step_ms"])
    if log:
        log(f"  {steps} steps x {rounds} rounds (warm-up {1000 * per_step:.2f} ms/step)")
    built.clear()
    return {
        "arms": results,
        "steps": steps,
        "rounds": rounds,
        "first_steps": first_steps,
        "first_repeats": max(1, first_repeats),
        "orders": orders,
        "calibration_ms": 1000.0 * per_step,
        "buckets": buckets,
    }


CHECKED = (("lerac", ""), ("lerac-after", "_after"))  # (arm, suffix of its checks)


def summarise(row: dict, targets: dict, checked: Sequence[tuple[str, str]] = CHECKED) -> None:
    """Adds `ratios`, `floor` and `checks` to a row (arms measured by `measure`).

    `ratios["<arm>/plain"]` is the median over rounds of the paired ratio arm / plain;
    `"<arm>/plain ci"` its 95% CI; `"of medians"` and `"of mins"` the ratios of the arms'
    medians and minimums; `"first_epoch <arm>/plain"` the median over first-epoch
    repeats. `floor` holds the same statistics of `plain2` / `plain`. Each arm of `checked`
    gets checks against `targets` (`{"step", "first_epoch"}`): `step_time`,
    `first_epoch` and `opt_bytes`, with the arm's suffix.
    """
    arms = row["arms"]
    plain = arms[REFERENCE_ARM]
    row["targets"] = dict(targets)
    ratios, stats = {}, {}
    for arm, a in arms.items():
        if arm == REFERENCE_ARM:
            continue
        step = ratio_stats([x / p for x, p in zip(a["step_ms"], plain["step_ms"])])
        first = ratio_stats([x / p for x, p in zip(a["first_epoch_s_all"], plain["first_epoch_s_all"])])
        stats[arm] = {"step": step, "first_epoch": first}
        ratios[f"{arm}/plain"] = step["median"]
        ratios[f"{arm}/plain ci"] = step["ci"]
        ratios[f"{arm}/plain of medians"] = a["step_ms_median"] / plain["step_ms_median"]
        ratios[f"{arm}/plain of mins"] = a["step_ms_min"] / plain["step_ms_min"]
        ratios[f"first_epoch {arm}/plain"] = first["median"]
        ratios[f"first_epoch {arm}/plain all"] = first["values"]
    floor = stats.get(FLOOR_ARM)
    row["floor"] = floor
    checks = {}
    for arm, suffix in checked:
        if arm not in stats:
            continue
        s = stats[arm]
        checks["step_time" + suffix] = check(
            s["step"]["median"], targets["step"], s["step"]["ci"], floor and floor["step"]
        )
        fe_ci = s["first_epoch"]["ci"] if s["first_epoch"]["n"] > 1 else None
        checks["first_epoch" + suffix] = check(
            s["first_epoch"]["median"], targets["first_epoch"], fe_ci, floor and floor["first_epoch"]
        )
        extra = arms[arm]["opt_bytes"] - plain["opt_bytes"]
        allowed = SCALARS_PER_BUCKET * SCALAR_BYTES * ((row.get("buckets") or 1) + 1)
        checks["opt_bytes" + suffix] = {
            "value": extra,
            "target": allowed,
            "pass": bool(0 <= extra <= allowed),
        }
    if "lerac+logger" in arms and "lerac" in arms:
        pairs = [g / le for g, le in zip(arms["lerac+logger"]["step_ms"], arms["lerac"]["step_ms"])]
        logger = ratio_stats(pairs)
        ratios["lerac+logger/lerac"] = logger["median"]
        checks["logger"] = check(logger["median"], LOGGER_TARGET, logger["ci"], floor and floor["step"])
    row["ratios"] = ratios
    row["checks"] = checks
