"""Paired statistics (keras_lerac/experiments/stats.py)."""

import math

import pytest

from keras_lerac.experiments.stats import mean_se, mean_std, paired_difference, t_quantile_95


def test_t_quantile_matches_scipy_for_every_dof():
    stats = pytest.importorskip("scipy.stats")
    worst = max(abs(t_quantile_95(d) - stats.t.ppf(0.975, d)) for d in range(1, 500))
    assert worst < 5e-4
    with pytest.raises(ValueError, match="at least 1 degree"):
        t_quantile_95(0)


def test_paired_difference_counts_and_interval():
    d = paired_difference([3.0, 2.0, 5.0, 1.0], [1.0, 2.0, 1.0, 2.0])
    assert (d["n"], d["wins"], d["ties"], d["losses"]) == (4, 2, 1, 1)
    mean, se = mean_se([2.0, 0.0, 4.0, -1.0])
    assert d["mean"] == pytest.approx(1.25) and d["se"] == pytest.approx(se)
    assert d["ci95"] == pytest.approx([mean - 3.182 * se, mean + 3.182 * se])
    assert not d["significant"]
    assert paired_difference([1.0, 1.1, 1.2], [0.0, 0.0, 0.0])["significant"]


def test_a_single_pair_has_no_interval_and_lengths_must_match():
    d = paired_difference([1.0], [0.5])
    assert d["se"] is None and d["ci95"] is None and not d["significant"]
    assert math.isclose(d["mean"], 0.5)
    with pytest.raises(ValueError, match="one value per seed"):
        paired_difference([1.0, 2.0], [1.0])


def test_mean_std_is_the_sample_standard_deviation():
    import statistics

    values = [0.91, 0.83, 0.84, 0.9]
    mean, std = mean_std(values)
    assert mean == pytest.approx(statistics.fmean(values)) and std == pytest.approx(statistics.stdev(values))
    assert mean_std([0.5]) == (0.5, 0.0)
    with pytest.raises(ValueError, match="at least one value"):
        mean_std([])
