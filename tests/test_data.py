"""Offline data: fixed splits, standardisation on the training split only, the spirals task."""

import numpy as np
import pytest

from keras_lerac.experiments import data


@pytest.mark.parametrize("name", data.TABULAR)
def test_tabular_split_is_fixed_stratified_and_standardised_on_train(name):
    (x1, y1), (xt1, yt1) = data.load_tabular(name)
    (x2, y2), (xt2, _) = data.load_tabular(name)
    assert np.array_equal(x1, x2) and np.array_equal(y1, y2) and np.array_equal(xt1, xt2)
    assert x1.dtype == np.float32 and y1.dtype == np.int32
    assert np.allclose(x1.mean(axis=0), 0.0, atol=1e-4) and np.allclose(x1.std(axis=0), 1.0, atol=1e-3)
    # stratified: every class in both splits, in about the same proportions
    assert set(np.unique(y1)) == set(np.unique(yt1))
    assert np.abs(np.bincount(y1) / len(y1) - np.bincount(yt1) / len(yt1)).max() < 0.05


def test_spirals_are_deterministic_balanced_and_bounded():
    (x, y), (xt, yt) = data.make_spirals(num_train=400, num_test=100, seed=3)
    (x2, _), _ = data.make_spirals(num_train=400, num_test=100, seed=3)
    assert x.shape == (400, 2) and xt.shape == (100, 2) and np.array_equal(x, x2)
    assert 0.4 < y.mean() < 0.6 and np.abs(x).max() < 1.3
    # the two arms are the same curve rotated by pi: points of class 1 mirror class 0
    (clean, labels), _ = data.make_spirals(num_train=2000, num_test=0, noise=0.0, seed=0)
    radius = np.linalg.norm(clean, axis=1)
    assert abs(radius[labels == 0].mean() - radius[labels == 1].mean()) < 0.05


def test_load_dataset_names_every_set_and_rejects_others():
    for name in data.DATASETS:
        (x, y), (xt, yt) = data.load_dataset(name, flat=True)
        assert x.ndim == 2 and len(x) == len(y) and len(xt) == len(yt) > 0
    assert data.load_dataset("digits")[0][0].shape[1:] == (8, 8, 1)
    with pytest.raises(ValueError, match="Choose one of"):
        data.load_dataset("cifar10")


def test_validation_split_is_carved_from_training_data_only():
    (x, y), _ = data.load_digits(flat=True)
    (x_fit, y_fit), (x_val, y_val) = data.validation_split(x, y, fraction=0.2, seed=0)
    assert len(x_fit) + len(x_val) == len(x) and abs(len(x_val) - 0.2 * len(x)) <= 1
    rows = {row.tobytes() for row in x}
    assert all(row.tobytes() in rows for row in x_val)
    assert set(np.unique(y_val)) == set(np.unique(y))


# TFDS images: tf.data on TensorFlow, `tfds.data_source` + `keras.utils.PyDataset` elsewhere.
# `tfds.testing.mock_data` serves both offline (random records; data_source's batched
# `__getitems__` fails under it, so the PyDataset reads one index at a time).


def test_data_source_batches_are_normalised_records_in_a_seeded_order_per_epoch():
    tfds = pytest.importorskip("tensorflow_datasets")
    with tfds.testing.mock_data(num_examples=20):
        source = tfds.data_source("cifar10", split="train")
        batches = data.tfds_image_source_batches("cifar10", "train", batch_size=8, shuffle=True, seed=3)
        again = data.tfds_image_source_batches("cifar10", "train", batch_size=8, shuffle=True, seed=3)
        assert len(batches) == 3  # 20 examples: 8 + 8 + 4
        epoch_0 = [batches[i] for i in range(len(batches))]
        assert np.array_equal(epoch_0[0][0], again[0][0])  # the same seed, the same order
        x, y = np.concatenate([b[0] for b in epoch_0]), np.concatenate([b[1] for b in epoch_0])
        assert x.shape == (20, 32, 32, 3) and x.dtype == np.float32 and y.dtype == np.int32
        records = [source[i] for i in range(20)]
        raw = np.stack([r["image"] for r in records]).astype("float32")
        expected = (raw / 255.0 - 0.5) / 0.5  # the official code's normalisation, as tf.data's
        order = [int(np.flatnonzero([np.array_equal(e, row) for e in expected])[0]) for row in x]
        assert sorted(order) == list(range(20)) and order != list(range(20))  # a permutation
        assert np.array_equal(y, np.asarray([records[i]["label"] for i in order]))
        batches.on_epoch_end()
        assert not np.array_equal(batches[0][0], epoch_0[0][0])  # a new order next epoch
        with pytest.raises(IndexError, match="out of range"):
            batches[3]


def test_image_batches_use_tf_data_on_tensorflow_only():
    tf = pytest.importorskip("tensorflow")
    tfds = pytest.importorskip("tensorflow_datasets")
    import keras

    with tfds.testing.mock_data(num_examples=20):
        for backend in ("jax", "torch"):
            batches, steps = data.tfds_image_batches("cifar10", "test", 8, limit_batches=2, backend=backend)
            assert isinstance(batches, keras.utils.PyDataset) and steps == len(batches) == 2
            x, _ = batches[1]
            assert x.shape == (8, 32, 32, 3) and -1.0 <= x.min() and x.max() <= 1.0
        ds, steps = data.tfds_image_batches("cifar10", "test", 8, limit_batches=2, backend="tensorflow")
        assert isinstance(ds, tf.data.Dataset) and steps == 2
        x, _ = next(iter(ds))
        assert x.shape == (8, 32, 32, 3) and -1.0 <= float(tf.reduce_min(x)) <= float(tf.reduce_max(x)) <= 1.0
    with pytest.raises(ValueError, match="Choose one of"):
        data.tfds_image_batches("cifar10", "test", backend="numpy")
    with pytest.raises(ValueError, match="batch_size"):
        data.tfds_image_source_batches("cifar10", "test", batch_size=0)


def test_data_source_batches_train_a_model_on_the_current_backend():
    tfds = pytest.importorskip("tensorflow_datasets")
    import keras

    with tfds.testing.mock_data(num_examples=16):
        train, steps = data.tfds_image_batches("cifar10", "train", 8, shuffle=True)
    model = keras.Sequential([keras.Input((32, 32, 3)), keras.layers.Flatten(), keras.layers.Dense(10)])
    model.compile(optimizer="sgd", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    history = model.fit(train, epochs=2, verbose=0)
    assert steps == 2 and len(history.history["loss"]) == 2
