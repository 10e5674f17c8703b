"""The sensitivity study: its --smoke mode end to end, resuming, pairing and the aggregate.

The two end-to-end smoke runs rotate over the backends in CI like the examples
(`conftest.rotation_backend`); `LERAC_EXAMPLES=all` runs them on every backend.

No accuracy thresholds and no timing assertions: what is checked is that every run is
recorded once with all its factors, that LeRaC runs pair with conventional runs from the
same initial weights, and that a killed or cut-short run is done again on resume.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
from conftest import rotating

from benchmarks import sensitivity as study

BACKEND = keras.backend.backend()
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _smoke(output, design="smoke"):
    env = dict(os.environ, KERAS_BACKEND=BACKEND, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=ROOT)
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.sensitivity", "--design", design, "--quiet", "--backend", BACKEND]
        + ["--output", str(output)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return proc.stdout


def _lines(path):
    return path.read_text().splitlines()


@rotating(0)  # slow: one backend a day in CI (the harness's code is backend-agnostic)
def test_smoke_end_to_end_then_resume(tmp_path):
    out = tmp_path / "study"
    _smoke(out)
    design = study.smoke_design()
    runs = [json.loads(line) for line in _lines(out / "runs.jsonl")]
    tuning = [json.loads(line) for line in _lines(out / "tuning.jsonl")]
    assert len(tuning) == len(study.tuning_specs(design))
    rates = study.choose_base_rates(design, {study.key_of(r, study.TUNE_FIELDS): r for r in tuning})
    assert len(runs) == len(study.study_specs(design, rates))
    # one record per run, every factor and the seed in it
    keys = [study.key_of(r, study.RUN_FIELDS) for r in runs]
    assert len(set(keys)) == len(keys)
    for record in runs:
        assert set(study.RUN_FIELDS) <= set(record)
        assert record["backend"] == BACKEND and record["split"] == "test"
        assert len(record["acc_curve"]) == record["epochs"] == len(record["loss_curve"])
        assert record["final_acc"] == record["acc_curve"][-1] <= record["best_acc"]
    # paired: each LeRaC run has the conventional run of its config and seed, same start
    conventional = {(study.config_key(r), r["seed"]): r for r in runs if r["regime"] == "conventional"}
    for record in runs:
        if record["regime"] == "lerac":
            partner = conventional[(study.config_key(record), record["seed"])]
            assert record["init_hash"] == partner["init_hash"] and record["base_lr"] == partner["base_lr"]
            assert record["curriculum_steps"] >= 1 and record["num_buckets"] >= 2
    summary = json.loads((out / "summary.json").read_text())
    assert summary["init_hash_mismatches"] == 0 and summary["meta"]["pending_runs"] == 0
    assert summary["cells"] and all(c["n"] == len(design["seeds"]) for c in summary["cells"])
    for config in summary["configs"]:
        assert config["base_lr"] in design["base_rates"][config["config"]["optimizer"]]
    assert "Δ" in (out / "summary.md").read_text()
    pngs = sorted(out.glob("heatmap_*.png"))
    assert len(pngs) == 1 and pngs[0].read_bytes()[:4] == b"\x89PNG"

    # A second run has nothing to do.
    before = (out / "runs.jsonl").read_bytes()
    assert "== 0 new runs" in _smoke(out)
    assert (out / "runs.jsonl").read_bytes() == before

    # A line cut short by a kill, and a lost tuning record, are redone; nothing else.
    lines = _lines(out / "runs.jsonl")
    (out / "runs.jsonl").write_text("\n".join(lines[:-1]) + "\n" + lines[-1][: len(lines[-1]) // 2])
    tuning_lines = _lines(out / "tuning.jsonl")
    (out / "tuning.jsonl").write_text("".join(line + "\n" for line in tuning_lines[:-1]))
    assert "== 2 new runs" in _smoke(out)
    again = [json.loads(line) for line in _lines(out / "runs.jsonl")]
    assert sorted(study.key_of(r, study.RUN_FIELDS) for r in again) == sorted(keys)
    assert len(_lines(out / "tuning.jsonl")) == len(tuning_lines)
    sessions = [json.loads(line) for line in _lines(out / "sessions.jsonl")]
    assert [s["runs_done"] for s in sessions] == [len(runs) + len(tuning), 0, 2]
    assert not (out / study.HEARTBEAT).exists()

    # A session killed outright (SIGKILL, end of a login) leaves only its heartbeat: the
    # next session counts its wall time instead of losing it.
    killed = {"command": "x", "started": "2026-01-01 00:00:00", "wall_s": 1234.5, "runs_done": 7}
    study.beat(str(out), killed)
    assert "2026-01-01 00:00:00 was killed; its 1234 s are counted" in _smoke(out)
    sessions = [json.loads(line) for line in _lines(out / "sessions.jsonl")]
    assert sessions[3] == {**killed, "status": "killed"} and sessions[4]["runs_done"] == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["meta"]["wall_s"] == pytest.approx(sum(s["wall_s"] for s in sessions))


def test_report_only_and_a_foreign_backend_is_refused(tmp_path):
    out = tmp_path / "study"
    design = study.smoke_design()
    study.check_manifest(str(out), design, "jax")
    with pytest.raises(SystemExit, match="--backend"):
        study.check_manifest(str(out), design, "torch")
    # --report-only on an empty study writes the (empty) report, trains nothing, and reads
    # the study's backend whatever --backend says.
    assert (
        study.main(["--smoke", "--report-only", "--backend", "torch", "--output", str(out), "--quiet"]) == 0
    )
    summary = json.loads((out / "summary.json").read_text())
    assert summary["runs"] == 0 and summary["meta"]["pending_runs"] > 0
    assert summary["meta"]["backend"] == "jax"


def test_run_store_drops_a_partial_last_line(tmp_path):
    path = tmp_path / "runs.jsonl"
    fields = ("a", "seed")
    store = study.RunStore(str(path), fields)
    store.append({"a": 1, "seed": 0, "x": 0.5})
    store.append({"a": 1, "seed": 1, "x": 0.6})
    path.write_text(path.read_text() + '{"a": 1, "seed": 2, "x"')
    reopened = study.RunStore(str(path), fields)
    assert reopened.dropped == 1 and len(reopened.records) == 2
    assert {"a": 1, "seed": 1} in reopened and {"a": 1, "seed": 2} not in reopened
    assert path.read_text().endswith("}\n")  # the next append starts on a fresh line
    reopened.append({"a": 1, "seed": 2, "x": 0.7})
    assert len(study.RunStore(str(path), fields).records) == 3


def test_base_rate_choice_uses_validation_means_and_breaks_ties_low():
    design = study.smoke_design()
    cfg = design["blocks"][0]["config"]
    tuning = {}
    for rate, acc in zip(design["base_rates"]["sgd"], (0.8, 0.8)):
        record = {**cfg, "base_lr": rate, "seed": design["tune_seeds"][0], "final_acc": acc}
        tuning[study.key_of(record, study.TUNE_FIELDS)] = record
    chosen = study.choose_base_rates(design, tuning)
    assert chosen[study.config_key(cfg)]["base_lr"] == min(design["base_rates"]["sgd"])
    # the slice's other config has no tuning yet: it is left out, not guessed
    assert len(chosen) == 1


def test_aggregate_pairs_by_seed_and_reports_mean_and_standard_error():
    design = study.smoke_design()
    cfg = design["blocks"][0]["config"]
    tune = {}
    for rate in design["base_rates"]["sgd"]:
        record = {**cfg, "base_lr": rate, "seed": design["tune_seeds"][0], "final_acc": 0.5, "wall_s": 1.0}
        tune[study.key_of(record, study.TUNE_FIELDS)] = record
    lr = min(design["base_rates"]["sgd"])
    common = {"curriculum_steps": 1, "num_buckets": 3, "total_steps": 8, "wall_s": 1.0, "diverged": False}
    runs = {}
    for seed, (conv, lerac) in enumerate([(0.90, 0.92), (0.80, 0.80), (0.70, 0.66)]):
        for regime, acc, cell in (
            ("conventional", conv, (None, None, None)),
            ("lerac", lerac, ("exponential", 0.2, 1e-4)),
        ):
            record = {**cfg, "base_lr": lr, "regime": regime, "seed": seed, "init_hash": f"h{seed}", **common}
            record.update(dict(zip(study.CELL_FIELDS, cell)), final_acc=acc, best_acc=acc + 0.01)
            runs[study.key_of(record, study.RUN_FIELDS)] = record
    summary = study.aggregate(design, runs, tune)
    (cell,) = summary["cells"]
    assert cell["n"] == 3 and cell["seeds"] == [0, 1, 2]
    assert cell["diff_final"] == pytest.approx((2 + 0 - 4) / 3)  # points
    assert cell["diff_final_se"] == pytest.approx(3.0550504633 / 3**0.5, rel=1e-6)
    assert (cell["wins"], cell["losses"], cell["ties"]) == (1, 1, 1)
    assert summary["init_hash_mismatches"] == 0
    assert "-0.67 ± 1.76" in study.markdown(
        {**summary, "meta": {}}, design, {"backend": "x", "sessions": [], "wall_s": 0}
    )


def test_full_design_shape():
    design = study.full_design()
    assert len(design["seeds"]) >= 8 and not set(design["seeds"]) & set(design["tune_seeds"])
    grids = [b for b in design["blocks"] if b["kind"] == "grid"]
    assert all(len(b["cells"]) == len(study.K_FRACTIONS) * len(study.START_RATIOS) for b in grids)
    assert {b["cells"][0][0] for b in grids} == set(study.SCHEDULES)
    slices = [b for b in design["blocks"] if b["kind"] == "slice"]
    assert all(len(b["cells"]) == len(study.K_FRACTIONS) + len(study.START_RATIOS) - 1 for b in slices)
    rates = {study.config_key(c): {"base_lr": 0.01} for c in study.distinct_configs(design)}
    specs = study.study_specs(design, rates)
    keys = [study.key_of(s, study.RUN_FIELDS) for s in specs]
    assert len(keys) == len(set(keys))  # shared cells and conventional runs are run once
    # seed-major: a partial run has about the same seeds in every cell
    assert [s["seed"] for s in specs] == sorted(s["seed"] for s in specs)


def test_the_committed_study_supports_the_defaults_rule():
    """The rule in `suggested_curriculum` against the study's recorded results.

    The study is complete, paired, and at the rule's K no cell lost significantly, while
    the next longer K did lose: move the constants and this fails.
    """
    from keras_lerac.curriculum import SUGGESTED_K_FRACTION, SUGGESTED_LOWEST_RATIO

    summary = json.loads((Path(ROOT) / "benchmarks/results/sensitivity/summary.json").read_text())
    assert summary["meta"]["pending_runs"] == 0 and summary["init_hash_mismatches"] == 0
    cells = [c for c in summary["cells"] if c["k_fraction"] is not None]
    assert min(c["n"] for c in cells) >= 8

    def lost(c):
        return c["diff_final_se"] > 0 and c["diff_final"] < -2 * c["diff_final_se"]

    configs = {study.config_key(c) for c in cells}
    at_rule = [
        c
        for c in cells
        if c["k_fraction"] == SUGGESTED_K_FRACTION
        and c["start_ratio"] == SUGGESTED_LOWEST_RATIO
        and c["schedule"] == "exponential"
    ]
    assert {study.config_key(c) for c in at_rule} == configs  # measured on every configuration
    assert not [c for c in cells if c["k_fraction"] <= SUGGESTED_K_FRACTION and lost(c)]
    longer = sorted({c["k_fraction"] for c in cells if c["k_fraction"] > SUGGESTED_K_FRACTION})
    assert any(lost(c) for c in cells if c["k_fraction"] == longer[0])


def _controls_smoke(output):
    return _smoke(output, "smoke-controls")


@rotating(1)  # slow: one backend a day in CI (the harness's code is backend-agnostic)
def test_controls_smoke_pairs_four_regimes_on_one_start(tmp_path):
    out = tmp_path / "controls"
    _controls_smoke(out)
    design = study.smoke_controls_design()
    runs = [json.loads(line) for line in _lines(out / "runs.jsonl")]
    tuning = {study.key_of(r, study.TUNE_FIELDS): r for r in map(json.loads, _lines(out / "tuning.jsonl"))}
    assert len(runs) == len(study.study_specs(design, study.choose_base_rates(design, tuning)))
    by_seed = {}
    for record in runs:
        by_seed.setdefault((study.config_key(record), record["seed"]), []).append(record)
    k_count = len(design["k_fractions"])
    for group in by_seed.values():
        # every regime of a seed: the same initial weights, base rate and batches
        assert sorted(r["regime"] for r in group) == sorted(
            ["conventional", *study.CURRICULUM_REGIMES * k_count]
        )
        assert len({r["init_hash"] for r in group}) == 1 and len({r["base_lr"] for r in group}) == 1
        built = {r["regime"]: r for r in group if r["regime"] != "conventional"}
        # each regime is the optimizer it claims: its schedule and its buckets' start ratios
        assert {r: built[r]["lerac_schedule"] for r in built} == {
            "lerac": "exponential",
            "warmup": "warmup",
            "anti": "anti",
        }
        lerac, warmup, anti = (built[r]["start_ratios"] for r in ("lerac", "warmup", "anti"))
        assert lerac[0] == 1.0 and lerac[-1] == pytest.approx(1e-4) and lerac == sorted(lerac, reverse=True)
        assert warmup == pytest.approx([1e-4] * len(lerac))
        assert anti == lerac[::-1]
    assert {r["lr_schedule"] for r in runs} == {"cosine", "warmup_cosine"}
    summary = json.loads((out / "summary.json").read_text())
    assert summary["meta"]["pending_runs"] == 0 and summary["init_hash_mismatches"] == 0
    rows = summary["contrasts"]
    assert len(rows) == len(design["blocks"]) * k_count
    for row in rows:
        assert row["init_hash_mismatches"] == 0
        assert set(row["contrasts"]) == {name for name, _, _ in study.CONTRASTS}
        for d in row["contrasts"].values():
            assert d["n"] == len(design["seeds"]) and d["wins"] + d["ties"] + d["losses"] == d["n"]
    text = (out / "summary.md").read_text()
    assert "lerac - warmup" in text and "anti - lerac" in text and "warmup_cosine" in text
    assert not list(out.glob("heatmap_*.png"))
    assert "== 0 new runs" in _controls_smoke(out)  # resumable as the study is


def test_contrasts_pair_each_regime_by_seed():
    design = study.smoke_controls_design(seeds=3)
    cfg = design["blocks"][0]["config"]
    tune = {}
    for c in study.distinct_configs(design):
        for rate in design["base_rates"]["sgd"]:
            record = {**c, "base_lr": rate, "seed": design["tune_seeds"][0], "final_acc": 0.5, "wall_s": 1.0}
            tune[study.key_of(record, study.TUNE_FIELDS)] = record
    lr = min(design["base_rates"]["sgd"])
    cell = design["blocks"][0]["cells"][0]
    accs = {  # per seed: conventional, lerac, warmup, anti
        0: (0.80, 0.82, 0.81, 0.70),
        1: (0.90, 0.90, 0.93, 0.90),
        2: (0.70, 0.75, 0.70, 0.74),
    }
    runs = {}
    for seed, values in accs.items():
        for regime, acc in zip(study.REGIMES, values):
            fields = (None, None, None) if regime == "conventional" else cell
            record = {**cfg, "base_lr": lr, "regime": regime, "seed": seed, "init_hash": f"h{seed}"}
            record.update(dict(zip(study.CELL_FIELDS, fields)), final_acc=acc, best_acc=acc)
            record.update(curriculum_steps=1, num_buckets=3, total_steps=8, wall_s=1.0, diverged=False)
            runs[study.key_of(record, study.RUN_FIELDS)] = record
    summary = study.aggregate(design, runs, tune)
    (row,) = [r for r in summary["contrasts"] if r["label"] == design["blocks"][0]["name"]]
    d = row["contrasts"]
    # lerac - warmup per seed: +1, -3, +5 points
    assert d["lerac - warmup"]["mean"] == pytest.approx(1.0)
    assert d["lerac - warmup"]["se"] == pytest.approx(4.0 / 3**0.5)
    assert (d["lerac - warmup"]["wins"], d["lerac - warmup"]["losses"]) == (2, 1)
    assert d["anti - lerac"]["mean"] == pytest.approx((-12 + 0 - 1) / 3)
    assert d["warmup - conventional"]["ties"] == 1 and d["lerac - conventional"]["n"] == 3
    lo, hi = d["lerac - warmup"]["ci95"]
    assert lo < 1.0 < hi and not d["lerac - warmup"]["significant"]
    # each regime's cell against conventional, as in the sensitivity study
    assert {c["regime"] for c in summary["cells"]} == set(study.CURRICULUM_REGIMES)
    # one seed whose regimes started apart is counted, never silently paired
    runs[next(k for k, r in runs.items() if r["regime"] == "anti" and r["seed"] == 0)]["init_hash"] = "other"
    (row,) = [r for r in study.aggregate(design, runs, tune)["contrasts"] if r["label"] == row["label"]]
    assert row["init_hash_mismatches"] == 1
    text = study.controls_markdown(
        {**summary, "meta": {}}, design, {"backend": "x", "sessions": [], "wall_s": 0}
    )
    assert "+1.00 ± 2.31" in text


def test_controls_design_shape():
    design = study.controls_design()
    assert len(design["seeds"]) >= 12 and design["kind"] == "controls"
    labels = {study.config_label(b["config"]) for b in design["blocks"]}
    for expected in (
        "digits mlp d6 w64 sgd cosine 15ep b32",  # the central configuration
        "digits mlp d12 w64 sgd cosine 15ep b32",
        "digits mlp d20 w64 sgd cosine 15ep b32",
        "digits mlp d6 w64 adam cosine 15ep b32",
        "digits mlp d6 w64 sgd cosine 5ep b32",
        "digits cnn d3 w16 bn sgd cosine 15ep b32",
        "iris mlp d6 w64 sgd cosine 40ep b16",
        "spirals mlp d6 w64 sgd cosine 15ep b32",
        "wine mlp d6 w64 sgd cosine 40ep b16",
        "digits mlp d6 w64 sgd warmup_cosine 15ep b32",
    ):
        assert expected in labels
    for block in design["blocks"]:
        assert [tuple(c) for c in block["cells"]] == [("exponential", k, 1e-4) for k in (0.025, 0.1, 0.2)]
        assert block["regimes"] == list(study.CURRICULUM_REGIMES)
    rates = {study.config_key(c): {"base_lr": 0.01} for c in study.distinct_configs(design)}
    specs = study.study_specs(design, rates)
    assert len(specs) == len(design["blocks"]) * len(design["seeds"]) * (1 + 3 * 3)
    assert len({study.key_of(s, study.RUN_FIELDS) for s in specs}) == len(specs)
    with pytest.raises(ValueError, match="lr_schedule"):
        study.config(lr_schedule="warmup")


# ----------------------------------------------------------------------------- instability
@rotating(2)  # slow: one backend a day in CI (the harness's code is backend-agnostic)
def test_instability_smoke_pairs_five_regimes_then_reports_again(tmp_path):
    out = tmp_path / "instability"
    _smoke(out, "smoke-instability")
    design = study.smoke_instability_design()
    runs = [json.loads(line) for line in _lines(out / "runs.jsonl")]
    tuning = {study.key_of(r, study.TUNE_FIELDS): r for r in map(json.loads, _lines(out / "tuning.jsonl"))}
    rates = study.choose_base_rates(design, tuning)
    assert len(runs) == len(study.study_specs(design, rates))
    # tuning ran once, on the clean configuration at the tuned rate itself
    assert {(r["label_noise"], r["lr_scale"]) for r in tuning.values()} == {(0.0, 1)}
    by_seed = {}
    for record in runs:
        by_seed.setdefault((study.config_key(record), record["seed"]), []).append(record)
    for group in by_seed.values():
        assert len({r["init_hash"] for r in group}) == 1 and len({r["base_lr"] for r in group}) == 1
        cells = len({r["k_fraction"] for r in group if r["k_fraction"] is not None})
        assert sorted(r["regime"] for r in group) == sorted(
            ["conventional", *study.INSTABILITY_REGIMES * cells]
        )
        for r in group:
            if r["regime"] == "linear_warmup":
                assert r["lerac_schedule"] == "linear_warmup" and set(r["start_ratios"]) == {0.0}
    noisy, given = (b["config"] for b in design["blocks"])
    chosen = rates[study.config_key(noisy)]
    assert chosen["base_lr"] == 2 * chosen["tuned_lr"] and rates[study.config_key(given)]["base_lr"] == 0.05
    summary = json.loads((out / "summary.json").read_text())
    result = summary["instability"]
    assert len(result["cells"]) == 3 and result["contrasts_tested"] == 3 * len(study.INSTABILITY_CONTRASTS)
    for cell in result["cells"]:
        assert all(d["n"] == 2 for d in cell["regimes"].values()) and len(cell["regimes"]) == 5
        assert all("p_holm" in d and "mcnemar" in d for d in cell["contrasts"].values())
    assert (out / "distributions.png").read_bytes()[:4] == b"\x89PNG"
    assert "lerac - linear_warmup" in (out / "summary.md").read_text()
    (out / "summary.md").unlink()
    assert (
        study.main(["--design", "smoke-instability", "--report-only", "--output", str(out), "--quiet"]) == 0
    )
    assert (out / "summary.md").exists()
    assert "== 0 new runs" in _smoke(out, "smoke-instability")  # resumable as the others


def test_instability_design_covers_every_source_and_interleaves_seeds():
    design = study.instability_design()
    assert len(design["seeds"]) >= 24 and design["kind"] == "instability"
    configs = [b["config"] for b in design["blocks"]]
    noise = {(c["data"], c["label_noise"]) for c in configs if c["model"] == "mlp" and c["depth"] == 6}
    assert {("digits", 0.0), ("digits", 0.2), ("digits", 0.4), ("spirals", 0.2), ("spirals", 0.4)} <= noise
    assert {c["lr_scale"] for c in configs if c["data"] == "digits" and c["model"] == "mlp"} == {1, 2, 4}
    plain = {(c["model"], c["depth"]) for c in configs if not c["norm"] and not c["residual"]}
    assert {("mlp", 6), ("mlp", 12), ("mlp", 20), ("wcnn", 8), ("wcnn", 4)} <= plain
    assert any(c["model"] == "transformer" and c["optimizer"] == "adam" for c in configs)
    # the probe, as one configuration at K = 2 of 20 epochs
    (probe,) = [b for b in design["blocks"] if b["config"] == study.PROBE]
    assert (probe["config"]["fixed_lr"], probe["config"]["label_noise"], probe["config"]["epochs"]) == (
        0.05,
        0.4,
        20,
    )
    assert [tuple(c) for c in probe["cells"]] == [("exponential", 0.1, 1e-4)]
    ks = {tuple(c[1] for c in b["cells"]) for b in design["blocks"]}
    assert ks == {(0.1,), (0.025, 0.1, 0.2)}
    for block in design["blocks"]:
        assert block["regimes"] == list(study.INSTABILITY_REGIMES)
    rates = {study.config_key(c): {"base_lr": 0.01} for c in study.distinct_configs(design)}
    specs = study.study_specs(design, rates)
    assert len({study.key_of(s, study.RUN_FIELDS) for s in specs}) == len(specs)
    # seed by seed: the first seed's runs cover every cell before the second seed starts
    first = [s for s in specs[: len(specs) // len(design["seeds"])]]
    assert {s["seed"] for s in first} == {0}
    assert {(study.config_key(s), s["k_fraction"]) for s in first} == {
        (study.config_key(s), s["k_fraction"]) for s in specs
    }


def test_the_new_config_fields_leave_the_committed_controls_study_complete():
    # Records written before label_noise, lr_scale and fixed_lr existed still match
    # their runs: nothing of the committed study would be run again on resume.
    out = Path(ROOT) / "benchmarks/results/controls"
    design = study.controls_design()
    tuning = study.RunStore(str(out / "tuning.jsonl"), study.TUNE_FIELDS)
    runs = study.RunStore(str(out / "runs.jsonl"), study.RUN_FIELDS)
    assert not [s for s in study.tuning_specs(design) if s not in tuning]
    specs = study.study_specs(design, study.choose_base_rates(design, tuning.records))
    assert specs and not [s for s in specs if s not in runs]


def test_noisy_labels_are_fixed_per_level_not_per_seed():
    from benchmarks.sensitivity.tasks import noisy_labels

    y = np.arange(1000) % 10
    a, b = noisy_labels(y, 0.4, 10, "digits"), noisy_labels(y, 0.4, 10, "digits")
    assert np.array_equal(a, b) and not np.array_equal(a, noisy_labels(y, 0.2, 10, "digits"))
    assert 0.3 < np.mean(a != y) < 0.4  # 40 % replaced, a tenth of them by their own class
    assert noisy_labels(y, 0.0, 10, "digits") is y


def test_instability_statistics_against_known_values():
    from scipy import stats as scipy_stats

    from benchmarks.sensitivity import instability as ins

    lo, hi = ins.wilson(0, 10)
    assert lo == 0.0 and hi == pytest.approx(1.959964**2 / (10 + 1.959964**2))  # 0.2775
    assert ins.wilson(5, 10) == pytest.approx((0.2366, 0.7634), abs=1e-4)
    assert ins.wilson(0, 0) is None
    assert ins.mcnemar_exact(6, 1) == pytest.approx(0.125)  # 2 * (1 + 7) / 2**7
    assert ins.mcnemar_exact(0, 5) == pytest.approx(0.0625) and ins.mcnemar_exact(0, 0) == 1.0
    assert ins.mcnemar_exact(10, 10) == 1.0
    assert ins.holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert ins.holm([0.5, 0.001]) == pytest.approx([0.5, 0.002])
    a, b = [81.0, 75.5, 90.0, 62.0, 88.0], [80.0, 70.0, 91.0, 50.0, 84.0]
    d = [x - y for x, y in zip(a, b)]
    mean, se = np.mean(d), np.std(d, ddof=1) / np.sqrt(len(d))
    assert ins.t_test_p(mean, se, len(d)) == pytest.approx(scipy_stats.ttest_rel(a, b).pvalue)
    assert ins.collapse_threshold("digits") == pytest.approx(0.325)
    assert ins.collapse_threshold("spirals") == pytest.approx(0.625)


def test_instability_analysis_counts_collapses_and_discordant_pairs():
    design = study.smoke_instability_design(seeds=4)
    block = design["blocks"][1]  # the given-rate config: no tuning needed
    cfg, (cell,) = block["config"], block["cells"]
    rates = study.choose_base_rates(design, {})
    scores = {  # per seed: conventional, lerac, warmup, linear_warmup, anti (wine: threshold 50 %)
        0: (0.30, 0.80, 0.30, 0.80, 0.80),
        1: (0.90, 0.90, 0.40, 0.40, 0.90),
        2: (0.90, 0.30, 0.90, 0.90, 0.30),
        3: (0.90, 0.90, 0.90, 0.90, 0.90),
    }
    runs = {}
    for seed, values in scores.items():
        for regime, acc in zip(design["regimes"], values):
            fields = (None, None, None) if regime == "conventional" else cell
            record = {**cfg, "base_lr": 0.05, "regime": regime, "seed": seed, "final_acc": acc}
            record.update(dict(zip(study.CELL_FIELDS, fields)), curriculum_steps=1)
            runs[study.key_of(record, study.RUN_FIELDS)] = record
    result = study.analyse_instability(design, runs, rates)
    (row,) = result["cells"]
    assert row["regimes"]["warmup"]["collapsed"] == 2 and row["regimes"]["lerac"]["collapsed"] == 1
    assert row["regimes"]["lerac"]["median"] == pytest.approx(85.0)
    d = row["contrasts"]["lerac - warmup"]
    assert d["mean"] == pytest.approx((50 + 50 - 60 + 0) / 4) and (d["wins"], d["losses"]) == (2, 1)
    assert d["mcnemar"] == {"a_only": 1, "b_only": 2, "p": 1.0}
    assert result["contrasts_tested"] == 4
    assert all(0 <= c["p"] <= c["p_holm"] <= 1 for c in row["contrasts"].values())
