"""SLO burn rate: multiwindow, multi-burn-rate evaluation for the first night (T+90 .. T+24h).

Pure: the caller measures the error ratio over each window (errors / requests, 0..1) and passes
them in; nothing here reads a clock or a metrics source. From the Google SRE workbook
("Alerting on SLOs", the recommended multiwindow, multi-burn-rate parameters) plus the
run-of-show's 24 h criterion:

    page    burn over 1h  > 14.4  AND burn over 5m  > 14.4   (2 % of a 30-day budget in 1 h)
    ticket  burn over 6h  > 6     AND burn over 30m > 6      (5 % of the budget in 6 h)
    24 h    burn over 24h < burn_rate_24h_max (the seed: < 1.5)

burn rate = error ratio / error budget, where error budget = 1 - slo_target_pct / 100. A burn
rate of 1 spends the budget exactly over the SLO period.

The short window of each pair makes the alert reset soon after the burn stops; the long window
makes it significant. A window without data (None, NaN, infinite) is NoData: it never satisfies a
rule (a page needs evidence) and it never passes the 24 h criterion (missing data is not zero).

With `--speed N` the runner compresses plan time; `scaled_windows(N)` gives the wall-clock
durations to query for each window (the 1 h window of a 60x run is 60 s of wall time).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum

WINDOWS_S: Mapping[str, float] = {
    "5m": 300.0,
    "30m": 1800.0,
    "1h": 3600.0,
    "6h": 21600.0,
    "24h": 86400.0,
}


class Severity(IntEnum):
    """How urgent the burn is; ordered, so `max()` gives the worst."""

    OK = 0
    TICKET = 1
    PAGE = 2

    @property
    def label(self) -> str:
        return self.name.lower()


@dataclass(frozen=True)
class BurnRule:
    """Fires when the burn rate over both windows is above `factor`."""

    severity: Severity
    long_window: str
    short_window: str
    factor: float


PAGE_RULE = BurnRule(Severity.PAGE, "1h", "5m", 14.4)
TICKET_RULE = BurnRule(Severity.TICKET, "6h", "30m", 6.0)
DEFAULT_RULES: tuple[BurnRule, ...] = (PAGE_RULE, TICKET_RULE)


@dataclass(frozen=True)
class WindowBurn:
    """One window: its name, the plan duration it covers, the error ratio and the burn rate."""

    window: str
    duration_s: float
    error_ratio: float | None
    burn_rate: float | None


@dataclass(frozen=True)
class BurnVerdict:
    """The burn-rate evaluation at one instant.

    page:   fast burn (roll back if the plan says so). ticket: slow burn (someone should look).
    burn_rate_24h: the 24 h burn rate (None: no data); within_24h_max: it is below the plan's max
    (False when there is no data). no_data: windows without data.
    """

    severity: Severity
    page: bool
    ticket: bool
    burn_rate_24h: float | None
    burn_rate_24h_max: float
    within_24h_max: bool
    windows: tuple[WindowBurn, ...]
    no_data: tuple[str, ...]
    reasons: tuple[str, ...]

    @property
    def fast_burn(self) -> bool:
        return self.page

    def burn(self, window: str) -> float | None:
        for w in self.windows:
            if w.window == window:
                return w.burn_rate
        return None

    def to_json(self) -> dict[str, object]:
        """The ledger payload shape (`decision.burn`) the evidence check-ins read."""
        return {
            "severity": self.severity.label, "page": self.page, "ticket": self.ticket,
            "burn_rate_24h": self.burn_rate_24h, "burn_rate_24h_max": self.burn_rate_24h_max,
            "within_24h_max": self.within_24h_max,
            "windows": {w.window: w.burn_rate for w in self.windows},
            "no_data": list(self.no_data), "reasons": list(self.reasons),
        }


def error_budget(slo_target_pct: float) -> float:
    """The share of requests allowed to fail: 99.9 % -> 0.001."""
    if not (math.isfinite(slo_target_pct) and 0 < slo_target_pct < 100):
        raise ValueError(f"SLO target must be between 0 and 100 %, not {slo_target_pct!r}")
    return 1.0 - slo_target_pct / 100.0


def _ratio(value: float | None) -> float | None:
    if value is None:
        return None
    v = float(value)
    if not math.isfinite(v):
        return None
    if v < 0:
        raise ValueError(f"an error ratio cannot be negative ({v!r})")
    return v


def burn_rate(error_ratio: float | None, slo_target_pct: float) -> float | None:
    """Error ratio / error budget; None (NoData) stays None."""
    ratio = _ratio(error_ratio)
    return None if ratio is None else ratio / error_budget(slo_target_pct)


def scaled_windows(speed: float = 1.0, windows: Mapping[str, float] = WINDOWS_S) -> dict[str, float]:
    """Each window's wall-clock duration in seconds for a run compressed `speed` times."""
    if not (math.isfinite(speed) and speed > 0):
        raise ValueError(f"speed must be more than 0, not {speed!r}")
    return {name: seconds / speed for name, seconds in windows.items()}


def _fmt(burn: float | None) -> str:
    return "no data" if burn is None else f"{burn:.2f}x"


def _rule_fires(rule: BurnRule, burns: Mapping[str, float | None]) -> bool:
    long_b, short_b = burns.get(rule.long_window), burns.get(rule.short_window)
    return long_b is not None and short_b is not None and long_b > rule.factor and short_b > rule.factor


def evaluate_burn(
    error_ratios: Mapping[str, float | None],
    slo_target_pct: float,
    burn_rate_24h_max: float,
    *,
    rules: tuple[BurnRule, ...] = DEFAULT_RULES,
    windows: Mapping[str, float] = WINDOWS_S,
) -> BurnVerdict:
    """Evaluate the burn-rate rules on the error ratio of each window.

    `error_ratios` maps window names ("5m", "30m", "1h", "6h", "24h") to errors / requests over that
    window; a missing key or None is NoData. `windows` gives each window's duration (plan seconds),
    for the report only.
    """
    if not (math.isfinite(burn_rate_24h_max) and burn_rate_24h_max > 0):
        raise ValueError(f"the 24 h burn-rate limit must be more than 0, not {burn_rate_24h_max!r}")
    budget = error_budget(slo_target_pct)
    needed = {"24h"} | {w for r in rules for w in (r.long_window, r.short_window)}
    names = [w for w in windows if w in needed] + sorted(needed - set(windows))
    burns: dict[str, float | None] = {}
    table: list[WindowBurn] = []
    for name in names:
        ratio = _ratio(error_ratios.get(name))
        burns[name] = None if ratio is None else ratio / budget
        table.append(WindowBurn(name, float(windows.get(name, 0.0)), ratio, burns[name]))
    no_data = tuple(w.window for w in table if w.burn_rate is None)

    reasons: list[str] = []
    severity = Severity.OK
    fired: set[Severity] = set()
    evaluable = True
    for rule in rules:
        pair = (f"{rule.long_window} {_fmt(burns.get(rule.long_window))}, "
                f"{rule.short_window} {_fmt(burns.get(rule.short_window))}")
        if _rule_fires(rule, burns):
            fired.add(rule.severity)
            severity = max(severity, rule.severity)
            reasons.append(f"{rule.severity.label}: burn rate above {rule.factor:g}x over {pair}")
        elif burns.get(rule.long_window) is None or burns.get(rule.short_window) is None:
            evaluable = False
            reasons.append(f"{rule.severity.label} rule not evaluable: {pair}")

    b24 = burns.get("24h")
    within = b24 is not None and b24 < burn_rate_24h_max
    if b24 is None:
        reasons.append(f"24h burn rate: no data (must be below {burn_rate_24h_max:g}x)")
    else:
        rel = "below" if within else "not below"
        reasons.append(f"24h burn rate {b24:.2f}x {rel} {burn_rate_24h_max:g}x")
    if not fired and evaluable:
        reasons.insert(0, "no fast or slow burn")
    return BurnVerdict(
        severity=severity, page=Severity.PAGE in fired, ticket=Severity.TICKET in fired,
        burn_rate_24h=b24, burn_rate_24h_max=burn_rate_24h_max, within_24h_max=within,
        windows=tuple(table), no_data=no_data, reasons=tuple(reasons),
    )


__all__ = [
    "DEFAULT_RULES", "PAGE_RULE", "TICKET_RULE", "WINDOWS_S", "BurnRule", "BurnVerdict", "Severity",
    "WindowBurn", "burn_rate", "error_budget", "evaluate_burn", "scaled_windows",
]
