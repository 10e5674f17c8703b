"""The schedule registry (keras_lerac/schedules.py): built-ins, controls, a user's own."""

import importlib
import math
import sys
import warnings

import keras
import numpy as np
import pytest
from conftest import BACKEND
from helpers import classification_data, mlp, write_user_module

import keras_lerac
from keras_lerac import CurriculumSchedule, LeRaC
from keras_lerac.schedules import get_schedule, register_schedule, schedule_names


# A schedule registered from outside the package: a half-cosine rise.
def cosine_rise(step, start_ratio, curriculum_steps, *, xp):
    progress = step / curriculum_steps
    return start_ratio + (1.0 - start_ratio) * 0.5 * (1.0 - xp.cos(np.pi * progress))


register_schedule("test_cosine_rise", cosine_rise, overwrite=True)


def test_builtins_and_controls_are_registered():
    assert {"exponential", "linear", "stepwise", "warmup", "anti"} <= set(schedule_names())
    assert set(keras_lerac.schedule_names()) == set(schedule_names())


def test_a_users_schedule_trains_and_applies_its_plan(tmp_path):
    model = mlp(depth=3)
    x, y = classification_data()
    opt = LeRaC(
        keras.optimizers.SGD(0.1), min_learning_rate=1e-3, curriculum_steps=4, schedule="test_cosine_rise"
    )
    model.compile(optimizer=opt, loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    history = model.fit(x, y, batch_size=16, epochs=2, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    assert int(keras.ops.convert_to_numpy(opt.iterations)) == 8
    np.testing.assert_allclose(opt.current_learning_rates(), opt.learning_rates_at(8), rtol=1e-6)
    # Each update applies the plan: plain SGD with unit gradients moves each variable by its rate.
    variables = [keras.Variable(np.zeros(2, "float32")) for _ in range(3)]
    probe = LeRaC(
        keras.optimizers.SGD(0.1),
        min_learning_rate=1e-3,
        curriculum_steps=4,
        schedule="test_cosine_rise",
        buckets=[[v] for v in variables],
    )
    probe.build(variables)
    for t in range(6):
        before = [keras.ops.convert_to_numpy(v)[0] for v in variables]
        probe.apply([keras.ops.ones((2,)) for _ in variables], variables)
        moved = [b - keras.ops.convert_to_numpy(v)[0] for b, v in zip(before, variables)]
        np.testing.assert_allclose(moved, probe.learning_rates_at(t), rtol=2e-4)
    ratios = np.asarray(opt.curriculum.start_ratios)
    expected = 0.1 * (ratios + (1 - ratios) * 0.5 * (1 - np.cos(np.pi * 2 / 4)))
    np.testing.assert_allclose(opt.learning_rates_at(2), expected, rtol=1e-6)
    assert opt.learning_rates_at(4) == pytest.approx([0.1] * 3)
    # Saved by name, loaded back (the schedule is registered in this process).
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras_lerac.load_model(path)
    assert loaded.optimizer.settings.schedule == "test_cosine_rise"
    assert loaded.optimizer.learning_rates_at(2) == pytest.approx(opt.learning_rates_at(2))


@pytest.mark.parametrize("name", ["warmup", "anti", "linear_warmup"])
def test_controls_show_their_name_and_round_trip(name):
    opt = LeRaC(keras.optimizers.SGD(0.1), min_learning_rate=1e-4, curriculum_steps=10, schedule=name)
    config = opt.get_config()
    assert config["schedule"] == name
    restored = LeRaC.from_config(config)
    model = mlp(depth=3)
    for o in (opt, restored):
        o.build(model.trainable_variables)
    assert restored.learning_rates_at(3) == pytest.approx(opt.learning_rates_at(3))
    lines = keras_lerac.plan(model, opt, print_fn=lambda text: None)
    assert f"schedule={name}" in lines and "a control, not LeRaC" in lines


def test_warmup_and_anti_are_lerac_reordered():
    model = mlp(depth=4)
    plans = {}
    for name in ("exponential", "warmup", "anti"):
        opt = LeRaC(keras.optimizers.SGD(0.1), min_learning_rate=1e-4, curriculum_steps=10, schedule=name)
        opt.build(model.trainable_variables)
        plans[name] = [opt.learning_rates_at(t) for t in range(12)]
    lerac, warmup, anti = (np.asarray(plans[n]) for n in ("exponential", "warmup", "anti"))
    np.testing.assert_allclose(anti, lerac[:, ::-1], rtol=1e-12)  # same rates, reversed depth
    np.testing.assert_allclose(warmup, np.repeat(lerac[:, -1:], 4, axis=1), rtol=1e-12)  # all as the last


def test_linear_warmup_starts_every_bucket_at_zero_and_rises_linearly(tmp_path):
    # The practitioner's warm-up: start ratio 0 in every bucket (LeRaC's lowest ratio is
    # ignored), through the checks, the plan, the applied step and a saved model.
    variables = [keras.Variable(np.zeros(2, "float32")) for _ in range(3)]
    opt = LeRaC(
        keras.optimizers.SGD(0.1),
        min_learning_rate=1e-4,
        curriculum_steps=8,
        schedule="linear_warmup",
        buckets=[[v] for v in variables],
    )
    opt.build(variables)
    assert list(opt.curriculum.start_ratios) == [0.0, 0.0, 0.0]
    for t in (0, 1, 4, 7, 8, 9):
        assert opt.learning_rates_at(t) == pytest.approx([0.1 * min(t / 8, 1.0)] * 3, abs=1e-12)
    rows = keras_lerac.plan_rows(None, opt)
    assert [r["start_rate"] for r in rows] == [0.0] * 3 and [r["reach_step"] for r in rows] == [8] * 3
    # The step applies the plan: plain SGD with unit gradients moves each variable by its
    # rate, nothing at all at t = 0.
    for t in range(10):
        before = [keras.ops.convert_to_numpy(v)[0] for v in variables]
        opt.apply([keras.ops.ones((2,)) for _ in variables], variables)
        moved = [b - keras.ops.convert_to_numpy(v)[0] for b, v in zip(before, variables)]
        np.testing.assert_allclose(moved, opt.learning_rates_at(t), rtol=2e-4, atol=1e-9)
        if t == 0:
            assert moved == [0.0, 0.0, 0.0]
    # A trained model saves the schedule by name and loads back with the same plan.
    model = mlp(depth=3)
    trained = LeRaC(
        keras.optimizers.SGD(0.1), min_learning_rate=1e-4, curriculum_steps=6, schedule="linear_warmup"
    )
    model.compile(optimizer=trained, loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    x, y = classification_data()
    assert np.isfinite(model.fit(x, y, batch_size=16, epochs=1, verbose=0).history["loss"]).all()
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras_lerac.load_model(path).optimizer
    assert loaded.settings.schedule == "linear_warmup"
    assert list(loaded.curriculum.start_ratios) == [0.0] * len(trained.curriculum.start_ratios)
    assert loaded.learning_rates_at(3) == pytest.approx(trained.learning_rates_at(3))


def test_bad_schedules_and_parameters_say_what_is_wrong():
    with pytest.raises(ValueError, match="registered schedule.*'exponential'"):
        LeRaC(keras.optimizers.SGD(0.1), min_learning_rate=1e-4, curriculum_steps=10, schedule="cosine")
    with pytest.raises(ValueError, match="'exponential' schedule takes no parameters"):
        LeRaC(keras.optimizers.SGD(0.1), min_learning_rate=1e-4, curriculum_steps=10, factor=3.0)
    with pytest.raises(ValueError, match="once"):
        LeRaC(
            keras.optimizers.SGD(0.1),
            min_learning_rate=1e-4,
            curriculum_steps=10,
            schedule="stepwise",
            factor=3.0,
            schedule_params={"factor": 2.0},
        )
    with pytest.raises(ValueError, match="registered already"):
        register_schedule("exponential", cosine_rise)
    with pytest.raises(TypeError, match="`xp`"):
        register_schedule("no_xp", lambda step, r, k: r)
    with pytest.raises(ValueError, match="layout of schedule 'test_bad_layout'.*one per bucket"):
        register_schedule("test_bad_layout", cosine_rise, layout=lambda ratios: ratios[:1], overwrite=True)
    # A layout that fits the registration's 3 buckets but not the model's 4: caught at build.
    register_schedule("test_bad_layout", cosine_rise, layout=lambda ratios: ratios[:3], overwrite=True)
    opt = LeRaC(
        keras.optimizers.SGD(0.1), min_learning_rate=1e-4, curriculum_steps=10, schedule="test_bad_layout"
    )
    with pytest.raises(ValueError, match="one per bucket"):
        opt.build(mlp(depth=4).trainable_variables)


def test_stepwise_parameters_through_schedule_params():
    a = LeRaC(
        keras.optimizers.SGD(0.1), min_learning_rate=1e-4, curriculum_steps=30, schedule="stepwise", factor=10
    )
    b = LeRaC(
        keras.optimizers.SGD(0.1),
        min_learning_rate=1e-4,
        curriculum_steps=30,
        schedule="stepwise",
        schedule_params={"factor": 10},
    )
    variables = mlp(depth=3).trainable_variables
    for o in (a, b):
        o.build(variables)
    assert a.curriculum.params == b.curriculum.params == {"factor": 10.0, "update_every": 10}


def test_a_bucket_schedule_written_before_the_registry_still_loads():
    legacy = {
        "base_learning_rate": 0.1,
        "start_ratio": 1e-3,
        "curriculum_steps": 30,
        "schedule": "stepwise",
        "factor": 10.0,
        "update_every": 10,
        "layer_factor": 1.0,
    }
    s = CurriculumSchedule.from_config(legacy)
    assert s.params == {"factor": 10.0, "update_every": 10}
    assert float(s(10)) == pytest.approx(1e-3)
    exp = CurriculumSchedule.from_config({**legacy, "schedule": "exponential"})
    assert exp.params == {}
    assert get_schedule("stepwise").param_names == ("factor", "update_every")


# ----------------------------------------------------------------------- one bucket
def _one_bucket():
    return keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])


def _lerac_on(model, schedule, **kwargs):
    kwargs.setdefault("min_learning_rate", 1e-3)
    opt = LeRaC(keras.optimizers.SGD(0.1), schedule=schedule, curriculum_steps=10, model=model, **kwargs)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        opt.build(model.trainable_variables)
    return opt, [str(w.message) for w in caught]


def test_warmup_warms_up_a_one_bucket_model():
    # The warm-up control starts every bucket at the curriculum's lowest start ratio
    # (min_learning_rate / reference), one bucket included: LeRaC's only ratio there is 1.
    model = _one_bucket()
    opt, caught = _lerac_on(model, "warmup")
    assert opt.learning_rates_at(0) == pytest.approx([1e-3])
    assert opt.learning_rates_at(5) == pytest.approx([0.1 * 0.01**0.5])
    assert opt.learning_rates_at(10) == pytest.approx([0.1])
    assert not [m for m in caught if "single bucket" in m]  # it is a curriculum: no warning
    # ... and the step applies it: plain SGD with a unit gradient moves each weight by the rate.
    before = [keras.ops.convert_to_numpy(v) for v in model.trainable_variables]
    opt.apply([keras.ops.ones(v.shape) for v in model.trainable_variables], model.trainable_variables)
    for b, v in zip(before, model.trainable_variables):
        np.testing.assert_allclose(b - keras.ops.convert_to_numpy(v), 1e-3, rtol=1e-4)
    # Explicit start rates and a warm-up base schedule give the same lowest ratio.
    explicit, _ = _lerac_on(_one_bucket(), "warmup", min_learning_rate=None, initial_learning_rates=[1e-3])
    assert explicit.learning_rates_at(0) == pytest.approx([1e-3])


@pytest.mark.parametrize("name", ["exponential", "anti"])
def test_lerac_and_anti_are_conventional_on_a_one_bucket_model(name):
    opt, caught = _lerac_on(_one_bucket(), name)
    assert opt.learning_rates_at(0) == [pytest.approx(0.1)]
    assert [m for m in caught if "single bucket" in m]


def test_warmup_lays_out_the_lowest_ratio_on_any_bucket_count():
    for depth in (1, 2, 3, 5):
        opt, _ = _lerac_on(mlp(depth=depth), "warmup", min_learning_rate=1e-4)
        assert opt.learning_rates_at(0) == pytest.approx([1e-4] * depth, rel=1e-9)


def test_the_plan_says_what_each_schedule_does_on_the_model_at_hand():
    texts = {}
    for name in ("exponential", "warmup", "anti"):
        model = _one_bucket()
        opt, _ = _lerac_on(model, name)
        texts[name] = keras_lerac.plan(model, opt, print_fn=lambda text: None)
    for name in ("exponential", "anti"):
        assert f"({name}: equals conventional training here: one bucket" in texts[name]
    assert "an ordinary warm-up" in texts["warmup"] and "equals conventional" not in texts["warmup"]
    # On a deeper model, LeRaC has no note and the controls say they are controls.
    deep = mlp(depth=3)
    opt, _ = _lerac_on(deep, "anti")
    text = keras_lerac.plan(deep, opt, print_fn=lambda text: None)
    assert "equals conventional" not in text and "a control, not LeRaC" in text
    opt, _ = _lerac_on(deep, "exponential")
    assert "equals conventional" not in keras_lerac.plan(deep, opt, print_fn=lambda text: None)
    off = LeRaC(keras.optimizers.SGD(0.1), curriculum_steps=0, schedule="anti", model=deep)
    text = keras_lerac.plan(deep, off, print_fn=lambda text: None)
    assert "(anti: equals conventional training here: K = 0; elsewhere a control, not LeRaC" in text


# ----------------------------------------------------------------------- registration check
def np_cos_rise(step, start_ratio, curriculum_steps, *, xp):
    return start_ratio + (1.0 - start_ratio) * 0.5 * (1.0 - np.cos(np.pi * step / curriculum_steps))


def math_cos_rise(step, start_ratio, curriculum_steps, *, xp):
    return start_ratio + (1.0 - start_ratio) * 0.5 * (1.0 - math.cos(math.pi * step / curriculum_steps))


def _refused(name, fn, **kwargs) -> str:
    with pytest.raises(ValueError) as info:
        register_schedule(name, fn, overwrite=True, **kwargs)
    message = str(info.value)
    assert "\n" not in message and f"Schedule {name!r}" in message
    assert name not in schedule_names()
    return message


def test_a_schedule_written_with_numpy_is_refused_at_registration():
    # It plans fine on the host (NumPy) but the step runs keras.ops on traced tensors
    # (tf.function, jax.jit) or, on torch, on tensors that refuse NumPy as GPU tensors do.
    message = _refused("test_np_cos", np_cos_rise)
    assert "the optimizer's step" in message and f"keras.ops on {BACKEND}" in message
    assert "Write it with the `xp` ops" in message


def test_a_schedule_written_with_math_is_refused_at_registration():
    # Traced tensors refuse math.cos; on torch it would run (a 0-d tensor becomes a float),
    # but the check refuses it there too, so a schedule that passes runs on every backend.
    message = _refused("test_math_cos", math_cos_rise)
    assert "the optimizer's step" in message and "Write it with the `xp` ops" in message


def test_a_scalar_schedule_is_refused_at_registration():
    def scalar(step, start_ratio, curriculum_steps, *, xp):
        return xp.power(1e-3, 1.0 - step / curriculum_steps)  # ignores start_ratio: one rate for all

    message = _refused("test_scalar", scalar)
    assert "shape ()" in message and "one multiplier per start ratio" in message


def test_a_non_finite_schedule_is_refused_at_registration():
    def divides_by_log(step, start_ratio, curriculum_steps, *, xp):
        return start_ratio ** (1.0 - step / curriculum_steps) / xp.log(start_ratio)  # 1 / log(1)

    message = _refused("test_inf", divides_by_log)
    assert "non-finite" in message and "step 0" in message


def test_register_schedule_stays_a_decorator_and_checks_too():
    @register_schedule("test_decorated", overwrite=True)
    def decorated(step, start_ratio, curriculum_steps, *, xp):
        return xp.power(start_ratio, 1.0 - step / curriculum_steps)

    assert callable(decorated) and get_schedule("test_decorated").fn is decorated
    with pytest.raises(ValueError, match="'test_decorated_np'"):

        @register_schedule("test_decorated_np", overwrite=True)
        def decorated_np(step, start_ratio, curriculum_steps, *, xp):
            return np.power(start_ratio, 1.0 - step / curriculum_steps)


def test_a_schedule_with_required_parameters_is_checked_when_given_them():
    def sharp(step, start_ratio, curriculum_steps, *, xp, sharpness):
        return xp.power(start_ratio, (1.0 - step / curriculum_steps) ** sharpness)

    register_schedule("test_sharp", sharp, overwrite=True)  # nothing to run it with yet
    with pytest.raises(ValueError, match=r"'test_sharp' schedule needs `sharpness`"):
        LeRaC(keras.optimizers.SGD(0.1), min_learning_rate=1e-4, curriculum_steps=4, schedule="test_sharp")
    opt = LeRaC(
        keras.optimizers.SGD(0.1),
        min_learning_rate=1e-4,
        curriculum_steps=4,
        schedule="test_sharp",
        schedule_params={"sharpness": 2.0},
    )
    assert opt.settings.schedule_params == {"sharpness": 2.0}
    with pytest.raises(ValueError, match=r"Schedule 'test_sharp' gave a non-finite"):
        LeRaC(
            keras.optimizers.SGD(0.1),
            min_learning_rate=1e-4,
            curriculum_steps=4,
            schedule="test_sharp",
            schedule_params={"sharpness": float("nan")},
        )


# ----------------------------------------------------------------------- saved and loaded
def test_a_saved_model_names_the_module_of_its_schedule(tmp_path, monkeypatch):
    from keras_lerac import schedules

    module, name = write_user_module(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, module, raising=False)
    importlib.import_module(module)
    model = mlp(depth=3)
    opt = LeRaC(
        keras.optimizers.SGD(0.1), min_learning_rate=1e-3, curriculum_steps=4, schedule=name, model=model
    )
    model.compile(optimizer=opt, loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    opt.build(model.trainable_variables)
    assert opt.get_config()["schedule_module"] == module
    path = tmp_path / "m.keras"
    model.save(path)
    # In a process that has not imported the module: one line naming the schedule and the module.
    monkeypatch.delitem(schedules._REGISTRY, name)
    monkeypatch.delitem(sys.modules, module)
    for load in (keras_lerac.load_model, keras.saving.load_model):
        with pytest.raises(ValueError) as info:
            load(path)
        assert str(info.value) == (
            f"The schedule {name!r} is not registered: import {module} (which registers it) before loading."
        )
    importlib.import_module(module)
    loaded = keras_lerac.load_model(path)
    assert loaded.optimizer.settings.schedule == name
    assert loaded.optimizer.learning_rates_at(2) == pytest.approx(opt.learning_rates_at(2))


def test_the_packages_schedules_store_no_module_and_old_configs_load():
    opt = LeRaC(keras.optimizers.SGD(0.1), min_learning_rate=1e-3, curriculum_steps=4, schedule="warmup")
    config = opt.get_config()
    assert "schedule_module" not in config
    assert LeRaC.from_config(config).settings.schedule == "warmup"
    # A schedule registered by a script: the message says to register it again.
    with pytest.raises(ValueError, match=r"^The schedule 'gone'.*script that saved the model \(__main__\)"):
        LeRaC.from_config({**config, "schedule": "gone", "schedule_module": "__main__"})
    with pytest.raises(ValueError, match="registered schedule"):  # an old config: no module recorded
        LeRaC.from_config({**config, "schedule": "gone"})
