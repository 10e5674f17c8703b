"""The curriculum plan table: its numbers come from the optimizer's schedule."""

import keras
import numpy as np
import pytest

import keras_lerac
from keras_lerac.summary import plan, plan_rows


def _model(name="planned"):
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(4, 3, padding="same", name="conv")(inputs)
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(6, activation="relu", name="fc")(x)
    return keras.Model(inputs, keras.layers.Dense(3, name="head")(x), name=name)


def _lerac(model, schedule="exponential", k=100, **kwargs):
    return keras_lerac.LeRaC(
        keras.optimizers.SGD(0.1, momentum=0.9),
        min_learning_rate=1e-6,
        curriculum_steps=k,
        schedule=schedule,
        model=model,
        **kwargs,
    )


@pytest.mark.parametrize("schedule", ["exponential", "linear", "stepwise"])
def test_rows_equal_schedule(schedule):
    model = _model()
    opt = _lerac(model, schedule)
    rows = plan_rows(model, opt)
    assert not opt.built  # given `model=`, the plan needs no build: the buckets come from the model
    k = opt.settings.curriculum_steps
    assert [r["bucket"] for r in rows] == list(range(4))
    assert [r["layers"] for r in rows] == [["conv"], ["bn"], ["fc"], ["head"]]
    assert [r["params"] for r in rows] == [4 * 9 + 4, 8, 64 * 4 * 6 + 6, 6 * 3 + 3]
    np.testing.assert_allclose([r["start_rate"] for r in rows], opt.learning_rates_at(0))
    assert all(r["mid_step"] == k // 2 for r in rows)
    np.testing.assert_allclose([r["mid_rate"] for r in rows], opt.learning_rates_at(k // 2))
    base = float(opt.learning_rates_at(k)[0])
    # Reach step: the first iteration where the rate is >= base * (1 - 1e-6).
    for j, row in enumerate(rows):
        rates = np.array([opt.learning_rates_at(t)[j] for t in range(k + 1)])
        expected = int(np.argmax(rates >= base * (1 - 1e-6)))
        assert row["reach_step"] == expected
        if schedule != "stepwise":
            assert row["reach_step"] == (0 if j == 0 else k)
    if schedule == "stepwise":
        reach = [r["reach_step"] for r in rows]
        assert reach == sorted(reach) and 0 < reach[1] < k and reach[-1] <= k


def test_table_prints_and_returns():
    model = _model()
    opt = _lerac(model)
    printed = []
    table = plan(model, opt, print_fn=printed.append)
    assert printed == [table]
    rows = plan_rows(model, opt)
    lines = table.splitlines()
    assert "K=100" in table and "exponential" in table and "Rate at 50" in table
    for row in rows:
        line = next(lyr for lyr in lines if lyr.split()[:2] == [str(row["bucket"]), row["layers"][0]])
        assert f"{row['start_rate']:.3e}" in line
        assert f"{row['mid_rate']:.3e}" in line
        assert line.split()[-1] == str(row["reach_step"])


def test_plan_reads_the_models_optimizer():
    model = _model()
    opt = _lerac(model)
    model.compile(optimizer=opt, loss="mse")
    printed = []
    assert plan(model, print_fn=printed.append) == printed[0] == plan(model, opt, print_fn=lambda _: None)


def test_without_model_uses_variable_paths():
    # No model anywhere: LeRaC cuts the variables by their paths (one bucket per top-level
    # layer, in the list's order), and the plan names the layers from those paths.
    model = _model()
    opt = _lerac(None)
    opt.build(model.trainable_variables)
    rows = plan_rows(None, opt)
    assert [r["layers"] for r in rows] == [["conv"], ["bn"], ["fc"], ["head"]]
    assert [r["variables"] for r in rows] == [
        ["conv/kernel", "conv/bias"],
        ["bn/gamma", "bn/beta"],
        ["fc/kernel", "fc/bias"],
        ["head/kernel", "head/bias"],
    ]
    assert "LeRaC curriculum plan" in plan(None, opt, print_fn=lambda s: None)


def test_many_layers_are_abbreviated():
    inputs = keras.Input((4,))
    branches = [keras.layers.Dense(2, name=f"a_rather_long_branch_name_{i}")(inputs) for i in range(6)]
    x = keras.layers.Concatenate()(branches)
    model = keras.Model(inputs, keras.layers.Dense(2, name="head")(x))
    opt = _lerac(model)
    table = plan(model, opt, print_fn=lambda s: None)
    assert "(+" in table
    assert len(plan_rows(model, opt)[0]["layers"]) == 6


def test_model_optimizer_and_loss_scale_wrapper():
    keras.mixed_precision.set_global_policy("mixed_float16")
    model = _model()
    opt = _lerac(model)
    model.compile(optimizer=opt, loss="mse")
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    assert plan_rows(model, model.optimizer) == plan_rows(model, None)


def test_errors():
    model = _model()
    without_model = keras_lerac.LeRaC(keras.optimizers.SGD(0.1), min_learning_rate=1e-4, curriculum_steps=10)
    with pytest.raises(ValueError, match="not built"):
        plan_rows(None, without_model)
    with pytest.raises(TypeError, match="not a LeRaC"):
        plan_rows(model, keras.optimizers.SGD())
    unbuilt = keras.Sequential([keras.layers.Dense(2)])
    opt = keras_lerac.LeRaC(keras.optimizers.SGD(0.1), min_learning_rate=1e-4, curriculum_steps=10)
    with pytest.raises(ValueError, match="is not built"):
        plan_rows(unbuilt, opt)
