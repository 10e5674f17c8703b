"""The paired A/B comparison (keras_lerac.experiments.paired): pairing, statistics, inputs, outputs."""

import io
import json
import sys

import keras
import numpy as np
import pytest

from keras_lerac.experiments import comparison, inputs, paired, pairing, report, stats
from keras_lerac.experiments.progress import Progress


def _mlp(inputs=6, classes=3, softmax=False):
    def build():
        x_in = keras.Input((inputs,))
        h = keras.layers.Dense(8, activation="relu", name="hidden")(x_in)
        out = keras.layers.Dense(classes, activation="softmax" if softmax else None, name="head")(h)
        return keras.Model(x_in, out)

    return build


def _cnn():
    x_in = keras.Input((6, 6, 1))
    h = keras.layers.Conv2D(4, 3, padding="same", name="conv")(x_in)
    h = keras.layers.GlobalAveragePooling2D()(h)
    return keras.Model(x_in, keras.layers.Dense(3, name="head")(h))


def _frozen_probe():
    """A model whose trainable weights get zero gradients: training never changes it.

    Its loss on a batch depends on the initial weights (the frozen layer's) and on the
    batch only, so every regime of a seed logs the same per-batch losses exactly when
    the runs are paired (same initial weights, same batches in the same order).
    """
    x_in = keras.Input((6,))
    frozen = keras.layers.Dense(3, name="frozen")
    frozen.trainable = False
    trained = keras.layers.Dense(3, name="trained")
    muted = keras.layers.Rescaling(0.0)(trained(keras.layers.Dense(4, name="first")(x_in)))
    return keras.Model(x_in, keras.layers.Add()([frozen(x_in), muted]))


def _data(n=48, inputs=6, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, inputs)).astype("float32")
    y = np.argmax(x[:, :classes], axis=1).astype("int32")
    return x, y


class _BatchLosses(keras.callbacks.Callback):
    def __init__(self, store):
        super().__init__()
        self.store = store

    def on_train_batch_end(self, batch, logs=None):
        self.store.append(float(logs["loss"]))


def _run(build, train, test=None, regimes=("conventional", "lerac"), **kwargs):
    losses: dict = {}

    def callbacks(regime, seed):
        return [_BatchLosses(losses.setdefault((regime, seed), []))]

    result = paired.compare_regimes(
        build,
        train,
        test if test is not None else _data(16, seed=1),
        optimizer=keras.optimizers.SGD(0.1, momentum=0.9),
        regimes=regimes,
        epochs=kwargs.pop("epochs", 2),
        seeds=kwargs.pop("seeds", 2),
        batch_size=kwargs.pop("batch_size", 16),
        callbacks=callbacks,
        progress=False,
        **kwargs,
    )
    return result, losses


# --------------------------------------------------------------------------- pairing
def test_arrays_pair_initial_weights_and_batch_order_across_regimes():
    result, _ = _run(_mlp(), _data())
    conv, lerac = result.regimes["conventional"], result.regimes["lerac"]
    assert conv["init_hash"] == lerac["init_hash"] and conv["order_hash"] == lerac["order_hash"]
    # ... and each seed has its own weights and order.
    assert len(set(conv["init_hash"])) == 2 and len(set(conv["order_hash"])) == 2
    # The recorded hash is that of the model the builder makes with the seed.
    keras.utils.set_random_seed(1)
    assert conv["init_hash"][1] == paired.weights_hash(_mlp()().get_weights())


def test_paired_runs_see_the_same_batches_end_to_end():
    # The frozen probe's per-batch losses depend on init and batch order only: equal across
    # regimes of a seed when the runs are paired, different across seeds.
    _, losses = _run(_frozen_probe, _data())
    for seed in (0, 1):
        assert len(losses[("conventional", seed)]) == 2 * 3  # 2 epochs of 3 batches
        assert losses[("conventional", seed)] == losses[("lerac", seed)]
        # A fresh permutation each epoch: the second epoch's batches are not the first's.
        assert losses[("conventional", seed)][:3] != losses[("conventional", seed)][3:]
    assert losses[("conventional", 0)] != losses[("conventional", 1)]


def test_a_broken_batch_order_is_caught(monkeypatch):
    # If a regime's batches came from another generator, the per-seed check fails loudly.
    original = pairing._paired_batches_class
    calls = []

    def unpaired():
        cls = original()

        class Unpaired(cls):
            def __init__(self, x, y, batch_size, seed, epochs):
                calls.append(seed)
                super().__init__(x, y, batch_size, seed + 1000 * len(calls), epochs)

        return Unpaired

    monkeypatch.setattr(pairing, "_paired_batches_class", unpaired)
    with pytest.raises(paired.PairingError, match="different batches"):
        _run(_mlp(), _data(), seeds=1, epochs=1)


def test_broken_initial_weights_are_caught(monkeypatch):
    # The second regime's model does not get the seed's weights: one of them is off by
    # 1e-3 (as a `set_weights` that skips or mangles a variable would leave it).
    original = keras.Model.set_weights
    calls = []

    def mangling(self, weights):
        original(self, weights)
        calls.append(1)
        if len(calls) == 2:
            self.weights[0].assign(self.weights[0] + 1e-3)

    monkeypatch.setattr(keras.Model, "set_weights", mangling)
    with pytest.raises(paired.PairingError, match="initial weights") as caught:
        _run(_mlp(), _data(), seeds=1, epochs=1)
    assert "lerac" in str(caught.value) and len(calls) == 2


def test_py_dataset_is_served_in_order_and_its_batches_hashed():
    x, y = _data()

    class Batches(keras.utils.PyDataset):
        def __init__(self, shuffle_rng=None):
            super().__init__()
            self.order = np.arange(len(x))
            self.rng = shuffle_rng

        def __len__(self):
            return 3

        def __getitem__(self, i):
            rows = self.order[i * 16 : (i + 1) * 16]
            return x[rows], y[rows]

        def on_epoch_end(self):
            if self.rng is not None:
                self.order = self.rng.permutation(len(x))

    # A seeded dataset per seed (a function seed -> dataset): paired.
    result, losses = _run(_frozen_probe, lambda seed: Batches(np.random.default_rng(seed)))
    conv, lerac = result.regimes["conventional"], result.regimes["lerac"]
    assert conv["order_hash"] == lerac["order_hash"] and None not in conv["order_hash"]
    for seed in (0, 1):
        assert losses[("conventional", seed)] == losses[("lerac", seed)]
    # One dataset object reshuffling from a generator nobody re-seeds: the regimes of a seed
    # see different second epochs, and the check says so.
    with pytest.raises(paired.PairingError, match="different batches"):
        _run(_mlp(), Batches(np.random.default_rng(0)), seeds=1)


def test_tf_data_from_a_seeded_function_is_paired():
    import tensorflow as tf

    x, y = _data()

    def make(seed):
        return tf.data.Dataset.from_tensor_slices((x, y)).shuffle(48, seed=seed).batch(16)

    result, losses = _run(_frozen_probe, make)
    assert result.regimes["lerac"]["order_hash"] == [None, None]  # not hashed: documented
    for seed in (0, 1):
        assert len(losses[("conventional", seed)]) == 6
        assert losses[("conventional", seed)] == losses[("lerac", seed)]
    assert losses[("conventional", 0)] != losses[("conventional", 1)]


def test_a_keras_file_gives_the_architecture_with_fresh_weights_per_seed(tmp_path):
    path = tmp_path / "m.keras"
    keras.utils.set_random_seed(123)  # not one of the comparison's seeds
    model = _mlp()()
    model.save(path)
    result, _ = _run(str(path), _data(), regimes=("conventional",), epochs=1)
    hashes = result.regimes["conventional"]["init_hash"]
    assert len(set(hashes)) == 2 and paired.weights_hash(model.get_weights()) not in hashes
    kept, _ = _run(str(path), _data(), regimes=("conventional",), epochs=1, reinitialize=False)
    assert kept.regimes["conventional"]["init_hash"] == [paired.weights_hash(model.get_weights())] * 2


# --------------------------------------------------------------------------- statistics
def test_statistics_are_the_paired_differences():
    result, _ = _run(_mlp(), _data(), regimes=("conventional", "lerac"), curriculum_steps=4)
    scores = {r: e["scores"] for r, e in result.regimes.items()}
    expected = stats.paired_difference(scores["lerac"], scores["conventional"])
    expected.update(p_holm=expected["p"], significant_holm=None)  # one contrast, 2 seeds: no p
    assert result.differences == {"lerac - conventional": expected}
    for entry in result.regimes.values():
        assert entry["mean"] == pytest.approx(np.mean(entry["scores"]))
        assert entry["std"] == pytest.approx(np.std(entry["scores"], ddof=1))
    assert result.settings["curriculum"]["curriculum_steps"] == 4


def test_differences_compare_to_conventional_and_lerac_to_warmup():
    results = {
        "conventional": {"scores": [0.5, 0.6, 0.7]},
        "warmup": {"scores": [0.6, 0.6, 0.6]},
        "lerac": {"scores": [0.7, 0.6, 0.8]},
        "anti": {"scores": [0.4, 0.6, 0.7]},
    }
    out = comparison._differences(results, greater_is_better=True)
    assert list(out) == [
        "warmup - conventional",
        "lerac - conventional",
        "anti - conventional",
        "lerac - warmup",
    ]
    expected = stats.paired_difference([0.7, 0.6, 0.8], [0.6, 0.6, 0.6])
    assert {k: v for k, v in out["lerac - warmup"].items() if "holm" not in k} == expected
    # Holm over the four contrasts: the smallest p times 4, then step-down, never above 1.
    ps = [d["p"] for d in out.values()]
    assert [d["p_holm"] for d in out.values()] == stats.holm(ps)
    assert all(d["p_holm"] is None or d["p_holm"] >= d["p"] for d in out.values())
    assert (out["anti - conventional"]["wins"], out["anti - conventional"]["losses"]) == (0, 1)
    # A loss-like score: lower wins; the mean stays regime - reference.
    lower = comparison._differences(results, greater_is_better=False)
    assert (lower["anti - conventional"]["wins"], lower["anti - conventional"]["losses"]) == (1, 0)
    assert lower["anti - conventional"]["mean"] == out["anti - conventional"]["mean"]


def test_control_regimes_run_with_their_schedules():
    # warmup and anti are LeRaC(..., schedule="warmup"/"anti") with lerac's K and start ratio.
    seen = {}

    def before_fit(regime, seed, model, optimizer):
        seen[regime] = optimizer

    result = paired.compare_regimes(
        _mlp(),
        _data(),
        _data(16, seed=1),
        optimizer=keras.optimizers.SGD(0.1),
        regimes=["conventional", "warmup", "lerac", "anti"],
        epochs=1,
        seeds=2,
        batch_size=16,
        progress=False,
        before_fit=before_fit,
    )
    assert seen["warmup"].settings.schedule == "warmup" and seen["anti"].settings.schedule == "anti"
    assert seen["lerac"].settings.schedule == "exponential"
    assert (
        seen["warmup"].settings.curriculum_steps
        == seen["lerac"].settings.curriculum_steps
        == seen["anti"].settings.curriculum_steps
    )
    assert set(result.differences) == {
        "warmup - conventional",
        "lerac - conventional",
        "anti - conventional",
        "lerac - warmup",
    }


def test_warmup_is_a_warm_up_on_a_one_bucket_model():
    # One bucket: LeRaC (and anti) equal conventional training bit for bit, warmup does not.
    def one_bucket():
        return keras.Sequential([keras.Input((6,)), keras.layers.Dense(3)])

    _, losses = _run(
        one_bucket,
        _data(),
        regimes=("conventional", "warmup", "lerac"),
        curriculum_steps=4,
        min_learning_rate=1e-3,
        seeds=1,
    )
    assert losses[("lerac", 0)] == losses[("conventional", 0)]
    assert losses[("warmup", 0)][0] == losses[("conventional", 0)][0]  # the same first batch
    assert losses[("warmup", 0)][1:] != losses[("conventional", 0)][1:]  # then a smaller step


def test_the_practitioners_warm_up_runs_as_a_regime():
    # linear_warmup is LeRaC(..., schedule="linear_warmup"): every bucket from 0, lerac's K.
    seen = {}

    def before_fit(regime, seed, model, optimizer):
        seen[regime] = optimizer

    result = paired.compare_regimes(
        _mlp(),
        _data(),
        _data(16, seed=1),
        optimizer=keras.optimizers.SGD(0.1),
        regimes=["conventional", "linear_warmup", "lerac"],
        epochs=1,
        seeds=2,
        batch_size=16,
        progress=False,
        before_fit=before_fit,
    )
    warm = seen["linear_warmup"]
    assert warm.settings.schedule == "linear_warmup"
    assert warm.settings.curriculum_steps == seen["lerac"].settings.curriculum_steps
    assert list(warm.curriculum.start_ratios) == [0.0] * len(seen["lerac"].curriculum.start_ratios)
    assert "linear_warmup - conventional" in result.differences
    assert "lerac - linear_warmup" in result.differences  # a warm-up control: lerac is compared with it


# --------------------------------------------------------------------------- inputs
@pytest.mark.parametrize(
    "case, message",
    [
        ("x_shape", "x has examples of shape (5,) but the model takes (6,)"),
        ("labels", "labels out of range"),
        ("cbs_on_mlp", "regime 'cbs' cannot run on this model"),
        ("regime", "unknown regime 'magic'"),
        ("not_a_model", "is not a loadable Keras model"),
        ("test_shape", "test data: x has examples of shape (7,)"),
    ],
)
def test_bad_input_is_a_one_line_error_before_training(case, message, tmp_path):
    x, y = _data()
    build, regimes, train, test = _mlp(), ["conventional", "lerac"], (x, y), _data(16, seed=1)
    if case == "x_shape":
        train = (x[:, :5], y)
    elif case == "labels":
        train = (x, y + 1)
    elif case == "cbs_on_mlp":
        regimes = ["conventional", "cbs"]
    elif case == "regime":
        regimes = ["conventional", "magic"]
    elif case == "not_a_model":
        build = tmp_path / "junk.keras"
        build.write_bytes(b"not a zip file")
        build = str(build)
    elif case == "test_shape":
        test = (np.zeros((4, 7), "float32"), np.zeros(4, "int32"))
    fits = []
    with pytest.raises(paired.InputError) as info:
        paired.compare_regimes(
            build,
            train,
            test,
            optimizer=keras.optimizers.SGD(0.1),
            regimes=regimes,
            epochs=1,
            seeds=1,
            progress=False,
            before_fit=lambda *a: fits.append(a),
        )
    text = str(info.value)
    assert message in text and "\n" not in text
    assert fits == []  # nothing compiled, nothing trained


def test_npz_missing_a_key(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, x_train=np.zeros((2, 3)), y_train=np.zeros(2), x_test=np.zeros((2, 3)))
    with pytest.raises(paired.InputError, match="has no y_test"):
        paired.load_npz(str(path))


def test_default_loss_follows_the_head_and_the_labels():
    logits, probs = _mlp()(), _mlp(softmax=True)()
    sparse = inputs._default_loss(logits, np.array([0, 1]))
    assert isinstance(sparse, keras.losses.SparseCategoricalCrossentropy) and sparse.from_logits
    assert not inputs._default_loss(probs, np.array([0, 1])).from_logits
    assert isinstance(inputs._default_loss(logits, np.eye(3)), keras.losses.CategoricalCrossentropy)


def test_cbs_runs_on_a_conv_model():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(32, 6, 6, 1)).astype("float32"), rng.integers(0, 3, 32).astype("int32")
    result = paired.compare_regimes(
        _cnn,
        (x, y),
        (x[:8], y[:8]),
        optimizer=keras.optimizers.SGD(0.1),
        regimes=["conventional", "cbs"],
        epochs=1,
        seeds=2,
        batch_size=16,
        progress=False,
    )
    assert result.regimes["cbs"]["init_hash"] == result.regimes["conventional"]["init_hash"]
    assert "sigma" in result.regimes["cbs"]["curves"][0]
    assert "cbs" in paired.problems(["conventional", "cbs"], _mlp()) and paired.problems(["cbs"], _cnn) == {}


# --------------------------------------------------------------------------- outputs
def test_writes_results_json_and_plots(tmp_path, monkeypatch):
    import keras_lerac.plotting

    spans = []
    original = keras_lerac.plotting.plot_planned_rates

    def spy(steps, rates, k, schedule, **kwargs):
        spans.append((steps[-1], k))
        return original(steps, rates, k, schedule, **kwargs)

    monkeypatch.setattr(keras_lerac.plotting, "plot_planned_rates", spy)
    result, _ = _run(_mlp(), _data(), epochs=2, output=str(tmp_path))
    record = json.loads((tmp_path / "results.json").read_text())
    assert record["regimes"]["lerac"]["scores"] == result.regimes["lerac"]["scores"]
    assert record["differences"]["lerac - conventional"]["n"] == 2
    assert record["settings"]["total_steps"] == 6 and record["settings"]["score"] == "accuracy"
    for png in ("accuracy.png", "curriculum.png"):
        assert (tmp_path / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    k = result.settings["curriculum"]["curriculum_steps"]
    assert spans == [(report.curriculum_plot_steps(k, 6), k)]
    assert "lerac - conventional" in result.table()


def test_curriculum_plot_shows_the_curriculum_not_the_whole_run():
    # make demo: K = 13 of 516 steps; the plot spans 3 K, not the run.
    assert report.curriculum_plot_steps(13, 516) == 39
    assert report.curriculum_plot_steps(200, 300) == 300  # never past the run
    assert report.curriculum_plot_steps(1, 516) == report.CURRICULUM_PLOT_MIN


def test_progress_plain_lines_without_a_terminal():
    stream = io.StringIO()
    bar = Progress(3, stream=stream)
    bar.advance("conventional seed 0")
    bar.advance()
    bar.advance("done")
    bar.close()
    lines = stream.getvalue().splitlines()
    assert (
        lines[0].startswith("[1/3 runs, elapsed")
        and "left]" in lines[0]
        and "conventional seed 0" in lines[0]
    )
    assert lines[2].startswith("[3/3 runs") and "left" not in lines[2]
    assert "\r" not in stream.getvalue() and "\x1b" not in stream.getvalue()


def test_progress_bar_on_a_terminal():
    stream = io.StringIO()
    bar = Progress(2, stream=stream, tty=True)
    bar.advance("one")
    bar.write("a note")
    bar.advance()
    bar.close()
    text = stream.getvalue()
    assert "\r[" in text and "1/2 runs" in text and "2/2 runs" in text
    assert "one\n" in text and "a note\n" in text and text.endswith("\n")


def test_no_progress_writes_nothing_even_on_a_terminal(monkeypatch):
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    stream = Terminal()
    monkeypatch.setattr(sys, "stdout", stream)
    _run(_mlp(), _data(), regimes=("conventional",), seeds=1, epochs=1)
    assert "runs" not in stream.getvalue()
