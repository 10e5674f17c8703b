"""The sigma schedule of Curriculum by Smoothing: a callback that anneals every smoothing layer."""

from __future__ import annotations

import keras
from keras import ops

from keras_lerac._checks import check_int, check_number
from keras_lerac.cbs.layer import check_sigma
from keras_lerac.cbs.rewrite import smoothing_layers

__all__ = ["SmoothingSchedule"]


class SmoothingSchedule(keras.callbacks.Callback):
    """Anneals the sigma of every `GaussianSmoothing` layer, once per epoch.

    At the start of epoch `e` (0-based) each smoothing layer gets
    `initial * decay ** floor(e / every_epochs)`, or 0 from `stop_epoch` on.
    `initial` is `initial_sigma` when given, else each layer's own sigma when
    this callback first sees the model (at the first `fit`). The sigma used
    in the epoch is written to the epoch logs as `"sigma"` (the first
    layer's), so it appears in `History`.

    The defaults are the CBS paper's: sigma times 0.9 every 5 epochs. When
    resuming with `fit(initial_epoch=...)` and a new callback instance, pass
    `initial_sigma` so that the decay is not applied twice.

    Args:
        decay: Multiplicative factor in (0, 1]. Defaults to 0.9.
        every_epochs: Integer >= 1, epochs between two decays. Defaults to 5.
        stop_epoch: Optional integer >= 0; from this epoch on sigma is 0
            (the smoothing layers are then exactly the identity).
        initial_sigma: Optional float >= 0 that overrides the layers' sigma.

    Example:

    ```python
    import keras
    import numpy as np
    from keras_lerac.cbs import SmoothingSchedule, add_smoothing, remove_smoothing, smoothing_layers

    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(inputs)
    base_model = keras.Model(inputs, keras.layers.Dense(10)(keras.layers.GlobalAveragePooling2D()(x)))
    x, y = np.random.rand(32, 16, 16, 3), np.random.randint(0, 10, 32)

    model = add_smoothing(base_model, sigma=1.0)
    model.compile(optimizer="adam",
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    history = model.fit(x, y, epochs=3, verbose=0,
                        callbacks=[SmoothingSchedule(0.9, 1, stop_epoch=2)])
    history.history["sigma"]   # [1.0, 0.9, 0.0]
    ```
    """

    def __init__(
        self,
        decay: float = 0.9,
        every_epochs: int = 5,
        stop_epoch: int | None = None,
        initial_sigma: float | None = None,
    ):
        super().__init__()
        self.decay = check_number("decay", decay, low=0.0, low_open=True, high=1.0)
        self.every_epochs = check_int("every_epochs", every_epochs, minimum=1)
        self.stop_epoch = check_int("stop_epoch", stop_epoch, minimum=0, optional=True)
        self.initial_sigma = None if initial_sigma is None else check_sigma(initial_sigma, "initial_sigma")
        self._smoothers = []
        self._initial = {}
        self._current = None

    def sigma_at(self, epoch: int, initial: float = 1.0) -> float:
        """The scheduled sigma at a (0-based) epoch for a given initial sigma."""
        if self.stop_epoch is not None and epoch >= self.stop_epoch:
            return 0.0
        return float(initial) * self.decay ** (int(epoch) // self.every_epochs)

    def on_train_begin(self, logs=None):
        self._smoothers = smoothing_layers(self.model)
        if not self._smoothers:
            raise ValueError(
                "SmoothingSchedule found no GaussianSmoothing layer in the "
                "model. Wrap it with add_smoothing(model) first."
            )
        for layer in self._smoothers:
            if id(layer) not in self._initial:
                self._initial[id(layer)] = (
                    self.initial_sigma
                    if self.initial_sigma is not None
                    else float(ops.convert_to_numpy(layer.sigma))
                )

    def on_epoch_begin(self, epoch, logs=None):
        # On JAX the trainer re-reads variables after on_epoch_begin, so an
        # assignment here is used by the whole epoch on every backend.
        values = []
        for layer in self._smoothers:
            value = self.sigma_at(epoch, self._initial[id(layer)])
            layer.sigma.assign(value)
            values.append(value)
        self._current = values[0]

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None and self._current is not None:
            logs["sigma"] = self._current
