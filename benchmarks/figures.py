"""The documentation's pictures, redrawn from the committed results files (no training).

    python -m benchmarks.figures            # or: make figures

Each picture under docs/ comes from one results file, drawn by the plotting the package
or the benchmark already has (`FIGURES` says which file makes which picture):

- `docs/demo/curriculum.png`, `docs/demo/accuracy.png`: `make demo`'s two plots, from
  `docs/demo/results.json` (`keras_lerac.plot_curriculum` on the LeRaC those settings
  build, `keras_lerac.plot_accuracy` on the recorded curves), as `keras-lerac compare`
  draws them;
- `docs/figures/scaling.png`: `benchmarks.scaling.plot` of
  `benchmarks/results/scaling/scaling.json`;
- `docs/figures/controls.png`: the controls study's heat map (`controls_heatmap`), from
  `benchmarks/results/controls/summary.json`.

`--output DIR` writes them under DIR instead (same relative paths); tests/test_figures.py
does so to check that every picture a page shows is made here from a committed file.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# picture (relative to the repository) -> the results file it is drawn from
FIGURES = {
    "docs/demo/curriculum.png": "docs/demo/results.json",
    "docs/demo/accuracy.png": "docs/demo/results.json",
    "docs/figures/scaling.png": "benchmarks/results/scaling/scaling.json",
    "docs/figures/controls.png": "benchmarks/results/controls/summary.json",
}
CONTRASTS = ("lerac - warmup", "anti - lerac", "lerac - conventional", "warmup - conventional")


def _load(relpath: str) -> dict:
    with open(os.path.join(ROOT, relpath), encoding="utf-8") as f:
        return json.load(f)


def demo_curriculum(results: dict, path: str) -> str:
    """`make demo`'s curriculum plot: the LeRaC that `results["settings"]` describe."""
    import keras

    from keras_lerac import LeRaC, plot_curriculum
    from keras_lerac.experiments import models, report

    settings = results["settings"]
    curriculum = settings["curriculum"]
    model = models.get_model(settings["model"], (8, 8, 1), 10)
    base = keras.optimizers.deserialize(settings["optimizer"])
    optimizer = LeRaC(
        base,
        min_learning_rate=curriculum["min_learning_rate"],
        curriculum_steps=curriculum["curriculum_steps"],
        schedule=curriculum["lerac_schedule"],
        num_buckets=curriculum["num_buckets"],
        model=model,
    )
    optimizer.build(model.trainable_variables)
    steps = report.curriculum_plot_steps(optimizer.settings.curriculum_steps, settings["total_steps"])
    plot_curriculum(optimizer, steps=steps, path=path)
    return path


def demo_accuracy(results: dict, path: str) -> str:
    """`make demo`'s accuracy plot: test accuracy per epoch, per regime, from the curves."""
    from keras_lerac import plot_accuracy

    plot_accuracy(results["regimes"], path=path, key=f"val_{results['settings'].get('score', 'accuracy')}")
    return path


def controls_heatmap(summary: dict, path: str) -> str:
    """The controls study as a heat map: configuration x K, one panel per paired contrast.

    Colour: the paired mean difference in points (red: the first regime lower); each cell
    reads mean ± standard error, boxed where the 95 % t interval excludes 0.
    """
    import numpy as np
    from matplotlib.colors import TwoSlopeNorm
    from matplotlib.figure import Figure

    labels = list(dict.fromkeys(r["label"] for r in summary["contrasts"]))
    ks = sorted({r["k_fraction"] for r in summary["contrasts"]})
    cells = {(r["label"], r["k_fraction"]): r["contrasts"] for r in summary["contrasts"]}
    limit = max(abs(c[n]["mean"]) for c in cells.values() for n in CONTRASTS)
    fig = Figure(figsize=(16, 0.55 * len(labels) + 2.2), layout="constrained")
    axes = fig.subplots(1, len(CONTRASTS), sharey=True)
    for ax, name in zip(axes, CONTRASTS):
        mean = np.array([[cells[(lab, k)][name]["mean"] for k in ks] for lab in labels])
        image = ax.imshow(mean, cmap="RdBu", norm=TwoSlopeNorm(0.0, -limit, limit), aspect="auto")
        for i, lab in enumerate(labels):
            for j, k in enumerate(ks):
                d = cells[(lab, k)][name]
                colour = "white" if abs(d["mean"]) > 0.6 * limit else "black"
                box = (
                    {"boxstyle": "square,pad=0.15", "fc": "none", "ec": colour} if d["significant"] else None
                )
                text = f"{d['mean']:+.2f}\n±{d['se']:.2f}"
                ax.text(j, i, text, ha="center", va="center", fontsize=7.5, color=colour, bbox=box)
        ax.set_xticks(range(len(ks)), [f"K {100 * k:g} %" for k in ks])
        ax.set_title(name, fontsize=10)
    axes[0].set_yticks(range(len(labels)), labels)
    fig.colorbar(image, ax=list(axes), shrink=0.8, label="paired difference (points)")
    seeds = len(summary["design"]["seeds"])
    fig.suptitle(
        f"Controls study: final-epoch test accuracy, paired mean difference ± SE over {seeds} seeds "
        "(boxed: the 95 % interval excludes 0)"
    )
    fig.savefig(path, dpi=80)
    return path


def make(output: str = ROOT, only: list[str] | None = None) -> list[str]:
    """Draws the pictures of `FIGURES` (or the `only` ones) under `output`; returns the paths."""
    drawers = {
        "docs/demo/curriculum.png": demo_curriculum,
        "docs/demo/accuracy.png": demo_accuracy,
        "docs/figures/controls.png": controls_heatmap,
    }
    written = []
    for picture in only or FIGURES:
        path = os.path.join(output, picture)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        data = _load(FIGURES[picture])
        if picture == "docs/figures/scaling.png":
            from benchmarks import scaling

            written.append(scaling.plot(data, path))
        else:
            written.append(drawers[picture](data, path))
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", default=ROOT, help="write under this directory (default: the repository)")
    parser.add_argument("pictures", nargs="*", choices=[[], *FIGURES], help="only these (default: all)")
    args = parser.parse_args(argv)
    for path in make(args.output, args.pictures or None):
        print(f"wrote {os.path.relpath(path)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
