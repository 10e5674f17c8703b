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


# ----------------------------------------------------------------------------- torch host work
def _torch_step_probe(opt, variables, steps=2):
    """What `steps` calls of `opt.apply` (after a first one) ask of the host: the aten ops
    dispatched, the Python calls made (`sys.setprofile`), and every read of a device value
    (`aten._local_scalar_dense`: `.item()`, `float()`, a tensor taken as a Python number,
    in Python or in C++; `.tolist()`, `.numpy()`)."""
    import collections
    import sys

    import torch
    from torch.utils._python_dispatch import TorchDispatchMode

    reads = []

    class Ops(TorchDispatchMode):
        def __init__(self):
            super().__init__()
            self.ops = collections.Counter()

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            self.ops[str(func)] += 1
            if func is torch.ops.aten._local_scalar_dense.default:
                reads.append(str(func))
            return func(*args, **(kwargs or {}))

    def flagging(name):
        original = getattr(torch.Tensor, name)

        def read(self, *args, **kwargs):
            reads.append(name)
            return original(self, *args, **kwargs)

        return original, read

    patched = {name: flagging(name) for name in ("tolist", "numpy", "__array__")}
    grads = [keras.ops.ones(v.shape) for v in variables]
    opt.apply(grads, variables)  # builds the optimizer and the flat lists
    calls = collections.Counter()

    def profile(frame, event, arg):
        if event in ("call", "c_call"):
            calls[event] += 1

    try:
        for name, (_, read) in patched.items():
            setattr(torch.Tensor, name, read)
        with Ops() as ops:
            sys.setprofile(profile)
            try:
                for _ in range(steps):
                    opt.apply(grads, variables)
            finally:
                sys.setprofile(None)
    finally:
        for name, (original, _) in patched.items():
            setattr(torch.Tensor, name, original)
    return {"ops": ops.ops, "calls": calls, "reads": reads}


def _bucketed(base, num_buckets, num_variables=16):
    variables = [keras.Variable(np.ones((3, 2), "float32"), name=f"v{i}") for i in range(num_variables)]
    per = num_variables // num_buckets
    buckets = [variables[j * per : (j + 1) * per] for j in range(num_buckets)]
    opt = LeRaC(base(), min_learning_rate=1e-4, curriculum_steps=100, buckets=buckets)
    return opt, variables


@pytest.mark.skipif(BACKEND != "torch", reason="the torch fused step")
@pytest.mark.parametrize("name", ["sgd", "sgd-momentum", "sgd-nesterov", "adam", "adamw"])
def test_the_torch_step_reads_nothing_back_from_the_device(name):
    import torch

    opt, variables = _bucketed(BASES[name], 4)
    probe = _torch_step_probe(opt, variables)
    assert opt._router.route == "fused"
    assert probe["reads"] == []
    if torch.cuda.is_available():  # where a device is at hand, torch checks it too
        torch.cuda.set_sync_debug_mode("error")
        try:
            _torch_step_probe(opt, variables)
        finally:
            torch.cuda.set_sync_debug_mode("default")
    # The probe sees a read: a rate taken as a Python number.
    rate = keras.ops.convert_to_tensor(0.1)
    original = opt._rate_vector
    opt._rate_vector = lambda base: original(base) * float(rate)
    assert _torch_step_probe(opt, variables, steps=1)["reads"] == ["aten._local_scalar_dense.default"]


@pytest.mark.skipif(BACKEND != "torch", reason="the torch fused step")
@pytest.mark.parametrize("name", ["sgd-momentum", "adam"])
def test_the_torch_steps_host_work_does_not_grow_with_the_buckets(name):
    # The same 16 variables in 2 or 16 buckets: the same ops dispatched, the same Python
    # calls made (no loop over buckets or variables in LeRaC's part of the step).
    few, many = (_torch_step_probe(*_bucketed(BASES[name], n)) for n in (2, 16))
    assert few["ops"] == many["ops"]
    assert few["calls"] == many["calls"]
