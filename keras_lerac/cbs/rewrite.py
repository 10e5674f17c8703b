"""Puts a `GaussianSmoothing` after the convolutions of a model, or takes them out again.

`add_smoothing` and `remove_smoothing` return a new model built with
`keras.models.clone_model`: `clone_function` re-creates every layer from its config (a
conv with a non-linear activation loses the activation), `call_function` calls each new
layer and inserts the smoothing layer (and the activation split out of the conv) on its
output, or skips a smoothing layer. Once the new model is built, every new layer gets
the weights of the layer it copies. The result is an independent copy: training it does
not change the original model.

Two things are done by hand rather than by `clone_model` options:

* Sequential models. `clone_model` refuses `call_function` for them (a Sequential model
  is a list of layers, not a graph of calls), so a Sequential model is rebuilt as a
  Sequential model from its layer list, with the new layers inserted in the list.
* Nested models. `clone_model(..., recursive=True)` does not pass `call_function` on to
  nested Sequential models, so `clone_function` itself rebuilds nested Sequential and
  functional models with this module's rules. It remembers every copy, so a layer
  shared between several places (nested models included) stays one shared layer.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import keras

from keras_lerac import _keras
from keras_lerac.cbs.layer import GaussianSmoothing, check_kernel_size, check_sigma

__all__ = ["add_smoothing", "remove_smoothing", "smoothing_layers"]

# Every Keras convolution: Conv, ConvTranspose, DepthwiseConv and SeparableConv, any rank.
_CONVS = _keras.conv_base_classes()

_SUBCLASSED_HINT = (
    "build it as a functional (or Sequential) model, or place GaussianSmoothing layers by hand right "
    "after each convolution"
)


def _is_linear(activation) -> bool:
    return activation is None or activation is keras.activations.linear


def _is_pointwise(conv) -> bool:
    """A conv whose kernel is one pixel wide (1x1): it mixes channels, not pixels."""
    return all(k == 1 for k in conv.kernel_size)


def _check_model(model, what: str) -> None:
    if not isinstance(model, keras.Model):
        raise TypeError(
            f"{what} expects a keras.Model (Sequential or functional). Received: {type(model).__name__}"
        )
    if not _keras.is_graph_model(model):
        raise TypeError(
            f"{what} cannot rewire the subclassed model '{model.name}' ({type(model).__name__}): its "
            f"call() is Python code, not a graph of layers. Instead, {_SUBCLASSED_HINT}."
        )


class _Rewrite:
    """Copies one model (nested models included) with `clone_model`, adding or removing smoothing.

    Args:
        smooths: For `add_smoothing`, `smooths(layer)` says whether a layer is a conv that
            gets a smoothing layer; None for `remove_smoothing`.
        kernel_size, sigma: The new smoothing layers' arguments.
        taken_names: Layer names already used in the model.
    """

    def __init__(
        self,
        smooths: Callable | None = None,
        kernel_size: int = 3,
        sigma: float = 1.0,
        taken_names: set | None = None,
    ):
        self.smooths = smooths
        self.kernel_size = kernel_size
        self.sigma = sigma
        self.names = set(taken_names or ())
        self.copies = {}  # id(original layer) -> its copy, so shared layers stay shared
        self.pairs = []  # (original, copy): copy the weights once every copy is built
        self.after = {}  # id(copied conv) -> the new layers called on its output, in order

    @property
    def adding(self) -> bool:
        return self.smooths is not None

    # -- models ------------------------------------------------------------------------
    def model(self, model: keras.Model) -> keras.Model:
        """The rewritten copy of a Sequential or functional model (weights not copied yet)."""
        if isinstance(model, keras.Sequential):
            return self._sequential(model)
        source = model
        if model.compiled:
            # clone_model would compile the copy like the original; ours is returned
            # uncompiled, so clone an uncompiled model over the same graph.
            source = keras.Model(model.input, model.output, name=model.name)
        copy = keras.models.clone_model(source, clone_function=self.copy, call_function=self.call)
        if not model.trainable:
            copy.trainable = False
        return copy

    def _sequential(self, model: keras.Sequential) -> keras.Sequential:
        try:
            (source,) = model.inputs
        except AttributeError:  # Sequential.inputs raises it until the model is built
            raise ValueError(
                f"The Sequential model '{model.name}' has no defined input. Give it a "
                "`keras.Input(shape)` as first layer (or call `model.build(input_shape)`) before "
                "rewriting it."
            ) from None
        layers = [keras.Input(batch_shape=source.shape, dtype=source.dtype, name=source.name)]
        for layer in model.layers:
            if not self.adding and isinstance(layer, GaussianSmoothing):
                continue
            copy = self.copy(layer)
            layers += [copy, *self.after.get(id(copy), ())]
        return keras.Sequential(layers, name=model.name, trainable=model.trainable)

    # -- layers: clone_function and call_function ----------------------------------------
    def copy(self, layer):
        """`clone_function`: the copy of `layer`, made once however often it is used."""
        if id(layer) in self.copies:
            return self.copies[id(layer)]
        if _keras.is_graph_model(layer):
            copy = self.model(layer)
        elif not isinstance(layer, keras.layers.Layer):
            copy = layer  # a keras.ops operation: no state, used as it is
        elif not self.adding and isinstance(layer, GaussianSmoothing):
            copy = layer  # never called: `call` passes its input through
        else:
            self._check_reachable(layer)
            copy = self._copy_layer(layer)
            self.pairs.append((layer, copy))
        self.copies[id(layer)] = copy
        return copy

    def call(self, layer, *args, **kwargs):
        """`call_function`: calls a copied layer, then the layers inserted after it."""
        if not self.adding and isinstance(layer, GaussianSmoothing):
            return args[0] if args else kwargs["inputs"]
        outputs = layer(*args, **kwargs)
        for extra in self.after.get(id(layer), ()):
            outputs = extra(outputs)
        return outputs

    def _copy_layer(self, layer):
        smoothed = self.adding and self.smooths(layer)
        split = smoothed and not _is_linear(layer.activation)
        try:
            config = layer.get_config()
            if split:
                config["activation"] = None  # moved to an Activation layer after the smoothing
            copy = type(layer).from_config(config)
        except Exception as error:
            raise TypeError(
                f"{self._what} copies every layer with `type(layer).from_config(layer.get_config())`, "
                f"and that fails for the layer '{layer.name}' ({type(layer).__name__}): {error!r}. "
                "Give that layer class a get_config() that returns its constructor arguments."
            ) from error
        if smoothed:
            self.after[id(copy)] = self._new_layers_after(layer)
        return copy

    def _new_layers_after(self, conv) -> list:
        extra = [
            GaussianSmoothing(
                kernel_size=self.kernel_size,
                sigma=self.sigma,
                data_format=conv.data_format,
                dtype=conv.dtype_policy,
                name=self._unique(f"{conv.name}_smoothing"),
            )
        ]
        if not _is_linear(conv.activation):
            extra.append(
                keras.layers.Activation(
                    conv.activation, dtype=conv.dtype_policy, name=self._unique(f"{conv.name}_activation")
                )
            )
        return extra

    def _check_reachable(self, layer) -> None:
        """Refuses a custom layer or subclassed model hiding what the rewrite must change."""
        inner = _keras.flatten_layers(layer)
        if self.adding and any(self.smooths(lyr) for lyr in inner):
            raise TypeError(
                f"add_smoothing cannot reach the convolution(s) inside '{layer.name}' "
                f"({type(layer).__name__}): its call() is Python code, not a graph of layers. "
                f"Instead, {_SUBCLASSED_HINT}."
            )
        if not self.adding and any(isinstance(lyr, GaussianSmoothing) for lyr in inner):
            raise TypeError(
                f"remove_smoothing cannot take the GaussianSmoothing layers out of '{layer.name}' "
                f"({type(layer).__name__}): its call() is Python code, not a graph of layers. Set their "
                "sigma to 0 instead (the layer is then exactly the identity)."
            )

    def _unique(self, name: str) -> str:
        candidate, i = name, 1
        while candidate in self.names:
            candidate, i = f"{name}_{i}", i + 1
        self.names.add(candidate)
        return candidate

    @property
    def _what(self) -> str:
        return "add_smoothing" if self.adding else "remove_smoothing"

    # -- weights ---------------------------------------------------------------------------
    def copy_weights(self) -> None:
        """Gives every copied layer the current weights of its original."""
        for original, copy in self.pairs:
            try:
                copy.set_weights(original.get_weights())
            except ValueError as error:
                raise TypeError(
                    f"{self._what} could not copy the weights of the layer '{original.name}' "
                    f"({type(original).__name__}) into its copy: {error} Its get_config() must "
                    "describe the layer fully, so that from_config() creates the same weights."
                ) from error


def add_smoothing(
    model: keras.Model,
    kernel_size: int = 3,
    sigma: float = 1.0,
    *,
    smooth_pointwise: bool = False,
) -> keras.Model:
    """Returns a copy of `model` with a `GaussianSmoothing` right after each convolution.

    Every Keras convolution (`Conv1D/2D/3D`, `Conv1D/2D/3DTranspose`,
    `DepthwiseConv1D/2D`, `SeparableConv1D/2D` and their subclasses), in nested
    Sequential and functional models too, gets one smoothing layer on its output, before
    whatever follows (normalisation, activation, `Add`, ...), as in the official CBS code
    (`conv -> smoothing -> batch norm -> activation`). A conv with a non-linear
    activation, such as `Conv2D(8, 3, activation="relu")`, is split: the conv without
    activation (same weights), the smoothing, then an `Activation` layer with the
    original activation. A conv used several times (shared weights) gets one shared
    smoothing layer. The dense layers are not smoothed.

    Pointwise (1x1) convolutions are not smoothed unless `smooth_pointwise=True`. In
    ResNets they are the projection shortcuts, which the official CBS code does not
    smooth; more generally a 1x1 conv only mixes channels, and the smoothing after the
    spatial convs already blurs what it sees.

    The result is an independent copy: every layer is re-created with
    `keras.models.clone_model` and gets the weights the original has at the moment of
    the call, so training the copy does not change the original. Layer names, trainable
    flags and the trainable variables (count and per-layer order) are kept; the new
    layers are named `<conv name>_smoothing` and `<conv name>_activation`. A Sequential
    model stays Sequential. The result is not compiled. With `sigma=0` its outputs equal
    the original model's.

    Args:
        model: A Sequential or functional model (residual graphs, nested models, shared
            layers and several inputs/outputs are supported). Subclassed models cannot
            be rewired.
        kernel_size: Positive odd integer, taps per spatial axis. Defaults to 3.
        sigma: Initial sigma of every smoothing layer, `>= 0`. Defaults to 1.0.
        smooth_pointwise: Whether 1x1 convolutions are smoothed too. Defaults to False.

    Returns:
        A new, uncompiled `keras.Model` (Sequential if `model` is).

    Raises:
        TypeError: for subclassed models, for convs hidden inside custom layers or nested
            subclassed models, and for layers that cannot be re-created from their config.
        ValueError: if the model has nothing to smooth or already has smoothing layers,
            if a conv to smooth has causal padding, or for bad `kernel_size` or `sigma`.

    Example:

    ```python
    import keras
    import numpy as np
    from keras_lerac.cbs import SmoothingSchedule, add_smoothing, remove_smoothing, smoothing_layers

    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(inputs)
    base_model = keras.Model(inputs, keras.layers.Dense(10)(keras.layers.GlobalAveragePooling2D()(x)))
    x, y = np.random.rand(32, 16, 16, 3), np.random.randint(0, 10, 32)

    model = add_smoothing(base_model, kernel_size=3, sigma=1.0)
    model.compile(optimizer="sgd",
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x, y, epochs=2, verbose=0, callbacks=[SmoothingSchedule()])
    inference_model = remove_smoothing(model)
    ```
    """
    _check_model(model, "add_smoothing")
    kernel_size = check_kernel_size(kernel_size)
    sigma = check_sigma(sigma)
    layers = _keras.flatten_layers(model)
    if any(isinstance(lyr, GaussianSmoothing) for lyr in layers):
        raise ValueError(
            f"The model '{model.name}' already has GaussianSmoothing layers. Change their sigma (see "
            "smoothing_layers) or call remove_smoothing(model) first."
        )

    def smooths(layer) -> bool:
        return isinstance(layer, _CONVS) and (smooth_pointwise or not _is_pointwise(layer))

    convs = [lyr for lyr in layers if isinstance(lyr, _CONVS)]
    if not any(smooths(conv) for conv in convs):
        reason = (
            "only pointwise (1x1) convolutions, which are not smoothed by default: pass "
            "smooth_pointwise=True to smooth them"
            if convs
            else "no convolution layer, so there is nothing to smooth: CBS applies to convolutional "
            "networks, use a different curriculum for this model"
        )
        raise ValueError(f"The model '{model.name}' has {reason}.")
    for conv in convs:
        if smooths(conv) and conv.padding == "causal":
            raise ValueError(
                f"The convolution '{conv.name}' uses causal padding: a symmetric Gaussian after it "
                "would leak future time steps into the past. Use 'same' or 'valid' padding, or place "
                "GaussianSmoothing by hand where that leak is acceptable."
            )
    names = {lyr.name for lyr in layers}
    rewrite = _Rewrite(smooths, kernel_size, sigma, taken_names=names)
    smoothed = rewrite.model(model)
    rewrite.copy_weights()
    return smoothed


def remove_smoothing(model: keras.Model) -> keras.Model:
    """Returns a copy of `model` without its `GaussianSmoothing` layers.

    Use it after CBS training to get the plain network for inference (no smoothing
    cost). Like `add_smoothing`, it returns an independent copy with the current weights.
    A conv that `add_smoothing` split stays a conv followed by an `Activation` layer,
    which computes the same. The outputs equal the smoothed model's at `sigma = 0`.

    Args:
        model: A Sequential or functional model, typically the output of
            `add_smoothing` after training.

    Returns:
        A new, uncompiled `keras.Model` (Sequential if `model` is).

    Raises:
        TypeError: for subclassed models, and for smoothing layers inside custom layers
            or nested subclassed models.

    Example:

    ```python
    import keras
    from keras_lerac.cbs import add_smoothing, remove_smoothing

    smoothed = add_smoothing(keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(4, 3)]))
    # ... smoothed.fit(...) ...
    plain = remove_smoothing(smoothed)   # the trained weights, no smoothing layer
    ```
    """
    _check_model(model, "remove_smoothing")
    if not smoothing_layers(model):
        warnings.warn(
            f"The model '{model.name}' has no GaussianSmoothing layer; remove_smoothing returns a copy.",
            stacklevel=2,
        )
    rewrite = _Rewrite()
    plain = rewrite.model(model)
    rewrite.copy_weights()
    return plain


def smoothing_layers(model: keras.layers.Layer) -> list[GaussianSmoothing]:
    """All `GaussianSmoothing` layers of a model, nested ones included.

    Args:
        model: A model or layer.

    Returns:
        The smoothing layers, each once, in the model's layer order, depth first: a
        nested model's smoothing layers come where the nested model is (for a
        functional model, the topological order of its graph).

    Example:

    ```python
    import keras
    from keras_lerac.cbs import add_smoothing, smoothing_layers

    model = add_smoothing(keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(4, 3)]))
    for layer in smoothing_layers(model):
        layer.set_sigma(0.5)
    ```
    """
    found, seen = [], set()

    def visit(layer) -> None:
        if id(layer) in seen:
            return
        seen.add(id(layer))
        if isinstance(layer, GaussianSmoothing):
            found.append(layer)
        for child in _sublayers(layer):
            visit(child)

    visit(model)
    return found


def _sublayers(layer) -> list:
    """The direct sublayers of a layer, in order (a functional model: its graph's order).

    A model lists them itself (`Model.layers`: topological order for a functional model,
    the list for a Sequential one, tracking order for a subclassed one). For any other
    layer they are read off `_keras.flatten_layers`, which lists all the layers inside
    depth first, direct sublayers in tracking order but deeper ones reversed: the direct
    ones are the listed layers that are not inside another listed layer.
    """
    if isinstance(layer, keras.Model):
        return list(layer.layers)
    inside = _keras.flatten_layers(layer)
    nested = {id(deeper) for child in inside for deeper in _keras.flatten_layers(child)}
    return [child for child in inside if id(child) not in nested]
