"""How the runs of a comparison are paired by seed, and the checks that they were.

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

`serve` gives a run's `fit` its batches; `weights_hash`, `check_initial_weights` and
`check_batch_orders` are the checks.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from keras_lerac.experiments.inputs import as_arrays, is_py_dataset

ORDER_KEY = 2205_09180  # mixed into the batch-order generator's seed (LeRaC's arXiv id)


class PairingError(RuntimeError):
    """Two regimes of one seed did not start from the same weights or see the same batches."""


# --------------------------------------------------------------------------- initial weights
def weights_hash(weights: Sequence[np.ndarray]) -> str:
    """A short hash of a list of weight arrays (`model.get_weights()`): values and shapes."""
    digest = hashlib.sha1()
    for weight in weights:
        array = np.ascontiguousarray(weight)
        digest.update(str((array.shape, array.dtype.str)).encode())
        digest.update(array.tobytes())
    return digest.hexdigest()[:16]


def check_initial_weights(seed: int, regime: str, init_hash: str, seed_hash: str) -> None:
    """Checks that a run of `regime` starts from its seed's weights (equal hashes).

    Raises:
        PairingError: if the hashes differ.
    """
    if init_hash != seed_hash:
        raise PairingError(
            f"seed {seed}, regime {regime!r}: the initial weights' hash {init_hash} differs from the "
            f"seed's {seed_hash}"
        )


# --------------------------------------------------------------------------- batches
def _order_hash(served: Mapping[int, str]) -> str:
    digest = hashlib.sha1()
    for key in sorted(served):
        digest.update(f"{key}:{served[key]};".encode())
    return digest.hexdigest()[:16]


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


@dataclasses.dataclass
class Feed:
    """What one run's `fit` trains on, and what records the batches it served.

    Attributes:
        data: What `fit` gets.
        steps_per_epoch: `fit`'s `steps_per_epoch`.
        served: The dataset that hashes the batches it served, or None (a
            `tf.data.Dataset`, not hashed).
    """

    data: Any
    steps_per_epoch: int | None
    served: Any = None

    def order_hash(self) -> str | None:
        """The hash of the batches served, in order (None when not hashed).

        Raises:
            PairingError: if `fit` did not request every planned batch of arrays.
        """
        return None if self.served is None else self.served.order_hash()


def serve(
    train: Any, arrays: bool, batch_size: int, seed: int, epochs: int, steps_per_epoch: int | None
) -> Feed:
    """The batches of one run: paired by seed, and hashed where they can be.

    Args:
        train: The run's resolved training data.
        arrays: Whether the comparison's training data are arrays (then served in the
            seed's own order, `batch_size` at a time).
        batch_size: The batch size for arrays.
        seed: The run's seed.
        epochs: Epochs of the run.
        steps_per_epoch: The user's, for a dataset.

    Returns:
        The `Feed`.
    """
    if arrays:
        x, y = as_arrays(train, "training data")
        batches = _paired_batches_class()(x, y, batch_size, seed, epochs)
        return Feed(batches, batches.per_epoch, batches)
    if is_py_dataset(train):
        tapped = _tapped_class()(train)
        return Feed(tapped, steps_per_epoch, tapped)
    return Feed(train, steps_per_epoch)


def check_batch_orders(seed: int, orders: Mapping[str, str | None]) -> None:
    """Checks that the regimes of `seed` saw the same batches.

    Args:
        seed: The seed.
        orders: `{regime: order hash}` of the seed's runs.

    Raises:
        PairingError: if the hashes differ.
    """
    if len(set(orders.values())) > 1:
        raise PairingError(
            f"seed {seed}: the regimes saw different batches ("
            + ", ".join(f"{regime}: {order}" for regime, order in orders.items())
            + "); a dataset must give the same batches each time it is iterated: build it in a "
            "function seed -> dataset with a seeded shuffle"
        )
