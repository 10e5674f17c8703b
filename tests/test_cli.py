"""The `keras-lerac` command: end to end in a subprocess, errors in-process."""

import json
import os
import runpy
import subprocess
import sys

import pytest
from conftest import BACKEND
from helpers import write_user_module

from keras_lerac.experiments import cli, models

PNG = b"\x89PNG\r\n\x1a\n"


def _env(**extra):
    env = dict(os.environ, KERAS_BACKEND=BACKEND, TF_CPP_MIN_LOG_LEVEL="3", PYTHONUNBUFFERED="1")
    env.update(extra)
    return env


def test_help_and_version_load_no_keras_and_no_backend():
    code = (
        "import sys\n"
        "from keras_lerac.experiments import cli\n"
        "for argv in (['--help'], ['--version'], ['compare', '--help'], ['compare', '--epochs', '0']):\n"
        "    try:\n"
        "        cli.main(argv)\n"
        "    except SystemExit:\n"
        "        pass\n"
        "print('LOADED', sorted(m for m in ('keras', 'tensorflow', 'jax', 'torch') if m in sys.modules))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=_env(), timeout=120
    )
    assert "LOADED []" in proc.stdout, proc.stdout[-2000:] + proc.stderr[-2000:]
    import keras_lerac

    assert f"keras-lerac {keras_lerac.__version__}" in proc.stdout


def test_compare_end_to_end(tmp_path):
    out = tmp_path / "results"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "keras_lerac",
            "compare",
            "--epochs",
            "2",
            "--seeds",
            "1",
            "--limit",
            "64",
            "--batch-size",
            "32",
            "--quiet",
            "--output",
            str(out),
            "--backend",
            BACKEND,
        ],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    expected = ["conventional", "warmup", "lerac", "cbs"]
    results = json.loads((out / "results.json").read_text())
    assert sorted(results["regimes"]) == sorted(expected)
    for name in expected:
        entry = results["regimes"][name]
        assert len(entry["scores"]) == 1 and 0 <= entry["mean"] <= 1 and entry["std"] == 0
        assert len(entry["wall_time_s"]) == 1 and entry["wall_time_s"][0] > 0
        curves = entry["curves"][0]
        for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
            assert len(curves[key]) == 2
        assert entry["scores"][0] == pytest.approx(curves["val_accuracy"][-1], abs=1e-6)
    lerac_curves = results["regimes"]["lerac"]["curves"][0]
    assert "lr_bucket_0" in lerac_curves and len(lerac_curves["lr_bucket_0"]) == 2
    settings = results["settings"]
    assert settings["backend"] == BACKEND and settings["epochs"] == 2 and settings["seeds"] == [0]
    assert settings["train_examples"] == 64 and settings["test_examples"] == 450
    # No curriculum flags: LeRaC picks K and the start rates from the 4 steps of training.
    from keras_lerac.curriculum import suggested_curriculum

    curriculum = settings["curriculum"]
    assert curriculum["total_steps"] == 4 and curriculum["suggested"] == [
        "curriculum_steps",
        "min_learning_rate",
    ]
    assert curriculum["curriculum_steps"] == suggested_curriculum(4)[0]
    assert {"platform", "processor", "cpu_count", "keras"} <= set(settings["machine"])
    for png in ("curriculum.png", "accuracy.png"):
        data = (out / png).read_bytes()
        assert data[:8] == PNG and len(data) > 5000
    # The table is printed even with --quiet.
    assert "Test accuracy" in proc.stdout
    for name in expected:
        assert any(line.startswith(name) for line in proc.stdout.splitlines())


def _other_backend():
    # The cheapest other backend to start, if installed.
    for name in ("jax", "tensorflow", "torch"):
        if name != BACKEND and __import__("importlib").util.find_spec(name) is not None:
            return name
    pytest.skip("no other backend installed")


def test_backend_flag_picks_the_backend_of_a_new_process():
    other = _other_backend()
    proc = subprocess.run(
        [sys.executable, "-m", "keras_lerac", "plan", "--model", "digits_mlp", "--backend", other]
        + ["--curriculum-steps", "10"],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"Keras backend: {other}" in proc.stdout
    assert "K=10 iterations" in proc.stdout


def test_backend_flag_cannot_switch_a_loaded_keras(capsys):
    import keras

    cli.select_backend(keras.backend.backend())  # the loaded one: fine
    assert cli.main(["plan", "--backend", _other_backend()]) == 2
    assert "already loaded with the" in capsys.readouterr().err


def test_progress_is_plain_when_stdout_is_not_a_terminal(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "keras_lerac", "compare", "--epochs", "1", "--seeds", "1", "--limit", "64"]
        + ["--curriculum-epochs", "3", "--regimes", "lerac", "--output", str(tmp_path), "--backend", BACKEND],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    # One plain progress line per run (runs done / total), and the plan before LeRaC trains.
    assert "[1/1 runs, elapsed" in proc.stdout and "LeRaC curriculum plan" in proc.stdout
    assert "\r" not in proc.stdout and "\x1b[" not in proc.stdout
    # K (3 epochs) is longer than 1 epoch of training: said, with the fix.
    assert "--curriculum-epochs smaller than --epochs" in proc.stderr


def test_plan_command_builtin_model(capsys):
    assert cli.main(["plan", "--model", "digits_cnn", "--curriculum-steps", "20", "--backend", BACKEND]) == 0
    out = capsys.readouterr().out
    assert "LeRaC curriculum plan for 'digits_cnn'" in out and "K=20 iterations" in out
    assert "block1_conv" in out and "logits" in out


def test_plan_command_saved_file(tmp_path, capsys):
    import keras

    import keras_lerac

    model = models.digits_mlp()
    opt = keras_lerac.LeRaC(
        keras.optimizers.Adam(1e-3), min_learning_rate=1e-8, curriculum_steps=77, model=model
    )
    model.compile(optimizer=opt, loss="mse")
    opt.build(model.trainable_variables)
    path = tmp_path / "m.keras"
    model.save(path)
    assert cli.main(["plan", "--model", str(path)]) == 0
    out = capsys.readouterr().out
    assert "Using the LeRaC optimizer saved" in out and "K=77 iterations" in out and "Adam" in out
    plain = models.digits_mlp()
    plain.compile(optimizer=keras.optimizers.SGD(0.2), loss="mse")
    plain_path = tmp_path / "plain.keras"
    plain.save(plain_path)
    assert cli.main(["plan", "--model", str(plain_path), "--curriculum-steps", "30"]) == 0
    out = capsys.readouterr().out
    assert "K=30 iterations" in out and "base rate=0.2" in out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["compare", "--backend", "theano"], "unknown backend 'theano'"),
        (["compare", "--epochs", "0"], "--epochs must be >= 1"),
        (["compare", "--seeds", "0"], "--seeds must be >= 1"),
        (["compare", "--model", "vgg"], "Unknown model 'vgg'"),
        (["compare", "--data", "cifar10"], "unknown data 'cifar10'"),
        (["compare", "--regimes", "lerac", "magic"], "unknown regime 'magic'"),
        (["compare", "--model", "digits_mlp", "--regimes", "cbs"], "regime 'cbs' cannot run"),
        (["compare", "--learning-rate", "-1"], "--learning-rate must be > 0"),
        (["plan", "--model", "missing.keras"], "does not exist"),
        (["plan", "--model", "resnet50"], "Unknown model 'resnet50'"),
        (["compare", "--model", "mlp_d0"], "Unknown model 'mlp_d0'"),
    ],
)
def test_bad_arguments_one_line_exit_2(argv, message, capsys):
    assert cli.main(argv) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("keras-lerac: error: ") and message in lines[0]
    assert captured.out == ""


def test_unwritable_output_dir(tmp_path, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    assert cli.main(["compare", "--output", str(blocker / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot be made" in err[0] and "is a file" in err[0]


def test_argparse_errors_one_line_exit_2(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["compare", "--epochs", "many"])
    assert info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "expected an integer" in err[0]
    with pytest.raises(SystemExit) as info:
        cli.main(["frobnicate"])
    assert info.value.code == 2


def test_python_m_help(monkeypatch, capsys):
    # `python -m keras_lerac --help` runs keras_lerac/__main__.py.
    monkeypatch.setattr(sys, "argv", ["keras_lerac", "--help"])
    with pytest.raises(SystemExit) as info:
        runpy.run_module("keras_lerac", run_name="__main__")
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert "compare" in out and "plan" in out
    monkeypatch.setattr(sys, "argv", ["keras_lerac", "compare", "--epochs", "0"])
    with pytest.raises(SystemExit) as info:
        runpy.run_module("keras_lerac", run_name="__main__")
    assert info.value.code == 2


def test_python_m_help_subprocess():
    proc = subprocess.run(
        [sys.executable, "-m", "keras_lerac", "compare", "--help"],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=300,
    )
    assert proc.returncode == 0
    for flag in ("--backend", "--epochs", "--seeds", "--output", "--model", "--data", "--regimes", "--quiet"):
        assert flag in proc.stdout
    assert "--limit" not in proc.stdout  # hidden


def test_plan_command_uncompiled_file_uses_the_flags(tmp_path, capsys):
    # Issue 16 item 3: a model saved without compile() has no optimizer attribute at all.
    model = models.digits_mlp()
    path = tmp_path / "uncompiled.keras"
    model.save(path)
    argv = ["plan", "--model", str(path), "--optimizer", "adam", "--learning-rate", "0.01"]
    assert cli.main(argv + ["--curriculum-steps", "20"]) == 0
    out = capsys.readouterr().out
    assert "inner optimizer=Adam" in out and "base rate=0.01" in out and "K=20 iterations" in out


# --------------------------------------------------------------------------- the user's own model and data
def _user_files(tmp_path, x_features=6, labels_offset=0, y_width=None, drop=None, model_kind="mlp"):
    """A tiny `.keras` model (6 features -> 3 logits, or a conv model) and an `.npz` of data."""
    import keras
    import numpy as np

    rng = np.random.default_rng(0)
    if model_kind == "mlp":
        inputs = keras.Input((6,))
        hidden = keras.layers.Dense(8, activation="relu")(inputs)
    else:
        inputs = keras.Input((4, 4, 1))
        hidden = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(4, 3, padding="same")(inputs))
    model = keras.Model(inputs, keras.layers.Dense(3)(hidden))
    model_path = tmp_path / "model.keras"
    model.save(model_path)
    shape = (x_features,) if model_kind == "mlp" else (4, 4, 1)
    arrays = {}
    for split, n in (("train", 40), ("test", 12)):
        x = rng.normal(size=(n, *shape)).astype("float32")
        y = (rng.integers(0, 3, n) + labels_offset).astype("int32")
        if y_width is not None:
            y = np.zeros((n, y_width), "float32")
        arrays[f"x_{split}"], arrays[f"y_{split}"] = x, y
    if drop:
        arrays.pop(drop)
    data_path = tmp_path / "data.npz"
    np.savez(data_path, **arrays)
    return str(model_path), str(data_path)


def test_compare_a_keras_file_on_npz_data(tmp_path, capsys):
    model, data = _user_files(tmp_path)
    out = tmp_path / "out"
    argv = [
        "compare",
        "--model",
        model,
        "--data",
        data,
        "--epochs",
        "1",
        "--seeds",
        "2",
        "--batch-size",
        "16",
    ]
    assert cli.main(argv + ["--output", str(out), "--quiet"]) == 0
    stdout = capsys.readouterr().out
    # Default regimes: CBS cannot run on this MLP, so it is skipped with a note.
    assert "note: skipping regime 'cbs'" in stdout and "lerac - conventional" in stdout
    results = json.loads((out / "results.json").read_text())
    assert list(results["regimes"]) == ["conventional", "warmup", "lerac"]
    settings = results["settings"]
    assert settings["model"] == model and settings["data"] == data and settings["train_examples"] == 40
    assert settings["total_steps"] == 3 and settings["skipped_regimes"]["cbs"]
    conv, lerac = results["regimes"]["conventional"], results["regimes"]["lerac"]
    assert conv["init_hash"] == lerac["init_hash"] and conv["order_hash"] == lerac["order_hash"]
    assert results["differences"]["lerac - conventional"]["n"] == 2


def test_compare_control_regimes(tmp_path, capsys):
    model, data = _user_files(tmp_path)
    argv = [
        "compare",
        "--model",
        model,
        "--data",
        data,
        "--epochs",
        "1",
        "--seeds",
        "2",
        "--batch-size",
        "16",
    ]
    argv += ["--regimes", "conventional", "warmup", "lerac", "anti", "--output", str(tmp_path / "o")]
    assert cli.main(argv) == 0
    stdout = capsys.readouterr().out
    for name in ("warmup - conventional", "lerac - conventional", "anti - conventional", "lerac - warmup"):
        assert name in stdout
    assert "[4/8 runs, elapsed" in stdout  # the comparison's progress, one plain line per run


def test_compare_cbs_on_a_conv_keras_file(tmp_path):
    model, data = _user_files(tmp_path, model_kind="cnn")
    argv = ["compare", "--model", model, "--data", data, "--epochs", "1", "--seeds", "1", "--quiet"]
    assert cli.main(argv + ["--regimes", "conventional", "cbs", "--output", str(tmp_path / "o")]) == 0
    results = json.loads((tmp_path / "o" / "results.json").read_text())
    assert list(results["regimes"]) == ["conventional", "cbs"]


@pytest.mark.parametrize(
    "files, extra, message",
    [
        ({"drop": "y_test"}, [], "has no y_test"),
        ({"x_features": 5}, [], "x has examples of shape (5,) but the model takes (6,)"),
        ({"labels_offset": 2}, [], "labels out of range: y has labels 2..4"),
        ({"y_width": 5}, [], "y has shape (5,) per example"),
        ({}, ["--regimes", "conventional", "cbs"], "regime 'cbs' cannot run on this model"),
        ({"not_a_model": True}, [], "is not a loadable Keras model"),
        ({"not_npz": True}, [], "is not an .npz archive"),
        ({"missing": "model"}, [], "model file"),
        ({"missing": "data"}, [], "data file"),
    ],
)
def test_bad_user_input_one_line_exit_2(tmp_path, capsys, files, extra, message):
    files = dict(files)
    special = {k: files.pop(k) for k in ("not_a_model", "not_npz", "missing") if k in files}
    model, data = _user_files(tmp_path, **files)
    if special.get("not_a_model"):
        with open(model, "wb") as f:
            f.write(b"this is not a zip archive")
    if special.get("not_npz"):
        with open(data, "wb") as f:
            f.write(b"nor is this")
    if special.get("missing") == "model":
        model = str(tmp_path / "absent.keras")
    if special.get("missing") == "data":
        data = str(tmp_path / "absent.npz")
    argv = ["compare", "--model", model, "--data", data, "--epochs", "1", "--seeds", "1"]
    assert cli.main(argv + extra + ["--output", str(tmp_path / "o")]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("keras-lerac: error: ") and message in lines[0], lines
    assert captured.out == ""  # nothing ran, nothing printed
    assert not (tmp_path / "o" / "results.json").exists()


# --------------------------------------------------------------------------- the user's own schedules
def _one_line_error(capsys) -> str:
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("keras-lerac: error: "), captured.err
    return lines[0]


def _user_module(tmp_path, monkeypatch, module="lerac_cli_schedules", name="cli_cosine", **kwargs):
    """A module of the user's registering `name`, importable, not imported yet."""
    from keras_lerac import schedules

    write_user_module(tmp_path, module, name, **kwargs)
    monkeypatch.syspath_prepend(str(tmp_path))
    for entries, key in ((sys.modules, module), (schedules._REGISTRY, name)):
        monkeypatch.delitem(entries, key, raising=False)
    return module, name


def test_compare_trains_a_schedule_from_module_colon_name(tmp_path):
    module, name = write_user_module(tmp_path, "lerac_cli_schedules", "cli_cosine")
    out = tmp_path / "o"
    argv = ["compare", "--epochs", "1", "--seeds", "1", "--limit", "64", "--model", "digits_mlp", "--quiet"]
    argv += ["--regimes", "conventional", "lerac", "--schedule", f"{module}:{name}", "--output", str(out)]
    path = os.pathsep.join(p for p in (str(tmp_path), os.environ.get("PYTHONPATH")) if p)
    proc = subprocess.run(
        [sys.executable, "-m", "keras_lerac", *argv, "--backend", BACKEND],
        capture_output=True,
        text=True,
        env=_env(PYTHONPATH=path),
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads((out / "results.json").read_text())
    assert list(results["regimes"]) == ["conventional", "lerac"]
    assert results["settings"]["curriculum"]["lerac_schedule"] == name


def test_import_flag_registers_the_schedules_of_a_module(tmp_path, monkeypatch, capsys):
    module, name = _user_module(tmp_path, monkeypatch)
    argv = ["plan", "--model", "digits_mlp", "--curriculum-steps", "20", "--backend", BACKEND]
    assert cli.main(argv + ["--import", module, "--schedule", name]) == 0
    assert f"schedule={name}  K=20" in capsys.readouterr().out
    # Without the import the name is unknown: one line listing the registered names.
    monkeypatch.delitem(sys.modules, module)
    from keras_lerac import schedules

    monkeypatch.delitem(schedules._REGISTRY, name)
    assert cli.main(argv + ["--schedule", name]) == 2
    line = _one_line_error(capsys)
    assert f"unknown schedule {name!r}" in line and "exponential" in line and "--import" in line


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--schedule", "cosine"], "unknown schedule 'cosine': choose one of exponential, linear, stepwise"),
        (["--import", "lerac_no_such_module"], "cannot import module 'lerac_no_such_module'"),
        (["--schedule", "lerac_no_such_module:x"], "cannot import module 'lerac_no_such_module'"),
        (["--schedule", "{module}:other"], "unknown schedule 'other'"),
        (["--schedule", ":x"], "--schedule MODULE:NAME"),
        (["--schedule", "{module}:"], "--schedule MODULE:NAME"),
    ],
)
def test_bad_schedule_flags_one_line_exit_2(tmp_path, monkeypatch, capsys, flags, message):
    module, _ = _user_module(tmp_path, monkeypatch)
    flags = [f.format(module=module) for f in flags]
    assert cli.main(["plan", "--model", "digits_mlp", "--backend", BACKEND, *flags]) == 2
    assert message in _one_line_error(capsys)


def test_a_module_whose_schedule_fails_its_check_is_one_line(tmp_path, monkeypatch, capsys):
    body = "start_ratio + (1.0 - start_ratio) * np.sin(step / curriculum_steps)"  # np, not xp
    module, name = _user_module(tmp_path, monkeypatch, body=body)
    assert cli.main(["plan", "--model", "digits_mlp", "--backend", BACKEND, "--import", module]) == 2
    line = _one_line_error(capsys)
    assert f"importing module {module!r} failed" in line and f"Schedule {name!r}" in line and "`xp`" in line


def test_plan_opens_a_model_saved_with_a_schedule_of_the_users(tmp_path, monkeypatch, capsys):
    import importlib

    import keras

    import keras_lerac

    module, name = _user_module(tmp_path, monkeypatch)
    importlib.import_module(module)
    model = models.digits_mlp()
    opt = keras_lerac.LeRaC(
        keras.optimizers.SGD(0.1), min_learning_rate=1e-5, curriculum_steps=33, schedule=name
    )
    model.compile(optimizer=opt, loss="mse")
    opt.build(model.trainable_variables)
    path = tmp_path / "saved" / "m.keras"
    path.parent.mkdir()
    model.save(path)
    # A new process, in effect: neither the module nor the schedule is loaded.
    from keras_lerac import schedules

    monkeypatch.delitem(sys.modules, module)
    monkeypatch.delitem(schedules._REGISTRY, name)
    assert cli.main(["plan", "--model", str(path)]) == 0  # plan imports the module the file records
    out = capsys.readouterr().out
    assert f"schedule={name}  K=33" in out and "Using the LeRaC optimizer saved" in out
    # The module is not importable here: one line naming it, and --import.
    monkeypatch.delitem(sys.modules, module)
    monkeypatch.delitem(schedules._REGISTRY, name)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p != str(tmp_path)])
    assert cli.main(["plan", "--model", str(path)]) == 2
    line = _one_line_error(capsys)
    assert f"schedule {name!r}" in line and f"module {module!r}" in line and "--import" in line
    # ... and --import of a module that registers it opens it.
    other = tmp_path / "elsewhere"
    other.mkdir()
    write_user_module(other, "lerac_cli_moved", name)
    monkeypatch.syspath_prepend(str(other))
    assert cli.main(["plan", "--model", str(path), "--import", "lerac_cli_moved"]) == 0
    assert f"schedule={name}  K=33" in capsys.readouterr().out


def test_a_flag_reaches_compare_regimes_through_one_settings_object():
    # argparse dest == Settings field == compare_regimes keyword: one name from the flag to the run.
    import dataclasses
    import inspect

    from keras_lerac.experiments import paired, runner

    args = cli.build_parser().parse_args(["compare", "--epochs", "3", "--seeds", "2", "--cbs-every", "4"])
    settings = runner.Settings.from_args(args)
    assert (settings.epochs, settings.seeds, settings.cbs_every) == (3, (0, 1), 4)
    fields = {f.name for f in dataclasses.fields(runner.Settings)}
    command_only = {"command", "func", "backend", "output", "shard", "quiet", "imports"}
    assert {dest for dest in vars(args)} - command_only <= fields, "a compare flag with no Settings field"
    parameters = inspect.signature(paired.compare_regimes).parameters
    assert set(runner.PASSED_THROUGH) <= fields and set(runner.PASSED_THROUGH) <= set(parameters)
