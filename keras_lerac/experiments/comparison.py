"""The outcome of a comparison: `ABComparison`, its statistics, and the files it writes."""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Any

import numpy as np

from keras_lerac.experiments import stats
from keras_lerac.experiments.regimes import REFERENCE


@dataclasses.dataclass
class ABComparison:
    """The outcome of `compare_regimes`.

    Attributes:
        regimes: `{regime: entry}`, in the order run; each entry has `seeds`, `scores`
            (one per seed), `mean`, `std` (sample standard deviation), `wall_time_s` (one
            per seed, `model.fit` only), `mean_wall_time_s`, `init_hash` and `order_hash`
            (one per seed; `order_hash` None for a `tf.data.Dataset`) and `curves` (one
            `History` dict per seed).
        differences: `{"lerac - conventional": ..., "lerac - warmup": ...}`: for every
            regime against conventional and for lerac against warmup, the paired
            statistics of `stats.paired_difference` (`n`, `mean`, `se`, `ci95`, `wins`,
            `ties`, `losses`, `significant`), wins meaning the first regime scored better.
        settings: What ran: score, epochs, seeds, batch size, steps per epoch, optimizer
            config, loss, curriculum, CBS settings, backend.
        lerac: The last curriculum optimizer that ran (lerac, else warmup, else anti),
            for the curriculum plot; not written to JSON.
    """

    regimes: dict
    differences: dict
    settings: dict
    lerac: Any = None

    @classmethod
    def from_runs(
        cls, results: dict, settings: dict, greater_is_better: bool, lerac: Any = None
    ) -> ABComparison:
        """The comparison of finished runs: each regime's mean and spread, the paired differences.

        Args:
            results: `{regime: entry}` with the per-seed lists (`seeds`, `scores`,
                `wall_time_s`, `init_hash`, `order_hash`, `curves`); `mean`, `std` and
                `mean_wall_time_s` are added to each entry.
            settings: What ran.
            greater_is_better: Whether a higher score wins.
            lerac: The curriculum optimizer to plot, or None.

        Returns:
            The `ABComparison`, its `regimes` and `settings` made JSON-ready.
        """
        for entry in results.values():
            values = entry["scores"]
            entry["mean"], entry["std"] = stats.mean_std(values)
            entry["mean_wall_time_s"] = sum(entry["wall_time_s"]) / len(entry["wall_time_s"])
        differences = _differences(results, greater_is_better)
        return cls(_jsonable(results), differences, _jsonable(settings), lerac)

    def to_dict(self) -> dict:
        """`{"settings", "regimes", "differences"}`: what `results.json` holds."""
        return {"settings": self.settings, "regimes": self.regimes, "differences": self.differences}

    def table(self) -> str:
        """The per-regime table and the paired differences, as printed by `keras-lerac compare`."""
        from keras_lerac.experiments import report

        return report.format_table(self.regimes, self.settings.get("score", "accuracy")) + (
            "\n\n" + report.format_differences(self.differences, self.settings.get("score", "accuracy"))
            if self.differences
            else ""
        )

    def write(self, output: str) -> list[str]:
        """Writes `results.json`, `accuracy.png` and (with a curriculum) `curriculum.png`.

        Returns:
            The paths written (plots are skipped, with a note, without matplotlib).
        """
        from keras_lerac.experiments import report

        os.makedirs(output, exist_ok=True)
        path = os.path.join(output, "results.json")
        with open(path, "w") as f:
            json.dump(self.to_dict(), f, indent=2)
        return [path, *report.write_plots(output, self)]


def _differences(results: dict, greater_is_better: bool) -> dict:
    """Every regime - conventional, and lerac - warmup: `stats.paired_difference` of the scores."""
    pairs = [(r, REFERENCE) for r in results if r != REFERENCE and REFERENCE in results]
    if "lerac" in results and "warmup" in results:
        pairs.append(("lerac", "warmup"))
    out = {}
    for a, b in pairs:
        d = stats.paired_difference(results[a]["scores"], results[b]["scores"])
        if not greater_is_better:
            d["wins"], d["losses"] = d["losses"], d["wins"]
        out[f"{a} - {b}"] = d
    return out


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value
