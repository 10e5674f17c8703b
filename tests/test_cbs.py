"""Tests for Curriculum by Smoothing (keras_lerac.cbs), on every backend.

The layer and its kernel are checked against SciPy; the model rewrite (add_smoothing /
remove_smoothing) on every conv kind, a ResNet basic block, nested models and shared
layers; the schedule and a tiny end-to-end training run.
"""

import keras
import numpy as np
import pytest
from conftest import BACKEND, only_backends
from keras import layers, ops
from scipy.ndimage import correlate

from keras_lerac import _keras
from keras_lerac.cbs import (
    GaussianSmoothing,
    SmoothingSchedule,
    add_smoothing,
    gaussian_kernel,
    remove_smoothing,
    smoothing_layers,
)


def np_(x):
    return ops.convert_to_numpy(x)


def run(model, x):
    """Eager inference call (much cheaper than compiling `predict` per test)."""
    return keras.tree.map_structure(np_, model(x, training=False))


def reference_smoothing(x, kernel_size, sigma, data_format="channels_last"):
    """Direct SciPy depthwise correlation, zero padding, same output shape."""
    ndim = x.ndim - 2
    k = gaussian_kernel(kernel_size, sigma, ndim)
    if data_format == "channels_last":
        k = k.reshape((1,) + k.shape + (1,))
    else:
        k = k.reshape((1, 1) + k.shape)
    return correlate(x.astype(np.float64), k, mode="constant", cval=0.0)


# ---------------------------------------------------------------- kernel ---
def test_kernel_sums_to_one_symmetric_peaked():
    # One test, many cases: each pytest case pays the Keras-session fixture.
    for ndim in (1, 2, 3):
        for kernel_size in (1, 3, 5, 7):
            for sigma in (0.3, 1.0, 2.5):
                case = f"ndim={ndim} k={kernel_size} sigma={sigma}"
                k = gaussian_kernel(kernel_size, sigma, ndim)
                assert k.shape == (kernel_size,) * ndim, case
                np.testing.assert_allclose(k.sum(), 1.0, rtol=1e-12, err_msg=case)
                for axis in range(ndim):
                    np.testing.assert_allclose(k, np.flip(k, axis=axis), rtol=1e-12, err_msg=case)
                assert k[(kernel_size // 2,) * ndim] == k.max(), case
                assert kernel_size == 1 or k.min() > 0, case


def test_kernel_values_and_sigma_zero():
    g = np.exp(-np.array([1.0, 0.0, 1.0]) / 2.0)
    np.testing.assert_allclose(gaussian_kernel(3, 1.0), g / g.sum())
    np.testing.assert_array_equal(gaussian_kernel(5, 0.0), [0, 0, 1, 0, 0])
    k2 = gaussian_kernel(3, 0.0, ndim=2)
    assert k2[1, 1] == 1.0 and k2.sum() == 1.0


# ----------------------------------------------------------------- layer ---
CASES = [
    # (shape, data_format)
    ((2, 11, 4), "channels_last"),
    ((2, 8, 7, 4), "channels_last"),
    ((2, 4, 11), "channels_first"),
    ((2, 4, 8, 7), "channels_first"),
]


def test_layer_matches_scipy_1d_2d_3d(rng):
    # One test, many cases: each pytest case pays the Keras-session fixture.
    volumes = [((2, 5, 6, 7, 3), "channels_last"), ((2, 3, 5, 6, 7), "channels_first")]
    for shape, data_format in CASES + volumes:
        x = rng.normal(size=shape).astype("float32")
        for kernel_size in (3, 7):  # 7: beyond the 3 and 5 that the official padding handles
            case = f"shape={shape} {data_format} kernel_size={kernel_size}"
            y = np_(GaussianSmoothing(kernel_size, sigma=1.3, data_format=data_format)(x))
            assert y.shape == x.shape, case
            ref = reference_smoothing(x, kernel_size, 1.3, data_format)
            np.testing.assert_allclose(y, ref, atol=2e-6, rtol=1e-5, err_msg=case)
            # It really smooths (the test could not pass with an identity layer).
            assert np.abs(y - x).max() > 0.1, case


def test_sigma_to_zero_is_identity(rng):
    extra = [((2, 4, 5, 6, 3), "channels_last"), ((2, 3, 4, 5, 6), "channels_first")]
    for shape, data_format in CASES + extra:
        case = f"shape={shape} {data_format}"
        x = rng.normal(size=shape).astype("float32")
        layer = GaussianSmoothing(5, sigma=1e-4, data_format=data_format)
        y = np_(layer(x))
        assert np.isfinite(y).all(), case
        np.testing.assert_allclose(y, x, atol=1e-5, err_msg=case)
        layer.set_sigma(0.0)
        np.testing.assert_array_equal(np_(layer(x)), x, err_msg=case)
        fresh = GaussianSmoothing(3, 0.0, data_format=data_format)
        np.testing.assert_array_equal(np_(fresh(x)), x, err_msg=case)


def test_sigma_change_takes_effect_in_compiled_predict(rng):
    # Both paths of the layer: native depthwise conv (channels_last) and channels folded
    # into the batch axis (channels_first), here with spatial sizes known at run time only.
    last, first = keras.Input((8, 8, 4)), keras.Input((3, None, None))
    model = keras.Model(
        [last, first],
        [GaussianSmoothing(3, 1.0)(last), GaussianSmoothing(5, 1.0, data_format="channels_first")(first)],
    )
    x = [rng.normal(size=(8, 8, 8, 4)).astype("float32"), rng.normal(size=(8, 3, 7, 6)).astype("float32")]
    for sigma in (1.0, 0.0, 2.0):
        for layer in smoothing_layers(model):
            layer.sigma.assign(sigma)
        got = model.predict(x, verbose=0, batch_size=8)
        if sigma == 0.0:
            np.testing.assert_array_equal(got[0], x[0])
            np.testing.assert_array_equal(got[1], x[1])
        else:
            np.testing.assert_allclose(got[0], reference_smoothing(x[0], 3, sigma), atol=2e-6)
            np.testing.assert_allclose(
                got[1], reference_smoothing(x[1], 5, sigma, "channels_first"), atol=2e-6
            )


def test_sigma_is_non_trainable_float32_variable():
    layer = GaussianSmoothing(3, 0.5)
    layer.build((None, 8, 8, 4))
    assert layer.trainable_weights == []
    assert len(layer.non_trainable_weights) == 1
    assert layer.non_trainable_weights[0] is layer.sigma
    assert layer.sigma.dtype == "float32"
    np.testing.assert_allclose(np_(layer.sigma), 0.5)


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision(policy, rng):
    keras.mixed_precision.set_global_policy(policy)
    x = rng.normal(size=(2, 8, 8, 4)).astype("float32")
    layer = GaussianSmoothing(3, 1.0)
    y = layer(x)
    assert keras.backend.standardize_dtype(y.dtype) == policy.split("_")[1]
    assert layer.sigma.dtype == "float32"
    tol = 2e-2 if policy == "mixed_bfloat16" else 2e-3
    np.testing.assert_allclose(np_(ops.cast(y, "float32")), reference_smoothing(x, 3, 1.0), atol=tol)
    layer.set_sigma(1e-4)  # would be NaN if the kernel were built in float16
    y = np_(ops.cast(layer(x), "float32"))
    assert np.isfinite(y).all()
    quantised = np_(ops.cast(ops.cast(x, policy.split("_")[1]), "float32"))
    np.testing.assert_allclose(y, quantised, atol=1e-7)  # identity up to the cast


def test_layer_rejects_bad_arguments():
    for kwargs in [
        {"kernel_size": 4},
        {"kernel_size": 0},
        {"kernel_size": -3},
        {"sigma": -0.1},
        {"sigma": float("nan")},
        {"data_format": "nhwc"},
    ]:
        (word,) = kwargs
        with pytest.raises(ValueError, match=word):
            GaussianSmoothing(**kwargs)
    for kwargs in [{"kernel_size": 2.0}, {"kernel_size": True}, {"sigma": "1.0"}]:  # not a number of the kind
        (word,) = kwargs
        with pytest.raises(TypeError, match=word):
            GaussianSmoothing(**kwargs)
    with pytest.raises(ValueError, match="rank 3, 4 or 5"):
        GaussianSmoothing()(np.zeros((2, 3), "float32"))
    with pytest.raises(ValueError, match="sigma"):
        GaussianSmoothing().set_sigma(-1.0)
    with pytest.raises(ValueError, match="ndim"):
        gaussian_kernel(3, 1.0, ndim=4)


def test_get_config_round_trip(rng):
    layer = GaussianSmoothing(5, 0.7, data_format="channels_first", name="gs")
    layer.set_sigma(0.25)
    config = layer.get_config()
    assert config["kernel_size"] == 5
    assert config["data_format"] == "channels_first"
    np.testing.assert_allclose(config["sigma"], 0.25)
    clone = GaussianSmoothing.from_config(config)
    assert clone.name == "gs" and clone.kernel_size == 5
    x = rng.normal(size=(2, 3, 6, 6)).astype("float32")
    np.testing.assert_allclose(np_(clone(x)), np_(layer(x)), atol=1e-7)
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert isinstance(restored, GaussianSmoothing)


def test_gradients_reach_the_preceding_conv(rng):
    x = rng.normal(size=(8, 8, 8, 4)).astype("float32")
    y = rng.normal(size=(8, 1)).astype("float32")
    inp = keras.Input((8, 8, 4))
    h = layers.Conv2D(4, 3, padding="same", name="conv")(inp)
    h = GaussianSmoothing(3, 1.0)(h)
    out = layers.Dense(1)(layers.Flatten()(h))
    model = keras.Model(inp, out)
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    before = np_(model.get_layer("conv").kernel).copy()
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    after = np_(model.get_layer("conv").kernel)
    assert np.isfinite(after).all()
    delta = np.abs(after - before)
    assert delta.max() > 1e-6
    assert (delta > 0).mean() > 0.9  # every kernel entry gets gradient
    assert float(np_(model.layers[2].sigma)) == 1.0  # untouched by training


@only_backends("jax")
def test_traces_under_jax_jit_with_sigma_as_traced_value(rng):
    import jax

    layer = GaussianSmoothing(3, 1.0)
    x = rng.normal(size=(2, 8, 8, 4)).astype("float32")
    layer.build(x.shape)
    fn = jax.jit(lambda s, v: layer.stateless_call([], [s], v)[0])
    np.testing.assert_array_equal(np.asarray(fn(np.float32(0.0), x)), x)
    np.testing.assert_allclose(np.asarray(fn(np.float32(1.0), x)), reference_smoothing(x, 3, 1.0), atol=2e-6)


@only_backends("tensorflow")
def test_traces_under_tf_function_without_retrace(rng):
    import tensorflow as tf

    layer = GaussianSmoothing(3, 1.0)
    x = tf.constant(rng.normal(size=(2, 8, 8, 4)).astype("float32"))
    traces = []

    @tf.function(autograph=False)
    def fn(v):
        traces.append(1)
        return layer(v)

    np.testing.assert_allclose(fn(x).numpy(), reference_smoothing(x.numpy(), 3, 1.0), atol=2e-6)
    layer.set_sigma(0.0)
    np.testing.assert_array_equal(fn(x).numpy(), x.numpy())
    assert len(traces) == 1


@only_backends("torch")
def test_traces_under_torch_compile_fullgraph(rng):
    import torch

    layer = GaussianSmoothing(3, 1.0)
    x = torch.tensor(rng.normal(size=(2, 8, 8, 4)).astype("float32"))
    layer.build(tuple(x.shape))
    torch._dynamo.reset()
    fn = torch.compile(lambda v: layer(v), backend="eager", fullgraph=True)
    np.testing.assert_allclose(fn(x).numpy(), reference_smoothing(x.numpy(), 3, 1.0), atol=2e-6)
    layer.set_sigma(0.0)
    np.testing.assert_array_equal(fn(x).numpy(), x.numpy())


# ---------------------------------------------------------------- models ---
def consumers(model, name):
    """Names of the layers of `model` that read the output of its layer `name`."""
    out = model.get_layer(name).output
    return [
        lyr.name
        for lyr in model.layers
        if not isinstance(lyr, layers.InputLayer) and any(t is out for t in keras.tree.flatten(lyr.input))
    ]


def layers_by_name(model):
    return {lyr.name: lyr for lyr in _keras.flatten_layers(model)}


def assert_weights_copied(original, copy):
    """Every layer of `original` has a namesake in `copy` with equal values in its own variables."""
    copies = layers_by_name(copy)
    for name, layer in layers_by_name(original).items():
        if isinstance(layer, (keras.Model, GaussianSmoothing)) or not layer.weights:
            continue
        twin = copies[name]
        assert type(twin) is type(layer), name
        assert len(twin.weights) == len(layer.weights), name
        for a, b in zip(layer.weights, twin.weights):
            assert a is not b, a.path
            np.testing.assert_array_equal(np_(b), np_(a), err_msg=a.path)


def zero_init(layer):
    """`layer` with zero initializers. JAX compiles a random initializer once per weight
    shape, which made building the models the slowest part of this file; the builders
    fill every weight with `random_weights` instead."""
    for attr in ("kernel_initializer", "depthwise_initializer", "pointwise_initializer"):
        if hasattr(layer, attr):
            setattr(layer, attr, keras.initializers.Zeros())
    return layer


def random_weights(model, seed=0):
    """`model` with random values in every weight (biases and BN statistics too), so that
    a weight that is not copied, or a smoothing layer that does nothing, shows."""
    rng = np.random.default_rng(seed)
    for v in model.weights:
        if "sigma" not in v.path:
            low = 0.5 if "variance" in v.path else -1.0
            v.assign(rng.uniform(low, 1.0, v.shape).astype(v.dtype))
    return model


def all_conv_kinds():
    """Every 2-D conv kind, each with a non-linear activation (which add_smoothing splits off)."""
    inp = keras.Input((8, 8, 3), name="image")
    x = zero_init(layers.Conv2D(6, 3, padding="same", activation="relu", name="conv"))(inp)
    x = zero_init(layers.DepthwiseConv2D(3, padding="same", activation="elu", name="depthwise"))(x)
    x = zero_init(layers.SeparableConv2D(4, 3, padding="same", activation="tanh", name="separable"))(x)
    x = zero_init(
        layers.Conv2DTranspose(3, 3, strides=2, padding="same", activation="sigmoid", name="transpose")
    )(x)
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    return random_weights(keras.Model(inp, zero_init(layers.Dense(2, name="head"))(x), name="kinds"))


def basic_block():
    """A ResNet-18 basic block with a 1x1 projection shortcut, laid out as in the official code."""
    inp = keras.Input((8, 8, 3), name="image")
    y = zero_init(layers.Conv2D(8, 3, strides=2, padding="same", use_bias=False, name="conv1"))(inp)
    y = layers.BatchNormalization(name="bn1")(y)
    y = layers.ReLU(name="relu1")(y)
    y = zero_init(layers.Conv2D(8, 3, padding="same", use_bias=False, name="conv2"))(y)
    y = layers.BatchNormalization(name="bn2")(y)
    s = zero_init(layers.Conv2D(8, 1, strides=2, use_bias=False, name="shortcut"))(inp)
    s = layers.BatchNormalization(name="shortcut_bn")(s)
    x = layers.Add(name="add")([y, s])
    x = layers.ReLU(name="relu2")(x)
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    return random_weights(keras.Model(inp, zero_init(layers.Dense(3, name="head"))(x), name="basic_block"))


def nested_and_shared():
    """Two inputs through one shared conv, a nested functional block (called twice) and a
    nested Sequential block, a conv shared by that block and the outer graph, two outputs."""
    shared = zero_init(layers.Conv2D(4, 3, padding="same", activation="relu", name="shared"))
    both = zero_init(layers.Conv2D(4, 3, padding="same", name="both"))
    inner_in = keras.Input((8, 8, 4), name="inner_in")
    h = zero_init(layers.Conv2D(4, 3, padding="same", name="inner_conv"))(inner_in)
    h = layers.BatchNormalization(name="inner_bn")(h)
    inner = keras.Model(inner_in, layers.Add(name="inner_add")([h, inner_in]), name="inner")
    block = keras.Sequential(
        [
            keras.Input((8, 8, 4)),
            zero_init(layers.Conv2D(4, 3, padding="same", activation="relu", name="seq_conv")),
            both,
            layers.ReLU(name="seq_relu"),
        ],
        name="seq_block",
    )
    a = keras.Input((8, 8, 3), name="a")
    b = keras.Input((8, 8, 3), name="b")
    fa = block(inner(shared(a)))
    fb = both(inner(shared(b)))
    out_a = zero_init(layers.Dense(2, name="out_a"))(layers.GlobalAveragePooling2D(name="pool_a")(fa))
    out_b = zero_init(layers.Dense(1, name="out_b"))(layers.GlobalAveragePooling2D(name="pool_b")(fb))
    return random_weights(keras.Model({"a": a, "b": b}, {"out_a": out_a, "out_b": out_b}, name="outer"))


# --------------------------------------------------------- add_smoothing ---
def test_every_conv_kind_is_smoothed_and_its_activation_split_off(rng):
    model = all_conv_kinds()
    x = rng.normal(size=(4, 8, 8, 3)).astype("float32")
    expected = run(model, x)
    smoothed = add_smoothing(model, sigma=0.0)
    for name, activation in [
        ("conv", "relu"),
        ("depthwise", "elu"),
        ("separable", "tanh"),
        ("transpose", "sigmoid"),
    ]:
        # conv (no activation) -> smoothing -> Activation(the conv's activation)
        assert consumers(smoothed, name) == [f"{name}_smoothing"]
        assert consumers(smoothed, f"{name}_smoothing") == [f"{name}_activation"]
        split = smoothed.get_layer(f"{name}_activation")
        assert isinstance(split, layers.Activation)
        assert split.activation is keras.activations.get(activation)
        assert smoothed.get_layer(name).activation is keras.activations.linear
        assert model.get_layer(name).activation is keras.activations.get(activation)  # original intact
    assert consumers(smoothed, "pool") == ["head"]  # the dense head is not smoothed
    assert len(smoothing_layers(smoothed)) == 4
    assert_weights_copied(model, smoothed)
    np.testing.assert_allclose(run(smoothed, x), expected, rtol=1e-6, atol=1e-7)

    for layer in smoothing_layers(smoothed):
        layer.set_sigma(1.0)
    assert np.abs(run(smoothed, x) - expected).max() > 1e-3
    # An independent copy: changing it leaves the original alone.
    kernel = smoothed.get_layer("conv").kernel
    kernel.assign(np.zeros(kernel.shape, "float32"))
    np.testing.assert_array_equal(run(model, x), expected)


def test_resnet_basic_block_smoothing_where_the_official_code_puts_it(rng):
    model = basic_block()
    x = rng.normal(size=(4, 8, 8, 3)).astype("float32")
    expected = run(model, x)
    smoothed = add_smoothing(model, sigma=0.0)
    # conv -> smoothing -> bn -> relu on the main path; the 1x1 projection is not smoothed.
    assert [lyr.name for lyr in smoothing_layers(smoothed)] == ["conv1_smoothing", "conv2_smoothing"]
    assert consumers(smoothed, "conv1") == ["conv1_smoothing"]
    assert consumers(smoothed, "conv1_smoothing") == ["bn1"]
    assert consumers(smoothed, "bn1") == ["relu1"]
    assert consumers(smoothed, "conv2") == ["conv2_smoothing"]
    assert consumers(smoothed, "conv2_smoothing") == ["bn2"]
    assert consumers(smoothed, "shortcut") == ["shortcut_bn"]
    assert sorted(consumers(smoothed, "image")) == ["conv1", "shortcut"]
    assert_weights_copied(model, smoothed)
    assert [v.path for v in smoothed.trainable_variables] == [v.path for v in model.trainable_variables]
    np.testing.assert_allclose(run(smoothed, x), expected, rtol=1e-6, atol=1e-7)

    everything = add_smoothing(model, sigma=0.0, smooth_pointwise=True)
    assert consumers(everything, "shortcut") == ["shortcut_smoothing"]
    assert consumers(everything, "shortcut_smoothing") == ["shortcut_bn"]
    assert len(smoothing_layers(everything)) == 3


def test_nested_models_and_shared_layers(rng):
    model = nested_and_shared()
    model.get_layer("inner").trainable = False
    data = {k: rng.normal(size=(4, 8, 8, 3)).astype("float32") for k in ("a", "b")}
    expected = run(model, data)
    smoothed = add_smoothing(model, sigma=0.0)

    inner, block = smoothed.get_layer("inner"), smoothed.get_layer("seq_block")
    assert inner is not model.get_layer("inner") and not inner.trainable
    assert isinstance(block, keras.Sequential)
    # One copy, and one smoothing layer, per layer however often and wherever it is used.
    assert block.get_layer("both") is smoothed.get_layer("both")
    names = sorted(lyr.name for lyr in smoothing_layers(smoothed))
    assert names == ["both_smoothing", "inner_conv_smoothing", "seq_conv_smoothing", "shared_smoothing"]
    assert consumers(smoothed, "shared") == ["shared_smoothing"]
    assert consumers(smoothed, "shared_smoothing") == ["shared_activation"]
    assert consumers(inner, "inner_conv") == ["inner_conv_smoothing"]
    assert consumers(inner, "inner_conv_smoothing") == ["inner_bn"]
    assert [lyr.name for lyr in block.layers] == [
        "seq_conv",
        "seq_conv_smoothing",
        "seq_conv_activation",
        "both",
        "both_smoothing",
        "seq_relu",
    ]
    assert_weights_copied(model, smoothed)
    assert len(smoothed.trainable_variables) == len(model.trainable_variables)
    got = run(smoothed, data)
    assert set(got) == {"out_a", "out_b"}
    for key in expected:
        np.testing.assert_allclose(got[key], expected[key], rtol=1e-6, atol=1e-7, err_msg=key)

    # Both calls of the shared conv go through its smoothing layer.
    smoothed.get_layer("shared_smoothing").set_sigma(1.0)
    got = run(smoothed, data)
    for key in expected:
        assert np.abs(got[key] - expected[key]).max() > 1e-4, key


def test_smoothing_layers_of_nested_models_come_in_graph_order():
    # A functional model around a three-conv model: c1 -> c2 -> c3, wherever they live.
    inner_in = keras.Input((8, 8, 3))
    y = layers.Conv2D(4, 3, padding="same", name="c1")(inner_in)
    y = layers.Conv2D(4, 3, padding="same", name="c2")(y)
    y = layers.Conv2D(4, 3, padding="same", name="c3")(y)
    inner = keras.Model(inner_in, y, name="three_convs")
    outer_in = keras.Input((8, 8, 3))
    x = layers.Conv2D(3, 3, padding="same", name="c0")(outer_in)
    x = inner(x)
    x = layers.Conv2D(4, 3, padding="same", name="c4")(x)
    model = keras.Model(outer_in, layers.GlobalAveragePooling2D()(x))
    smoothed = add_smoothing(model, sigma=0.0)
    names = [lyr.name for lyr in smoothing_layers(smoothed)]
    assert names == [f"c{i}_smoothing" for i in range(5)]
    # Nested Sequential models and a model called on its own: the same order.
    seq = keras.Sequential([keras.Input((8, 8, 3)), inner], name="seq")
    names = [lyr.name for lyr in smoothing_layers(add_smoothing(seq, sigma=0.0))]
    assert names == ["c1_smoothing", "c2_smoothing", "c3_smoothing"]
    # Smoothing layers placed by hand inside custom layers, two levels deep.
    pair = _Holder([GaussianSmoothing(name="g1"), GaussianSmoothing(name="g2")])
    holder = _Holder([pair, GaussianSmoothing(name="g3")])
    assert [lyr.name for lyr in smoothing_layers(holder)] == ["g1", "g2", "g3"]


class _Holder(layers.Layer):
    """A custom layer that only holds (tracks) the layers it is given, in order."""

    def __init__(self, inner, **kwargs):
        super().__init__(**kwargs)
        self.inner = inner


def test_smoothing_layers_of_a_keras_hub_backbone_come_in_graph_order():
    keras_hub = pytest.importorskip("keras_hub")
    # A tiny ResNet from its constructor (no presets, no download), inside a model.
    backbone = keras_hub.models.ResNetBackbone(
        input_conv_filters=[64],
        input_conv_kernel_sizes=[3],
        stackwise_num_filters=[64, 16],
        stackwise_num_blocks=[1, 1],
        stackwise_num_strides=[1, 2],
        block_type="basic_block",
        use_pre_activation=False,
        image_shape=(16, 16, 3),
    )
    inputs = keras.Input((16, 16, 3))
    outputs = layers.Dense(3)(layers.GlobalAveragePooling2D()(backbone(inputs)))
    smoothed = add_smoothing(keras.Model(inputs, outputs), sigma=0.0)
    # The backbone's spatial convs, in the topological order of its graph.
    expected = [
        f"{lyr.name}_smoothing"
        for lyr in backbone.layers
        if isinstance(lyr, _keras.conv_base_classes()) and any(k > 1 for k in lyr.kernel_size)
    ]
    assert len(expected) >= 5
    assert [lyr.name for lyr in smoothing_layers(smoothed)] == expected


def test_sequential_1d_and_3d_stay_sequential(rng):
    seq = random_weights(
        keras.Sequential(
            [
                keras.Input((12, 2)),
                zero_init(layers.Conv1D(3, 3, padding="same", activation="relu", name="c1")),
                zero_init(layers.DepthwiseConv1D(3, name="d1")),
                zero_init(layers.SeparableConv1D(3, 3, activation="relu", name="s1")),
                zero_init(layers.Conv1DTranspose(2, 3, name="t1")),
                layers.Flatten(name="flat"),
                zero_init(layers.Dense(1, name="head")),
            ],
            name="seq",
        )
    )
    x = rng.normal(size=(4, 12, 2)).astype("float32")
    smoothed = add_smoothing(seq, kernel_size=5, sigma=0.0)
    assert isinstance(smoothed, keras.Sequential) and smoothed.name == "seq"
    assert [lyr.name for lyr in smoothed.layers] == [
        "c1",
        "c1_smoothing",
        "c1_activation",
        "d1",
        "d1_smoothing",
        "s1",
        "s1_smoothing",
        "s1_activation",
        "t1",
        "t1_smoothing",
        "flat",
        "head",
    ]
    assert all(lyr.kernel_size == 5 for lyr in smoothing_layers(smoothed))
    assert_weights_copied(seq, smoothed)
    np.testing.assert_allclose(run(smoothed, x), run(seq, x), rtol=1e-6, atol=1e-7)

    vol = random_weights(
        keras.Sequential(
            [
                keras.Input((4, 4, 4, 1)),
                zero_init(layers.Conv3D(2, 3, padding="same", name="c3")),
                zero_init(layers.Conv3DTranspose(2, 3, padding="same", name="t3")),
            ]
        )
    )
    v = rng.normal(size=(2, 4, 4, 4, 1)).astype("float32")
    smoothed = add_smoothing(vol, sigma=0.9)
    h = reference_smoothing(np_(smoothed.get_layer("c3")(v)), 3, 0.9).astype("float32")
    expected = reference_smoothing(np_(smoothed.get_layer("t3")(h)), 3, 0.9)
    np.testing.assert_allclose(run(smoothed, v), expected, atol=1e-5)


def test_keyword_arguments_ops_nodes_and_flags_are_kept(rng):
    inp = keras.Input((8, 8, 3))
    h = zero_init(layers.Conv2D(4, 3, padding="same", name="conv"))(inp)
    h = keras.ops.relu(h) * 2.0  # keras.ops nodes (no layer) in the graph
    h = layers.BatchNormalization(name="bn")(h, training=True)  # a keyword argument
    model = random_weights(keras.Model(inp, layers.GlobalAveragePooling2D()(h)))
    model.get_layer("conv").trainable = False
    model.compile(optimizer="sgd", loss="mse")
    x = rng.normal(size=(4, 8, 8, 3)).astype("float32")
    smoothed = add_smoothing(model, sigma=0.0)
    assert not smoothed.compiled  # compile the copy yourself
    assert not smoothed.get_layer("conv").trainable
    assert len(smoothed.trainable_variables) == len(model.trainable_variables) == 2
    # training=True is still wired into the BN call: called without a `training` argument,
    # both models normalise with the batch statistics (not with the moving ones).
    with_batch_stats = np_(model(x))
    assert np.abs(with_batch_stats - run(model, x)).max() > 0.1
    np.testing.assert_allclose(np_(smoothed(x)), with_batch_stats, rtol=1e-5, atol=1e-6)


def _tf_cpu_only():
    if BACKEND != "tensorflow":
        return False
    import tensorflow as tf

    return not tf.config.list_physical_devices("GPU")


@pytest.mark.skipif(
    _tf_cpu_only(),
    reason="TensorFlow's CPU Conv2D kernel is NHWC only, so a channels_first "
    "Conv2D model cannot run here (GaussianSmoothing's own channels_first path "
    "is tested on every backend above).",
)
def test_channels_first_model(rng):
    inp = keras.Input((3, 8, 8))
    h = layers.Conv2D(4, 3, padding="same", data_format="channels_first", name="conv")(inp)
    model = keras.Model(inp, layers.Flatten()(h))
    smoothed = add_smoothing(model, sigma=1.0)
    (gs,) = smoothing_layers(smoothed)
    assert gs.data_format == "channels_first"
    x = rng.normal(size=(2, 3, 8, 8)).astype("float32")
    conv_out = np_(model.get_layer("conv")(x))
    np.testing.assert_allclose(
        run(smoothed, x),
        reference_smoothing(conv_out, 3, 1.0, "channels_first").reshape(2, -1),
        atol=1e-5,
    )


class Subclassed(keras.Model):
    def __init__(self):
        super().__init__()
        self.conv = layers.Conv2D(2, 3)

    def call(self, x):
        return self.conv(x)


class ConvInside(layers.Layer):
    """A custom layer hiding a conv in its Python call()."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.conv = layers.Conv2D(2, 3, padding="same")

    def call(self, x):
        return self.conv(x)


class Scale(layers.Layer):
    """A custom layer without get_config(), so it cannot be re-created from its config."""

    def __init__(self, factor):
        super().__init__(name="scale")
        self.factor = factor

    def call(self, x):
        return x * self.factor


class SmoothInside(layers.Layer):
    """A custom layer hiding a smoothing layer in its Python call()."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.smoothing = GaussianSmoothing()

    def call(self, x):
        return self.smoothing(x)


def test_bad_inputs_give_errors_that_name_the_problem_and_the_fix():
    img = keras.Input((8, 8, 3))
    with pytest.raises(TypeError, match="subclassed model .* functional"):
        add_smoothing(Subclassed())
    with pytest.raises(TypeError, match="keras.Model"):
        add_smoothing(layers.Conv2D(2, 3))
    with pytest.raises(TypeError, match="inside 'conv_inside' .* GaussianSmoothing layers by hand"):
        add_smoothing(keras.Model(img, ConvInside(name="conv_inside")(img)))
    with pytest.raises(TypeError, match="inside .*Subclassed"):
        add_smoothing(keras.Model(img, Subclassed()(img)))
    conv_then_scale = keras.Model(img, Scale(2.0)(layers.Conv2D(2, 3, name="c")(img)))
    with pytest.raises(TypeError, match="'scale' .*get_config"):
        add_smoothing(conv_then_scale)

    dense = keras.Input((4,))
    with pytest.raises(ValueError, match="no convolution layer"):
        add_smoothing(keras.Model(dense, layers.Dense(2)(dense)))
    with pytest.raises(ValueError, match="only pointwise .* smooth_pointwise=True"):
        add_smoothing(keras.Model(img, layers.Conv2D(2, 1)(img)))
    causal = keras.Sequential([keras.Input((10, 1)), layers.Conv1D(2, 3, padding="causal", name="cc")])
    with pytest.raises(ValueError, match="'cc' uses causal padding.*'same' or 'valid'"):
        add_smoothing(causal)
    with pytest.raises(ValueError, match="no defined input.*keras.Input"):
        add_smoothing(keras.Sequential([layers.Conv2D(2, 3)]))

    ok = keras.Model(img, layers.Conv2D(2, 3, name="c2")(img))
    with pytest.raises(ValueError, match="already has GaussianSmoothing.*remove_smoothing"):
        add_smoothing(add_smoothing(ok))
    with pytest.raises(ValueError, match="kernel_size"):
        add_smoothing(ok, kernel_size=2)
    with pytest.raises(ValueError, match="sigma"):
        add_smoothing(ok, sigma=-1)

    with pytest.raises(TypeError, match="remove_smoothing cannot rewire the subclassed"):
        remove_smoothing(Subclassed())
    with pytest.raises(TypeError, match="out of 'smooth_inside'.*sigma to 0"):
        remove_smoothing(keras.Model(img, SmoothInside(name="smooth_inside")(img)))
    with pytest.warns(UserWarning, match="no GaussianSmoothing"):
        remove_smoothing(ok)


def test_sigma_survives_save_and_load(tmp_path, rng):
    smoothed = add_smoothing(all_conv_kinds(), sigma=1.0)
    for layer in smoothing_layers(smoothed):
        layer.set_sigma(0.37)
    x = rng.normal(size=(4, 8, 8, 3)).astype("float32")
    expected = run(smoothed, x)
    path = tmp_path / "cbs.keras"
    smoothed.save(path)
    for layer in smoothing_layers(smoothed):  # must not leak into the file
        layer.set_sigma(1.0)
    loaded = keras.saving.load_model(path)
    restored = smoothing_layers(loaded)
    assert len(restored) == 4
    for layer in restored:
        assert isinstance(layer, GaussianSmoothing)
        np.testing.assert_allclose(float(np_(layer.sigma)), 0.37, rtol=1e-6)
    np.testing.assert_allclose(run(loaded, x), expected, atol=1e-5)


def test_keras_internals_that_cbs_relies_on():
    assert "conv_base_classes" in _keras.check_assumptions()


# -------------------------------------------------------------- removing ---
def test_remove_smoothing_gives_back_the_plain_network(rng):
    x = rng.normal(size=(4, 8, 8, 3)).astype("float32")
    for builder in (basic_block, all_conv_kinds):
        original = builder()
        smoothed = add_smoothing(original, sigma=0.8)
        blurred = run(smoothed, x)
        plain = remove_smoothing(smoothed)
        assert smoothing_layers(plain) == []
        assert_weights_copied(smoothed, plain)
        for layer in smoothing_layers(smoothed):
            layer.set_sigma(0.0)
        sharp = run(smoothed, x)
        assert np.abs(sharp - blurred).max() > 1e-3, builder.__name__
        np.testing.assert_allclose(run(plain, x), sharp, rtol=1e-6, atol=1e-7, err_msg=builder.__name__)
        np.testing.assert_allclose(run(plain, x), run(original, x), rtol=1e-6, atol=1e-7)
    # A split conv stays a conv followed by its Activation layer.
    assert consumers(plain, "conv") == ["conv_activation"]

    seq = keras.Sequential(
        [keras.Input((8, 8, 3)), layers.Conv2D(2, 3, name="c"), GaussianSmoothing(name="gs")]
    )
    plain = remove_smoothing(seq)
    assert isinstance(plain, keras.Sequential) and [lyr.name for lyr in plain.layers] == ["c"]


# -------------------------------------------------------------- schedule ---
def tiny_cbs_model(sigma=1.0):
    inp = keras.Input((8, 8, 2))
    h = layers.Conv2D(4, 3, padding="same")(inp)
    h = layers.ReLU()(h)
    h = layers.Conv2D(2, 3, padding="same")(h)
    out = layers.Dense(1)(layers.Flatten()(h))
    return add_smoothing(keras.Model(inp, out), sigma=sigma)


def test_schedule_sigma_per_epoch_used_in_training(rng):
    x = rng.normal(size=(16, 8, 8, 2)).astype("float32")
    y = rng.normal(size=(16, 1)).astype("float32")
    model = tiny_cbs_model(sigma=1.0)
    # lr 0: the weights never change, so the loss depends on sigma only.
    model.compile(optimizer=keras.optimizers.SGD(0.0), loss="mse")
    schedule = SmoothingSchedule(decay=0.5, every_epochs=2)
    history = model.fit(x, y, batch_size=16, epochs=7, verbose=0, callbacks=[schedule])
    expected = [0.5 ** (e // 2) for e in range(7)]
    np.testing.assert_allclose(history.history["sigma"], expected, rtol=1e-7)
    for layer in smoothing_layers(model):
        np.testing.assert_allclose(float(np_(layer.sigma)), 0.125, rtol=1e-6)
    # The compiled train step really used each epoch's sigma.
    losses = history.history["loss"]
    for epoch in (0, 2, 4, 6):
        for layer in smoothing_layers(model):
            layer.set_sigma(expected[epoch])
        loss = model.evaluate(x, y, batch_size=16, verbose=0)
        np.testing.assert_allclose(losses[epoch], loss, rtol=1e-4)
    assert len(set(np.round(losses[::2], 6))) == 4  # four different sigmas


def test_schedule_stop_epoch_and_initial_sigma(rng):
    x = rng.normal(size=(8, 8, 8, 2)).astype("float32")
    y = rng.normal(size=(8, 1)).astype("float32")
    model = tiny_cbs_model(sigma=1.0)
    model.compile(optimizer="sgd", loss="mse")
    schedule = SmoothingSchedule(decay=0.9, every_epochs=1, stop_epoch=3, initial_sigma=2.0)
    history = model.fit(x, y, epochs=5, verbose=0, callbacks=[schedule])
    np.testing.assert_allclose(history.history["sigma"], [2.0, 1.8, 1.62, 0.0, 0.0])
    for layer in smoothing_layers(model):
        assert float(np_(layer.sigma)) == 0.0
    assert schedule.sigma_at(10, 1.0) == 0.0
    assert SmoothingSchedule().sigma_at(12, 1.0) == pytest.approx(0.81)


def test_schedule_validates_arguments_and_needs_smoothing(rng):
    for kwargs in [
        {"decay": 0.0},
        {"decay": 1.5},
        {"every_epochs": 0},
        {"stop_epoch": -1},
        {"initial_sigma": -1.0},
    ]:
        with pytest.raises(ValueError, match=next(iter(kwargs))):
            SmoothingSchedule(**kwargs)
    for kwargs in [{"every_epochs": 2.5}, {"stop_epoch": True}, {"decay": "0.9"}]:
        with pytest.raises(TypeError, match=next(iter(kwargs))):
            SmoothingSchedule(**kwargs)
    inp = keras.Input((3,))
    plain = keras.Model(inp, layers.Dense(1)(inp))
    plain.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match="add_smoothing"):
        plain.fit(
            np.zeros((4, 3), "float32"),
            np.zeros((4, 1), "float32"),
            verbose=0,
            callbacks=[SmoothingSchedule()],
        )


# ------------------------------------------------------------ end to end ---
def test_cbs_trains_end_to_end(rng):
    # Label: is the left half of the image brighter than the right half?
    x = rng.normal(size=(64, 8, 8, 1)).astype("float32")
    y = x[:, :, :4].mean(axis=(1, 2, 3)) > x[:, :, 4:].mean(axis=(1, 2, 3))
    y = y.astype("float32")[:, None]
    inp = keras.Input((8, 8, 1))
    h = layers.Conv2D(4, 3, padding="same")(inp)
    h = layers.BatchNormalization()(h)
    h = layers.ReLU()(h)
    out = layers.Dense(1, activation="sigmoid")(layers.Flatten()(h))
    model = add_smoothing(keras.Model(inp, out), sigma=1.0)
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="binary_crossentropy", metrics=["accuracy"])
    history = model.fit(
        x,
        y,
        batch_size=16,
        epochs=8,
        verbose=0,
        callbacks=[SmoothingSchedule(decay=0.5, every_epochs=2, stop_epoch=6)],
    )
    loss = history.history["loss"]
    assert np.isfinite(loss).all()
    assert loss[-1] < 0.6 * loss[0], loss
    assert history.history["accuracy"][-1] > 0.8
    assert history.history["sigma"][-1] == 0.0
    plain = remove_smoothing(model)
    np.testing.assert_allclose(run(plain, x), run(model, x), atol=1e-6)
