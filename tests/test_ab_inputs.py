"""Issue 23's findings on the paired A/B's inputs and outputs, one test each (API and CLI).

Every bad input is one line, before anything trains or is written; every finished run is
kept; the statistics claim no more than the seeds allow.
"""

import json
import os
import sys

import keras
import numpy as np
import pytest

from keras_lerac.experiments import cli, paired, report, stats


def _mlp(inputs=6, classes=3):
    def build():
        x_in = keras.Input((inputs,))
        h = keras.layers.Dense(8, activation="relu", name="hidden")(x_in)
        return keras.Model(x_in, keras.layers.Dense(classes, name="head")(h))

    return build


def _data(n=48, inputs=6, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, inputs)).astype("float32")
    return x, np.argmax(x[:, :classes], axis=1).astype("int32")


def _compare(build=None, train=None, test=None, **kwargs):
    fits = []
    kwargs.setdefault("regimes", ["conventional", "lerac"])
    result = paired.compare_regimes(
        build or _mlp(),
        train if train is not None else _data(),
        test if test is not None else _data(16, seed=1),
        optimizer=kwargs.pop("optimizer", keras.optimizers.SGD(0.1, momentum=0.9)),
        epochs=kwargs.pop("epochs", 1),
        seeds=kwargs.pop("seeds", 1),
        batch_size=16,
        progress=False,
        before_fit=lambda regime, seed, *a: fits.append((regime, seed)),
        **kwargs,
    )
    return result, fits


def _one_line_error(tmp_path, **kwargs):
    output = tmp_path / "out"
    fits = []
    with pytest.raises(paired.InputError) as info:
        paired.compare_regimes(
            kwargs.pop("build", _mlp()),
            kwargs.pop("train", _data()),
            kwargs.pop("test", _data(16, seed=1)),
            optimizer=keras.optimizers.SGD(0.1),
            regimes=["conventional", "lerac"],
            epochs=1,
            seeds=1,
            progress=False,
            before_fit=lambda *a: fits.append(a),
            output=kwargs.pop("output", str(output)),
            **kwargs,
        )
    assert fits == [] and "\n" not in str(info.value)
    assert not output.exists()  # nothing written, not even an empty directory
    return str(info.value)


# --------------------------------------------------------------------------- bad input, API
def test_nan_in_training_x_is_refused(tmp_path):
    x, y = _data()
    x[5, 2] = np.nan
    message = _one_line_error(tmp_path, train=(x, y))
    assert "training data: x holds 1 value(s) that are not finite (the first, NaN, in example 5)" in message


def test_inf_in_test_x_is_refused(tmp_path):
    x, y = _data(16, seed=1)
    x[3, 0] = np.inf
    assert "test data: x holds 1 value(s) that are not finite (the first, infinite" in _one_line_error(
        tmp_path, test=(x, y)
    )


def test_a_model_with_no_trainable_weights_is_refused(tmp_path):
    def frozen():
        model = _mlp()()
        model.trainable = False
        return model

    assert "the model has no trainable weights" in _one_line_error(tmp_path, build=frozen)


def test_labels_that_do_not_fit_a_sequence_output_are_refused(tmp_path):
    def per_position():
        x_in = keras.Input((6,))
        return keras.Model(x_in, keras.layers.Reshape((4, 2))(keras.layers.Dense(8)(x_in)))

    x, y = _data()
    message = _one_line_error(tmp_path, build=per_position, train=(x, y % 2), test=(x[:8], y[:8] % 2))
    assert "y has shape () per example but the model outputs (4, 2) per example" in message


def test_an_output_that_is_a_file_is_refused_before_training(tmp_path):
    path = tmp_path / "results"
    path.write_text("a file")
    message = _one_line_error(tmp_path, output=str(path))
    assert "is a file, not a directory" in message


def test_a_damaged_keras_file_says_so(tmp_path):
    model = _mlp()()
    path = tmp_path / "model.keras"
    model.save(path)
    path.write_bytes(path.read_bytes()[:200])  # an interrupted copy
    message = _one_line_error(tmp_path, build=str(path))
    assert "truncated or damaged" in message and "File not found" not in message


# --------------------------------------------------------------------------- records and resume
def test_each_run_is_recorded_as_it_ends_and_kept_through_an_interrupt(tmp_path):
    calls = []

    def interrupt(regime, seed, *args):
        calls.append((regime, seed))
        if len(calls) == 3:
            raise KeyboardInterrupt  # Ctrl-C during the third run

    with pytest.raises(KeyboardInterrupt):
        paired.compare_regimes(
            _mlp(), _data(), _data(16, seed=1), optimizer=keras.optimizers.SGD(0.1, momentum=0.9),
            regimes=["conventional", "lerac"], epochs=1, seeds=2, batch_size=16, progress=False,
            before_fit=interrupt, output=str(tmp_path),
        )  # fmt: skip
    assert sorted(os.listdir(tmp_path / "runs")) == ["conventional-seed0.json", "lerac-seed0.json"]
    resumed, fits = _compare(seeds=2, output=str(tmp_path))
    assert fits == [("conventional", 1), ("lerac", 1)]  # only the missing runs train
    whole, _ = _compare(seeds=2, output=str(tmp_path / "whole"))
    for regime in ("conventional", "lerac"):
        assert resumed.regimes[regime]["scores"] == whole.regimes[regime]["scores"]
    again, fits = _compare(seeds=2, output=str(tmp_path))
    assert fits == [] and again.to_dict() == resumed.to_dict()


def test_a_record_write_killed_midway_is_ignored_then_cleared(tmp_path, recwarn):
    runs = tmp_path / "runs"
    runs.mkdir()
    # What a SIGKILL between the temporary file's creation and its rename leaves behind.
    (runs / ".lerac-seed0.json.tmp-x1y2").write_text('{"regime": "lerac", "se')
    result, fits = _compare(output=str(tmp_path))
    assert fits == [("conventional", 0), ("lerac", 0)]  # the half-written run trains again
    assert not [w for w in recwarn if "skipping" in str(w.message)]  # not a damaged record
    assert sorted(os.listdir(runs)) == ["conventional-seed0.json", "lerac-seed0.json"]


def test_a_rerun_with_other_settings_refuses_to_mix_them(tmp_path):
    _compare(output=str(tmp_path))
    with pytest.raises(paired.InputError, match=r"holds runs of another comparison \(epochs: 1 -> 2\)"):
        _compare(output=str(tmp_path), epochs=2)


def test_shards_share_the_runs_and_meet_in_one_directory(tmp_path):
    one, _ = _compare(seeds=2, output=str(tmp_path / "one"))
    first, fits0 = _compare(seeds=2, output=str(tmp_path / "shared"), shard=(0, 2))
    assert first.settings["runs"]["recorded"] == 2 and len(fits0) == 2
    second, fits1 = _compare(seeds=2, output=str(tmp_path / "shared"), shard=(1, 2))
    assert sorted(fits0 + fits1) == sorted((r, s) for s in (0, 1) for r in ("conventional", "lerac"))
    for regime in ("conventional", "lerac"):
        assert second.regimes[regime]["scores"] == one.regimes[regime]["scores"]


def test_a_diverged_run_is_reported_and_results_json_is_strict(tmp_path):
    result, _ = _compare(optimizer=keras.optimizers.SGD(1e30), seeds=1, output=str(tmp_path))
    text = (tmp_path / "results.json").read_text()

    def refuse(constant):
        raise ValueError(f"not JSON: {constant}")

    record = json.loads(text, parse_constant=refuse)  # no bare NaN or Infinity
    assert record["regimes"]["conventional"]["diverged"] == [0]
    assert "note: conventional: training diverged (non-finite loss) with seed(s) 0" in result.table()
    assert "Diverged" in result.table().splitlines()[0]


# --------------------------------------------------------------------------- statistics
def test_no_significance_claim_from_two_seeds_or_equal_differences():
    two = stats.paired_difference([0.8, 0.9], [0.7, 0.8])
    assert two["ci95"] is None and two["significant"] is None and "at least 3 seeds" in two["note"]
    equal = stats.paired_difference([0.8, 0.9, 0.7], [0.7, 0.8, 0.6])
    assert equal["significant"] is None and "standard error 0" in equal["note"]


def test_a_rerun_names_the_setting_that_differs_deep_in_a_config(tmp_path):
    _compare(output=str(tmp_path))
    with pytest.raises(paired.InputError, match=r"\(optimizer\.config\.momentum: 0\.9 -> 0\.0\)"):
        _compare(output=str(tmp_path), optimizer=keras.optimizers.SGD(0.1))


def test_holm_adjusts_over_the_contrasts():
    assert stats.holm([0.01, 0.04, 0.03, None]) == [0.03, 0.06, 0.06, None]
    assert stats.holm([0.5, 0.9]) == [1.0, 1.0]  # never above 1
    assert abs(stats.t_test_p(2.201, 11) - 0.05) < 1e-4 and abs(stats.t_test_p(2.086, 20) - 0.05) < 1e-4


def test_the_tables_never_print_minus_zero_and_name_units(tmp_path):
    assert report._signed(-0.00001, "accuracy") == "+0.00"
    assert report._fmt(-1e-9, "accuracy") == "0.00"
    result, _ = _compare(seeds=1)
    assert (
        "fraction" in result.settings["units"]["scores"]
        and "points" in result.settings["units"]["differences"]
    )


def test_a_curriculum_of_a_handful_of_iterations_is_flagged():
    result, _ = _compare(epochs=1)  # 3 steps: the defaults rule gives K = 1
    assert result.settings["curriculum"]["curriculum_steps"] == 1
    assert "note: the curriculum is K = 1 iteration(s) of 3" in result.table()


# --------------------------------------------------------------------------- the command
def _npz(tmp_path, x_train=None, y_train=None):
    x, y = _data(64, inputs=64, classes=10)
    path = tmp_path / "d.npz"
    np.savez(
        path,
        x_train=x if x_train is None else x_train,
        y_train=y if y_train is None else y_train,
        x_test=x[:16],
        y_test=y[:16],
    )
    return str(path)


def _cli_error(tmp_path, capsys, *argv):
    output = tmp_path / "o"
    assert cli.main(["compare", *argv, "--epochs", "1", "--seeds", "1", "--output", str(output)]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("keras-lerac: error: "), lines
    assert not output.exists()
    return lines[0]


def test_cli_float_labels_with_nan_one_line(tmp_path, capsys):
    y = np.zeros(64, "float32")
    y[3] = np.nan
    line = _cli_error(tmp_path, capsys, "--model", "digits_mlp", "--data", _npz(tmp_path, y_train=y))
    assert "training data: y holds 1 value(s) that are not finite" in line


def test_cli_text_file_as_npz_says_what_it_is(tmp_path, capsys):
    path = tmp_path / "d.npz"
    path.write_text("x,y\n1,2\n")
    line = _cli_error(tmp_path, capsys, "--model", "digits_mlp", "--data", str(path))
    assert "is not an .npz archive" in line and "text file" in line and "allow_pickle" not in line


def test_cli_regression_target_points_to_the_api(tmp_path, capsys):
    y = np.linspace(25.3, 346.7, 64).astype("float32")  # a regression target
    line = _cli_error(tmp_path, capsys, "--model", "digits_mlp", "--data", _npz(tmp_path, y_train=y))
    assert "the command compares classifiers" in line and "greater_is_better" in line


def test_cli_without_scikit_learn_names_it(tmp_path, capsys, monkeypatch):
    for name in [m for m in sys.modules if m == "sklearn" or m.startswith("sklearn.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "sklearn", None)  # import sklearn now fails
    line = _cli_error(tmp_path, capsys, "--model", "digits_mlp")
    assert "scikit-learn" in line and "pip install" in line


def test_cli_bad_shard_one_line(tmp_path, capsys):
    assert "--shard: a shard is i/n" in _cli_error(tmp_path, capsys, "--shard", "2/2")


def test_cli_report_of_a_directory_without_runs(tmp_path, capsys):
    assert cli.main(["report", str(tmp_path)]) == 2
    assert "holds no run records" in capsys.readouterr().err


def test_cli_ctrl_c_keeps_the_finished_runs_and_prints_the_resume_command(tmp_path, capsys, monkeypatch):
    real, calls = paired._fit_and_score, []

    def interrupted(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(paired, "_fit_and_score", interrupted)
    argv = ["compare", "--model", "digits_mlp", "--limit", "64", "--epochs", "1", "--seeds", "1"]
    argv += ["--regimes", "conventional", "lerac", "--quiet", "--output", str(tmp_path)]
    assert cli.main(argv) == 130
    err = capsys.readouterr().err
    assert "1 finished run(s) are recorded" in err and f"`keras-lerac {' '.join(argv)}`" in err
    assert os.listdir(tmp_path / "runs") == ["conventional-seed0.json"]


def test_an_npz_of_python_objects_is_refused_by_its_dtype_not_loaded(tmp_path):
    from keras_lerac.experiments import inputs

    x = np.zeros((8, 4), "float32")
    y = np.empty(8, dtype=object)  # pickled Python objects: loading them could run code
    y[:] = [{"label": i} for i in range(8)]
    np.savez(tmp_path / "objects.npz", x_train=x, y_train=y, x_test=x, y_test=np.zeros(8, "int64"))
    with pytest.raises(inputs.InputError, match="holds object arrays"):
        inputs.load_npz(str(tmp_path / "objects.npz"))
    np.savez(
        tmp_path / "plain.npz", x_train=x, y_train=np.zeros(8, "int64"), x_test=x, y_test=np.zeros(8, "int64")
    )
    assert not inputs._holds_object_arrays(str(tmp_path / "plain.npz"))
