"""Test accuracy of conventional training vs a warm-up vs LeRaC vs CBS on real offline data.

Usage::

    KERAS_BACKEND=jax python -m benchmarks.accuracy [--quick|--tiny] [--seeds N]
        [--epochs E] [--output DIR] [--tasks digits-cnn,digits-mlp,wine-mlp,breast_cancer-mlp]

Runs on the process' Keras backend. Every regime of a task uses the same base
optimizer and rate, epochs, batch size, data split and seeds; for a given seed every
regime starts from the same initial weights and sees the batches in the same order.
The reported number is the test accuracy after the last epoch (no model selection),
as mean +- sample standard deviation over seeds.

Data (all ship with scikit-learn, so nothing downloads):

- `digits`: `keras_lerac.experiments.data.load_digits` (1,347 train / 450 test 8x8 images; the
  package's fixed stratified split), as images for a small CNN and flat for an MLP.
- `wine` (178 x 13, 3 classes) and `breast_cancer` (569 x 30, 2 classes):
  `keras_lerac.experiments.data.load_tabular`, a fixed stratified split
  (`train_test_split(test_size=0.25, random_state=0, stratify=y)`), features
  standardised with the training set's mean and std, for an MLP.

Every run goes through `keras_lerac.experiments.runner.compare`, the runner behind
`keras-lerac compare`; the models are the command's built-in ones (`digits_cnn`,
`digits_mlp`, and the family model `mlp_d3_w64` for the tabular sets).

Regimes:

- `conventional`: the base optimizer alone.
- `warmup`: the control, `LeRaC(..., schedule="warmup")`: every bucket from the lowest
  start rate up to the base rate over the same K (an ordinary warm-up).
- `lerac`: `LeRaC(base, min_learning_rate, curriculum_steps=K epochs, model=model)`,
  default exponential schedule, one bucket per depth level.
- `cbs`: `keras_lerac.cbs.add_smoothing(model, kernel_size=3, sigma=1.0)` with the base
  optimizer and `SmoothingSchedule(decay=0.9, every_epochs=5)` (CNN tasks only).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

from benchmarks import report as report_writer
from keras_lerac.experiments import runner
from keras_lerac.experiments.regimes import CURRICULUM_REGIMES
from keras_lerac.experiments.stats import paired_difference

REGIMES = runner.REGIMES

# name -> the runner's settings for it (SGD momentum 0.9, exponential curriculum).
TASKS = {
    "digits-cnn": dict(data="digits", model="digits_cnn", epochs=20, batch_size=32, learning_rate=0.02),
    "digits-mlp": dict(data="digits", model="digits_mlp", epochs=30, batch_size=32, learning_rate=0.02),
    "wine-mlp": dict(data="wine", model="mlp_d3_w64", epochs=40, batch_size=16, learning_rate=0.01),
    "breast_cancer-mlp": dict(
        data="breast_cancer", model="mlp_d3_w64", epochs=30, batch_size=32, learning_rate=0.01
    ),
}
LERAC = dict(min_learning_rate=1e-6, curriculum_epochs=5)
MODES = {
    "full": {"seeds": 5, "epoch_scale": 1.0},
    "quick": {"seeds": 2, "epoch_scale": 0.3},
    "tiny": {"seeds": 1, "epoch_scale": 0.0},  # 1 epoch
}


def settings_for(name: str, seeds: int, epochs: int) -> tuple[runner.Settings, runner.Data]:
    """The runner's settings of task `name` and its data, without the regimes that cannot
    run on its model (CBS where there is no convolution: `runner.runnable`)."""
    task = dict(TASKS[name], epochs=epochs)
    settings = runner.Settings(**task, **LERAC, seeds=tuple(range(seeds)), regimes=REGIMES)
    data = runner.load_data(settings)
    return runner.runnable(settings, data)[0], data


def run(tasks, seeds: int, epoch_scale: float, epochs: int | None = None, log=print) -> dict:
    import keras

    out = {
        "backend": keras.backend.backend(),
        "keras_version": keras.__version__,
        "seeds": seeds,
        "results": [],
    }
    for name in tasks:
        n_epochs = epochs or max(1, round(TASKS[name]["epochs"] * epoch_scale))
        settings, data = settings_for(name, seeds, n_epochs)
        start = time.perf_counter()
        outcome = runner.compare(settings, data=data)
        for regime, entry in outcome["regimes"].items():
            row = {
                "task": name,
                "data": settings.data,
                "model": settings.model,
                "regime": regime,
                "epochs": n_epochs,
                "batch_size": settings.batch_size,
                "base_lr": settings.base_rate,
                "min_lr": settings.min_learning_rate if regime in CURRICULUM_REGIMES else None,
                "k_epochs": settings.curriculum_epochs if regime in CURRICULUM_REGIMES else None,
                "accuracies": entry["test_accuracy"],
                "mean": entry["mean"],
                "std": entry["std"],
            }
            out["results"].append(row)
            log(f"[{out['backend']}] {name} {regime}: {100 * row['mean']:.2f} +- {100 * row['std']:.2f}")
        log(f"[{out['backend']}] {name}: {time.perf_counter() - start:.0f} s")
    return out


COLUMNS = {"conventional": "conventional", "warmup": "warm-up", "lerac": "LeRaC", "cbs": "CBS"}
# LeRaC paired by seed with its control (a warm-up to the same base rate over the same K)
# and with conventional training: mean difference in points +- its standard error
# (wins / ties / losses over seeds).
CONTRASTS = (("lerac", "warmup"), ("lerac", "conventional"))


def _contrast(rows: dict, a: str, b: str) -> str:
    if a not in rows or b not in rows:
        return "n/a"
    d = paired_difference(rows[a]["accuracies"], rows[b]["accuracies"])
    se = "n/a" if d["se"] is None else f"{100 * d['se']:.2f}"
    return f"{100 * d['mean']:+.2f} +- {se} ({d['wins']}/{d['ties']}/{d['losses']})"


def markdown(report: dict) -> str:
    """The accuracy table (`report.table`): each regime's mean +- std, then the contrasts."""
    lines = []
    by_task: dict = {}
    for row in report["results"]:
        by_task.setdefault(row["task"], {})[row["regime"]] = row
    for task, rows in by_task.items():
        cells = []
        for regime in COLUMNS:
            row = rows.get(regime)
            cells.append("n/a" if row is None else f"{100 * row['mean']:.2f} +- {100 * row['std']:.2f}")
        cells += [_contrast(rows, a, b) for a, b in CONTRASTS]
        epochs = next(iter(rows.values()))["epochs"]
        lines.append([task, epochs, *cells])
    legend = (
        f"Test accuracy (%), mean +- std over {report['seeds']} seeds, backend {report['backend']}; "
        "LeRaC - warm-up and LeRaC - conventional: the paired difference in points, mean +- "
        "standard error over seeds (wins/ties/losses)."
    )
    columns = ("task", "epochs", *COLUMNS.values(), "LeRaC - warm-up", "LeRaC - conventional")
    return report_writer.document(report_writer.table(columns, lines), legend)


def _head(report: dict) -> str:
    return f"Command: `KERAS_BACKEND={report['backend']} python {report['command']}`\n\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="conventional vs warm-up vs LeRaC vs CBS test accuracy")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--tiny", action="store_true", help="1 seed, 1 epoch (tests)")
    parser.add_argument("--seeds", type=int, default=None)
    parser.add_argument("--epochs", type=int, default=None, help="override every task's epochs")
    parser.add_argument("--tasks", default=",".join(TASKS))
    parser.add_argument("--output", default="lerac-results/benchmarks")
    parser.add_argument(
        "--report-only", action="store_true", help="rewrite OUTPUT/accuracy.md from OUTPUT/accuracy.json"
    )
    args = parser.parse_args(argv)
    if args.report_only:
        with open(os.path.join(args.output, "accuracy.json")) as f:
            report = json.load(f)
        report_writer.write(args.output, "accuracy", report, markdown(report), _head(report))
        return 0
    mode = "tiny" if args.tiny else "quick" if args.quick else "full"
    seeds = args.seeds or MODES[mode]["seeds"]
    tasks = [t.strip() for t in args.tasks.split(",") if t.strip()]
    for t in tasks:
        if t not in TASKS:
            raise SystemExit(f"unknown task {t!r}; choose from {list(TASKS)}")
    start = time.perf_counter()
    report = run(tasks, seeds, MODES[mode]["epoch_scale"], args.epochs)
    report["mode"] = mode
    report["command"] = " ".join(["-m benchmarks.accuracy", *(argv if argv is not None else sys.argv[1:])])
    report["machine"] = report_writer.machine_info()
    report["wall_s"] = time.perf_counter() - start
    report_writer.write(args.output, "accuracy", report, markdown(report), _head(report))
    print(f"total {report['wall_s']:.0f} s; wrote {args.output}/accuracy.json and accuracy.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
