"""Plots of the curriculum and of training curves (matplotlib, imported lazily).

matplotlib is optional: `pip install matplotlib` (or `pip install keras-lerac[plot]`).
The figures are made with `matplotlib.figure.Figure` directly, never with `pyplot`, so
no GUI backend is touched and nothing global changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["plot_accuracy", "plot_curriculum", "plot_planned_rates"]


def _figure_class():
    try:
        from matplotlib.figure import Figure
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError(
            "Plotting needs matplotlib: `pip install matplotlib` (or `pip install keras-lerac[plot]`)."
        ) from error
    return Figure


def sample_steps(steps: int, points: int = 2001) -> np.ndarray:
    """Iterations `0 .. steps` to plot: all of them, or about `points` spread evenly."""
    if steps < points:
        return np.arange(steps + 1)
    return np.unique(np.linspace(0, steps, points).round().astype(int))


def plot_curriculum(optimizer: Any, steps: int | None = None, path: str | None = None, ax: Any = None) -> Any:
    """Plots every bucket's learning rate over the iterations (log scale).

    The rates come from `optimizer.learning_rates_at` (the host copy of the schedule
    the optimizer runs). A dashed vertical line marks the end of the curriculum (`K`).

    Args:
        optimizer: A built `LeRaC` optimizer, or a `LossScaleOptimizer` around one.
        steps: Last iteration to plot. Defaults to `1.25 * K` (at least 10).
        path: If set, the figure is saved there as a PNG.
        ax: A matplotlib `Axes` to draw on; a new figure is made when `None`.

    Returns:
        The matplotlib `Figure`.

    Example:

    ```python
    import keras
    import keras_lerac

    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(8), keras.layers.Dense(2)])
    opt = keras_lerac.LeRaC(keras.optimizers.SGD(0.1), min_learning_rate=1e-6,
                            curriculum_steps=100, model=model)
    opt.build(model.trainable_variables)
    fig = keras_lerac.plot_curriculum(opt, path="curriculum.png")
    ```
    """
    from keras_lerac.optimizer import find_lerac

    opt = find_lerac(optimizer)
    k = opt.settings.curriculum_steps
    if steps is None:
        steps = max(10, int(round(k * 1.25)))
    steps = int(steps)
    if steps < 1:
        raise ValueError(f"`steps` must be >= 1. Received: {steps}")
    x = sample_steps(steps)
    rates = [opt.learning_rates_at(int(t)) for t in x]
    return plot_planned_rates(x, rates, k, opt.settings.schedule, path=path, ax=ax)


def plot_planned_rates(
    steps: Any, rates: Any, curriculum_steps: int, schedule: str, path: str | None = None, ax: Any = None
) -> Any:
    """Plots planned rates already computed: what `plot_curriculum` draws, without the optimizer.

    A comparison's records keep each curriculum's planned rates, so its plot can be drawn
    again from the records alone (`keras-lerac report`).

    Args:
        steps: The iterations, increasing from 0.
        rates: One list of every bucket's rate per iteration (bucket 0 = input side).
        curriculum_steps: K, marked by a dashed line.
        schedule: The schedule's name, for the title.
        path: If set, the figure is saved there as a PNG.
        ax: A matplotlib `Axes` to draw on; a new figure is made when `None`.

    Returns:
        The matplotlib `Figure`.

    Example:

    ```python
    import keras_lerac

    keras_lerac.plotting.plot_planned_rates([0, 5, 10], [[0.1, 1e-4], [0.1, 3e-3], [0.1, 0.1]], 10,
                                            "exponential", path="rates.png")
    ```
    """
    x = np.asarray(steps)
    rates = np.asarray(rates, dtype=float)  # (len(x), buckets)
    k, steps = int(curriculum_steps), int(x[-1])
    if ax is None:
        fig = _figure_class()(figsize=(7.5, 4.5))
        ax = fig.add_subplot(1, 1, 1)
    else:
        fig = ax.figure
    import matplotlib as mpl

    n = rates.shape[1]
    cmap = mpl.colormaps["viridis"]
    colors = [cmap(j / max(1, n - 1) * 0.9) for j in range(n)]
    drawstyle = "steps-post" if schedule == "stepwise" else "default"
    for j in range(n):
        ax.plot(x, rates[:, j], color=colors[j], lw=1.6, drawstyle=drawstyle, label=f"bucket {j}")
    ax.set_yscale("log")
    ax.set_xlim(0, steps)
    ax.set_xlabel("iteration")
    ax.set_ylabel("learning rate")
    ax.set_title(f"LeRaC curriculum ({schedule}, {n} buckets; bucket 0 = input side)")
    ax.grid(True, which="major", alpha=0.3)
    if 0 < k <= steps:
        ax.axvline(k, color="black", ls="--", lw=1)
        # At the bottom, left of the line: every rate is at the top by then, so the label
        # never covers a curve, and it stays inside the axes whatever K is.
        ax.annotate(
            f"K = {k}",
            xy=(k, 0.0),
            xycoords=("data", "axes fraction"),
            xytext=(-4, 4),
            textcoords="offset points",
            ha="right",
            va="bottom",
            fontsize=9,
            bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "none", "alpha": 0.8},
        )
    if n <= 10:
        ax.legend(loc="lower right", fontsize=8)
    else:
        norm = mpl.colors.Normalize(vmin=0, vmax=(n - 1) / 0.9)
        mappable = mpl.cm.ScalarMappable(norm=norm, cmap=cmap)
        bar = fig.colorbar(mappable, ax=ax)
        bar.set_label("bucket (0 = input side)")
        bar.ax.set_ylim(0, n - 1)
    if path is not None:
        fig.savefig(path, dpi=100, bbox_inches="tight")
    return fig


def _curves(entry: Any, key: str) -> list[list[float]]:
    if isinstance(entry, Mapping):
        entry = entry.get("curves", [])
    curves = []
    for seed_curve in entry:
        values = seed_curve.get(key, []) if isinstance(seed_curve, Mapping) else seed_curve
        curves.append([float(v) for v in values])
    return curves


def plot_accuracy(
    results: Mapping[str, Any], path: str | None = None, key: str = "val_accuracy", ax: Any = None
) -> Any:
    """Plots accuracy per epoch for each regime: the mean over seeds with a +-1 std band.

    Args:
        results: `{regime: entry}`, where an entry is either a list of per-seed curves
            (each a list of accuracies, or a dict of History lists) or a dict with a
            `"curves"` list of such History dicts (the `regimes` part of the
            `results.json` that `keras-lerac compare` writes).
        path: If set, the figure is saved there as a PNG.
        key: The History key to plot when curves are dicts. Defaults to
            `"val_accuracy"` (the test split, in `keras-lerac compare`).
        ax: A matplotlib `Axes` to draw on; a new figure is made when `None`.

    Returns:
        The matplotlib `Figure`.

    Example:

    ```python
    import keras_lerac

    keras_lerac.plot_accuracy({"conventional": [[0.8, 0.9], [0.82, 0.91]],
                               "lerac": [[0.78, 0.92], [0.8, 0.93]]}, path="acc.png")
    ```
    """
    if ax is None:
        fig = _figure_class()(figsize=(7.5, 4.5))
        ax = fig.add_subplot(1, 1, 1)
    else:
        fig = ax.figure
    longest = 1
    for regime, entry in results.items():
        curves = [c for c in _curves(entry, key) if c]
        if not curves:
            continue
        length = min(len(c) for c in curves)
        longest = max(longest, length)
        values = np.array([c[:length] for c in curves])
        epochs = np.arange(1, length + 1)
        mean, std = values.mean(axis=0), values.std(axis=0)
        (line,) = ax.plot(epochs, mean, marker="o", ms=3, label=f"{regime} (n={len(curves)})")
        if len(curves) > 1:
            ax.fill_between(epochs, mean - std, mean + std, color=line.get_color(), alpha=0.2)
    from matplotlib.ticker import MaxNLocator

    ax.set_xlim(0.5, longest + 0.5)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # whole epochs only
    ax.set_xlabel("epoch")
    ax.set_ylabel(key.replace("_", " "))
    ax.set_title("Accuracy per epoch (mean +- std over seeds)")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="lower right")
    if path is not None:
        fig.savefig(path, dpi=100, bbox_inches="tight")
    return fig
