"""The 1.0 public API, listed by hand: changing it must be a visible decision.

What is public (docs/compatibility.md): the names in `keras_lerac.__all__`, `LeRaC`'s
arguments and the attributes it adds to a Keras optimizer. A test below fails when one is
added, removed or renamed; update the list, the CHANGELOG and docs/curriculum.md together.
Also here: what those attributes promise before training (the plan with `model=`, no
build needed) and a file compiled with LeRaC but never trained loading without warnings.
"""

import contextlib
import importlib
import inspect
import io
import logging
import warnings

import keras
import numpy as np
import pytest
from helpers import classification_data, mlp

import keras_lerac
from keras_lerac import LeRaC, LeRaCOptimizer

ALL = [
    "Curriculum",
    "CurriculumLogger",
    "CurriculumSchedule",
    "GaussianSmoothing",
    "LeRaC",
    "LeRaCOptimizer",
    "SmoothingSchedule",
    "__version__",
    "add_smoothing",
    "depth_buckets",
    "find_lerac",
    "layer_depths",
    "load_model",
    "plan",
    "plan_rows",
    "plot_accuracy",
    "plot_curriculum",
    "register_schedule",
    "remove_smoothing",
    "restore_compile",
    "schedule_names",
]

# (name, kind, default) of every parameter of LeRaC, in order.
SIGNATURE = [
    ("optimizer", "POSITIONAL_OR_KEYWORD", inspect.Parameter.empty),
    ("min_learning_rate", "KEYWORD_ONLY", None),
    ("curriculum_steps", "KEYWORD_ONLY", None),
    ("total_steps", "KEYWORD_ONLY", None),
    ("schedule", "KEYWORD_ONLY", "exponential"),
    ("schedule_params", "KEYWORD_ONLY", None),
    ("num_buckets", "KEYWORD_ONLY", None),
    ("buckets", "KEYWORD_ONLY", None),
    ("model", "KEYWORD_ONLY", None),
    ("initial_learning_rates", "KEYWORD_ONLY", None),
    ("reference_learning_rate", "KEYWORD_ONLY", None),
    ("layer_decay", "KEYWORD_ONLY", None),
    ("factor", "KEYWORD_ONLY", None),
    ("update_every", "KEYWORD_ONLY", None),
    ("name", "KEYWORD_ONLY", None),
    ("kwargs", "VAR_KEYWORD", inspect.Parameter.empty),
]

# What LeRaC adds to keras.optimizers.Optimizer (docs/curriculum.md, "The public API").
ATTRIBUTES = [
    "bucket_layers",
    "bucket_optimizers",
    "buckets",
    "current_learning_rates",
    "curriculum",
    "learning_rates_at",
    "rate_scale",
    "settings",
]


def _lerac(model=None, **kwargs):
    kwargs.setdefault("min_learning_rate", 1e-4)
    kwargs.setdefault("curriculum_steps", 10)
    return LeRaC(keras.optimizers.Adam(0.01), model=model, **kwargs)


def _added_attributes(opt):
    plain = keras.optimizers.Optimizer(learning_rate=0.1)
    return sorted(n for n in set(dir(opt)) - set(dir(plain)) if not n.startswith("_"))


def test_all_is_the_list():
    assert sorted(keras_lerac.__all__) == ALL
    for name in ALL:
        assert getattr(keras_lerac, name) is not None


def test_version_is_1_0():
    assert keras_lerac.__version__ == "1.0.0rc1"


LIBRARY_MODULES = ["buckets", "callbacks", "cbs", "curriculum", "depth", "optimizer", "plotting"]
LIBRARY_MODULES += ["routing", "saving", "schedules", "settings", "summary", "wrapped", "fused"]


@pytest.mark.parametrize("name", LIBRARY_MODULES)
def test_no_module_shows_a_mutable_global(name):
    """A public list, dict or set at module level is state any import can change."""
    module = importlib.import_module(f"keras_lerac.{name}")
    public = getattr(module, "__all__", None) or [n for n in dir(module) if not n.startswith("_")]
    mutable = [n for n in public if isinstance(getattr(module, n, None), (list, dict, set))]
    assert mutable == [], f"keras_lerac.{name}: make these private or immutable: {mutable}"


def test_lerac_signature_is_the_list():
    parameters = inspect.signature(LeRaC).parameters.values()
    assert [(p.name, p.kind.name, p.default) for p in parameters] == SIGNATURE


def test_lerac_optimizer_is_another_name_of_lerac():
    assert LeRaCOptimizer is LeRaC


def test_lerac_adds_only_the_listed_attributes():
    model = mlp()
    opt = _lerac(model)
    assert _added_attributes(opt) == ATTRIBUTES  # unbuilt
    opt.build(model.trainable_variables)
    assert _added_attributes(opt) == ATTRIBUTES  # built: no attribute appears


def test_the_names_of_0x_say_where_their_values_went():
    opt = _lerac(total_steps=400, curriculum_steps=None, min_learning_rate=None)
    with pytest.raises(AttributeError, match=r"opt\.settings\.curriculum_steps"):
        opt.curriculum_steps  # noqa: B018
    with pytest.raises(AttributeError, match=r"opt\.settings\.suggested"):
        opt.suggested_settings  # noqa: B018
    with pytest.raises(AttributeError, match=r"opt\.curriculum\.start_ratios"):
        opt.start_ratios  # noqa: B018
    assert not hasattr(opt, "min_learning_rate") and not hasattr(opt, "no_such_name")
    assert opt.settings.curriculum_steps == 10
    assert opt.settings.suggested == ("curriculum_steps", "min_learning_rate")


def test_the_save_only_arguments_are_refused_and_still_load():
    model = mlp()
    for name in ("bucket_assignment", "weight_decay_exclusions", "suggested"):
        with pytest.raises(ValueError, match=name):  # Keras: "Argument(s) not recognized"
            _lerac(model, **{name: None})
    opt = _lerac(model, total_steps=400, curriculum_steps=None)
    opt.build(model.trainable_variables)
    config = opt.get_config()
    assert config["bucket_assignment"] == [0, 0, 1, 1, 2, 2]
    assert config["suggested"] == ["curriculum_steps"]
    again = LeRaC.from_config(config)
    assert again.settings == opt.settings
    again.build(mlp().trainable_variables)
    assert again.get_config() == config


def test_the_plan_needs_no_build_with_a_model():
    model = mlp()
    opt = _lerac(model)
    rates = opt.learning_rates_at(0)
    assert len(rates) == 3 and rates[0] == pytest.approx(0.01) and rates[-1] == pytest.approx(1e-4)
    assert opt.bucket_layers == [["hidden_0"], ["hidden_1"], ["head"]]
    assert [len(b) for b in opt.buckets] == [2, 2, 2]
    text = keras_lerac.plan(model, opt, print_fn=lambda _: None)
    assert "inner optimizer=Adam" in text
    rows = keras_lerac.plan_rows(None, opt)  # the model comes from `model=`
    assert not opt.built  # the plan built nothing
    model.compile(optimizer=opt, loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(*classification_data(), batch_size=16, epochs=1, verbose=0)
    assert opt.built and keras_lerac.plan_rows(None, opt) == rows
    assert opt.learning_rates_at(5) == _lerac(mlp()).learning_rates_at(5)


def test_without_a_model_the_plan_asks_for_one():
    opt = _lerac()
    with pytest.raises(ValueError, match="pass the model to LeRaC"):
        opt.learning_rates_at(0)
    with pytest.raises(AttributeError, match="pass the model to LeRaC"):
        opt.buckets  # noqa: B018
    with pytest.raises(ValueError, match="build the optimizer first"):
        opt.current_learning_rates()
    unbuilt = keras.Sequential([keras.layers.Dense(2)])
    with pytest.raises(ValueError, match="model given as `model=` .* is not built yet"):
        _lerac(unbuilt).learning_rates_at(0)


@contextlib.contextmanager
def _everything_said():
    """Every warning (DeprecationWarning aside: numpy's, not shown by default), every log
    record and everything written to stdout / stderr from Python during the block."""
    said = {"warnings": [], "logs": [], "output": io.StringIO()}

    class Keep(logging.Handler):
        def emit(self, record):
            said["logs"].append(record.getMessage())

    handler, root = Keep(level=logging.DEBUG), logging.getLogger()
    root.addHandler(handler)
    try:
        with (
            warnings.catch_warnings(record=True) as caught,
            contextlib.redirect_stderr(said["output"]),
            contextlib.redirect_stdout(said["output"]),
        ):
            warnings.simplefilter("always")
            yield said
    finally:
        root.removeHandler(handler)
    said["warnings"] = [str(w.message) for w in caught if not issubclass(w.category, DeprecationWarning)]
    said["output"] = said["output"].getvalue()


@pytest.mark.parametrize("options", [{}, {"use_ema": True}], ids=["plain", "ema"])
def test_a_file_never_trained_loads_without_a_warning(tmp_path, options):
    model = mlp()
    opt = _lerac(model, **options)
    model.compile(optimizer=opt, loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    opt.learning_rate = 0.005  # a rate set before training: the scale is saved state
    path = str(tmp_path / "never_trained.keras")
    model.save(path)
    with _everything_said() as said:
        loaded = keras_lerac.load_model(path)
    assert said["warnings"] == [] and said["logs"] == [] and said["output"] == ""
    restored = loaded.optimizer
    assert isinstance(restored, LeRaC) and restored.built
    assert restored.rate_scale == pytest.approx(0.5) and int(restored.iterations.numpy()) == 0
    assert restored.bucket_layers == opt.bucket_layers
    # It trains as the never-saved optimizer does.
    x, y = classification_data()
    model.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)
    loaded.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_a_trained_file_still_restores_every_bucket(tmp_path):
    model = mlp()
    opt = _lerac(model)
    model.compile(optimizer=opt, loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(*classification_data(), batch_size=16, epochs=1, verbose=0)
    path = str(tmp_path / "trained.keras")
    model.save(path)
    with _everything_said() as said:
        loaded = keras_lerac.load_model(path)
    assert said["warnings"] == []
    for a, b in zip(opt.variables, loaded.optimizer.variables):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b))
