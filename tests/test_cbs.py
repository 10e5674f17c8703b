"""Tests for Curriculum by Smoothing (keras_lerac.cbs), on every backend."""

import keras
import numpy as np
import pytest
from conftest import BACKEND, only_backends
from keras import layers, ops
from scipy.ndimage import correlate

from keras_lerac.cbs import (
    GaussianSmoothing,
    SmoothingSchedule,
    add_smoothing,
    gaussian_kernel,
    remove_smoothing,
    smoothing_layers,
)

CONVS = (layers.Conv1D, layers.Conv2D, layers.Conv3D)


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


@pytest.mark.parametrize("shape,data_format", CASES)
def test_layer_matches_scipy(shape, data_format, rng):
    x = rng.normal(size=shape).astype("float32")
    for kernel_size in (3, 5, 7):
        layer = GaussianSmoothing(kernel_size, sigma=1.3, data_format=data_format)
        y = np_(layer(x))
        assert y.shape == x.shape
        ref = reference_smoothing(x, kernel_size, 1.3, data_format)
        np.testing.assert_allclose(y, ref, atol=2e-6, rtol=1e-5, err_msg=f"kernel_size={kernel_size}")
        # It really smooths (the test could not pass with an identity layer).
        assert np.abs(y - x).max() > 0.1


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_layer_3d_matches_scipy(data_format, rng):
    shape = (2, 5, 6, 7, 3) if data_format == "channels_last" else (2, 3, 5, 6, 7)
    x = rng.normal(size=shape).astype("float32")
    y = np_(GaussianSmoothing(5, 0.8, data_format=data_format)(x))
    ref = reference_smoothing(x, 5, 0.8, data_format)
    np.testing.assert_allclose(y, ref, atol=2e-6, rtol=1e-5)


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
    x = rng.normal(size=(8, 8, 8, 4)).astype("float32")
    inp = keras.Input((8, 8, 4))
    model = keras.Model(inp, GaussianSmoothing(3, 1.0)(inp))
    smoothed = model.predict(x, verbose=0)
    np.testing.assert_allclose(smoothed, reference_smoothing(x, 3, 1.0), atol=2e-6)
    model.layers[-1].sigma.assign(0.0)
    np.testing.assert_array_equal(model.predict(x, verbose=0), x)
    model.layers[-1].sigma.assign(2.0)
    np.testing.assert_allclose(model.predict(x, verbose=0), reference_smoothing(x, 3, 2.0), atol=2e-6)


def test_unknown_spatial_dims_in_compiled_predict(rng):
    # The fold-channels-into-batch path reshapes with run-time spatial sizes.
    inp = keras.Input((3, None, None))
    model = keras.Model(inp, GaussianSmoothing(5, 0.9, data_format="channels_first")(inp))
    x = rng.normal(size=(2, 3, 7, 6)).astype("float32")
    np.testing.assert_allclose(
        model.predict(x, verbose=0),
        reference_smoothing(x, 5, 0.9, "channels_first"),
        atol=2e-6,
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
        {"kernel_size": 2.0},
        {"sigma": -0.1},
        {"sigma": float("nan")},
        {"data_format": "nhwc"},
    ]:
        (word,) = kwargs
        with pytest.raises(ValueError, match=word):
            GaussianSmoothing(**kwargs)


def test_layer_rejects_bad_rank_and_negative_set_sigma():
    with pytest.raises(ValueError, match="rank 3, 4 or 5"):
        GaussianSmoothing()(np.zeros((2, 3), "float32"))
    layer = GaussianSmoothing()
    with pytest.raises(ValueError, match="sigma"):
        layer.set_sigma(-1.0)
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


# ---------------------------------------------------------- model helpers ---
def residual_cnn():
    inp = keras.Input((8, 8, 3), name="image")
    x = layers.Conv2D(4, 3, padding="same", name="stem")(inp)
    x = layers.BatchNormalization(name="stem_bn")(x)
    x = layers.Activation("relu", name="stem_relu")(x)
    y = layers.Conv2D(6, 3, padding="same", name="block_conv")(x)
    y = layers.BatchNormalization(name="block_bn")(y)
    y = layers.Activation("relu", name="block_relu")(y)
    s = layers.Conv2D(6, 1, name="shortcut")(x)
    x = layers.Add(name="add")([y, s])
    x = layers.GlobalAveragePooling2D()(x)
    out = layers.Dense(3, name="head")(x)
    return keras.Model(inp, out, name="resnet")


def nested_cnn():
    block = keras.Sequential(
        [
            keras.Input((8, 8, 4)),
            layers.Conv2D(4, 3, padding="same", name="inner_conv"),
            layers.BatchNormalization(name="inner_bn"),
            layers.ReLU(name="inner_relu"),
        ],
        name="block",
    )
    inp = keras.Input((8, 8, 3))
    x = layers.Conv2D(4, 3, padding="same", name="outer_conv")(inp)
    x = block(x)
    x = layers.Flatten()(x)
    out = layers.Dense(2, name="head")(x)
    return keras.Model(inp, out, name="nested")


def graph_edges(model):
    """(producer -> consumers) over the model's own graph, by layer identity."""
    consumers = {}
    for nodes in model._nodes_by_depth.values():
        for node in nodes:
            for t in node.input_tensors:
                producer = t._keras_history.operation
                consumers.setdefault(id(producer), []).append(node.operation)
    return consumers


def assert_smoothing_right_after_each_conv(model):
    """Every conv (in every nested model) feeds exactly one smoothing layer."""
    n_convs = 0
    graphs = [model] + [
        lyr for lyr in model._flatten_layers(include_self=False) if isinstance(lyr, keras.Model)
    ]
    for graph in graphs:
        edges = graph_edges(graph)
        for node_list in graph._nodes_by_depth.values():
            for node in node_list:
                op = node.operation
                if isinstance(op, CONVS):
                    n_convs += 1
                    after = edges.get(id(op), [])
                    assert len(after) == 1, (op.name, after)
                    assert isinstance(after[0], GaussianSmoothing), (op.name, after)
                if isinstance(op, GaussianSmoothing):
                    (t,) = node.input_tensors
                    assert isinstance(t._keras_history.operation, CONVS)
    assert len(smoothing_layers(model)) == n_convs
    return n_convs


def _assert_same_weights_and_layers(original, smoothed):
    new_layers = {id(lyr) for lyr in smoothed._flatten_layers()}
    for layer in original._flatten_layers(include_self=False):
        if isinstance(layer, (keras.Model, layers.InputLayer)):
            continue  # inputs and nested models are new; their layers reused
        assert id(layer) in new_layers, layer.name


def test_add_smoothing_residual_cnn(rng):
    model = residual_cnn()
    x = rng.normal(size=(8, 8, 8, 3)).astype("float32")
    expected = run(model, x)
    kernels = {lyr.name: np_(lyr.kernel).copy() for lyr in model.layers if isinstance(lyr, CONVS)}

    smoothed = add_smoothing(model, kernel_size=3, sigma=0.0)
    assert smoothed is not model
    assert assert_smoothing_right_after_each_conv(smoothed) == 3
    names = [lyr.name for lyr in smoothing_layers(smoothed)]
    assert sorted(names) == ["block_conv_smoothing", "shortcut_smoothing", "stem_smoothing"]
    for conv_name, kernel in kernels.items():
        conv = smoothed.get_layer(conv_name)
        assert conv is model.get_layer(conv_name)
        np.testing.assert_array_equal(np_(conv.kernel), kernel)
    _assert_same_weights_and_layers(model, smoothed)
    # The dense head is not smoothed; BN follows smoothing, not the conv.
    edges = graph_edges(smoothed)
    stem_smoothing = smoothed.get_layer("stem_smoothing")
    assert [lyr.name for lyr in edges[id(stem_smoothing)]] == ["stem_bn"]
    np.testing.assert_allclose(run(smoothed, x), expected, atol=1e-6)

    for layer in smoothing_layers(smoothed):
        layer.set_sigma(1.0)
    assert np.abs(run(smoothed, x) - expected).max() > 1e-3


def test_add_smoothing_nested_sequential(rng):
    model = nested_cnn()
    x = rng.normal(size=(8, 8, 8, 3)).astype("float32")
    expected = run(model, x)
    smoothed = add_smoothing(model, sigma=0.0)
    assert assert_smoothing_right_after_each_conv(smoothed) == 2
    inner = [lyr for lyr in smoothed.layers if isinstance(lyr, keras.Model)]
    assert len(inner) == 1 and inner[0].name == "block"
    assert inner[0] is not model.get_layer("block")  # rebuilt ...
    assert inner[0].get_layer("inner_conv") is model.get_layer("block").get_layer(
        "inner_conv"
    )  # ... around the same conv
    assert [lyr.name for lyr in smoothing_layers(smoothed)] == [
        "outer_conv_smoothing",
        "inner_conv_smoothing",
    ]
    _assert_same_weights_and_layers(model, smoothed)
    np.testing.assert_allclose(run(smoothed, x), expected, atol=1e-6)


def test_add_smoothing_sequential_1d_and_3d(rng):
    seq = keras.Sequential(
        [
            keras.Input((12, 2)),
            layers.Conv1D(3, 3, padding="same"),
            layers.ReLU(),
            layers.Conv1D(3, 3),
            layers.Flatten(),
            layers.Dense(1),
        ]
    )
    x = rng.normal(size=(4, 12, 2)).astype("float32")
    smoothed = add_smoothing(seq, kernel_size=5, sigma=0.0)
    assert assert_smoothing_right_after_each_conv(smoothed) == 2
    assert all(lyr.kernel_size == 5 for lyr in smoothing_layers(smoothed))
    np.testing.assert_allclose(run(smoothed, x), run(seq, x), atol=1e-6)
    vol = keras.Sequential([keras.Input((4, 4, 4, 1)), layers.Conv3D(2, 3, padding="same"), layers.Flatten()])
    v = rng.normal(size=(2, 4, 4, 4, 1)).astype("float32")
    smoothed = add_smoothing(vol, sigma=0.9)
    inner = keras.Model(vol.inputs[0], vol.layers[0].output)
    np.testing.assert_allclose(
        run(smoothed, v).reshape(2, 4, 4, 4, 2),
        reference_smoothing(run(inner, v), 3, 0.9),
        atol=1e-5,
    )


def test_add_smoothing_multi_input_multi_output(rng):
    a = keras.Input((8, 8, 3), name="a")
    b = keras.Input((8, 8, 3), name="b")
    shared = layers.Conv2D(4, 3, padding="same", name="shared")
    fa, fb = shared(a), shared(b)
    merged = layers.Concatenate(name="cat")([fa, fb])
    c = layers.Conv2D(2, 1, name="mix")(merged)
    out1 = layers.Dense(1, name="o1")(layers.GlobalAveragePooling2D()(c))
    out2 = layers.Dense(2, name="o2")(layers.Flatten()(fa))
    model = keras.Model({"a": a, "b": b}, {"o1": out1, "o2": out2})
    xa = rng.normal(size=(4, 8, 8, 3)).astype("float32")
    xb = rng.normal(size=(4, 8, 8, 3)).astype("float32")
    expected = run(model, {"a": xa, "b": xb})
    smoothed = add_smoothing(model, sigma=0.0)
    # The shared conv gets one (shared) smoothing layer, used after both calls.
    assert [lyr.name for lyr in smoothing_layers(smoothed)] == ["shared_smoothing", "mix_smoothing"]
    got = run(smoothed, {"a": xa, "b": xb})
    assert set(got) == {"o1", "o2"}
    for key in expected:
        np.testing.assert_allclose(got[key], expected[key], atol=1e-6)


def test_add_smoothing_keeps_keyword_arguments_and_ops_nodes(rng):
    inp = keras.Input((8, 8, 3))
    h = layers.Conv2D(4, 3, padding="same", name="conv")(inp)
    h = keras.ops.relu(h) * 2.0  # non-layer Operation nodes in the graph
    h = layers.Dropout(0.9, name="drop")(h, training=True)  # keyword argument
    model = keras.Model(inp, layers.GlobalAveragePooling2D()(h))
    smoothed = add_smoothing(model, sigma=0.0)
    (drop_node,) = [
        n for ns in smoothed._nodes_by_depth.values() for n in ns if n.operation is model.get_layer("drop")
    ]
    assert drop_node.arguments.kwargs == {"training": True}
    assert len(smoothing_layers(smoothed)) == 1
    x = rng.normal(size=(2, 8, 8, 3)).astype("float32")
    out = run(smoothed, x)  # dropout still active, as the original was wired
    assert np.isfinite(out).all() and out.shape == (2, 4)


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
def test_add_smoothing_channels_first_model(rng):
    inp = keras.Input((3, 8, 8))
    h = layers.Conv2D(4, 3, padding="same", data_format="channels_first")(inp)
    out = layers.Flatten()(h)
    model = keras.Model(inp, out)
    smoothed = add_smoothing(model, sigma=1.0)
    (gs,) = smoothing_layers(smoothed)
    assert gs.data_format == "channels_first"
    x = rng.normal(size=(2, 3, 8, 8)).astype("float32")
    conv_out = run(keras.Model(inp, h), x)
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


def test_add_smoothing_errors():
    with pytest.raises(TypeError, match="functional"):
        add_smoothing(Subclassed())
    with pytest.raises(TypeError, match="keras.Model"):
        add_smoothing(layers.Conv2D(2, 3))

    inp = keras.Input((4,))
    with pytest.raises(ValueError, match="no Conv1D/Conv2D/Conv3D"):
        add_smoothing(keras.Model(inp, layers.Dense(2)(inp)))

    img = keras.Input((8, 8, 3))
    relu_conv = keras.Model(img, layers.Conv2D(2, 3, activation="relu", name="c")(img))
    with pytest.raises(ValueError, match="set activation=None on the conv") as err:
        add_smoothing(relu_conv)
    assert "'c'" in str(err.value) and "relu" in str(err.value)

    nested_sub = keras.Model(img, Subclassed()(img))
    with pytest.raises(TypeError, match="GaussianSmoothing layers by hand"):
        add_smoothing(nested_sub)

    seq = keras.Sequential([keras.Input((10, 1)), layers.Conv1D(2, 3, padding="causal")])
    with pytest.raises(ValueError, match="causal"):
        add_smoothing(seq)

    with pytest.raises(ValueError, match="no defined input"):
        add_smoothing(keras.Sequential([layers.Conv2D(2, 3)]))

    ok = keras.Model(img, layers.Conv2D(2, 3, name="c2")(img))
    smoothed = add_smoothing(ok)
    with pytest.raises(ValueError, match="already has GaussianSmoothing"):
        add_smoothing(smoothed)
    with pytest.raises(ValueError, match="kernel_size"):
        add_smoothing(ok, kernel_size=2)
    with pytest.raises(ValueError, match="sigma"):
        add_smoothing(ok, sigma=-1)


def test_sigma_survives_save_and_load(tmp_path, rng):
    smoothed = add_smoothing(residual_cnn(), sigma=1.0)
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
    assert len(restored) == 3
    for layer in restored:
        assert isinstance(layer, GaussianSmoothing)
        np.testing.assert_allclose(float(np_(layer.sigma)), 0.37, rtol=1e-6)
    np.testing.assert_allclose(run(loaded, x), expected, atol=1e-5)


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
        {"every_epochs": 2.5},
        {"stop_epoch": -1},
        {"initial_sigma": -1.0},
    ]:
        with pytest.raises(ValueError, match=next(iter(kwargs))):
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


# -------------------------------------------------------------- removing ---
@pytest.mark.parametrize("builder", [residual_cnn, nested_cnn])
def test_remove_smoothing(builder, rng):
    smoothed = add_smoothing(builder(), sigma=0.8)
    x = rng.normal(size=(4, 8, 8, 3)).astype("float32")
    blurred = run(smoothed, x)
    plain = remove_smoothing(smoothed)
    assert smoothing_layers(plain) == []
    assert not any(isinstance(lyr, GaussianSmoothing) for lyr in plain._flatten_layers())
    for layer in smoothing_layers(smoothed):
        layer.set_sigma(0.0)
    sharp = run(smoothed, x)
    assert np.abs(sharp - blurred).max() > 1e-3
    np.testing.assert_allclose(run(plain, x), sharp, atol=1e-6)
    conv_ids = {id(lyr) for lyr in smoothed._flatten_layers() if isinstance(lyr, CONVS)}
    assert conv_ids == {id(lyr) for lyr in plain._flatten_layers() if isinstance(lyr, CONVS)}


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
