"""CurriculumLogger: epoch-end rates in the logs, CSV columns, step records."""

import csv
import warnings

import keras
import numpy as np
import pytest
from conftest import BACKEND

import keras_lerac
from keras_lerac import CurriculumLogger, find_lerac


def _model():
    inputs = keras.Input((6,))
    x = keras.layers.Dense(8, activation="relu", name="d1")(inputs)
    x = keras.layers.Dense(8, activation="relu", name="d2")(x)
    return keras.Model(inputs, keras.layers.Dense(3, name="head")(x))


def _data(n=40, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 6)).astype("float32")
    y = rng.integers(0, 3, size=n).astype("int32")
    return x, y


def _compiled(curriculum_steps=12, schedule="exponential", steps_per_execution=1, **kwargs):
    model = _model()
    opt = keras_lerac.LeRaC(
        keras.optimizers.SGD(0.1, momentum=0.9),
        min_learning_rate=1e-5,
        curriculum_steps=curriculum_steps,
        schedule=schedule,
        model=model,
        **kwargs,
    )
    model.compile(
        optimizer=opt,
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        steps_per_execution=steps_per_execution,
    )
    return model, opt


class _IterationsAtEpochEnd(keras.callbacks.Callback):
    """Reads the optimizer's real step count at each epoch end (synced on every backend)."""

    def __init__(self):
        super().__init__()
        self.steps = []

    def on_epoch_end(self, epoch, logs=None):
        self.steps.append(int(keras.ops.convert_to_numpy(self.model.optimizer.iterations)))


SPE = [1] if BACKEND == "torch" else [1, 3]  # torch requires steps_per_execution == 1


@pytest.mark.parametrize("steps_per_execution", SPE)
@pytest.mark.parametrize("schedule", ["exponential", "stepwise"])
def test_epoch_logs_equal_host_schedule(steps_per_execution, schedule):
    model, opt = _compiled(schedule=schedule, steps_per_execution=steps_per_execution)
    x, y = _data(40)  # batch 8: 5 steps per epoch (a partial last execution with 3)
    logger, probe = CurriculumLogger(), _IterationsAtEpochEnd()
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="CurriculumLogger counted")  # no resync needed
        history = model.fit(x, y, batch_size=8, epochs=4, verbose=0, callbacks=[logger, probe])
    assert probe.steps == [5, 10, 15, 20]
    n = len(opt.buckets)
    assert n == 3
    for epoch, step in enumerate(probe.steps):
        expected = opt.learning_rates_at(step - 1)  # the rates of the epoch's last update
        got = [history.history[f"lr_bucket_{j}"][epoch] for j in range(n)]
        np.testing.assert_allclose(got, expected, rtol=1e-12)
    # During the curriculum the rates differ per bucket; after it they are all the base rate.
    assert history.history["lr_bucket_2"][0] < history.history["lr_bucket_0"][0]
    np.testing.assert_allclose([history.history[f"lr_bucket_{j}"][-1] for j in range(n)], 0.1, rtol=1e-6)
    assert logger.step == 20


class _LiveRates(keras.callbacks.Callback):
    """Reads every bucket's rate from the live optimizer state before each step."""

    def __init__(self):
        super().__init__()
        self.rates = []

    def on_train_batch_begin(self, batch, logs=None):
        self.rates.append(find_lerac(self.model.optimizer).current_learning_rates())


def test_logged_rates_are_the_live_rates_of_the_last_update():
    model, opt = _compiled(curriculum_steps=50)
    x, y = _data(40)
    live = _LiveRates()
    history = model.fit(x, y, batch_size=8, epochs=2, verbose=0, callbacks=[CurriculumLogger(), live])
    for epoch in range(2):
        logged = [history.history[f"lr_bucket_{j}"][epoch] for j in range(3)]
        np.testing.assert_allclose(logged, live.rates[5 * epoch + 4], rtol=1e-5)


def test_csv_logger_gets_bucket_columns(tmp_path):
    model, opt = _compiled()
    x, y = _data(40)
    path = tmp_path / "log.csv"
    model.fit(
        x,
        y,
        batch_size=8,
        epochs=3,
        verbose=0,
        validation_data=_data(16, seed=1),
        callbacks=[CurriculumLogger(), keras.callbacks.CSVLogger(str(path))],
    )
    with open(path) as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 3
    for j in range(3):
        assert f"lr_bucket_{j}" in rows[0]
    for epoch, row in enumerate(rows):
        expected = opt.learning_rates_at(5 * (epoch + 1) - 1)
        np.testing.assert_allclose([float(row[f"lr_bucket_{j}"]) for j in range(3)], expected, rtol=1e-9)


@pytest.mark.parametrize("steps_per_execution", SPE)
def test_every_n_steps_records_expected_steps(steps_per_execution):
    model, opt = _compiled(steps_per_execution=steps_per_execution)
    x, y = _data(40)
    logger = CurriculumLogger(every_n_steps=4)
    model.fit(x, y, batch_size=8, epochs=3, verbose=0, callbacks=[logger])
    steps = [s for s, _ in logger.history]
    assert steps == [0, 4, 8, 12]
    for s, rates in logger.history:
        assert rates == opt.learning_rates_at(s)
    # A second fit continues from the optimizer's step count (updates 15 to 19 ran).
    model.fit(x, y, batch_size=8, epochs=1, verbose=0, callbacks=[logger])
    assert [s for s, _ in logger.history] == [0, 4, 8, 12, 16]


def test_plot_at_train_end(tmp_path):
    pytest.importorskip("matplotlib")
    model, _ = _compiled()
    x, y = _data(16)
    path = tmp_path / "curriculum.png"
    model.fit(x, y, batch_size=8, epochs=1, verbose=0, callbacks=[CurriculumLogger(plot_path=str(path))])
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_mixed_precision_loss_scale_optimizer():
    keras.mixed_precision.set_global_policy("mixed_float16")
    model, opt = _compiled()
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    assert find_lerac(model.optimizer) is opt
    x, y = _data(40)
    history = model.fit(x, y, batch_size=8, epochs=1, verbose=0, callbacks=[CurriculumLogger()])
    step = int(keras.ops.convert_to_numpy(opt.iterations))
    np.testing.assert_allclose(
        [history.history[f"lr_bucket_{j}"][0] for j in range(3)], opt.learning_rates_at(step - 1), rtol=1e-12
    )


def test_not_lerac_is_a_clear_error():
    model = _model()
    model.compile(optimizer="sgd", loss="mse")
    x, y = _data(8)
    with pytest.raises(TypeError, match="not a LeRaC optimizer"):
        model.fit(x, np.eye(3)[y], epochs=1, verbose=0, callbacks=[CurriculumLogger()])


def test_bad_every_n_steps():
    with pytest.raises(ValueError, match="every_n_steps"):
        CurriculumLogger(every_n_steps=0)
