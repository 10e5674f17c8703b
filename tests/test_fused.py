"""torch eager: the fused multi-bucket update equals the per-bucket inner updates."""

import keras
import numpy as np
import pytest
from conftest import only_backends

from keras_lerac import LeRaC

pytestmark = only_backends("torch")

BASES = {
    "sgd": lambda: keras.optimizers.SGD(0.1),
    "sgd-momentum": lambda: keras.optimizers.SGD(0.1, momentum=0.9),
    "sgd-nesterov": lambda: keras.optimizers.SGD(0.1, momentum=0.9, nesterov=True),
    "adam": lambda: keras.optimizers.Adam(1e-2),
    "sgd-weight-decay": lambda: keras.optimizers.SGD(0.1, momentum=0.9, weight_decay=0.01),
}


def run(base, fused, steps=5):
    rng = np.random.default_rng(0)
    variables = [
        keras.Variable(rng.normal(size=s).astype("float32"), name=f"v{i}")
        for i, s in enumerate([(3, 2), (2,), (4,), (2, 2)])
    ]
    opt = LeRaC(
        base(),
        min_learning_rate=1e-4,
        curriculum_steps=4,
        buckets=[[variables[0], variables[1]], [variables[2]], [variables[3]]],
    )
    opt.build(variables)
    if not fused:
        opt._fused_update = None
    for t in range(steps):
        grads = [keras.ops.convert_to_tensor(rng.normal(size=v.shape).astype("float32")) for v in variables]
        if t == 2:
            grads[2] = None  # a bucket with no gradient this step
        opt.apply(grads, variables)
    return opt, [keras.ops.convert_to_numpy(v) for v in variables + opt.variables]


@pytest.mark.parametrize("name", sorted(BASES))
@pytest.mark.filterwarnings("ignore:Gradients do not exist")
def test_fused_equals_per_bucket(name):
    fused_opt, fused_values = run(BASES[name], fused=True)
    assert fused_opt._fused_update is not None
    _, plain_values = run(BASES[name], fused=False)
    for a, b in zip(fused_values, plain_values):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


def test_other_optimizers_use_the_per_bucket_path():
    for base in (
        keras.optimizers.Adam(1e-3, amsgrad=True),
        keras.optimizers.RMSprop(1e-3),
        keras.optimizers.AdamW(1e-3),
    ):
        v = keras.Variable(np.zeros(2, "float32"))
        opt = LeRaC(base, min_learning_rate=1e-6, curriculum_steps=3, buckets=[[v]])
        opt.build([v])
        assert opt._fused_update is None
