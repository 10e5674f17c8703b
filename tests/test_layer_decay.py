"""Layer-wise rate decay (LLRD) from the same machinery: fixed per-bucket factors."""

import keras
import numpy as np
import pytest
from helpers import classification_data, mlp

from keras_lerac import CurriculumLogger, LeRaC, plan, plan_rows


def test_layer_decay_alone_gives_fixed_rates_decaying_from_the_head():
    model = mlp(depth=4)  # 4 buckets
    opt = LeRaC(keras.optimizers.SGD(0.1), layer_decay=0.5, curriculum_steps=0, model=model)
    opt.build(model.trainable_variables)
    for step in (0, 7, 1000):
        assert opt.learning_rates_at(step) == pytest.approx([0.0125, 0.025, 0.05, 0.1])


def test_layer_decay_applies_to_the_update():
    variables = [keras.Variable(np.zeros((2,), "float32"), name=f"v{j}") for j in range(3)]
    opt = LeRaC(
        keras.optimizers.SGD(0.1),
        min_learning_rate=1e-3,
        curriculum_steps=4,
        layer_decay=0.8,
        buckets=[[v] for v in variables],
    )
    opt.build(variables)
    for t in range(6):
        planned = opt.learning_rates_at(t)
        factors = [0.64, 0.8, 1.0]
        ramp = [r ** (1 - min(t / 4, 1)) for r in (1.0, 1e-1, 1e-2)]  # start ratios 1 .. 1e-2
        assert planned == pytest.approx([0.1 * f * m for f, m in zip(factors, ramp)], rel=1e-6)
        before = [keras.ops.convert_to_numpy(v)[0] for v in variables]
        opt.apply([keras.ops.ones((2,))] * 3, variables)
        moved = [b - keras.ops.convert_to_numpy(v)[0] for b, v in zip(before, variables)]
        np.testing.assert_allclose(moved, planned, rtol=2e-4)


def test_layer_decay_in_fit_logger_plan_and_save(tmp_path):
    x, y = classification_data(n=32)
    model = mlp(depth=3)
    opt = LeRaC(keras.optimizers.Adam(0.01), layer_decay=0.5, curriculum_steps=0, model=model)
    model.compile(optimizer=opt, loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    history = model.fit(x, y, batch_size=16, epochs=2, verbose=0, callbacks=[CurriculumLogger()])
    assert [history.history[f"lr_bucket_{j}"][-1] for j in range(3)] == pytest.approx([0.0025, 0.005, 0.01])
    np.testing.assert_allclose(opt.current_learning_rates(), [0.0025, 0.005, 0.01], rtol=1e-5)
    rows = plan_rows(model, opt)
    assert [r["layer_factor"] for r in rows] == pytest.approx([0.25, 0.5, 1.0])
    table = plan(model, opt, print_fn=lambda _: None)
    assert "layer_decay=0.5" in table and "Layer factor" in table
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert loaded.optimizer.settings.layer_decay == 0.5
    assert loaded.optimizer.learning_rates_at(4) == pytest.approx([0.0025, 0.005, 0.01])
    for a, b in zip(opt.variables, loaded.optimizer.variables):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b))


@pytest.mark.parametrize("decay, error", [(0.0, ValueError), (1.5, ValueError), ("0.5", TypeError)])
def test_bad_layer_decay(decay, error):
    with pytest.raises(error, match="layer_decay"):
        LeRaC(keras.optimizers.SGD(0.1), layer_decay=decay, curriculum_steps=0)


def test_a_curriculum_still_needs_its_start_rates():
    with pytest.raises(ValueError, match="min_learning_rate.*curriculum_steps=0"):
        LeRaC(keras.optimizers.SGD(0.1), layer_decay=0.5, curriculum_steps=10)
