from __future__ import annotations

import math

import pytest

from runofshow.domain.gates import clean_value, fmt, threshold_verdict, valid_requests
from runofshow.domain.rules import default_gates
from runofshow.domain.tick import TrackSample, Verdict

GATES = default_gates()


def sample(requests: float | None = 1000, **values: float | None) -> TrackSample:
    return TrackSample(values=values, requests=requests)


@pytest.mark.parametrize(
    ("metric", "value", "requests", "expected"),
    [
        ("http_p95_ms", 140.0, 1000, 140.0),
        ("http_p95_ms", None, 1000, None),  # NoData, never zero
        ("http_p95_ms", 29924.1, 2, None),  # 2 requests: p95 is meaningless
        ("http_p95_ms", 0.0, 1000, None),
        ("http_5xx_pct", -4355.0, -216667, None),  # counter reset
        ("http_5xx_pct", 100.0, 2, None),
        ("http_5xx_pct", 120.0, 1000, None),  # a percentage above 100
        ("http_5xx_pct", 0.0, 1000, 0.0),
        ("csp_violations", -2557, -216667, None),
        ("csp_violations", 3, 1000, 3.0),
        ("ws_lag_s", 2.46, 2, 2.46),  # a gauge is not per request: low n does not matter
        ("pgbouncer_pool_util_pct", 9769.3, 41, None),  # pool overflow glitch
        ("pgbouncer_pool_util_pct", 34.6, -216667, 34.6),
        ("http_p95_ms", math.nan, 1000, None),
        ("http_p95_ms", 140.0, None, 140.0),  # no request count: the value still stands
    ],
)
def test_clean_value(metric, value, requests, expected):
    assert clean_value(GATES[metric], sample(requests, **{metric: value}), metric) == expected


def test_clean_value_of_a_missing_track_is_nodata():
    assert clean_value(GATES["http_p95_ms"], None, "http_p95_ms") is None


def test_valid_requests():
    assert valid_requests(sample(3)) == 3
    assert valid_requests(sample(2)) is None
    assert valid_requests(sample(-5)) is None
    assert valid_requests(sample(None)) is None
    assert valid_requests(None) is None


def test_fmt_reads_like_a_war_room():
    assert fmt(GATES["http_p95_ms"], 412.3) == "412 ms"
    assert fmt(GATES["http_5xx_pct"], 1.25) == "1.25 %"
    assert fmt(GATES["csp_violations"], 12) == "12 per tick"
    assert fmt(GATES["ws_lag_s"], 31.0) == "31 s"
    assert fmt(GATES["ws_lag_s"], None) == "no data"


def test_threshold_verdicts():
    g = GATES["http_p95_ms"]
    v = threshold_verdict("http_p95_ms", g, 412, 140)
    assert v.verdict is Verdict.FAIL
    assert v.reason == "http_p95_ms canary 412 ms > 300 ms (baseline 140 ms)"
    assert threshold_verdict("http_p95_ms", g, 150, 140).verdict is Verdict.PASS
    nodata = threshold_verdict("http_p95_ms", g, None, 140)
    assert nodata.verdict is Verdict.NODATA and "no canary data" in nodata.reason
