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
