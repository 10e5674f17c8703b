"""How LeRaC's two settings, K and the start ratio, move test accuracy: a paired study.

Usage (from the repository root)::

    python -m benchmarks.sensitivity [--backend jax] [--workers 1] [--output DIR]
    python -m benchmarks.sensitivity --design controls          # LeRaC vs warm-up vs anti
    python -m benchmarks.sensitivity --design instability       # where training is unstable
    python -m benchmarks.sensitivity --smoke --output /tmp/smoke # tiny, < 1 min
    python -m benchmarks.sensitivity --estimate                  # time each config, size the run
    python -m benchmarks.sensitivity --report-only               # re-aggregate the records

Every curriculum run is compared with the conventional run of the same data, model,
optimizer, base rate, training length and seed: the same initial weights (built once
per model and seed, saved under `DIR/init/` and loaded by every regime) and the same
batches in the same order. The base rate is tuned for the conventional regime on a
validation split carved from the training data (never the test split). Design, factors
and how to read the results: `docs/sensitivity.md`.

The parts: `design` (factors, configurations, cells, the run list), `store` (the run
records, manifest, lock and sessions on disk), `train` (one run), `stats` (pairing and
the paired differences, through `keras_lerac.experiments.stats`), `instability` (the
instability design's distributions, collapses, contrasts and Holm; `tasks`: its noisy
labels, sequence task and models), `report`
(`summary.json`, `summary.md`, heat maps) and `run` (the run loop, the estimate, `main`).

The run is resumable: each finished run appends one JSON line to `DIR/runs.jsonl`
(tuning runs to `DIR/tuning.jsonl`); a rerun skips every run already recorded (the key
is every factor plus the seed), and a line cut short by a kill is dropped and redone.
"""

from benchmarks.sensitivity.design import (
    CELL_FIELDS,
    CONFIG_FIELDS,
    CONTROL_K_FRACTIONS,
    CURRICULUM_REGIMES,
    DESIGNS,
    INSTABILITY_REGIMES,
    K_FRACTIONS,
    PROBE,
    REGIMES,
    RUN_FIELDS,
    SCHEDULES,
    START_RATIOS,
    TUNE_FIELDS,
    choose_base_rates,
    config,
    config_key,
    config_label,
    controls_design,
    distinct_configs,
    full_design,
    instability_design,
    key_of,
    smoke_controls_design,
    smoke_design,
    smoke_instability_design,
    study_specs,
    tune_config,
    tuning_specs,
)
from benchmarks.sensitivity.instability import CONTRASTS as INSTABILITY_CONTRASTS
from benchmarks.sensitivity.instability import analyse as analyse_instability
from benchmarks.sensitivity.report import controls_markdown, markdown, write_report
from benchmarks.sensitivity.run import main
from benchmarks.sensitivity.stats import CONTRASTS, aggregate, contrasts
from benchmarks.sensitivity.store import HEARTBEAT, RunStore, beat, check_manifest
from benchmarks.sensitivity.train import base_rate, curriculum_schedule, execute

__all__ = [
    "CELL_FIELDS",
    "CONFIG_FIELDS",
    "CONTRASTS",
    "CONTROL_K_FRACTIONS",
    "CURRICULUM_REGIMES",
    "DESIGNS",
    "HEARTBEAT",
    "INSTABILITY_CONTRASTS",
    "INSTABILITY_REGIMES",
    "PROBE",
    "K_FRACTIONS",
    "REGIMES",
    "RUN_FIELDS",
    "RunStore",
    "SCHEDULES",
    "START_RATIOS",
    "TUNE_FIELDS",
    "aggregate",
    "analyse_instability",
    "base_rate",
    "beat",
    "check_manifest",
    "choose_base_rates",
    "config",
    "config_key",
    "config_label",
    "contrasts",
    "controls_design",
    "controls_markdown",
    "curriculum_schedule",
    "distinct_configs",
    "execute",
    "full_design",
    "instability_design",
    "key_of",
    "main",
    "markdown",
    "smoke_controls_design",
    "smoke_design",
    "smoke_instability_design",
    "study_specs",
    "tune_config",
    "tuning_specs",
    "write_report",
]
