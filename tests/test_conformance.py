"""Conformance matrix: LeRaC is exact under every optimizer Keras ships, and a user's own.

For every optimizer class exported by `keras.optimizers` (enumerated, so that an
optimizer a future Keras adds joins the matrix by itself), the variants with extra state
(SGD momentum / nesterov, RMSprop centered, Adam amsgrad) and an unregistered user
subclass, on the backend of this process:

- (a) `curriculum_steps=0` gives the plain optimizer's weights after several `fit` steps,
  bit for bit, also with the wrapper-level options (gradient accumulation, EMA, global
  clipping); and after the curriculum (from identical weights and optimizer state, once
  every multiplier is 1) a LeRaC step is the plain optimizer's step, bit for bit;
- (b) a LeRaC model saved mid-run and resumed with `load_model` ends with the weights of
  an uninterrupted run, bit for bit, with the curriculum on (so any state or step count
  lost on the way changes the weights);
- (c) with the curriculum on, every bucket moves as the plain optimizer does when driven
  by that bucket's planned rates, `learning_rates_at(step)` (to float32 rounding: the
  plan is computed on the host in float64, the applied rate on the device in float32).

Exact means exact: (a) and (b) compare bit for bit. A cell that cannot be exact is listed
in `NOT_BIT_EXACT` with its reason and the bound it holds, and the test asserts that
bound (and that the cell is still inexact, so a stale entry fails too).
"""

import functools

import keras
import numpy as np
import pytest

from keras_lerac import LeRaC
from keras_lerac._keras.contract import keras_minor

# MultiOptimizer: Keras 3.15 and later.
WRAPPERS = (
    keras.optimizers.Optimizer,
    keras.optimizers.LossScaleOptimizer,
    getattr(keras.optimizers, "MultiOptimizer", keras.optimizers.Optimizer),
)
EXPORTED = sorted(
    name
    for name, obj in vars(keras.optimizers).items()
    if isinstance(obj, type) and issubclass(obj, keras.optimizers.Optimizer) and obj not in WRAPPERS
)


class UserSGD(keras.optimizers.SGD):
    """A user's own optimizer class, not registered with Keras."""


# Variants whose extra state takes another path than the class default.
VARIANTS = {
    "SGD+momentum": ("SGD", {"momentum": 0.9}),
    "SGD+nesterov": ("SGD", {"momentum": 0.9, "nesterov": True}),
    "RMSprop+centered": ("RMSprop", {"centered": True}),
    "Adam+amsgrad": ("Adam", {"amsgrad": True}),
}
CASES = EXPORTED + sorted(VARIANTS) + ["UserSGD"]
BASE_RATE = 0.01


def make(case, learning_rate=BASE_RATE, **options):
    if case == "UserSGD":
        return UserSGD(learning_rate, momentum=0.9, **options)
    name, kwargs = VARIANTS.get(case, (case, {}))
    return getattr(keras.optimizers, name)(learning_rate=learning_rate, **kwargs, **options)


def test_the_matrix_covers_every_exported_optimizer():
    # The classic ones must be found by the enumeration (a guard against it finding nothing).
    classic = ["SGD", "Adam", "AdamW", "Nadam", "Lamb", "Lion", "Muon", "Adafactor"]
    if keras_minor() >= (3, 14):
        classic.append("ScheduleFreeAdamW")  # new in Keras 3.14
    for name in classic:
        assert name in EXPORTED


# ------------------------------------------------------------------ fit-based checks
X = np.random.default_rng(0).normal(size=(48, 6)).astype("float32")
Y = np.random.default_rng(1).integers(0, 3, size=48)
STEPS = 6  # batches of 8


def build_model():
    keras.utils.set_random_seed(3)
    inputs = keras.Input((6,))
    x = keras.layers.Dense(5, activation="tanh", name="hidden_0")(inputs)
    x = keras.layers.Dense(4, activation="tanh", name="hidden_1")(x)
    return keras.Model(inputs, keras.layers.Dense(3, name="head")(x))


def lerac(case, curriculum_steps, **options):
    return LeRaC(make(case), min_learning_rate=1e-4, curriculum_steps=curriculum_steps, **options)


def fit(model, optimizer=None, start=0, stop=STEPS, run_eagerly=False):
    if optimizer is not None:
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        model.compile(optimizer=optimizer, loss=loss, run_eagerly=run_eagerly)
    model.fit(X[8 * start : 8 * stop], Y[8 * start : 8 * stop], batch_size=8, verbose=0, shuffle=False)
    return [keras.ops.convert_to_numpy(w) for w in model.weights]


def resumed(case, curriculum_steps, path):
    # Eager steps: what is checked here is the state that crosses the file, and the
    # compiled step of every optimizer is checked above.
    model = build_model()
    fit(model, lerac(case, curriculum_steps), stop=STEPS // 2, run_eagerly=True)
    model.save(path)
    # An unregistered class is found through `custom_objects`, as Keras requires.
    model = keras.saving.load_model(path, custom_objects={"UserSGD": UserSGD})
    model.run_eagerly = True
    assert int(keras.ops.convert_to_numpy(model.optimizer.iterations)) == STEPS // 2
    return fit(model, start=STEPS // 2)


@functools.cache
def plain_weights(case, **options):
    return fit(build_model(), make(case, **options))


# (test, case) -> (why this cell cannot be bit for bit, the largest absolute difference
# it holds), for this backend. Empty: every cell is exact.
NOT_BIT_EXACT: dict[str, dict[tuple[str, str], tuple[str, float]]] = {
    "tensorflow": {},
    "jax": {},
    "torch": {},
}


def largest_difference(got, expected) -> float:
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        assert g.shape == e.shape and g.dtype == e.dtype
    return max(
        (float(np.max(np.abs(g.astype("float64") - e))) for g, e in zip(got, expected) if g.size), default=0.0
    )


def assert_weights_equal(got, expected, cell):
    """Bit for bit, unless `cell` is listed in `NOT_BIT_EXACT` (then within its bound)."""
    listed = NOT_BIT_EXACT[keras.backend.backend()].get(cell)
    if listed is None:
        for g, e in zip(got, expected):
            np.testing.assert_array_equal(g, e)
        assert len(got) == len(expected)
        return
    reason, bound = listed
    difference = largest_difference(got, expected)
    assert 0 < difference <= bound, f"{cell}: difference {difference:g}, listed bound {bound:g} ({reason})"


@pytest.mark.parametrize("case", CASES)
def test_curriculum_off_is_the_plain_optimizer(case):
    got = fit(build_model(), lerac(case, 0))
    assert_weights_equal(got, plain_weights(case), ("off", case))


# Options that act on all variables at once: LeRaC applies them itself, across buckets.
WRAPPER_OPTIONS = {"gradient_accumulation_steps": 2, "use_ema": True, "global_clipnorm": 0.5}


@pytest.mark.parametrize("case", CASES)
def test_curriculum_off_with_wrapper_options_is_the_plain_optimizer(case):
    got = fit(build_model(), lerac(case, 0, **WRAPPER_OPTIONS))
    assert_weights_equal(got, plain_weights(case, **WRAPPER_OPTIONS), ("off-wrapper-options", case))


@pytest.mark.parametrize("case", CASES)
def test_save_and_resume_is_exact(case, tmp_path):
    straight = fit(build_model(), lerac(case, 4), run_eagerly=True)
    assert_weights_equal(resumed(case, 4, tmp_path / "m.keras"), straight, ("resume", case))
    # With the curriculum off, a resumed LeRaC run is the plain optimizer's run.
    plain = fit(build_model(), make(case), run_eagerly=True)
    assert_weights_equal(resumed(case, 0, tmp_path / "off.keras"), plain, ("resume-off", case))


def test_an_unresolvable_optimizer_class_fails_to_load_with_a_clear_error(tmp_path):
    model = build_model()
    fit(model, lerac("UserSGD", 4), stop=1)
    model.save(tmp_path / "m.keras")
    with pytest.raises(
        TypeError, match="cannot rebuild its wrapped optimizer class 'UserSGD'.*custom_objects"
    ):
        keras.saving.load_model(tmp_path / "m.keras")


# ------------------------------------------------------------------ applied rates
class PlannedRates(keras.optimizers.schedules.LearningRateSchedule):
    """A table of rates, one per iteration, computed on the host."""

    def __init__(self, rates):
        self.rates = np.asarray(rates, dtype="float32")

    def __call__(self, step):
        return keras.ops.take(keras.ops.convert_to_tensor(self.rates), keras.ops.cast(step, "int32"))


SHAPES = [[(4, 3), (3,)], [(3, 3)], [(3, 2), (2,)]]  # three buckets; 2-D kernels for Muon/Adafactor


@pytest.mark.parametrize("case", CASES)
def test_each_bucket_moves_at_its_planned_rate(case):
    rng = np.random.default_rng(7)
    init = [[rng.normal(size=s).astype("float32") for s in bucket] for bucket in SHAPES]
    variables = [[keras.Variable(a, name=f"w{j}_{i}") for i, a in enumerate(b)] for j, b in enumerate(init)]
    steps, curriculum_steps = 6, 4
    opt = LeRaC(
        make(case),
        min_learning_rate=1e-4,
        curriculum_steps=curriculum_steps,
        buckets=[list(b) for b in variables],
    )
    flat = [v for b in variables for v in b]
    opt.build(flat)
    plans = np.array([opt.learning_rates_at(t) for t in range(steps)])
    assert plans[0, -1] == pytest.approx(1e-4, rel=1e-5) and plans[-1] == pytest.approx([BASE_RATE] * 3)
    grads = [[rng.normal(size=v.shape).astype("float32") for v in flat] for _ in range(steps)]
    for g in grads:
        opt.apply([keras.ops.convert_to_tensor(a) for a in g], flat)
    # The reference: one plain optimizer per bucket, driven by that bucket's planned rates.
    start = 0
    for j, bucket in enumerate(init):
        copies = [keras.Variable(a, name=f"ref{j}_{i}") for i, a in enumerate(bucket)]
        reference = make(case, learning_rate=PlannedRates(plans[:, j]))
        reference.build(copies)
        for g in grads:
            reference.apply([keras.ops.convert_to_tensor(a) for a in g[start : start + len(copies)]], copies)
        for got, want in zip(variables[j], copies):
            np.testing.assert_allclose(
                keras.ops.convert_to_numpy(got), keras.ops.convert_to_numpy(want), atol=1e-6, rtol=1e-6
            )
        start += len(copies)


def is_own_rate_or_counter(optimizer, variable) -> bool:
    return variable is optimizer.iterations or variable.path.endswith("/learning_rate")


@pytest.mark.parametrize("case", CASES)
def test_after_the_curriculum_a_step_is_the_plain_step(case):
    """From identical weights and optimizer state, once every multiplier is 1, LeRaC's
    steps are the plain optimizer's, bit for bit. The plain optimizer runs per bucket:
    each optimizer here updates variable by variable, so one per bucket is the same
    arithmetic as one over all, and its state maps one to one onto the bucket's."""
    rng = np.random.default_rng(11)
    variables = [
        [keras.Variable(rng.normal(size=s).astype("float32"), name=f"w{j}_{i}") for i, s in enumerate(b)]
        for j, b in enumerate(SHAPES)
    ]
    flat = [v for b in variables for v in b]
    curriculum_steps = 2
    opt = LeRaC(make(case), min_learning_rate=1e-4, curriculum_steps=curriculum_steps, buckets=variables)
    opt.build(flat)

    def gradients():
        return [keras.ops.convert_to_tensor(rng.normal(size=v.shape).astype("float32")) for v in flat]

    for _ in range(curriculum_steps + 1):  # through the curriculum, and one step past K
        opt.apply(gradients(), flat)
    step = int(keras.ops.convert_to_numpy(opt.iterations))
    assert opt.learning_rates_at(step) == [opt.learning_rates_at(0)[0]] * 3  # every bucket at the base
    references, copies = [], []
    for inner, bucket in zip(opt.bucket_optimizers, variables):
        bucket_copies = [keras.Variable(keras.ops.convert_to_numpy(v), name=f"ref_{v.name}") for v in bucket]
        reference = make(case)
        reference.build(bucket_copies)
        state = [v for v in reference.variables if not is_own_rate_or_counter(reference, v)]
        assert [tuple(v.shape) for v in state] == [tuple(v.shape) for v in inner.variables]
        for mine, theirs in zip(state, inner.variables):
            mine.assign(theirs)
        reference.iterations.assign(step)
        references.append(reference)
        copies.append(bucket_copies)
    for _ in range(3):
        grads = gradients()
        opt.apply(grads, flat)
        start = 0
        for reference, bucket_copies in zip(references, copies):
            reference.apply(grads[start : start + len(bucket_copies)], bucket_copies)
            start += len(bucket_copies)
    got = [keras.ops.convert_to_numpy(v) for v in flat]
    expected = [keras.ops.convert_to_numpy(v) for b in copies for v in b]
    assert_weights_equal(got, expected, ("after-K", case))
