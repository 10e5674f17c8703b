"""ResNet-18 on CIFAR-shaped data on a GPU: LeRaC / plain step time and first epoch.

Usage::

    python -m benchmarks.gpu [--backends jax,torch,tensorflow] [--output DIR]
                             [--batch-size 128] [--rounds 12] [--block-seconds 1.0]
                             [--mixed-precision float16|bfloat16] [--arms ARM,...]
                             [--allow-cpu] [--tiny]

One worker process per backend (as `benchmarks.overhead`; `benchmarks.timing` measures).
Each worker first checks that its backend sees a GPU (JAX: `jax.devices()`, torch:
`torch.cuda.is_available()`, TensorFlow: `tf.config.list_physical_devices("GPU")`); a
backend that does not is skipped with a message, and when no backend sees one the script
refuses (exit status 2) unless `--allow-cpu` (for smoke tests: the numbers then say
nothing about a GPU). TensorFlow's pip wheel sees a GPU only as `tensorflow[and-cuda]`;
without it TensorFlow is skipped.

Model: the ResNet-18 of `benchmarks/recipes/cifar10_resnet18.py` (3x3 stem, 4 stages of
2 basic blocks, 64-512 channels), on synthetic CIFAR-shaped data (32x32x3 float32
images, 10 classes; fixed random NumPy arrays, fed by `model.fit` as in training),
batch 128, no metrics.

Arms (all from the same initial weights):

- `plain`, `plain2`: the recipe's conventional optimizer: SGD(momentum 0.9, decoupled
  weight decay 1e-4) on its `PiecewiseConstantDecay` base schedule (boundaries far
  beyond the run). `plain2` is an independent copy: its ratio to `plain` is the noise
  floor.
- `lerac`: the recipe's LeRaC (the official code's 10 buckets: stem, 8 residual blocks,
  head; stepwise schedule), with the curriculum active throughout.
- `lerac-depth`: `LeRaC(same SGD, min_learning_rate=1e-6, model=model)`: one bucket per
  depth level (the library's default), curriculum active throughout.

`--mixed-precision float16` (Keras' `mixed_float16`: compile wraps every optimizer in a
`LossScaleOptimizer`) or `bfloat16` (`mixed_bfloat16`) sets the global dtype policy
before the models are built. Reported: the median paired ratio over rounds of step time
(95% CI) and the first-epoch ratio, beside the `plain2` floor; the residual CNN's
targets (step <= 1.02, first epoch <= 1.10) are shown for reference. Writes
`DIR/gpu.json` and `DIR/gpu.md` and prints the table.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from functools import partial

from benchmarks import overhead, timing
from benchmarks import report as report_writer
from benchmarks.timing import summarise
from benchmarks.workers import check_backends, spawn_workers, stderr_log, worker_header, write_result

MODULE = "benchmarks.gpu"

DEFAULT_BACKENDS = ("jax", "torch", "tensorflow")
ARMS = ("plain", "plain2", "lerac", "lerac-depth")
CHECKED = (("lerac", ""), ("lerac-depth", "_depth"))
TARGETS = overhead.TARGETS["cnn"]  # for reference: the residual CNN's targets
NUM_CLASSES = 10
# Steps per "epoch" given to the recipe's optimizers: its decay boundaries (epochs 35, 65,
# 95) and LeRaC's curriculum (5 epochs) then lie far beyond the benchmark.
STEPS_PER_EPOCH = 10**6
NO_GPU_STATUS = 2
PRECISIONS = {"float16": "mixed_float16", "bfloat16": "mixed_bfloat16"}

MODES = {
    # rounds: a multiple of 4, the Williams period of the four arms
    "full": {
        "rounds": 12,
        "block_s": 1.0,
        "steps": None,
        "steps_range": (5, 150),
        "first_steps": 5,
        "batch": 128,
        "width": 64,
        "blocks_per_stage": 2,
        "warm_up": True,
    },
    "tiny": {
        "rounds": 2,
        "block_s": 0.0,
        "steps": 2,
        "steps_range": (2, 2),
        "first_steps": 2,
        "batch": 8,
        "width": 4,
        "blocks_per_stage": 1,
        "warm_up": False,
    },
}


def recipe():
    from benchmarks.recipes import cifar10_resnet18

    return cifar10_resnet18


def accelerators(backend: str) -> list[str]:
    """The GPUs (accelerators) the current process' backend sees; [] for none."""
    if backend == "jax":
        import jax

        return [f"{d.platform}:{getattr(d, 'device_kind', d)}" for d in jax.devices() if d.platform != "cpu"]
    if backend == "torch":
        import torch

        if not torch.cuda.is_available():
            return []
        return [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    if backend == "tensorflow":
        import tensorflow as tf

        devices = tf.config.list_physical_devices("GPU")
        names = []
        for d in devices:
            try:
                names.append(tf.config.experimental.get_device_details(d).get("device_name", d.name))
            except Exception:  # noqa: BLE001 - the name is only for the report
                names.append(d.name)
        return names
    raise ValueError(f"unknown backend {backend!r}")


def make_data(steps: int, batch: int):
    import numpy as np

    rng = np.random.default_rng(1234)
    n = steps * batch
    x = rng.standard_normal((n, 32, 32, 3), dtype=np.float32)
    y = rng.integers(0, NUM_CLASSES, size=(n,)).astype("int32")
    return x, y


def make_arm(arm: str, base_model, weights):
    """A freshly cloned, compiled ResNet-18 for one arm."""
    import keras

    from keras_lerac import LeRaC

    r = recipe()
    model = keras.models.clone_model(base_model)
    model.set_weights(weights)
    if arm in ("plain", "plain2"):
        optimizer = r.make_optimizer("conventional", model, "cifar10", STEPS_PER_EPOCH, "decoupled")
    elif arm == "lerac":
        optimizer = r.make_optimizer("lerac", model, "cifar10", STEPS_PER_EPOCH, "decoupled")
    elif arm == "lerac-depth":
        sgd = r.make_optimizer("conventional", model, "cifar10", STEPS_PER_EPOCH, "decoupled")
        optimizer = LeRaC(
            sgd, min_learning_rate=1e-6, curriculum_steps=overhead.CURRICULUM_STEPS, model=model
        )
    else:
        raise ValueError(f"unknown arm {arm!r}; choose from {ARMS}")
    model.compile(optimizer=optimizer, loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model, []


# ---------------------------------------------------------------------- worker
def run_worker(
    backend: str,
    mode: str = "full",
    *,
    allow_cpu: bool = False,
    precision: str | None = None,
    batch: int | None = None,
    rounds: int | None = None,
    steps: int | None = None,
    block_s: float | None = None,
    first_repeats: int = 1,
    arms=ARMS,
    log=print,
) -> dict:
    """Measures the arms on the current process' backend; `{"no_gpu": message}` without a GPU."""
    import keras

    header = worker_header(backend, mode)
    settings = dict(MODES[mode])
    devices = accelerators(backend)
    out = {
        **header,
        "devices": devices,
        "on_cpu": not devices,
        "precision": precision or "float32",
        "results": [],
    }
    if not devices and not allow_cpu:
        out["no_gpu"] = (
            f"no GPU visible to {backend} (a CPU-only build, or no driver?): skipped. "
            "Pass --allow-cpu to run on the CPU anyway (a smoke test: the numbers then say "
            "nothing about a GPU)."
        )
        return out
    t0 = time.perf_counter()
    batch = batch or settings["batch"]
    timed = timing.options(settings, rounds, steps, block_s, first_repeats)
    if precision:
        keras.mixed_precision.set_global_policy(PRECISIONS[precision])
    try:
        if settings["warm_up"]:
            out["warm_up_s"] = overhead.warm_up_process(conv=True)
        name, measured = timing.measure_model(
            partial(
                recipe().resnet18,
                NUM_CLASSES,
                width=settings["width"],
                blocks_per_stage=settings["blocks_per_stage"],
            ),
            make_arm,
            list(arms),
            partial(make_data, batch=batch),
            batch,
            first_steps=settings["first_steps"],
            **timed,
        )
        row = {
            "model": "resnet18",
            "model_name": name if mode == "full" else f"{name} (tiny)",
            "optimizer": "sgd",
            "batch_size": batch,
            "precision": out["precision"],
            **measured,
        }
        row["buckets_by_arm"] = {arm: a["buckets"] for arm, a in row["arms"].items() if a["buckets"]}
        summarise(row, TARGETS, CHECKED)
        out["results"].append(row)
        log(
            f"[{backend}] ResNet-18 {out['precision']} batch {batch}: "
            f"{row['steps']} steps x {row['rounds']} rounds, {timing.step_times(row)}"
            f" ({time.perf_counter() - t0:.0f} s)"
        )
    finally:
        keras.mixed_precision.set_global_policy("float32")
        keras.utils.clear_session()
        gc.collect()
    out["worker_s"] = time.perf_counter() - t0
    return out


# ---------------------------------------------------------------------- report
COLUMNS = (
    "backend",
    "device",
    "precision",
    "batch",
    "steps x rounds",
    "plain ms/step",
    "step target (ref.)",
    "LeRaC/plain step",
    "LeRaC-depth/plain step",
    "1st epoch s plain",
    "1st epoch target (ref.)",
    "LeRaC/plain 1st epoch",
    "LeRaC-depth/plain 1st epoch",
    "buckets LeRaC / depth",
)
LEGEND = report_writer.LEGEND.replace(
    "`after`: LeRaC with the curriculum over (`curriculum_steps=1`).",
    "`LeRaC`: the recipe's 10 official buckets; `LeRaC-depth`: one bucket per depth level. "
    "Targets: the residual CNN's on CPU, for reference.",
)


def markdown(report: dict) -> str:
    """The GPU table, its legend and notes (`report.table`)."""
    rows, notes = [], []
    for worker in report_writer.succeeded(report, rows):
        backend = worker["backend"]
        if "no_gpu" in worker:
            notes.append(worker["no_gpu"])
            continue
        device = ", ".join(worker["devices"]) or "CPU (--allow-cpu)"
        for row in worker["results"]:
            buckets = row.get("buckets_by_arm", {})
            rows.append(
                [
                    backend,
                    device,
                    row["precision"],
                    row["batch_size"],
                    *report_writer.timing_cells(row, "step", ("", "_depth")),
                    *report_writer.timing_cells(row, "first_epoch", ("", "_depth")),
                    f"{buckets.get('lerac', 'n/a')} / {buckets.get('lerac-depth', 'n/a')}",
                ]
            )
            if worker.get("on_cpu"):
                notes.append(f"{backend} ran on the CPU (--allow-cpu): a smoke test, not a GPU measurement.")
    return report_writer.document(report_writer.table(COLUMNS, rows), LEGEND, notes)


# ---------------------------------------------------------------------- driver
def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", default=",".join(DEFAULT_BACKENDS))
    parser.add_argument("--output", default="lerac-results/benchmarks")
    parser.add_argument("--batch-size", type=int, default=None, help="default 128")
    parser.add_argument("--rounds", type=int, default=None, help="timed rounds (default 12)")
    parser.add_argument("--steps", type=int, default=None, help="fixed steps per timed block")
    parser.add_argument("--block-seconds", type=float, default=None, help="target block length (default 1.0)")
    parser.add_argument("--first-repeats", type=int, default=1, help="first-epoch measurements per arm")
    parser.add_argument("--mixed-precision", choices=sorted(PRECISIONS), default=None)
    parser.add_argument("--arms", default=",".join(ARMS), help=f"default {','.join(ARMS)} (plain first)")
    parser.add_argument("--allow-cpu", action="store_true", help="run without a GPU (smoke tests only)")
    parser.add_argument("--tiny", action="store_true", help="a tiny ResNet, 2 steps, 2 rounds (tests)")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--json-out", default=None, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def _arms(text: str) -> list[str]:
    arms = [a.strip() for a in text.split(",") if a.strip()]
    if not arms or arms[0] != "plain" or any(a not in ARMS for a in arms):
        raise SystemExit(f"--arms: a list of {ARMS}, 'plain' first; got {text!r}")
    return arms


def main(argv=None) -> int:
    args = parse_args(argv)
    mode = "tiny" if args.tiny else "full"
    arms = _arms(args.arms)
    if args.worker:
        result = run_worker(
            args.worker,
            mode,
            allow_cpu=args.allow_cpu,
            precision=args.mixed_precision,
            batch=args.batch_size,
            rounds=args.rounds,
            steps=args.steps,
            block_s=args.block_seconds,
            first_repeats=args.first_repeats,
            arms=arms,
            log=stderr_log,
        )
        return write_result(args.json_out, result)
    backends = check_backends(args.backends)
    report = report_writer.new_report(MODULE, argv, mode, None)
    start = time.perf_counter()
    options = (
        "tiny",
        "allow_cpu",
        "mixed_precision",
        "batch_size",
        "rounds",
        "steps",
        "block_seconds",
        "first_repeats",
        "arms",
    )
    for worker in spawn_workers(MODULE, backends, args.output, args, options):
        if "no_gpu" in worker:
            print(worker["no_gpu"], flush=True)
        report["workers"].append(worker)
    report["wall_s"] = time.perf_counter() - start
    ran = [w for w in report["workers"] if "no_gpu" not in w and "error" not in w]
    if not ran and all("no_gpu" in w for w in report["workers"]):
        print(
            f"gpu.py: refusing: no GPU is visible to {', '.join(backends)}. This benchmark measures "
            "LeRaC on a GPU; run it on a machine with one (see docs/benchmarks.md, 'On a GPU'), or "
            "pass --allow-cpu for a smoke test on the CPU.",
            file=sys.stderr,
        )
        return NO_GPU_STATUS
    report_writer.write(args.output, "gpu", report, markdown(report))
    print(f"total {report['wall_s']:.0f} s; wrote {args.output}/gpu.json and gpu.md")
    return 0 if all("error" not in w for w in report["workers"]) else 1


if __name__ == "__main__":
    sys.exit(main())
