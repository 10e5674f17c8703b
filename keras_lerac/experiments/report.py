"""What a comparison leaves behind: the tables it prints, and the plots beside results.json.

`keras_lerac.experiments.comparison.ABComparison` writes `results.json` and calls
`write_plots`; `format_table` and `format_differences` are the tables it prints.
"""

from __future__ import annotations

import os
import platform
import sys

BACKEND_MODULES = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}
# The curriculum plot shows the first CURRICULUM_PLOT_SPAN x K iterations (at least
# CURRICULUM_PLOT_MIN), not the whole run: with K = 2.5 % of the steps the curriculum
# would otherwise be a sliver at the left edge.
CURRICULUM_PLOT_SPAN = 3
CURRICULUM_PLOT_MIN = 10
# A curriculum of fewer iterations than this is flagged under the tables.
SHORT_CURRICULUM = 10


def machine_info() -> dict:
    """Platform, processor, CPU count and library versions, for results.json."""
    import keras
    import numpy as np

    processor = platform.processor()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    processor = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    info = {
        "platform": platform.platform(),
        "processor": processor,
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "keras": keras.__version__,
        "numpy": np.__version__,
    }
    backend = keras.backend.backend()
    module = sys.modules.get(BACKEND_MODULES[backend])
    if module is not None:
        info[backend] = getattr(module, "__version__", "unknown")
    return info


def _percent(score: str) -> bool:
    return "accuracy" in score


def _fmt(value: float | None, score: str, digits: int = 2) -> str:
    if value is None:
        return "n/a"
    text = f"{100 * value:.{digits}f}" if _percent(score) else f"{value:.4g}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text  # never "-0.00"


def format_table(regimes: dict, score: str = "accuracy") -> str:
    """Per regime: the score's mean +- sample std over the seeds, the seeds, diverged runs, fit time."""
    unit = " %" if _percent(score) else ""
    headers = ("Regime", f"Test {score}{unit} (mean +- std)", "Seeds", "Diverged", "Fit time / run (s)")
    rows = [
        (
            name,
            f"{_fmt(entry['mean'], score)} +- {_fmt(entry['std'], score)}",
            str(len(entry["scores"])),
            str(len(entry.get("diverged", []))),
            "n/a" if entry["mean_wall_time_s"] is None else f"{entry['mean_wall_time_s']:.1f}",
        )
        for name, entry in regimes.items()
    ]
    return _table(headers, rows)


def format_differences(differences: dict, score: str = "accuracy") -> str:
    """The paired differences: mean +- standard error, 95 % interval, Holm-adjusted p, wins/ties/losses."""
    unit = " (points)" if _percent(score) else ""
    headers = ("Paired difference" + unit, "Mean +- SE", "95 % CI", "p (Holm)", "W/T/L")
    rows = []
    for name, d in differences.items():
        ci = d["ci95"]
        rows.append(
            (
                name,
                f"{_signed(d['mean'], score)} +- {_fmt(d['se'], score)}",
                "n/a" if ci is None else f"[{_signed(ci[0], score)}, {_signed(ci[1], score)}]",
                "n/a" if d.get("p_holm") is None else f"{d['p_holm']:.3f}",
                f"{d['wins']}/{d['ties']}/{d['losses']}",
            )
        )
    return _table(headers, rows)


def notes(settings: dict, regimes: dict, differences: dict) -> list[str]:
    """The lines under the tables: what the figures cannot say on their own.

    How many contrasts the Holm adjustment spans, why an interval is missing, which
    regimes diverged, a curriculum too short to matter, runs not recorded yet.
    """
    lines = []
    if len(differences) > 1:
        lines.append(
            f"note: {len(differences)} contrasts; the 95 % intervals are each on their own, p (Holm) is "
            f"adjusted for all {len(differences)}"
        )
    for name, d in differences.items():
        if d.get("note"):
            lines.append(f"note: {name}: {d['note']}")
    for name, entry in regimes.items():
        if entry.get("diverged"):
            seeds = ", ".join(str(s) for s in entry["diverged"])
            lines.append(f"note: {name}: training diverged (non-finite loss) with seed(s) {seeds}")
        missing = sum(s is None for s in entry["scores"])
        if missing:
            lines.append(f"note: {name}: {missing} run(s) scored no finite {settings.get('score', 'score')}")
    curriculum = settings.get("curriculum") or {}
    k = curriculum.get("curriculum_steps")
    if k is not None and k < SHORT_CURRICULUM:
        lines.append(
            f"note: the curriculum is K = {k} iteration(s) of {settings.get('total_steps')}: the curriculum "
            "regimes differ from conventional training in those steps only; pass curriculum_steps "
            "(--curriculum-epochs) for a longer one"
        )
    runs = settings.get("runs") or {}
    if runs and runs.get("recorded", 0) < runs.get("planned", 0):
        lines.append(
            f"note: {runs['recorded']} of {runs['planned']} runs recorded; seeds not compared yet: "
            + ", ".join(str(s) for s in runs.get("seeds_incomplete", []))
        )
    return lines


def _signed(value: float | None, score: str) -> str:
    text = _fmt(value, score)
    return text if text.startswith("-") or value is None else "+" + text


def _table(headers, rows) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]

    def line(values):
        return "  ".join(v.ljust(w) if i == 0 else v.rjust(w) for i, (v, w) in enumerate(zip(values, widths)))

    rule = "-" * len(line(headers))
    return "\n".join([line(headers), rule, *(line(r) for r in rows)])


def curriculum_plot_steps(curriculum_steps: int, total_steps: int | None) -> int:
    """The iterations the curriculum plot spans: a few times K, at most the whole run."""
    span = max(CURRICULUM_PLOT_MIN, CURRICULUM_PLOT_SPAN * int(curriculum_steps))
    return span if total_steps is None else max(1, min(int(total_steps), span))


def write_plots(output: str, comparison) -> list[str]:
    """Writes `curriculum.png` (when a curriculum ran) and `accuracy.png`; returns their paths.

    Without matplotlib it prints a note and writes nothing.
    """
    written = []
    try:
        from keras_lerac.plotting import plot_accuracy, plot_planned_rates

        plan = comparison.curriculum_plot
        if plan is not None:
            path = os.path.join(output, "curriculum.png")
            plot_planned_rates(
                plan["steps"], plan["rates"], plan["curriculum_steps"], plan["schedule"], path=path
            )
            written.append(path)
        score = comparison.settings.get("score", "accuracy")
        key = f"val_{score}"
        if any(key in curve for entry in comparison.regimes.values() for curve in entry["curves"]):
            path = os.path.join(output, "accuracy.png")
            plot_accuracy(comparison.regimes, path=path, key=key)
            written.append(path)
    except ImportError as error:
        print(f"note: no plots: {error}")
    return written
