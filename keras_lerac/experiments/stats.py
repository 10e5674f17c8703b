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


def paired_difference(a: Sequence[float], b: Sequence[float], tie: float = 0.0) -> dict:
    """Summary of the paired differences `a[i] - b[i]` (one entry per seed).

    Args:
        a: One regime's results, one per seed.
        b: The other regime's results, for the same seeds in the same order.
        tie: A difference with absolute value at most this counts as a tie.

    Returns:
        `{"n", "mean", "se", "ci95": [low, high], "wins", "ties", "losses", "significant"}`:
        mean difference, its standard error and 95 % t interval (None for fewer than 2
        pairs), how many pairs `a` won, tied and lost, and whether the interval excludes 0.

    Example:

    >>> d = paired_difference([0.9, 0.8, 0.85], [0.8, 0.8, 0.8])
    >>> d["wins"], d["ties"], d["losses"]
    (2, 1, 0)
    """
    if len(a) != len(b):
        raise ValueError(f"Paired results need one value per seed on each side: got {len(a)} and {len(b)}.")
    diffs = [x - y for x, y in zip(a, b)]
    mean, se = mean_se(diffs)
    ci = None
    if se is not None:
        half = t_quantile_95(len(diffs) - 1) * se
        ci = [mean - half, mean + half]
    return {
        "n": len(diffs),
        "mean": mean,
        "se": se,
        "ci95": ci,
        "wins": sum(d > tie for d in diffs),
        "ties": sum(abs(d) <= tie for d in diffs),
        "losses": sum(d < -tie for d in diffs),
        "significant": ci is not None and (ci[0] > 0 or ci[1] < 0),
    }
