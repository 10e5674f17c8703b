"""Rewrites a model to put a `GaussianSmoothing` after every convolution, or take it out."""

from __future__ import annotations

import warnings

import keras
from keras.src.models.functional import Functional

from keras_lerac.cbs.layer import GaussianSmoothing, check_kernel_size, check_sigma

__all__ = ["add_smoothing", "remove_smoothing", "smoothing_layers"]

_CONV_TYPES = (keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Conv3D)

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
    kernel_size = check_kernel_size(kernel_size)
    sigma = check_sigma(sigma)
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
