"""Data that works offline: scikit-learn's bundled digits, and TFDS pipelines.

The embedded default data set is scikit-learn's `load_digits`: 1,797 real 8x8
handwritten digits (10 classes, 16 grey levels), shipped inside scikit-learn, so it
loads with no network. The split is fixed: `train_test_split(test_size=0.25,
random_state=0, stratify=labels)`, giving 1,347 training and 450 test images.
"""

from __future__ import annotations

from typing import Any

import numpy as np

DIGITS_TEST_SIZE = 0.25
DIGITS_SPLIT_SEED = 0


def load_digits(flat: bool = False) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """scikit-learn's bundled handwritten digits with the package's fixed split.

    Args:
        flat: `True` for vectors of 64 features, `False` for `(8, 8, 1)` images.

    Returns:
        `((x_train, y_train), (x_test, y_test))`: float32 pixels scaled to [0, 1] and
        int32 labels; 1,347 training and 450 test examples.

    Example:

    >>> (x_train, y_train), (x_test, y_test) = load_digits()
    >>> x_train.shape, x_test.shape
    ((1347, 8, 8, 1), (450, 8, 8, 1))
    """
    try:
        from sklearn.datasets import load_digits as sk_load_digits
        from sklearn.model_selection import train_test_split
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError(
            "The digits data set ships with scikit-learn: `pip install scikit-learn` "
            "(or `pip install keras-lerac[data]`)."
        ) from error
    digits = sk_load_digits()
    x = (digits.data / 16.0).astype("float32")
    y = digits.target.astype("int32")
    if not flat:
        x = x.reshape(-1, 8, 8, 1)
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=DIGITS_TEST_SIZE, random_state=DIGITS_SPLIT_SEED, stratify=y
    )
    return (x_train, y_train), (x_test, y_test)


def tfds_image_pipeline(
    name: str,
    split: str,
    batch_size: int = 64,
    shuffle: bool = False,
    seed: int = 0,
    image_size: tuple[int, int] | None = None,
    data_dir: str | None = None,
) -> Any:
    """A `tf.data` pipeline of `(image, label)` batches from TensorFlow Datasets.

    Images are scaled to [0, 1] and normalised to mean 0.5 / std 0.5 per channel, as
    the official LeRaC code does (no augmentation). Works on every Keras backend
    (`model.fit` accepts `tf.data.Dataset`s on JAX and torch too).

    Args:
        name: TFDS name, e.g. `"cifar10"`, `"cifar100"`.
        split: TFDS split, e.g. `"train"`, `"test"`.
        batch_size: Batch size.
        shuffle: Shuffle the examples (training).
        seed: Shuffle seed.
        image_size: Optional `(height, width)` to resize to.
        data_dir: TFDS data directory (where the prepared data lives).

    Returns:
        A batched, prefetched `tf.data.Dataset`.
    """
    import tensorflow as tf
    import tensorflow_datasets as tfds

    ds = tfds.load(name, split=split, as_supervised=True, data_dir=data_dir, shuffle_files=shuffle)

    def prepare(image, label):
        image = tf.cast(image, tf.float32) / 255.0
        if image_size is not None:
            image = tf.image.resize(image, image_size)
        return (image - 0.5) / 0.5, tf.cast(label, tf.int32)

    if shuffle:
        ds = ds.shuffle(10_000, seed=seed, reshuffle_each_iteration=True)
    ds = ds.map(prepare, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)
