"""KerasHub tasks compiled with LeRaC: KerasHub's defaults kept, saved and loaded whole."""

import keras
import numpy as np
import pytest

keras_hub = pytest.importorskip("keras_hub")

import hub_models  # noqa: E402

import keras_lerac  # noqa: E402
from keras_lerac import LeRaC  # noqa: E402

TASKS = {
    "text classifier": (hub_models.bert_classifier, lambda: (hub_models.TEXTS, hub_models.LABELS)),
    "image classifier": (hub_models.resnet_classifier, hub_models.images),
    "causal LM": (hub_models.gpt2_causal_lm, lambda: (hub_models.GPT2_TEXTS, None)),
}


def compiled(name):
    build, data = TASKS[name]
    keras.utils.set_random_seed(2)
    task = build()
    opt = LeRaC(keras.optimizers.Adam(1e-3), min_learning_rate=1e-6, curriculum_steps=10, model=task)
    task.compile(optimizer=opt)
    return task, opt, data()


def fit(task, data, epochs=1):
    x, y = data
    task.fit(x, y, batch_size=4, epochs=epochs, verbose=0, shuffle=False)


@pytest.mark.parametrize("name", list(TASKS))
def test_task_keeps_its_defaults_and_reloads_with_lerac(name, tmp_path):
    task, opt, data = compiled(name)
    # KerasHub's default loss and metrics stay: only the optimizer is ours.
    assert isinstance(task.loss, keras.losses.SparseCategoricalCrossentropy)
    fit(task, data)
    task.save(tmp_path / "task.keras")

    # keras.saving.load_model skips the compile config of a class that overrides
    # compile(); keras_lerac.load_model restores it, with the optimizer's state.
    restored = keras_lerac.load_model(tmp_path / "task.keras")
    ropt = restored.optimizer
    assert isinstance(ropt, LeRaC)
    assert ropt.get_config()["bucket_assignment"] == opt.get_config()["bucket_assignment"]
    assert (
        int(keras.ops.convert_to_numpy(ropt.iterations))
        == int(keras.ops.convert_to_numpy(opt.iterations))
        > 0
    )
    for a, b in zip(opt.variables, ropt.variables):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b))
    assert isinstance(restored.loss, keras.losses.SparseCategoricalCrossentropy)

    # Going on from the file gives what an uninterrupted run gives.
    fit(task, data)
    fit(restored, data)
    for a, b in zip(task.get_weights(), restored.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_plain_keras_loading_is_what_keras_lerac_load_model_mends(tmp_path):
    task, _, data = compiled("text classifier")
    fit(task, data)
    task.save(tmp_path / "task.keras")
    assert keras_lerac.saving.compile_skipped(task)
    with pytest.warns(UserWarning, match="compile"):
        plain = keras.saving.load_model(tmp_path / "task.keras")
    assert not isinstance(plain.optimizer, LeRaC)  # KerasHub's default, not the saved LeRaC


def test_a_lora_task_says_how_to_get_its_optimizer_back(tmp_path):
    import warnings

    task = hub_models.gpt2_causal_lm()
    task.backbone.enable_lora(rank=2)
    task.compile(
        optimizer=LeRaC(keras.optimizers.Adam(1e-3), min_learning_rate=1e-6, curriculum_steps=10, model=task)
    )
    task.fit(hub_models.GPT2_TEXTS, batch_size=2, epochs=1, verbose=0)
    task.save(tmp_path / "lora.keras")
    # Keras saves the LoRA layers merged and loads them without LoRA: other trainable variables.
    with pytest.raises(ValueError, match="LoRA.*enable_lora.*restore_compile"):
        keras_lerac.load_model(tmp_path / "lora.keras")
    # The recipe the error gives.
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # and no warning of what load_model mends
        restored = keras_lerac.load_model(tmp_path / "lora.keras", compile=False)
    restored.backbone.enable_lora(rank=2)
    keras_lerac.restore_compile(restored, tmp_path / "lora.keras")
    assert isinstance(restored.optimizer, LeRaC)
    assert int(keras.ops.convert_to_numpy(restored.optimizer.iterations)) == 2
    assert len(restored.optimizer.bucket_optimizers) == 2
