"""The study's report: `summary.json`, `summary.md` and the heat maps, from the records."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator

from benchmarks.sensitivity import instability
from benchmarks.sensitivity.design import choose_base_rates, config_key, config_label
from benchmarks.sensitivity.stats import CONTRASTS, aggregate
from benchmarks.sensitivity.store import RunStore


def _cell_index(summary: dict) -> dict:
    rates = {config_key(c["config"]): c.get("base_lr") for c in summary["configs"]}
    index = {}
    for cell in summary["cells"]:
        if cell.get("regime", "lerac") == "lerac" and cell["base_lr"] == rates.get(config_key(cell)):
            index[(config_key(cell), cell["schedule"], cell["k_fraction"], cell["start_ratio"])] = cell
    return index


def _fmt(mean, se, digits=2) -> str:
    if mean is None:
        return "-"
    text = f"{mean:+.{digits}f}"
    return text + (f" ± {se:.{digits}f}" if se is not None else "")


def _tuned(config: dict) -> tuple[str, str] | None:
    """A config's tuning cells: its grid (`rate: validation acc %, ...`) and the chosen rate
    (⚠ at the grid's edge); None while its tuning is incomplete."""
    tuning = config["tuning"]
    if tuning is None:
        return None
    if tuning["table"] is None:
        return "(given, not tuned)", f"{config['base_lr']:g}"
    grid = ", ".join(f"{row['base_lr']:g}: {100 * row['mean']:.1f}" for row in tuning["table"])
    return grid, f"{config['base_lr']:g}{' ⚠' if tuning['at_edge'] else ''}"


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
        tuned = _tuned(c)
        if tuned is None:
            out.append(f"| {c['label']} | - | (tuning incomplete) | - | - | - |")
            continue
        grid, chosen = tuned
        conv = _fmt(c.get("conv_final_mean"), None).lstrip("+")
        if c.get("conv_final_sd") is not None:
            conv += f" (± {c['conv_final_sd']:.2f}, n={c['n']})"
        best = _fmt(c.get("conv_best_mean"), None).lstrip("+")
        steps = c.get("total_steps") or "-"
        out.append(f"| {c['label']} | {steps} | {grid} | {chosen} | {conv} | {best} |")

    out += ["", "## Main grids: K x start ratio", ""]
    for block, cfg, schedule, grid in _main_grids(index, design):
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


def _main_grids(index: dict, design: dict) -> Iterator[tuple[dict, dict, str, list[list[dict | None]]]]:
    """Each main grid of the design: its block, configuration, schedule and cells (`_grid`)."""
    for block in design["blocks"]:
        if block["kind"] == "grid":
            yield block, block["config"], block["cells"][0][0], _grid(index, block, design)


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
    for block, cfg, schedule, grid in _main_grids(index, design):
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


def _ci(ci) -> str:
    return "-" if ci is None else f"[{ci[0]:+.2f}, {ci[1]:+.2f}]"


def controls_markdown(summary: dict, design: dict, meta: dict) -> str:
    """The tables of a controls design's `summary.md`: every contrast per configuration x K."""
    out = [
        "# LeRaC against warm-up and the anti-curriculum: results",
        "",
        f"Design `{design['name']}`, backend `{meta['backend']}`, {summary['runs']} study runs + "
        f"{summary['tuning_runs']} tuning runs recorded; {len(design['seeds'])} seeds per cell; compute "
        f"{summary['compute_s'] / 3600:.2f} h (sum of run times); wall time over {len(meta['sessions'])} "
        f"session(s): {meta['wall_s'] / 3600:.2f} h; runs still to do: {meta.get('pending_runs', '-')}.",
        "",
        "Final-epoch test accuracy, points (0-100). Every regime of a seed starts from the same "
        "initial weights and sees the same batches at the same tuned base rate; the regimes differ "
        "only in the optimizer: `conventional` (the base optimizer), `lerac` (`LeRaC(..., "
        'schedule="exponential")`), `warmup` (`schedule="warmup"`: every bucket starts at the '
        "lowest start rate and rises to the base at K, an ordinary warm-up), `anti` "
        '(`schedule="anti"`: LeRaC\'s start rates in reverse bucket order), each at the same K and '
        f"start ratio. The `warmup_cosine` base schedule rises linearly from 0 over "
        f"{100 * design.get('warmup_fraction', 0):g} % of the steps, then decays by cosine; there "
        "`conventional` is that schedule alone. Cell: paired mean difference ± standard error "
        "[95 % t interval] (wins/ties/losses of the first regime); **bold**: the interval excludes 0. "
        f"Paired records with differing initial weights: {summary['init_hash_mismatches']} (against "
        "conventional), "
        f"{sum(r['init_hash_mismatches'] for r in summary.get('contrasts', []))} (seeds whose four "
        "regimes differ).",
        "",
    ]
    names = [name for name, _, _ in CONTRASTS]
    out.append("| configuration | conv. % | K | " + " | ".join(names) + " |")
    out.append("|---" * (len(names) + 3) + "|")
    for row in summary.get("contrasts", []):
        texts = []
        for name in names:
            d = row["contrasts"][name]
            if not d["n"]:
                texts.append("-")
                continue
            text = _fmt(d["mean"], d["se"])
            text = f"**{text}**" if d["significant"] else text
            texts.append(f"{text} {_ci(d['ci95'])} ({d['wins']}/{d['ties']}/{d['losses']}, n={d['n']})")
        steps = f" ({row['curriculum_steps']} steps)" if row["curriculum_steps"] else ""
        conv = "-" if row["conv_final"] is None else f"{row['conv_final']:.2f}"
        label = f"{row['label']} ({config_label(row['config'])}, lr {row['base_lr']:g})"
        out.append(f"| {label} | {conv} | {_pct(row['k_fraction'])}{steps} | " + " | ".join(texts) + " |")
    out += ["", "## Base rates (tuned for the conventional regime on a validation split)", ""]
    out += ["| config | base rate: validation acc % | chosen |", "|---|---|---|"]
    for c in summary["configs"]:
        grid, chosen = _tuned(c) or ("(tuning incomplete)", "-")
        out.append(f"| {c['label']} | {grid} | {chosen} |")
    return "\n".join(out) + "\n"


def write_report(output: str, design: dict, runs: RunStore, tuning: RunStore, meta: dict) -> dict:
    """Writes `summary.json` and `summary.md` (and a sensitivity design's heat maps)."""
    summary = aggregate(design, runs.records, tuning.records)
    summary = {"meta": meta, "design": design, **summary}
    kind = design.get("kind")
    if kind == "instability":
        summary["instability"] = instability.analyse(
            design, runs.records, choose_base_rates(design, tuning.records)
        )
    with open(os.path.join(output, "summary.json"), "w", encoding="utf-8") as f:
        json.dump(summary, f, indent=1)
    write = {"controls": controls_markdown, "instability": instability.markdown}.get(kind, markdown)
    with open(os.path.join(output, "summary.md"), "w", encoding="utf-8") as f:
        f.write(write(summary, design, meta))
    summary["heatmaps"] = heatmaps(summary, design, output) if kind == "sensitivity" else []
    if kind == "instability":
        summary["plot"] = instability.plot(summary, output)
    return summary
