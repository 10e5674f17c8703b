"""LeRaC inside `model.fit`: compilation modes, save/resume, mixed precision, callbacks."""

import keras
import numpy as np
import pytest
import tensorboard_events
from conftest import BACKEND
from helpers import classification_data, mlp, residual_cnn

from keras_lerac import CurriculumLogger, LeRaC, find_lerac

LOSS = keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def compiled(model, jit_compile="auto", **kwargs):
    kwargs.setdefault("min_learning_rate", 1e-4)
    kwargs.setdefault("curriculum_steps", 6)
    opt = LeRaC(keras.optimizers.SGD(0.05, momentum=0.9), model=model, **kwargs)
    model.compile(optimizer=opt, loss=LOSS, jit_compile=jit_compile)
    return opt


def lerac_of(model):
    return find_lerac(model.optimizer)


@pytest.mark.parametrize("jit_compile", ["auto", True])
def test_fit_live_rates_follow_the_plan(jit_compile):
    if jit_compile is True and BACKEND == "torch":
        pytest.skip("torch: jit_compile=True means torch.compile, covered by test_torch_compile")
    x, y = classification_data(n=32)
    model = mlp(depth=3)
    opt = compiled(model, jit_compile=jit_compile)
    for epoch in range(4):  # 2 steps per epoch: t = 2, 4, 6, 8 crosses K = 6
        model.fit(x, y, batch_size=16, epochs=1, verbose=0, shuffle=False)
        step = int(keras.ops.convert_to_numpy(opt.iterations))
        assert step == 2 * (epoch + 1)
        np.testing.assert_allclose(opt.current_learning_rates(), opt.learning_rates_at(step), rtol=1e-5)
    assert opt.learning_rates_at(6) == pytest.approx([0.05] * 3)


@pytest.mark.skipif(BACKEND != "torch", reason="torch.compile is the torch backend's jit_compile")
@pytest.mark.slow
def test_torch_compile():
    x, y = classification_data(n=32)
    model = mlp(depth=2)
    opt = compiled(model, jit_compile=True)
    model.fit(x, y, batch_size=16, epochs=2, verbose=0, shuffle=False)
    np.testing.assert_allclose(opt.current_learning_rates(), opt.learning_rates_at(4), rtol=1e-5)


def test_save_and_resume_equals_uninterrupted_run(tmp_path):
    x, y = classification_data(n=48)

    def fresh():
        keras.utils.set_random_seed(1)
        model = residual_cnn()
        opt = compiled(model, curriculum_steps=5, schedule="exponential")
        return model, opt

    xi = np.random.default_rng(2).normal(size=(48, 8, 8, 3)).astype("float32")
    straight, _ = fresh()
    straight.fit(xi, y, batch_size=16, epochs=4, verbose=0, shuffle=False)

    first, opt = fresh()
    first.fit(xi, y, batch_size=16, epochs=2, verbose=0, shuffle=False)
    path = tmp_path / "m.keras"
    first.save(path)
    resumed = keras.saving.load_model(path)
    ropt = lerac_of(resumed)
    assert isinstance(ropt, LeRaC)
    assert int(keras.ops.convert_to_numpy(ropt.iterations)) == 6
    assert [len(b) for b in ropt.buckets] == [len(b) for b in opt.buckets]
    np.testing.assert_allclose(ropt.current_learning_rates(), opt.learning_rates_at(6), rtol=1e-5)
    for a, b in zip(opt.variables, ropt.variables):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b))
    resumed.fit(xi, y, batch_size=16, epochs=2, verbose=0, shuffle=False)
    for a, b in zip(straight.weights, resumed.weights):
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b), rtol=1e-5, atol=1e-6
        )


def test_saved_model_config_names_the_public_optimizer(tmp_path):
    model = mlp(depth=2)
    compiled(model)
    x, y = classification_data(n=16)
    model.fit(x, y, epochs=1, verbose=0)
    config = keras.optimizers.serialize(model.optimizer)
    assert config["config"]["optimizer"]["class_name"] == "SGD"
    assert config["config"]["bucket_assignment"] == [0, 0, 1, 1]


def test_mixed_float16():
    keras.mixed_precision.set_global_policy("mixed_float16")
    x, y = classification_data(n=32)
    model = mlp(depth=3)
    compiled(model)
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    history = model.fit(x, y, batch_size=16, epochs=2, verbose=0, shuffle=False)
    assert np.isfinite(history.history["loss"]).all()
    opt = lerac_of(model)
    step = int(keras.ops.convert_to_numpy(opt.iterations))
    assert step == 4
    np.testing.assert_allclose(opt.current_learning_rates(), opt.learning_rates_at(step), rtol=1e-5)


def test_tensorboard_logs_each_buckets_rate(tmp_path):
    x, y = classification_data(n=32)
    model = mlp(depth=3)
    opt = compiled(model)  # K = 6: 2 steps per epoch, so the curriculum ends in epoch 3
    callbacks = [CurriculumLogger(), keras.callbacks.TensorBoard(tmp_path)]  # the logger first (documented)
    model.fit(x, y, batch_size=16, epochs=4, verbose=0, shuffle=False, callbacks=callbacks)
    logged = tensorboard_events.scalars(tmp_path)
    assert len(opt.learning_rates_at(0)) == 3
    # Epoch e ends after 2 (e + 1) updates; its last update ran at step 2 (e + 1) - 1.
    planned = [opt.learning_rates_at(2 * (epoch + 1) - 1) for epoch in range(4)]
    assert planned[0][2] < planned[0][1] < planned[0][0]  # the curriculum shows in the plan
    for j in range(3):
        steps, values = zip(*logged[f"epoch_lr_bucket_{j}"])
        assert steps == (0, 1, 2, 3)
        np.testing.assert_allclose(values, [rates[j] for rates in planned], rtol=1e-6, err_msg=f"bucket {j}")
    assert [v for _, v in logged["epoch_learning_rate"]] == pytest.approx([0.05] * 4)


def test_base_schedule_runs_under_the_curriculum():
    x, y = classification_data(n=32)
    model = mlp(depth=2)
    base = keras.optimizers.schedules.PiecewiseConstantDecay([4], [0.1, 0.01])
    opt = LeRaC(keras.optimizers.SGD(base), min_learning_rate=1e-5, curriculum_steps=2, model=model)
    model.compile(optimizer=opt, loss=LOSS)
    model.fit(x, y, batch_size=16, epochs=3, verbose=0)
    assert opt.current_learning_rates() == pytest.approx([0.01, 0.01], rel=1e-5)


def test_frozen_layer_gets_no_bucket():
    model = mlp(depth=3)
    model.get_layer("hidden_1").trainable = False
    opt = compiled(model)
    x, y = classification_data(n=16)
    model.fit(x, y, epochs=1, verbose=0)
    assert [sorted({v.path.split("/")[0] for v in b}) for b in opt.buckets] == [["hidden_0"], ["head"]]


def test_tf_data_pipeline():
    import tensorflow as tf

    x, y = classification_data(n=32)
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(8)
    model = mlp(depth=2)
    opt = compiled(model)
    model.fit(ds, epochs=2, verbose=0)
    assert int(keras.ops.convert_to_numpy(opt.iterations)) == 8
