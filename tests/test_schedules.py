"""The schedule registry (keras_lerac/schedules.py): built-ins, controls, a user's own."""

import keras
import numpy as np
import pytest
from helpers import classification_data, mlp

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
    ratios = np.asarray(opt.start_ratios)
    expected = 0.1 * (ratios + (1 - ratios) * 0.5 * (1 - np.cos(np.pi * 2 / 4)))
    np.testing.assert_allclose(opt.learning_rates_at(2), expected, rtol=1e-6)
    assert opt.learning_rates_at(4) == pytest.approx([0.1] * 3)
    # Saved by name, loaded back (the schedule is registered in this process).
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras_lerac.load_model(path)
    assert loaded.optimizer.schedule == "test_cosine_rise"
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
    assert opt.start_ratios == [0.0, 0.0, 0.0]
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
    assert loaded.schedule == "linear_warmup" and loaded.start_ratios == [0.0] * len(trained.start_ratios)
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
    register_schedule("test_bad_layout", cosine_rise, layout=lambda ratios: ratios[:1], overwrite=True)
    opt = LeRaC(
        keras.optimizers.SGD(0.1), min_learning_rate=1e-4, curriculum_steps=10, schedule="test_bad_layout"
    )
    with pytest.raises(ValueError, match="one per bucket"):
        opt.build(mlp(depth=3).trainable_variables)


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
