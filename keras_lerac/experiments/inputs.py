"""A comparison's data, checked against the model before any training.

The training and test data of `compare_regimes` come as `(x, y)` NumPy arrays, a
`tf.data.Dataset`, a `keras.utils.PyDataset`, or a function `seed -> ` one of these
(`resolve_data`). What can be told wrong before training (an unreadable `.npz`, shapes
that do not fit the model, labels out of range) raises `InputError`, whose message is
one line. The loss defaults to the cross-entropy the labels and the model's head call
for (`run_loss`).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np

NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")


class InputError(ValueError):
    """Bad input to a comparison, found before any training; the message is one line."""


class LabelError(InputError):
    """Labels that are not class labels the model's head outputs (with the default loss)."""


def first_line(error: BaseException) -> str:
    """The first line of an error's message, or its type's name when it has none."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def load_npz(path: str) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """`((x_train, y_train), (x_test, y_test))` from an `.npz` file with those four keys.

    Raises:
        InputError: if the file cannot be read as an `.npz` or lacks one of the keys.
    """
    problem = _not_an_npz(path)
    if problem:
        raise InputError(f"{path!r} is not an .npz archive (np.savez writes a zip of .npy arrays): {problem}")
    try:
        with np.load(path, allow_pickle=False) as archive:
            missing = [key for key in NPZ_KEYS if key not in archive.files]
            if missing:
                raise InputError(
                    f"{path!r} has no {', '.join(missing)}: the data file needs the arrays "
                    f"{', '.join(NPZ_KEYS)} (np.savez(path, x_train=..., y_train=..., ...))"
                )
            x_train, y_train, x_test, y_test = (archive[key] for key in NPZ_KEYS)
    except InputError:
        raise
    except FileNotFoundError:
        raise InputError(f"data file {path!r} does not exist") from None
    except ValueError as error:
        if not _holds_object_arrays(path):
            raise InputError(f"could not read {path!r} as an .npz file: {first_line(error)}") from None
        raise InputError(
            f"{path!r} holds object arrays (pickled Python objects), which are not loaded: they can run "
            "code; save numeric arrays (np.asarray(x, dtype='float32'))"
        ) from None
    except Exception as error:  # a damaged zip, a truncated array
        raise InputError(f"could not read {path!r} as an .npz file: {first_line(error)}") from None
    return (x_train, y_train), (x_test, y_test)


def _holds_object_arrays(path: str) -> bool:
    """Whether an `.npz` file holds an array of Python objects (read from the arrays' headers)."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            for name in archive.namelist():
                with archive.open(name) as member:
                    version = np.lib.format.read_magic(member)
                    read = (
                        np.lib.format.read_array_header_1_0
                        if version == (1, 0)
                        else np.lib.format.read_array_header_2_0
                    )
                    if read(member)[2].hasobject:
                        return True
    except (zipfile.BadZipFile, ValueError, OSError):
        return False
    return False


def _not_an_npz(path: str) -> str | None:
    """What the file is instead of an `.npz` archive (None if it starts like one, or is missing)."""
    try:
        with open(path, "rb") as f:
            head = f.read(512)
    except OSError:
        return None  # np.load says what is wrong
    if head.startswith(b"PK"):
        return None
    if not head:
        return "the file is empty"
    if head.startswith(b"\x93NUMPY"):
        return "it is a single .npy array; save the four arrays with np.savez(path, x_train=..., ...)"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        return f"it is a binary file starting with {head[:8]!r}"
    return f"it is a text file starting with {head[:24].decode('utf-8', 'replace')!r}"


# --------------------------------------------------------------------------- data forms
def is_tf_dataset(data: Any) -> bool:
    """Whether `data` is a `tf.data.Dataset` (without importing TensorFlow for other data)."""
    module = type(data).__module__
    if not module.startswith("tensorflow"):
        return False
    import tensorflow as tf

    return isinstance(data, tf.data.Dataset)


def is_py_dataset(data: Any) -> bool:
    """Whether `data` is a `keras.utils.PyDataset`."""
    import keras

    return isinstance(data, keras.utils.PyDataset)


def resolve_data(data: Any, seed: int) -> Any:
    """The data a run with `seed` trains or is scored on: `data(seed)` for a function, else `data`."""
    return data(seed) if callable(data) and not (is_tf_dataset(data) or is_py_dataset(data)) else data


def as_arrays(data: Any, what: str) -> tuple[np.ndarray, np.ndarray] | None:
    """`(x, y)` as NumPy arrays if `data` is a pair of arrays, else None (a dataset).

    Args:
        data: Resolved data (`resolve_data`).
        what: What the data are, for the messages (`"training data"`).

    Raises:
        InputError: for a pair that is not two arrays of one non-zero length, or data
            of another kind.
    """
    if isinstance(data, (tuple, list)):
        if len(data) != 2:
            raise InputError(f"{what} must be (x, y), a tf.data.Dataset or a keras.utils.PyDataset")
        x, y = (np.asarray(v) for v in data)
        if len(x) != len(y):
            raise InputError(f"{what}: x has {len(x)} examples but y has {len(y)}")
        if len(x) == 0:
            raise InputError(f"{what} is empty")
        return x, y
    if is_tf_dataset(data) or is_py_dataset(data):
        return None
    raise InputError(
        f"{what} must be (x, y) arrays, a tf.data.Dataset, a keras.utils.PyDataset or a function "
        f"seed -> one of these; got {type(data).__name__}"
    )


def _dataset_sample(data) -> tuple[Any, Any]:
    """`(x, y)` of the first batch of a dataset, as NumPy (for the shape checks)."""
    if is_py_dataset(data):
        batch = data[0]
    else:
        batch = next(iter(data.take(1).as_numpy_iterator()))
    if not isinstance(batch, tuple) or len(batch) < 2:
        raise InputError("a training dataset must give (x, y) batches")
    return batch[0], batch[1]


def steps_per_epoch_of(data: Any, arrays: Any, batch_size: int, steps_per_epoch: int | None) -> int | None:
    """Training steps per epoch: `steps_per_epoch` if given, else the data's; None if unknown.

    Args:
        data: The resolved training data.
        arrays: `as_arrays(data)`: `(x, y)`, or None for a dataset.
        batch_size: The batch size for arrays.
        steps_per_epoch: The user's, or None.
    """
    if steps_per_epoch is not None:
        return steps_per_epoch
    if arrays is not None:
        return math.ceil(len(arrays[0]) / batch_size)
    if is_py_dataset(data):
        return data.num_batches
    import tensorflow as tf

    cardinality = int(data.cardinality())
    return cardinality if cardinality >= 0 and cardinality != tf.data.INFINITE_CARDINALITY else None


# --------------------------------------------------------------------------- data and model
@dataclasses.dataclass(frozen=True)
class Data:
    """A comparison's data, as given and as resolved for its first seed.

    Attributes:
        train: The training data as given (arrays, a dataset, or a function of the seed).
        test: The test data as given.
        first_train: `train` resolved for the first seed.
        train_arrays: `(x, y)` of `first_train` if it is arrays, else None.
        test_arrays: `(x, y)` of the test data for the first seed if arrays, else None.
        labels: Training labels (all for arrays, a batch's for a dataset), for the
            default loss.
    """

    train: Any
    test: Any
    first_train: Any
    train_arrays: tuple[np.ndarray, np.ndarray] | None
    test_arrays: tuple[np.ndarray, np.ndarray] | None
    labels: np.ndarray


def check_data(model: Any, train: Any, test: Any, seed: int, check_labels: bool) -> Data:
    """Checks that the data of the run with `seed` fit `model`.

    Args:
        model: A built model of the comparison's architecture.
        train: The training data, as `compare_regimes` takes it.
        test: The test data, likewise.
        seed: The first seed (a function `seed -> data` is called with it).
        check_labels: Also check that the labels are class labels the model's head
            outputs (when the loss is the default cross-entropy).

    Returns:
        The `Data`.

    Raises:
        InputError: for data of the wrong kind or shape, or labels out of range.
    """
    first_train, first_test = resolve_data(train, seed), resolve_data(test, seed)
    train_arrays = as_arrays(first_train, "training data")
    test_arrays = as_arrays(first_test, "test data")
    if train_arrays is not None:
        check_finite(*train_arrays, "training data")
        check_shapes(model, *train_arrays, "training data", sparse_check=check_labels)
        labels = train_arrays[1]
    else:
        x_sample, y_sample = (np.asarray(v) for v in _dataset_sample(first_train))
        check_finite(x_sample, y_sample, "training data (its first batch)")
        check_shapes(model, x_sample, y_sample, "training data", check_labels)
        labels = y_sample
    if test_arrays is not None:
        check_finite(*test_arrays, "test data")
        check_shapes(model, *test_arrays, "test data", sparse_check=check_labels)
    return Data(train, test, first_train, train_arrays, test_arrays, labels)


def check_finite(x: Any, y: Any, what: str) -> None:
    """Checks that every number in `x` and `y` is finite (no NaN, no infinity).

    Raises:
        InputError: naming the array, how many values are not finite, and the first one.
    """
    for name, values in (("x", x), ("y", y)):
        values = np.asarray(values)
        if not (np.issubdtype(values.dtype, np.floating) or np.issubdtype(values.dtype, np.complexfloating)):
            continue
        bad = ~np.isfinite(values)
        if bad.any():
            first = tuple(np.argwhere(bad)[0])
            kind = "NaN" if np.isnan(values[first]) else "infinite"
            raise InputError(
                f"{what}: {name} holds {int(bad.sum())} value(s) that are not finite (the first, {kind}, "
                f"in example {first[0]}): remove or impute them before training"
            )


def _output_units(model) -> int | None:
    shape = model.output_shape
    if isinstance(shape, list):
        raise InputError("a model with several outputs needs its own loss: pass loss=...")
    return shape[-1]


def check_shapes(model: Any, x: np.ndarray, y: np.ndarray, what: str, sparse_check: bool) -> None:
    """Checks that examples `x` fit the model's input and (with `sparse_check`) labels `y` its head.

    Raises:
        InputError: for a shape that does not fit, or labels that are not class labels
            the model outputs.
    """
    expected = model.input_shape
    if isinstance(expected, list):
        raise InputError("the comparison takes models with one input; give a dataset for several")
    got = x.shape[1:]
    want = tuple(expected[1:])
    if len(got) != len(want) or any(w is not None and w != g for w, g in zip(want, got)):
        raise InputError(
            f"{what}: x has examples of shape {got} but the model takes {want} "
            f"(input shape {tuple(expected)})"
        )
    units = _output_units(model)
    if not sparse_check:
        return
    out = tuple(model.output_shape[1:])
    if len(out) > 1:  # an output per position: labels per position, sparse or one-hot
        fits = [out, out[:-1]]
        if not any(
            len(y.shape[1:]) == len(f) and all(a in (None, b) for a, b in zip(f, y.shape[1:])) for f in fits
        ):
            raise LabelError(
                f"{what}: y has shape {y.shape[1:]} per example but the model outputs {out} per example: "
                f"give labels of shape {out[:-1]} (class indices) or {out} (one-hot), a model with output "
                f"(None, {units}), or your own loss (loss=...)"
            )
        if y.ndim - 1 == len(out):  # one-hot per position
            return
    elif y.ndim >= 2 and y.shape[-1] == units and units and units > 1:  # one-hot labels
        return
    elif y.ndim > 2 or (y.ndim == 2 and y.shape[-1] != 1):
        raise LabelError(
            f"{what}: y has shape {y.shape[1:]} per example; the model outputs {units} values: give "
            f"integer class labels (shape (n,)) or one-hot labels of width {units}"
        )
    values = y.reshape(-1)
    if not np.issubdtype(values.dtype, np.number) or np.any(values != np.round(values)):
        raise LabelError(f"{what}: y must hold integer class labels, got {values.dtype} values")
    classes = 2 if units == 1 else units
    low, high = values.min(), values.max()
    if units is not None and (low < 0 or high >= classes):
        raise LabelError(
            f"{what}: labels out of range: y has labels {int(low)}..{int(high)} but the model outputs "
            f"{classes} classes (0..{classes - 1})"
        )


# --------------------------------------------------------------------------- the loss
def _ends_in_probabilities(model) -> bool:
    """Whether the model's last layer applies softmax or sigmoid (then the loss is not from logits)."""
    import keras

    layer = model.layers[-1] if getattr(model, "layers", None) else None
    if layer is None:
        return False
    if isinstance(layer, keras.layers.Softmax):
        return True
    activation = getattr(layer, "activation", None)
    name = getattr(activation, "__name__", "")
    return name in ("softmax", "sigmoid")


def _default_loss(model, y_sample: np.ndarray | None):
    """Cross-entropy matching the labels and the model's head."""
    import keras

    from_logits = not _ends_in_probabilities(model)
    units = _output_units(model)
    if units == 1:
        return keras.losses.BinaryCrossentropy(from_logits=from_logits)
    if y_sample is not None and y_sample.ndim >= 2 and y_sample.shape[-1] == units and units > 1:
        return keras.losses.CategoricalCrossentropy(from_logits=from_logits)
    return keras.losses.SparseCategoricalCrossentropy(from_logits=from_logits)


def run_loss(loss: Any, model: Any, labels: np.ndarray) -> Any:
    """The loss every run compiles with: `loss` if given, else the default cross-entropy.

    Args:
        loss: The user's loss, or None.
        model: A built model of the comparison's architecture (its head decides
            binary or categorical, from logits or not).
        labels: Training labels (one-hot labels give categorical cross-entropy).

    Returns:
        The loss (one object for all runs: Keras losses hold no state).
    """
    return loss if loss is not None else _default_loss(model, labels)
