"""Count statistics for the judge: exact and likelihood-ratio tests of a canary/baseline rate
ratio, stratified by tick, and the tails they are read from. Pure functions on plain numbers.

A row is one tick: (canary events, canary requests, baseline events, baseline requests).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache

from runofshow.domain.special import betainc, convolve_upto, gammainc, gammaln, ndtri

Row = tuple[float, float, float, float]  # canary events, canary requests, baseline events, baseline requests

@lru_cache(maxsize=4096)  # each tick's cap is asked again for every window that holds it
def poisson_cap(mu: float, z: float) -> float:
    """The count whose one-sided signed-root likelihood ratio against Poisson(mu) is `z`: the
    most one tick may contribute (winsorising counts the way CLIP winsorises the others)."""
    mu = max(mu, 1e-9)
    target = z * z / 2
    k = mu + z * math.sqrt(mu) + target
    for _ in range(40):
        f = k * math.log(k / mu) - k + mu - target
        step = f / math.log(k / mu)
        k = max(k - step, mu * 1.000001)
        if abs(step) < 1e-9:
            break
    return k


Z_MAX = 37.0  # the z of the smallest p-value a float holds (1e-300): "beyond doubt"


def tail_z(p: float) -> float:
    """A one-sided p-value on the standard-normal scale: 0 for p >= 0.5."""
    if not p < 0.5:
        return 0.0
    return min(Z_MAX, float(-ndtri(max(p, 1e-300))))


def binomial_tail_z(k: float, n: float, p: float, mid: bool = False) -> float:
    """z of P(X >= k), X ~ Binomial(n, p): exact at whole counts, continuous in between
    (the regularised incomplete beta function), so fractional counts are fine. `mid`: the
    mid-p value, P(X > k) + P(X = k) / 2, which is not conservative on average."""
    if k <= 0 or n <= 0 or p >= 1:
        return 0.0
    if p <= 0:
        return Z_MAX
    k = min(k, n)
    tail = float(betainc(k, n - k + 1, p))
    if mid:
        above = float(betainc(k + 1, n - k, p)) if k + 1 <= n else 0.0
        tail = (tail + above) / 2
    return tail_z(tail)


def poisson_tail_z(k: float, mu: float) -> float:
    """z of P(X >= k), X ~ Poisson(mu) (the regularised lower incomplete gamma function)."""
    if k <= 0:
        return 0.0
    if mu <= 0:
        return Z_MAX
    return tail_z(float(gammainc(k, mu)))


EXACT_MAX_EVENTS = 200
"""Above this many events in a window the likelihood-ratio z is accurate on its own."""


_LOG_FACTORIAL = [gammaln(k + 1) for k in range(EXACT_MAX_EVENTS + 1)]  # log k!, every k exact_z meets


def exact_z(rows: Sequence[Row], rho0: float) -> float:
    """The exact conditional test of rate ratio > rho0, stratified by tick: given a tick's total
    events (rounded to whole events), the canary's count in it is binomial with the canary's share
    of the tick's exposure, n_c rho0 / (n_c rho0 + n_b); the sum over the window is convolved
    exactly and its mid-p tail at the canary's count is the p-value. Small counts are where the
    likelihood-ratio z overstates: 4 canary events against 0 at equal exposure is p=0.06 exact,
    0.03 mid-p (z 1.5-1.9), where the likelihood ratio says z 2.3. The mid-p value keeps moderate
    counts as sensitive as the likelihood ratio. Z_MAX (no limit) above EXACT_MAX_EVENTS."""
    strata = [
        (math.floor(kc + 0.5), math.floor(kb + 0.5), min(nc * rho0 / (nc * rho0 + nb), 1 - 1e-15))
        for kc, nc, kb, nb in rows
    ]
    t = sum(c for c, _, _ in strata)
    if t <= 0:
        return 0.0
    if sum(c + b for c, b, _ in strata) > EXACT_MAX_EVENTS:
        return Z_MAX
    # the sum's distribution up to t, and its mass above t (which stays above: counts only grow)
    pmf, above = [1.0], 0.0
    for c, b, share in strata:
        n = c + b
        if n == 0:
            continue
        pmf, spill = convolve_upto(pmf, _binomial_pmf(n, share), t)
        above += spill
    return tail_z(above + 0.5 * pmf[t])


@lru_cache(maxsize=8192)  # a tick's stratum is met again in every window and leave-out that holds it
def _binomial_pmf(n: int, share: float) -> tuple[float, ...]:
    """P(X = k) for k = 0..n, X ~ Binomial(n, share)."""
    ls, lf, ln = math.log(share), math.log1p(-share), _LOG_FACTORIAL[n]
    return tuple(math.exp(ln - _LOG_FACTORIAL[k] - _LOG_FACTORIAL[n - k] + k * ls + (n - k) * lf)
                 for k in range(n + 1))


def capped(rows: Sequence[Row], rho0: float, clip: float) -> list[Row]:
    """Winsorise each tick's canary count at `clip` standard errors: a burst counts as one clearly
    bad tick, not as ten."""
    return [(min(kc, poisson_cap(rho0 * nc * (kb + 0.5) / nb, clip)), nc, kb, nb) for kc, nc, kb, nb in rows]


def loglik(rows: Sequence[Row], theta: float) -> float:
    total = 0.0
    for kc, nc, kb, nb in rows:
        a = math.log(nc) + theta
        b = math.log(nb)
        m = max(a, b)
        lse = m + math.log(math.exp(a - m) + math.exp(b - m))
        total += kc * (a - lse) + kb * (b - lse)
    return total


def score(rows: Sequence[Row], theta: float) -> tuple[float, float]:
    """The score (derivative of `loglik` in theta) and the information at `theta` (within +-12 where
    the judge calls it: exp(theta) is finite, and each row's canary share is nc e^theta / (nc e^theta
    + nb), one exponential per call rather than one per row)."""
    et = math.exp(min(theta, 700.0))
    u = info = 0.0
    for kc, nc, kb, nb in rows:
        a = nc * et
        pi = a / (a + nb)
        k = kc + kb
        u += kc - k * pi
        info += k * pi * (1 - pi)
    return u, info


def root(rows: Sequence[Row], lo: float, hi: float, at_lo: tuple[float, float] | None = None) -> float:
    """The maximum-likelihood log ratio in [lo, hi]: the score is decreasing, so a safeguarded
    Newton iteration inside a shrinking bracket always converges. `at_lo`: `score(rows, lo)`, when
    the caller has it already."""
    if score(rows, hi)[0] >= 0:
        return hi
    theta = lo
    for i in range(60):
        u, info = at_lo if i == 0 and at_lo is not None else score(rows, theta)
        if u > 0:
            lo = theta
        else:
            hi = theta
        nxt = theta + u / info if info > 1e-12 else (lo + hi) / 2
        if not lo < nxt < hi:
            nxt = (lo + hi) / 2
        if abs(nxt - theta) < 1e-9:
            return nxt
        theta = nxt
    return theta
