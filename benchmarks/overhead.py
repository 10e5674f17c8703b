"""Per-step overhead of LeRaC against the plain optimizer, on every Keras backend.

Usage::

    python -m benchmarks.overhead [--backends tensorflow,jax,torch] [--quick|--tiny]
                                  [--output DIR] [--rounds R] [--block-seconds S] [--steps N]
                                  [--first-repeats F] [--threads N] [--optimizers sgd,adam]
                                  [--models cnn,mlp,mlp96] [--arms ARM,...] [--memory]

(from the repository root). The driver spawns one worker process per backend
(`KERAS_BACKEND` set in the child's environment; the child runs this module with
`--worker BACKEND`, `benchmarks.workers`), collects the JSON each worker writes, and
writes `DIR/overhead.json` and `DIR/overhead.md` (`benchmarks.report`). The measuring
and its statistics are `benchmarks.timing`; `benchmarks.scaling` and `benchmarks.gpu`
reuse this module's models, arms and warm-up.

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
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from functools import partial

from benchmarks import report as report_writer
from benchmarks import timing
from benchmarks.timing import CHECKED, REFERENCE_ARM, measure_model, step_times, timed_fit
from benchmarks.workers import (
    ALL_BACKENDS,
    apply_threads,
    check_backends,
    module_command,
    module_env,
    spawn_workers,
    stderr_log,
    worker_header,
    write_result,
)

MODULE = "benchmarks.overhead"

CORE_ARMS = ("plain", "plain2", "lerac", "lerac-after")
EXTRA_ARMS = ("lerac+logger", "cbs")
ARMS = CORE_ARMS + EXTRA_ARMS
OPTIMIZERS = ("sgd", "adam")
MODELS = ("cnn", "mlp", "mlp96")

# The targets: LeRaC / plain, per model.
TARGETS = {
    "cnn": {"step": 1.02, "first_epoch": 1.10},
    "mlp": {"step": 1.03, "first_epoch": 1.10},
    "mlp96": {"step": 1.03, "first_epoch": 1.15},
}

# (depth, width) of the MLPs; tiny ones for the tests.
MLP_SHAPES = {"mlp": (24, 64), "mlp96": (96, 32)}
TINY_MLP_SHAPES = {"mlp": (4, 16), "mlp96": (8, 8)}

FULL = {
    # rounds: timed rounds per row (a multiple of the Williams period keeps the design
    # balanced: 4 for the four core arms); block_s: target seconds of a timed block;
    # steps: fixed steps per block (None: calibrated to block_s within steps_range);
    # first_steps: batches of the first (compiling) fit and of the warm-up block;
    # warm_up: train throwaway models first (see warm_up_process).
    "rounds": 20,
    "block_s": 0.4,
    "steps": None,
    "steps_range": (3, 400),
    "first_steps": {"cnn": 2, "mlp": 10, "mlp96": 5},
    "first_repeats": 1,
    "warm_up": True,
    "tiny": False,
    "optimizers": ("sgd", "adam"),
}
MODES = {
    "full": FULL,
    # the full run, shorter: fewer and shorter blocks, SGD only
    "quick": {**FULL, "rounds": 8, "block_s": 0.2, "steps_range": (2, 200), "optimizers": ("sgd",)},
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


# ---------------------------------------------------------------------- models and arms
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


def arms_for(model, arms: Sequence[str] = CORE_ARMS, extras: dict | None = None) -> list[str]:
    """The requested arms that apply to the built `model` (CBS: where
    `keras_lerac.experiments.regimes.cbs_reason` finds nothing against it)."""
    from keras_lerac.experiments.regimes import cbs_reason

    extras = extras or {}
    out = []
    for arm in arms:
        if arm == "cbs" and ("add_smoothing" not in extras or cbs_reason(model) is not None):
            continue
        if arm == "lerac+logger" and "CurriculumLogger" not in extras:
            continue
        out.append(arm)
    return out


def maxrss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


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


# ---------------------------------------------------------------------- checks
def targets_for(kind: str, buckets: int | None = None) -> dict:
    """The issue's targets for `kind`; for other MLPs (scaling.py), the MLP step target and
    the first-epoch target of the MLP with the nearest bucket count at or below (1.10 up to
    25 buckets, 1.15 beyond: the 96-layer MLP's, extrapolated past 97 buckets)."""
    if kind in TARGETS:
        return dict(TARGETS[kind])
    return {"step": TARGETS["mlp"]["step"], "first_epoch": 1.10 if (buckets or 0) <= 25 else 1.15}


def summarise(row: dict, targets: dict | None = None, checked: Sequence[tuple[str, str]] = CHECKED) -> None:
    """`timing.summarise` against the targets of the row's model (`targets_for`) by default."""
    if targets is None:
        targets = targets_for(row.get("model", ""), row.get("buckets"))
    timing.summarise(row, targets, checked)


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
    header = worker_header(backend, mode)
    settings = MODES[mode]
    tiny = settings["tiny"]
    timed = timing.options(settings, rounds, steps, block_s, first_repeats)
    memory = bool(memory)
    optimizers = tuple(optimizers or settings["optimizers"])
    extras, notes = optional_modules()
    t0 = time.perf_counter()
    out = {
        **header,
        "rounds": timed["rounds"],
        "block_s": timed["block_s"],
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
        kind_arms = arms_for(build_model(kind, tiny), arms, extras)
        for opt_name in optimizers:
            start = time.perf_counter()
            name, measured = measure_model(
                partial(build_model, kind, tiny),
                partial(make_arm, opt_name=opt_name, extras=extras),
                kind_arms,
                partial(make_data, kind, tiny=tiny, batch=batch),
                batch,
                first_steps=first_steps_for(settings, kind),
                rotate=index,
                **timed,
            )
            index += 1
            row = {"model": kind, "optimizer": opt_name, "model_name": name, "batch_size": batch, **measured}
            if memory and opt_name in MEMORY_OPTIMIZERS:
                for arm in MEMORY_ARMS:
                    row["arms"][arm]["peak_rss_delta_mb"] = memory_probe(
                        backend, kind, opt_name, arm, row["steps"], tiny
                    )
            summarise(row)
            row["wall_s"] = time.perf_counter() - start
            out["results"].append(row)
            log(
                f"[{backend}] {kind}/{opt_name}: {row['steps']} steps x {row['rounds']} rounds, "
                + step_times(row)
                + (
                    f", LeRaC/plain {row['ratios']['lerac/plain']:.3f}"
                    if "lerac/plain" in row["ratios"]
                    else ""
                )
                + (f", floor {row['floor']['step']['median']:.3f}" if row["floor"] else "")
                + f" ({row['wall_s']:.0f} s, {time.perf_counter() - t0:.0f} s so far)"
            )
    out["loadavg_end"] = list(os.getloadavg())
    out["worker_s"] = time.perf_counter() - t0
    return out


# ---------------------------------------------------------------------- memory probe
def memory_probe(backend, kind, opt_name, arm, steps, tiny) -> float | None:
    """Growth of peak RSS (MiB) while one arm compiles and trains, in a fresh process."""
    cmd = module_command(MODULE, "--memory-probe", f"{kind},{opt_name},{arm},{steps}")
    if tiny:
        cmd.append("--tiny")
    env = module_env(backend)
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
COLUMNS = (
    "backend",
    "model",
    "opt",
    "buckets",
    "steps x rounds",
    "plain ms/step",
    "step target",
    "LeRaC/plain step",
    "after/plain step",
    "1st epoch s plain",
    "1st epoch target",
    "LeRaC/plain 1st epoch",
    "after/plain 1st epoch",
    "opt state extra B LeRaC / after",
    "other arms",
)


def markdown(report: dict) -> str:
    """The overhead table, its legend and notes (`report.table`)."""
    rows, notes = [], []
    for worker in report_writer.succeeded(report, rows):
        for row in worker["results"]:
            arms, ratios, checks = row["arms"], row["ratios"], row["checks"]
            floor = row.get("floor") or {}
            targets = row.get("targets") or targets_for(row["model"], row.get("buckets"))
            p = arms["plain"]
            opt = [checks.get("opt_bytes"), checks.get("opt_bytes_after")]
            opt_cell = " / ".join(f"+{c['value']} {report_writer.mark(c)}" if c else "n/a" for c in opt)
            others = []
            if "logger" in checks:
                logger = checks["logger"]
                others.append(f"+logger/LeRaC {logger['value']:.3f} {report_writer.mark(logger)}")
            if "cbs/plain" in ratios:
                others.append(f"CBS/plain {ratios['cbs/plain']:.3f}")
            if p.get("peak_rss_delta_mb") is not None:
                le = arms.get("lerac", {}).get("peak_rss_delta_mb")
                others.append(
                    f"peak RSS MiB plain / LeRaC {report_writer.fmt(p['peak_rss_delta_mb'], '.0f')} / "
                    f"{report_writer.fmt(le, '.0f')}"
                )
            rows.append(
                [
                    worker["backend"],
                    row["model_name"],
                    row["optimizer"],
                    row.get("buckets"),
                    *report_writer.timing_cells(row, "step", ("", "_after"), targets),
                    *report_writer.timing_cells(row, "first_epoch", ("", "_after"), targets),
                    opt_cell,
                    "; ".join(others),
                ]
            )
            note = report_writer.floor_note(
                worker["backend"], f"{row['model_name']} {row['optimizer']}", floor.get("step")
            )
            if note:
                notes.append(note)
        notes.extend(worker.get("notes", []))
    return report_writer.document(report_writer.table(COLUMNS, rows), report_writer.LEGEND, notes)


# ---------------------------------------------------------------------- driver
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
        log=stderr_log,
        arms=_arms(args.arms),
        block_s=args.block_seconds,
        first_repeats=args.first_repeats,
    )
    result["threads"] = args.threads
    return write_result(args.json_out, result)


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
    report = report_writer.new_report(MODULE, argv, _mode(args), args.threads)
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
    report["workers"].extend(spawn_workers(MODULE, backends, args.output, args, options, args.threads))
    report["wall_s"] = time.perf_counter() - start
    report_writer.write(args.output, "overhead", report, markdown(report))
    print(f"total {report['wall_s']:.0f} s; wrote {args.output}/overhead.json and overhead.md")
    return 0 if all("error" not in w for w in report["workers"]) else 1


if __name__ == "__main__":
    sys.exit(main())
