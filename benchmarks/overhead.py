#!/usr/bin/env python
"""Per-step overhead of LeRaC against the plain optimizer, on every Keras backend.

Usage::

    python benchmarks/overhead.py [--backends tensorflow,jax,torch] [--quick|--tiny]
                                  [--output DIR] [--rounds R] [--steps S] [--no-memory]
                                  [--threads N] [--optimizers sgd,adam] [--models cnn,mlp]

The driver spawns one worker process per backend (`KERAS_BACKEND` set in the child's
environment; the child runs this same file with `--worker BACKEND`), collects the JSON
each worker writes, and writes `DIR/overhead.json` and `DIR/overhead.md`.

What a worker measures, for each model x base optimizer:

- Arms: `plain` (the base optimizer), `lerac` (LeRaC around the same base optimizer,
  default settings: one bucket per depth level, `curriculum_steps` so large that the
  curriculum is active throughout), `lerac+logger` (LeRaC plus
  `keras_lerac.CurriculumLogger`, when that module exists) and `cbs`
  (`keras_lerac.cbs.add_smoothing(model)` with the plain optimizer and a
  `SmoothingSchedule`; CNN only, when that module exists).
- Every arm starts from the same initial weights (the model is built once; each arm
  clones it and loads those weights) and trains on the same fixed random data held in
  memory as NumPy arrays. Each arm is compiled once, with the backend's default
  `jit_compile` (TF: what Keras' "auto" picks, JAX: jit, torch: eager).
- Warm-up: the first `fit` call of each arm (tracing / compiling) is timed on its own
  and reported as "first epoch"; it is excluded from the step times.
- Rounds are interleaved in one process: A B C D, B C D A, C D A B, ... (the order
  rotates each round), so slow drift of the machine hits every arm alike.
- A timed block is `model.fit(x, y, batch_size, epochs=1, verbose=0, shuffle=False)` on
  exactly `steps` batches. The clock runs from `on_epoch_begin` to `on_epoch_end` of a
  timing callback that blocks on the weights at the end (so JAX's async dispatch is
  included) and has no batch hooks (so Keras' asynchronous callback dispatch stays as it
  is for the arm). Step time = block time / steps; the reported value per arm is the
  MEDIAN over rounds.
- Optimizer state: the number of `optimizer.variables` and their bytes
  (sum of size * itemsize) of LeRaC against the plain optimizer.
- Peak memory (unless `--no-memory`; Adam, plain and LeRaC arms only, to keep the run
  short): each arm is run again in a fresh subprocess that
  builds the model and data, reads `ru_maxrss`, compiles and trains one block, and
  reads `ru_maxrss` again; the growth of the process' peak RSS is reported (CPU memory;
  on an accelerator this would not see device memory).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

ALL_BACKENDS = ("tensorflow", "jax", "torch")
ARMS = ("plain", "lerac", "lerac+logger", "cbs")
OPTIMIZERS = ("sgd", "adam")
MODELS = ("cnn", "mlp")

# Targets of the issue: LeRaC/plain step time per model, logger cost, state size.
STEP_TARGETS = {"cnn": 1.02, "mlp": 1.10}
LOGGER_TARGET = 1.01  # (lerac+logger) / lerac
# LeRaC may add "a few scalars per bucket" to the plain optimizer's state.
SCALARS_PER_BUCKET = 4
SCALAR_BYTES = 8

MODES = {
    # rounds, steps per timed block (per model), memory probes
    "full": {
        "rounds": 7,
        "steps": {"cnn": 12, "mlp": 60},
        "memory": True,
        "tiny": False,
        "optimizers": ("sgd", "adam"),
    },
    "quick": {
        "rounds": 3,
        "steps": {"cnn": 4, "mlp": 20},
        "memory": False,
        "tiny": False,
        "optimizers": ("sgd",),
    },
    "tiny": {
        "rounds": 1,
        "steps": {"cnn": 2, "mlp": 2},
        "memory": False,
        "tiny": True,
        "optimizers": ("sgd", "adam"),
    },
}

BATCH = {"cnn": 64, "mlp": 128}
# Fresh-process memory probes cost an import + compile each: only where state differs most.
MEMORY_OPTIMIZERS = ("adam",)
MEMORY_ARMS = ("plain", "lerac")
MLP_DEPTH, MLP_WIDTH, MLP_FEATURES = 24, 64, 64
NUM_CLASSES = 10


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
    """(a) a small residual CNN, (b) a deep thin MLP: the runner's built-in models."""
    from keras_lerac.experiments import models

    if kind == "cnn":
        if tiny:
            return models.resnet_small((16, 16, 3), NUM_CLASSES, widths=(8,))
        return models.resnet_small((32, 32, 3), NUM_CLASSES)
    if kind == "mlp":
        depth, width = (4, 16) if tiny else (MLP_DEPTH, MLP_WIDTH)
        return models.mlp((MLP_FEATURES,), NUM_CLASSES, depth=depth, width=width)
    raise ValueError(f"unknown model {kind!r}")


def make_data(kind: str, steps: int, tiny: bool = False):
    import numpy as np

    rng = np.random.default_rng(1234)
    n = steps * BATCH[kind]
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


def make_arm(arm: str, base_model, weights, opt_name: str, extras: dict):
    """A freshly cloned, compiled model for one arm, and its callbacks."""
    import keras

    from keras_lerac import LeRaC

    model = keras.models.clone_model(base_model)
    model.set_weights(weights)
    callbacks = []
    if arm == "cbs":
        model = extras["add_smoothing"](model)
        callbacks.append(extras["SmoothingSchedule"]())
    optimizer = base_optimizer(opt_name)
    if arm.startswith("lerac"):
        optimizer = LeRaC(
            optimizer, min_learning_rate=MIN_RATE[opt_name], curriculum_steps=CURRICULUM_STEPS, model=model
        )
    if arm == "lerac+logger":
        callbacks.append(extras["CurriculumLogger"]())
    model.compile(optimizer=optimizer, loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model, callbacks


def arms_for(kind: str, extras: dict) -> list[str]:
    arms = ["plain", "lerac"]
    if "CurriculumLogger" in extras:
        arms.append("lerac+logger")
    if kind == "cnn" and "add_smoothing" in extras:
        arms.append("cbs")
    return arms


def optimizer_state(optimizer) -> tuple[int, int]:
    import numpy as np

    count, nbytes = 0, 0
    for v in optimizer.variables:
        count += 1
        nbytes += int(np.prod(v.shape, dtype=np.int64)) * np.dtype(v.dtype).itemsize
    return count, nbytes


def num_buckets(optimizer):
    return len(optimizer.bucket_optimizers) if hasattr(optimizer, "bucket_optimizers") else None


def _window_callback():
    import keras

    class Window(keras.callbacks.Callback):
        """Times the epoch; no batch hooks, so Keras' async dispatch is unchanged."""

        def on_epoch_begin(self, epoch, logs=None):
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
) -> dict:
    """Runs every measurement on the current process' backend and returns a dict."""
    import keras

    if keras.backend.backend() != backend:
        raise RuntimeError(f"worker for {backend} runs on backend {keras.backend.backend()}")
    settings = dict(MODES[mode])
    tiny = settings["tiny"]
    rounds = rounds or settings["rounds"]
    memory = settings["memory"] if memory is None else memory
    optimizers = tuple(optimizers or settings["optimizers"])
    extras, notes = optional_modules()
    out = {
        "backend": backend,
        "backend_version": _backend_version(backend),
        "keras_version": keras.__version__,
        "mode": mode,
        "rounds": rounds,
        "notes": notes,
        "loadavg_start": list(os.getloadavg()),
        "results": [],
    }
    for kind in models:
        n_steps = steps or settings["steps"][kind]
        batch = BATCH[kind]
        x, y = make_data(kind, n_steps, tiny)
        for opt_name in optimizers:
            keras.utils.set_random_seed(0)
            base = build_model(kind, tiny)
            weights = base.get_weights()
            names = arms_for(kind, extras)
            built = {arm: make_arm(arm, base, weights, opt_name, extras) for arm in names}
            row = {
                "model": kind,
                "optimizer": opt_name,
                "model_name": base.name,
                "batch_size": batch,
                "steps": n_steps,
                "rounds": rounds,
                "arms": {},
            }
            for arm in names:
                model, callbacks = built[arm]
                _, first = timed_fit(model, callbacks, x, y, batch)
                count, nbytes = optimizer_state(model.optimizer)
                row["arms"][arm] = {
                    "first_epoch_s": first,
                    "step_ms": [],
                    "fit_ms_per_step": [],
                    "opt_vars": count,
                    "opt_bytes": nbytes,
                    "jit_compile": bool(model.jit_compile),
                }
                if arm == "lerac":
                    row["buckets"] = num_buckets(model.optimizer)
            for r in range(rounds):
                order = names[r % len(names) :] + names[: r % len(names)]
                for arm in order:
                    model, callbacks = built[arm]
                    window, whole = timed_fit(model, callbacks, x, y, batch)
                    row["arms"][arm]["step_ms"].append(1000.0 * window / n_steps)
                    row["arms"][arm]["fit_ms_per_step"].append(1000.0 * whole / n_steps)
            for arm in names:
                a = row["arms"][arm]
                a["step_ms_median"] = statistics.median(a["step_ms"])
                a["step_ms_min"] = min(a["step_ms"])
            if memory and opt_name in MEMORY_OPTIMIZERS:
                for arm in MEMORY_ARMS:
                    row["arms"][arm]["peak_rss_delta_mb"] = memory_probe(
                        backend, kind, opt_name, arm, n_steps, tiny
                    )
            _ratios_and_checks(row)
            out["results"].append(row)
            log(
                f"[{backend}] {kind}/{opt_name}: "
                + ", ".join(f"{arm} {row['arms'][arm]['step_ms_median']:.2f} ms" for arm in names)
            )
            del built
            keras.utils.clear_session()
    out["loadavg_end"] = list(os.getloadavg())
    return out


def _ratios_and_checks(row: dict) -> None:
    arms = row["arms"]
    plain = arms["plain"]["step_ms_median"]
    ratios, checks = {}, {}
    for arm in ("lerac", "lerac+logger", "cbs"):
        if arm in arms:
            ratios[f"{arm}/plain"] = arms[arm]["step_ms_median"] / plain
            ratios[f"{arm}/plain min"] = arms[arm]["step_ms_min"] / arms["plain"]["step_ms_min"]
            # Paired ratio: median over rounds of (arm / plain) within the same round.
            pairs = [a / p for a, p in zip(arms[arm]["step_ms"], arms["plain"]["step_ms"])]
            ratios[f"{arm}/plain paired"] = statistics.median(pairs)
            ratios[f"first_epoch {arm}/plain"] = arms[arm]["first_epoch_s"] / arms["plain"]["first_epoch_s"]
    target = STEP_TARGETS[row["model"]]
    checks["step_time"] = {
        "value": ratios["lerac/plain"],
        "target": target,
        "pass": ratios["lerac/plain"] <= target,
    }
    if "lerac+logger" in arms:
        logger = arms["lerac+logger"]["step_ms_median"] / arms["lerac"]["step_ms_median"]
        ratios["lerac+logger/lerac"] = logger
        checks["logger"] = {"value": logger, "target": LOGGER_TARGET, "pass": logger <= LOGGER_TARGET}
    extra = arms["lerac"]["opt_bytes"] - arms["plain"]["opt_bytes"]
    allowed = SCALARS_PER_BUCKET * SCALAR_BYTES * ((row.get("buckets") or 1) + 1)
    checks["opt_bytes"] = {"value": extra, "target": allowed, "pass": 0 <= extra <= allowed}
    row["ratios"] = ratios
    row["checks"] = checks


def _backend_version(backend: str) -> str:
    try:
        module = __import__({"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}[backend])
        return module.__version__
    except Exception:  # noqa: BLE001
        return "?"


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
    timed_fit(model, callbacks, x, y, BATCH[kind])
    timed_fit(model, callbacks, x, y, BATCH[kind])
    print(json.dumps({"peak_rss_delta_mb": maxrss_mb() - before, "before_mb": before}))


# ---------------------------------------------------------------------- report
def _fmt(value, spec=".3f"):
    return "n/a" if value is None else format(value, spec)


def _mark(check):
    return "PASS" if check["pass"] else "MISS"


def markdown(report: dict) -> str:
    lines = [
        "| backend | model | opt | buckets | plain ms/step | LeRaC ms/step | LeRaC/plain (of mins) "
        "| target | "
        "+logger/LeRaC | CBS/plain | 1st epoch s plain / LeRaC (ratio) | opt vars plain / LeRaC | "
        "opt bytes plain / LeRaC (+extra) | peak RSS delta MiB plain / LeRaC |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for worker in report["workers"]:
        if "error" in worker:
            lines.append(f"| {worker['backend']} | ERROR: {worker['error'][:80]} |" + " |" * 12)
            continue
        for row in worker["results"]:
            arms, ratios, checks = row["arms"], row["ratios"], row["checks"]
            p, le = arms["plain"], arms["lerac"]
            step = checks["step_time"]
            logger = (
                f"{ratios['lerac+logger/lerac']:.3f} {_mark(checks['logger'])}"
                if "logger" in checks
                else "n/a"
            )
            cbs = f"{ratios['cbs/plain']:.3f}" if "cbs/plain" in ratios else "n/a"
            extra = checks["opt_bytes"]
            lines.append(
                f"| {worker['backend']} | {row['model_name']} | {row['optimizer']} | {row.get('buckets')} | "
                f"{p['step_ms_median']:.2f} | {le['step_ms_median']:.2f} | "
                f"{ratios['lerac/plain']:.3f} ({ratios['lerac/plain min']:.3f}) | "
                f"<= {step['target']:.2f} {_mark(step)} | {logger} | {cbs} | "
                f"{p['first_epoch_s']:.1f} / {le['first_epoch_s']:.1f} "
                f"({ratios['first_epoch lerac/plain']:.2f}) | "
                f"{p['opt_vars']} / {le['opt_vars']} | {p['opt_bytes']} / {le['opt_bytes']} "
                f"(+{extra['value']} B) {_mark(extra)} | "
                f"{_fmt(p.get('peak_rss_delta_mb'), '.0f')} / {_fmt(le.get('peak_rss_delta_mb'), '.0f')} |"
            )
    notes = sorted({n for w in report["workers"] for n in w.get("notes", [])})
    text = "\n".join(lines)
    if notes:
        text += "\n\n" + "\n".join(f"- {n}" for n in notes)
    return text + "\n"


# ---------------------------------------------------------------------- driver
def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", default=",".join(ALL_BACKENDS))
    parser.add_argument("--quick", action="store_true", help="short run (< 3 min for all backends)")
    parser.add_argument("--tiny", action="store_true", help="tiny models, 2 steps, 1 round (tests)")
    parser.add_argument("--output", default="lerac-results/benchmarks")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--steps", type=int, default=None, help="steps per timed block (all models)")
    parser.add_argument("--optimizers", default=None, help="sgd,adam (quick: sgd)")
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="intra-op threads per backend (default: the backend's own choice); "
        "1 makes runs on a shared, loaded machine far less noisy",
    )
    parser.add_argument("--no-memory", action="store_true", help="skip the fresh-process memory probes")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--json-out", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--memory-probe", default=None, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def _mode(args) -> str:
    return "tiny" if args.tiny else "quick" if args.quick else "full"


def _worker_main(args) -> int:
    apply_threads(args.worker, args.threads)
    result = run_worker(
        args.worker,
        _mode(args),
        rounds=args.rounds,
        steps=args.steps,
        memory=False if args.no_memory else None,
        optimizers=tuple(args.optimizers.split(",")) if args.optimizers else None,
        models=tuple(args.models.split(",")),
        log=lambda s: print(s, file=sys.stderr, flush=True),
    )
    result["threads"] = args.threads
    with open(args.json_out, "w") as f:
        json.dump(result, f, indent=1)
    return 0


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.memory_probe:
        apply_threads(os.environ.get("KERAS_BACKEND", ""), int(os.environ.get("OMP_NUM_THREADS", 0)) or None)
        run_memory_probe(args.memory_probe, args.tiny)
        return 0
    if args.worker:
        return _worker_main(args)
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    for b in backends:
        if b not in ALL_BACKENDS:
            raise SystemExit(f"unknown backend {b!r}; choose from {ALL_BACKENDS}")
    os.makedirs(args.output, exist_ok=True)
    report = {
        "command": " ".join([os.path.relpath(__file__, os.getcwd()), *(argv or sys.argv[1:])]),
        "mode": _mode(args),
        "machine": machine_info(),
        "threads": args.threads,
        "loadavg_start": list(os.getloadavg()),
        "workers": [],
    }
    start = time.perf_counter()
    for backend in backends:
        path = os.path.join(args.output, f"overhead_{backend}.json")
        if os.path.exists(path):
            os.remove(path)
        cmd = [
            sys.executable,
            os.path.abspath(__file__),
            "--worker",
            backend,
            "--json-out",
            path,
            "--models",
            args.models,
        ]
        if args.optimizers:
            cmd += ["--optimizers", args.optimizers]
        if args.tiny:
            cmd.append("--tiny")
        elif args.quick:
            cmd.append("--quick")
        if args.rounds:
            cmd += ["--rounds", str(args.rounds)]
        if args.steps:
            cmd += ["--steps", str(args.steps)]
        if args.no_memory:
            cmd.append("--no-memory")
        if args.threads:
            cmd += ["--threads", str(args.threads)]
        env = dict(os.environ, KERAS_BACKEND=backend, **thread_env(args.threads))
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        t0 = time.perf_counter()
        print(f"== {backend}", flush=True)
        proc = subprocess.run(cmd, env=env, stderr=subprocess.PIPE, text=True)
        progress = [line for line in proc.stderr.splitlines() if line.startswith(f"[{backend}]")]
        print("\n".join(progress), flush=True)
        if proc.returncode != 0 or not os.path.exists(path):
            tail = proc.stderr.strip().splitlines()[-15:]
            print("\n".join(tail), file=sys.stderr)
            report["workers"].append(
                {"backend": backend, "error": tail[-1] if tail else f"rc={proc.returncode}"}
            )
            continue
        with open(path) as f:
            worker = json.load(f)
        worker["wall_s"] = time.perf_counter() - t0
        report["workers"].append(worker)
    report["wall_s"] = time.perf_counter() - start
    table = markdown(report)
    with open(os.path.join(args.output, "overhead.json"), "w") as f:
        json.dump(report, f, indent=1)
    with open(os.path.join(args.output, "overhead.md"), "w") as f:
        f.write(f"Command: `python {report['command']}`  \n")
        f.write(
            f"Machine: {report['machine']['processor']}, {report['machine']['cpu_count']} cores; "
            "intra-op threads: "
            f"{report['threads'] or 'backend default'}; load average at start "
            f"{report['loadavg_start'][0]:.1f}, at end {os.getloadavg()[0]:.1f}\n\n"
        )
        f.write(table)
    print(table)
    print(f"total {report['wall_s']:.0f} s; wrote {args.output}/overhead.json and overhead.md")
    return 0 if all("error" not in w for w in report["workers"]) else 1


if __name__ == "__main__":
    sys.exit(main())
