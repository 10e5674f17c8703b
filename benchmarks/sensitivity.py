#!/usr/bin/env python
"""How LeRaC's two settings, K and the start ratio, move test accuracy: a paired study.

Usage::

    python benchmarks/sensitivity.py [--backend jax] [--workers 1] [--output DIR]
    python benchmarks/sensitivity.py --smoke --output /tmp/smoke     # tiny, < 1 min
    python benchmarks/sensitivity.py --estimate                        # time each config, size the run
    python benchmarks/sensitivity.py --report-only                     # re-aggregate the records

Every LeRaC run is compared with the conventional run of the same data, model,
optimizer, base rate, training length and seed: the same initial weights (built once
per model and seed, saved under `DIR/init/` and loaded by every regime) and the same
batches in the same order. The conventional run is done once per seed and shared by
every LeRaC cell. The base rate is tuned for the conventional regime on a validation
split carved from the training data (never the test split). Design, factors and how to
read the results: `docs/sensitivity.md`.

The run is resumable: each finished run appends one JSON line to `DIR/runs.jsonl`
(tuning runs to `DIR/tuning.jsonl`); a rerun skips every run already recorded (the key
is every factor plus the seed), and a line cut short by a kill is dropped and redone.
Outputs: `runs.jsonl`, `tuning.jsonl`, `summary.json`, `summary.md`, `heatmap_*.png`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import platform
import signal
import statistics
import sys
import time
from collections.abc import Callable, Iterable

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

DESIGN_VERSION = 1
DEFAULT_OUTPUT = os.path.join("benchmarks", "results", "sensitivity")
# Measured on this 2-core machine, one thread, this study with 8 seeds and no compilation
# cache (docs/sensitivity.md): JAX (jit) 1.73 h, torch (eager) 4.44 h, TensorFlow (graph) 6.05 h.
DEFAULT_BACKEND = "jax"

# ----------------------------------------------------------------------------- the design
K_FRACTIONS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.2)  # K as a fraction of all training steps
START_RATIOS = (1e-1, 1e-2, 1e-3, 1e-4, 1e-6, 1e-8)  # start rate of the last bucket / base rate
SCHEDULES = ("exponential", "linear", "stepwise")
CENTRE_K, CENTRE_RATIO = 0.05, 1e-4  # where the one-factor-at-a-time crosses meet
# Half-decade grids. A pilot put the tuned SGD rate at both ends of 0.003-0.3 (wine at
# 0.003, the batch-normed CNNs at 0.3), so SGD spans 0.001-1.
BASE_RATES = {"sgd": (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0), "adam": (1e-4, 3e-4, 1e-3, 3e-3, 1e-2)}
SEEDS = 12  # at least 8; 12 fit about 2.2 h on the shared 2-core machine (docs/sensitivity.md)
TUNE_SEEDS = (1000, 1001, 1002)  # disjoint from the study seeds 0..N-1
VALIDATION_FRACTION = 0.2
# Batch size and epochs of each data set's standard run (about 300-900 steps in all).
DATA_DEFAULTS = {
    "digits": (32, 15),
    "spirals": (32, 15),
    "breast_cancer": (32, 30),
    "wine": (16, 40),
    "iris": (16, 40),
}

CONFIG_FIELDS = (
    "data",
    "model",
    "depth",
    "width",
    "residual",
    "norm",
    "optimizer",
    "lr_schedule",
    "epochs",
    "batch_size",
)
CELL_FIELDS = ("schedule", "k_fraction", "start_ratio")
RUN_FIELDS = (*CONFIG_FIELDS, "base_lr", "regime", *CELL_FIELDS, "seed")
TUNE_FIELDS = (*CONFIG_FIELDS, "base_lr", "seed")

CENTRAL = {
    "data": "digits",
    "model": "mlp",
    "depth": 6,
    "width": 64,
    "residual": False,
    "norm": False,
    "optimizer": "sgd",
    "lr_schedule": "cosine",
    "epochs": 15,
    "batch_size": 32,
}


def config(base: dict | None = None, **changes) -> dict:
    """A training configuration: `base` (default `CENTRAL`) with `changes` applied.

    Changing the data set also takes that data set's batch size and epochs unless given.
    """
    out = dict(CENTRAL if base is None else base)
    if "data" in changes:
        batch, epochs = DATA_DEFAULTS[changes["data"]]
        out.update(batch_size=batch, epochs=epochs)
    if changes.get("model") == "cnn":
        out.update(width=16, norm=True)
    out.update(changes)
    return out


def grid_cells(schedule: str, k_fractions=K_FRACTIONS, ratios=START_RATIOS) -> list[tuple]:
    """Every (schedule, K fraction, start ratio) of the K x ratio grid."""
    return [(schedule, k, r) for k in k_fractions for r in ratios]


def cross_cells(
    schedule: str, k_fractions=K_FRACTIONS, ratios=START_RATIOS, centre=(CENTRE_K, CENTRE_RATIO)
) -> list[tuple]:
    """The cross through the grid: every K at the centre ratio, every ratio at the centre K."""
    k0, r0 = centre
    return [(schedule, k, r0) for k in k_fractions] + [(schedule, k0, r) for r in ratios if r != r0]


def full_design(seeds: int = SEEDS) -> dict:
    """The study: full K x ratio grids on primary configurations, crosses on slices.

    Grids (36 cells each): the central configuration (digits, MLP depth 6, SGD with
    momentum, cosine decay, 15 epochs) with each curriculum schedule, the same with
    Adam, the two-spirals task, and a 20-layer residual MLP with batch norm. Slices vary
    one factor of the central configuration at a time and run the cross of cells (11)
    at each level.
    """
    c = CENTRAL
    adam = config(optimizer="adam")
    deep = config(depth=20, residual=True, norm=True)
    grids = [
        ("digits-mlp-sgd", c, "exponential"),
        ("digits-mlp-sgd-linear", c, "linear"),
        ("digits-mlp-sgd-stepwise", c, "stepwise"),
        ("digits-mlp-adam", adam, "exponential"),
        ("spirals-mlp-sgd", config(data="spirals"), "exponential"),
        ("digits-mlp20-res-bn-sgd", deep, "exponential"),
    ]
    slices = {
        "curriculum schedule": [("exponential", c), ("linear", c, "linear"), ("stepwise", c, "stepwise")],
        "optimizer": [("sgd", c), ("adam", adam)],
        "depth (plain MLP)": [
            ("3", config(depth=3)),
            ("6", c),
            ("12", config(depth=12)),
            ("20", config(depth=20)),
        ],
        "residual / batch norm (MLP)": [
            ("plain d6", c),
            ("residual d6", config(residual=True)),
            ("bn d6", config(norm=True)),
            ("residual+bn d6", config(residual=True, norm=True)),
            ("residual+bn d12", config(depth=12, residual=True, norm=True)),
            ("residual+bn d20", deep),
        ],
        "CNN on digits images (bn)": [
            ("d3", config(model="cnn", depth=3)),
            ("d6", config(model="cnn", depth=6)),
            ("d12 residual", config(model="cnn", depth=12, residual=True)),
        ],
        "training length (epochs)": [
            ("5", config(epochs=5)),
            ("15", c),
            ("45", config(epochs=45)),
        ],
        "base-rate schedule": [("cosine", c), ("constant", config(lr_schedule="constant"))],
        "data set (MLP d6)": [
            ("digits", c),
            ("spirals", config(data="spirals")),
            ("breast_cancer", config(data="breast_cancer")),
            ("wine", config(data="wine")),
            ("iris", config(data="iris")),
        ],
    }
    return _design("full", grids, slices, seeds, K_FRACTIONS, START_RATIOS, BASE_RATES, TUNE_SEEDS)


def smoke_design(seeds: int = 2) -> dict:
    """A tiny design with every moving part (tuning, a grid, a slice): seconds on one core."""
    c = config(data="wine", depth=2, width=8, epochs=2, batch_size=32)
    grids = [("wine-mlp-sgd", c, "exponential")]
    slices = {"depth (plain MLP)": [("2", c), ("1", config(c, depth=1))]}
    return _design(
        "smoke",
        grids,
        slices,
        seeds,
        k_fractions=(0.2,),  # 16 runs: a process start costs more than a run here
        ratios=(1e-2, 1e-4),
        base_rates={"sgd": (0.01, 0.1)},
        tune_seeds=(1000,),
        centre=(0.2, 1e-4),
    )


def _design(name, grids, slices, seeds, k_fractions, ratios, base_rates, tune_seeds, centre=None) -> dict:
    centre = centre or (CENTRE_K, CENTRE_RATIO)
    blocks = []
    for label, cfg, schedule in grids:
        blocks.append(
            {"kind": "grid", "name": label, "config": cfg, "cells": grid_cells(schedule, k_fractions, ratios)}
        )
    slice_list = []
    for factor, levels in slices.items():
        rows = []
        for level in levels:
            label, cfg = level[0], level[1]
            schedule = level[2] if len(level) > 2 else "exponential"
            rows.append({"level": label, "config": cfg, "schedule": schedule})
            cells = cross_cells(schedule, k_fractions, ratios, centre)
            blocks.append({"kind": "slice", "name": f"{factor}: {label}", "config": cfg, "cells": cells})
        slice_list.append({"factor": factor, "levels": rows})
    return {
        "name": name,
        "version": DESIGN_VERSION,
        "seeds": list(range(seeds)),
        "k_fractions": list(k_fractions),
        "start_ratios": list(ratios),
        "centre": list(centre),
        "base_rates": {k: list(v) for k, v in base_rates.items()},
        "tune_seeds": list(tune_seeds),
        "validation_fraction": VALIDATION_FRACTION,
        "blocks": blocks,
        "slices": slice_list,
    }


# ----------------------------------------------------------------------------- keys and records
def key_of(spec: dict, fields: Iterable[str]) -> str:
    """The canonical identity of a run: its factors (and seed) as sorted JSON."""
    return json.dumps({f: spec.get(f) for f in fields}, sort_keys=True)


def config_key(spec: dict) -> str:
    return key_of(spec, CONFIG_FIELDS)


def config_label(cfg: dict) -> str:
    """A short readable name: `digits mlp d6 w64 sgd cosine 15ep b32` (+ res, bn)."""
    parts = [cfg["data"], cfg["model"], f"d{cfg['depth']}", f"w{cfg['width']}"]
    parts += ["res"] if cfg["residual"] else []
    parts += ["bn"] if cfg["norm"] else []
    parts += [cfg["optimizer"], cfg["lr_schedule"], f"{cfg['epochs']}ep", f"b{cfg['batch_size']}"]
    return " ".join(parts)


def distinct_configs(design: dict) -> list[dict]:
    seen, out = set(), []
    for block in design["blocks"]:
        key = config_key(block["config"])
        if key not in seen:
            seen.add(key)
            out.append(block["config"])
    return out


def tuning_specs(design: dict) -> list[dict]:
    """Conventional runs on the validation split: every base rate x tuning seed x config."""
    specs = []
    for seed in design["tune_seeds"]:
        for cfg in distinct_configs(design):
            for rate in design["base_rates"][cfg["optimizer"]]:
                specs.append({**cfg, "base_lr": rate, "seed": seed, "split": "validation"})
    return specs


def choose_base_rates(design: dict, tuning: dict[str, dict]) -> dict[str, dict]:
    """Per config: the base rate with the best mean final-epoch validation accuracy.

    Returns `{config_key: {"config", "base_lr", "table", "at_edge"}}` (`table`: each rate's
    accuracies and mean); ties go to the smaller rate. A config whose tuning runs are not
    all recorded is left out.
    """
    out = {}
    for cfg in distinct_configs(design):
        rates = design["base_rates"][cfg["optimizer"]]
        table, complete = [], True
        for rate in rates:
            accs = []
            for seed in design["tune_seeds"]:
                rec = tuning.get(key_of({**cfg, "base_lr": rate, "seed": seed}, TUNE_FIELDS))
                if rec is None:
                    complete = False
                else:
                    accs.append(rec["final_acc"])
            table.append({"base_lr": rate, "val_acc": accs, "mean": statistics.mean(accs) if accs else None})
        if not complete:
            continue
        best = max(table, key=lambda row: (row["mean"], -row["base_lr"]))
        out[config_key(cfg)] = {
            "config": cfg,
            "base_lr": best["base_lr"],
            "table": table,
            "at_edge": best["base_lr"] in (min(rates), max(rates)),
        }
    return out


def study_specs(design: dict, rates: dict[str, dict]) -> list[dict]:
    """Every study run, seed-major (a partial run has balanced seeds), each once.

    For a seed, a config's conventional run comes first, then its LeRaC cells.
    """
    specs, seen = [], set()
    for seed in design["seeds"]:
        for block in design["blocks"]:
            cfg = block["config"]
            chosen = rates.get(config_key(cfg))
            if chosen is None:
                continue
            base = {**cfg, "base_lr": chosen["base_lr"], "seed": seed, "split": "test"}
            runs = [
                {**base, "regime": "conventional", "schedule": None, "k_fraction": None, "start_ratio": None}
            ]
            for schedule, k, r in block["cells"]:
                runs.append(
                    {**base, "regime": "lerac", "schedule": schedule, "k_fraction": k, "start_ratio": r}
                )
            for spec in runs:
                key = key_of(spec, RUN_FIELDS)
                if key not in seen:
                    seen.add(key)
                    specs.append(spec)
    return specs


class RunStore:
    """An append-only JSON-lines file of finished runs, safe against kills.

    A line is written whole (one `write`, then flush and fsync) only after its run has
    finished, so a killed run leaves no record. A last line cut short by a kill during
    the write does not parse: it is dropped (the file is rewritten without it) when the
    store is opened, and its run is done again.
    """

    def __init__(self, path: str, fields: tuple[str, ...]):
        self.path = path
        self.fields = fields
        self.records: dict[str, dict] = {}
        self.dropped = 0
        if os.path.exists(path):
            self._load()

    def _load(self) -> None:
        good = []
        with open(self.path, encoding="utf-8") as f:
            lines = f.read().split("\n")
        for line in lines:
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                self.dropped += 1
                continue
            self.records[key_of(record, self.fields)] = record
            good.append(line)
        if self.dropped or (lines and lines[-1] != ""):
            tmp = self.path + ".tmp"
            with open(tmp, "w", encoding="utf-8") as f:
                f.write("".join(line + "\n" for line in good))
            os.replace(tmp, self.path)

    def __contains__(self, spec: dict) -> bool:
        return key_of(spec, self.fields) in self.records

    def append(self, record: dict) -> None:
        line = json.dumps(record, allow_nan=False) + "\n"
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(line)
            f.flush()
            os.fsync(f.fileno())
        self.records[key_of(record, self.fields)] = record


# ----------------------------------------------------------------------------- one run
def configure_process(backend: str, threads: int, cache_dir: str | None = None) -> None:
    """Picks the Keras backend, the thread count and JAX's compilation cache.

    Call before Keras is imported (each worker process calls it first). On JAX, programs
    go to a persistent compilation cache in `cache_dir`: every seed after the first of a
    cell runs the same program, and finds it there instead of compiling it again (about
    half of a short run's time here); the numbers are the same.
    """
    if "keras" in sys.modules and os.environ.get("KERAS_BACKEND") != backend:
        raise RuntimeError(f"Keras is already imported with another backend; cannot switch to {backend}.")
    os.environ["KERAS_BACKEND"] = backend
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if threads:
        for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
            os.environ[var] = str(threads)
        os.environ["TF_NUM_INTRAOP_THREADS"] = str(threads)
        os.environ["TF_NUM_INTEROP_THREADS"] = "1"
        if threads == 1 and "xla_cpu_multi_thread_eigen" not in os.environ.get("XLA_FLAGS", ""):
            os.environ["XLA_FLAGS"] = (
                os.environ.get("XLA_FLAGS", "")
                + " --xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
            ).strip()
    import keras  # noqa: F401  (the backend is fixed from here on)

    if backend == "jax" and cache_dir:
        import jax

        jax.config.update("jax_compilation_cache_dir", os.path.abspath(cache_dir))
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
        jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    if threads and backend == "torch":
        import torch

        torch.set_num_threads(threads)
    if threads and backend == "tensorflow":
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)


_DATA_CACHE: dict = {}


def dataset(name: str, flat: bool, split: str):
    """`(x_fit, y_fit), (x_eval, y_eval), num_classes`: test split, or validation from training."""
    key = (name, flat, split)
    if key not in _DATA_CACHE:
        from keras_lerac.experiments import data

        (x_train, y_train), test = data.load_dataset(name, flat=flat)
        classes = int(max(y_train.max(), test[1].max())) + 1
        if split == "validation":
            train, held_out = data.validation_split(x_train, y_train, VALIDATION_FRACTION, seed=0)
        else:
            train, held_out = (x_train, y_train), test
        _DATA_CACHE[key] = (train, held_out, classes)
    return _DATA_CACHE[key]


def build_model(spec: dict, input_shape: tuple, num_classes: int):
    from keras_lerac.experiments import models

    builder = {"mlp": models.mlp, "cnn": models.cnn}[spec["model"]]
    return builder(
        input_shape,
        num_classes,
        depth=spec["depth"],
        width=spec["width"],
        residual=spec["residual"],
        norm=spec["norm"],
    )


def initial_weights(model, spec: dict, output: str) -> str:
    """Loads (or first saves) the initial weights of this model and seed; returns their hash.

    The model was built right after `set_random_seed(seed)`; the first run of a model
    and seed saves those weights to `output/init/`, every later run of any regime loads
    them, so paired runs start from the same bytes even across processes and resumes.
    """
    import numpy as np

    name = f"{spec['data']}-{model.name}-s{spec['seed']}.npz"
    path = os.path.join(output, "init", name)
    if os.path.exists(path):
        with np.load(path) as saved:
            model.set_weights([saved[f"w{i}"] for i in range(len(saved.files))])
    else:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = f"{path}.{os.getpid()}.tmp.npz"
        np.savez(tmp, **{f"w{i}": w for i, w in enumerate(model.get_weights())})
        os.replace(tmp, path)  # atomic: a concurrent worker writes the same bytes
    digest = hashlib.sha1()
    for weight in model.get_weights():
        digest.update(np.ascontiguousarray(weight).tobytes())
    return digest.hexdigest()[:16]


def execute(spec: dict, output: str) -> dict:
    """Trains one run and returns its record (nothing is written here)."""
    import keras
    import numpy as np

    from keras_lerac import LeRaC

    start = time.perf_counter()
    flat = spec["model"] == "mlp"
    (x, y), (x_eval, y_eval), classes = dataset(spec["data"], flat, spec["split"])
    keras.utils.clear_session()
    keras.utils.set_random_seed(spec["seed"])
    model = build_model(spec, x.shape[1:], classes)
    init_hash = initial_weights(model, spec, output)
    batch = spec["batch_size"]
    steps_per_epoch = len(x) // batch  # the last partial batch is dropped (tiny batches upset BN)
    total_steps = steps_per_epoch * spec["epochs"]
    lr = spec["base_lr"]
    base = lr
    if spec["lr_schedule"] == "cosine":
        base = keras.optimizers.schedules.CosineDecay(lr, total_steps)
    if spec["optimizer"] == "sgd":
        optimizer = keras.optimizers.SGD(base, momentum=0.9)
    else:
        optimizer = keras.optimizers.Adam(base)
    extra = {}
    if spec.get("regime") == "lerac":
        k = max(1, round(spec["k_fraction"] * total_steps))
        optimizer = LeRaC(
            optimizer,
            min_learning_rate=spec["start_ratio"] * lr,
            curriculum_steps=k,
            schedule=spec["schedule"],
            model=model,
        )
        optimizer.build(model.trainable_variables)
        extra = {"curriculum_steps": k, "num_buckets": len(optimizer.start_ratios)}
    model.compile(optimizer=optimizer, loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    # The batch order depends on the seed only: the same in every regime.
    order = np.random.default_rng([spec["seed"], 2205_09180])
    accuracy, loss = [], []
    for _ in range(spec["epochs"]):
        index = order.permutation(len(x))[: steps_per_epoch * batch]
        history = model.fit(x[index], y[index], batch_size=batch, epochs=1, shuffle=False, verbose=0)
        loss.append(float(history.history["loss"][0]))
        logits = model.predict(x_eval, batch_size=len(x_eval), verbose=0)
        accuracy.append(float(np.mean(np.argmax(logits, axis=-1) == y_eval)))
    best = int(np.argmax(accuracy))
    record = {f: spec.get(f) for f in (RUN_FIELDS if spec["split"] == "test" else TUNE_FIELDS)}
    record.update(
        {
            "split": spec["split"],
            "final_acc": accuracy[-1],
            "best_acc": accuracy[best],
            "best_epoch": best + 1,
            "acc_curve": accuracy,
            "loss_curve": [v if math.isfinite(v) else None for v in loss],
            "diverged": not all(math.isfinite(v) for v in loss),
            "steps_per_epoch": steps_per_epoch,
            "total_steps": total_steps,
            "curriculum_steps": None,
            "num_buckets": None,
            **extra,
            "init_hash": init_hash,
            "wall_s": round(time.perf_counter() - start, 3),
            "max_rss_mb": round(_max_rss_mb()),
            "backend": keras.backend.backend(),
        }
    )
    return record


def _max_rss_mb() -> float:
    """Peak resident memory of this process so far (MiB): a leak across runs shows here."""
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


# ----------------------------------------------------------------------------- running
_STOP: list[int] = []  # signals received: the study stops after the run in progress


def request_stop(signum, frame) -> None:
    """SIGINT/SIGTERM handler: finish the run in progress, record it, stop; twice: stop now.

    Raising from a signal handler at an arbitrary point is unreliable (inside a weakref
    callback during garbage collection the exception is printed and dropped, and the study
    went on), so the first signal only sets a flag that the run loop reads between runs.
    """
    if _STOP:
        raise KeyboardInterrupt(f"signal {signum} (second)")
    _STOP.append(signum)
    print(f"== signal {signum}: stopping after the run in progress (send it again to stop now)", flush=True)


def _worker_init(*setup) -> None:
    """A worker leaves Ctrl-C to the parent, which stops the pool cleanly."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    configure_process(*setup)


def _check_stop() -> None:
    if _STOP:
        raise KeyboardInterrupt(f"signal {_STOP[0]}")


def describe(spec: dict) -> str:
    text = f"{config_label(spec)} lr={spec['base_lr']:g} seed={spec['seed']}"
    if spec.get("regime") == "lerac":
        text += f" lerac {spec['schedule'][:3]} K={100 * spec['k_fraction']:g}% r={spec['start_ratio']:g}"
    elif spec["split"] == "validation":
        text += " tune"
    else:
        text += " conventional"
    return text


def run_specs(
    specs: list[dict],
    store: RunStore,
    output: str,
    workers: int,
    setup: tuple,
    log: Callable[[str], None],
    limit: int | None = None,
) -> tuple[int, list[str]]:
    """Runs what `store` lacks; returns (runs done, failures). Ctrl-C stops cleanly."""
    todo = [s for s in specs if s not in store]
    if limit is not None:
        todo = todo[:limit]
    if not todo:
        return 0, []
    done, failures, start = 0, [], time.perf_counter()

    def finished(spec: dict, record: dict | None, error: str | None) -> None:
        nonlocal done
        if record is None:
            failures.append(f"{describe(spec)}: {error}")
            log(f"FAILED {describe(spec)}: {error}")
            return
        store.append(record)
        done += 1
        elapsed = time.perf_counter() - start
        eta = elapsed / done * (len(todo) - done - len(failures))
        log(
            f"[{done}/{len(todo)}] {describe(spec)}: final {100 * record['final_acc']:.2f} "
            f"best {100 * record['best_acc']:.2f} ({record['wall_s']:.1f} s; ETA {eta / 60:.0f} min)"
        )

    if workers <= 1:
        configure_process(*setup)
        for spec in todo:
            _check_stop()
            try:
                record = execute(spec, output)
            except Exception as error:  # noqa: BLE001 - one bad run must not stop a long study
                finished(spec, None, f"{type(error).__name__}: {error}")
            else:
                finished(spec, record, None)
        return done, failures

    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    # spawn: each worker picks its backend and threads before importing Keras.
    context = multiprocessing.get_context("spawn")

    def collect(future) -> None:
        error = future.exception()
        if error is None:
            finished(futures[future], future.result(), None)
        else:
            finished(futures[future], None, f"{type(error).__name__}: {error}")

    with ProcessPoolExecutor(workers, mp_context=context, initializer=_worker_init, initargs=setup) as pool:
        futures = {pool.submit(execute, spec, output): spec for spec in todo}
        waiting = set(futures)
        for future in as_completed(futures):
            waiting.discard(future)
            collect(future)
            if _STOP:  # let the runs in progress finish and record them; drop the queue
                pool.shutdown(wait=True, cancel_futures=True)
                for rest in waiting:
                    if rest.done() and not rest.cancelled():
                        collect(rest)
                _check_stop()
    return done, failures


def check_manifest(output: str, design: dict, backend: str | None) -> str:
    """One output folder holds one design on one backend (initial weights depend on it).

    Creates `output/study.json` on the first call; later calls must name the same design
    and backend, or `backend=None` (reading only) to accept the recorded one. Returns the
    study's backend.
    """
    path = os.path.join(output, "study.json")
    wanted = {"design": design["name"], "version": design["version"], "backend": backend}
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            manifest = json.load(f)
        if backend is None:
            wanted["backend"] = manifest.get("backend")
        found = {k: manifest.get(k) for k in wanted}
        if found != wanted:
            raise SystemExit(
                f"{output} holds a study with {found}, this one is {wanted}. Resume it with the same "
                "settings (e.g. --backend), or pass another --output."
            )
        return found["backend"]
    if backend is None:
        return None
    os.makedirs(output, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump({**wanted, "created": time.strftime("%Y-%m-%d %H:%M:%S")}, f, indent=1)
    return backend


def hold_lock(output: str):
    """One study process per output folder: two would run and record the same runs twice.

    Returns the open lock file (the lock lasts as long as it stays open), or None where
    `fcntl` is missing (Windows).
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        return None
    handle = open(os.path.join(output, ".lock"), "w")  # held open for the life of the process
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        raise SystemExit(
            f"Another sensitivity study is running on {output}: wait for it, stop it (Ctrl-C or kill "
            "its PID; it records the run in progress first), or pass another --output."
        ) from None
    return handle


# ----------------------------------------------------------------------------- the report
def _mean_se(values: list[float]) -> tuple[float | None, float | None]:
    if not values:
        return None, None
    mean = statistics.mean(values)
    se = statistics.stdev(values) / math.sqrt(len(values)) if len(values) > 1 else None
    return mean, se


def aggregate(design: dict, runs: dict[str, dict], tuning: dict[str, dict]) -> dict:
    """Pairs every LeRaC run with its conventional run and summarises each cell.

    A cell's numbers are in accuracy points (0-100): the mean over seeds of
    `LeRaC - conventional` and its standard error (sample std / sqrt(n)), for the
    final epoch (primary) and the best epoch; plus how many seeds LeRaC won, lost, tied.
    """
    rates = choose_base_rates(design, tuning)
    conventional: dict[tuple, dict] = {}
    lerac: dict[tuple, list[dict]] = {}
    for rec in runs.values():
        pair = (config_key(rec), rec["base_lr"], rec["seed"])
        if rec["regime"] == "conventional":
            conventional[pair] = rec
        else:
            cell = (config_key(rec), rec["base_lr"], rec["schedule"], rec["k_fraction"], rec["start_ratio"])
            lerac.setdefault(cell, []).append(rec)

    configs = []
    for cfg in distinct_configs(design):
        chosen = rates.get(config_key(cfg))
        entry = {"config": cfg, "label": config_label(cfg), "tuning": chosen}
        if chosen is not None:
            recs = [
                r
                for (ck, lr, _), r in conventional.items()
                if ck == config_key(cfg) and lr == chosen["base_lr"]
            ]
            finals = [100 * r["final_acc"] for r in recs]
            bests = [100 * r["best_acc"] for r in recs]
            entry.update(
                {
                    "base_lr": chosen["base_lr"],
                    "n": len(recs),
                    "conv_final_mean": statistics.mean(finals) if finals else None,
                    "conv_final_sd": statistics.stdev(finals) if len(finals) > 1 else None,
                    "conv_best_mean": statistics.mean(bests) if bests else None,
                    "steps_per_epoch": recs[0].get("steps_per_epoch") if recs else None,
                    "total_steps": recs[0].get("total_steps") if recs else None,
                }
            )
        configs.append(entry)

    cells, mismatched = [], 0
    for (ck, lr, schedule, k, r), recs in lerac.items():
        pairs = [(rec, conventional.get((ck, lr, rec["seed"]))) for rec in recs]
        pairs = [(a, b) for a, b in pairs if b is not None]
        mismatched += sum(a["init_hash"] != b["init_hash"] for a, b in pairs)
        final = [100 * (a["final_acc"] - b["final_acc"]) for a, b in pairs]
        best = [100 * (a["best_acc"] - b["best_acc"]) for a, b in pairs]
        final_mean, final_se = _mean_se(final)
        best_mean, best_se = _mean_se(best)
        first = recs[0]
        cells.append(
            {
                **{f: first[f] for f in CONFIG_FIELDS},
                "base_lr": lr,
                "schedule": schedule,
                "k_fraction": k,
                "start_ratio": r,
                "curriculum_steps": first["curriculum_steps"],
                "num_buckets": first["num_buckets"],
                "total_steps": first["total_steps"],
                "n": len(pairs),
                "seeds": sorted(a["seed"] for a, _ in pairs),
                "diff_final": final_mean,
                "diff_final_se": final_se,
                "diff_best": best_mean,
                "diff_best_se": best_se,
                "lerac_final": statistics.mean(100 * a["final_acc"] for a, _ in pairs) if pairs else None,
                "conv_final": statistics.mean(100 * b["final_acc"] for _, b in pairs) if pairs else None,
                "wins": sum(d > 0 for d in final),
                "losses": sum(d < 0 for d in final),
                "ties": sum(d == 0 for d in final),
                "diverged": sum(a["diverged"] for a, _ in pairs),
            }
        )
    cells.sort(key=lambda c: (config_label(c), c["schedule"], c["k_fraction"], c["start_ratio"]))
    return {
        "configs": configs,
        "cells": cells,
        "runs": len(runs),
        "tuning_runs": len(tuning),
        "init_hash_mismatches": mismatched,
        "compute_s": sum(r["wall_s"] for r in runs.values()) + sum(r["wall_s"] for r in tuning.values()),
    }


def _cell_index(summary: dict) -> dict:
    rates = {config_key(c["config"]): c.get("base_lr") for c in summary["configs"]}
    index = {}
    for cell in summary["cells"]:
        if cell["base_lr"] == rates.get(config_key(cell)):
            index[(config_key(cell), cell["schedule"], cell["k_fraction"], cell["start_ratio"])] = cell
    return index


def _fmt(mean, se, digits=2) -> str:
    if mean is None:
        return "-"
    text = f"{mean:+.{digits}f}"
    return text + (f" ± {se:.{digits}f}" if se is not None else "")


def _ratio(r: float) -> str:
    return f"1e{round(math.log10(r))}"


def _pct(k: float) -> str:
    return f"{100 * k:g}%"


def markdown(summary: dict, design: dict, meta: dict) -> str:
    """The tables of `summary.md`."""
    index = _cell_index(summary)
    ks, ratios = design["k_fractions"], design["start_ratios"]
    k0, r0 = design["centre"]
    out = [
        "# LeRaC sensitivity study: results",
        "",
        f"Design `{design['name']}` (version {design['version']}), backend `{meta['backend']}`, "
        f"{summary['runs']} study runs + {summary['tuning_runs']} tuning runs recorded; "
        f"{len(design['seeds'])} seeds per cell; compute {summary['compute_s'] / 3600:.2f} h "
        f"(sum of run times); wall time over {len(meta['sessions'])} session(s): "
        f"{meta['wall_s'] / 3600:.2f} h.",
        "",
        "Every number below is in test-accuracy points (0-100). **Δ = LeRaC − conventional**, "
        "paired by seed (same initial weights, same batches, same tuned base rate), mean over "
        "seeds ± standard error (sample std / √n). **Final epoch** is the primary figure; "
        "**best epoch** (the maximum over epochs of the test accuracy, as the official code "
        "reports) is beside it and is biased upward (see docs/sensitivity.md). "
        f"K is a fraction of all training steps; the start ratio is the last bucket's start "
        f"rate / base rate. Paired records with differing initial weights: "
        f"{summary['init_hash_mismatches']}.",
        "",
        "## Base rates (tuned for the conventional regime on a validation split)",
        "",
        "Mean final-epoch validation accuracy (%) of conventional training over "
        f"{len(design['tune_seeds'])} tuning seeds; the best rate is used for both regimes "
        "(ties: the smaller rate). ⚠ = best rate at the edge of the grid.",
        "",
        "| config | total steps | base rate: validation acc % | chosen | conventional test acc, "
        "final epoch (± sd, n) | best epoch |",
        "|---|---|---|---|---|---|",
    ]
    for c in summary["configs"]:
        tuning = c["tuning"]
        if tuning is None:
            out.append(f"| {c['label']} | - | (tuning incomplete) | - | - | - |")
            continue
        table = ", ".join(f"{row['base_lr']:g}: {100 * row['mean']:.1f}" for row in tuning["table"])
        edge = " ⚠" if tuning["at_edge"] else ""
        conv = _fmt(c.get("conv_final_mean"), None).lstrip("+")
        if c.get("conv_final_sd") is not None:
            conv += f" (± {c['conv_final_sd']:.2f}, n={c['n']})"
        best = _fmt(c.get("conv_best_mean"), None).lstrip("+")
        steps = c.get("total_steps") or "-"
        out.append(f"| {c['label']} | {steps} | {table} | {c['base_lr']:g}{edge} | {conv} | {best} |")

    out += ["", "## Main grids: K x start ratio", ""]
    for block in design["blocks"]:
        if block["kind"] != "grid":
            continue
        cfg, schedule = block["config"], block["cells"][0][0]
        grid = _grid(index, block, design)
        out += [f"### {block['name']} ({config_label(cfg)}, {schedule}; {_seeds_text(grid)})", ""]
        out += [f"![heat map](heatmap_{_slug(block['name'])}.png)", ""]
        for what, field in (("Final epoch", "diff_final"), ("Best epoch", "diff_best")):
            out += [f"{what}: Δ ± SE", ""]
            out.append("| K \\ start ratio | " + " | ".join(_ratio(r) for r in ratios) + " |")
            out.append("|---" * (len(ratios) + 1) + "|")
            for k, row in zip(ks, grid):
                texts = ["-" if cell is None else _fmt(cell[field], cell[field + "_se"]) for cell in row]
                steps = next((f" ({c['curriculum_steps']} steps)" for c in row if c is not None), "")
                out.append(f"| {_pct(k)}{steps} | " + " | ".join(texts) + " |")
            out.append("")

    out += [
        "## One factor at a time",
        "",
        f"Each level changes one factor of the central configuration; cells: every K at start ratio "
        f"{_ratio(r0)}, every start ratio at K = {_pct(k0)}. Cell: final-epoch Δ ± SE / best-epoch Δ ± SE; "
        "`conv` = conventional final-epoch test accuracy.",
        "",
    ]
    for slice_ in design["slices"]:
        out += [f"### {slice_['factor']}", ""]
        for title, cells in (
            (f"K sweep at start ratio {_ratio(r0)}", [(k, r0) for k in ks]),
            (f"start-ratio sweep at K = {_pct(k0)}", [(k0, r) for r in ratios]),
        ):
            head = [_pct(k) if "K sweep" in title else _ratio(r) for k, r in cells]
            out += [f"{title}:", "", "| level | conv | " + " | ".join(head) + " |"]
            out.append("|---" * (len(cells) + 2) + "|")
            for level in slice_["levels"]:
                cfg = level["config"]
                conv = next((c for c in summary["configs"] if config_key(c["config"]) == config_key(cfg)), {})
                row = []
                for k, r in cells:
                    cell = index.get((config_key(cfg), level["schedule"], k, r))
                    if cell is None:
                        row.append("-")
                    else:
                        row.append(
                            f"{_fmt(cell['diff_final'], cell['diff_final_se'])} / "
                            f"{_fmt(cell['diff_best'], cell['diff_best_se'])}"
                        )
                conv_text = _fmt(conv.get("conv_final_mean"), None).lstrip("+")
                out.append(f"| {level['level']} | {conv_text} | " + " | ".join(row) + " |")
            out.append("")
    return "\n".join(out) + "\n"


def _grid(index: dict, block: dict, design: dict) -> list[list[dict | None]]:
    """The cells of a main grid as rows (K) of columns (start ratio); None where missing."""
    key, schedule = config_key(block["config"]), block["cells"][0][0]
    return [[index.get((key, schedule, k, r)) for r in design["start_ratios"]] for k in design["k_fractions"]]


def _seeds_text(grid: list[list[dict | None]]) -> str:
    counts = sorted({cell["n"] for row in grid for cell in row if cell is not None})
    if not counts:
        return "no runs yet"
    span = str(counts[0]) if len(counts) == 1 else f"{counts[0]}-{counts[-1]}"
    return f"n = {span} seed{'' if span == '1' else 's'} per cell"


def _slug(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in name)


def heatmaps(summary: dict, design: dict, output: str) -> list[str]:
    """One PNG per grid: K fraction x start ratio, colour = mean paired Δ (final | best)."""
    try:
        from matplotlib.colors import TwoSlopeNorm
        from matplotlib.figure import Figure
    except ImportError:  # pragma: no cover - depends on the environment
        return []
    import numpy as np

    index = _cell_index(summary)
    ks, ratios = design["k_fractions"], design["start_ratios"]
    paths = []
    for block in design["blocks"]:
        if block["kind"] != "grid":
            continue
        cfg, schedule = block["config"], block["cells"][0][0]
        grid = _grid(index, block, design)
        grids = {}
        for field in ("diff_final", "diff_best"):
            mean = np.full((len(ks), len(ratios)), np.nan)
            se = np.full_like(mean, np.nan)
            for i, row in enumerate(grid):
                for j, cell in enumerate(row):
                    if cell is not None and cell[field] is not None:
                        mean[i, j] = cell[field]
                        se[i, j] = np.nan if cell[field + "_se"] is None else cell[field + "_se"]
            grids[field] = (mean, se)
        if all(np.isnan(m).all() for m, _ in grids.values()):
            continue
        limit = max(0.1, max(np.nanmax(np.abs(m)) for m, _ in grids.values() if not np.isnan(m).all()))
        fig = Figure(figsize=(13, 5.2), layout="constrained")
        axes = fig.subplots(1, 2)
        for ax, (field, title) in zip(axes, (("diff_final", "final epoch"), ("diff_best", "best epoch"))):
            mean, se = grids[field]
            image = ax.imshow(
                mean, cmap="RdBu", norm=TwoSlopeNorm(0.0, -limit, limit), aspect="auto", origin="upper"
            )
            for i in range(len(ks)):
                for j in range(len(ratios)):
                    if np.isnan(mean[i, j]):
                        continue
                    text = f"{mean[i, j]:+.2f}" + ("" if np.isnan(se[i, j]) else f"\n±{se[i, j]:.2f}")
                    colour = "white" if abs(mean[i, j]) > 0.6 * limit else "black"
                    ax.text(j, i, text, ha="center", va="center", fontsize=9, color=colour)
            ax.set_xticks(range(len(ratios)), [_ratio(r) for r in ratios])
            ax.set_yticks(range(len(ks)), [_pct(k) for k in ks])
            ax.set_xlabel("start ratio of the last bucket (start rate / base rate)")
            ax.set_ylabel("K (fraction of all training steps)")
            ax.set_title(f"{title}: LeRaC − conventional (points)")
            fig.colorbar(image, ax=ax, shrink=0.8)
        fig.suptitle(
            f"{block['name']}: {config_label(cfg)}, {schedule}; mean paired Δ ± SE, {_seeds_text(grid)}"
        )
        path = os.path.join(output, f"heatmap_{_slug(block['name'])}.png")
        fig.savefig(path, dpi=90)
        paths.append(path)
    return paths


def write_report(output: str, design: dict, runs: RunStore, tuning: RunStore, meta: dict) -> dict:
    summary = aggregate(design, runs.records, tuning.records)
    summary = {"meta": meta, "design": design, **summary}
    with open(os.path.join(output, "summary.json"), "w", encoding="utf-8") as f:
        json.dump(summary, f, indent=1)
    with open(os.path.join(output, "summary.md"), "w", encoding="utf-8") as f:
        f.write(markdown(summary, design, meta))
    summary["heatmaps"] = heatmaps(summary, design, output)
    return summary


def sessions(output: str) -> list[dict]:
    path = os.path.join(output, "sessions.jsonl")
    if not os.path.exists(path):
        return []
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return out


def log_session(output: str, entry: dict) -> None:
    with open(os.path.join(output, "sessions.jsonl"), "a", encoding="utf-8") as f:
        f.write(json.dumps(entry) + "\n")


HEARTBEAT = "session.running.json"


def beat(output: str, entry: dict) -> None:
    """Records the running session after every run, so a killed one still counts its wall time."""
    path = os.path.join(output, HEARTBEAT)
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        json.dump(entry, f)
    os.replace(path + ".tmp", path)


def recover_killed_session(output: str) -> dict | None:
    """Moves the heartbeat of a session that died without its end record into sessions.jsonl."""
    path = os.path.join(output, HEARTBEAT)
    try:
        with open(path, encoding="utf-8") as f:
            entry = json.load(f)
    except (OSError, json.JSONDecodeError):
        return None
    entry["status"] = "killed"
    log_session(output, entry)
    os.remove(path)
    return entry


def machine() -> dict:
    info = {"platform": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count()}
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            model = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), None)
        info["cpu"] = model
    except OSError:
        pass
    return info


# ----------------------------------------------------------------------------- estimate
def estimate(design: dict, output: str, setup: tuple, log) -> dict:
    """Times every config's runs and sizes the whole study from the design's run list.

    Per config, at the middle base rate of its optimizer's grid: a conventional, a LeRaC
    (centre cell) and a tuning run, each twice with two seeds. On JAX the first of a pair
    compiles and the second finds the program in the compilation cache, as every seed
    after the first does in the study; the other backends pay the same every time, so they
    time one of each. The total adds, over the run list in order, the first cost for the
    first run of each program (the same config, rate and cell) and the second for the rest.
    """
    backend, threads, _ = setup
    scratch = os.path.join(output, "estimate-scratch")
    configure_process(backend, threads, os.path.join(scratch, "cache"))
    pairs = 2 if backend == "jax" else 1
    k0, r0 = design["centre"]
    first = distinct_configs(design)[0]
    execute(
        {**first, "base_lr": 0.01, "seed": 0, "split": "test", "regime": "conventional"}, scratch
    )  # imports
    costs = {}
    for cfg in distinct_configs(design):
        rates = design["base_rates"][cfg["optimizer"]]
        base = {**cfg, "base_lr": rates[len(rates) // 2], "split": "test"}
        kinds = {
            "conventional": {**base, "regime": "conventional"},
            "lerac": {
                **base,
                "regime": "lerac",
                "schedule": "exponential",
                "k_fraction": k0,
                "start_ratio": r0,
            },
            "tuning": {**base, "split": "validation"},
        }
        entry = {}
        for kind, spec in kinds.items():
            seeds = (1000, 1001) if kind == "tuning" else (0, 1)
            times = [execute({**spec, "seed": seed}, scratch)["wall_s"] for seed in seeds[:pairs]]
            entry[kind] = {"first_s": times[0], "repeat_s": times[-1]}
        costs[config_key(cfg)] = entry
        log(
            f"{config_label(cfg)}: "
            + ", ".join(f"{k} {v['first_s']:.2f}/{v['repeat_s']:.2f} s" for k, v in entry.items())
            + " (first/repeat)"
        )
    rates = {
        config_key(c): {"base_lr": design["base_rates"][c["optimizer"]][0]} for c in distinct_configs(design)
    }
    total, counts, seen = 0.0, {"tuning": 0, "conventional": 0, "lerac": 0}, set()
    for spec in tuning_specs(design) + study_specs(design, rates):
        kind = "tuning" if spec["split"] == "validation" else spec["regime"]
        program = key_of(spec, [f for f in RUN_FIELDS if f != "seed"]) + spec["split"]
        cost = costs[config_key(spec)][kind]
        total += cost["repeat_s" if program in seen else "first_s"]
        seen.add(program)
        counts[kind] += 1
    result = {
        "backend": backend,
        "threads": threads,
        "seeds": len(design["seeds"]),
        "per_config": [{"config": config_label(c), **costs[config_key(c)]} for c in distinct_configs(design)],
        "runs": counts,
        "estimated_total_s_one_worker": round(total, 1),
        "load_average": os.getloadavg(),
    }
    log(
        f"runs: {counts}; estimated total with --workers 1: {total / 3600:.2f} h "
        f"(load average now {os.getloadavg()[0]:.1f})"
    )
    return result


# ----------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="LeRaC sensitivity study over K, start ratio and more")
    parser.add_argument("--smoke", action="store_true", help="a tiny design, seconds on one core (tests)")
    parser.add_argument("--output", default=DEFAULT_OUTPUT)
    parser.add_argument("--workers", type=int, default=1, help="parallel worker processes (default 1)")
    parser.add_argument(
        "--backend",
        default=DEFAULT_BACKEND,
        help=f"Keras backend of every run (default {DEFAULT_BACKEND}, the fastest here; not KERAS_BACKEND)",
    )
    parser.add_argument("--threads", type=int, default=1, help="intra-op threads per worker (0: default)")
    parser.add_argument("--seeds", type=int, default=None, help=f"seeds per cell (default {SEEDS}; smoke 2)")
    parser.add_argument("--limit", type=int, default=None, help="stop after this many new runs (pilots)")
    parser.add_argument("--report-only", action="store_true", help="re-aggregate the recorded runs")
    parser.add_argument("--estimate", action="store_true", help="time each config, estimate the total")
    parser.add_argument("--quiet", action="store_true", help="no per-run lines")
    args = parser.parse_args(argv)
    if args.backend not in ("jax", "tensorflow", "torch"):
        parser.error(f"--backend must be jax, tensorflow or torch, not {args.backend!r}")
    design = smoke_design(args.seeds or 2) if args.smoke else full_design(args.seeds or SEEDS)
    output = args.output
    setup = (args.backend, args.threads, os.path.join(output, "cache"))

    def log(text: str) -> None:
        if not args.quiet or text.startswith(("FAILED", "==")):
            print(text, flush=True)

    env_backend = os.environ.get("KERAS_BACKEND")
    if env_backend and env_backend != args.backend and not args.report_only:
        log(f"== runs use --backend {args.backend}; KERAS_BACKEND={env_backend} is not used")
    if args.estimate:
        os.makedirs(output, exist_ok=True)
        result = estimate(design, output, setup, log)
        with open(os.path.join(output, f"estimate-{args.backend}.json"), "w", encoding="utf-8") as f:
            json.dump(result, f, indent=1)
        return 0

    # --report-only reads whatever backend the study was run on.
    backend = check_manifest(output, design, None if args.report_only else args.backend)
    os.makedirs(output, exist_ok=True)
    lock = None if args.report_only else hold_lock(output)  # noqa: F841  (held until exit)
    tuning = RunStore(os.path.join(output, "tuning.jsonl"), TUNE_FIELDS)
    runs = RunStore(os.path.join(output, "runs.jsonl"), RUN_FIELDS)
    for store in (tuning, runs):
        if store.dropped:
            log(f"== dropped {store.dropped} unreadable line(s) from {store.path}: those runs are redone")
    if argv is None:  # as a script: Ctrl-C or `kill PID` finish the run in progress, log, report, exit
        signal.signal(signal.SIGINT, request_stop)
        signal.signal(signal.SIGTERM, request_stop)
    command = "python benchmarks/sensitivity.py " + " ".join(argv if argv is not None else sys.argv[1:])
    started, wall0 = time.strftime("%Y-%m-%d %H:%M:%S"), time.perf_counter()
    recorded = len(tuning.records) + len(runs.records)
    done, failures, status = 0, [], "complete"
    if not args.report_only:
        killed = recover_killed_session(output)
        if killed is not None:
            log(f"== session {killed['started']} was killed; its {killed['wall_s']:.0f} s are counted")
        session = {
            "command": command,
            "started": started,
            "workers": args.workers,
            "backend": args.backend,
            "threads": args.threads,
        }

        def progress(text: str) -> None:
            """The per-run log line, and the session's heartbeat."""
            log(text)
            done_now = len(tuning.records) + len(runs.records) - recorded
            beat(output, {**session, "wall_s": round(time.perf_counter() - wall0, 1), "runs_done": done_now})

        limit = args.limit
        try:
            specs = tuning_specs(design)
            log(f"== tuning: {sum(s not in tuning for s in specs)} of {len(specs)} runs to do")
            n, failed = run_specs(specs, tuning, output, args.workers, setup, progress, limit)
            failures += failed
            limit = None if limit is None else limit - n
            rates = choose_base_rates(design, tuning.records)
            specs = study_specs(design, rates)
            log(f"== study: {sum(s not in runs for s in specs)} of {len(specs)} runs to do")
            if limit is None or limit > 0:
                _, failed = run_specs(specs, runs, output, args.workers, setup, progress, limit)
                failures += failed
        except KeyboardInterrupt:
            status = "interrupted"
            log("== stopped: every finished run is recorded; rerun the same command to continue")
        done = len(tuning.records) + len(runs.records) - recorded
        if failures:
            status = "failures"
        elif args.limit is not None:
            status = "limited"
        log_session(
            output,
            {
                "command": command,
                "started": started,
                "wall_s": round(time.perf_counter() - wall0, 1),
                "runs_done": done,
                "failures": len(failures),
                "status": status,
                "workers": args.workers,
                "backend": args.backend,
                "threads": args.threads,
                "load_average_end": os.getloadavg(),
            },
        )
        if os.path.exists(os.path.join(output, HEARTBEAT)):  # absent when nothing ran
            os.remove(os.path.join(output, HEARTBEAT))
    history = sessions(output)
    meta = {
        "backend": backend,
        "threads": args.threads,
        "sessions": history,
        "wall_s": sum(s["wall_s"] for s in history),
        "machine": machine(),
        "pending_runs": len(
            [s for s in study_specs(design, choose_base_rates(design, tuning.records)) if s not in runs]
        )
        + len([s for s in tuning_specs(design) if s not in tuning]),
    }
    write_report(output, design, runs, tuning, meta)
    log(f"== {done} new runs ({status}); wrote {output}/summary.json, summary.md and the heat maps")
    for failure in failures:
        log(f"FAILED {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
