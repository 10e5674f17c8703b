"""The Gaussian smoothing layer of Curriculum by Smoothing (CBS), and its kernel.

`GaussianSmoothing` filters 1-D, 2-D or 3-D feature maps depthwise with a normalised
Gaussian kernel (`gaussian_kernel`). `sigma` lives in a non-trainable variable, so it
can be annealed without retracing and it is saved with the model. Everything inside
`GaussianSmoothing.call` is written with `keras.ops` and has no Python branch on tensor
values, so it traces under `tf.function`, `jax.jit` and `torch.compile`.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
from keras import ops

from keras_lerac._checks import check_int, check_number

__all__ = ["GaussianSmoothing", "gaussian_kernel"]


# --------------------------------------------------------------------------
# Argument checks shared by the layer, the rewrite and the schedule (not public API).
# --------------------------------------------------------------------------
def check_kernel_size(kernel_size: Any) -> int:
    """Returns `kernel_size` as an int if it is a positive odd integer, else raises."""
    kernel_size = check_int("kernel_size", kernel_size, minimum=1)
    if kernel_size % 2 == 0:
        raise ValueError(
            "`kernel_size` must be a positive odd integer (1, 3, 5, ...) so that the Gaussian has a "
            f"centre tap and 'same' zero padding is symmetric. Received: kernel_size={kernel_size!r}"
        )
    return kernel_size


def check_sigma(sigma: Any, name: str = "sigma") -> float:
    """Returns `sigma` as a float if it is a finite number >= 0 (0: no smoothing), else raises."""
    return check_number(name, sigma, low=0.0)


def check_data_format(data_format: Any) -> str:
    """Returns `"channels_last"` or `"channels_first"` (None: the Keras default), or raises."""
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
    kernel_size = check_kernel_size(kernel_size)
    sigma = check_sigma(sigma)
    if check_int("ndim", ndim, minimum=1) > 3:
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
    import keras
    from keras_lerac.cbs import GaussianSmoothing

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
        self.kernel_size = check_kernel_size(kernel_size)
        self._initial_sigma = check_sigma(sigma)
        self.data_format = check_data_format(data_format)
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
        self.sigma.assign(check_sigma(value))

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
