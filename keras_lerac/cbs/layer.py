"""Curriculum by Smoothing (CBS), the baseline of the LeRaC paper.

Curriculum by Smoothing (Sinha et al., NeurIPS 2020) low-pass filters the
feature maps of a CNN with a Gaussian kernel placed right after every
convolution (conv -> smoothing -> normalisation -> activation). The standard
deviation `sigma` of the kernel starts high (blurry, "easy" features) and is
annealed towards zero during training, when the network becomes the original
one again.

This module gives:

* `GaussianSmoothing`: a Keras layer that filters 1-D, 2-D or 3-D feature maps
  depthwise with a normalised Gaussian kernel. `sigma` lives in a
  non-trainable variable, so it can be annealed without retracing and it is
  saved with the model.
* `add_smoothing` / `remove_smoothing`: rewrite a Sequential or Functional
  model (residual graphs, nested models, several inputs/outputs) to insert a
  smoothing layer after every convolution, or to take them all out again for
  inference at zero cost.
* `SmoothingSchedule`: the callback that anneals `sigma` per epoch
  (default: times 0.9 every 5 epochs, as in the paper).
* `smoothing_layers` and `gaussian_kernel` helpers.

Everything inside `GaussianSmoothing.call` is written with `keras.ops` and has
no Python branch on tensor values, so it traces under `tf.function`,
`jax.jit` and `torch.compile`.
"""

from __future__ import annotations

import math
import numbers
import warnings
from typing import Any

import keras
import numpy as np
from keras import ops
from keras.src.models.functional import Functional

__all__ = [
    "GaussianSmoothing",
    "SmoothingSchedule",
    "add_smoothing",
    "gaussian_kernel",
    "remove_smoothing",
    "smoothing_layers",
]

_CONV_TYPES = (keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Conv3D)


# --------------------------------------------------------------------------
# Argument checks shared by the layer, the helpers and the callback.
# --------------------------------------------------------------------------
def _check_kernel_size(kernel_size: Any) -> int:
    if (
        isinstance(kernel_size, bool)
        or not isinstance(kernel_size, numbers.Integral)
        or kernel_size < 1
        or kernel_size % 2 == 0
    ):
        raise ValueError(
            "`kernel_size` must be a positive odd integer (1, 3, 5, ...) so "
            "that the Gaussian has a centre tap and 'same' zero padding is "
            f"symmetric. Received: kernel_size={kernel_size!r}"
        )
    return int(kernel_size)


def _check_sigma(sigma: Any, name: str = "sigma") -> float:
    try:
        value = float(sigma)
    except (TypeError, ValueError):
        raise ValueError(f"`{name}` must be a non-negative number. Received: {name}={sigma!r}") from None
    if not math.isfinite(value) or value < 0:
        raise ValueError(
            f"`{name}` must be a finite number >= 0 (0 means no smoothing). Received: {name}={sigma!r}"
        )
    return value


def _check_data_format(data_format: Any) -> str:
    if data_format is None:
        data_format = keras.config.image_data_format()
    value = str(data_format).lower()
    if value not in ("channels_last", "channels_first"):
        raise ValueError(
            "`data_format` must be 'channels_last', 'channels_first' or None. "
            f"Received: data_format={data_format!r}"
        )
    return value


def gaussian_kernel(kernel_size: int = 3, sigma: float = 1.0, ndim: int = 1) -> np.ndarray:
    """Normalised Gaussian kernel, as a NumPy array (the reference kernel).

    The kernel is sampled at the integer grid points `0, ..., kernel_size - 1`
    centred at `(kernel_size - 1) / 2` and normalised to sum to 1. The N-D
    kernel is the outer product of the 1-D one, which equals the normalised
    isotropic N-D Gaussian. `sigma == 0` gives the one-hot centre (identity
    filter).

    Args:
        kernel_size: Positive odd integer, the number of taps per axis.
        sigma: Standard deviation in pixels, `>= 0`.
        ndim: Number of spatial dimensions of the kernel (1, 2 or 3).

    Returns:
        A float64 array of shape `(kernel_size,) * ndim` that sums to 1.

    Example:

    >>> k = gaussian_kernel(3, 1.0)
    >>> round(float(k.sum()), 6)
    1.0
    >>> gaussian_kernel(3, 0.0).tolist()
    [0.0, 1.0, 0.0]
    """
    kernel_size = _check_kernel_size(kernel_size)
    sigma = _check_sigma(sigma)
    if isinstance(ndim, bool) or not isinstance(ndim, numbers.Integral) or not (1 <= ndim <= 3):
        raise ValueError(f"`ndim` must be 1, 2 or 3. Received: ndim={ndim!r}")
    grid = np.arange(kernel_size, dtype=np.float64) - (kernel_size - 1) / 2
    if sigma == 0:
        g = (grid == 0).astype(np.float64)
    else:
        g = np.exp(-(grid**2) / (2.0 * sigma**2))
        g /= g.sum()
    kernel = g
    for _ in range(int(ndim) - 1):
        kernel = np.multiply.outer(kernel, g)
    return kernel


# --------------------------------------------------------------------------
# The layer.
# --------------------------------------------------------------------------
@keras.saving.register_keras_serializable(package="keras_lerac")
class GaussianSmoothing(keras.layers.Layer):
    """Depthwise Gaussian low-pass filter for 1-D, 2-D and 3-D feature maps.

    Each channel is convolved separately with the same normalised Gaussian
    kernel (`gaussian_kernel(kernel_size, sigma, ndim)`), with zero padding
    that keeps the spatial shape. The kernel is recomputed from the
    non-trainable variable `self.sigma` at every call, so assigning a new
    sigma (e.g. with `SmoothingSchedule`) takes effect immediately, without
    retracing, and the current sigma is saved with the model.

    `sigma == 0` makes the layer exactly the identity (its output is the
    input itself), and the output tends continuously to the identity as
    sigma goes to 0. The kernel is computed in float32 (so a tiny sigma does
    not underflow in float16) and then cast to the input's dtype; under a
    mixed-precision policy the layer computes in the policy's compute dtype.

    Args:
        kernel_size: Positive odd integer, the kernel taps per spatial axis.
            Defaults to 3 (the CBS paper's default).
        sigma: Initial standard deviation in pixels, `>= 0`. Defaults to 1.0
            (the CBS paper's initial value).
        data_format: `"channels_last"` or `"channels_first"`; defaults to
            `keras.config.image_data_format()`.
        **kwargs: Standard layer keyword arguments (`name`, `dtype`, ...).

    Input shape:
        Rank 3, 4 or 5 tensor: `(batch, *spatial, channels)` for
        `channels_last` or `(batch, channels, *spatial)` for
        `channels_first`, with 1, 2 or 3 spatial axes.

    Output shape:
        Same as the input.

    Example:

    ```python
    inputs = keras.Input((32, 32, 3))
    x = keras.layers.Conv2D(16, 3, padding="same")(inputs)
    x = GaussianSmoothing(kernel_size=3, sigma=1.0)(x)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.Activation("relu")(x)
    ```
    """

    def __init__(
        self,
        kernel_size: int = 3,
        sigma: float = 1.0,
        data_format: str | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.kernel_size = _check_kernel_size(kernel_size)
        self._initial_sigma = _check_sigma(sigma)
        self.data_format = _check_data_format(data_format)
        self.supports_masking = True
        # Created here (not in build) so the schedule can set it at any time.
        # float32 and autocast=False: under mixed precision the kernel is
        # still computed in float32 and only then cast to the compute dtype.
        self.sigma = self.add_weight(
            name="sigma",
            shape=(),
            dtype="float32",
            initializer=keras.initializers.Constant(self._initial_sigma),
            trainable=False,
            autocast=False,
        )

    def build(self, input_shape):
        rank = len(input_shape)
        if rank not in (3, 4, 5):
            raise ValueError(
                "GaussianSmoothing expects a rank 3, 4 or 5 input (1-D, 2-D "
                "or 3-D feature maps with batch and channel axes). Received "
                f"input_shape={tuple(input_shape)}"
            )
        channel_axis = -1 if self.data_format == "channels_last" else 1
        if input_shape[channel_axis] is None:
            raise ValueError(
                "GaussianSmoothing needs a known number of channels. Received "
                f"input_shape={tuple(input_shape)} with "
                f"data_format={self.data_format!r}"
            )
        self._spatial_rank = rank - 2
        self._channels = int(input_shape[channel_axis])
        self.input_spec = keras.layers.InputSpec(ndim=rank, axes={channel_axis: self._channels})

    def set_sigma(self, value: float) -> None:
        """Assigns a new sigma (validated, `>= 0`) to the layer's variable."""
        self.sigma.assign(_check_sigma(value))

    def kernel_1d(self):
        """The current normalised 1-D kernel as a float32 tensor (keras.ops)."""
        # Built from keras.ops (not NumPy constants) so torch.compile traces it.
        grid = ops.arange(self.kernel_size, dtype="float32")
        grid = grid - (self.kernel_size - 1) / 2.0
        one_hot = ops.cast(ops.equal(grid, 0.0), "float32")
        sigma = ops.cast(self.sigma, "float32")
        positive = ops.greater(sigma, 0.0)
        # A safe sigma in the unused branch so no inf/NaN is ever produced.
        safe_sigma = ops.where(positive, sigma, ops.ones_like(sigma))
        g = ops.exp(-ops.square(grid) / (2.0 * ops.square(safe_sigma)))
        g = g / ops.sum(g)  # the centre tap is exp(0) = 1, so the sum is >= 1
        return ops.where(positive, g, one_hot)

    def _kernel_nd(self, g, ndim):
        kernel = g
        for d in range(1, ndim):
            kernel = ops.multiply(ops.expand_dims(kernel, -1), ops.reshape(g, (1,) * d + (-1,)))
        return kernel

    def call(self, inputs):
        dtype = inputs.dtype
        g = self.kernel_1d()
        kernel = ops.cast(self._kernel_nd(g, self._spatial_rank), dtype)
        k = self.kernel_size
        n = self._spatial_rank
        c = self._channels
        if self.data_format == "channels_last" and n in (1, 2):
            # Native depthwise convolution on every backend.
            dw_kernel = ops.broadcast_to(ops.reshape(kernel, (k,) * n + (1, 1)), (k,) * n + (c, 1))
            outputs = ops.depthwise_conv(inputs, dw_kernel, padding="same", data_format="channels_last")
        else:
            # Depthwise == the same single-channel filter for every channel:
            # fold the channels into the batch axis and run a one-channel conv.
            # This covers 3-D maps (TensorFlow has no 3-D depthwise conv) and
            # channels_first (TensorFlow's CPU kernels are NHWC only).
            x = inputs
            if self.data_format == "channels_last":
                x = ops.moveaxis(x, -1, 1)
            shape = ops.shape(x)
            spatial = tuple(shape[2:])
            x = ops.reshape(x, (-1,) + spatial + (1,))
            x = ops.conv(
                x,
                ops.reshape(kernel, (k,) * n + (1, 1)),
                padding="same",
                data_format="channels_last",
            )
            x = ops.reshape(x, (-1, c) + spatial)
            if self.data_format == "channels_last":
                x = ops.moveaxis(x, 1, -1)
            outputs = x
        # Exact identity at sigma == 0 whatever the conv implementation does
        # (e.g. TF32 on GPUs would round even a one-hot convolution).
        return ops.where(ops.greater(self.sigma, 0.0), outputs, inputs)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def compute_mask(self, inputs, mask=None):
        return mask

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(
            {
                "kernel_size": self.kernel_size,
                # The current value, so `from_config(get_config())` clones the
                # layer in its present state (saved weights restore it anyway).
                "sigma": float(ops.convert_to_numpy(self.sigma)),
                "data_format": self.data_format,
            }
        )
        return config


# --------------------------------------------------------------------------
# Model rewriting.
# --------------------------------------------------------------------------
_SUBCLASSED_HINT = (
    "build it as a functional (or Sequential) model, or place "
    "GaussianSmoothing layers by hand right after each convolution"
)


def _is_conv(layer) -> bool:
    return isinstance(layer, _CONV_TYPES)


def _is_linear(activation) -> bool:
    return (
        activation is None
        or activation is keras.activations.linear
        or (getattr(activation, "__name__", None) == "linear")
    )


def _sublayers(layer):
    try:
        return list(layer._flatten_layers(include_self=False, recursive=True))
    except AttributeError:  # not a Keras layer (e.g. an ops Operation)
        return []


def _check_model(model, what: str) -> None:
    if not isinstance(model, keras.Model):
        raise TypeError(
            f"{what} expects a keras.Model (Sequential or Functional). Received: {type(model).__name__}"
        )
    if not isinstance(model, (keras.Sequential, Functional)):
        raise TypeError(
            f"{what} cannot rewire the subclassed model "
            f"'{model.name}' ({type(model).__name__}): its call() is Python "
            f"code, not a graph of layers. Instead, {_SUBCLASSED_HINT}."
        )


class _Rewriter:
    """Rebuilds a Sequential/Functional model layer by layer (layers reused)."""

    def __init__(self, mode, kernel_size=3, sigma=1.0):
        self.mode = mode  # "add" or "remove"
        self.kernel_size = kernel_size
        self.sigma = sigma
        self.models = {}  # id(original nested model) -> rebuilt model
        self.smoothers = {}  # id(conv) -> GaussianSmoothing (shared convs)
        self.names = set()

    # -- graph walking ----------------------------------------------------
    def rebuild(self, model):
        if isinstance(model, keras.Sequential):
            return self._rebuild_sequential(model)
        return self._rebuild_functional(model)

    def _rebuild_sequential(self, model):
        try:
            (old_input,) = model.inputs
        except (AttributeError, ValueError, TypeError):
            raise ValueError(
                f"The Sequential model '{model.name}' has no defined input. "
                "Give it a `keras.Input(shape)` as first layer (or build it) "
                "before rewriting it."
            ) from None
        x = new_input = keras.Input(
            batch_shape=old_input.shape,
            dtype=old_input.dtype,
            name=old_input.name,
        )
        for layer in model.layers:
            x = self._call(layer, (x,), {})
        return keras.Model(new_input, x, name=model.name)

    def _rebuild_functional(self, model):
        new_inputs = keras.tree.map_structure(
            lambda t: keras.Input(batch_shape=t.shape, dtype=t.dtype, name=t.name),
            model._inputs_struct,
        )
        tensors = {id(old): new for old, new in zip(model.inputs, keras.tree.flatten(new_inputs))}
        for depth in sorted(model._nodes_by_depth, reverse=True):
            for node in model._nodes_by_depth[depth]:
                if not node.operation or node.is_input:
                    continue
                if any(id(x) not in tensors for x in node.input_tensors):
                    continue  # not reachable from the inputs
                args, kwargs = node.arguments.fill_in(tensors)
                outputs = self._call(node.operation, args, kwargs)
                for old, new in zip(node.outputs, keras.tree.flatten(outputs)):
                    tensors[id(old)] = new
        outputs = [tensors[id(x)] for x in model.outputs]
        outputs = keras.tree.pack_sequence_as(model._outputs_struct, outputs)
        return keras.Model(new_inputs, outputs, name=model.name)

    # -- one layer ----------------------------------------------------------
    def _call(self, op, args, kwargs):
        if isinstance(op, (keras.Sequential, Functional)):
            if id(op) not in self.models:
                self.models[id(op)] = self.rebuild(op)
            return self.models[id(op)](*args, **kwargs)
        if isinstance(op, keras.Model):
            if self.mode == "add" and any(_is_conv(lyr) for lyr in _sublayers(op)):
                raise TypeError(
                    f"add_smoothing cannot reach the convolutions inside the "
                    f"nested subclassed model '{op.name}' "
                    f"({type(op).__name__}). Instead, {_SUBCLASSED_HINT}."
                )
            if self.mode == "remove" and any(isinstance(lyr, GaussianSmoothing) for lyr in _sublayers(op)):
                raise TypeError(
                    f"remove_smoothing cannot take the GaussianSmoothing "
                    f"layers out of the nested subclassed model '{op.name}'; "
                    "set their sigma to 0 instead (exact identity)."
                )
            return op(*args, **kwargs)
        if self.mode == "remove" and isinstance(op, GaussianSmoothing):
            return args[0] if args else kwargs["inputs"]
        if self.mode == "add" and _is_conv(op):
            return self._smoother_for(op)(op(*args, **kwargs))
        if self.mode == "add" and any(_is_conv(lyr) for lyr in _sublayers(op)):
            raise TypeError(
                f"add_smoothing cannot reach the convolution(s) inside the "
                f"custom layer '{getattr(op, 'name', op)}' "
                f"({type(op).__name__}). Instead, {_SUBCLASSED_HINT}."
            )
        return op(*args, **kwargs)

    def _smoother_for(self, conv):
        if id(conv) in self.smoothers:
            return self.smoothers[id(conv)]
        if not _is_linear(conv.activation):
            act = getattr(conv.activation, "__name__", repr(conv.activation))
            raise ValueError(
                f"The convolution '{conv.name}' has activation '{act}'. CBS "
                "smooths the conv output before the normalisation and the "
                "activation, so set activation=None on the conv and add an "
                "Activation layer after it (and after any normalisation)."
            )
        if getattr(conv, "padding", None) == "causal":
            raise ValueError(
                f"The convolution '{conv.name}' uses causal padding: a "
                "symmetric Gaussian after it would leak future time steps. "
                "Place GaussianSmoothing by hand where that is acceptable."
            )
        name = f"{conv.name}_smoothing"
        i = 1
        while name in self.names:
            name = f"{conv.name}_smoothing_{i}"
            i += 1
        self.names.add(name)
        layer = GaussianSmoothing(
            kernel_size=self.kernel_size,
            sigma=self.sigma,
            data_format=conv.data_format,
            dtype=conv.dtype_policy,
            name=name,
        )
        self.smoothers[id(conv)] = layer
        return layer


def add_smoothing(model: keras.Model, kernel_size: int = 3, sigma: float = 1.0) -> keras.Model:
    """Returns a new model with a `GaussianSmoothing` after every convolution.

    Every `Conv1D`, `Conv2D` and `Conv3D` (including 1x1 shortcut convs of
    residual blocks and convs inside nested Sequential/Functional models,
    which are rebuilt too) gets one smoothing layer on its output, before
    whatever follows (normalisation, activation, `Add`, ...). The new model
    reuses the original layer objects, so it shares their weights: training
    it also trains the original model's layers. The returned model is not
    compiled. With `sigma=0` its predictions equal the original model's.

    Args:
        model: A Sequential or Functional model (residual graphs, nested
            models and several inputs/outputs are supported). Subclassed
            models cannot be rewired.
        kernel_size: Positive odd integer, taps per spatial axis. Defaults
            to 3.
        sigma: Initial sigma of every smoothing layer, `>= 0`. Defaults to
            1.0.

    Returns:
        A new (uncompiled) functional `keras.Model`.

    Raises:
        TypeError: for subclassed models, or convs hidden inside custom
            layers / nested subclassed models.
        ValueError: if the model has no convolution, already has smoothing
            layers, or a conv has a non-linear activation or causal padding.

    Example:

    ```python
    model = add_smoothing(base_model, kernel_size=3, sigma=1.0)
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    model.fit(x, y, epochs=20, callbacks=[SmoothingSchedule()])
    inference_model = remove_smoothing(model)
    ```
    """
    _check_model(model, "add_smoothing")
    kernel_size = _check_kernel_size(kernel_size)
    sigma = _check_sigma(sigma)
    layers = _sublayers(model)
    if not any(_is_conv(lyr) for lyr in layers):
        raise ValueError(
            f"The model '{model.name}' has no Conv1D/Conv2D/Conv3D layer, so "
            "there is nothing to smooth. CBS applies to convolutional "
            "networks; for other models use a different curriculum."
        )
    if any(isinstance(lyr, GaussianSmoothing) for lyr in layers):
        raise ValueError(
            f"The model '{model.name}' already has GaussianSmoothing layers. "
            "Change their sigma (see smoothing_layers) or call "
            "remove_smoothing(model) first."
        )
    return _Rewriter("add", kernel_size, sigma).rebuild(model)


def remove_smoothing(model: keras.Model) -> keras.Model:
    """Returns a new model without any `GaussianSmoothing` layer.

    Use it after CBS training to get the plain network for inference (no
    smoothing cost). The other layers are reused with their trained weights;
    predictions equal the smoothed model's at `sigma = 0`.

    Args:
        model: A Sequential or Functional model, typically the output of
            `add_smoothing` after training.

    Returns:
        A new (uncompiled) functional `keras.Model`.

    Example:

    ```python
    plain = remove_smoothing(trained_cbs_model)
    plain.save("model.keras")
    ```
    """
    _check_model(model, "remove_smoothing")
    if not smoothing_layers(model):
        warnings.warn(
            f"The model '{model.name}' has no GaussianSmoothing layer; "
            "remove_smoothing returns an equivalent rebuilt model.",
            stacklevel=2,
        )
    return _Rewriter("remove").rebuild(model)


def smoothing_layers(model: keras.layers.Layer) -> list[GaussianSmoothing]:
    """All `GaussianSmoothing` layers of a model, nested ones included.

    Args:
        model: A model or layer.

    Returns:
        The smoothing layers, each once, in the model's layer order (for a
        functional model, the topological order of its graph).

    Example:

    ```python
    for layer in smoothing_layers(model):
        layer.set_sigma(0.5)
    ```
    """
    found, seen = [], set()
    candidates = [model] + _sublayers(model)
    for layer in candidates:
        if isinstance(layer, GaussianSmoothing) and id(layer) not in seen:
            seen.add(id(layer))
            found.append(layer)
    return found


# --------------------------------------------------------------------------
# The schedule.
# --------------------------------------------------------------------------
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
    model = add_smoothing(base_model, sigma=1.0)
    model.compile(optimizer="adam", loss="mse")
    history = model.fit(x, y, epochs=30,
                        callbacks=[SmoothingSchedule(0.9, 5, stop_epoch=25)])
    history.history["sigma"]
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
        try:
            decay_value = float(decay)
        except (TypeError, ValueError):
            decay_value = float("nan")
        if not 0.0 < decay_value <= 1.0:
            raise ValueError(f"`decay` must be in (0, 1]. Received: decay={decay!r}")
        if (
            isinstance(every_epochs, bool)
            or not isinstance(every_epochs, numbers.Integral)
            or every_epochs < 1
        ):
            raise ValueError(
                f"`every_epochs` must be an integer >= 1. Received: every_epochs={every_epochs!r}"
            )
        if stop_epoch is not None and (
            isinstance(stop_epoch, bool) or not isinstance(stop_epoch, numbers.Integral) or stop_epoch < 0
        ):
            raise ValueError(
                f"`stop_epoch` must be None or an integer >= 0. Received: stop_epoch={stop_epoch!r}"
            )
        self.decay = decay_value
        self.every_epochs = int(every_epochs)
        self.stop_epoch = None if stop_epoch is None else int(stop_epoch)
        self.initial_sigma = None if initial_sigma is None else _check_sigma(initial_sigma, "initial_sigma")
        self._layers = []
        self._initial = {}
        self._current = None

    def sigma_at(self, epoch: int, initial: float = 1.0) -> float:
        """The scheduled sigma at a (0-based) epoch for a given initial sigma."""
        if self.stop_epoch is not None and epoch >= self.stop_epoch:
            return 0.0
        return float(initial) * self.decay ** (int(epoch) // self.every_epochs)

    def on_train_begin(self, logs=None):
        self._layers = smoothing_layers(self.model)
        if not self._layers:
            raise ValueError(
                "SmoothingSchedule found no GaussianSmoothing layer in the "
                "model. Wrap it with add_smoothing(model) first."
            )
        for layer in self._layers:
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
        for layer in self._layers:
            value = self.sigma_at(epoch, self._initial[id(layer)])
            layer.sigma.assign(value)
            values.append(value)
        self._current = values[0]

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None and self._current is not None:
            logs["sigma"] = self._current
