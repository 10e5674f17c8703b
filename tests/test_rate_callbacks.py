"""Keras' rate callbacks drive LeRaC: they scale the base rate, the curriculum runs beneath."""

import csv

import keras
import numpy as np
import pytest
import tensorboard_events
from helpers import classification_data, mlp

from keras_lerac import CurriculumLogger, LeRaC

LOSS = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
X, Y = classification_data(n=32)  # 2 steps per epoch at batch 16


def compiled(curriculum_steps=20, base=0.05):
    keras.utils.set_random_seed(4)
    model = mlp(depth=3)
    opt = LeRaC(
        keras.optimizers.SGD(base, momentum=0.9),
        min_learning_rate=1e-4,
        curriculum_steps=curriculum_steps,
        model=model,
    )
    model.compile(optimizer=opt, loss=LOSS)
    return model, opt


def always_reduce():
    # Halves the rate at every epoch end after the first (which only sets the best loss):
    # the loss never improves by 100.
    return keras.callbacks.ReduceLROnPlateau(monitor="loss", factor=0.5, patience=0, min_delta=100.0)


def halve_at_1_and_3():
    # Epoch-indexed, so it holds no state of its own that a backup would have to keep.
    return keras.callbacks.LearningRateScheduler(lambda epoch, lr: lr * 0.5 if epoch in (1, 3) else lr)


def live_and_planned(opt):
    step = int(keras.ops.convert_to_numpy(opt.iterations))
    return np.array(opt.current_learning_rates()), np.array(opt.learning_rates_at(step))


@pytest.mark.parametrize("curriculum_steps", [20, 1], ids=["during", "after"])
def test_reduce_lr_on_plateau_scales_every_bucket_by_the_same_factor(curriculum_steps):
    model, opt = compiled(curriculum_steps)
    history = model.fit(X, Y, batch_size=16, epochs=3, verbose=0, callbacks=[always_reduce()])
    # Two halvings: every bucket's live rate is 0.25 x its planned rate at this step.
    assert opt.rate_scale == pytest.approx(0.25)
    live, planned = live_and_planned(opt)
    np.testing.assert_allclose(live, 0.25 * planned, rtol=1e-5)
    # The callback logs the base rate each epoch ran with.
    assert history.history["learning_rate"] == pytest.approx([0.05, 0.05, 0.025])


def test_the_applied_update_uses_the_scaled_rates():
    # Plain SGD (no momentum) moves a variable by rate * gradient: the applied rate shows.
    variables = [keras.Variable(np.zeros((2,), "float32"), name=f"v{j}") for j in range(3)]
    opt = LeRaC(
        keras.optimizers.SGD(0.1),
        min_learning_rate=1e-4,
        curriculum_steps=6,
        buckets=[[v] for v in variables],
    )
    opt.build(variables)
    opt.apply([keras.ops.ones((2,))] * 3, variables)
    opt.learning_rate = 0.025  # what ReduceLROnPlateau does: a quarter of the base rate
    before = [keras.ops.convert_to_numpy(v)[0] for v in variables]
    opt.apply([keras.ops.ones((2,))] * 3, variables)
    moved = [b - keras.ops.convert_to_numpy(v)[0] for b, v in zip(before, variables)]
    np.testing.assert_allclose(moved, [0.25 * r for r in opt.learning_rates_at(1)], rtol=2e-4)


def test_learning_rate_scheduler_sees_and_sets_the_base_rate():
    base = keras.optimizers.schedules.PiecewiseConstantDecay([2], [0.05, 0.02])
    model, opt = compiled(curriculum_steps=20, base=base)
    seen = []

    def schedule(epoch, lr):
        seen.append(lr)
        return lr * 0.5 if epoch == 2 else lr

    model.fit(
        X, Y, batch_size=16, epochs=3, verbose=0, callbacks=[keras.callbacks.LearningRateScheduler(schedule)]
    )
    # The base rate the user knows: the schedule's value at the epoch's first step (0, 2, 4).
    assert seen == pytest.approx([0.05, 0.05, 0.02])
    assert opt.rate_scale == pytest.approx(0.5)
    live, planned = live_and_planned(opt)
    np.testing.assert_allclose(live, 0.5 * planned, rtol=1e-5)


def test_the_scale_survives_save_and_load(tmp_path):
    model, opt = compiled()
    model.fit(X, Y, batch_size=16, epochs=3, verbose=0, callbacks=[always_reduce()])
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert loaded.optimizer.rate_scale == pytest.approx(0.25)
    np.testing.assert_allclose(
        loaded.optimizer.current_learning_rates(), opt.current_learning_rates(), rtol=1e-6
    )


class StopAt(keras.callbacks.Callback):
    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            raise RuntimeError("interrupted")


def test_backup_and_restore_resumes_with_the_scale(tmp_path):
    fit = dict(batch_size=16, epochs=4, verbose=0, shuffle=False)
    straight, straight_opt = compiled()
    straight.fit(X, Y, callbacks=[halve_at_1_and_3()], **fit)

    backup = str(tmp_path / "backup")
    model, _ = compiled()
    with pytest.raises(RuntimeError, match="interrupted"):
        model.fit(
            X, Y, callbacks=[halve_at_1_and_3(), keras.callbacks.BackupAndRestore(backup), StopAt(2)], **fit
        )
    resumed, resumed_opt = compiled()
    resumed.fit(X, Y, callbacks=[halve_at_1_and_3(), keras.callbacks.BackupAndRestore(backup)], **fit)
    assert resumed_opt.rate_scale == pytest.approx(straight_opt.rate_scale) == pytest.approx(0.25)
    for a, b in zip(straight.get_weights(), resumed.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_tensorboard_logs_the_base_rate_and_the_scaled_bucket_rates(tmp_path):
    model, opt = compiled()
    # The logger first, so that TensorBoard (after it) sees its keys.
    callbacks = [CurriculumLogger(), keras.callbacks.TensorBoard(tmp_path), always_reduce()]
    model.fit(X, Y, batch_size=16, epochs=3, verbose=0, callbacks=callbacks)
    logged = tensorboard_events.scalars(tmp_path)
    # The base rate each epoch ran with: halved at every epoch end after the first.
    scales = [1.0, 1.0, 0.5]
    steps, base = zip(*logged["epoch_learning_rate"])
    assert steps == (0, 1, 2)
    np.testing.assert_allclose(base, [0.05 * s for s in scales], rtol=1e-6)
    # Each bucket: the epoch's scale times the planned rate of the epoch's last update.
    planned = [opt.learning_rates_at(2 * (epoch + 1) - 1) for epoch in range(3)]
    assert len({rates[-1] for rates in planned}) == 3  # the curriculum is running
    for j in range(len(planned[0])):
        steps, values = zip(*logged[f"epoch_lr_bucket_{j}"])
        assert steps == (0, 1, 2)
        expected = [s * rates[j] for s, rates in zip(scales, planned)]
        np.testing.assert_allclose(values, expected, rtol=1e-6, err_msg=f"bucket {j}")


def test_logger_logs_the_applied_rates_before_or_after_the_rate_callback(tmp_path):
    # ReduceLROnPlateau changes the scale at the epoch's end: the logger, before or after
    # it, logs the scale the epoch ran with. (CSVLogger after the logger: it sees its keys.)
    tables = {}
    for order in ("logger first", "rate callback first"):
        model, opt = compiled()
        logger = CurriculumLogger(every_n_steps=1)
        csv_logger = keras.callbacks.CSVLogger(str(tmp_path / f"{order}.csv"))
        reduce = always_reduce()
        callbacks = [logger, reduce, csv_logger] if order == "logger first" else [reduce, logger, csv_logger]
        history = model.fit(X, Y, batch_size=16, epochs=3, verbose=0, callbacks=callbacks)
        with open(tmp_path / f"{order}.csv") as f:
            table = list(csv.DictReader(f))
        assert [float(row["lr_bucket_2"]) for row in table] == pytest.approx(history.history["lr_bucket_2"])
        # Epochs 0 and 1 ran at the base rate, epoch 2 at half of it; the last update of
        # epoch e was step 2e + 1.
        for epoch, (row, scale) in enumerate(zip(table, (1.0, 1.0, 0.5))):
            expected = [scale * r for r in opt.learning_rates_at(2 * epoch + 1)]
            assert [float(row[f"lr_bucket_{j}"]) for j in range(3)] == pytest.approx(expected, rel=1e-6)
        assert [s for s, _ in logger.history] == list(range(6))
        assert logger.history[5][1] == pytest.approx([0.5 * r for r in opt.learning_rates_at(5)], rel=1e-6)
        tables[order] = [{k: v for k, v in row.items() if k.startswith("lr_bucket")} for row in table]
    assert tables["logger first"] == tables["rate callback first"]


@pytest.mark.parametrize(
    "make",
    [
        lambda: keras.optimizers.AdamW(0.01, weight_decay=0.5),
        lambda: keras.optimizers.SGD(0.05, weight_decay=0.3),
    ],
    ids=["AdamW", "SGD+weight_decay"],
)
def test_curriculum_off_under_a_rate_callback_is_the_plain_optimizer(make):
    # Weight decay included: it must use the scaled rate, as the plain optimizer's does.
    def run(optimizer):
        keras.utils.set_random_seed(4)
        model = mlp(depth=3)
        model.compile(optimizer=optimizer(model), loss=LOSS)
        model.fit(X, Y, batch_size=16, epochs=4, verbose=0, shuffle=False, callbacks=[halve_at_1_and_3()])
        return model.get_weights()

    plain = run(lambda model: make())
    lerac = run(lambda model: LeRaC(make(), curriculum_steps=0, model=model))
    for a, b in zip(plain, lerac):
        np.testing.assert_allclose(a, b, atol=1e-6, rtol=0)


def test_each_buckets_schedule_and_the_step_agree_to_the_bit_under_a_scale():
    # The rate product is written once (curriculum.bucket_rate): the vector the step uses,
    # each bucket optimizer's own schedule and the plan times the scale multiply alike.
    variables = [keras.Variable(np.zeros((2,), "float32"), name=f"v{j}") for j in range(5)]
    opt = LeRaC(
        keras.optimizers.SGD(0.1),
        min_learning_rate=1e-3,
        curriculum_steps=7,
        layer_decay=0.7,
        buckets=[[v] for v in variables],
    )
    opt.build(variables)
    for _ in range(3):
        opt.apply([keras.ops.ones((2,))] * 5, variables)
    opt.learning_rate = 0.1 * 0.37  # a scale that is not a power of two
    live = np.array(opt.current_learning_rates(), "float32")
    step = opt.iterations
    scheduled = [keras.ops.convert_to_numpy(o._learning_rate(step)) for o in opt.bucket_optimizers]
    np.testing.assert_array_equal(live, np.array(scheduled).astype("float32"))
