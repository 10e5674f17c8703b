"""Paired statistics for comparisons of training regimes: small pure functions.

Every comparison in the package pairs its runs: for one seed, both regimes start from
the same initial weights and see the same batches in the same order, so the difference
of one seed's two accuracies carries the regime's effect and not the seed's. These
functions summarise such differences; the runner, the CLI, the benchmarks and a user's
own script all read them from here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

# Two-sided 95 % quantiles of Student's t for 1..30 degrees of freedom.
_T95 = (
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
    2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
    2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
)  # fmt: skip


def t_quantile_95(dof: int) -> float:
    """The two-sided 95 % quantile of Student's t with `dof` degrees of freedom (>= 1).

    From a table up to 30 degrees of freedom; above, the Cornish-Fisher expansion
    around the normal quantile; within 5e-4 of the exact value for every `dof`.

    Example:

    >>> t_quantile_95(11)
    2.201
    """
    if dof < 1:
        raise ValueError(f"A t quantile needs at least 1 degree of freedom. Received: {dof}")
    if dof <= len(_T95):
        return _T95[dof - 1]
    z = 1.959964
    return z + (z**3 + z) / (4 * dof) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * dof**2)


def mean_se(values: Sequence[float]) -> tuple[float | None, float | None]:
    """`(mean, standard error)` of `values`; the error is None for fewer than 2 values.

    Example:

    >>> mean_se([1.0, 2.0, 4.0])
    (2.3333333333333335, 0.8819171036881969)
    """
    n = len(values)
    if n == 0:
        return None, None
    mean = math.fsum(values) / n
    if n < 2:
        return mean, None
    var = math.fsum((v - mean) ** 2 for v in values) / (n - 1)
    return mean, math.sqrt(var / n)


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """`(mean, sample standard deviation)` of `values`; the deviation is 0 for one value.

    Raises:
        ValueError: for no value.

    Example:

    >>> mean_std([1.0, 2.0, 4.0])
    (2.3333333333333335, 1.5275252316519468)
    """
    n = len(values)
    if n == 0:
        raise ValueError("mean_std needs at least one value.")
    mean = math.fsum(values) / n
    std = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else 0.0
    return mean, std


def _betacf(a: float, b: float, x: float) -> float:
    """The continued fraction of the regularised incomplete beta function (Lentz's method)."""
    tiny, c, d = 1e-300, 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 300):
        for numerator in (
            m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)),
        ):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + numerator / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < 1e-15:
            break
    return h


def _betainc(a: float, b: float, x: float) -> float:
    """The regularised incomplete beta function I_x(a, b)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    front = math.exp(
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1.0 - x) / b


def t_test_p(t: float, dof: int) -> float:
    """The two-sided p-value of Student's t statistic `t` with `dof` degrees of freedom.

    Example:

    >>> round(t_test_p(2.201, 11), 3)
    0.05
    """
    if dof < 1:
        raise ValueError(f"A t test needs at least 1 degree of freedom. Received: {dof}")
    if math.isinf(t):
        return 0.0
    return _betainc(dof / 2.0, 0.5, dof / (dof + t * t))


def holm(p_values: Sequence[float | None]) -> list[float | None]:
    """Holm's step-down adjustment of `p_values` for multiple comparisons (None stays None).

    The family is the p-values that are not None; each adjusted value is at most 1, and
    a contrast is significant at level alpha when its adjusted value is below alpha.

    Example:

    >>> holm([0.01, 0.04, 0.03])
    [0.03, 0.06, 0.06]
    """
    known = sorted((p, i) for i, p in enumerate(p_values) if p is not None)
    adjusted: list[float | None] = [None] * len(p_values)
    running = 0.0
    for rank, (p, i) in enumerate(known):
        running = max(running, min(1.0, (len(known) - rank) * p))
        adjusted[i] = round(running, 12)
    return adjusted


MIN_PAIRS = 3  # fewer pairs than this: no interval, no significance claim


def paired_difference(a: Sequence[float | None], b: Sequence[float | None], tie: float = 0.0) -> dict:
    """Summary of the paired differences `a[i] - b[i]` (one entry per seed).

    A pair where either side is None (a run whose score is not a finite number) is left
    out, and counted in `"missing"`. With fewer than `MIN_PAIRS` pairs, or pairs that
    all differ by the same amount (standard error 0), there is no interval and no
    significance claim: `ci95`, `p` and `significant` are None and `"note"` says why.

    Args:
        a: One regime's results, one per seed (None for a run with no finite score).
        b: The other regime's results, for the same seeds in the same order.
        tie: A difference with absolute value at most this counts as a tie.

    Returns:
        `{"n", "missing", "mean", "se", "ci95": [low, high], "p", "wins", "ties",
        "losses", "significant", "note"}`: mean difference, its standard error, 95 % t
        interval and two-sided t-test p-value, how many pairs `a` won, tied and lost,
        whether the interval excludes 0, and why there is no interval (None if there is).

    Example:

    >>> d = paired_difference([0.9, 0.8, 0.85], [0.8, 0.8, 0.8])
    >>> d["wins"], d["ties"], d["losses"]
    (2, 1, 0)
    """
    if len(a) != len(b):
        raise ValueError(f"Paired results need one value per seed on each side: got {len(a)} and {len(b)}.")
    diffs = [x - y for x, y in zip(a, b) if x is not None and y is not None]
    mean, se = mean_se(diffs)
    ci, p, note = None, None, None
    if len(diffs) < MIN_PAIRS:
        note = f"{len(diffs)} pair(s): at least {MIN_PAIRS} seeds are needed for an interval"
    elif se <= 1e-12 * max(1.0, abs(mean)):  # equal differences, up to float rounding
        note = "every pair differs by the same amount (standard error 0): no interval"
    else:
        half = t_quantile_95(len(diffs) - 1) * se
        ci = [mean - half, mean + half]
        p = t_test_p(mean / se, len(diffs) - 1)
    return {
        "n": len(diffs),
        "missing": len(a) - len(diffs),
        "mean": mean,
        "se": se,
        "ci95": ci,
        "p": p,
        "wins": sum(d > tie for d in diffs),
        "ties": sum(abs(d) <= tie for d in diffs),
        "losses": sum(d < -tie for d in diffs),
        "significant": None if ci is None else bool(ci[0] > 0 or ci[1] < 0),
        "note": note,
    }
