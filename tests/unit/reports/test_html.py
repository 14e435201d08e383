"""The HTML report, from real runs (bootstrap, in-memory fakes, fake clock): one plot per gate, the
stages, holds and the rollback marked, the decision table, the checklist, and nothing loaded from
anywhere. `tests/integration/test_report_chromium.py` renders it in a real browser."""

from __future__ import annotations

import re
from html import unescape

import pytest
from plotly.offline import get_plotlyjs

from runofshow.reports import report_figures as figs
from runofshow.reports.evidence_render import RunView
from runofshow.reports.html import decision_rows, render_report, write_report
from tests.report_runs import halted_run, promoted_run, rolled_back_run, run


@pytest.fixture(scope="module")
def promoted():
    return promoted_run()


@pytest.fixture(scope="module")
def rolled_back():
    return rolled_back_run()


@pytest.fixture(scope="module")
def promoted_html(promoted):
    return render_report(promoted.events, None, evidence_files=60)


@pytest.fixture(scope="module")
def rolled_back_html(rolled_back):
    return render_report(rolled_back.events, None)


def plot_ids(html: str) -> list[str]:
    return re.findall(r'Plotly\.newPlot\(\s*"([^"]+)"', html)


def test_one_plot_per_gate_plus_the_weight_and_the_first_night(promoted, promoted_html):
    gates = list(promoted.plan.gates)
    assert plot_ids(promoted_html) == ["fig-weight", *(f"gate-{g}" for g in gates), "fig-first-night",
                                       "fig-burn"]
    for gate in gates:
        assert f'id="gate-{gate}"' in promoted_html


def test_a_rolled_back_run_has_no_first_night_plot(rolled_back, rolled_back_html):
    assert plot_ids(rolled_back_html) == ["fig-weight", *(f"gate-{g}" for g in rolled_back.plan.gates)]


def test_the_report_is_self_contained(promoted_html, rolled_back_html):
    js = get_plotlyjs()
    for html in (promoted_html, rolled_back_html):
        assert html.count(js[:400]) == 1  # plotly.js embedded once
        assert "<script" in html and not re.search(r"<script[^>]*\bsrc\s*=", html, re.I)
        assert not re.search(r"<link\b", html, re.I)
        # no element of the page itself (the parts that are not plotly.js) names a URL to load
        page = html.replace(js, "")
        assert not re.search(r"\b(src|href)\s*=\s*[\"']?\s*(https?:)?//", page, re.I)
        assert not re.search(r"https?://", page), re.search(r".{60}https?://.{60}", page).group(0)
        assert "@import" not in page and "url(" not in page


def test_the_header_names_the_release_and_its_outcome(promoted_html, rolled_back_html, promoted):
    assert "<title>v1.4.0 spark-trading canary report</title>" in promoted_html
    assert ">PROMOTED</span>" in promoted_html and "exit 0" in promoted_html
    assert promoted.run_id in promoted_html
    assert ">ROLLED BACK</span>" in rolled_back_html and "exit 3" in rolled_back_html
    assert "rolled back at stage 3 (25%)" in rolled_back_html


def test_each_gate_figure_plots_canary_and_baseline_against_the_threshold(rolled_back):
    v = RunView.of(rolled_back.events)
    first = next(e for e in rolled_back.events if e.kind == "decision")
    for name, gate in v.plan.gates.items():
        fig = figs.gate_figure(v, name)
        traces = {t.name: t for t in fig.data}
        assert {"canary", "baseline"} <= set(traces)
        assert traces["canary"].x[0] == first.payload["t_s"] / 60  # minutes since T0
        assert traces["canary"].y[0] == pytest.approx(first.payload["inputs"]["canary"]["values"][name])
        assert traces["baseline"].y[0] == pytest.approx(first.payload["inputs"]["baseline"]["values"][name])
        lines = [s for s in fig.layout.shapes if s.type == "line"]
        assert any(s.y0 == s.y1 == gate.threshold for s in lines), "no threshold line"
        assert fig.layout.yaxis.range[1] >= gate.threshold  # the threshold is in view


def test_the_rollback_hold_and_stages_are_marked_on_every_figure(rolled_back):
    v = RunView.of(rolled_back.events)
    rb = next(e.payload for e in rolled_back.events if e.kind == "rollback_started")
    hold = next(e.payload for e in rolled_back.events if e.kind == "hold_started")
    for fig in [figs.weight_figure(v), *(figs.gate_figure(v, g) for g in v.plan.gates)]:
        shapes = fig.layout.shapes
        rollback = [s for s in shapes if s.type == "line" and s.line.color == figs.ROLLBACK]
        assert [s.x0 for s in rollback] == [rb["t_s"] / 60]
        holds = [s for s in shapes if s.type == "rect" and s.fillcolor == figs.HOLD]
        assert [s.x0 for s in holds] == [hold["t_s"] / 60]
        bands = [s for s in shapes if s.type == "rect" and s.fillcolor in figs.BANDS]
        assert [(s.x0, s.x1) for s in bands] == [(0, 15), (15, 30), (30, rb["t_s"] / 60)]
        texts = [a.text for a in fig.layout.annotations]
        assert any(t.startswith("<b>ROLLBACK</b>") for t in texts)
        assert ["S1 · 1%", "S2 · 5%", "S3 · 25%"] == [t for t in texts if t.startswith("S")]


def test_the_failing_gate_shows_its_verdicts(rolled_back):
    fig = figs.gate_figure(RunView.of(rolled_back.events), "http_5xx_pct")
    names = [t.name for t in fig.data]
    assert "FAIL" in names and "SUSPECT" in names
    fail = next(t for t in fig.data if t.name == "FAIL")
    assert fail.y[0] == pytest.approx(6.0) and "canary-only" in fail.customdata[0]
    assert "6 % &gt; 1 %" in fail.customdata[0]  # plotly reads tags in hover text: ledger text is escaped


def test_the_weight_figure_follows_the_read_back_weight(promoted):
    fig = figs.weight_figure(RunView.of(promoted.events))
    line = next(t for t in fig.data if t.name == "canary weight (read back)")
    assert line.line.shape == "hv"
    assert list(line.y) == [0, 1, 5, 25, 50, 100, 100]
    decisions = sum(len(t.x) for t in fig.data if t.name.startswith("decision: "))
    assert decisions == len(RunView.of(promoted.events).decisions("stage"))


def test_the_first_night_figures(promoted):
    v = RunView.of(promoted.events)
    night = figs.first_night_figure(v)
    assert [t.name for t in night.data] == [g.short for g in v.plan.gates.values()]
    checkins = v.decisions("first_night")
    assert all(len(t.x) == len(checkins) for t in night.data)
    burn = figs.burn_figure(v)
    assert [t.name for t in burn.data] == ["burn 1h", "burn 6h", "burn 24h"]
    last = checkins[-1].burn["windows"]["24h"]
    assert burn.data[-1].y[-1] == pytest.approx(last) and 0.3 < last < 0.7  # 0.05 % errors, 0.1 % budget
    assert [s.y0 for s in burn.layout.shapes] == [v.plan.timeline.burn_rate_24h_max]


def test_the_decision_table_has_a_row_per_decision(rolled_back, rolled_back_html):
    decisions = [e.payload for e in rolled_back.events if e.kind == "decision"]
    rows = decision_rows(RunView.of(rolled_back.events))
    assert [(r["label"], r["action"]) for r in rows] == [(d["label"], d["action"]) for d in decisions]
    body = rolled_back_html.split('<table id="decisions">', 1)[1].split("</table>", 1)[0]
    trs = re.findall(r'<tr class="(proceed|hold|rollback)( quiet)?">', body)
    assert len(trs) == len(decisions)
    assert [a for a, _ in trs].count("rollback") == 1 and [a for a, _ in trs].count("hold") == 1
    last = body.rsplit('<tr class="rollback">', 1)[1]
    assert '<span class="chip FAIL">http_5xx_pct FAIL</span>' in last and "canary-only" in last
    assert re.search(r"<td>T\+3\d</td><td class=num>3</td><td class=num>25%</td>", last)


def checklist_items(page: str) -> list[tuple[str, str]]:
    """(name, PASS|FAIL|PENDING) of every checklist line."""
    found = re.findall(r'<span class="mark (?:ok|bad)">(PASS|FAIL|PENDING)</span><b>([^<]+)</b>', page)
    return [(unescape(name), mark) for mark, name in found]


def test_the_checklist_is_the_seeds(promoted_html, rolled_back_html):
    items = checklist_items(promoted_html)
    names = [n for n, _ in items]
    assert names[:6] == ["All 5 stages completed", "6/6 metrics PASS at each stage", "0 rollbacks",
                         "0 critical alerts", "War-room log complete", "Evidence files collected (50+)"]
    assert len(items) == 10 and items[-1] == ("User feedback neutral/positive", "PENDING")
    assert [n for n, mark in items if mark == "FAIL"] == []
    assert "9/10 criteria met: PENDING" in promoted_html
    rb = dict(checklist_items(rolled_back_html))
    assert rb["0 rollbacks"] == "FAIL" and rb["All 5 stages completed"] == "FAIL"
    assert rb["Evidence files collected (50+)"] == "FAIL"  # not counted without a bundle


def test_no_data_is_marked_not_drawn_as_zero():
    result = run([(20 * 60, {"http_p95_ms": None})])
    v = RunView.of(result.events)
    fig = figs.gate_figure(v, "http_p95_ms")
    canary = next(t for t in fig.data if t.name == "canary")
    assert None in canary.y and 0 not in canary.y  # a gap in the line, never a zero
    nodata = next(t for t in fig.data if t.name == "NODATA")
    assert nodata.marker.symbol == "x" and len(nodata.x) >= 1


def test_a_run_halted_before_t0_still_reports():
    result = halted_run()
    page = render_report(result.events, None)
    assert ">HALTED</span>" in page and "halted at the preflight step (T-10)" in page
    assert plot_ids(page) == ["fig-weight", *(f"gate-{g}" for g in result.plan.gates)]
    assert "no decision recorded: no stage ran" in page
    assert "No stage started." in page and "No decision was recorded." in page


def test_write_report_is_atomic_and_the_same_for_the_same_events(tmp_path, promoted):
    path = write_report(promoted.events, None, tmp_path / "r" / "report.html", evidence_files=60)
    assert path == tmp_path / "r" / "report.html"
    assert [p.name for p in path.parent.iterdir()] == ["report.html"]  # no temporary file left
    assert path.read_text(encoding="utf-8") == render_report(promoted.events, promoted.plan, evidence_files=60)
