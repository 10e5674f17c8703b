#!/usr/bin/env python
"""Per-step overhead of LeRaC against the plain optimizer, on every Keras backend.

Usage::

    python benchmarks/overhead.py [--backends tensorflow,jax,torch] [--quick|--tiny]
                                  [--output DIR] [--rounds R] [--block-seconds S] [--steps N]
                                  [--first-repeats F] [--threads N] [--optimizers sgd,adam]
                                  [--models cnn,mlp,mlp96] [--arms ARM,...] [--memory]

The driver spawns one worker process per backend (`KERAS_BACKEND` set in the child's
environment; the child runs this same file with `--worker BACKEND`), collects the JSON
each worker writes, and writes `DIR/overhead.json` and `DIR/overhead.md`.
`benchmarks/scaling.py` and `benchmarks/gpu.py` reuse its functions.

What a worker measures, for each model x base optimizer (a "row"):

- Models: `cnn` (`resnet_small`, the residual CNN, 15 buckets, batch 64), `mlp` (24
  Dense(64) layers and a head, 25 buckets, batch 128) and `mlp96` (96 Dense(32) layers
  and a head, 97 buckets, batch 128). Base optimizers: SGD(0.1, momentum 0.9) and
  Adam(1e-3).
- Arms: `plain` (the base optimizer), `plain2` (a second, independent copy of `plain`:
  its own clone, compile and trace; its ratio to `plain` is the noise floor), `lerac`
  (LeRaC around the same base optimizer, one bucket per depth level, `curriculum_steps`
  so large that the curriculum is active throughout) and `lerac-after` (the same with
  `curriculum_steps=1`: the curriculum is over from the second step on, so this is the
  cost after the curriculum). On request (`--arms`): `lerac+logger` (LeRaC plus
  `keras_lerac.CurriculumLogger`) and `cbs` (`keras_lerac.add_smoothing(model)` with the
  plain optimizer and a `SmoothingSchedule`; CNN only).
- Every arm starts from the same initial weights (the model is built once; each arm
  clones it and loads those weights) and trains on the same fixed random data held in
  memory as NumPy arrays. Each arm is compiled once, with the backend's default
  `jit_compile` (TF: what Keras' "auto" picks, JAX: jit, torch: eager).
- Before the first row, a throwaway model is trained once with the plain optimizer and
  with LeRaC, so one-time costs of the process (lazy imports, backend start-up) land on
  no arm.
- First epoch: the first `fit` call of each arm (`first_steps` batches: tracing,
  compiling and those steps) is timed on its own, from the call to its return. The arms
  are compiled in a rotating order (a different one each row and repeat);
  `--first-repeats F` builds and times every arm F times and reports the median of the
  paired ratios.
- Calibration: one untimed warm-up block per arm; from the plain arms' step time the
  worker picks the number of steps of a timed block (about `--block-seconds`, within
  `steps_range`), the same for every arm of the row (`--steps N` fixes it instead), and
  runs one more untimed block per arm on data of that size.
- Rounds are interleaved in one process, in the order of a Williams design (a balanced
  Latin square: over a full period each arm runs in every position equally often and
  follows every other arm equally often), so slow drift of the machine and carry-over
  from the previous arm hit every arm alike. The garbage collector runs before each
  round (outside the clock).
- A timed block is `model.fit(x, y, batch_size, epochs=1, verbose=0, shuffle=False)` on
  exactly `steps` batches. The clock runs from `on_epoch_begin` to `on_epoch_end` of a
  timing callback that blocks on the weights at the end (so JAX's async dispatch and a
  GPU's queue are included) and has no batch hooks (so Keras' asynchronous callback
  dispatch stays as it is for the arm). Step time = block time / steps.
- Ratios: for each arm and round, arm / plain of the same round (a paired ratio); the
  reported ratio is the MEDIAN of the paired ratios over rounds, with a distribution-free
  95% confidence interval of that median (order statistics). The noise floor is the
  same statistic for `plain2` / `plain`: two arms that do identical work.
- Targets (the issue's): LeRaC/plain step time <= 1.02 (CNN), <= 1.03 (both MLPs);
  first epoch <= 1.10 (CNN, 24-layer MLP), <= 1.15 (96-layer MLP); optimizer state =
  the plain optimizer's plus at most a few scalars per bucket. A verdict is PASS when the
  median ratio is <= the target, MISS otherwise, and marked unresolved (`PASS?`,
  `MISS?`) when the target lies within the noise: |ratio - target| <= the larger of the
  ratio's CI half-width and the noise floor's distance from 1.
- Optimizer state: the number of `optimizer.variables` and their bytes
  (sum of size * itemsize) of each arm.
- Peak memory (only with `--memory`; Adam rows, plain and LeRaC arms): each arm is run
  again in a fresh subprocess that builds the model and data, reads `ru_maxrss`, compiles
  and trains two blocks, and reads `ru_maxrss` again; the growth of the process' peak
  RSS is reported (CPU memory; on an accelerator this would not see device memory).
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

ALL_BACKENDS = ("tensorflow", "jax", "torch")
CORE_ARMS = ("plain", "plain2", "lerac", "lerac-after")
EXTRA_ARMS = ("lerac+logger", "cbs")
ARMS = CORE_ARMS + EXTRA_ARMS
REFERENCE_ARM = "plain"
FLOOR_ARM = "plain2"
OPTIMIZERS = ("sgd", "adam")
MODELS = ("cnn", "mlp", "mlp96")

# The issue's targets: LeRaC / plain, per model.
TARGETS = {
    "cnn": {"step": 1.02, "first_epoch": 1.10},
    "mlp": {"step": 1.03, "first_epoch": 1.10},
    "mlp96": {"step": 1.03, "first_epoch": 1.15},
}
LOGGER_TARGET = 1.01  # (lerac+logger) / lerac
# LeRaC may add "a few scalars per bucket" to the plain optimizer's state.
SCALARS_PER_BUCKET = 4
SCALAR_BYTES = 8

# (depth, width) of the MLPs; tiny ones for the tests.
MLP_SHAPES = {"mlp": (24, 64), "mlp96": (96, 32)}
TINY_MLP_SHAPES = {"mlp": (4, 16), "mlp96": (8, 8)}

MODES = {
    # rounds: timed rounds per row (a multiple of the Williams period keeps the design
    # balanced: 4 for the four core arms); block_s: target seconds of a timed block;
    # steps: fixed steps per block (None: calibrated to block_s within steps_range);
    # first_steps: batches of the first (compiling) fit and of the warm-up block;
    # warm_up: train throwaway models first (see warm_up_process).
    "full": {
        "rounds": 20,
        "block_s": 0.4,
        "steps": None,
        "steps_range": (3, 400),
        "first_steps": {"cnn": 2, "mlp": 10, "mlp96": 5},
        "first_repeats": 1,
        "warm_up": True,
        "tiny": False,
        "optimizers": ("sgd", "adam"),
    },
    "quick": {
        "rounds": 8,
        "block_s": 0.2,
        "steps": None,
        "steps_range": (2, 200),
        "first_steps": {"cnn": 2, "mlp": 10, "mlp96": 5},
        "first_repeats": 1,
        "warm_up": True,
        "tiny": False,
        "optimizers": ("sgd",),
    },
    "tiny": {
        "rounds": 2,
        "block_s": 0.0,
        "steps": 2,
        "steps_range": (2, 2),
        "first_steps": {},
        "first_repeats": 1,
        "warm_up": False,
        "tiny": True,
        "optimizers": ("sgd", "adam"),
    },
}
DEFAULT_FIRST_STEPS = 5  # models not in a mode's first_steps (scaling.py's MLPs)
TINY_FIRST_STEPS = 2

BATCH = {"cnn": 64}
DEFAULT_BATCH = 128
# Fresh-process memory probes cost an import + compile each: only where state differs most.
MEMORY_OPTIMIZERS = ("adam",)
MEMORY_ARMS = ("plain", "lerac")
MLP_FEATURES = 64
NUM_CLASSES = 10
MLP_DEPTH, MLP_WIDTH = MLP_SHAPES["mlp"]  # for profile_apply.py and older callers


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


# ---------------------------------------------------------------------- helpers
def machine_info() -> dict:
    from keras_lerac.experiments.report import machine_info as info

    return info()


def optional_modules() -> tuple[dict, list[str]]:
    """The callables of the CBS and logger arms."""
    from keras_lerac import CurriculumLogger, SmoothingSchedule, add_smoothing

    found = {"add_smoothing": add_smoothing, "SmoothingSchedule": SmoothingSchedule}
    found["CurriculumLogger"] = CurriculumLogger
    return found, []


def build_model(kind: str, tiny: bool = False):
    """`cnn`: the residual CNN; `mlp` / `mlp96`: the deep thin MLPs; or a family name
    such as `mlp_d63_w32` (`keras_lerac.experiments.models.get_model`, 64 input features)."""
    from keras_lerac.experiments import models

    if kind == "cnn":
        if tiny:
            return models.resnet_small((16, 16, 3), NUM_CLASSES, widths=(8,))
        return models.resnet_small((32, 32, 3), NUM_CLASSES)
    if kind in MLP_SHAPES:
        depth, width = (TINY_MLP_SHAPES if tiny else MLP_SHAPES)[kind]
        return models.mlp((MLP_FEATURES,), NUM_CLASSES, depth=depth, width=width)
    try:
        models.check_model_name(kind)
    except ValueError:
        raise ValueError(f"unknown model {kind!r}") from None
    return models.get_model(kind, (MLP_FEATURES,), NUM_CLASSES)


def batch_size(kind: str) -> int:
    return BATCH.get(kind, DEFAULT_BATCH)


def make_data(kind: str, steps: int, tiny: bool = False, batch: int | None = None):
    import numpy as np

    rng = np.random.default_rng(1234)
    n = steps * (batch or batch_size(kind))
    if kind == "cnn":
        size = 16 if tiny else 32
        x = rng.standard_normal((n, size, size, 3), dtype=np.float32)
    else:
        x = rng.standard_normal((n, MLP_FEATURES), dtype=np.float32)
    y = rng.integers(0, NUM_CLASSES, size=(n,)).astype("int32")
    return x, y


def base_optimizer(name: str):
    import keras

    if name == "sgd":
        return keras.optimizers.SGD(0.1, momentum=0.9)
    if name == "adam":
        return keras.optimizers.Adam(1e-3)
    raise ValueError(f"unknown optimizer {name!r}")


MIN_RATE = {"sgd": 1e-6, "adam": 1e-7}
CURRICULUM_STEPS = 10**9  # active for the whole benchmark
AFTER_CURRICULUM_STEPS = 1  # over from the second step on (t >= K)


def make_arm(arm: str, base_model, weights, opt_name: str, extras: dict | None = None):
    """A freshly cloned, compiled model for one arm, and its callbacks."""
    import keras

    from keras_lerac import LeRaC

    if arm not in ARMS:
        raise ValueError(f"unknown arm {arm!r}; choose from {ARMS}")
    if extras is None:
        extras, _ = optional_modules()
    model = keras.models.clone_model(base_model)
    model.set_weights(weights)
    callbacks = []
    if arm == "cbs":
        model = extras["add_smoothing"](model)
        callbacks.append(extras["SmoothingSchedule"]())
    optimizer = base_optimizer(opt_name)
    if arm.startswith("lerac"):
        k = AFTER_CURRICULUM_STEPS if arm == "lerac-after" else CURRICULUM_STEPS
        optimizer = LeRaC(optimizer, min_learning_rate=MIN_RATE[opt_name], curriculum_steps=k, model=model)
    if arm == "lerac+logger":
        callbacks.append(extras["CurriculumLogger"]())
    model.compile(optimizer=optimizer, loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model, callbacks


def arms_for(kind: str, arms: Sequence[str] = CORE_ARMS, extras: dict | None = None) -> list[str]:
    """The requested arms that apply to `kind` (CBS: convolutional models only)."""
    extras = extras or {}
    out = []
    for arm in arms:
        if arm == "cbs" and (not kind.startswith("cnn") or "add_smoothing" not in extras):
            continue
        if arm == "lerac+logger" and "CurriculumLogger" not in extras:
            continue
        out.append(arm)
    return out


def unwrap(optimizer):
    """The optimizer inside a `LossScaleOptimizer` (mixed precision), else itself."""
    while hasattr(optimizer, "inner_optimizer"):
        optimizer = optimizer.inner_optimizer
    return optimizer


def optimizer_state(optimizer) -> tuple[int, int]:
    import numpy as np

    count, nbytes = 0, 0
    for v in optimizer.variables:
        count += 1
        nbytes += int(np.prod(v.shape, dtype=np.int64)) * np.dtype(v.dtype).itemsize
    return count, nbytes


def num_buckets(optimizer):
    optimizer = unwrap(optimizer)
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


def maxrss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def thread_env(threads: int | None) -> dict:
    """Environment that limits every backend to `threads` intra-op threads (None: defaults)."""
    if not threads:
        return {}
    n = str(threads)
    return {
        "OMP_NUM_THREADS": n,
        "MKL_NUM_THREADS": n,
        "OPENBLAS_NUM_THREADS": n,
        "TF_NUM_INTRAOP_THREADS": n,
        "TF_NUM_INTEROP_THREADS": "1",
        "XLA_FLAGS": (os.environ.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_eigen=false").strip(),
    }


def apply_threads(backend: str, threads: int | None) -> None:
    """In a worker, before any op runs: pin the backend's intra-op thread pool."""
    if not threads:
        return
    if backend == "torch":
        import torch

        torch.set_num_threads(threads)
        try:
            torch.set_num_interop_threads(1)
        except RuntimeError:  # already started
            pass
    elif backend == "tensorflow":
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)


def worker_header(backend: str, mode: str) -> dict:
    """The first keys of a worker's report; refuses to run on another backend than `backend`."""
    import keras

    if keras.backend.backend() != backend:
        raise RuntimeError(f"worker for {backend} runs on backend {keras.backend.backend()}")
    return {
        "backend": backend,
        "backend_version": backend_version(backend),
        "keras_version": keras.__version__,
        "mode": mode,
    }


def backend_version(backend: str) -> str:
    try:
        module = __import__({"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}[backend])
        return module.__version__
    except Exception:  # noqa: BLE001
        return "?"


_backend_version = backend_version


def warm_up_process(conv: bool = False, log=None) -> float:
    """Trains a throwaway MLP (and, with `conv`, a small residual CNN) once plainly and once
    with LeRaC; returns the seconds it took.

    The first model a process trains pays one-time costs (lazy imports of Keras' trainer
    and of keras_lerac, the backend's start-up, the first use of its convolution and
    batch-norm kernels); this puts them on no measured arm.
    """
    import keras

    from keras_lerac.experiments import models

    start = time.perf_counter()
    keras.utils.set_random_seed(0)
    throwaway = [(models.mlp((MLP_FEATURES,), NUM_CLASSES, depth=2, width=8), "mlp")]
    if conv:
        throwaway.append((models.resnet_small((16, 16, 3), NUM_CLASSES, widths=(4,)), "cnn"))
    for base, kind in throwaway:
        weights = base.get_weights()
        x, y = make_data(kind, 2, tiny=True, batch=8)
        for arm in ("plain", "lerac"):
            model, callbacks = make_arm(arm, base, weights, "sgd", extras={})
            timed_fit(model, callbacks, x, y, 8)
    del model, base, throwaway
    keras.utils.clear_session()
    gc.collect()
    seconds = time.perf_counter() - start
    if log:
        log(f"warm-up {seconds:.1f} s")
    return seconds


# ---------------------------------------------------------------------- measuring
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


def summarise(row: dict, targets: dict | None = None, checked: Sequence[tuple[str, str]] = CHECKED) -> None:
    """Adds `ratios`, `floor` and `checks` to a row (arms measured by `measure`).

    `ratios["<arm>/plain"]` is the median over rounds of the paired ratio arm / plain;
    `"<arm>/plain ci"` its 95% CI; `"of medians"` and `"of mins"` the ratios of the arms'
    medians and minimums; `"first_epoch <arm>/plain"` the median over first-epoch
    repeats. `floor` holds the same statistics of `plain2` / `plain`. Each arm of `checked`
    gets checks against `targets` (default: `targets_for` the row's model): `step_time`,
    `first_epoch` and `opt_bytes`, with the arm's suffix.
    """
    arms = row["arms"]
    plain = arms[REFERENCE_ARM]
    if targets is None:
        targets = targets_for(row.get("model", ""), row.get("buckets"))
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


def targets_for(kind: str, buckets: int | None = None) -> dict:
    """The issue's targets for `kind`; for other MLPs (scaling.py), the MLP step target and
    the first-epoch target of the MLP with the nearest bucket count at or below (1.10 up to
    25 buckets, 1.15 beyond: the 96-layer MLP's, extrapolated past 97 buckets)."""
    if kind in TARGETS:
        return dict(TARGETS[kind])
    return {"step": TARGETS["mlp"]["step"], "first_epoch": 1.10 if (buckets or 0) <= 25 else 1.15}


def _ratios_and_checks(row: dict) -> None:  # the name older callers use
    summarise(row)


def first_steps_for(settings: dict, kind: str) -> int:
    if settings["tiny"]:
        return TINY_FIRST_STEPS
    return settings["first_steps"].get(kind, DEFAULT_FIRST_STEPS)


# ---------------------------------------------------------------------- worker
def run_worker(
    backend: str,
    mode: str,
    rounds: int | None = None,
    steps: int | None = None,
    memory: bool | None = None,
    optimizers=None,
    models=MODELS,
    log=print,
    arms: Sequence[str] = CORE_ARMS,
    block_s: float | None = None,
    first_repeats: int | None = None,
) -> dict:
    """Runs every measurement on the current process' backend and returns a dict."""
    import keras

    header = worker_header(backend, mode)
    settings = dict(MODES[mode])
    tiny = settings["tiny"]
    rounds = rounds or settings["rounds"]
    steps = steps or settings["steps"]
    block_s = settings["block_s"] if block_s is None else block_s
    first_repeats = first_repeats or settings["first_repeats"]
    memory = bool(memory)
    optimizers = tuple(optimizers or settings["optimizers"])
    extras, notes = optional_modules()
    t0 = time.perf_counter()
    out = {
        **header,
        "rounds": rounds,
        "block_s": block_s,
        "arms_requested": list(arms),
        "notes": notes,
        "loadavg_start": list(os.getloadavg()),
        "results": [],
    }
    if settings["warm_up"]:
        out["warm_up_s"] = warm_up_process(conv=any(kind.startswith("cnn") for kind in models))
    index = 0
    for kind in models:
        batch = batch_size(kind)
        first_steps = first_steps_for(settings, kind)
        for opt_name in optimizers:
            start = time.perf_counter()
            keras.utils.set_random_seed(0)
            base = build_model(kind, tiny)
            weights = base.get_weights()
            names = arms_for(kind, arms, extras)
            row = {"model": kind, "optimizer": opt_name, "model_name": base.name, "batch_size": batch}
            row.update(
                measure(
                    lambda arm, base=base, weights=weights, opt_name=opt_name: make_arm(
                        arm, base, weights, opt_name, extras
                    ),
                    names,
                    lambda s, kind=kind, batch=batch: make_data(kind, s, tiny, batch),
                    batch,
                    first_steps=first_steps,
                    rounds=rounds,
                    steps=steps,
                    block_s=block_s,
                    steps_range=settings["steps_range"],
                    first_repeats=first_repeats,
                    rotate=index,
                )
            )
            index += 1
            if memory and opt_name in MEMORY_OPTIMIZERS:
                for arm in MEMORY_ARMS:
                    row["arms"][arm]["peak_rss_delta_mb"] = memory_probe(
                        backend, kind, opt_name, arm, row["steps"], tiny
                    )
            summarise(row)
            row["wall_s"] = time.perf_counter() - start
            out["results"].append(row)
            log(
                f"[{backend}] {kind}/{opt_name}: {row['steps']} steps x {rounds} rounds, "
                + ", ".join(f"{arm} {row['arms'][arm]['step_ms_median']:.2f} ms" for arm in names)
                + (
                    f", LeRaC/plain {row['ratios']['lerac/plain']:.3f}"
                    if "lerac/plain" in row["ratios"]
                    else ""
                )
                + (f", floor {row['floor']['step']['median']:.3f}" if row["floor"] else "")
                + f" ({row['wall_s']:.0f} s, {time.perf_counter() - t0:.0f} s so far)"
            )
            del base, weights
            keras.utils.clear_session()
            gc.collect()
    out["loadavg_end"] = list(os.getloadavg())
    out["worker_s"] = time.perf_counter() - t0
    return out


# ---------------------------------------------------------------------- memory probe
def memory_probe(backend, kind, opt_name, arm, steps, tiny) -> float | None:
    """Growth of peak RSS (MiB) while one arm compiles and trains, in a fresh process."""
    cmd = [sys.executable, os.path.abspath(__file__), "--memory-probe", f"{kind},{opt_name},{arm},{steps}"]
    if tiny:
        cmd.append("--tiny")
    env = dict(os.environ, KERAS_BACKEND=backend)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
        return json.loads(proc.stdout.strip().splitlines()[-1])["peak_rss_delta_mb"]
    except Exception:  # noqa: BLE001 - report as unknown, never fail the benchmark
        return None


def run_memory_probe(spec: str, tiny: bool) -> None:
    import keras

    kind, opt_name, arm, steps = spec.split(",")
    steps = int(steps)
    extras, _ = optional_modules()
    keras.utils.set_random_seed(0)
    x, y = make_data(kind, steps, tiny)
    base = build_model(kind, tiny)
    weights = base.get_weights()
    before = maxrss_mb()
    model, callbacks = make_arm(arm, base, weights, opt_name, extras)
    timed_fit(model, callbacks, x, y, batch_size(kind))
    timed_fit(model, callbacks, x, y, batch_size(kind))
    print(json.dumps({"peak_rss_delta_mb": maxrss_mb() - before, "before_mb": before}))


# ---------------------------------------------------------------------- report
def _fmt(value, spec=".3f"):
    return "n/a" if value is None else format(value, spec)


def _mark(check):
    if "resolved" in check and not check["resolved"]:
        return "PASS?" if check["pass"] else "MISS?"
    return "PASS" if check["pass"] else "MISS"


def _interval(lo: float, hi: float) -> str:
    return f"{lo:.3f}" if abs(hi - lo) < 5e-4 else f"{lo:.3f}-{hi:.3f}"


def ratio_cell(check: dict | None, floor: dict | None) -> str:
    """`1.012 PASS (CI 0.998-1.025; floor 0.996-1.004)`: the ratio, its verdict, its 95% CI
    (when there is one) and the noise floor (plain2 / plain, its CI)."""
    if check is None:
        return "n/a"
    parts = []
    if check.get("ci") is not None:
        parts.append(f"CI {_interval(*check['ci'])}")
    if floor is not None:
        parts.append(f"floor {_interval(*floor['ci'])}")
    extra = f" ({'; '.join(parts)})" if parts else ""
    return f"{check['value']:.3f} {_mark(check)}{extra}"


LEGEND = (
    "Ratios are LeRaC / plain: the median over rounds of the ratio within a round, with its "
    "95% CI (order statistics); `floor` is the same statistic for `plain2` / `plain`, two "
    "arms doing identical work (1st epoch: over the repeats; one repeat gives one value). "
    "PASS: ratio <= target; `PASS?` / `MISS?`: the target lies within the noise (the CI "
    "half-width or the floor's distance from 1), more rounds needed. `after`: LeRaC with the "
    "curriculum over (`curriculum_steps=1`). Opt state: bytes of optimizer variables beyond "
    "plain's, allowed a few scalars per bucket."
)


def markdown(report: dict) -> str:
    lines = [
        "| backend | model | opt | buckets | steps x rounds | plain ms/step | step target "
        "| LeRaC/plain step | after/plain step | 1st epoch s plain | 1st epoch target "
        "| LeRaC/plain 1st epoch | after/plain 1st epoch | opt state extra B LeRaC / after | other arms |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    notes = []
    for worker in report["workers"]:
        if "error" in worker:
            lines.append(f"| {worker['backend']} | ERROR: {worker['error'][:80]} |" + " |" * 13)
            continue
        for row in worker["results"]:
            arms, ratios, checks = row["arms"], row["ratios"], row["checks"]
            floor = row.get("floor") or {}
            targets = row.get("targets") or targets_for(row["model"], row.get("buckets"))
            p = arms["plain"]
            opt = [checks.get("opt_bytes"), checks.get("opt_bytes_after")]
            opt_cell = " / ".join(f"+{c['value']} {_mark(c)}" if c else "n/a" for c in opt)
            others = []
            if "logger" in checks:
                others.append(f"+logger/LeRaC {checks['logger']['value']:.3f} {_mark(checks['logger'])}")
            if "cbs/plain" in ratios:
                others.append(f"CBS/plain {ratios['cbs/plain']:.3f}")
            for name, value in (("peak RSS MiB plain", p.get("peak_rss_delta_mb")),):
                if value is not None:
                    le = arms.get("lerac", {}).get("peak_rss_delta_mb")
                    others.append(f"{name} / LeRaC {_fmt(value, '.0f')} / {_fmt(le, '.0f')}")
            lines.append(
                f"| {worker['backend']} | {row['model_name']} | {row['optimizer']} | {row.get('buckets')} "
                f"| {row['steps']} x {row['rounds']} | {p['step_ms_median']:.2f} | <= {targets['step']:.2f} "
                f"| {ratio_cell(checks.get('step_time'), floor.get('step'))} "
                f"| {ratio_cell(checks.get('step_time_after'), floor.get('step'))} "
                f"| {p['first_epoch_s']:.2f} | <= {targets['first_epoch']:.2f} "
                f"| {ratio_cell(checks.get('first_epoch'), floor.get('first_epoch'))} "
                f"| {ratio_cell(checks.get('first_epoch_after'), floor.get('first_epoch'))} "
                f"| {opt_cell} | {'; '.join(others) or ''} |"
            )
            step_floor = floor.get("step")
            if step_floor and not step_floor["ci"][0] <= 1.0 <= step_floor["ci"][1]:
                notes.append(
                    f"{worker['backend']} {row['model_name']} {row['optimizer']}: the noise floor's CI "
                    f"({_interval(*step_floor['ci'])}) excludes 1.0: two identical arms differ, so the "
                    "machine's noise (or an order effect) is larger than the CI says."
                )
        notes.extend(worker.get("notes", []))
    text = "\n".join(lines) + "\n\n" + LEGEND + "\n"
    if notes:
        text += "\n" + "\n".join(f"- {n}" for n in dict.fromkeys(notes)) + "\n"
    return text


# ---------------------------------------------------------------------- driver
def spawn_worker(
    script: str, backend: str, json_path: str, args: Sequence[str], threads: int | None = None
) -> dict:
    """Runs `script --worker BACKEND --json-out PATH *args` with `KERAS_BACKEND=BACKEND`.

    Progress lines (those starting with `[BACKEND]`) are printed as they come. Returns
    the worker's JSON (plus `wall_s`), or `{"backend", "error"}` when it failed.
    """
    if os.path.exists(json_path):
        os.remove(json_path)
    cmd = [sys.executable, os.path.abspath(script), "--worker", backend, "--json-out", json_path, *args]
    if threads:
        cmd += ["--threads", str(threads)]
    env = dict(os.environ, KERAS_BACKEND=backend, **thread_env(threads))
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # Every arm compiles on its own: a persistent compilation cache would let plain2 reuse plain's.
    env.pop("JAX_COMPILATION_CACHE_DIR", None)
    t0 = time.perf_counter()
    print(f"== {backend}", flush=True)
    tail: list[str] = []
    with subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE, text=True) as proc:
        for line in proc.stderr:
            line = line.rstrip("\n")
            if line.startswith(f"[{backend}]"):
                print(line, flush=True)
            tail = (tail + [line])[-15:]
        proc.wait()
    if proc.returncode != 0 or not os.path.exists(json_path):
        print("\n".join(tail), file=sys.stderr)
        return {"backend": backend, "error": tail[-1] if tail else f"rc={proc.returncode}"}
    with open(json_path) as f:
        worker = json.load(f)
    worker["wall_s"] = time.perf_counter() - t0
    return worker


def check_backends(text: str) -> list[str]:
    backends = [b.strip() for b in text.split(",") if b.strip()]
    for b in backends:
        if b not in ALL_BACKENDS:
            raise SystemExit(f"unknown backend {b!r}; choose from {ALL_BACKENDS}")
    return backends


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", default=",".join(ALL_BACKENDS))
    parser.add_argument("--quick", action="store_true", help="short run (SGD, 8 rounds of 0.2 s blocks)")
    parser.add_argument("--tiny", action="store_true", help="tiny models, 2 steps, 2 rounds (tests)")
    parser.add_argument("--output", default="lerac-results/benchmarks")
    parser.add_argument("--rounds", type=int, default=None, help="timed rounds per row (full: 20)")
    parser.add_argument("--steps", type=int, default=None, help="fixed steps per timed block (all models)")
    parser.add_argument(
        "--block-seconds", type=float, default=None, help="target length of a timed block (full: 0.4)"
    )
    parser.add_argument(
        "--first-repeats", type=int, default=None, help="first-epoch measurements per arm (default 1)"
    )
    parser.add_argument("--optimizers", default=None, help="sgd,adam (quick: sgd)")
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument(
        "--arms",
        default=",".join(CORE_ARMS),
        help=f"arms to measure, plain first (default: {','.join(CORE_ARMS)}; also: {','.join(EXTRA_ARMS)})",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="intra-op threads per backend (default: the backend's own choice); "
        "1 makes runs on a shared, loaded machine far less noisy",
    )
    parser.add_argument("--memory", action="store_true", help="fresh-process peak-RSS probes (Adam rows)")
    parser.add_argument("--no-memory", action="store_true", help=argparse.SUPPRESS)  # the default now
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--json-out", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--memory-probe", default=None, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def _mode(args) -> str:
    return "tiny" if args.tiny else "quick" if args.quick else "full"


def _arms(text: str) -> list[str]:
    arms = [a.strip() for a in text.split(",") if a.strip()]
    for a in arms:
        if a not in ARMS:
            raise SystemExit(f"unknown arm {a!r}; choose from {ARMS}")
    if not arms or arms[0] != REFERENCE_ARM:
        raise SystemExit(f"--arms must start with {REFERENCE_ARM!r} (the reference of every ratio)")
    return arms


def _worker_main(args) -> int:
    apply_threads(args.worker, args.threads)
    result = run_worker(
        args.worker,
        _mode(args),
        rounds=args.rounds,
        steps=args.steps,
        memory=args.memory and not args.no_memory,
        optimizers=tuple(args.optimizers.split(",")) if args.optimizers else None,
        models=tuple(args.models.split(",")),
        log=lambda s: print(s, file=sys.stderr, flush=True),
        arms=_arms(args.arms),
        block_s=args.block_seconds,
        first_repeats=args.first_repeats,
    )
    result["threads"] = args.threads
    with open(args.json_out, "w") as f:
        json.dump(result, f, indent=1)
    return 0


def forwarded(args, names: Sequence[str]) -> list[str]:
    """Command-line options `names` (argparse dests) of `args`, to pass on to a worker."""
    out = []
    for name in names:
        value = getattr(args, name)
        flag = "--" + name.replace("_", "-")
        if value is True:
            out.append(flag)
        elif value not in (None, False):
            out += [flag, str(value)]
    return out


def header(report: dict) -> str:
    return (
        f"Command: `python {report['command']}`  \n"
        f"Machine: {report['machine']['processor']}, {report['machine']['cpu_count']} cores; "
        f"intra-op threads: {report['threads'] or 'backend default'}; load average at start "
        f"{report['loadavg_start'][0]:.1f}, at end {os.getloadavg()[0]:.1f}; "
        f"wall {report['wall_s'] / 60:.1f} min\n\n"
    )


def new_report(script: str, argv, mode: str, threads) -> dict:
    return {
        "command": " ".join(
            [os.path.relpath(script, os.getcwd()), *(argv if argv is not None else sys.argv[1:])]
        ),
        "mode": mode,
        "machine": machine_info(),
        "threads": threads,
        "loadavg_start": list(os.getloadavg()),
        "workers": [],
    }


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.memory_probe:
        apply_threads(os.environ.get("KERAS_BACKEND", ""), int(os.environ.get("OMP_NUM_THREADS", 0)) or None)
        run_memory_probe(args.memory_probe, args.tiny)
        return 0
    if args.worker:
        return _worker_main(args)
    backends = check_backends(args.backends)
    _arms(args.arms)
    os.makedirs(args.output, exist_ok=True)
    report = new_report(__file__, argv, _mode(args), args.threads)
    start = time.perf_counter()
    options = (
        "models",
        "optimizers",
        "arms",
        "tiny",
        "quick",
        "rounds",
        "steps",
        "block_seconds",
        "first_repeats",
        "memory",
    )
    for backend in backends:
        path = os.path.join(args.output, f"overhead_{backend}.json")
        report["workers"].append(
            spawn_worker(__file__, backend, path, forwarded(args, options), args.threads)
        )
    report["wall_s"] = time.perf_counter() - start
    table = markdown(report)
    with open(os.path.join(args.output, "overhead.json"), "w") as f:
        json.dump(report, f, indent=1)
    with open(os.path.join(args.output, "overhead.md"), "w") as f:
        f.write(header(report))
        f.write(table)
    print(table)
    print(f"total {report['wall_s']:.0f} s; wrote {args.output}/overhead.json and overhead.md")
    return 0 if all("error" not in w for w in report["workers"]) else 1


if __name__ == "__main__":
    sys.exit(main())
