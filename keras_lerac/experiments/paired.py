"""A paired A/B comparison of training regimes on the user's own model and data.

`compare_regimes(model, train, test, optimizer=...)` trains the same model under each
regime (conventional, warmup, lerac, anti, cbs) for each seed and returns an
`ABComparison`: per-regime mean and standard deviation of the score, and the paired
differences (regime - conventional for every regime, lerac - warmup) with their standard
error, 95 % interval and wins / ties / losses (`keras_lerac.experiments.stats`).

Runs are paired by seed:

- **Same initial weights.** For each seed the model is built once after
  `keras.utils.set_random_seed(seed)`; its weights are kept, and every regime's model
  (built afresh) loads them. A hash of the weights is recorded per run and checked
  equal across the regimes of a seed (`PairingError` otherwise).
- **Same batches in the same order.** With arrays the batch order is the comparison's
  own: a permutation per epoch drawn from `numpy.random.default_rng([seed, ORDER_KEY])`,
  served through a `keras.utils.PyDataset` (no Keras shuffling); a hash of the served
  indices is recorded per run and checked equal across regimes. A `keras.utils.PyDataset`
  is served index by index in order (Keras' `shuffle` off); a hash of every batch it
  returned is recorded and checked, so a dataset that reshuffles from a generator the
  comparison does not seed is caught. A `tf.data.Dataset` is passed to `model.fit` as it
  is: it is paired when it gives the same batches each time it is iterated (no shuffle,
  or `shuffle(..., seed=...)` on a dataset built afresh), which is what passing a
  function `seed -> dataset` as `train` does; its batches are not hashed.
- `keras.utils.set_random_seed(seed)` before each `fit`, so dropout and other random
  layers draw the same numbers in every regime.

This module is the library-grade core behind `keras-lerac compare` (through
`keras_lerac.experiments.runner`) and the benchmarks.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from keras_lerac.experiments import stats
from keras_lerac.experiments.progress import Progress
from keras_lerac.experiments.torch_cpu import avoid_onednn_hang

REGIMES = ("conventional", "warmup", "lerac", "anti", "cbs")
REFERENCE = "conventional"
# The LeRaC schedule each curriculum regime runs (`lerac`: the `schedule` argument).
CURRICULUM_REGIMES = {"warmup": "warmup", "lerac": None, "anti": "anti"}
ORDER_KEY = 2205_09180  # mixed into the batch-order generator's seed (LeRaC's arXiv id)
NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")

__all__ = [
    "ABComparison",
    "InputError",
    "cbs_problem",
    "PairingError",
    "REGIMES",
    "compare_regimes",
    "load_npz",
    "weights_hash",
]


class InputError(ValueError):
    """Bad input to a comparison, found before any training; the message is one line."""


class PairingError(RuntimeError):
    """Two regimes of one seed did not start from the same weights or see the same batches."""


# --------------------------------------------------------------------------- helpers
def weights_hash(weights: Sequence[np.ndarray]) -> str:
    """A short hash of a list of weight arrays (`model.get_weights()`): values and shapes."""
    digest = hashlib.sha1()
    for weight in weights:
        array = np.ascontiguousarray(weight)
        digest.update(str((array.shape, array.dtype.str)).encode())
        digest.update(array.tobytes())
    return digest.hexdigest()[:16]


def load_npz(path: str) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """`((x_train, y_train), (x_test, y_test))` from an `.npz` file with those four keys.

    Raises:
        InputError: if the file cannot be read as an `.npz` or lacks one of the keys.
    """
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
    except Exception as error:  # not a zip, pickled objects, truncated
        raise InputError(f"could not read {path!r} as an .npz file: {_first_line(error)}") from None
    return (x_train, y_train), (x_test, y_test)


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _is_tf_dataset(data: Any) -> bool:
    module = type(data).__module__
    if not module.startswith("tensorflow"):
        return False
    import tensorflow as tf

    return isinstance(data, tf.data.Dataset)


def _is_py_dataset(data: Any) -> bool:
    import keras

    return isinstance(data, keras.utils.PyDataset)


def _arrays(data: Any, what: str) -> tuple[np.ndarray, np.ndarray] | None:
    """`(x, y)` as NumPy arrays if `data` is a pair of arrays, else None (a dataset)."""
    if isinstance(data, (tuple, list)):
        if len(data) != 2:
            raise InputError(f"{what} must be (x, y), a tf.data.Dataset or a keras.utils.PyDataset")
        x, y = (np.asarray(v) for v in data)
        if len(x) != len(y):
            raise InputError(f"{what}: x has {len(x)} examples but y has {len(y)}")
        if len(x) == 0:
            raise InputError(f"{what} is empty")
        return x, y
    if _is_tf_dataset(data) or _is_py_dataset(data):
        return None
    raise InputError(
        f"{what} must be (x, y) arrays, a tf.data.Dataset, a keras.utils.PyDataset or a function "
        f"seed -> one of these; got {type(data).__name__}"
    )


def _paired_batches_class():
    import keras

    class PairedBatches(keras.utils.PyDataset):
        """Arrays in a per-epoch permutation drawn from the seed, as one endless stream of batches.

        Batch `i` of the stream is batch `i % per_epoch` of epoch `i // per_epoch`: the
        order depends on the index alone, never on when Keras calls `on_epoch_end` (Keras
        creates, and its backends prefetch from, the next epoch's iterator before it does).
        `fit` gets `steps_per_epoch=per_epoch`. Indices past the last epoch (prefetched,
        never trained on) repeat the last epoch's order.
        """

        def __init__(self, x, y, batch_size: int, seed: int, epochs: int):
            super().__init__()
            self.x, self.y, self.batch_size = x, y, batch_size
            self.per_epoch = math.ceil(len(x) / batch_size)
            self.epochs = epochs
            rng = np.random.default_rng([seed, ORDER_KEY])
            self.orders = [rng.permutation(len(x)) for _ in range(epochs)]
            self.served: dict[int, str] = {}

        @property
        def num_batches(self):
            return None  # endless: one iterator for the whole fit

        def __getitem__(self, index):
            index = int(index)
            epoch, batch = divmod(index, self.per_epoch)
            order = self.orders[min(epoch, self.epochs - 1)]
            rows = order[batch * self.batch_size : (batch + 1) * self.batch_size]
            if epoch < self.epochs:
                self.served.setdefault(index, hashlib.sha1(rows.tobytes()).hexdigest())
            return self.x[rows], self.y[rows]

        def order_hash(self) -> str:
            missing = self.epochs * self.per_epoch - len(self.served)
            if missing:
                raise PairingError(f"{missing} planned batches were never requested by fit")
            return _order_hash(self.served)

    return PairedBatches


def _tapped_class():
    import keras

    class Tapped(keras.utils.PyDataset):
        """A user's PyDataset, served in index order, with a hash of each batch in the order returned."""

        def __init__(self, inner):
            super().__init__()
            self.inner = inner
            self.served: dict[int, str] = {}

        def __len__(self):
            return len(self.inner)

        @property
        def num_batches(self):
            return self.inner.num_batches

        def __getitem__(self, index):
            batch = self.inner[index]
            digest = hashlib.sha1(str(int(index)).encode())
            for part in batch if isinstance(batch, tuple) else (batch,):
                for leaf in part.values() if isinstance(part, dict) else [part]:
                    digest.update(np.ascontiguousarray(np.asarray(leaf)).tobytes())
            self.served[len(self.served)] = digest.hexdigest()
            return batch

        def on_epoch_begin(self):
            self.inner.on_epoch_begin()

        def on_epoch_end(self):
            self.inner.on_epoch_end()

        def order_hash(self) -> str:
            return _order_hash(self.served)

    return Tapped


def _order_hash(served: Mapping[int, str]) -> str:
    digest = hashlib.sha1()
    for key in sorted(served):
        digest.update(f"{key}:{served[key]};".encode())
    return digest.hexdigest()[:16]


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


def _output_units(model) -> int | None:
    shape = model.output_shape
    if isinstance(shape, list):
        raise InputError("a model with several outputs needs its own loss: pass loss=...")
    return shape[-1]


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


def _check_shapes(model, x: np.ndarray, y: np.ndarray, what: str, sparse_check: bool) -> None:
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
    if y.ndim >= 2 and y.shape[-1] == units and units and units > 1:  # one-hot labels
        return
    if y.ndim > 2 or (y.ndim == 2 and y.shape[-1] != 1):
        raise InputError(
            f"{what}: y has shape {y.shape[1:]} per example; the model outputs {units} values: give "
            f"integer class labels (shape (n,)) or one-hot labels of width {units}"
        )
    values = y.reshape(-1)
    if not np.issubdtype(values.dtype, np.number) or np.any(values != np.round(values)):
        raise InputError(f"{what}: y must hold integer class labels, got {values.dtype} values")
    classes = 2 if units == 1 else units
    low, high = values.min(), values.max()
    if units is not None and (low < 0 or high >= classes):
        raise InputError(
            f"{what}: labels out of range: y has labels {int(low)}..{int(high)} but the model outputs "
            f"{classes} classes (0..{classes - 1})"
        )


def cbs_problem(model: Any) -> str | None:
    """Why Curriculum by Smoothing cannot run on `model` (a model, builder or `.keras` path), or None.

    Raises:
        InputError: if `model` cannot be built or loaded.
    """
    import keras

    keras.utils.clear_session()
    return _cbs_reason(_build(_builder(model, reinitialize=False)))


def _cbs_reason(model) -> str | None:
    """Why CBS cannot run on `model` (None if it can)."""
    from keras_lerac import cbs

    try:
        cbs.add_smoothing(model, kernel_size=3, sigma=0.0)
    except (TypeError, ValueError) as error:
        return _first_line(error)
    return None


def _clone_optimizer(optimizer):
    import keras

    return keras.optimizers.deserialize(keras.optimizers.serialize(optimizer))


def _base_optimizer(optimizer):
    """An optimizer instance from an instance, a config dict or a name."""
    import keras

    try:
        if isinstance(optimizer, keras.optimizers.Optimizer):
            return _clone_optimizer(optimizer)
        return keras.optimizers.get(optimizer)
    except (TypeError, ValueError) as error:
        raise InputError(f"bad optimizer {optimizer!r}: {_first_line(error)}") from None


def _builder(model, reinitialize: bool) -> Callable[[], Any]:
    """A function that builds a fresh model each call (weights drawn from the global seed)."""
    import keras

    if isinstance(model, (str, os.PathLike)):
        path = os.fspath(model)
        if not os.path.isfile(path):
            raise InputError(f"model file {path!r} does not exist")
        try:
            loaded = keras.saving.load_model(path, compile=False)
        except Exception as error:
            raise InputError(f"{path!r} is not a loadable Keras model: {_first_line(error)}") from None
        if not isinstance(loaded, keras.Model):
            raise InputError(f"{path!r} holds a {type(loaded).__name__}, not a keras.Model")
        model = loaded
    if isinstance(model, keras.Model):
        template = model
        saved = template.get_weights()

        def build():
            clone = keras.models.clone_model(template)
            if not reinitialize:
                clone.set_weights(saved)
            return clone

        return build
    if callable(model):
        return model
    raise InputError(
        f"model must be a function returning an uncompiled keras.Model, a keras.Model or a .keras path; "
        f"got {type(model).__name__}"
    )


def _build(builder):
    import keras

    model = builder()
    if not isinstance(model, keras.Model):
        raise InputError(f"the model builder returned a {type(model).__name__}, not a keras.Model")
    if not model.built:
        raise InputError("the model builder returned an unbuilt model: give it an Input (keras.Input(shape))")
    return model


# --------------------------------------------------------------------------- the result
@dataclasses.dataclass
class ABComparison:
    """The outcome of `compare_regimes`.

    Attributes:
        regimes: `{regime: entry}`, in the order run; each entry has `seeds`, `scores`
            (one per seed), `mean`, `std` (sample standard deviation), `wall_time_s` (one
            per seed, `model.fit` only), `mean_wall_time_s`, `init_hash` and `order_hash`
            (one per seed; `order_hash` None for a `tf.data.Dataset`) and `curves` (one
            `History` dict per seed).
        differences: `{"lerac - conventional": ..., "lerac - warmup": ...}`: for every
            regime against conventional and for lerac against warmup, the paired
            statistics of `stats.paired_difference` (`n`, `mean`, `se`, `ci95`, `wins`,
            `ties`, `losses`, `significant`), wins meaning the first regime scored better.
        settings: What ran: score, epochs, seeds, batch size, steps per epoch, optimizer
            config, loss, curriculum, CBS settings, backend.
        lerac: The last curriculum optimizer that ran (lerac, else warmup, else anti),
            for the curriculum plot; not written to JSON.
    """

    regimes: dict
    differences: dict
    settings: dict
    lerac: Any = None

    def to_dict(self) -> dict:
        """`{"settings", "regimes", "differences"}`: what `results.json` holds."""
        return {"settings": self.settings, "regimes": self.regimes, "differences": self.differences}

    def table(self) -> str:
        """The per-regime table and the paired differences, as printed by `keras-lerac compare`."""
        from keras_lerac.experiments import report

        return report.format_table(self.regimes, self.settings.get("score", "accuracy")) + (
            "\n\n" + report.format_differences(self.differences, self.settings.get("score", "accuracy"))
            if self.differences
            else ""
        )

    def write(self, output: str) -> list[str]:
        """Writes `results.json`, `accuracy.png` and (with a curriculum) `curriculum.png`.

        Returns:
            The paths written (plots are skipped, with a note, without matplotlib).
        """
        from keras_lerac.experiments import report

        os.makedirs(output, exist_ok=True)
        path = os.path.join(output, "results.json")
        with open(path, "w") as f:
            json.dump(self.to_dict(), f, indent=2)
        return [path, *report.write_plots(output, self)]


# --------------------------------------------------------------------------- the comparison
def _resolve_data(data, seed: int):
    return data(seed) if callable(data) and not (_is_tf_dataset(data) or _is_py_dataset(data)) else data


def _steps_per_epoch(data, arrays, batch_size: int, steps_per_epoch: int | None) -> int | None:
    if steps_per_epoch is not None:
        return steps_per_epoch
    if arrays is not None:
        return math.ceil(len(arrays[0]) / batch_size)
    if _is_py_dataset(data):
        return data.num_batches
    import tensorflow as tf

    cardinality = int(data.cardinality())
    return cardinality if cardinality >= 0 and cardinality != tf.data.INFINITE_CARDINALITY else None


def _dataset_sample(data) -> tuple[Any, Any]:
    """`(x, y)` of the first batch of a dataset, as NumPy (for the shape checks)."""
    if _is_py_dataset(data):
        batch = data[0]
    else:
        batch = next(iter(data.take(1).as_numpy_iterator()))
    if not isinstance(batch, tuple) or len(batch) < 2:
        raise InputError("a training dataset must give (x, y) batches")
    return batch[0], batch[1]


def compare_regimes(
    model: Any,
    train: Any,
    test: Any,
    *,
    optimizer: Any,
    regimes: Sequence[str] = ("conventional", "warmup", "lerac"),
    epochs: int = 10,
    seeds: int | Sequence[int] = 3,
    batch_size: int = 32,
    steps_per_epoch: int | None = None,
    loss: Any = None,
    metrics: Sequence[Any] | None = None,
    score: str | None = None,
    greater_is_better: bool | None = None,
    curriculum_steps: int | None = None,
    min_learning_rate: float | None = None,
    schedule: str = "exponential",
    num_buckets: int | None = None,
    cbs_sigma: float = 1.0,
    cbs_decay: float = 0.9,
    cbs_every: int = 5,
    reinitialize: bool = True,
    callbacks: Callable[[str, int], list] | None = None,
    curves: bool = True,
    progress: bool | Progress = True,
    before_fit: Callable[[str, int, Any, Any], Any] | None = None,
    output: str | None = None,
) -> ABComparison:
    """Trains one model under several regimes, paired by seed, and compares them.

    Every regime of a seed starts from the same initial weights and sees the same
    batches in the same order (see the module docstring for what each kind of data
    guarantees); the score (test accuracy by default) after the last epoch is compared
    regime by regime, seed by seed.

    Regimes (all with a fresh copy of `optimizer` as the base):

    - `"conventional"`: the base optimizer.
    - `"warmup"`: `LeRaC(base, schedule="warmup", ...)`: every bucket starts at the
      lowest start ratio and rises to the base at K, an ordinary warm-up.
    - `"lerac"`: `LeRaC(base, schedule=schedule, ...)`.
    - `"anti"`: `LeRaC(base, schedule="anti", ...)`: LeRaC's start rates in reverse
      depth order.
    - `"cbs"`: Curriculum by Smoothing (`keras_lerac.cbs.add_smoothing(model, 3,
      cbs_sigma)` with `SmoothingSchedule(cbs_decay, cbs_every)`); convolutional models only.

    The three curriculum regimes share K and the start ratio: `curriculum_steps` and
    `min_learning_rate` when given, else the package's defaults rule for the run's
    length (`LeRaC(..., total_steps=epochs x steps_per_epoch)`).

    Args:
        model: A function returning a new, uncompiled `keras.Model` (called once per seed
            and once per run), a `keras.Model`, or the path of a `.keras` file. A model
            or file gives the architecture: each seed draws fresh weights
            (`keras.models.clone_model`), unless `reinitialize=False`.
        train: The training data: `(x, y)` NumPy arrays, a `tf.data.Dataset` or a
            `keras.utils.PyDataset` of `(x, y)` batches, or a function `seed -> ` one of
            these (called for every run).
        test: The test data, in the same forms; the score is `model.evaluate` on it.
        optimizer: The base optimizer: a Keras optimizer (copied for every run, never
            trained itself), a config dict, or a name such as `"adam"`.
        regimes: Regimes to run, among `REGIMES`.
        epochs: Epochs per run.
        seeds: A number of seeds (`0 .. seeds-1`) or the seeds themselves.
        batch_size: Batch size for arrays (a dataset brings its own batches).
        steps_per_epoch: For a dataset of unknown length: steps per epoch.
        loss: The loss. Defaults to cross-entropy matching the labels and the model's
            head: sparse categorical for integer labels, categorical for one-hot labels,
            binary for one output unit; from logits unless the last layer applies
            softmax or sigmoid.
        metrics: Compiled metrics. Defaults to `["accuracy"]`.
        score: The `model.evaluate` key compared. Defaults to the first metric's name
            (`"accuracy"`).
        greater_is_better: Whether a higher score wins. Defaults to False for a score
            named like a loss or an error, else True.
        curriculum_steps: K in iterations for warmup, lerac and anti.
        min_learning_rate: Their lowest start rate.
        schedule: The lerac regime's curriculum: `"exponential"`, `"linear"` or
            `"stepwise"`.
        num_buckets: Group the depth levels into this many buckets (curriculum regimes).
        cbs_sigma: CBS initial sigma.
        cbs_decay: CBS sigma decay factor.
        cbs_every: CBS epochs between two decays.
        reinitialize: With a `keras.Model` or a file: draw fresh weights per seed
            (default) or start every run from its weights (then seeds vary the batch
            order only).
        callbacks: A function `(regime, seed) -> list` of extra Keras callbacks per run.
        curves: Pass `test` as `validation_data`, for per-epoch test curves.
        progress: Show a progress bar for the whole comparison (`True`), none (`False`),
            or a `Progress` to drive.
        before_fit: Called as `before_fit(regime, seed, model, optimizer)` once a run's
            model is compiled.
        output: If given, `results.json` and the plots are written there.

    Returns:
        An `ABComparison`.

    Raises:
        InputError: for bad input (shapes that do not fit the model, labels out of
            range, a regime that cannot run on the model, a file that is not a model),
            before any training.
        PairingError: if two regimes of a seed did not start from the same weights or
            see the same batches.

    Example:

    ```python
    import keras
    import numpy as np
    from keras_lerac.experiments.paired import compare_regimes

    def build():
        inputs = keras.Input((20,))
        hidden = keras.layers.Dense(32, activation="relu")(inputs)
        return keras.Model(inputs, keras.layers.Dense(3)(hidden))

    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 20)).astype("float32")
    y = (x[:, 0] > 0).astype("int32") + (x[:, 1] > 0)
    result = compare_regimes(build, (x[:192], y[:192]), (x[192:], y[192:]),
                             optimizer=keras.optimizers.SGD(0.05, momentum=0.9),
                             regimes=["conventional", "lerac"], epochs=2, seeds=2,
                             progress=False)
    print(result.table())
    print(result.differences["lerac - conventional"]["mean"])
    ```
    """
    import keras

    from keras_lerac import CurriculumLogger, LeRaC

    # ---- check everything before any training
    regimes = list(dict.fromkeys(regimes))
    if not regimes:
        raise InputError("no regime to run: choose among " + ", ".join(REGIMES))
    for regime in regimes:
        if regime not in REGIMES:
            raise InputError(f"unknown regime {regime!r}: choose among {', '.join(REGIMES)}")
    seeds = list(range(seeds)) if isinstance(seeds, int) else [int(s) for s in seeds]
    if not seeds:
        raise InputError("no seed: give seeds >= 1")
    if len(set(seeds)) != len(seeds):
        raise InputError(f"repeated seeds {seeds}: each seed pairs one set of runs")
    for name, value in (("epochs", epochs), ("batch_size", batch_size)):
        if int(value) < 1:
            raise InputError(f"{name} must be >= 1, got {value}")
    if metrics is None:
        metrics = ["accuracy"]
    if score is None:
        first = metrics[0] if metrics else "loss"
        score = first if isinstance(first, str) else getattr(first, "name", str(first))
    if greater_is_better is None:
        greater_is_better = not (score.endswith("loss") or "error" in score)
    avoid_onednn_hang()
    builder = _builder(model, reinitialize)
    keras.utils.set_random_seed(seeds[0])
    probe = _build(builder)
    train_first, test_first = _resolve_data(train, seeds[0]), _resolve_data(test, seeds[0])
    train_arrays = _arrays(train_first, "training data")
    test_arrays = _arrays(test_first, "test data")
    explicit_loss = loss is not None
    if train_arrays is not None:
        _check_shapes(probe, *train_arrays, "training data", sparse_check=not explicit_loss)
        y_sample = train_arrays[1]
    else:
        x_sample, y_sample = _dataset_sample(train_first)
        _check_shapes(probe, np.asarray(x_sample), np.asarray(y_sample), "training data", not explicit_loss)
        y_sample = np.asarray(y_sample)
    if test_arrays is not None:
        _check_shapes(probe, *test_arrays, "test data", sparse_check=not explicit_loss)
    if "cbs" in regimes:
        reason = _cbs_reason(probe)
        if reason is not None:
            raise InputError(f"regime 'cbs' cannot run on this model: {reason}")
    base = _base_optimizer(optimizer)
    spe = _steps_per_epoch(train_first, train_arrays, batch_size, steps_per_epoch)
    curricula = [r for r in regimes if r in CURRICULUM_REGIMES]
    if spe is None and curricula and curriculum_steps is None:
        raise InputError(
            "the training dataset's length is unknown: pass steps_per_epoch (or curriculum_steps)"
        )
    total = None if spe is None else int(epochs) * spe
    curriculum_args: dict = {"model": None}
    if total is not None:
        curriculum_args["total_steps"] = total
    if curriculum_steps is not None:
        curriculum_args["curriculum_steps"] = int(curriculum_steps)
    if min_learning_rate is not None:
        curriculum_args["min_learning_rate"] = float(min_learning_rate)
    if num_buckets is not None:
        curriculum_args["num_buckets"] = int(num_buckets)
    for regime in curricula:  # a bad curriculum setting is bad input too
        try:
            LeRaC(
                _clone_optimizer(base),
                **dict(curriculum_args, model=probe),
                schedule=CURRICULUM_REGIMES[regime] or schedule,
            )
        except (TypeError, ValueError) as error:
            raise InputError(f"regime {regime!r}: {_first_line(error)}") from None
    run_loss = loss if explicit_loss else _default_loss(probe, y_sample)  # losses hold no state
    loss_name = getattr(run_loss, "name", str(run_loss))
    del probe

    # ---- run: for each seed, every regime from the same weights and batch order
    bar = progress if isinstance(progress, Progress) else Progress(len(seeds) * len(regimes))
    show = progress is not False
    results: dict = {
        r: {
            "seeds": list(seeds),
            "scores": [],
            "wall_time_s": [],
            "init_hash": [],
            "order_hash": [],
            "curves": [],
        }
        for r in regimes
    }
    lerac_optimizer = None
    for seed in seeds:
        keras.utils.clear_session()
        keras.utils.set_random_seed(seed)
        initial = [np.array(w) for w in _build(builder).get_weights()]
        seed_hash = weights_hash(initial)
        for regime in regimes:
            keras.utils.clear_session()
            keras.utils.set_random_seed(seed)
            net = _build(builder)
            net.set_weights(initial)
            init_hash = weights_hash(net.get_weights())
            if init_hash != seed_hash:
                raise PairingError(
                    f"seed {seed}, regime {regime!r}: the initial weights' hash {init_hash} differs from the "
                    f"seed's {seed_hash}"
                )
            run_optimizer = _clone_optimizer(base)
            run_callbacks: list = []
            if regime in CURRICULUM_REGIMES:
                run_optimizer = LeRaC(
                    run_optimizer,
                    **dict(curriculum_args, model=net),
                    schedule=CURRICULUM_REGIMES[regime] or schedule,
                )
                run_callbacks.append(CurriculumLogger())
            elif regime == "cbs":
                from keras_lerac import cbs

                net = cbs.add_smoothing(net, kernel_size=3, sigma=cbs_sigma)
                run_callbacks.append(cbs.SmoothingSchedule(decay=cbs_decay, every_epochs=cbs_every))
            net.compile(optimizer=run_optimizer, loss=run_loss, metrics=list(metrics))
            if callbacks is not None:
                run_callbacks.extend(callbacks(regime, seed))
            if before_fit is not None:
                before_fit(regime, seed, net, run_optimizer)
            train_data = _resolve_data(train, seed)
            test_data = _resolve_data(test, seed)
            served = None
            if train_arrays is not None:
                x, y = _arrays(train_data, "training data")
                fit_data = _paired_batches_class()(x, y, int(batch_size), seed, int(epochs))
                served, fit_steps = fit_data, fit_data.per_epoch
            elif _is_py_dataset(train_data):
                fit_data = served = _tapped_class()(train_data)
                fit_steps = steps_per_epoch
            else:
                fit_data, fit_steps = train_data, steps_per_epoch
            test_pair = _arrays(test_data, "test data")
            eval_kwargs = {"batch_size": max(int(batch_size), 256)} if test_pair is not None else {}
            test_fit = test_pair if test_pair is not None else test_data
            keras.utils.set_random_seed(seed)  # dropout and other random layers: the same draws
            start = time.perf_counter()
            history = net.fit(
                fit_data,
                epochs=int(epochs),
                steps_per_epoch=fit_steps,
                shuffle=False,
                validation_data=test_fit if curves else None,
                verbose=0,
                callbacks=run_callbacks,
            )
            wall = time.perf_counter() - start
            if test_pair is not None:
                scores = net.evaluate(*test_pair, verbose=0, return_dict=True, **eval_kwargs)
            else:
                scores = net.evaluate(test_data, verbose=0, return_dict=True)
            if score not in scores:
                raise InputError(f"score {score!r} is not among what evaluate returns: {', '.join(scores)}")
            entry = results[regime]
            entry["scores"].append(float(scores[score]))
            entry["wall_time_s"].append(wall)
            entry["init_hash"].append(init_hash)
            entry["order_hash"].append(None if served is None else served.order_hash())
            entry["curves"].append({k: [float(v) for v in vals] for k, vals in history.history.items()})
            if regime in CURRICULUM_REGIMES and (lerac_optimizer is None or regime == "lerac"):
                lerac_optimizer = run_optimizer
            if show:
                bar.advance(f"{regime} seed {seed}: {score} {entry['scores'][-1]:.4f} (fit {wall:.1f} s)")
        orders = {results[r]["order_hash"][-1] for r in regimes}
        if len(orders) > 1:
            raise PairingError(
                f"seed {seed}: the regimes saw different batches ("
                + ", ".join(f"{r}: {results[r]['order_hash'][-1]}" for r in regimes)
                + "); a dataset must give the same batches each time it is iterated: build it in a "
                "function seed -> dataset with a seeded shuffle"
            )
    if show and not isinstance(progress, Progress):
        bar.close()

    for entry in results.values():
        values = entry["scores"]
        entry["mean"], _ = stats.mean_se(values)
        entry["std"] = float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
        entry["mean_wall_time_s"] = sum(entry["wall_time_s"]) / len(entry["wall_time_s"])
    from keras_lerac.experiments import report

    differences = _differences(results, greater_is_better)
    settings = {
        "backend": keras.backend.backend(),
        "regimes": regimes,
        "seeds": seeds,
        "epochs": int(epochs),
        "batch_size": int(batch_size) if train_arrays is not None else None,
        "steps_per_epoch": spe,
        "total_steps": total,
        "train_examples": None if train_arrays is None else int(len(train_arrays[0])),
        "test_examples": None if test_arrays is None else int(len(test_arrays[0])),
        "score": score,
        "greater_is_better": greater_is_better,
        "loss": loss_name,
        "optimizer": keras.optimizers.serialize(base),
        "curriculum": None if lerac_optimizer is None else _curriculum_record(lerac_optimizer, spe, schedule),
        "cbs": {"kernel_size": 3, "sigma": cbs_sigma, "decay": cbs_decay, "every_epochs": cbs_every}
        if "cbs" in regimes
        else None,
        "pairing": "same initial weights (init_hash) and batch order (order_hash) per seed across regimes",
        "machine": report.machine_info(),
        "batch_order": f"own per-epoch permutation, numpy default_rng([seed, {ORDER_KEY}])"
        if train_arrays is not None
        else "the dataset's own order",
    }
    comparison = ABComparison(_jsonable(results), differences, _jsonable(settings), lerac_optimizer)
    if output is not None:
        comparison.write(output)
    return comparison


def _differences(results: dict, greater_is_better: bool) -> dict:
    pairs = [(r, REFERENCE) for r in results if r != REFERENCE and REFERENCE in results]
    if "lerac" in results and "warmup" in results:
        pairs.append(("lerac", "warmup"))
    out = {}
    for a, b in pairs:
        d = stats.paired_difference(results[a]["scores"], results[b]["scores"])
        if not greater_is_better:
            d["wins"], d["losses"] = d["losses"], d["wins"]
        out[f"{a} - {b}"] = d
    return out


def _curriculum_record(optimizer, steps_per_epoch: int | None, schedule: str) -> dict:
    config = optimizer.get_config()
    return {
        "lerac_schedule": schedule,
        "curriculum_steps": config["curriculum_steps"],
        "curriculum_epochs": None if not steps_per_epoch else config["curriculum_steps"] / steps_per_epoch,
        "min_learning_rate": optimizer.curriculum.start_rates[-1]
        if optimizer.built
        else config["min_learning_rate"],
        "total_steps": config.get("total_steps"),
        "suggested": list(getattr(optimizer, "suggested_settings", ())),
        "num_buckets": len(optimizer.start_ratios),
    }


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value
