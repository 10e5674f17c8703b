"""`CurriculumLogger`: records every bucket's LeRaC rate, without slowing training."""

from __future__ import annotations

import threading
import warnings
from typing import Any

import keras
from keras import ops

from keras_lerac import _keras
from keras_lerac._checks import check_int
from keras_lerac.optimizer import LeRaC, find_lerac

__all__ = ["CurriculumLogger"]


def _read_int(variable: Any) -> int:
    return int(ops.convert_to_numpy(getattr(variable, "value", variable)))


class CurriculumLogger(keras.callbacks.Callback):
    """Adds every LeRaC bucket's learning rate to the epoch logs.

    At each epoch end the logs get `lr_bucket_0`, `lr_bucket_1`, ... (bucket 0 nearest
    the input): the rate each bucket will use for the next update, i.e.
    `optimizer.learning_rates_at(iterations)`. `History`, `CSVLogger` and `TensorBoard`
    record them when this callback comes *before* them in the `callbacks` list (Keras
    passes one logs dict through the list in order; `History` is always last).

    The rates are computed on the host from a step count, never read from the device
    during an epoch: the callback reads `optimizer.iterations` once when training begins
    and once per epoch end (where every backend, JAX included, has synced its state),
    and counts the batches in between itself (`steps_per_execution` aware: Keras
    reports the index of the last batch of each execution). It is safe for Keras'
    asynchronous callback dispatch, so it does not turn that off.

    Args:
        every_n_steps: If set, also records `(step, rates)` into `history` at every
            iteration count that is a multiple of this number (the start included when
            it is one), even with `steps_per_execution > 1`.
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
    history.history["lr_bucket_1"]   # one rate per epoch
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
        self._lock = threading.Lock()
        self._step = 0
        self._epoch_start = 0
        self._warned = False
        self._epoch_steps = None

    # The optimizer is looked up through the model each time (never cached): on JAX
    # the trainer swaps the optimizer's variables during `fit`. `self._model`, not
    # `self.model`: on JAX the `model` property forces a state sync (a device read, and
    # a race with the running step when called from Keras' async callback thread).
    # Only host-side attributes of the optimizer are used between epoch ends.
    def _optimizer(self) -> LeRaC:
        return find_lerac(getattr(_keras.callback_model(self), "optimizer", None))

    @property
    def step(self) -> int:
        """The host-side iteration count (the optimizer's `iterations`)."""
        return self._step

    def _record_until(self, opt: LeRaC, new_step: int) -> None:
        n = self.every_n_steps
        if n is not None and new_step > self._step:
            first = (self._step // n + 1) * n
            for s in range(first, new_step + 1, n):
                self.history.append((s, opt.learning_rates_at(s)))
        self._step = max(self._step, new_step)

    def on_train_begin(self, logs=None):
        opt = self._optimizer()
        if not opt.built:
            # TensorFlow without a strategy builds the optimizer in the first traced step.
            opt.build(_keras.callback_model(self).trainable_variables)
        self._step = _read_int(opt.iterations)
        self._epoch_start = self._step
        if self.every_n_steps is not None and self._step % self.every_n_steps == 0:
            if not self.history or self.history[-1][0] != self._step:
                self.history.append((self._step, opt.learning_rates_at(self._step)))

    def on_epoch_begin(self, epoch, logs=None):
        with self._lock:
            self._epoch_start = self._step
            self._epoch_steps = (self.params or {}).get("steps")

    def on_train_batch_end(self, batch, logs=None):
        # `batch` is the index (in this epoch) of the last batch that ran.
        with self._lock:
            done = int(batch) + 1
            if isinstance(self._epoch_steps, int) and self._epoch_steps > 0:
                # The last execution of an epoch may be partial; Keras still reports
                # `begin + steps_per_execution - 1` for it.
                done = min(done, self._epoch_steps)
            new_step = self._epoch_start + done
            if new_step > self._step:
                if self.every_n_steps is not None:
                    self._record_until(self._optimizer(), new_step)
                else:
                    self._step = new_step

    def on_epoch_end(self, epoch, logs=None):
        opt = self._optimizer()
        actual = _read_int(opt.iterations)  # one read per epoch: states are synced here
        with self._lock:
            if actual != self._step:
                spe = int(getattr(_keras.callback_model(self), "steps_per_execution", 1) or 1)
                explained = actual < self._step < actual + spe and not isinstance(self._epoch_steps, int)
                if actual > self._step:
                    self._record_until(opt, actual)
                else:
                    self.history[:] = [(s, r) for s, r in self.history if s <= actual]
                if not self._warned and not explained:
                    warnings.warn(
                        f"CurriculumLogger counted {self._step} iterations but the optimizer "
                        f"reports {actual} (skipped loss-scale steps, gradient accumulation or a "
                        "custom train step?). Using the optimizer's count from now on.",
                        stacklevel=2,
                    )
                    self._warned = True
                self._step = actual
            step = self._step
        if logs is not None:
            for j, rate in enumerate(opt.learning_rates_at(step)):
                logs[f"{self.prefix}{j}"] = rate

    def on_train_end(self, logs=None):
        if self.plot_path:
            from keras_lerac.plotting import plot_curriculum

            opt = self._optimizer()
            plot_curriculum(
                opt, steps=max(self._step, int(opt.curriculum_steps * 1.25), 1), path=self.plot_path
            )
