"""The benchmark harness itself: tiny settings, valid output, no timing assertions."""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from benchmarks import accuracy, dispatch, gpu, overhead, scaling, timing
from benchmarks.recipes import cifar10_resnet18 as recipe
from keras_lerac import depth_buckets  # what LeRaC(model=model) uses

BACKEND = keras.backend.backend()
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

ARM_KEYS = {"first_epoch_s", "first_epoch_s_all", "step_ms", "step_ms_median", "opt_vars", "opt_bytes"}


def _check_row(row, steps):
    assert {"model", "optimizer", "arms", "ratios", "checks", "buckets", "steps", "floor", "targets"} <= set(
        row
    )
    assert row["steps"] == steps
    assert {"plain", "plain2", "lerac", "lerac-after"} <= set(row["arms"])
    for arm in row["arms"].values():
        assert ARM_KEYS <= set(arm)
        assert len(arm["step_ms"]) == row["rounds"]
        assert all(np.isfinite(arm["step_ms"])) and arm["step_ms_median"] > 0
    assert len(row["orders"]) == row["rounds"]
    assert row["buckets"] >= 2
    for key in ("lerac/plain", "lerac-after/plain", "plain2/plain", "first_epoch lerac/plain"):
        assert key in row["ratios"]
    # The noise floor: plain2 / plain, paired per round, with its CI.
    floor = row["floor"]["step"]
    assert floor["n"] == row["rounds"] and floor["ci"][0] <= floor["median"] <= floor["ci"][1]
    assert row["floor"]["first_epoch"]["n"] == row["first_repeats"]
    assert {"step_time", "step_time_after", "first_epoch", "first_epoch_after", "opt_bytes"} <= set(
        row["checks"]
    )
    for check in row["checks"].values():
        assert isinstance(check["pass"], bool)


def test_round_order_is_a_balanced_williams_design():
    for n in (2, 3, 4, 5, 6):
        arms = [f"a{i}" for i in range(n)]
        period = timing.williams_period(n)
        orders = [timing.round_order(arms, r) for r in range(period)]
        assert all(sorted(o) == arms for o in orders)
        # Every arm in every position equally often ...
        for pos in range(n):
            counts = {a: sum(o[pos] == a for o in orders) for a in arms}
            assert len(set(counts.values())) == 1
        # ... and directly after every other arm equally often.
        pairs = {}
        for o in orders:
            for a, b in zip(o, o[1:]):
                pairs[a, b] = pairs.get((a, b), 0) + 1
        assert len(pairs) == n * (n - 1) and len(set(pairs.values())) == 1
        assert timing.round_order(arms, period) == orders[0]


def test_median_ci_order_statistics():
    values = list(range(1, 21))  # n = 20: the 6th and 15th values (coverage 95.9%)
    assert timing.median_ci(values) == (6, 15)
    assert timing.median_ci([3.0, 1.0, 2.0]) == (1.0, 3.0)  # too few: min-max
    assert timing.median_ci([2.0]) == (2.0, 2.0)
    stats = timing.ratio_stats([1.0, 1.1, 0.9, 1.05, 0.95])
    assert stats["median"] == pytest.approx(1.0) and stats["spread"] == [0.9, 1.1]


def test_harness_models_have_the_issues_bucket_counts():
    # (The residual CNN's 15 buckets: each overhead row reports its `buckets`; building the
    # full-size CNN here would cost JAX seconds of eager initialisation.)
    for kind, buckets in (("mlp", 25), ("mlp96", 97), ("mlp_d15_w32", 16)):
        assert len(depth_buckets(overhead.build_model(kind))) == buckets, kind
        keras.utils.clear_session()


def test_overhead_worker_tiny_in_process():
    arms = (*overhead.CORE_ARMS, "cbs")
    out = overhead.run_worker(
        BACKEND, "tiny", optimizers=("sgd",), models=("cnn",), arms=arms, log=lambda s: None
    )
    assert out["backend"] == BACKEND
    (row,) = out["results"]
    assert (row["model"], row["optimizer"]) == ("cnn", "sgd")
    _check_row(row, steps=2)
    assert set(row["arms"]) == set(arms)  # an optional arm too, on request
    assert row["buckets"] == 7  # tiny CNN: stem conv, BN, one block (4 levels), head
    assert "cbs/plain" in row["ratios"]
    # Every arm is timed once per round, in the Williams order.
    assert row["orders"] == [timing.round_order(list(arms), r) for r in range(row["rounds"])]
    # The same initial weights and optimizer settings: same state size up to a few scalars.
    assert row["checks"]["opt_bytes"]["pass"] and row["checks"]["opt_bytes_after"]["pass"]
    assert overhead.arms_for(
        overhead.build_model("mlp", tiny=True), overhead.ARMS, {"add_smoothing": 1, "CurriculumLogger": 1}
    ) == [
        "plain",
        "plain2",
        "lerac",
        "lerac-after",
        "lerac+logger",
    ]  # CBS applies to CNNs only
    assert "cbs" in overhead.arms_for(
        overhead.build_model("cnn", tiny=True), ["plain", "cbs"], {"add_smoothing": 1}
    )
    json.dumps(out)  # serialisable


def test_accuracy_tasks_ask_the_regime_registry_whether_cbs_runs():
    mlp, _ = accuracy.settings_for("digits-mlp", seeds=1, epochs=1)
    cnn, data = accuracy.settings_for("digits-cnn", seeds=1, epochs=1)
    assert "cbs" not in mlp.regimes and "lerac" in mlp.regimes
    assert "cbs" in cnn.regimes and data.train[0].ndim == 4


def test_measure_calibrates_blocks_and_repeats_first_epochs():
    name, row = timing.measure_model(
        lambda: overhead.build_model("mlp", tiny=True),
        lambda arm, base, weights: overhead.make_arm(arm, base, weights, "sgd", extras={}),
        ["plain", "plain2"],
        lambda s: overhead.make_data("mlp", s, tiny=True),
        128,
        first_steps=2,
        rounds=2,
        block_s=1e9,  # as long as allowed: the top of steps_range
        steps_range=(3, 4),
        first_repeats=2,
    )
    assert name.startswith("mlp")
    assert row["steps"] == 4 and row["calibration_ms"] > 0 and row["buckets"] is None
    assert all(len(a["first_epoch_s_all"]) == 2 for a in row["arms"].values())
    row.update(model="mlp", optimizer="sgd", model_name="m")
    overhead.summarise(row)
    assert row["floor"]["first_epoch"]["n"] == 2 and len(row["floor"]["step"]["values"]) == 2
    assert row["checks"] == {}  # no LeRaC arm, nothing to check


def test_timing_options_override_the_mode():
    mode = {"rounds": 8, "steps": None, "block_s": 0.2, "steps_range": (2, 200)}
    assert timing.options(mode) == {**mode, "first_repeats": 1}
    assert timing.options(mode, rounds=4, steps=3, block_s=0.0, first_repeats=2) == {
        "rounds": 4,
        "steps": 3,
        "block_s": 0.0,  # 0 is a value, not "the mode's"
        "steps_range": (2, 200),
        "first_repeats": 2,
    }


def test_warm_up_process_trains_throwaway_models(monkeypatch):
    from keras_lerac import LeRaC

    trained = []
    real = overhead.timed_fit

    def recording(model, callbacks, x, y, batch_size):
        result = real(model, callbacks, x, y, batch_size)
        steps = int(keras.ops.convert_to_numpy(model.optimizer.iterations))
        trained.append((isinstance(model.optimizer, LeRaC), steps, len(x) // batch_size))
        return result

    monkeypatch.setattr(overhead, "timed_fit", recording)
    assert overhead.warm_up_process() > 0
    # The MLP, once plainly and once with LeRaC, each for a whole epoch of updates.
    assert [lerac for lerac, _, _ in trained] == [False, True]
    assert all(steps == expected > 0 for _, steps, expected in trained)


def test_overhead_driver_writes_json_and_markdown(tmp_path):
    code = overhead.main(
        [
            "--backends",
            BACKEND,
            "--tiny",
            "--models",
            "mlp96",
            "--optimizers",
            "adam",
            "--arms",
            "plain,plain2,lerac,lerac-after,lerac+logger",
            "--threads",
            "1",
            "--output",
            str(tmp_path),
        ]
    )
    assert code == 0
    report = json.loads((tmp_path / "overhead.json").read_text())
    assert {"machine", "workers", "command", "mode", "threads"} <= set(report)
    assert report["mode"] == "tiny" and report["threads"] == 1
    (worker,) = report["workers"]
    assert worker["backend"] == BACKEND and "error" not in worker
    (row,) = worker["results"]
    _check_row(row, steps=2)
    assert row["buckets"] == 9  # tiny 96-layer MLP: 8 hidden layers and a head
    assert row["targets"] == {"step": 1.03, "first_epoch": 1.15}
    assert "logger" in row["checks"] and "lerac+logger/lerac" in row["ratios"]
    table = (tmp_path / "overhead.md").read_text()
    assert "| backend |" in table and BACKEND in table and "floor" in table
    assert ("PASS" in table) or ("MISS" in table)


def _synthetic_row(model, lerac_ms, after_ms, plain2_ms, first=(1.0, 1.0, 1.05, 1.0), rounds=20):
    """A measured row, as `measure` returns it, from per-round step times (ms)."""
    plain_ms = [1.0 + 0.001 * (r % 3) for r in range(rounds)]

    def arm(scale, first_s, extra_bytes=0):
        ms = (
            [p * s for p, s in zip(plain_ms, scale)]
            if isinstance(scale, list)
            else [p * scale for p in plain_ms]
        )
        return {
            "step_ms": ms,
            "step_ms_median": float(np.median(ms)),
            "step_ms_min": min(ms),
            "first_epoch_s": first_s,
            "first_epoch_s_all": [first_s],
            "opt_vars": 3,
            "opt_bytes": 100 + extra_bytes,
        }

    return {
        "model": model,
        "optimizer": "sgd",
        "model_name": model,
        "buckets": 25,
        "steps": 10,
        "rounds": rounds,
        "first_repeats": 1,
        "arms": {
            "plain": arm(1.0, first[0]),
            "plain2": arm(plain2_ms, first[1]),
            "lerac": arm(lerac_ms, first[2], extra_bytes=4),
            "lerac-after": arm(after_ms, first[3], extra_bytes=10_000),
        },
    }


def test_overhead_checks_and_markdown_from_synthetic_numbers():
    # PASS: 24-layer MLP, LeRaC 1.0% slower with a tight floor; first epoch 1.05 <= 1.10.
    noise = [1.0 + 0.002 * ((r % 5) - 2) for r in range(20)]  # plain2/plain within +-0.4%
    row = _synthetic_row("mlp", [1.01 * n for n in noise], 1.0, noise)
    overhead.summarise(row)
    assert row["ratios"]["lerac/plain"] == pytest.approx(1.01, abs=0.003)
    step, first = row["checks"]["step_time"], row["checks"]["first_epoch"]
    assert step["target"] == 1.03 and step["pass"] is True and step["resolved"] is True
    assert first["target"] == 1.10 and first["pass"] is True
    assert row["floor"]["step"]["ci"][0] <= 1.0 <= row["floor"]["step"]["ci"][1]
    assert row["checks"]["opt_bytes"]["pass"] is True  # +4 B for 25 buckets
    assert row["checks"]["opt_bytes_after"]["pass"] is False  # +10 kB is not O(buckets) scalars
    # MISS: the residual CNN, LeRaC 5% slower (target 1.02); first epoch 1.30 (target 1.10).
    miss = _synthetic_row("cnn", 1.05, 1.015, 1.0, first=(1.0, 1.0, 1.3, 1.0))
    overhead.summarise(miss)
    assert miss["checks"]["step_time"]["pass"] is False and miss["checks"]["step_time"]["resolved"] is True
    assert miss["checks"]["first_epoch"]["pass"] is False
    assert miss["checks"]["step_time_after"]["pass"] is True  # 1.015 <= 1.02
    # Unresolved: 1.025 against 1.03 with a floor 1% wide is a PASS within the noise.
    loose = _synthetic_row("mlp96", 1.025, 1.0, [1.0 + 0.01 * ((r % 3) - 1) for r in range(20)])
    overhead.summarise(loose)
    assert loose["checks"]["step_time"]["pass"] is True and loose["checks"]["step_time"]["resolved"] is False
    report = {"workers": [{"backend": "x", "results": [row, miss, loose], "notes": ["a note"]}]}
    table = overhead.markdown(report)
    assert "1.010 PASS (CI 1.008-1.012; floor 0.998-1.002)" in table
    assert "1.050 MISS (CI" in table and "1.300 MISS" in table and "1.025 PASS?" in table
    assert "<= 1.02" in table and "<= 1.15" in table and "- a note" in table
    # A worker that failed is a row of its own.
    assert "ERROR: boom" in overhead.markdown({"workers": [{"backend": "y", "error": "boom"}]})


def test_scaling_driver_tiny_writes_json_markdown_and_png(tmp_path):
    code = scaling.main(["--backends", BACKEND, "--tiny", "--optimizers", "sgd", "--output", str(tmp_path)])
    assert code == 0
    report = json.loads((tmp_path / "scaling.json").read_text())
    (worker,) = report["workers"]
    assert worker["backend"] == BACKEND and "error" not in worker
    rows = worker["results"]
    assert [(r["optimizer"], r["buckets"]) for r in rows] == [("sgd", 3), ("sgd", 6)]
    for row in rows:
        assert row["buckets"] == row["buckets_planned"] and row["model"] == f"mlp_d{row['buckets'] - 1}_w8"
        assert set(row["arms"]) == {"plain", "plain2", "lerac"} and row["floor"]["step"]["n"] == row["rounds"]
        assert {"step_time", "first_epoch", "opt_bytes"} <= set(row["checks"])
        assert np.isfinite(row["extra_us_per_bucket"])
    table = (tmp_path / "scaling.md").read_text()
    assert "| backend |" in table and "floor" in table and "mlp_d5_w8" in table
    assert (tmp_path / "scaling.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_scaling_plot_and_targets_from_synthetic_numbers(tmp_path):
    workers = []
    for backend in ("jax", "torch"):
        rows = []
        for opt_name in ("sgd", "adam"):
            for n in (4, 16, 64, 256):
                ratio = 1.0 + 0.0001 * n
                row = _synthetic_row(f"mlp_d{n - 1}_w32", ratio, 1.0, 1.0)
                row.update(optimizer=opt_name, buckets=n, buckets_planned=n, extra_us_per_bucket=0.1)
                overhead.summarise(row, overhead.targets_for(row["model"], n))
                rows.append(row)
        workers.append({"backend": backend, "results": rows})
    report = {"workers": [*workers, {"backend": "tensorflow", "error": "boom"}]}
    # The first-epoch target: 1.10 up to 25 buckets, 1.15 beyond; step: 1.03 throughout.
    assert [r["targets"]["first_epoch"] for r in workers[0]["results"][:4]] == [1.10, 1.10, 1.15, 1.15]
    assert workers[0]["results"][3]["checks"]["step_time"]["pass"] is True  # 1.0256 <= 1.03
    path = scaling.plot(report, str(tmp_path / "s.png"))
    assert open(path, "rb").read()[:4] == b"\x89PNG"
    table = scaling.markdown(report)
    assert "ERROR: boom" in table and table.count("| jax | sgd |") == 4
    with pytest.raises(ValueError):
        scaling.model_name(1, 32)


def test_dispatch_worker_tiny_in_process():
    out = dispatch.run_worker(BACKEND, "tiny", models=("mlp_d3_w8",), optimizers=("sgd",), log=lambda s: None)
    assert out["backend"] == BACKEND and out["library"]["path"].endswith("keras_lerac")
    (row,) = out["results"]
    assert (row["model"], row["optimizer"], row["buckets"], row["batch_size"]) == ("mlp_d3_w8", "sgd", 4, 8)
    assert set(row["arms"]) == set(dispatch.ARMS) and row["steps"] == 2
    assert row["floor"]["step"]["n"] == row["rounds"] == 2
    assert row["targets"] == {"step": 1.03, "first_epoch": 1.10}
    assert {"step_time", "first_epoch", "opt_bytes"} <= set(row["checks"])
    assert np.isfinite(row["extra_us_per_bucket"]) and out["flatness"] == []
    table = dispatch.markdown({"workers": [out]})
    assert f"| {BACKEND} | sgd | mlp_d3_w8 | 4 |" in table and "floor" in table
    json.dumps(out)


def test_dispatch_targets_flatness_and_models():
    assert dispatch.targets_for(25) == {"step": 1.03, "first_epoch": 1.10}
    assert dispatch.targets_for(97) == {"step": 1.05, "first_epoch": 1.15}
    rows = []
    for n, ratio in ((25, 1.01), (97, 1.04)):
        row = _synthetic_row(f"mlp_d{n - 1}_w8", ratio, 1.0, 1.0)
        row.update(buckets=n, extra_us_per_bucket=0.1)
        timing.summarise(row, dispatch.targets_for(n))
        rows.append(row)
    (flat,) = dispatch.flatness(rows)
    assert flat["value"] == pytest.approx(0.03, abs=1e-3) and flat["pass"] is False and flat["resolved"]
    report = {"workers": [{"backend": "x", "results": rows, "flatness": [flat]}]}
    assert "x sgd flatness (97 - 25 buckets): +0.030 MISS" in dispatch.markdown(report)
    assert len(depth_buckets(dispatch.build_model(dispatch.RESNET))) == 15
    keras.utils.clear_session()
    x, _ = dispatch.make_data(dispatch.RESNET, 3)
    assert x.shape == (24, 16, 16, 3)
    with pytest.raises(SystemExit, match="no keras_lerac"):
        dispatch.main(["--library", "/nonexistent", "--backends", BACKEND])


def test_gpu_refuses_without_a_gpu(tmp_path):
    if gpu.accelerators(BACKEND):
        pytest.skip("this machine has a GPU")
    out = gpu.run_worker(BACKEND, "tiny")  # the worker's check, in-process
    assert "no GPU visible" in out["no_gpu"] and out["results"] == []
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.gpu", "--tiny", "--backends", BACKEND]
        + ["--output", str(tmp_path)],
        cwd=ROOT,
        env=dict(os.environ, KERAS_BACKEND=BACKEND, TF_CPP_MIN_LOG_LEVEL="2"),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == gpu.NO_GPU_STATUS, proc.stderr[-2000:]
    assert "refusing: no GPU" in proc.stderr and "--allow-cpu" in proc.stderr
    assert not (tmp_path / "gpu.json").exists()


def test_gpu_tiny_runs_with_allow_cpu():
    out = gpu.run_worker(
        BACKEND, "tiny", allow_cpu=True, arms=("plain", "plain2", "lerac"), log=lambda s: None
    )
    assert "no_gpu" not in out
    (row,) = out["results"]
    assert set(row["arms"]) == {"plain", "plain2", "lerac"} and row["steps"] == 2 and row["batch_size"] == 8
    assert row["buckets_by_arm"] == {"lerac": 6}  # the recipe's buckets: stem, 4 blocks, head
    assert row["floor"]["step"]["n"] == row["rounds"] == 2
    assert {"step_time", "first_epoch", "opt_bytes"} <= set(row["checks"])
    table = gpu.markdown({"workers": [out]})
    assert "CPU (--allow-cpu)" in table and "floor" in table and "smoke test" in table
    json.dumps(out)


def test_accuracy_tiny(tmp_path):
    report = accuracy.run(["wine-mlp"], seeds=1, epoch_scale=0.0, log=lambda s: None)
    regimes = [r["regime"] for r in report["results"]]
    assert regimes == ["conventional", "warmup", "lerac"]  # no CBS for an MLP
    for row in report["results"]:
        assert row["epochs"] == 1 and len(row["accuracies"]) == 1
        assert 0.0 <= row["mean"] <= 1.0
    table = accuracy.markdown(report)
    assert "wine-mlp" in table and "n/a" in table
    rows = [line for line in table.splitlines() if line.startswith("|")]
    header = [c.strip() for c in rows[0].strip("|").split("|")]
    assert header[:6] == ["task", "epochs", "conventional", "warm-up", "LeRaC", "CBS"]
    assert all(line.count("|") == rows[0].count("|") for line in rows)  # a cell per column


def test_accuracy_report_only_rewrites_the_table_from_the_json(tmp_path):
    report = accuracy.run(["wine-mlp"], seeds=1, epoch_scale=0.0, log=lambda s: None)
    report["command"] = "-m benchmarks.accuracy --tiny"
    (tmp_path / "accuracy.json").write_text(json.dumps(report))
    assert accuracy.main(["--output", str(tmp_path), "--report-only"]) == 0
    text = (tmp_path / "accuracy.md").read_text()
    assert text.startswith("Command: `KERAS_BACKEND=") and accuracy.markdown(report) in text


def test_accuracy_table_pairs_lerac_with_its_controls_by_seed():
    def row(regime, accuracies):
        return {"task": "t", "regime": regime, "epochs": 3, "accuracies": accuracies, "mean": 0, "std": 0}

    report = {
        "seeds": 3,
        "backend": "jax",
        "results": [
            row("conventional", [0.90, 0.80, 0.85]),
            row("warmup", [0.91, 0.83, 0.84]),
            row("lerac", [0.92, 0.82, 0.86]),
        ],
    }
    last = [line for line in accuracy.markdown(report).splitlines() if line.startswith("|")][-1]
    cells = [c.strip() for c in last.strip("|").split("|")]
    # lerac - warmup per seed: +1, -1, +2 points; lerac - conventional: +2, +2, +1
    assert cells[-2] == "+0.67 +- 0.88 (2/0/1)"
    assert cells[-1] == "+1.67 +- 0.33 (3/0/0)"


def test_recipe_official_rates():
    rates = recipe.official_initial_rates("cifar10")  # ResNet-18: stem, 8 blocks, head
    assert len(rates) == 10
    assert rates[0] == pytest.approx(0.1) and rates[-1] == pytest.approx(1e-4)
    assert rates[1:9] == pytest.approx([1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-6, 1e-6, 1e-6])
    rates100 = recipe.official_initial_rates("cifar100")
    assert rates100[-1] == pytest.approx(1e-6) and min(rates100) == pytest.approx(1e-7)


def test_recipe_buckets_and_curriculum():
    # One block per stage keeps model construction cheap (JAX initialises eagerly).
    model = recipe.resnet18(10, width=4, blocks_per_stage=1)
    buckets = recipe.official_buckets(model)
    assert len(buckets) == 6  # stem, 4 residual blocks, head
    assert sorted(layer.name for layer in buckets[2]) == sorted(
        ["s2b1_conv1", "s2b1_bn1", "s2b1_conv2", "s2b1_bn2", "s2b1_short_conv", "s2b1_short_bn"]
    )
    assert sum(len(layer.trainable_weights) for b in buckets for layer in b) == len(model.trainable_weights)
    opt = recipe.make_optimizer("lerac", model, "cifar10", 10, "decoupled")
    opt.build(model.trainable_variables)
    rates = [0.1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-4]
    assert opt.learning_rates_at(0) == pytest.approx(rates, rel=1e-5)
    assert opt.learning_rates_at(10) == pytest.approx([0.1, 0.1, 1e-2, 1e-3, 1e-4, 1e-3], rel=1e-5)
    assert opt.learning_rates_at(50) == pytest.approx([0.1] * 6, rel=1e-5)  # 5 epochs of 10 steps
    assert opt.learning_rates_at(400) == pytest.approx([0.01] * 6, rel=1e-5)  # decayed at epoch 35


def test_recipe_smoke_under_mock_data(tmp_path):
    # In a fresh process, as a user runs it. On torch it hung in oneDNN's conv backward
    # (not in tf.data): the recipe now turns oneDNN off on CPU (keras_lerac/experiments/
    # torch_cpu.py); ONEDNN_MAX_CPU_ISA=AVX2 makes oneDNN take the hanging kernels here too.
    pytest.importorskip("tensorflow_datasets")
    out = tmp_path / "result.json"
    code = (
        "import keras, tensorflow_datasets as tfds  # the Keras backend first\n"
        "from benchmarks.recipes import cifar10_resnet18 as r\n"
        "with tfds.testing.mock_data(num_examples=16):\n"
        "    r.main(['--regime', 'lerac', '--epochs', '1', '--limit-steps', '2', '--width', '4',\n"
        f"            '--blocks-per-stage', '1', '--verbose', '0', '--output', {str(out)!r}])\n"
    )
    env = dict(os.environ, KERAS_BACKEND=BACKEND, TF_CPP_MIN_LOG_LEVEL="2", ONEDNN_MAX_CPU_ISA="AVX2")
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["backend"] == BACKEND and result["regime"] == "lerac"
    assert 0.0 <= result["test_accuracy"] <= 1.0
    assert len(result["initial_learning_rates"]) == 6  # stem, 4 blocks, head


@pytest.mark.skipif(BACKEND != "jax", reason="profile_compile.py profiles JAX's compile only")
def test_profile_compile_splits_trace_and_compile(tmp_path):
    env = dict(os.environ, PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.profile_compile",
            "--depth",
            "2",
            "--width",
            "8",
            "--output",
            str(tmp_path),
        ],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = [line.split() for line in proc.stdout.splitlines() if "trace+lower" in line]
    assert [words[0] for words in lines] == ["plain", "plain-schedule", "lerac"]
    # LeRaC's program: the rate vector, sliced once per variable (2 layers: 6 variables).
    assert "'stablehlo.slice': 6" in proc.stdout.splitlines()[-1]
    # the results file carries the same numbers, the command and the machine
    report = json.loads((tmp_path / "profile_compile_sgd.json").read_text())
    assert report["arms"]["lerac"]["ops_vs_plain"]["stablehlo.slice"] == 6
    assert {"command", "machine", "loadavg_start", "wall_s"} <= set(report)
    assert "| lerac |" in (tmp_path / "profile_compile_sgd.md").read_text()
