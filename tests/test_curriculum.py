"""The curriculum formulas, against the paper's equations written out by hand."""

import math

import keras
import numpy as np
import pytest

from keras_lerac import CurriculumSchedule
from keras_lerac import curriculum as schedules
from keras_lerac.schedules import default_update_every


def paper_exponential(eta_j0, eta_0, t, k):
    """The paper's equation with c = 10, exactly as printed."""
    if t >= k:
        return eta_0
    c = 10.0
    return eta_j0 * c ** ((t / k) * (math.log10(eta_0) - math.log10(eta_j0)))


@pytest.mark.parametrize("t", [0, 1, 7, 50, 99, 100, 150])
def test_exponential_matches_paper(t):
    s = CurriculumSchedule(0.1, start_ratio=1e-5, curriculum_steps=100)
    assert float(s(t)) == pytest.approx(paper_exponential(1e-6, 0.1, t, 100), rel=1e-5)


@pytest.mark.parametrize("t", [0, 25, 50, 100, 101])
def test_linear_rise(t):
    s = CurriculumSchedule(0.1, start_ratio=1e-3, curriculum_steps=100, schedule="linear")
    eta_j0 = 1e-4
    expected = 0.1 if t >= 100 else eta_j0 + (0.1 - eta_j0) * t / 100
    assert float(s(t)) == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("t", [0, 9, 10, 25, 39, 40, 59, 60])
def test_stepwise_is_official_rule(t):
    # Official code: rate *= 10 at every update point while below the base rate.
    s = CurriculumSchedule(0.1, start_ratio=1e-5, curriculum_steps=60, schedule="stepwise", update_every=10)
    expected = 0.1 if t >= 60 else min(0.1, 1e-6 * 10 ** (t // 10))
    assert float(s(t)) == pytest.approx(expected, rel=1e-5)


def test_base_schedule_keeps_running_underneath():
    base = keras.optimizers.schedules.CosineDecay(0.1, decay_steps=200)
    s = CurriculumSchedule(base, start_ratio=1e-4, curriculum_steps=100)
    for t in (0, 30, 100, 180):
        m = 1e-4 ** (1 - min(t / 100, 1))
        assert float(s(t)) == pytest.approx(float(base(t)) * m, rel=1e-5)


def test_zero_curriculum_steps_is_conventional():
    s = CurriculumSchedule(0.1, start_ratio=1e-6, curriculum_steps=0)
    assert float(s(0)) == pytest.approx(0.1)


def test_start_ratios_are_log_uniform():
    ratios = schedules.start_ratios(5, 1e-4)
    assert ratios[0] == 1.0
    assert ratios[-1] == pytest.approx(1e-4)
    assert np.allclose(np.diff(np.log(ratios)), math.log(1e-4) / 4)
    assert schedules.start_ratios(1, 1e-4) == [1.0]


def test_host_and_device_formula_agree():
    ratios = np.array(schedules.start_ratios(4, 1e-5))
    for kind in schedules.SCHEDULES:
        for t in (0, 13, 50, 99, 100, 1000):
            params = {"factor": 10.0, "update_every": 20} if kind == "stepwise" else {}
            host = schedules.curriculum_multiplier(float(t), ratios, 100, kind, xp=np, **params)
            device = schedules.curriculum_multiplier(
                keras.ops.cast(t, "float32"),
                keras.ops.convert_to_tensor(ratios.astype("float32")),
                100,
                kind,
                **params,
            )
            np.testing.assert_allclose(keras.ops.convert_to_numpy(device), host, rtol=2e-5)


def test_schedule_serializes():
    base = keras.optimizers.schedules.PiecewiseConstantDecay([10], [0.1, 0.01])
    s = CurriculumSchedule(base, 1e-3, 50, "stepwise", factor=10.0, update_every=5)
    restored = keras.optimizers.schedules.deserialize(keras.optimizers.schedules.serialize(s))
    assert isinstance(restored, CurriculumSchedule)
    for t in (0, 7, 49, 60):
        assert float(restored(t)) == pytest.approx(float(s(t)))


def test_unknown_schedule_is_rejected():
    with pytest.raises(ValueError, match="schedule"):
        CurriculumSchedule(0.1, 1e-3, 10, schedule="cosine")


def test_default_update_every_reaches_base_at_k():
    # lowest ratio 1e-5 needs 5 x10 updates: every K // 5 iterations.
    assert default_update_every(100, 1e-5, 10.0) == 20
    assert default_update_every(3, 1e-5, 10.0) == 1


S = keras.optimizers.schedules


@pytest.mark.parametrize(
    "base, peak",
    [
        (0.05, 0.05),
        (S.CosineDecay(0.0, 100, warmup_target=0.1, warmup_steps=10), 0.1),
        (S.CosineDecay(0.2, 100), 0.2),
        (S.PiecewiseConstantDecay([10, 20], [0.01, 0.1, 0.001]), 0.1),
        (S.PolynomialDecay(0.1, 100, end_learning_rate=0.01), 0.1),
        (S.ExponentialDecay(0.1, 10, 0.5), 0.1),
        (S.InverseTimeDecay(0.1, 10, 0.5), 0.1),
        (S.CosineDecayRestarts(0.1, 10), 0.1),
        (S.ExponentialDecay(0.1, 10, 2.0), None),  # grows: no peak
    ],
)
def test_peak_rate_of_keras_schedules(base, peak):
    got = schedules.peak_rate(base)
    assert got == (None if peak is None else pytest.approx(peak))


def test_curriculum_is_the_one_formula_for_host_and_step():
    base = S.CosineDecay(0.0, 100, warmup_target=0.1, warmup_steps=10)
    curriculum = schedules.Curriculum(base, 0.1, (1.0, 1e-2, 1e-4), 20, "exponential")
    for t in (0, 5, 10, 19, 20, 60):
        b = float(base(t))
        want = [b * r ** (1 - min(t / 20, 1)) for r in (1.0, 1e-2, 1e-4)]
        assert curriculum.rates_at(t) == pytest.approx(want, rel=1e-5, abs=1e-12)
        device = keras.ops.convert_to_numpy(curriculum.multipliers(keras.ops.cast(t, "float32")))
        np.testing.assert_allclose(device * b, want, rtol=2e-5, atol=1e-12)
        for j in range(3):
            assert float(curriculum.bucket_schedule(j)(t)) == pytest.approx(want[j], rel=1e-5, abs=1e-12)
    assert curriculum.start_rates == pytest.approx([0.1, 1e-3, 1e-5])
    # Reached: the multiplier, not the (warming-up) rate, decides.
    assert [curriculum.reach_step(j) for j in range(3)] == [0, 20, 20]


@pytest.mark.parametrize(
    "step, error", [(-2, ValueError), ("2", TypeError), (2.0, TypeError), (True, TypeError)]
)
def test_rates_at_rejects_what_is_not_a_step(step, error):
    curriculum = schedules.Curriculum(0.1, 0.1, (1.0, 1e-3), 10)
    with pytest.raises(error, match="`step` must be an integer >= 0"):
        curriculum.rates_at(step)
    assert curriculum.rates_at(np.int64(5)) == pytest.approx([0.1, 0.1 * 1e-3**0.5])


# Issue 16, item 1: the float32-rounded base rate (SGD(0.1) reads 0.10000000149) made the
# default stepwise interval one update short, so the last bucket reached the base early.
@pytest.mark.parametrize(
    "base, lowest, k, interval",
    [(0.1, 1e-4, 30, 10), (0.1, 1e-6, 100, 20), (0.01, 1e-5, 90, 30), (0.3, 3e-5, 40, 10)],
)
def test_stepwise_default_interval_ends_the_climb_at_k(base, lowest, k, interval):
    import keras

    from keras_lerac import LeRaC

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(4), keras.layers.Dense(2)])
    opt = LeRaC(keras.optimizers.SGD(base), min_learning_rate=lowest, curriculum_steps=k, schedule="stepwise")
    opt.build(model.trainable_variables)
    assert opt.curriculum.params["update_every"] == interval
    assert opt.curriculum.reach_step(opt.curriculum.num_buckets - 1) == k
    assert opt.learning_rates_at(k - 1)[-1] < base * 0.99


def test_base_rate_and_derived_rates_read_as_the_user_wrote_them():
    import keras

    from keras_lerac import LeRaC

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(4), keras.layers.Dense(2)])
    opt = LeRaC(keras.optimizers.SGD(0.1, momentum=0.9), total_steps=30 * 100, model=model)
    assert (opt.settings.curriculum_steps, opt.settings.min_learning_rate) == (75, 1e-05)
    assert opt.curriculum.base == 0.1 and opt.learning_rates_at(0) == [0.1, 1e-05]
