"""The few special functions the count tests need, in plain Python (no scipy, no numpy: importing
them cost `runofshow replay` half a second). Regularised incomplete beta and gamma functions by
their continued fractions and series (Numerical Recipes, 3rd ed., 6.2 and 6.4, modified Lentz),
the normal quantile from the standard library. tests/unit/domain/test_special.py checks them
against scipy over the ranges the judge uses, down to tails of 1e-300.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from statistics import NormalDist

_EPS = 1e-15
_TINY = 1e-300
_MAXIT = 100_000
_N = NormalDist()


def ndtri(p: float) -> float:
    """The standard normal quantile: ndtri(0.025) = -1.96."""
    if p <= 0:
        return -math.inf
    if p >= 1:
        return math.inf
    return _N.inv_cdf(p)


def _betacf(a: float, b: float, x: float) -> float:
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > _TINY else _TINY)
    h = d
    for m in range(1, _MAXIT):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > _TINY else _TINY)
        c = 1.0 + aa / c
        c = c if abs(c) > _TINY else _TINY
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > _TINY else _TINY)
        c = 1.0 + aa / c
        c = c if abs(c) > _TINY else _TINY
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < _EPS:
            break
    return h


def betainc(a: float, b: float, x: float) -> float:
    """The regularised incomplete beta function I_x(a, b), a, b > 0."""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    log_front = (math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
                 + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _betacf(a, b, x) / a
    return 1.0 - math.exp(log_front) * _betacf(b, a, 1.0 - x) / b


def gammainc(a: float, x: float) -> float:
    """The regularised lower incomplete gamma function P(a, x), a > 0."""
    if x <= 0:
        return 0.0
    log_front = -x + a * math.log(x) - math.lgamma(a)
    if x < a + 1.0:  # the series
        ap, term = a, 1.0 / a
        total = term
        for _ in range(_MAXIT):
            ap += 1.0
            term *= x / ap
            total += term
            if abs(term) < abs(total) * _EPS:
                break
        return total * math.exp(log_front)
    # the continued fraction for Q = 1 - P
    b = x + 1.0 - a
    c, d = 1.0 / _TINY, 1.0 / b
    h = d
    for i in range(1, _MAXIT):
        an = -i * (i - a)
        b += 2.0
        d = an * d + b
        d = 1.0 / (d if abs(d) > _TINY else _TINY)
        c = b + an / c
        c = c if abs(c) > _TINY else _TINY
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < _EPS:
            break
    return 1.0 - math.exp(log_front) * h


def gammaln(x: float) -> float:
    return math.lgamma(x)


def convolve(p: Sequence[float], q: Sequence[float]) -> list[float]:
    """The distribution of the sum of two independent counts given as probability lists."""
    return convolve_upto(p, q, len(p) + len(q) - 2)[0]


def convolve_upto(p: Sequence[float], q: Sequence[float], top: int) -> tuple[list[float], float]:
    """`convolve(p, q)` up to the count `top`, and the mass of the counts above it (added up
    directly, never as 1 - the rest, so that a tail of 1e-200 keeps its digits)."""
    suffix = [0.0] * (len(q) + 1)
    for j in range(len(q) - 1, -1, -1):
        suffix[j] = suffix[j + 1] + q[j]
    out = [0.0] * min(len(p) + len(q) - 1, top + 1)
    spill = 0.0
    for i, pi in enumerate(p):
        if pi == 0.0 or i > top:
            spill += pi if i > top else 0.0
            continue
        last = min(len(q) - 1, top - i)
        for j in range(last + 1):
            out[i + j] += pi * q[j]
        spill += pi * suffix[last + 1]
    return out, spill
