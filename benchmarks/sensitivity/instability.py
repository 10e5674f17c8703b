"""The instability design's analysis: distributions, collapses, paired contrasts, Holm.

Per cell (a configuration at one K) and regime: the final-epoch test accuracies over the
seeds (mean, median, sd, min) and the collapse rate with its Wilson 95 % interval. Per
cell and contrast (`CONTRASTS`), paired by seed: the mean difference with its 95 % t
interval, wins / ties / losses, the two-sided paired t test's p, Holm-adjusted over every
contrast of every cell, and McNemar's exact test on the collapses (discordant pairs).

**Collapse**: a final test accuracy below `chance + COLLAPSE_SHARE * (1 - chance)`, a
quarter of the way from chance to perfect (32.5 % on digits' 10 classes, 62.5 % on 2
classes, 43.75 % on 4). A collapsed run has learned next to nothing; healthy runs of
these tasks end far above it (digits 95-99 %, spirals 96-97 %, even with 40 % noisy
labels the probe's healthy seeds end at 70-90 %) while the probe's collapses end near
10-20 %, so any threshold in that gap counts the same runs. Every run's score is in
`summary.json`, for any other threshold.
"""

from __future__ import annotations

import math
import os
import statistics

from benchmarks.sensitivity.design import config_key, config_label, runs_by_cell
from keras_lerac.experiments.stats import paired_difference

COLLAPSE_SHARE = 0.25
CLASSES = {"digits": 10, "spirals": 2, "sequences": 4, "wine": 3, "iris": 3, "breast_cancer": 2}
# (name, a, b): the paired difference a - b, in this order in every table.
CONTRASTS = (
    ("lerac - warmup", "lerac", "warmup"),
    ("lerac - linear_warmup", "lerac", "linear_warmup"),
    ("lerac - conventional", "lerac", "conventional"),
    ("anti - lerac", "anti", "lerac"),
)


def collapse_threshold(data: str) -> float:
    """The accuracy (0-1) below which a run of `data` counts as collapsed."""
    chance = 1.0 / CLASSES[data]
    return chance + COLLAPSE_SHARE * (1.0 - chance)


def wilson(k: int, n: int, z: float = 1.959964) -> tuple[float, float] | None:
    """Wilson score interval (95 % by default) of a proportion `k / n`; None for n = 0.

    Example:

    >>> [round(v, 4) for v in wilson(2, 24)]
    [0.0231, 0.2585]
    """
    if n == 0:
        return None
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p: the discordant pairs `b`, `c` against Binomial(b + c, 1/2).

    Example:

    >>> round(mcnemar_exact(6, 1), 4)
    0.125
    """
    n = b + c
    if n == 0:
        return 1.0
    tail = math.fsum(math.comb(n, i) for i in range(min(b, c) + 1)) / 2.0**n
    return min(1.0, 2.0 * tail)


def holm(pvalues: list[float]) -> list[float]:
    """Holm's step-down adjusted p-values, in the order given (family-wise error control).

    Example:

    >>> holm([0.01, 0.04, 0.03])
    [0.03, 0.06, 0.06]
    """
    m = len(pvalues)
    order = sorted(range(m), key=lambda i: pvalues[i])
    adjusted, running = [0.0] * m, 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * pvalues[i]))
        adjusted[i] = running
    return adjusted


def t_test_p(mean: float, se: float | None, n: int) -> float | None:
    """Two-sided p of the paired t test (mean difference / standard error, n - 1 dof)."""
    if se is None or n < 2:
        return None
    if se == 0:
        return 1.0 if mean == 0 else 0.0
    from scipy import stats

    return float(2.0 * stats.t.sf(abs(mean / se), n - 1))


def distribution(scores: list[float], threshold: float) -> dict:
    """Mean, median, sd, min and the collapse count, rate and Wilson interval (points)."""
    n = len(scores)
    collapsed = sum(s < 100 * threshold for s in scores)
    return {
        "n": n,
        "mean": statistics.fmean(scores) if n else None,
        "median": statistics.median(scores) if n else None,
        "sd": statistics.stdev(scores) if n > 1 else None,
        "min": min(scores) if n else None,
        "collapsed": collapsed,
        "collapse_rate": collapsed / n if n else None,
        "collapse_ci95": wilson(collapsed, n),
    }


def analyse(design: dict, runs: dict[str, dict], rates: dict[str, dict]) -> dict:
    """Every cell's distributions and contrasts, Holm-adjusted over all of them.

    Returns `{"collapse_share", "contrasts_tested", "cells": [...]}`; a cell has `label`,
    `config`, `base_lr`, `k_fraction`, `curriculum_steps`, `threshold` (points),
    `scores` (`{regime: {seed: points}}`), `regimes` (`distribution` of each) and
    `contrasts` (`{name: paired_difference + p, p_holm, significant_holm, mcnemar}`).
    """
    by_run = runs_by_cell(runs, lambda rec: None if rec["regime"] == "conventional" else rec["k_fraction"])
    cells = []
    for block in design["blocks"]:
        cfg = block["config"]
        chosen = rates.get(config_key(cfg))
        if chosen is None:
            continue
        key, lr, threshold = config_key(cfg), chosen["base_lr"], collapse_threshold(cfg["data"])
        for _, k, _ in block["cells"]:
            scores, steps = {}, None
            for regime in ["conventional", *block["regimes"]]:
                found = {}
                for seed in design["seeds"]:
                    rec = by_run.get((key, lr, regime, None if regime == "conventional" else k, seed))
                    if rec is not None:
                        found[seed] = 100 * rec["final_acc"]
                        steps = rec.get("curriculum_steps") or steps
                scores[regime] = found
            cell = {
                "label": block["name"],
                "config": cfg,
                "config_label": config_label(cfg),
                "base_lr": lr,
                "k_fraction": k,
                "curriculum_steps": steps,
                "threshold": 100 * threshold,
                "scores": scores,
                "regimes": {r: distribution(list(s.values()), threshold) for r, s in scores.items()},
                "contrasts": {},
            }
            for name, a, b in CONTRASTS:
                seeds = sorted(set(scores[a]) & set(scores[b]))
                d = paired_difference([scores[a][s] for s in seeds], [scores[b][s] for s in seeds])
                d["p"] = t_test_p(d["mean"], d["se"], d["n"]) if d["n"] else None
                fell_a = sum(scores[a][s] < 100 * threshold <= scores[b][s] for s in seeds)
                fell_b = sum(scores[b][s] < 100 * threshold <= scores[a][s] for s in seeds)
                d["mcnemar"] = {"a_only": fell_a, "b_only": fell_b, "p": mcnemar_exact(fell_a, fell_b)}
                cell["contrasts"][name] = d
            cells.append(cell)
    for c in cells:
        for d in c["contrasts"].values():
            d["p_holm"] = d["significant_holm"] = None  # set below for every contrast with a p
    tested = [d for c in cells for d in c["contrasts"].values() if d["p"] is not None]
    for d, adjusted in zip(tested, holm([d["p"] for d in tested])):
        d["p_holm"] = adjusted
        d["significant_holm"] = adjusted < 0.05
    return {"collapse_share": COLLAPSE_SHARE, "contrasts_tested": len(tested), "cells": cells}


# ----------------------------------------------------------------------------- report
def _num(value, fmt="{:.2f}") -> str:
    return "-" if value is None else fmt.format(value)


def _contrast(d: dict) -> str:
    if not d["n"] or d["se"] is None:
        return "-"
    if d["ci95"] is None:  # fewer than 3 pairs, or every pair equal: no interval (d["note"])
        text = f"{d['mean']:+.2f} (no interval)"
    else:
        text = f"{d['mean']:+.2f} [{d['ci95'][0]:+.2f}, {d['ci95'][1]:+.2f}]"
    text = f"**{text}**" if d.get("significant_holm") else text
    m = d["mcnemar"]
    return (
        f"{text} {d['wins']}/{d['ties']}/{d['losses']}; p {_num(d['p'], '{:.3g}')}, "
        f"Holm {_num(d.get('p_holm'), '{:.3g}')}; "
        f"collapses {m['a_only']}:{m['b_only']} (p {m['p']:.2g})"
    )


def markdown(summary: dict, design: dict, meta: dict) -> str:
    """`summary.md` of an instability design."""
    result = summary["instability"]
    seeds = len(design["seeds"])
    out = [
        "# Where LeRaC beats a warm-up: unstable training",
        "",
        f"Design `{design['name']}`, backend `{meta['backend']}`, {summary['runs']} study runs + "
        f"{summary['tuning_runs']} tuning runs recorded; {seeds} seeds per cell; compute "
        f"{summary['compute_s'] / 3600:.2f} h (sum of run times); wall time over {len(meta['sessions'])} "
        f"session(s): {meta['wall_s'] / 3600:.2f} h; runs still to do: {meta.get('pending_runs', '-')}.",
        "",
        "Final-epoch test accuracy, points (0-100). Every regime of a seed starts from the same initial "
        "weights and sees the same batches at the same base rate: `conventional` (the base optimizer), "
        '`lerac` (`schedule="exponential"`), `warmup` (`schedule="warmup"`: every bucket from the lowest '
        'start rate, exponential), `linear_warmup` (`schedule="linear_warmup"`: every bucket linearly from '
        '0, the practitioner\'s warm-up) and `anti` (`schedule="anti"`), all at the same K and start ratio '
        f"{design['start_ratios'][0]:g}. The design was cut to fit the machine: K = "
        f"{100 * design['centre'][0]:g} % everywhere, K = "
        + ", ".join(f"{100 * k:g}" for k in design["k_fractions"])
        + " % on the key configurations (see the design's docstring).",
        "",
        f"**Collapse**: final accuracy below chance + {COLLAPSE_SHARE:g} x (1 - chance) (a quarter of the "
        "way from chance to perfect; the threshold column), with its Wilson 95 % interval. **Contrasts**: "
        "paired mean difference [95 % t interval], wins/ties/losses of the first regime, the paired t "
        f"test's p and its Holm-adjusted p over all {result['contrasts_tested']} contrasts of the study "
        "(**bold**: Holm p < 0.05), and the collapses of the first regime only : of the second only "
        "(McNemar's exact p on those discordant pairs). Label noise replaces that share of the "
        "training labels by uniformly random classes (the same labels for every seed and regime); "
        "test labels are clean.",
        "",
        "![distributions](distributions.png)",
        "",
        "## Distributions per cell",
        "",
        "| configuration | K | threshold | regime | n | mean | median | sd | min "
        "| collapses (rate, 95 % CI) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for cell in result["cells"]:
        for regime, d in cell["regimes"].items():
            ci = d["collapse_ci95"]
            rate = (
                "-"
                if ci is None
                else f"{d['collapsed']} ({100 * d['collapse_rate']:.0f} %, "
                f"{100 * ci[0]:.0f}-{100 * ci[1]:.0f} %)"
            )
            out.append(
                f"| {cell['label']} | {100 * cell['k_fraction']:g} % | {cell['threshold']:.1f} | {regime} | "
                f"{d['n']} | {_num(d['mean'])} | {_num(d['median'])} | {_num(d['sd'])} | "
                f"{_num(d['min'])} | {rate} |"
            )
    out += ["", "## Paired contrasts", ""]
    out.append("| configuration | K | " + " | ".join(name for name, _, _ in CONTRASTS) + " |")
    out.append("|---" * (len(CONTRASTS) + 2) + "|")
    for cell in result["cells"]:
        texts = [_contrast(cell["contrasts"][name]) for name, _, _ in CONTRASTS]
        out.append(f"| {cell['label']} | {100 * cell['k_fraction']:g} % | " + " | ".join(texts) + " |")
    out += ["", "## Configurations and base rates", ""]
    out += ["| configuration | settings | base rate | how |", "|---|---|---|---|"]
    seen = set()
    for cell in result["cells"]:
        if cell["label"] in seen:
            continue
        seen.add(cell["label"])
        cfg = cell["config"]
        how = "given (the issue's probe)" if cfg.get("fixed_lr") else f"tuned x {cfg.get('lr_scale', 1):g}"
        out.append(f"| {cell['label']} | {cell['config_label']} | {cell['base_lr']:g} | {how} |")
    return "\n".join(out) + "\n"


def plot(summary: dict, output: str) -> str | None:
    """`distributions.png`: per cell, every seed's score per regime (points) over a box plot."""
    try:
        from matplotlib.figure import Figure
    except ImportError:  # pragma: no cover - depends on the environment
        return None
    import numpy as np

    cells = [c for c in summary["instability"]["cells"] if any(c["scores"].values())]
    if not cells:
        return None
    cols = min(4, len(cells))
    rows = math.ceil(len(cells) / cols)
    fig = Figure(figsize=(4.2 * cols, 3.4 * rows), layout="constrained")
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False)).ravel()
    rng = np.random.default_rng(0)
    for ax, cell in zip(axes, cells):
        regimes = list(cell["scores"])
        data = [list(cell["scores"][r].values()) for r in regimes]
        ax.boxplot([d if d else [np.nan] for d in data], widths=0.55, showfliers=False)
        for i, values in enumerate(data, start=1):
            ax.scatter(i + rng.uniform(-0.18, 0.18, len(values)), values, s=9, alpha=0.6, zorder=3)
        ax.axhline(cell["threshold"], color="red", lw=0.8, ls="--")
        ax.set_xticks(range(1, len(regimes) + 1), [r.replace("_", "\n") for r in regimes], fontsize=7)
        ax.set_title(f"{cell['label']}, K {100 * cell['k_fraction']:g} %", fontsize=8)
        ax.set_ylabel("test accuracy %", fontsize=8)
        ax.tick_params(axis="y", labelsize=7)
    for ax in axes[len(cells) :]:
        ax.set_visible(False)
    fig.suptitle("Final-epoch test accuracy per seed (dashed: the collapse threshold)")
    path = os.path.join(output, "distributions.png")
    fig.savefig(path, dpi=80)
    return path
