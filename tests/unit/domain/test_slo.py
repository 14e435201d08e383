"""Multiwindow, multi-burn-rate SLO evaluation: tables for the rules, properties for monotonicity."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runofshow.domain.slo import (
    WINDOWS_S,
    Severity,
    burn_rate,
    error_budget,
    evaluate_burn,
    scaled_windows,
)

TARGET = 99.9  # error budget 0.1 %: an error ratio of 0.0144 is a burn rate of 14.4
WINDOWS = ("5m", "30m", "1h", "6h", "24h")


def ratios(burns: dict[str, float | None]) -> dict[str, float | None]:
    """Error ratios that give these burn rates at the 99.9 % target."""
    budget = error_budget(TARGET)
    return {w: None if b is None else b * budget for w, b in burns.items()}


def test_error_budget_and_burn_rate():
    assert error_budget(99.9) == pytest.approx(0.001)
    assert burn_rate(0.0144, 99.9) == pytest.approx(14.4)
    assert burn_rate(None, 99.9) is None
    assert burn_rate(float("nan"), 99.9) is None


@pytest.mark.parametrize(
    ("burns", "page", "ticket"),
    [
        ({"5m": 20, "30m": 1, "1h": 15, "6h": 1, "24h": 0.5}, True, False),  # fast burn
        ({"5m": 20, "30m": 1, "1h": 14, "6h": 1, "24h": 0.5}, False, False),  # 1h not above 14.4
        ({"5m": 14, "30m": 1, "1h": 30, "6h": 1, "24h": 0.5}, False, False),  # 5m has recovered
        ({"5m": 1, "30m": 7, "1h": 1, "6h": 6.5, "24h": 1}, False, True),  # slow burn
        ({"5m": 1, "30m": 5, "1h": 1, "6h": 6.5, "24h": 1}, False, False),  # 30m not above 6
        ({"5m": 20, "30m": 10, "1h": 20, "6h": 10, "24h": 3}, True, True),  # both
        ({"5m": 0, "30m": 0, "1h": 0, "6h": 0, "24h": 0}, False, False),
    ],
)
def test_page_and_ticket_rules(burns, page, ticket):
    v = evaluate_burn(ratios(burns), TARGET, 1.5)
    assert (v.page, v.ticket) == (page, ticket)
    assert v.fast_burn is page
    assert v.severity is (Severity.PAGE if page else Severity.TICKET if ticket else Severity.OK)
    if page:
        assert any(r.startswith("page: burn rate above 14.4x over 1h") for r in v.reasons)
    if ticket:
        assert any(r.startswith("ticket: burn rate above 6x over 6h") for r in v.reasons)


@pytest.mark.parametrize(("b24", "within"), [(0.0, True), (1.49, True), (1.5, False), (3.0, False)])
def test_24h_burn_rate_must_stay_below_the_plan_max(b24, within):
    v = evaluate_burn(ratios({"5m": 0, "30m": 0, "1h": 0, "6h": 0, "24h": b24}), TARGET, 1.5)
    assert v.within_24h_max is within
    assert v.burn_rate_24h == pytest.approx(b24)
    assert any(r.startswith(f"24h burn rate {b24:.2f}x") for r in v.reasons)


def test_missing_data_never_pages_and_never_passes_24h():
    v = evaluate_burn({"5m": 0.5, "1h": None, "6h": float("nan")}, TARGET, 1.5)
    assert not v.page and not v.ticket
    assert v.within_24h_max is False and v.burn_rate_24h is None
    assert set(v.no_data) == {"1h", "6h", "30m", "24h"}
    assert "page rule not evaluable: 1h no data, 5m 500.00x" in v.reasons
    assert "no fast or slow burn" not in v.reasons
    assert v.burn("5m") == pytest.approx(500)


def test_quiet_night_reasons():
    v = evaluate_burn(ratios({"5m": 0.2, "30m": 0.2, "1h": 0.2, "6h": 0.2, "24h": 0.2}), TARGET, 1.5)
    assert v.reasons[0] == "no fast or slow burn"
    assert [w.window for w in v.windows] == list(WINDOWS)
    assert v.to_json()["severity"] == "ok" and v.to_json()["windows"]["24h"] == pytest.approx(0.2)


def test_windows_scale_with_speed():
    assert scaled_windows(1) == dict(WINDOWS_S)
    fast = scaled_windows(60)
    assert fast["1h"] == 60 and fast["5m"] == 5 and fast["24h"] == 1440
    with pytest.raises(ValueError):
        scaled_windows(0)


@pytest.mark.parametrize("target", [0, 100, -1, float("nan")])
def test_bad_target_is_refused(target):
    with pytest.raises(ValueError, match="SLO target"):
        evaluate_burn({}, target, 1.5)


def test_negative_error_ratio_is_refused():
    with pytest.raises(ValueError, match="negative"):
        evaluate_burn({"5m": -0.1}, TARGET, 1.5)


ratio = st.floats(min_value=0, max_value=1, allow_nan=False)
ratio_sets = st.fixed_dictionaries({w: ratio for w in WINDOWS})


@given(base=ratio_sets, extra=st.fixed_dictionaries({w: ratio for w in WINDOWS}))
def test_higher_error_ratios_never_give_a_milder_verdict(base, extra):
    worse = {w: base[w] + extra[w] for w in WINDOWS}
    a = evaluate_burn(base, TARGET, 1.5)
    b = evaluate_burn(worse, TARGET, 1.5)
    assert b.severity >= a.severity
    assert b.page or not a.page
    assert b.ticket or not a.ticket
    assert a.within_24h_max or not b.within_24h_max  # worse never turns a failing 24 h into a pass


@given(base=ratio_sets, k=st.floats(min_value=1, max_value=1000))
def test_scaling_every_window_up_is_never_milder(base, k):
    a = evaluate_burn(base, TARGET, 1.5)
    b = evaluate_burn({w: r * k for w, r in base.items()}, TARGET, 1.5)
    assert b.severity >= a.severity


@given(base=ratio_sets)
def test_burn_rates_are_ratio_over_budget(base):
    v = evaluate_burn(base, TARGET, 1.5)
    for w in v.windows:
        assert w.burn_rate is not None and math.isclose(w.burn_rate, base[w.window] / error_budget(TARGET))
