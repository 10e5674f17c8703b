#!/usr/bin/env python
"""Test accuracy of conventional training vs LeRaC vs CBS on real offline data.

Usage::

    KERAS_BACKEND=jax python benchmarks/accuracy.py [--quick|--tiny] [--seeds N]
        [--epochs E] [--output DIR] [--tasks digits-cnn,digits-mlp,wine-mlp,breast_cancer-mlp]

Runs on the process' Keras backend. Every regime of a task uses the same base
optimizer and rate, epochs, batch size, data split and seeds; for a given seed every
regime starts from the same initial weights and sees the batches in the same order.
The reported number is the test accuracy after the last epoch (no model selection),
as mean +- sample standard deviation over seeds.

Data (all ship with scikit-learn, so nothing downloads):

- `digits`: `keras_lerac.data.load_digits` (1,347 train / 450 test 8x8 images; the
  package's fixed stratified split), as images for a small CNN and flat for an MLP.
- `wine` (178 x 13, 3 classes) and `breast_cancer` (569 x 30, 2 classes):
  `keras_lerac.data.load_tabular`, a fixed stratified split
  (`train_test_split(test_size=0.25, random_state=0, stratify=y)`), features
  standardised with the training set's mean and std, for an MLP.

Regimes:

- `conventional`: the base optimizer alone.
- `lerac`: `LeRaC(base, min_learning_rate, curriculum_steps=K epochs, model=model)`,
  default exponential schedule, one bucket per depth level.
- `cbs`: `keras_lerac.cbs.add_smoothing(model, kernel_size=3, sigma=1.0)` with the base
  optimizer and `SmoothingSchedule(decay=0.9, every_epochs=5)` (CNN tasks only).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

REGIMES = ("conventional", "lerac", "cbs")

# name -> (data set, model kind, epochs, batch size, base rate, LeRaC min rate, K epochs)
TASKS = {
    "digits-cnn": {
        "data": "digits",
        "model": "cnn",
        "epochs": 20,
        "batch": 32,
        "lr": 0.02,
        "min_lr": 1e-6,
        "k_epochs": 5,
    },
    "digits-mlp": {
        "data": "digits",
        "model": "mlp",
        "epochs": 30,
        "batch": 32,
        "lr": 0.02,
        "min_lr": 1e-6,
        "k_epochs": 5,
    },
    "wine-mlp": {
        "data": "wine",
        "model": "mlp",
        "epochs": 40,
        "batch": 16,
        "lr": 0.01,
        "min_lr": 1e-6,
        "k_epochs": 5,
    },
    "breast_cancer-mlp": {
        "data": "breast_cancer",
        "model": "mlp",
        "epochs": 30,
        "batch": 32,
        "lr": 0.01,
        "min_lr": 1e-6,
        "k_epochs": 5,
    },
}
MODES = {
    "full": {"seeds": 5, "epoch_scale": 1.0},
    "quick": {"seeds": 2, "epoch_scale": 0.3},
    "tiny": {"seeds": 1, "epoch_scale": 0.0},  # 1 epoch
}


def load(name: str):
    """`((x_train, y_train), (x_test, y_test), num_classes)` for a bundled data set.

    The loading and the fixed splits live in `keras_lerac.data` (one loader for the
    package, the CLI and every benchmark).
    """
    from keras_lerac.data import load_dataset

    (x_train, y_train), (x_test, y_test) = load_dataset(name)
    return (x_train, y_train), (x_test, y_test), int(max(y_train.max(), y_test.max())) + 1


def build(kind: str, input_shape, num_classes: int):
    import keras
    from keras import layers

    inputs = keras.Input(input_shape)
    if kind == "cnn":
        x = inputs
        for i, width in enumerate((16, 32, 64)):
            # conv (linear) -> BN -> ReLU, so CBS can smooth right after each conv
            x = layers.Conv2D(width, 3, padding="same", use_bias=False, name=f"conv{i}")(x)
            x = layers.BatchNormalization(name=f"bn{i}")(x)
            x = layers.ReLU(name=f"relu{i}")(x)
            if i == 1:
                x = layers.MaxPooling2D(2, name="pool")(x)
        x = layers.GlobalAveragePooling2D(name="gap")(x)
    else:
        x = layers.Flatten(name="flatten")(inputs) if len(input_shape) > 1 else inputs
        for i in range(3):
            x = layers.Dense(64, activation="relu", name=f"dense{i}")(x)
    outputs = layers.Dense(num_classes, name="head")(x)
    return keras.Model(inputs, outputs, name=f"{kind}")


def optional_cbs():
    try:
        from keras_lerac.cbs import SmoothingSchedule, add_smoothing

        return add_smoothing, SmoothingSchedule, None
    except Exception as error:  # noqa: BLE001
        return None, None, f"cbs skipped: keras_lerac.cbs not importable ({type(error).__name__}: {error})"


def run_one(task: dict, regime: str, seed: int, data, epochs: int, cbs) -> float:
    import keras
    import numpy as np

    from keras_lerac import LeRaC

    (x_train, y_train), (x_test, y_test), num_classes = data
    keras.utils.clear_session()
    keras.utils.set_random_seed(seed)
    model = build(task["model"], x_train.shape[1:], num_classes)
    callbacks = []
    if regime == "cbs":
        add_smoothing, schedule, _ = cbs
        model = add_smoothing(model, kernel_size=3, sigma=1.0)
        callbacks.append(schedule(decay=0.9, every_epochs=5))
    optimizer = keras.optimizers.SGD(task["lr"], momentum=0.9)
    if regime == "lerac":
        steps_per_epoch = -(-len(x_train) // task["batch"])
        optimizer = LeRaC(
            optimizer,
            min_learning_rate=task["min_lr"],
            curriculum_steps=task["k_epochs"] * steps_per_epoch,
            model=model,
        )
    model.compile(
        optimizer=optimizer,
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    # Same batch order for every regime of this seed.
    keras.utils.set_random_seed(seed)
    model.fit(x_train, y_train, batch_size=task["batch"], epochs=epochs, verbose=0, callbacks=callbacks)
    logits = model.predict(x_test, batch_size=256, verbose=0)
    return float(np.mean(np.argmax(logits, axis=-1) == y_test))


def run(tasks, seeds: int, epoch_scale: float, epochs: int | None = None, log=print) -> dict:
    import keras

    cbs = optional_cbs()
    notes = [cbs[2]] if cbs[2] else []
    out = {
        "backend": keras.backend.backend(),
        "keras_version": keras.__version__,
        "seeds": seeds,
        "notes": notes,
        "results": [],
    }
    cache = {}
    for name in tasks:
        task = TASKS[name]
        if task["data"] not in cache:
            cache[task["data"]] = load(task["data"])
        data = cache[task["data"]]
        n_epochs = epochs or max(1, round(task["epochs"] * epoch_scale))
        for regime in REGIMES:
            if regime == "cbs" and (task["model"] != "cnn" or cbs[0] is None):
                continue
            start = time.perf_counter()
            accs = [run_one(task, regime, seed, data, n_epochs, cbs) for seed in range(seeds)]
            row = {
                "task": name,
                "data": task["data"],
                "model": task["model"],
                "regime": regime,
                "epochs": n_epochs,
                "batch_size": task["batch"],
                "base_lr": task["lr"],
                "min_lr": task["min_lr"] if regime == "lerac" else None,
                "k_epochs": task["k_epochs"] if regime == "lerac" else None,
                "accuracies": accs,
                "mean": statistics.mean(accs),
                "std": statistics.stdev(accs) if len(accs) > 1 else 0.0,
                "seconds": time.perf_counter() - start,
            }
            out["results"].append(row)
            log(
                f"[{out['backend']}] {name} {regime}: {100 * row['mean']:.2f} +- {100 * row['std']:.2f} "
                f"({row['seconds']:.0f} s)"
            )
    return out


def markdown(report: dict) -> str:
    lines = ["| task | epochs | conventional | LeRaC | CBS |", "|---|---|---|---|---|"]
    by_task: dict = {}
    for row in report["results"]:
        by_task.setdefault(row["task"], {})[row["regime"]] = row
    for task, rows in by_task.items():
        cells = []
        for regime in REGIMES:
            row = rows.get(regime)
            cells.append("n/a" if row is None else f"{100 * row['mean']:.2f} +- {100 * row['std']:.2f}")
        epochs = next(iter(rows.values()))["epochs"]
        lines.append(f"| {task} | {epochs} | " + " | ".join(cells) + " |")
    text = "\n".join(lines) + "\n"
    text += f"\nTest accuracy (%), mean +- std over {report['seeds']} seeds, backend {report['backend']}.\n"
    if report["notes"]:
        text += "\n" + "\n".join(f"- {n}" for n in report["notes"]) + "\n"
    return text


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="conventional vs LeRaC vs CBS test accuracy")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--tiny", action="store_true", help="1 seed, 1 epoch (tests)")
    parser.add_argument("--seeds", type=int, default=None)
    parser.add_argument("--epochs", type=int, default=None, help="override every task's epochs")
    parser.add_argument("--tasks", default=",".join(TASKS))
    parser.add_argument("--output", default="lerac-results/benchmarks")
    args = parser.parse_args(argv)
    mode = "tiny" if args.tiny else "quick" if args.quick else "full"
    seeds = args.seeds or MODES[mode]["seeds"]
    tasks = [t.strip() for t in args.tasks.split(",") if t.strip()]
    for t in tasks:
        if t not in TASKS:
            raise SystemExit(f"unknown task {t!r}; choose from {list(TASKS)}")
    start = time.perf_counter()
    report = run(tasks, seeds, MODES[mode]["epoch_scale"], args.epochs)
    report["mode"] = mode
    report["command"] = " ".join(["benchmarks/accuracy.py", *(argv if argv is not None else sys.argv[1:])])
    report["wall_s"] = time.perf_counter() - start
    os.makedirs(args.output, exist_ok=True)
    table = markdown(report)
    with open(os.path.join(args.output, "accuracy.json"), "w") as f:
        json.dump(report, f, indent=1)
    with open(os.path.join(args.output, "accuracy.md"), "w") as f:
        f.write(f"Command: `KERAS_BACKEND={report['backend']} python {report['command']}`\n\n" + table)
    print(table)
    print(f"total {report['wall_s']:.0f} s; wrote {args.output}/accuracy.json and accuracy.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
