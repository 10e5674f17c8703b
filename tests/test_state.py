"""Every way optimizer state enters or leaves LeRaC: tracking, load_weights, config, callbacks."""

import warnings

import keras
import numpy as np
import pytest
from helpers import classification_data, mlp

from keras_lerac import LeRaC

LOSS = keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def numpy(values):
    return [keras.ops.convert_to_numpy(v) for v in values]


class HiddenCounter(keras.optimizers.SGD):
    """Keeps a step count in a variable that Keras' attribute tracking cannot see."""

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        object.__setattr__(self, "_stash", {"count": keras.Variable(0.0, name="hidden_count")})

    def update_step(self, gradient, variable, learning_rate):
        super().update_step(gradient, variable, learning_rate)
        if self._get_variable_index(variable) == 0:
            self.assign_add(self._stash["count"], 1.0)


def test_state_in_any_attribute_is_tracked_saved_and_carried(tmp_path):
    x, y = classification_data(n=32)
    model = mlp(depth=3)
    opt = LeRaC(HiddenCounter(0.05), min_learning_rate=1e-4, curriculum_steps=4, model=model)
    model.compile(optimizer=opt, loss=LOSS)
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)  # 4 steps
    counters = [inner._stash["count"] for inner in opt.bucket_optimizers]
    for counter in counters:
        assert any(v is counter for v in opt.variables)
    # Carried through the step on every backend (JAX's stateless step included) ...
    assert [float(c) for c in numpy(counters)] == [4.0, 4.0, 4.0]
    # ... and saved with the model.
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras", custom_objects={"HiddenCounter": HiddenCounter})
    assert [float(inner._stash["count"]) for inner in loaded.optimizer.bucket_optimizers] == [4.0, 4.0, 4.0]


def test_optimizer_variables_are_the_plain_optimizers_for_every_state_kind():
    # Nadam keeps a scalar outside its slots; Adafactor keeps placeholders for 1-D variables.
    for make in (lambda: keras.optimizers.Nadam(0.01), lambda: keras.optimizers.Adafactor(0.01)):
        model = mlp(depth=3)
        plain = make()
        plain.build(model.trainable_variables)
        opt = LeRaC(make(), min_learning_rate=1e-4, curriculum_steps=4, num_buckets=1, model=model)
        opt.build(model.trainable_variables)
        # The plain optimizer's variables, and the one scalar of the rate callbacks' scale.
        shapes = [tuple(v.shape) for v in opt.variables]
        assert shapes == [tuple(v.shape) for v in plain.variables[:2]] + [()] + [
            tuple(v.shape) for v in plain.variables[2:]
        ]


# ------------------------------------------------------------------ load_weights before build
def trained(path):
    x, y = classification_data(n=32)
    model = mlp(depth=3)
    opt = LeRaC(
        keras.optimizers.SGD(0.05, momentum=0.9), min_learning_rate=1e-4, curriculum_steps=8, model=model
    )
    model.compile(optimizer=opt, loss=LOSS)
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    model.save_weights(path)
    return numpy(opt.variables)


def test_load_weights_before_build_with_model_restores_everything(tmp_path):
    saved = trained(tmp_path / "w.weights.h5")
    model = mlp(depth=3)
    opt = LeRaC(
        keras.optimizers.SGD(0.05, momentum=0.9), min_learning_rate=1e-4, curriculum_steps=8, model=model
    )
    model.compile(optimizer=opt, loss=LOSS)
    assert not opt.built
    model.load_weights(tmp_path / "w.weights.h5")
    assert opt.built
    restored = numpy(opt.variables)
    assert int(restored[0]) == 4 and len(restored) == len(saved)
    for got, want in zip(restored, saved):
        np.testing.assert_array_equal(got, want)  # momentum of every bucket included


def test_load_weights_before_build_without_model_says_what_it_skipped(tmp_path):
    trained(tmp_path / "w.weights.h5")
    model = mlp(depth=3)
    opt = LeRaC(keras.optimizers.SGD(0.05, momentum=0.9), min_learning_rate=1e-4, curriculum_steps=8)
    model.compile(optimizer=opt, loss=LOSS)
    with pytest.warns(UserWarning, match="Skipping the state of LeRaC.*not built.*build"):
        model.load_weights(tmp_path / "w.weights.h5")
    # Nothing partial: the step count is not restored without the buckets' slots.
    assert int(keras.ops.convert_to_numpy(opt.iterations)) == 0


def test_load_weights_after_build_restores_everything(tmp_path):
    saved = trained(tmp_path / "w.weights.h5")
    model = mlp(depth=3)
    opt = LeRaC(keras.optimizers.SGD(0.05, momentum=0.9), min_learning_rate=1e-4, curriculum_steps=8)
    model.compile(optimizer=opt, loss=LOSS)
    opt.build(model.trainable_variables)
    model.load_weights(tmp_path / "w.weights.h5")
    for got, want in zip(numpy(opt.variables), saved):
        np.testing.assert_array_equal(got, want)


# ------------------------------------------------------------------ parity with plain Keras
def test_a_model_with_nothing_to_train_is_no_error():
    x, y = classification_data(n=16)
    for make in (
        lambda m: keras.optimizers.SGD(0.1),
        lambda m: LeRaC(keras.optimizers.SGD(0.1), min_learning_rate=1e-4, curriculum_steps=4, model=m),
    ):
        model = mlp(depth=2)
        model.trainable = False
        before = numpy(model.weights)
        model.compile(optimizer=make(model), loss=LOSS)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "The model does not have any trainable weights")
            model.fit(x, y, batch_size=8, epochs=1, verbose=0)
        for got, want in zip(numpy(model.weights), before):
            np.testing.assert_array_equal(got, want)
    model.optimizer.build(model.trainable_variables)  # TensorFlow's fit leaves it unbuilt
    assert model.optimizer.learning_rates_at(0) == []
    assert model.optimizer.current_learning_rates() == []


def test_tensorboard_brings_no_warning(tmp_path):
    x, y = classification_data(n=16)
    model = mlp(depth=2)
    opt = LeRaC(keras.optimizers.SGD(0.1), min_learning_rate=1e-4, curriculum_steps=4, model=model)
    model.compile(optimizer=opt, loss=LOSS)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(x, y, batch_size=8, epochs=1, verbose=0, callbacks=[keras.callbacks.TensorBoard(tmp_path)])
    # Every warning raised during fit, whoever words it (Keras names the optimizer
    # `lerac` in its own), but the deprecation notices of other libraries.
    raised = [
        w for w in caught if not issubclass(w.category, (DeprecationWarning, PendingDeprecationWarning))
    ]
    assert [f"{w.category.__name__}: {w.message}" for w in raised] == []


# ------------------------------------------------------------------ config
def test_config_before_build_holds_the_buckets_the_model_gives():
    model = mlp(depth=3)
    opt = LeRaC(
        keras.optimizers.SGD(0.1), min_learning_rate=1e-4, curriculum_steps=4, model=model, num_buckets=2
    )
    config = opt.get_config()
    assert config["bucket_assignment"] == [0, 0, 0, 0, 1, 1] and config["unresolved_buckets"] is None
    restored = LeRaC.from_config(config)
    restored.build(model.trainable_variables)
    opt.build(model.trainable_variables)
    assert [[id(v) for v in b] for b in restored.buckets] == [[id(v) for v in b] for b in opt.buckets]


def test_pattern_buckets_survive_the_config_before_build():
    model = mlp(depth=3)
    specs = [["hidden_0/.*"], ["hidden_1/.*", "head/.*"]]
    opt = LeRaC(keras.optimizers.SGD(0.1), min_learning_rate=1e-4, curriculum_steps=4, buckets=specs)
    restored = LeRaC.from_config(opt.get_config())
    restored.build(model.trainable_variables)
    assert [len(b) for b in restored.buckets] == [2, 4]


def test_layer_buckets_saved_before_build_warn_when_loaded():
    model = mlp(depth=3)
    buckets = [[model.get_layer("hidden_0")], [model.get_layer("hidden_1"), model.get_layer("head")]]
    opt = LeRaC(keras.optimizers.SGD(0.1), min_learning_rate=1e-4, curriculum_steps=4, buckets=buckets)
    config = opt.get_config()
    assert config["unresolved_buckets"] == "buckets"
    with pytest.warns(UserWarning, match="saved before it was built.*`buckets=`"):
        LeRaC.from_config(config)


def test_weight_decay_exclusions_survive_save_and_load(tmp_path):
    x, y = classification_data(n=16)
    model = mlp(depth=2)
    base = keras.optimizers.AdamW(0.01, weight_decay=0.5)
    base.exclude_from_weight_decay(var_names=["bias"])
    opt = LeRaC(base, min_learning_rate=1e-4, curriculum_steps=4, model=model)
    model.compile(optimizer=opt, loss=LOSS)
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    for inner in loaded.optimizer.bucket_optimizers:
        for variable in inner._trainable_variables:
            assert inner._use_weight_decay(variable) == ("bias" not in variable.path)


def _truncated_copy_of_a_saved_model(tmp_path):
    """A real LeRaC model saved to a `.keras` file, and a copy cut off halfway (an interrupted copy)."""
    model = mlp(depth=2)
    model.compile(
        LeRaC(keras.optimizers.SGD(0.05), min_learning_rate=1e-4, curriculum_steps=4, model=model), LOSS
    )
    whole = tmp_path / "whole.keras"
    model.save(whole)
    data = whole.read_bytes()
    cut = tmp_path / "cut.keras"
    cut.write_bytes(data[: len(data) // 2])
    return whole, cut


def test_a_truncated_keras_file_is_reported_as_such_not_as_missing(tmp_path):
    import keras_lerac

    whole, cut = _truncated_copy_of_a_saved_model(tmp_path)
    assert isinstance(keras_lerac.load_model(whole).optimizer, LeRaC)  # the whole file loads
    with pytest.raises(ValueError) as caught:
        keras_lerac.load_model(cut)
    message = str(caught.value)
    assert "not found" not in message.lower()
    assert str(cut) in message and "exists" in message and "not a readable .keras archive" in message
    assert "truncated" in message and "save the model again" in message.lower()
    # A file that is a zip archive but not a Keras model: named as such too.
    import zipfile

    foreign = tmp_path / "foreign.keras"
    with zipfile.ZipFile(foreign, "w") as archive:
        archive.writestr("readme.txt", "not a model")
    with pytest.raises(ValueError, match=r"not a Keras model.*config\.json"):
        keras_lerac.load_model(foreign)
    # A whole archive with a damaged member (one flipped byte in the weights).
    data = bytearray(whole.read_bytes())
    with zipfile.ZipFile(whole) as archive:
        weights = archive.getinfo("model.weights.h5")
    data[weights.header_offset + 200] ^= 0xFF
    damaged = tmp_path / "damaged.keras"
    damaged.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"not a readable \.keras archive.*model\.weights\.h5.*damaged"):
        keras_lerac.load_model(damaged)
    # A missing file is still reported as missing.
    with pytest.raises(ValueError, match="not found"):
        keras_lerac.load_model(tmp_path / "missing.keras")


def test_cli_plan_reports_a_truncated_keras_file_as_such(tmp_path, capsys):
    from keras_lerac.experiments import cli

    _, cut = _truncated_copy_of_a_saved_model(tmp_path)
    assert cli.main(["plan", "--model", str(cut)]) == 2
    error = capsys.readouterr().err
    assert "not found" not in error.lower()
    assert "not a readable .keras archive" in error and "truncated" in error
