"""`CurriculumLogger`: records every bucket's LeRaC rate, without slowing training."""

from __future__ import annotations

import threading
import warnings

import keras
from keras import ops

from keras_lerac import _keras
from keras_lerac._checks import check_int
from keras_lerac.optimizer import LeRaC, find_lerac

__all__ = ["CurriculumLogger"]


def _steps_of(opt: LeRaC) -> int:
    """The raw step count the curriculum runs on (micro-batches under gradient accumulation)."""
    return int(ops.convert_to_numpy(_keras.step_counter(opt)))


class CurriculumLogger(keras.callbacks.Callback):
    """Adds every LeRaC bucket's learning rate to the epoch logs.

    At each epoch end the logs get `lr_bucket_0`, `lr_bucket_1`, ... (bucket 0 nearest
    the input): the rate each bucket's last update of the epoch used, that is
    `rate_scale * learning_rates_at(step)` for that update's step, where `rate_scale` is
    what Keras' rate callbacks (`ReduceLROnPlateau`, `LearningRateScheduler`) made of
    the base rate (1.0 without them), wherever they are in the list: the scale is read
    when the epoch's first batch begins.

    Keras calls the callbacks in the order of the `callbacks` list, with one logs dict
    per epoch: a callback that records the logs (`CSVLogger`, `TensorBoard`, your own)
    sees this callback's keys only if it comes after it, as it sees `ReduceLROnPlateau`'s
    `learning_rate` only after that. So put `CurriculumLogger` first in the list.
    `History` (Keras adds it last) always has them.

    The rates are computed on the host from a step count, never read from the device
    during an epoch: the callback reads the step count and the rate scale once when
    training begins and once per epoch end (where every backend, JAX included, has
    synced its state), and counts the batches in between itself (`steps_per_execution`
    aware). It is safe for Keras' asynchronous callback dispatch, so it does not turn
    that off.

    Args:
        every_n_steps: If set, also records `(step, rates)` into `history` for every
            update whose step is a multiple of this number (step 0 included), even with
            `steps_per_execution > 1`: the rates that update used. An epoch's records
            are added when the epoch ends.
        plot_path: If set, writes `plot_curriculum` of the optimizer to this PNG when
            training ends (needs matplotlib).
        prefix: Prefix of the log keys. Defaults to `"lr_bucket_"`.

    Example:

    ```python
    import keras
    from sklearn.datasets import load_digits

    import keras_lerac

    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype("float32")
    model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(32, activation="relu"),
                              keras.layers.Dense(10)])
    opt = keras_lerac.LeRaC(keras.optimizers.SGD(0.05, momentum=0.9),
                            min_learning_rate=1e-6, curriculum_steps=100, model=model)
    model.compile(opt, keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    logger = keras_lerac.CurriculumLogger(every_n_steps=10)
    history = model.fit(x, y, epochs=3, callbacks=[logger, keras.callbacks.CSVLogger("log.csv")])
    history.history["lr_bucket_1"]   # one rate per epoch (and a column of log.csv)
    logger.history[:2]               # [(0, [...]), (10, [...])]
    ```
    """

    async_safe = True

    def __init__(
        self, every_n_steps: int | None = None, plot_path: str | None = None, prefix: str = "lr_bucket_"
    ):
        super().__init__()
        self.every_n_steps = check_int("every_n_steps", every_n_steps, minimum=1, optional=True)
        self.plot_path = None if plot_path is None else str(plot_path)
        self.prefix = prefix
        self.history: list[tuple[int, list[float]]] = []
        self._pending: list[int] = []  # steps to record at the epoch's end
        self._lock = threading.Lock()
        self._step = 0
        self._epoch_start = 0
        self._warned = False
        self._epoch_steps = None
        self._epoch_scale: float | None = None  # the rate scale this epoch runs with

    # The optimizer is looked up through the model each time (never cached): on JAX the
    # trainer swaps the optimizer's variables during `fit`. The model is read without the
    # `model` property, which on JAX forces a state sync (a device read, and a race with
    # the running step when called from Keras' async callback thread). Only host-side
    # attributes of the optimizer are used between epoch ends.
    def _optimizer(self) -> LeRaC:
        return find_lerac(getattr(_keras.callback_model(self), "optimizer", None))

    @property
    def step(self) -> int:
        """The host-side iteration count."""
        return self._step

    def _advance(self, new_step: int) -> None:
        n = self.every_n_steps
        if n is not None and new_step > self._step:
            first = -(-self._step // n) * n  # the first multiple of n among the new updates
            self._pending.extend(range(first, new_step, n))
        self._step = max(self._step, new_step)

    def _flush(self, opt: LeRaC, scale: float) -> None:
        for s in self._pending:
            self.history.append((s, [scale * r for r in opt.learning_rates_at(s)]))
        self._pending = []

    def on_train_begin(self, logs=None):
        opt = self._optimizer()
        if not opt.built:
            # TensorFlow without a strategy builds the optimizer in the first traced step.
            opt.build(_keras.callback_model(self).trainable_variables)
        self._step = _steps_of(opt)
        self._epoch_start = self._step
        self._pending = []

    def on_epoch_begin(self, epoch, logs=None):
        with self._lock:
            self._epoch_start = self._step
            self._epoch_steps = (self.params or {}).get("steps")
            self._epoch_scale = None

    def on_train_batch_begin(self, batch, logs=None):
        # Once per epoch, before its first step: after `LearningRateScheduler` set this
        # epoch's rate (in `on_epoch_begin`) and before `ReduceLROnPlateau` changes it for
        # the next one (in `on_epoch_end`), wherever either is in the callbacks list.
        # (Keras dispatches only the batch *end* hooks asynchronously.)
        if self._epoch_scale is None:
            self._epoch_scale = self._optimizer().rate_scale

    def on_train_batch_end(self, batch, logs=None):
        # `batch` is the index (in this epoch) of the last batch that ran.
        with self._lock:
            done = int(batch) + 1
            if isinstance(self._epoch_steps, int) and self._epoch_steps > 0:
                # The last execution of an epoch may be partial; Keras still reports
                # `begin + steps_per_execution - 1` for it.
                done = min(done, self._epoch_steps)
            self._advance(self._epoch_start + done)

    def on_epoch_end(self, epoch, logs=None):
        opt = self._optimizer()
        actual = _steps_of(opt)  # one read per epoch: states are synced here
        # The scale this epoch ran with (read now if no batch ran).
        scale = opt.rate_scale if self._epoch_scale is None else self._epoch_scale
        with self._lock:
            if actual != self._step:
                spe = int(getattr(_keras.callback_model(self), "steps_per_execution", 1) or 1)
                explained = actual < self._step < actual + spe and not isinstance(self._epoch_steps, int)
                if actual > self._step:
                    self._advance(actual)
                else:
                    self._pending = [s for s in self._pending if s < actual]
                if not self._warned and not explained:
                    warnings.warn(
                        f"CurriculumLogger counted {self._step} iterations but the optimizer "
                        f"reports {actual} (skipped loss-scale steps or a custom train step?). "
                        "Using the optimizer's count from now on.",
                        stacklevel=2,
                    )
                    self._warned = True
                self._step = actual
            self._flush(opt, scale)
            last = max(self._step - 1, 0)  # the step of the epoch's last update
        if logs is not None:
            for j, rate in enumerate(opt.learning_rates_at(last)):
                logs[f"{self.prefix}{j}"] = scale * rate

    def on_train_end(self, logs=None):
        if self.plot_path:
            from keras_lerac.plotting import plot_curriculum

            opt = self._optimizer()
            plot_curriculum(
                opt, steps=max(self._step, int(opt.settings.curriculum_steps * 1.25), 1), path=self.plot_path
            )
