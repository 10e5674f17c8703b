"""The study's statistics: runs paired by seed, summarised per cell and per contrast.

Every paired figure goes through `keras_lerac.experiments.stats` (mean, standard error,
95 % t interval, wins / ties / losses), in accuracy points (0-100).
"""

from __future__ import annotations

import statistics

from benchmarks.sensitivity.design import (
    CONFIG_FIELDS,
    REGIMES,
    choose_base_rates,
    config_key,
    config_label,
    distinct_configs,
    runs_by_cell,
)
from keras_lerac.experiments.stats import mean_se, paired_difference

# The controls design's comparisons: (name, a, b) for the paired difference a - b.
CONTRASTS = (
    ("lerac - conventional", "lerac", "conventional"),
    ("warmup - conventional", "warmup", "conventional"),
    ("lerac - warmup", "lerac", "warmup"),
    ("anti - lerac", "anti", "lerac"),
)


def _points(records: list[dict], field: str) -> list[float]:
    return [100 * r[field] for r in records]


def aggregate(design: dict, runs: dict[str, dict], tuning: dict[str, dict]) -> dict:
    """Pairs every curriculum run with its conventional run and summarises each cell.

    A cell is a configuration, a curriculum regime (`lerac`; in a controls design also
    `warmup`, `anti`) and its schedule, K and start ratio. Its numbers are in accuracy
    points (0-100), from `keras_lerac.experiments.stats.paired_difference`: the mean over
    seeds of `regime - conventional`, its standard error (sample std / sqrt(n)) and 95 %
    t interval, for the final epoch (primary) and the best epoch; plus how many seeds the
    regime won, lost, tied. A controls design also gets `contrasts` (`contrasts`).
    """
    rates = choose_base_rates(design, tuning)
    conventional: dict[tuple, dict] = {}
    curriculum: dict[tuple, list[dict]] = {}
    for rec in runs.values():
        pair = (config_key(rec), rec["base_lr"], rec["seed"])
        if rec["regime"] == "conventional":
            conventional[pair] = rec
        else:
            cell = (
                config_key(rec),
                rec["base_lr"],
                rec["regime"],
                rec["schedule"],
                rec["k_fraction"],
                rec["start_ratio"],
            )
            curriculum.setdefault(cell, []).append(rec)

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
            finals = _points(recs, "final_acc")
            entry.update(
                {
                    "base_lr": chosen["base_lr"],
                    "n": len(recs),
                    "conv_final_mean": mean_se(finals)[0],
                    "conv_final_sd": statistics.stdev(finals) if len(finals) > 1 else None,
                    "conv_best_mean": mean_se(_points(recs, "best_acc"))[0],
                    "steps_per_epoch": recs[0].get("steps_per_epoch") if recs else None,
                    "total_steps": recs[0].get("total_steps") if recs else None,
                }
            )
        configs.append(entry)

    cells, mismatched = [], 0
    for (ck, lr, regime, schedule, k, r), recs in curriculum.items():
        pairs = [(rec, conventional.get((ck, lr, rec["seed"]))) for rec in recs]
        pairs = [(a, b) for a, b in pairs if b is not None]
        mismatched += sum(a["init_hash"] != b["init_hash"] for a, b in pairs)
        ours, theirs = [a for a, _ in pairs], [b for _, b in pairs]
        final = paired_difference(_points(ours, "final_acc"), _points(theirs, "final_acc"))
        best = paired_difference(_points(ours, "best_acc"), _points(theirs, "best_acc"))
        first = recs[0]
        cells.append(
            {
                **{f: first.get(f) for f in CONFIG_FIELDS},
                "base_lr": lr,
                "regime": regime,
                "schedule": schedule,
                "k_fraction": k,
                "start_ratio": r,
                "curriculum_steps": first["curriculum_steps"],
                "num_buckets": first["num_buckets"],
                "total_steps": first["total_steps"],
                "n": len(pairs),
                "seeds": sorted(a["seed"] for a in ours),
                "diff_final": final["mean"],
                "diff_final_se": final["se"],
                "diff_final_ci95": final["ci95"],
                "diff_best": best["mean"],
                "diff_best_se": best["se"],
                "lerac_final": mean_se(_points(ours, "final_acc"))[0],
                "conv_final": mean_se(_points(theirs, "final_acc"))[0],
                "wins": final["wins"],
                "losses": final["losses"],
                "ties": final["ties"],
                "diverged": sum(a["diverged"] for a in ours),
            }
        )
    cells.sort(key=lambda c: (config_label(c), c["regime"], c["schedule"], c["k_fraction"], c["start_ratio"]))
    out = {
        "configs": configs,
        "cells": cells,
        "runs": len(runs),
        "tuning_runs": len(tuning),
        "init_hash_mismatches": mismatched,
        "compute_s": sum(r["wall_s"] for r in runs.values()) + sum(r["wall_s"] for r in tuning.values()),
    }
    if design.get("kind") == "controls":
        out["contrasts"] = contrasts(design, runs, rates)
    return out


def contrasts(design: dict, runs: dict[str, dict], rates: dict[str, dict]) -> list[dict]:
    """Per configuration x cell of a controls design: each of `CONTRASTS`, paired by seed.

    Returns one row per block and cell: `label`, `config`, `k_fraction`, `start_ratio`,
    `curriculum_steps`, `conv_final` (conventional mean, %), `init_hash_mismatches` (over
    the four regimes of each seed; must be 0) and `contrasts`: `{name: paired_difference
    of the final-epoch accuracies in points}` over the seeds both regimes have.
    """
    by_run = runs_by_cell(runs, lambda rec: (rec["schedule"], rec["k_fraction"], rec["start_ratio"]))
    rows = []
    for block in design["blocks"]:
        cfg = block["config"]
        chosen = rates.get(config_key(cfg))
        if chosen is None:
            continue
        ck, lr = config_key(cfg), chosen["base_lr"]
        for cell in block["cells"]:
            cell = tuple(cell)

            def get(regime, seed, cell=cell, ck=ck, lr=lr):
                key = (None, None, None) if regime == "conventional" else cell
                return by_run.get((ck, lr, regime, key, seed))

            row = {
                "label": block["name"],
                "config": cfg,
                "base_lr": lr,
                "schedule": cell[0],
                "k_fraction": cell[1],
                "start_ratio": cell[2],
                "curriculum_steps": None,
                "contrasts": {},
            }
            mismatched = 0
            for seed in design["seeds"]:
                hashes = {rec["init_hash"] for regime in REGIMES if (rec := get(regime, seed))}
                mismatched += len(hashes) > 1
                lerac = get("lerac", seed)
                if lerac is not None:
                    row["curriculum_steps"] = lerac["curriculum_steps"]
            row["init_hash_mismatches"] = mismatched
            conv = [rec for seed in design["seeds"] if (rec := get("conventional", seed))]
            row["conv_final"] = mean_se(_points(conv, "final_acc"))[0]
            for name, a, b in CONTRASTS:
                seeds = [s for s in design["seeds"] if get(a, s) and get(b, s)]
                row["contrasts"][name] = paired_difference(
                    [100 * get(a, s)["final_acc"] for s in seeds],
                    [100 * get(b, s)["final_acc"] for s in seeds],
                )
            rows.append(row)
    return rows
