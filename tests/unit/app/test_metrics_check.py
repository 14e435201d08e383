"""`validate --check-metrics`'s use case on a fake metrics source (the real Prometheus, with series
under other label names: tests/integration/test_metric_labels.py)."""

from __future__ import annotations

from datetime import UTC, datetime

from runofshow.app.metrics_check import check_metrics, check_plan_metrics
from runofshow.domain.plan import Plan
from runofshow.domain.tick import TrackSample
from runofshow.errors import MetricsUnavailableError

NOW = datetime(2026, 12, 5, 4, 0, tzinfo=UTC)


class OneAnswer:
    def __init__(self, baseline: TrackSample | None, canary: TrackSample | None) -> None:
        self.answer, self.asked, self.closed = (baseline, canary), [], False

    def observe(self, at, window_s):
        self.asked.append((at, window_s))
        return self.answer

    def close(self) -> None:
        self.closed = True


def sample(**values) -> TrackSample:
    full = {name: 1.0 for name in Plan().gates}
    full.update(values)
    return TrackSample(values=full, requests=100)


def test_every_gate_answering_is_ok_and_asked_once_over_one_tick() -> None:
    source = OneAnswer(sample(), sample())
    report = check_metrics(Plan(), source, NOW)
    assert report.ok and source.asked == [(NOW, 60)]
    assert report.lines()[0] == "http_p95_ms: ok (baseline 1, canary 1)"
    assert report.lines()[-1] == "metrics: 6/6 gates return series"


def test_gates_without_series_are_named_with_the_labels_used() -> None:
    report = check_metrics(Plan(), OneAnswer(sample(ws_lag_s=None), sample(ws_lag_s=None, csp_violations=None)), NOW)
    assert not report.ok and report.empty == ("ws_lag_s", "csp_violations")
    lines = report.lines()
    assert "ws_lag_s: no series for baseline and canary (baseline -, canary -)" in lines
    assert "csp_violations: no series for canary (baseline 1, canary -)" in lines
    assert 'metrics: the default queries select service="spark-trading" and track="canary"|"baseline"' in lines[-2]
    assert lines[-1] == "metrics: 4/6 gates return series; none for ws_lag_s, csp_violations"


def test_an_unreachable_source_is_a_failed_check_and_the_source_is_closed() -> None:
    class Down(OneAnswer):
        def observe(self, at, window_s):
            raise MetricsUnavailableError("prometheus http://127.0.0.1:9: connection refused")

    down = Down(None, None)
    report = check_plan_metrics(Plan(), lambda plan, env: down, environ={}, now=NOW)
    assert not report.ok and down.closed
    assert report.lines() == ["metrics: prometheus http://127.0.0.1:9090: cannot be asked: "
                              "prometheus http://127.0.0.1:9: connection refused"]
