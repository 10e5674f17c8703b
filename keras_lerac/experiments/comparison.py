"""The outcome of a comparison, derived from its run records: `ABComparison` and its files.

A comparison's runs are recorded one by one (`keras_lerac.experiments.records`);
`ABComparison.from_records` derives everything else from them: each regime's scores,
mean and spread, how many runs diverged, the paired differences with their statistics,
and the files `write` leaves (`results.json`, the plots). The same records always give
the same comparison, whichever process or machine made them.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from typing import Any

from keras_lerac.experiments import stats
from keras_lerac.experiments.inputs import InputError
from keras_lerac.experiments.pairing import check_batch_orders, check_initial_weights
from keras_lerac.experiments.records import RunStore, jsonable, write_json
from keras_lerac.experiments.regimes import CURRICULUM_REGIMES, contrasts

# The curriculum runs whose plan the curriculum plot shows, in order of preference.
_PLOTTED = ("lerac", *[r for r in CURRICULUM_REGIMES if r != "lerac"])
UNITS = {
    "scores": "the score as evaluate returns it (accuracy: a fraction, 0..1); null when not finite",
    "differences": "the unit of the scores (accuracy: a fraction; the printed tables show points, x 100)",
    "wall_time_s": "seconds of model.fit per run (tracing and compilation included)",
}


@dataclasses.dataclass
class ABComparison:
    """The outcome of `compare_regimes`, derived from its run records.

    Attributes:
        regimes: `{regime: entry}`, in the order run; each entry has `seeds` (the seeds
            every regime finished), `scores` (one per seed; None for a score that is not
            a finite number), `mean` and `std` (sample standard deviation) of the finite
            scores (None without any), `diverged` (the seeds whose training loss went
            non-finite), `wall_time_s` (one per seed, `model.fit` only),
            `mean_wall_time_s`, `init_hash` and `order_hash` (one per seed; `order_hash`
            None for a `tf.data.Dataset`) and `curves` (one `History` dict per seed).
        differences: `{"lerac - conventional": ..., "lerac - warmup": ...}`: every regime
            against conventional, and lerac against each warm-up control, with the paired
            statistics of `stats.paired_difference` (wins meaning the first regime scored
            better) and `p_holm`: the p-value adjusted by Holm's method over every
            contrast of the table (`significant_holm` at 5 %).
        settings: What ran: score, epochs, seeds, batch size, steps per epoch, optimizer
            config, loss, curriculum, CBS settings, backend, units, and `runs`: how many
            of the planned runs are recorded.
        curriculum_plot: The planned rates of a curriculum run (`steps`, `rates`,
            `curriculum_steps`, `schedule`), for the curriculum plot; None without one.
        written: The paths the last `write` wrote.
    """

    regimes: dict
    differences: dict
    settings: dict
    curriculum_plot: dict | None = None
    written: list = dataclasses.field(default_factory=list)

    @classmethod
    def from_records(
        cls,
        records: Sequence[dict],
        regimes: Sequence[str],
        seeds: Sequence[int],
        settings: dict | None = None,
    ) -> ABComparison:
        """The comparison of the recorded runs of `regimes` x `seeds`.

        Only the seeds that every regime finished are compared (paired); the others are
        named in `settings["runs"]`.

        Args:
            records: Run records (`compare_regimes`' own, or read from an output
                directory); records of other regimes or seeds are left out.
            regimes: The regimes, in the order to show them.
            seeds: The seeds planned.
            settings: What ran; defaults to the settings the records carry.

        Returns:
            The `ABComparison`, JSON-ready.

        Raises:
            PairingError: if two regimes of a seed did not start from the same weights or
                see the same batches.
        """
        regimes, seeds = list(regimes), [int(s) for s in seeds]
        by_run = {(int(r["seed"]), r["regime"]): r for r in records}
        complete = [s for s in seeds if all((s, regime) in by_run for regime in regimes)]
        recorded = sum((s, regime) in by_run for s in seeds for regime in regimes)
        if settings is None:
            settings = next((r.get("settings") for r in records if r.get("settings")), {})
        settings = dict(settings)
        greater_is_better = settings.get("greater_is_better", True)
        for seed in complete:
            _check_pairing(seed, {regime: by_run[seed, regime] for regime in regimes})
        entries = {regime: _entry([by_run[s, regime] for s in complete], complete) for regime in regimes}
        curriculum = next((by_run[s, r] for r in _PLOTTED if r in regimes for s in complete), None)
        settings.update(
            regimes=regimes,
            seeds=complete,
            units=UNITS,
            runs={
                "planned": len(seeds) * len(regimes),
                "recorded": recorded,
                "seeds_incomplete": [s for s in seeds if s not in complete],
            },
            curriculum=None if curriculum is None else curriculum["curriculum"]["record"],
        )
        plot = None if curriculum is None else curriculum["curriculum"]["plot"]
        return cls(jsonable(entries), _differences(entries, greater_is_better), jsonable(settings), plot)

    @classmethod
    def from_directory(cls, output: str) -> ABComparison:
        """The comparison of every run recorded in `output` (by one process or by several shards).

        The regimes and seeds are those the runs were planned with (their union, when
        later runs added seeds or regimes).

        Raises:
            InputError: if `output` holds no run record, or records of two different
                comparisons.
            PairingError: as for `from_records`.
        """
        store = RunStore(output)
        records = store.read()
        if not records:
            raise InputError(f"{output!r} holds no run records (they are in {store.folder!r})")
        store.check(records[0].get("fingerprint") or {})
        regimes, seeds = [], set()
        for record in records:
            planned = record.get("plan") or {"regimes": [record["regime"]], "seeds": [record["seed"]]}
            regimes += [r for r in planned["regimes"] if r not in regimes]
            seeds |= {int(s) for s in planned["seeds"]}
        return cls.from_records(records, regimes, sorted(seeds))

    def to_dict(self) -> dict:
        """`{"settings", "regimes", "differences"}`: what `results.json` holds."""
        return {"settings": self.settings, "regimes": self.regimes, "differences": self.differences}

    def table(self) -> str:
        """The per-regime table, the paired differences and the notes, as `keras-lerac compare` prints."""
        from keras_lerac.experiments import report

        score = self.settings.get("score", "accuracy")
        parts = [report.format_table(self.regimes, score)]
        if self.differences:
            parts.append(report.format_differences(self.differences, score))
        notes = report.notes(self.settings, self.regimes, self.differences)
        return "\n\n".join(parts) + ("\n" + "\n".join(notes) if notes else "")

    def write(self, output: str) -> list[str]:
        """Writes `results.json`, `accuracy.png` and (with a curriculum) `curriculum.png`.

        Returns:
            The paths written (plots are skipped, with a note, without matplotlib), also
            kept in `written`.
        """
        from keras_lerac.experiments import report

        os.makedirs(output, exist_ok=True)
        path = os.path.join(output, "results.json")
        write_json(path, self.to_dict())
        self.written = [path, *report.write_plots(output, self)]
        return self.written


def _check_pairing(seed: int, runs: dict) -> None:
    """Checks that the runs of one seed started from the same weights and saw the same batches."""
    first = next(iter(runs.values()))["init_hash"]
    for regime, run in runs.items():
        check_initial_weights(seed, regime, run["init_hash"], first)
    check_batch_orders(seed, {regime: run["order_hash"] for regime, run in runs.items()})


def _entry(runs: list[dict], seeds: list[int]) -> dict:
    """One regime's entry: per-seed lists, and the summary of its finite scores."""
    scores = [run["score"] for run in runs]
    finite = [s for s in scores if s is not None]
    mean, std = stats.mean_std(finite) if finite else (None, None)
    walls = [run["wall_time_s"] for run in runs]
    return {
        "seeds": seeds,
        "scores": scores,
        "mean": mean,
        "std": std,
        "diverged": [s for s, run in zip(seeds, runs) if run["diverged"]],
        "wall_time_s": walls,
        "mean_wall_time_s": sum(walls) / len(walls) if walls else None,
        "init_hash": [run["init_hash"] for run in runs],
        "order_hash": [run["order_hash"] for run in runs],
        "curves": [run["curves"] for run in runs],
    }


def _differences(entries: dict, greater_is_better: bool) -> dict:
    """`stats.paired_difference` of every contrast, with Holm's adjustment over all of them."""
    out: dict[str, Any] = {}
    for a, b in contrasts(list(entries)):
        d = stats.paired_difference(entries[a]["scores"], entries[b]["scores"])
        if not greater_is_better:
            d["wins"], d["losses"] = d["losses"], d["wins"]
        out[f"{a} - {b}"] = d
    adjusted = stats.holm([d["p"] for d in out.values()])
    for d, p in zip(out.values(), adjusted):
        d["p_holm"] = p
        d["significant_holm"] = None if p is None else p < 0.05
    return jsonable(out)
