"""`keras_lerac.load_model` for a model class that overrides `compile()` (as KerasHub's tasks
do; tests/test_hub.py runs the real ones): decided on the saved class, not on warnings' text."""

import warnings

import keras
import numpy as np
import pytest
from helpers import classification_data

import keras_lerac
from keras_lerac import LeRaC


@keras.saving.register_keras_serializable("test_saving")
class Task(keras.Model):
    """Compiles a default optimizer in its constructor and overrides `compile()`."""

    def __init__(self, **kwargs):
        inputs = keras.Input((6,))
        hidden = keras.layers.Dense(8, activation="relu", name="hidden")(inputs)
        super().__init__(inputs, keras.layers.Dense(3, name="head")(hidden), **kwargs)
        self.compile()

    def compile(self, optimizer="adam", loss="sparse_categorical_crossentropy", **kwargs):
        super().compile(optimizer=optimizer, loss=loss, **kwargs)

    def get_config(self):
        return {"name": self.name}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


@pytest.fixture
def saved(tmp_path):
    x, y = classification_data(n=32)
    task = Task()
    task.compile(
        LeRaC(
            keras.optimizers.SGD(0.05, momentum=0.9), min_learning_rate=1e-4, curriculum_steps=10, model=task
        )
    )
    task.fit(x, y, batch_size=8, epochs=1, verbose=0)
    task.save(tmp_path / "task.keras")
    return task, tmp_path / "task.keras"


def test_keras_alone_skips_the_saved_optimizer(saved):
    _, path = saved
    assert keras_lerac.saving.compile_skipped(Task)
    with pytest.warns(UserWarning):
        plain = keras.saving.load_model(path)
    assert not isinstance(plain.optimizer, LeRaC)


def test_load_model_restores_it_without_a_warning(saved):
    task, path = saved
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.simplefilter("ignore", DeprecationWarning)  # other libraries' notices
        restored = keras_lerac.load_model(path)
    assert isinstance(restored.optimizer, LeRaC)
    assert int(keras.ops.convert_to_numpy(restored.optimizer.iterations)) == 4
    for a, b in zip(task.optimizer.variables, restored.optimizer.variables):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b))


def test_without_compile_the_class_default_stays_and_nothing_warns(saved):
    task, path = saved
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.simplefilter("ignore", DeprecationWarning)  # other libraries' notices
        restored = keras_lerac.load_model(path, compile=False)
    assert isinstance(restored.optimizer, keras.optimizers.Adam)
    for a, b in zip(task.weights, restored.weights):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b))
