"""The fast update paths give exactly the per-bucket path's updates, on every backend,
and with every multiplier 1 exactly plain Keras' (bit for bit).

TensorFlow and JAX: one pass of Keras' update loop over all variables (`update_step`
routes each to its bucket's optimizer). torch: one `_foreach` pass for SGD, Adam and
AdamW. The per-bucket path (each bucket's optimizer updating its own variables) is the
reference.
"""

import keras
import numpy as np
import pytest
from conftest import BACKEND
from helpers import classification_data, mlp

from keras_lerac import LeRaC

BASES = {
    "sgd": lambda: keras.optimizers.SGD(0.1),
    "sgd-momentum": lambda: keras.optimizers.SGD(0.1, momentum=0.9),
    "sgd-nesterov": lambda: keras.optimizers.SGD(0.1, momentum=0.9, nesterov=True),
    "sgd-weight-decay": lambda: keras.optimizers.SGD(0.1, momentum=0.9, weight_decay=0.01),
    "adam": lambda: keras.optimizers.Adam(1e-2),
    "adamw": lambda: keras.optimizers.AdamW(1e-2, weight_decay=0.05),
}


def per_bucket(opt):
    """Turns the fast path off: each bucket's optimizer updates its own variables."""
    opt._router.use_per_bucket()


def uses_a_fast_path(opt):
    return opt._router.route != "per_bucket"


def run(base, fast, steps=5):
    rng = np.random.default_rng(0)
    shapes = [(3, 2), (2,), (4,), (2, 2)]
    variables = [
        keras.Variable(rng.normal(size=s).astype("float32"), name=f"v{i}") for i, s in enumerate(shapes)
    ]
    opt = LeRaC(
        base(),
        min_learning_rate=1e-4,
        curriculum_steps=4,
        buckets=[[variables[0], variables[1]], [variables[2]], [variables[3]]],
    )
    opt.build(variables)
    if not fast:
        per_bucket(opt)
    for t in range(steps):
        grads = [keras.ops.convert_to_tensor(rng.normal(size=v.shape).astype("float32")) for v in variables]
        if t == 2:
            grads[2] = None  # a bucket with no gradient this step
        opt.apply(grads, variables)
    return opt, [keras.ops.convert_to_numpy(v) for v in variables + opt.variables]


@pytest.mark.parametrize("name", sorted(BASES))
@pytest.mark.filterwarnings("ignore:Gradients do not exist")
def test_the_fast_path_equals_the_per_bucket_path(name):
    fast_opt, fast = run(BASES[name], fast=True)
    assert uses_a_fast_path(fast_opt)
    _, reference = run(BASES[name], fast=False)
    for a, b in zip(fast, reference):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", ["sgd-momentum", "adamw"])
def test_the_fast_path_equals_the_per_bucket_path_in_compiled_fit(name):
    x, y = classification_data(n=32)
    weights = []
    for fast in (True, False):
        keras.utils.set_random_seed(5)
        model = mlp(depth=3)
        opt = LeRaC(BASES[name](), min_learning_rate=1e-4, curriculum_steps=6, model=model)
        model.compile(optimizer=opt, loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        opt.build(model.trainable_variables)
        if not fast:
            per_bucket(opt)
        model.fit(x, y, batch_size=8, epochs=2, verbose=0, shuffle=False)
        weights.append(model.get_weights() + [keras.ops.convert_to_numpy(v) for v in opt.variables])
    for a, b in zip(*weights):
        np.testing.assert_array_equal(a, b)


@pytest.mark.skipif(BACKEND != "torch", reason="which torch optimizers have a fused update")
def test_torch_optimizers_without_a_fused_update_go_bucket_by_bucket():
    for base in (keras.optimizers.Adam(1e-3, amsgrad=True), keras.optimizers.RMSprop(1e-3)):
        v = keras.Variable(np.zeros(2, "float32"))
        opt = LeRaC(base, min_learning_rate=1e-6, curriculum_steps=3, buckets=[[v]])
        opt.build([v])
        assert opt._router.route == "per_bucket"


# Bit for bit: with every multiplier 1 the fast path is Keras' own arithmetic.
EXACT = {
    "sgd": lambda: keras.optimizers.SGD(0.01),
    "sgd-momentum": lambda: keras.optimizers.SGD(0.01, momentum=0.9),
    "sgd-nesterov": lambda: keras.optimizers.SGD(0.01, momentum=0.9, nesterov=True),
    "adam": lambda: keras.optimizers.Adam(1e-2),
    "adamw": lambda: keras.optimizers.AdamW(1e-2, weight_decay=0.05),
}


@pytest.mark.parametrize("run_eagerly", [False, True], ids=["compiled", "eager"])
@pytest.mark.parametrize("name", sorted(EXACT))
def test_the_fast_path_with_the_curriculum_off_is_keras_bit_for_bit(name, run_eagerly):
    x, y = classification_data(n=96)  # 12 steps of 8
    weights = []
    for lerac in (True, False):
        keras.utils.set_random_seed(5)
        model = mlp(depth=3)
        opt = EXACT[name]()
        if lerac:
            opt = LeRaC(opt, curriculum_steps=0, model=model)
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        model.compile(optimizer=opt, loss=loss, run_eagerly=run_eagerly)
        model.fit(x, y, batch_size=8, epochs=1, verbose=0, shuffle=False)
        if lerac:
            assert len(opt.bucket_optimizers) == 3 and uses_a_fast_path(opt)
        weights.append(model.get_weights())
    for got, want in zip(*weights):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("name", ["sgd-momentum", "adam"])
def test_the_fast_path_equals_the_per_bucket_path_with_mixed_dtypes(name):
    # A bfloat16 bucket next to float32 ones: Keras computes Adam's step size in each
    # call's variable dtype, and so does the fast path, bucket by bucket.
    results = []
    for fast in (True, False):
        rng = np.random.default_rng(1)
        variables = [
            keras.Variable(rng.normal(size=(3, 2)).astype("float32"), name="f32", dtype="float32"),
            keras.Variable(rng.normal(size=(4,)).astype("float32"), name="bf16", dtype="bfloat16"),
        ]
        opt = LeRaC(
            BASES[name](), min_learning_rate=1e-4, curriculum_steps=3, buckets=[[v] for v in variables]
        )
        opt.build(variables)
        assert uses_a_fast_path(opt)
        if not fast:
            per_bucket(opt)
        for _ in range(4):
            opt.apply(
                [keras.ops.convert_to_tensor(rng.normal(size=v.shape), dtype=v.dtype) for v in variables],
                variables,
            )
        results.append([keras.ops.convert_to_numpy(keras.ops.cast(v, "float32")) for v in variables])
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)
