"""The study's design: factors, configurations, cells, and the run list they make.

A design is a plain dict (written into `summary.json`): its blocks (a configuration and
its cells: schedule, K fraction, start ratio, and which curriculum regimes run there),
the seeds, the base-rate grids and tuning seeds. `tuning_specs` and `study_specs` turn
it into runs; `key_of` gives each run its identity in the run store. `DESIGNS` names
the designs `--design` chooses from.
"""

from __future__ import annotations

import json
import os
import statistics
from collections.abc import Iterable

DESIGN_VERSION = 1
DEFAULT_OUTPUT = os.path.join("benchmarks", "results", "sensitivity")
CONTROLS_OUTPUT = os.path.join("benchmarks", "results", "controls")
INSTABILITY_OUTPUT = os.path.join("benchmarks", "results", "instability")
# Measured on this 2-core machine, one thread, this study with 8 seeds and no compilation
# cache (docs/sensitivity.md): JAX (jit) 1.73 h, torch (eager) 4.44 h, TensorFlow (graph) 6.05 h.
DEFAULT_BACKEND = "jax"

# ----------------------------------------------------------------------------- the design
K_FRACTIONS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.2)  # K as a fraction of all training steps
START_RATIOS = (1e-1, 1e-2, 1e-3, 1e-4, 1e-6, 1e-8)  # start rate of the last bucket / base rate
SCHEDULES = ("exponential", "linear", "stepwise")
# The curriculum regimes of a cell, each `LeRaC(..., schedule=...)` at the cell's K and start
# ratio: `lerac` runs the cell's schedule; the controls change only the order of the start
# rates: `warmup` starts every bucket at the lowest start ratio (an ordinary warm-up on the
# exponential shape), `anti` gives LeRaC's start rates in reverse bucket order.
CURRICULUM_REGIMES = ("lerac", "warmup", "anti")
REGIMES = ("conventional", *CURRICULUM_REGIMES)
# The instability design adds the practitioner's warm-up: every bucket rises linearly
# from 0 to the base rate at K (`schedule="linear_warmup"`).
INSTABILITY_REGIMES = ("lerac", "warmup", "linear_warmup", "anti")
# Base-rate schedules under every regime: `cosine` decays to 0 over the run; `warmup_cosine`
# first rises linearly from 0 over WARMUP_FRACTION of the steps (the recipe practitioners
# run); `constant` keeps the tuned rate.
LR_SCHEDULES = ("cosine", "warmup_cosine", "constant")
WARMUP_FRACTION = 0.05
CONTROL_K_FRACTIONS = (0.025, 0.1, 0.2)
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
    "sequences": (32, 10),
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
    # The instability design's (absent elsewhere, so the other studies' keys are unchanged):
    # share of training labels replaced, multiple of the tuned base rate, a given base rate.
    "label_noise",
    "lr_scale",
    "fixed_lr",
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
    if changes.get("lr_schedule", "cosine") not in LR_SCHEDULES:
        raise ValueError(f"lr_schedule must be one of {LR_SCHEDULES}, not {changes['lr_schedule']!r}")
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


def controls_design(seeds: int = SEEDS) -> dict:
    """The study with controls: LeRaC against warm-up and the anti-curriculum, paired.

    Every configuration where LeRaC differed from conventional training by more than two
    standard errors at some K in the full study (digits plain MLP depth 12 and 20, iris,
    spirals, Adam, the 5-epoch run, wine), the central configuration, one CNN (digits CNN
    d3 with batch norm), and the central configuration on a base schedule that warms up
    (cosine decay after a linear warm-up over 5 % of the steps: `lerac` on it against that
    schedule alone). Each at K = 2.5 %, 10 %, 20 % of the steps, start ratio 1e-4,
    exponential, with the regimes conventional, lerac, warmup and anti on the same initial
    weights and batches per seed.
    """
    configs = [
        ("central: digits MLP d6", CENTRAL),
        ("digits MLP d12", config(depth=12)),
        ("digits MLP d20", config(depth=20)),
        ("digits MLP d6 Adam", config(optimizer="adam")),
        ("digits MLP d6, 5 epochs", config(epochs=5)),
        ("digits CNN d3 bn", config(model="cnn", depth=3)),
        ("iris MLP d6", config(data="iris")),
        ("spirals MLP d6", config(data="spirals")),
        ("wine MLP d6", config(data="wine")),
        ("central on a warming-up base schedule", config(lr_schedule="warmup_cosine")),
    ]
    return _controls("controls", configs, seeds, CONTROL_K_FRACTIONS, CENTRE_RATIO, BASE_RATES, TUNE_SEEDS)


def smoke_controls_design(seeds: int = 2) -> dict:
    """A tiny controls design (tuning, four regimes, a warming-up base): seconds on one core."""
    c = config(data="wine", depth=2, width=8, epochs=2, batch_size=32)
    configs = [("wine d2", c), ("wine d2 warm-up base", config(c, lr_schedule="warmup_cosine"))]
    return _controls("smoke-controls", configs, seeds, (0.2,), 1e-4, {"sgd": (0.01, 0.1)}, (1000,))


def _controls(name, configs, seeds, k_fractions, ratio, base_rates, tune_seeds) -> dict:
    blocks = [
        {
            "kind": "controls",
            "name": label,
            "config": cfg,
            "cells": [("exponential", k, ratio) for k in k_fractions],
            "regimes": list(CURRICULUM_REGIMES),
        }
        for label, cfg in configs
    ]
    design = _design(
        name, [], {}, seeds, k_fractions, (ratio,), base_rates, tune_seeds, (k_fractions[0], ratio)
    )
    design.update(kind="controls", blocks=blocks, warmup_fraction=WARMUP_FRACTION)
    return design


INSTABILITY_SEEDS = 24
INSTABILITY_K = 0.1  # every configuration; the key ones also run CONTROL_K_FRACTIONS
# The probe: digits, 40 % noisy labels, 32-32-64-64 CNN with global pooling, SGD 0.05
# with momentum (constant), batch 32, 20 epochs; K = 2 epochs = 10 %.
PROBE = {
    "data": "digits",
    "model": "wcnn",
    "depth": 4,
    "width": 32,
    "residual": False,
    "norm": False,
    "optimizer": "sgd",
    "lr_schedule": "constant",
    "epochs": 20,
    "batch_size": 32,
    "label_noise": 0.4,
    "lr_scale": 1,
    "fixed_lr": 0.05,
}


def instability_design(seeds: int = INSTABILITY_SEEDS) -> dict:
    """Where LeRaC might beat a warm-up: sources of unstable training x five regimes.

    Regimes per seed, on the same initial weights and batches at the same base rate:
    conventional, `lerac`, `warmup` (every bucket from LeRaC's lowest start ratio,
    exponential), `linear_warmup` (every bucket linearly from 0) and `anti`; start ratio
    1e-4. Configurations (plain networks: no normalisation, no skips):

    - the issue's probe (`PROBE`: digits, 40 % noisy labels, the 32-32-64-64 CNN, SGD 0.05);
    - label noise 0 / 20 / 40 % on digits (MLP d6, the central configuration) and 20 / 40 %
      on spirals (MLP d6; clean spirals trains to 96-97 % in the controls study);
    - the base rate at 1x, 2x, 4x the tuned one (digits MLP d6); the transformer at Adam 0.01
      and 0.04 (given: in a first tuning every rate from 3e-4 to 1e-2 tied at 100 % validation
      accuracy, and the tie rule took 3e-4, where nothing is unstable; 0.01 is the top of
      that stable range, 0.04 four times it);
    - depth: plain MLPs of 6, 12, 20 layers and a plain CNN of 8 (4 convs of 16 channels,
      4 of 32; the package's constant-width plain CNN of width 8 ended at chance at 6 and 12
      layers in the pilot, at every rate tried);
    - a small transformer (2 KerasHub `TransformerEncoder` layers, dimension 32, post-norm)
      on a synthetic sequence task, Adam, no warm-up.

    Cut to fit about 75 minutes on one core of the shared 2-core machine (pilot timings
    in docs/sensitivity.md): K = 10 % of the steps everywhere, and K = 2.5, 10, 20 % only
    on the two key configurations, digits MLP d6 with 40 % noise and the plain 20-layer
    MLP (the controls study's open pattern); the probe runs at its own K (10 %). Noisy
    and rate-scaled variants share their clean configuration's tuned rate; the probe's
    rate is the issue's (not tuned). 24 seeds per cell.
    """
    mlp = config(label_noise=0.0, lr_scale=1, fixed_lr=None)
    spirals = config(mlp, data="spirals")
    tf = config(
        mlp,
        data="sequences",
        model="transformer",
        depth=2,
        width=32,
        optimizer="adam",
        epochs=10,
        batch_size=32,
    )
    configs = [
        ("probe: digits CNN 32-32-64-64, 40 % noise, SGD 0.05", PROBE, False),
        ("digits MLP d6 (noise 0 %, rate 1x)", mlp, False),
        ("digits MLP d6, noise 20 %", config(mlp, label_noise=0.2), False),
        ("digits MLP d6, noise 40 %", config(mlp, label_noise=0.4), True),
        ("digits MLP d6, rate 2x", config(mlp, lr_scale=2), False),
        ("digits MLP d6, rate 4x", config(mlp, lr_scale=4), False),
        ("digits MLP d12", config(mlp, depth=12), False),
        ("digits MLP d20", config(mlp, depth=20), True),
        ("digits CNN d8 16-32 (plain)", config(mlp, model="wcnn", depth=8, width=16), False),
        ("spirals MLP d6, noise 20 %", config(spirals, label_noise=0.2), False),
        ("spirals MLP d6, noise 40 %", config(spirals, label_noise=0.4), False),
        ("transformer, Adam 0.01", config(tf, fixed_lr=0.01), False),
        ("transformer, Adam 0.04 (4x)", config(tf, fixed_lr=0.04), False),
    ]
    return _instability(
        "instability", configs, seeds, INSTABILITY_K, CONTROL_K_FRACTIONS, BASE_RATES, TUNE_SEEDS
    )


def smoke_instability_design(seeds: int = 2) -> dict:
    """A tiny instability design (tuning, a given rate, noise, a rate scale, two Ks, five
    regimes): seconds on one core."""
    c = config(
        data="wine", depth=2, width=8, epochs=2, batch_size=32, label_noise=0.0, lr_scale=1, fixed_lr=None
    )
    configs = [
        ("wine d2, noise 40 %, rate 2x", config(c, label_noise=0.4, lr_scale=2), True),
        ("wine d2, rate 0.05", config(c, fixed_lr=0.05), False),
    ]
    return _instability("smoke-instability", configs, seeds, 0.2, (0.1, 0.2), {"sgd": (0.01, 0.1)}, (1000,))


def _instability(name, configs, seeds, k, key_ks, base_rates, tune_seeds) -> dict:
    blocks = [
        {
            "kind": "instability",
            "name": label,
            "config": cfg,
            "cells": [("exponential", kk, CENTRE_RATIO) for kk in (key_ks if key else (k,))],
            "regimes": list(INSTABILITY_REGIMES),
        }
        for label, cfg, key in configs
    ]
    design = _design(name, [], {}, seeds, key_ks, (CENTRE_RATIO,), base_rates, tune_seeds, (k, CENTRE_RATIO))
    design.update(kind="instability", blocks=blocks, regimes=["conventional", *INSTABILITY_REGIMES])
    return design


# --design NAME: the design and its default output folder (None: --output is required).
DESIGNS = {
    "full": (full_design, DEFAULT_OUTPUT),
    "controls": (controls_design, CONTROLS_OUTPUT),
    "instability": (instability_design, INSTABILITY_OUTPUT),
    "smoke": (smoke_design, None),
    "smoke-controls": (smoke_controls_design, None),
    "smoke-instability": (smoke_instability_design, None),
}


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
        "kind": "sensitivity",
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


def runs_by_cell(runs: dict, cell_of) -> dict[tuple, dict]:
    """The run records by `(config_key, base_lr, regime, cell_of(record), seed)`: how the
    studies' reports find the record of a seed of a regime in a cell."""
    return {(config_key(r), r["base_lr"], r["regime"], cell_of(r), r["seed"]): r for r in runs.values()}


def config_label(cfg: dict) -> str:
    """A short readable name: `digits mlp d6 w64 sgd cosine 15ep b32` (+ res, bn)."""
    parts = [cfg["data"], cfg["model"], f"d{cfg['depth']}", f"w{cfg['width']}"]
    parts += ["res"] if cfg["residual"] else []
    parts += ["bn"] if cfg["norm"] else []
    parts += [cfg["optimizer"], cfg["lr_schedule"], f"{cfg['epochs']}ep", f"b{cfg['batch_size']}"]
    parts += [f"noise{100 * cfg['label_noise']:g}%"] if cfg.get("label_noise") else []
    parts += [f"lr x{cfg['lr_scale']:g}"] if cfg.get("lr_scale") not in (None, 1) else []
    parts += [f"lr {cfg['fixed_lr']:g}"] if cfg.get("fixed_lr") else []
    return " ".join(parts)


def tune_config(cfg: dict) -> dict:
    """The configuration whose tuning gives `cfg` its base rate: without label noise and
    at the tuned rate itself (the instability design's noisy and scaled variants share
    their clean configuration's tuning); `cfg` itself elsewhere."""
    out = dict(cfg)
    if "label_noise" in out:
        out["label_noise"] = 0.0
    if "lr_scale" in out:
        out["lr_scale"] = 1
    return out


def distinct_configs(design: dict) -> list[dict]:
    seen, out = set(), []
    for block in design["blocks"]:
        key = config_key(block["config"])
        if key not in seen:
            seen.add(key)
            out.append(block["config"])
    return out


def tuned_configs(design: dict) -> list[dict]:
    """The configurations tuning runs on (`tune_config` of each; none for a given rate)."""
    seen, out = set(), []
    for cfg in distinct_configs(design):
        if cfg.get("fixed_lr"):
            continue
        tuned = tune_config(cfg)
        if config_key(tuned) not in seen:
            seen.add(config_key(tuned))
            out.append(tuned)
    return out


def tuning_specs(design: dict) -> list[dict]:
    """Conventional runs on the validation split: every base rate x tuning seed x config."""
    specs = []
    for seed in design["tune_seeds"]:
        for cfg in tuned_configs(design):
            for rate in design["base_rates"][cfg["optimizer"]]:
                specs.append({**cfg, "base_lr": rate, "seed": seed, "split": "validation"})
    return specs


def choose_base_rates(design: dict, tuning: dict[str, dict]) -> dict[str, dict]:
    """Per config: the base rate with the best mean final-epoch validation accuracy.

    Returns `{config_key: {"config", "base_lr", "table", "at_edge"}}` (`table`: each rate's
    accuracies and mean); ties go to the smaller rate. A config whose tuning runs are not
    all recorded is left out. In the instability design a config's rate is its
    `tune_config`'s best rate times its `lr_scale` (`tuned_lr`: the best rate itself), or
    its `fixed_lr` (then `table` is None: nothing was tuned).
    """
    out = {}
    for cfg in distinct_configs(design):
        if cfg.get("fixed_lr"):
            out[config_key(cfg)] = {"config": cfg, "base_lr": cfg["fixed_lr"], "tuned_lr": None}
            out[config_key(cfg)].update(table=None, at_edge=False)
            continue
        rates = design["base_rates"][cfg["optimizer"]]
        table, complete = [], True
        for rate in rates:
            accs = []
            for seed in design["tune_seeds"]:
                rec = tuning.get(key_of({**tune_config(cfg), "base_lr": rate, "seed": seed}, TUNE_FIELDS))
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
            "base_lr": best["base_lr"] * cfg.get("lr_scale", 1),
            "tuned_lr": best["base_lr"],
            "table": table,
            "at_edge": best["base_lr"] in (min(rates), max(rates)),
        }
    return out


def study_specs(design: dict, rates: dict[str, dict]) -> list[dict]:
    """Every study run, seed-major (a partial run has balanced seeds), each once.

    For a seed, a config's conventional run comes first, then its cells, each cell's
    regimes (`lerac`, and in a controls design `warmup` and `anti`) side by side.
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
                for regime in block.get("regimes", ("lerac",)):
                    runs.append(
                        {**base, "regime": regime, "schedule": schedule, "k_fraction": k, "start_ratio": r}
                    )
            for spec in runs:
                key = key_of(spec, RUN_FIELDS)
                if key not in seen:
                    seen.add(key)
                    specs.append(spec)
    return specs
