"""LeRaC as an optimizer: the rates it applies, its buckets, its config, its errors."""

import keras
import numpy as np
import pytest
from helpers import classification_data, mlp, residual_cnn

from keras_lerac import LeRaC, LeRaCOptimizer, depth_buckets


def three_variables():
    return [keras.Variable(np.zeros((2,), "float32"), name=f"v{j}") for j in range(3)]


def make_apply_opt(variables, base=None, **kwargs):
    kwargs.setdefault("min_learning_rate", 1e-4)
    kwargs.setdefault("curriculum_steps", 6)
    opt = LeRaC(base or keras.optimizers.SGD(0.1), buckets=[[v] for v in variables], **kwargs)
    opt.build(variables)
    return opt


@pytest.mark.parametrize("schedule", ["exponential", "linear", "stepwise", "warmup", "anti"])
def test_applied_update_uses_each_buckets_planned_rate(schedule):
    # Plain SGD: v -= lr_j(t) * g, so with g = 1 the step shows the rate applied.
    variables = three_variables()
    opt = make_apply_opt(
        variables, schedule=schedule, **({"update_every": 2} if schedule == "stepwise" else {})
    )
    grads = [keras.ops.ones((2,)) for _ in variables]
    for t in range(9):
        before = [keras.ops.convert_to_numpy(v) for v in variables]
        planned = opt.learning_rates_at(t)
        opt.apply(grads, variables)
        applied = [b[0] - keras.ops.convert_to_numpy(v)[0] for b, v in zip(before, variables)]
        np.testing.assert_allclose(applied, planned, rtol=2e-4)
    assert opt.learning_rates_at(6) == pytest.approx([0.1] * 3)
    start = opt.learning_rates_at(0)
    if schedule == "warmup":  # every bucket starts at the lowest rate: an ordinary warm-up
        assert start == pytest.approx([1e-4] * 3, rel=1e-5)
    elif schedule == "anti":  # LeRaC's start rates in reverse: lowest at the input
        assert start == pytest.approx([1e-4, 1e-4**0.5 * 0.1**0.5, 0.1], rel=1e-5)
    else:  # bucket 0 always at the base rate, the last bucket at min_learning_rate at t = 0.
        assert start[0] == pytest.approx(0.1)
        assert start[-1] == pytest.approx(1e-4, rel=1e-5)


def test_live_rates_match_plan_and_inner_schedules():
    variables = three_variables()
    opt = make_apply_opt(variables, curriculum_steps=10)
    grads = [keras.ops.ones((2,)) for _ in variables]
    for t in range(12):
        assert int(keras.ops.convert_to_numpy(opt.iterations)) == t
        planned = opt.learning_rates_at(t)
        np.testing.assert_allclose(opt.current_learning_rates(), planned, rtol=1e-5)
        inner = [float(keras.ops.convert_to_numpy(o.learning_rate)) for o in opt.bucket_optimizers]
        np.testing.assert_allclose(inner, planned, rtol=1e-5)
        opt.apply(grads, variables)


def test_bucket_with_no_gradients_is_skipped_and_stays_in_step():
    variables = three_variables()
    opt = make_apply_opt(variables, curriculum_steps=4)
    ones = keras.ops.ones((2,))
    with pytest.warns(UserWarning, match="Gradients do not exist"):
        opt.apply([ones, None, ones], variables)
    assert np.all(keras.ops.convert_to_numpy(variables[1]) == 0)
    before = keras.ops.convert_to_numpy(variables[1])[0]
    opt.apply([ones, ones, ones], variables)
    applied = before - keras.ops.convert_to_numpy(variables[1])[0]
    assert applied == pytest.approx(opt.learning_rates_at(1)[1], rel=1e-4)


def test_adam_buckets_move_at_their_own_rates():
    # Adam's first step moves each variable by about its rate, whatever the gradient.
    variables = three_variables()
    opt = make_apply_opt(variables, base=keras.optimizers.Adam(1e-2), min_learning_rate=1e-6)
    opt.apply([keras.ops.full((2,), 3.0)] * 3, variables)
    moved = [-keras.ops.convert_to_numpy(v)[0] for v in variables]
    np.testing.assert_allclose(moved, opt.learning_rates_at(0), rtol=1e-3)


def test_weight_decay_uses_the_buckets_rate():
    variables = [keras.Variable(np.ones((2,), "float32"), name=f"w{j}") for j in range(2)]
    opt = LeRaC(
        keras.optimizers.SGD(0.1, weight_decay=0.5),
        min_learning_rate=1e-3,
        curriculum_steps=10,
        buckets=[[variables[0]], [variables[1]]],
    )
    opt.apply([keras.ops.zeros((2,))] * 2, variables)
    rates = opt.learning_rates_at(0)
    for v, rate in zip(variables, rates):
        assert keras.ops.convert_to_numpy(v)[0] == pytest.approx(1 - 0.5 * rate, rel=1e-5)


def test_exclude_from_weight_decay_is_kept():
    variables = [keras.Variable(np.ones((2,), "float32"), name=n) for n in ("kernel", "bias")]
    base = keras.optimizers.SGD(0.1, weight_decay=0.5)
    base.exclude_from_weight_decay(var_names=["bias"])
    opt = LeRaC(base, min_learning_rate=1e-3, curriculum_steps=10, buckets=[[variables[0]], [variables[1]]])
    opt.apply([keras.ops.zeros((2,))] * 2, variables)
    assert keras.ops.convert_to_numpy(variables[1])[0] == pytest.approx(1.0)
    assert keras.ops.convert_to_numpy(variables[0])[0] < 1.0


def test_global_clipnorm_clips_across_all_buckets():
    variables = three_variables()
    opt = make_apply_opt(variables, curriculum_steps=0, global_clipnorm=1.0)
    grads = [keras.ops.full((2,), 10.0)] * 3
    opt.apply(grads, variables)
    moved = np.concatenate([keras.ops.convert_to_numpy(v) for v in variables])
    # Global norm of the update is lr * 1.0 (not 1.0 per bucket).
    assert np.linalg.norm(moved) == pytest.approx(0.1, rel=1e-4)


def test_buckets_follow_graph_depth_with_model():
    model = residual_cnn()
    opt = LeRaC(keras.optimizers.SGD(0.1), min_learning_rate=1e-6, curriculum_steps=10, model=model)
    opt.build(model.trainable_variables)
    names = [sorted({v.path.split("/")[0] for v in b}) for b in opt.buckets]
    assert names == [["stem"], ["block_a", "shortcut"], ["block_b"], ["bn"], ["head"]]
    assert [[id(v) for v in b] for b in opt.buckets] == [[id(v) for v in b] for b in depth_buckets(model)]
    assert len(opt.bucket_optimizers) == 5
    flat = [id(v) for b in opt.buckets for v in b]
    assert sorted(flat) == sorted(id(v) for v in model.trainable_variables)


def test_without_model_buckets_follow_layer_order():
    model = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(3), keras.layers.Dense(3), keras.layers.Dense(2)]
    )
    opt = LeRaC(keras.optimizers.SGD(0.1), min_learning_rate=1e-6, curriculum_steps=10)
    model.compile(optimizer=opt, loss="mse")
    opt.build(model.trainable_variables)
    # Sequential paths start with the model's name: the layer is the next component.
    assert [[v.path.split("/", 1)[1] for v in b] for b in opt.buckets] == [
        ["dense/kernel", "dense/bias"],
        ["dense_1/kernel", "dense_1/bias"],
        ["dense_2/kernel", "dense_2/bias"],
    ]


def test_num_buckets_groups_consecutive_levels():
    model = mlp(depth=5)
    opt = LeRaC(
        keras.optimizers.SGD(0.1), min_learning_rate=1e-6, curriculum_steps=10, model=model, num_buckets=2
    )
    opt.build(model.trainable_variables)
    names = [[v.path.split("/")[0] for v in b][::2] for b in opt.buckets]
    assert names == [["hidden_0", "hidden_1", "hidden_2"], ["hidden_3", "head"]]
    assert opt.learning_rates_at(0) == pytest.approx([0.1, 1e-6], rel=1e-5)


def test_explicit_buckets_with_layers_and_patterns():
    model = mlp(depth=3)
    opt = LeRaC(
        keras.optimizers.SGD(0.1),
        min_learning_rate=1e-6,
        curriculum_steps=10,
        buckets=[[model.get_layer("hidden_0")], ["hidden_1/.*", "head/kernel"], ["head/bias"]],
    )
    opt.build(model.trainable_variables)
    assert [[v.path for v in b] for b in opt.buckets] == [
        ["hidden_0/kernel", "hidden_0/bias"],
        ["hidden_1/kernel", "hidden_1/bias", "head/kernel"],
        ["head/bias"],
    ]


def test_initial_learning_rates_give_the_head_its_own_start():
    model = mlp(depth=3)
    opt = LeRaC(
        keras.optimizers.SGD(0.1), initial_learning_rates=[0.1, 1e-2, 1e-4], curriculum_steps=10, model=model
    )
    opt.build(model.trainable_variables)
    assert opt.learning_rates_at(0) == pytest.approx([0.1, 1e-2, 1e-4], rel=1e-5)


def test_config_round_trip_keeps_buckets():
    model = residual_cnn()
    opt = LeRaCOptimizer(
        keras.optimizers.Adam(1e-3),
        min_learning_rate=1e-7,
        curriculum_steps=30,
        schedule="stepwise",
        model=model,
        global_clipnorm=2.0,
    )
    opt.build(model.trainable_variables)
    config = keras.optimizers.serialize(opt)
    restored = keras.optimizers.deserialize(config)
    assert isinstance(restored, LeRaC)
    assert restored.get_config()["optimizer"]["class_name"] == "Adam"
    restored.build(model.trainable_variables)
    assert [[id(v) for v in b] for b in restored.buckets] == [[id(v) for v in b] for b in opt.buckets]
    for t in (0, 11, 29, 30):
        assert restored.learning_rates_at(t) == pytest.approx(opt.learning_rates_at(t))
    assert restored.global_clipnorm == 2.0


def test_optimizer_state_is_the_plain_optimizers_plus_one_scalar():
    # Nothing per bucket; one scalar for the whole optimizer: the rate callbacks' scale.
    model = mlp(depth=4)
    plain = keras.optimizers.Adam(1e-3)
    plain.build(model.trainable_variables)
    opt = LeRaC(keras.optimizers.Adam(1e-3), min_learning_rate=1e-7, curriculum_steps=10, model=model)
    opt.build(model.trainable_variables)
    assert len(opt.variables) == len(plain.variables) + 1
    assert sum(np.prod(v.shape) for v in opt.variables) == sum(np.prod(v.shape) for v in plain.variables) + 1


def test_setting_the_learning_rate_scales_the_base_rate():
    variables = three_variables()
    opt = make_apply_opt(variables, curriculum_steps=10)
    planned = opt.learning_rates_at(0)
    opt.learning_rate = 0.05  # half the base rate of 0.1
    assert opt.rate_scale == pytest.approx(0.5)
    assert float(keras.ops.convert_to_numpy(opt.learning_rate)) == pytest.approx(0.05)
    np.testing.assert_allclose(opt.current_learning_rates(), [0.5 * r for r in planned], rtol=1e-5)
    assert opt.learning_rates_at(0) == planned  # the plan stays the plan
    with pytest.raises(TypeError, match="fixed at construction"):
        opt.learning_rate = keras.optimizers.schedules.ExponentialDecay(0.1, 10, 0.5)


def test_inspection_before_build_says_to_build():
    opt = LeRaC(keras.optimizers.SGD(0.1), min_learning_rate=1e-6, curriculum_steps=10)
    with pytest.raises(ValueError, match="build"):
        opt.learning_rates_at(0)


# ---------------------------------------------------------------- bad input
SGD = keras.optimizers.SGD


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(min_learning_rate=0.0), ValueError, "min_learning_rate.*\\(0, the base rate 0.1\\]"),
        (dict(min_learning_rate="1e-4"), TypeError, "`min_learning_rate` must be a number"),
        (dict(min_learning_rate=True), TypeError, "`min_learning_rate` must be a number"),
        (dict(curriculum_steps=True), TypeError, "curriculum_steps"),
        (dict(num_buckets=True), TypeError, "num_buckets"),
        (dict(reference_learning_rate=0.0), ValueError, "reference_learning_rate"),
        (dict(initial_learning_rates=0.1), TypeError, "list of numbers"),
        (dict(min_learning_rate=-1e-3), ValueError, "min_learning_rate"),
        (dict(min_learning_rate=0.5), ValueError, "min_learning_rate.*0.1"),
        (dict(curriculum_steps=-1), ValueError, "curriculum_steps.*>= 0"),
        (dict(curriculum_steps=2.5), TypeError, "curriculum_steps"),
        (dict(num_buckets=0), ValueError, "num_buckets.*>= 1"),
        (dict(num_buckets=1.5), TypeError, "num_buckets"),
        (dict(schedule="cosine"), ValueError, "schedule.*exponential"),
        (dict(factor=1.0), ValueError, "factor"),
        (dict(update_every=0), ValueError, "update_every"),
        (dict(learning_rate=0.1), ValueError, "wrapped optimizer's rate is the base rate every bucket rises"),
        (dict(weight_decay=0.1), ValueError, "per bucket"),
        (dict(initial_learning_rates=[0.1, 0.2]), ValueError, "initial_learning_rates\\[1\\]"),
    ],
)
def test_bad_arguments(kwargs, error, match):
    args = dict(min_learning_rate=1e-6, curriculum_steps=10)
    if "initial_learning_rates" in kwargs:
        args.pop("min_learning_rate")
    args.update(kwargs)
    with pytest.raises(error, match=match):
        LeRaC(SGD(0.1), **args)


@pytest.mark.parametrize(
    "optimizer, error, match",
    [
        ("sgd", TypeError, "Keras 3 optimizer"),
        (object(), TypeError, "Keras 3 optimizer"),
        (LeRaC(SGD(0.1), min_learning_rate=1e-6, curriculum_steps=1), TypeError, "already a LeRaC"),
        (keras.optimizers.LossScaleOptimizer(SGD(0.1)), TypeError, "LossScaleOptimizer"),
        (SGD(0.1, global_clipnorm=1.0), ValueError, "global_clipnorm.*LeRaC"),
        (SGD(0.1, use_ema=True), ValueError, "use_ema"),
    ],
)
def test_bad_optimizer(optimizer, error, match):
    with pytest.raises(error, match=match):
        LeRaC(optimizer, min_learning_rate=1e-6, curriculum_steps=10)


def test_buckets_that_miss_a_variable():
    model = mlp(depth=3)
    opt = LeRaC(
        SGD(0.1),
        min_learning_rate=1e-6,
        curriculum_steps=10,
        buckets=[[model.get_layer("hidden_0")], [model.get_layer("hidden_1")]],
    )
    with pytest.raises(ValueError, match="head/kernel.*in no bucket"):
        opt.build(model.trainable_variables)


def test_buckets_that_repeat_a_variable():
    model = mlp(depth=2)
    layer = model.get_layer("hidden_0")
    opt = LeRaC(
        SGD(0.1),
        min_learning_rate=1e-6,
        curriculum_steps=10,
        buckets=[[layer], [layer, model.get_layer("head")]],
    )
    with pytest.raises(ValueError, match="hidden_0/kernel.*exactly one bucket"):
        opt.build(model.trainable_variables)


def test_pattern_matching_two_buckets():
    model = mlp(depth=2)
    opt = LeRaC(
        SGD(0.1),
        min_learning_rate=1e-6,
        curriculum_steps=10,
        buckets=[[".*kernel", "hidden_0/bias"], ["head/.*"]],
    )
    with pytest.raises(ValueError, match="head/kernel.*buckets \\[0, 1\\]"):
        opt.build(model.trainable_variables)


def test_depth_buckets_of_a_model_with_no_trainable_variables():
    model = mlp(depth=2)
    model.trainable = False
    with pytest.raises(ValueError, match="no trainable variables"):
        depth_buckets(model)


def test_too_many_buckets():
    model = mlp(depth=2)
    opt = LeRaC(SGD(0.1), min_learning_rate=1e-6, curriculum_steps=10, model=model, num_buckets=5)
    with pytest.raises(ValueError, match="num_buckets.*5.*2 depth levels"):
        opt.build(model.trainable_variables)


def test_initial_rates_count_must_match_buckets():
    model = mlp(depth=3)
    opt = LeRaC(SGD(0.1), initial_learning_rates=[0.1, 0.01], curriculum_steps=10, model=model)
    with pytest.raises(ValueError, match="2 entries.*3 buckets"):
        opt.build(model.trainable_variables)


def test_fit_trains_and_lowers_loss():
    x, y = classification_data(n=128)
    model = mlp(depth=3, width=16)
    opt = LeRaC(
        keras.optimizers.SGD(0.1, momentum=0.9), min_learning_rate=1e-4, curriculum_steps=8, model=model
    )
    model.compile(optimizer=opt, loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    history = model.fit(x, y, batch_size=32, epochs=6, verbose=0)
    assert history.history["loss"][-1] < 0.8 * history.history["loss"][0]


def test_gradient_accumulation_on_the_wrapper():
    variables = three_variables()
    opt = make_apply_opt(variables, curriculum_steps=0, gradient_accumulation_steps=2)
    ones = [keras.ops.ones((2,))] * 3
    opt.apply(ones, variables)
    assert np.all(keras.ops.convert_to_numpy(variables[0]) == 0)  # accumulated, not applied
    opt.apply(ones, variables)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(variables[2]), -0.1, rtol=1e-5)


def test_ema_on_the_wrapper():
    variables = three_variables()
    opt = make_apply_opt(variables, curriculum_steps=0, use_ema=True, ema_momentum=0.5)
    for _ in range(2):
        opt.apply([keras.ops.ones((2,))] * 3, variables)
    opt.finalize_variable_values(variables)
    # EMA with momentum 0.5 of the values -0.1 (first step: copied) and -0.2.
    np.testing.assert_allclose(keras.ops.convert_to_numpy(variables[0]), -0.15, rtol=1e-5)


def test_integers_of_any_integral_type_are_accepted():
    model = mlp(depth=3)
    opt = LeRaC(
        SGD(0.1), min_learning_rate=1e-6, curriculum_steps=np.int64(10), num_buckets=np.int64(2), model=model
    )
    opt.build(model.trainable_variables)
    assert len(opt.buckets) == 2 and opt.settings.curriculum_steps == 10
    assert opt.learning_rates_at(np.int32(10)) == pytest.approx([0.1, 0.1])


@pytest.mark.parametrize("step, error", [(-2, ValueError), ("2", TypeError), (1.5, TypeError)])
def test_learning_rates_at_rejects_what_is_not_a_step(step, error):
    opt = make_apply_opt(three_variables())
    with pytest.raises(error, match="`step` must be an integer >= 0"):
        opt.learning_rates_at(step)


def test_a_zero_base_rate_is_refused_by_name():
    with pytest.raises(ValueError, match="the base rate must be > 0"):
        LeRaC(SGD(0.0), min_learning_rate=1e-6, curriculum_steps=10)


# ---------------------------------------------------------------- warm-up and reference rate
S = keras.optimizers.schedules


def warmup_base():
    return S.CosineDecay(0.0, 200, warmup_target=0.1, warmup_steps=20)


def test_warm_up_from_zero_follows_the_base_schedule():
    variables = three_variables()
    opt = LeRaC(
        SGD(warmup_base()), min_learning_rate=1e-5, curriculum_steps=40, buckets=[[v] for v in variables]
    )
    opt.build(variables)
    assert opt.curriculum.reference == pytest.approx(0.1)
    assert opt.curriculum.start_ratios == pytest.approx([1.0, 1e-2, 1e-4])
    base = warmup_base()
    for t in range(0, 80, 3):
        b = float(keras.ops.convert_to_numpy(base(t)))
        rates = opt.learning_rates_at(t)
        assert rates[0] == pytest.approx(b, rel=1e-6, abs=1e-12)  # bucket 0: the base schedule exactly
        assert all(r <= b * (1 + 1e-6) for r in rates)  # no bucket above it, ever
        assert rates[2] == pytest.approx(b * 1e-4 ** (1 - min(t / 40, 1)), rel=1e-5, abs=1e-12)
    # The applied rates are the planned ones (plain SGD moves by lr * g, with g = 1), at
    # the start, around the end of the base warm-up (20) and around K (40).
    grads = [keras.ops.ones((2,)) for _ in variables]
    for t in (0, 1, 2, 19, 20, 21, 39, 40, 41, 44):
        opt.iterations.assign(t)
        before = [keras.ops.convert_to_numpy(v)[0] for v in variables]
        opt.apply(grads, variables)
        moved = [b - keras.ops.convert_to_numpy(v)[0] for b, v in zip(before, variables)]
        np.testing.assert_allclose(moved, opt.learning_rates_at(t), rtol=2e-4, atol=1e-9)


def test_initial_learning_rates_are_fractions_of_the_peak():
    opt = LeRaC(SGD(warmup_base()), initial_learning_rates=[0.1, 1e-3], curriculum_steps=10)
    opt.build(three_variables()[:2])
    assert opt.curriculum.start_ratios == pytest.approx([1.0, 1e-2])
    with pytest.raises(
        ValueError, match=r"initial_learning_rates\[1\].*\(0, the peak 0.1 of the base CosineDecay\]"
    ):
        LeRaC(SGD(warmup_base()), initial_learning_rates=[0.1, 0.2], curriculum_steps=10)


class Triangle(S.LearningRateSchedule):
    """A schedule of the user's own: LeRaC cannot know its peak."""

    def __call__(self, step):
        return 0.1 * keras.ops.minimum(keras.ops.cast(step, "float32") / 10.0, 1.0)

    def get_config(self):
        return {}


def test_a_schedule_without_a_known_peak_needs_a_reference_rate():
    with pytest.raises(ValueError, match="Triangle.*reference_learning_rate="):
        LeRaC(SGD(Triangle()), min_learning_rate=1e-5, curriculum_steps=10)
    opt = LeRaC(SGD(Triangle()), min_learning_rate=1e-5, reference_learning_rate=0.1, curriculum_steps=10)
    opt.build(three_variables()[:2])
    assert opt.curriculum.start_ratios == pytest.approx([1.0, 1e-4])
    assert opt.learning_rates_at(5) == pytest.approx([0.05, 0.05 * 1e-4**0.5])
    with pytest.raises(ValueError, match="reference_learning_rate 0.1"):
        LeRaC(SGD(Triangle()), min_learning_rate=0.5, reference_learning_rate=0.1, curriculum_steps=10)
