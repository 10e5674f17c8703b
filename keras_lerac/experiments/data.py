"""Data that works offline: scikit-learn's bundled data sets, a synthetic task, TFDS pipelines.

The embedded default data set is scikit-learn's `load_digits`: 1,797 real 8x8
handwritten digits (10 classes, 16 grey levels), shipped inside scikit-learn, so it
loads with no network. The split is fixed: `train_test_split(test_size=0.25,
random_state=0, stratify=labels)`, giving 1,347 training and 450 test images.

scikit-learn's other bundled classification sets (`iris`, `wine`, `breast_cancer`)
load through `load_tabular` with the same kind of fixed split, standardised with the
training split's statistics; `make_spirals` makes the two-spirals task, where a
network with one hidden layer does much worse than deeper ones. `load_dataset` names
them all, and `validation_split` carves a validation set out of a training split.

TensorFlow Datasets images reach a model one of two ways, picked by `tfds_image_batches`:
`tf.data` on the TensorFlow backend (`tfds_image_pipeline`), and on JAX and PyTorch
TFDS's random-access `tfds.data_source(...)` read into NumPy batches by a
`keras.utils.PyDataset` (`TFDSImageBatches`), so that no `tf.data` runtime (its
thread pools) runs in the training process beside the backend's own. `data_source`
needs the data set prepared in the ArrayRecord format
(`tfds.builder(name).download_and_prepare(file_format="array_record")`, once, with a
network); `tfds.testing.mock_data` serves it offline for tests.
"""

from __future__ import annotations

from typing import Any

import numpy as np

# The official LeRaC code's image normalisation: [0, 1], then mean 0.5 / std 0.5 per channel.
IMAGE_MEAN = 0.5
IMAGE_STD = 0.5

DIGITS_TEST_SIZE = 0.25
DIGITS_SPLIT_SEED = 0
TABULAR = ("iris", "wine", "breast_cancer")
DATASETS = ("digits", *TABULAR, "spirals")

Split = tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


def _sklearn():
    """`(sklearn.datasets, train_test_split)`, or an ImportError that says how to get them."""
    try:
        from sklearn import datasets
        from sklearn.model_selection import train_test_split
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError(
            "The bundled data sets ship with scikit-learn: `pip install scikit-learn` "
            "(or `pip install keras-lerac[data]`)."
        ) from error
    return datasets, train_test_split


def load_digits(flat: bool = False) -> Split:
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
    datasets, train_test_split = _sklearn()
    digits = datasets.load_digits()
    x = (digits.data / 16.0).astype("float32")
    y = digits.target.astype("int32")
    if not flat:
        x = x.reshape(-1, 8, 8, 1)
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=DIGITS_TEST_SIZE, random_state=DIGITS_SPLIT_SEED, stratify=y
    )
    return (x_train, y_train), (x_test, y_test)


def load_tabular(name: str, test_size: float = 0.25, split_seed: int = 0) -> Split:
    """One of scikit-learn's bundled tabular classification sets, split and standardised.

    Args:
        name: `"iris"` (150 x 4, 3 classes), `"wine"` (178 x 13, 3 classes) or
            `"breast_cancer"` (569 x 30, 2 classes).
        test_size: Fraction held out for the test split (stratified).
        split_seed: `random_state` of the split; fixed, so every call gives the same split.

    Returns:
        `((x_train, y_train), (x_test, y_test))`: float32 features standardised with the
        training split's mean and std (the test split never informs them), int32 labels.

    Example:

    >>> (x_train, y_train), (x_test, y_test) = load_tabular("wine")
    >>> x_train.shape, x_test.shape
    ((133, 13), (45, 13))
    """
    if name not in TABULAR:
        raise ValueError(f"Unknown tabular data set {name!r}. Choose one of: {', '.join(TABULAR)}.")
    datasets, train_test_split = _sklearn()
    bunch = getattr(datasets, f"load_{name}")()
    x = bunch.data.astype("float32")
    y = bunch.target.astype("int32")
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=test_size, random_state=split_seed, stratify=y
    )
    mean, std = x_train.mean(axis=0), x_train.std(axis=0) + 1e-7
    x_train = ((x_train - mean) / std).astype("float32")
    x_test = ((x_test - mean) / std).astype("float32")
    return (x_train, y_train), (x_test, y_test)


def make_spirals(
    num_train: int = 2000, num_test: int = 1000, turns: float = 2.0, noise: float = 0.05, seed: int = 0
) -> Split:
    """Two interleaved spirals in the plane: a small task where depth matters.

    A point at angle `t` (uniform in arc length over `turns` turns) lies at radius
    `t / (2 pi turns)` on spiral 0, or on spiral 1 (the same curve rotated by pi),
    plus Gaussian noise. Telling the arms apart needs a decision boundary that winds
    `turns` times around the origin. Measured here with Keras (width 64, batch 32,
    15 epochs, cosine decay, 2 seeds, 2 turns): one hidden layer reaches 61-73 % test
    accuracy, three 96-97 % (SGD 0.1 with momentum, or Adam 3e-3). With 3 turns, 15
    epochs are too few for any depth (59-76 %).

    Args:
        num_train: Training examples.
        num_test: Test examples (drawn independently of the training set).
        turns: Number of turns of each spiral.
        noise: Standard deviation of the Gaussian noise added to each coordinate.
        seed: Seed of the generator; the same seed gives the same data.

    Returns:
        `((x_train, y_train), (x_test, y_test))`: float32 points of shape `(n, 2)`, about
        in [-1, 1], and int32 labels (0 or 1, about balanced).
    """
    rng = np.random.default_rng(seed)
    n = num_train + num_test
    # sqrt: uniform in arc length, so the outer turns are not sparser than the inner ones.
    t = np.sqrt(rng.uniform(size=n)) * turns * 2.0 * np.pi
    y = rng.integers(0, 2, size=n).astype("int32")
    radius = t / (turns * 2.0 * np.pi)
    angle = t + np.pi * y
    x = np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1)
    x = (x + rng.normal(0.0, noise, size=x.shape)).astype("float32")
    return (x[:num_train], y[:num_train]), (x[num_train:], y[num_train:])


def load_dataset(name: str, flat: bool = False) -> Split:
    """Any of `DATASETS` by name, each with its fixed split.

    Args:
        name: `"digits"`, `"iris"`, `"wine"`, `"breast_cancer"` or `"spirals"`.
        flat: For `"digits"`: vectors of 64 features instead of `(8, 8, 1)` images.
            The other data sets are vectors already.

    Returns:
        `((x_train, y_train), (x_test, y_test))`.
    """
    if name == "digits":
        return load_digits(flat=flat)
    if name in TABULAR:
        return load_tabular(name)
    if name == "spirals":
        return make_spirals()
    raise ValueError(f"Unknown data set {name!r}. Choose one of: {', '.join(DATASETS)}.")


def validation_split(x: np.ndarray, y: np.ndarray, fraction: float = 0.2, seed: int = 0) -> Split:
    """Carves a stratified validation set out of a training split.

    Use it to tune hyperparameters without ever looking at the test split.

    Args:
        x: Training inputs.
        y: Training labels (integers).
        fraction: Share of the examples that go to the validation set.
        seed: `random_state` of the split.

    Returns:
        `((x_fit, y_fit), (x_val, y_val))`.
    """
    _, train_test_split = _sklearn()
    x_fit, x_val, y_fit, y_val = train_test_split(x, y, test_size=fraction, random_state=seed, stratify=y)
    return (x_fit, y_fit), (x_val, y_val)


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
        return (image - IMAGE_MEAN) / IMAGE_STD, tf.cast(label, tf.int32)

    if shuffle:
        ds = ds.shuffle(10_000, seed=seed, reshuffle_each_iteration=True)
    ds = ds.map(prepare, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def _normalise(images: np.ndarray) -> np.ndarray:
    return ((images.astype("float32") / 255.0 - IMAGE_MEAN) / IMAGE_STD).astype("float32")


def _pydataset_class():
    """`TFDSImageBatches`, defined on first use so that importing this module loads no Keras."""
    global _TFDSImageBatches
    if _TFDSImageBatches is not None:
        return _TFDSImageBatches
    import keras

    class TFDSImageBatches(keras.utils.PyDataset):
        """`(image, label)` NumPy batches read by index from a TFDS data source.

        Each epoch visits the examples in a new order (seeded: `seed + epoch`) when
        `shuffle` is set; the last batch may be smaller. Images are normalised as in
        `tfds_image_pipeline`.

        Args:
            source: A random-access source of `{"image": uint8 array, "label": int}`
                records, e.g. `tfds.data_source("cifar10", split="train")`.
            batch_size: Batch size.
            shuffle: Shuffle the order of the examples every epoch.
            seed: Seed of the shuffles.
            limit_batches: Serve only the first `limit_batches` batches of each epoch.
            **kwargs: `keras.utils.PyDataset` arguments (`workers`, `use_multiprocessing`,
                `max_queue_size`).
        """

        def __init__(
            self,
            source: Any,
            batch_size: int = 64,
            shuffle: bool = False,
            seed: int = 0,
            limit_batches: int | None = None,
            **kwargs: Any,
        ):
            super().__init__(**kwargs)
            if batch_size < 1:
                raise ValueError(f"batch_size must be at least 1, got {batch_size}.")
            self.source = source
            self.batch_size = batch_size
            self.shuffle = shuffle
            self.seed = seed
            self.limit_batches = limit_batches
            self._epoch = 0
            self._order = self._make_order()

        def _make_order(self) -> np.ndarray:
            n = len(self.source)
            if not self.shuffle:
                return np.arange(n)
            return np.random.default_rng(self.seed + self._epoch).permutation(n)

        def __len__(self) -> int:
            batches = -(-len(self.source) // self.batch_size)
            return min(batches, self.limit_batches) if self.limit_batches else batches

        def __getitem__(self, index: int):
            if not 0 <= index < len(self):
                raise IndexError(f"batch {index} out of range: {len(self)} batches")
            keys = self._order[index * self.batch_size : (index + 1) * self.batch_size]
            records = [self.source[int(k)] for k in keys]
            images = np.stack([np.asarray(r["image"]) for r in records])
            labels = np.asarray([r["label"] for r in records], dtype="int32")
            return _normalise(images), labels

        def on_epoch_end(self) -> None:
            self._epoch += 1
            self._order = self._make_order()

    TFDSImageBatches.__qualname__ = "TFDSImageBatches"
    _TFDSImageBatches = TFDSImageBatches
    return TFDSImageBatches


_TFDSImageBatches = None


def tfds_image_source_batches(
    name: str,
    split: str,
    batch_size: int = 64,
    shuffle: bool = False,
    seed: int = 0,
    data_dir: str | None = None,
    limit_batches: int | None = None,
) -> Any:
    """TFDS images as a `keras.utils.PyDataset` of NumPy batches, no `tf.data`.

    Reads `tfds.data_source(name, split=split)` by index (ArrayRecord files; see the
    module docstring). For the JAX and PyTorch backends.

    Args:
        name: TFDS name, e.g. `"cifar10"`.
        split: TFDS split, e.g. `"train"`.
        batch_size: Batch size.
        shuffle: A new seeded order every epoch (training).
        seed: Shuffle seed.
        data_dir: TFDS data directory (where the prepared data lives).
        limit_batches: Serve only this many batches per epoch (smoke runs).

    Returns:
        A `TFDSImageBatches` (a `keras.utils.PyDataset`) of `(float32 images, int32 labels)`.

    Example:

    >>> import tensorflow_datasets as tfds
    >>> with tfds.testing.mock_data(num_examples=16):
    ...     batches = tfds_image_source_batches("cifar10", "train", batch_size=8)
    >>> len(batches), batches[0][0].shape
    (2, (8, 32, 32, 3))
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}.")
    import tensorflow_datasets as tfds

    source = tfds.data_source(name, split=split, data_dir=data_dir)
    return _pydataset_class()(
        source, batch_size=batch_size, shuffle=shuffle, seed=seed, limit_batches=limit_batches
    )


def tfds_image_batches(
    name: str,
    split: str,
    batch_size: int = 64,
    shuffle: bool = False,
    seed: int = 0,
    data_dir: str | None = None,
    limit_batches: int | None = None,
    backend: str | None = None,
) -> tuple[Any, int]:
    """TFDS image batches for `model.fit`, read the way that suits the Keras backend.

    TensorFlow: a `tf.data` pipeline (`tfds_image_pipeline`). JAX and PyTorch: a
    `keras.utils.PyDataset` over `tfds.data_source` (`tfds_image_source_batches`), so no
    `tf.data` runs in the training process. Both give the same normalised images.

    Args:
        name: TFDS name, e.g. `"cifar10"`, `"cifar100"`.
        split: TFDS split.
        batch_size: Batch size.
        shuffle: Shuffle (training).
        seed: Shuffle seed.
        data_dir: TFDS data directory.
        limit_batches: At most this many batches per epoch (smoke runs).
        backend: `"tensorflow"`, `"jax"` or `"torch"`; default: Keras' backend.

    Returns:
        `(batches, batches_per_epoch)`.
    """
    if backend is None:
        import keras

        backend = keras.backend.backend()
    if backend not in ("tensorflow", "jax", "torch"):
        raise ValueError(f"Unknown backend {backend!r}. Choose one of: tensorflow, jax, torch.")
    if backend != "tensorflow":
        batches = tfds_image_source_batches(
            name,
            split,
            batch_size,
            shuffle=shuffle,
            seed=seed,
            data_dir=data_dir,
            limit_batches=limit_batches,
        )
        return batches, len(batches)
    ds = tfds_image_pipeline(
        name, split, batch_size=batch_size, shuffle=shuffle, seed=seed, data_dir=data_dir
    )
    if limit_batches:
        ds = ds.take(limit_batches)
    steps = int(ds.cardinality())
    if steps <= 0:  # unknown cardinality: count once
        steps = sum(1 for _ in ds)
    return ds, steps
