"""The war-room Grafana dashboard: built from the plan's own queries, importable as is."""

from __future__ import annotations

import itertools
import json

from runofshow.domain.plan import Plan
from runofshow.domain.rules import Gate, GateKind, TrackQueries
from runofshow.reports.dashboard import by_label, dashboard, grafana_expr, per_second

TITLES = [
    "Canary weight", "Alerts firing", "HTTP P95 latency", "Error rate by endpoint",
    "Idempotency conflicts", "pgBouncer pool utilisation", "WebSocket lag", "CSP violations",
    "Request rate by version", "SLO burn rate",
]


def _exprs(board: dict) -> list[str]:
    return [t["expr"] for p in board["panels"] for t in p["targets"]]


def test_ten_panels_with_unique_ids_and_the_seed_titles():
    board = dashboard(Plan())
    assert [p["title"] for p in board["panels"]] == TITLES
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == 10 and len(set(ids)) == 10


def _overlap(a: dict, b: dict) -> bool:
    return (a["x"] < b["x"] + b["w"] and b["x"] < a["x"] + a["w"]
            and a["y"] < b["y"] + b["h"] and b["y"] < a["y"] + a["h"])


def test_grid_positions_fit_and_do_not_overlap():
    panels = dashboard(Plan())["panels"]
    for p in panels:
        pos = p["gridPos"]
        assert pos["x"] >= 0 and pos["y"] >= 0 and pos["w"] > 0 and pos["h"] > 0
        assert pos["x"] + pos["w"] <= 24
    for a, b in itertools.combinations(panels, 2):
        assert not _overlap(a["gridPos"], b["gridPos"]), (a["title"], b["title"])


def test_every_gate_query_appears_for_both_tracks_with_grafana_interval():
    plan = Plan()
    exprs = _exprs(dashboard(plan))
    assert not any("$window" in e for e in exprs)
    for gate in plan.gates.values():
        assert gate.query is not None
        assert grafana_expr(gate.query.baseline) in exprs
        assert grafana_expr(gate.query.canary) in exprs


def test_gate_panels_draw_the_threshold_line():
    plan = Plan()
    by_title = {p["title"]: p for p in dashboard(plan)["panels"]}
    p95 = by_title["HTTP P95 latency"]
    steps = p95["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert steps[-1] == {"color": "red", "value": plan.gates["http_p95_ms"].threshold}
    assert p95["fieldConfig"]["defaults"]["custom"]["thresholdsStyle"] == {"mode": "line"}
    assert p95["fieldConfig"]["defaults"]["unit"] == "ms"
    assert [t["legendFormat"] for t in p95["targets"]] == ["baseline", "canary"]
    burn = by_title["SLO burn rate"]["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert burn[-1]["value"] == plan.timeline.burn_rate_24h_max


def test_error_panel_breaks_down_by_endpoint_and_burn_rate_uses_the_budget():
    by_title = {p["title"]: p for p in dashboard(Plan())["panels"]}
    errors = [t["expr"] for t in by_title["Error rate by endpoint"]["targets"]]
    assert len(errors) == 4 and all("sum by (endpoint) (" in e for e in errors[2:])
    assert by_title["Error rate by endpoint"]["targets"][3]["legendFormat"] == "canary {{endpoint}}"
    assert all(e.endswith(") / 0.1") for e in (t["expr"] for t in by_title["SLO burn rate"]["targets"]))
    rate = [t["expr"] for t in by_title["Request rate by version"]["targets"]]
    assert all("rate(" in e and "increase(" not in e for e in rate)
    alerts = by_title["Alerts firing"]["targets"][0]["expr"]
    assert alerts == 'count by (alertname) (ALERTS{alertstate="firing",auto_rollback="true"})'


def test_dashboard_settings_match_the_war_room_view():
    board = dashboard(Plan())
    assert board["uid"] == "risk-idempotency-pitr"
    assert board["time"] == {"from": "now-30m", "to": "now"} and board["refresh"] == "30s"
    assert all(a["enable"] for a in board["annotations"]["list"])
    assert any(a.get("target", {}).get("tags") == ["runofshow"] for a in board["annotations"]["list"])
    (var,) = board["templating"]["list"]
    assert var["type"] == "datasource" and var["query"] == "prometheus" and var["name"] == "datasource"
    assert all(p["datasource"] == {"type": "prometheus", "uid": "${datasource}"} for p in board["panels"])
    assert isinstance(board["schemaVersion"], int) and board["id"] is None


def test_json_round_trips():
    board = dashboard(Plan())
    assert json.loads(json.dumps(board)) == board


def test_extra_gates_get_their_own_panels_and_missing_ones_none():
    gates = dict(Plan().gates)
    del gates["csp_violations"]
    gates["queue_depth"] = Gate(threshold=100, kind=GateKind.GAUGE,
                                query=TrackQueries(baseline="max(q{t=\"b\"})", canary="max(q{t=\"c\"})"))
    plan = Plan(gates=gates)
    board = dashboard(plan)
    titles = [p["title"] for p in board["panels"]]
    assert "CSP violations" not in titles and "Queue depth" in titles
    assert 'max(q{t="c"})' in _exprs(board)
    assert len({p["id"] for p in board["panels"]}) == len(board["panels"])


def test_query_rewrites():
    assert per_second("sum(increase(x[$window]))") == "sum(rate(x[$window]))"
    assert by_label("100 * sum(rate(a[5m])) / sum(rate(b[5m]))", "route") == (
        "100 * sum by (route) (rate(a[5m])) / sum by (route) (rate(b[5m]))"
    )
    assert by_label("max(x)", "endpoint") is None
