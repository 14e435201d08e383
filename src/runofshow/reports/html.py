"""The run report: one self-contained HTML file, rebuilt from a run's ledger events.

    write_report(events, plan, path, *, evidence_files=None) -> Path
    render_report(events, plan, *, evidence_files=None) -> str

What it shows, top to bottom: a header (release, version, service, status, exit code, T0, the
one-liner, headline numbers); the canary weight with every decision; one figure per gate metric
(canary and baseline over minutes since T0, the threshold, the verdicts that were not PASS, stage
bands, holds, the rollback); the first night (gates as % of threshold, the SLO burn rate); the
stages; the rollback; the decision table (every tick: label, stage, weight, action, gates passing,
reasons); the success checklist; the war-room log.

Self-contained: plotly.js is embedded once, in the page's head, and no element loads anything from
anywhere (no CDN, no fonts, no images). The page is the same for the same events: figure ids are
fixed and no wall-clock "generated at" is stamped (the footer names the ledger's last event instead).
`evidence_files` is the evidence bundle's file count for the checklist (None: "not counted").
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from html import escape
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import plotly.io as pio
from plotly.offline import get_plotlyjs

from runofshow.app.run import event_types as et
from runofshow.app.run.event_parts import VerdictRecord
from runofshow.domain import checklist
from runofshow.domain.plan import Plan
from runofshow.files import atomic_write_text
from runofshow.ports import LedgerEvent
from runofshow.reports import report_data as rd
from runofshow.reports import report_figures as figs
from runofshow.reports.evidence_render import RunView, feedback_lines, reasons_text, ts, war_room_lines
from runofshow.reports.evidence_steps import run_facts
from runofshow.reports.rca import oneliner

PLOT_CONFIG = {"displaylogo": False, "responsive": True,
               "modeBarButtonsToRemove": ["select2d", "lasso2d", "autoScale2d"]}
STATUS_CLASS = {"promoted": "ok", "rolled_back": "bad", "halted": "warn", "running": "info", "paused": "warn"}

CSS = """
:root { --ink:#212529; --muted:#6c757d; --line:#dee2e6; --bg:#f8f9fa; --ok:#2b8a3e; --bad:#c92a2a;
  --warn:#e67700; --info:#1864ab; }
* { box-sizing: border-box; }
body { margin:0; background:var(--bg); color:var(--ink);
  font:14px/1.5 "DejaVu Sans","Liberation Sans",Helvetica,Arial,sans-serif; }
main { max-width:1440px; margin:0 auto; padding:20px 28px 40px; }
header.top { background:#fff; border:1px solid var(--line); border-radius:10px; padding:18px 22px; }
h1 { font-size:24px; margin:0 0 4px; } h2 { font-size:18px; margin:30px 0 10px; }
.sub { color:var(--muted); font-size:13px; } .mono { font-family:"DejaVu Sans Mono",monospace; }
.oneliner { margin:12px 0 4px; font-size:15px; padding:8px 12px; background:var(--bg);
  border-left:4px solid var(--info); border-radius:4px; }
.badge { display:inline-block; padding:2px 10px; border-radius:999px; font-size:12px; font-weight:bold;
  color:#fff; vertical-align:middle; margin-left:8px; letter-spacing:.03em; }
.badge.ok { background:var(--ok); } .badge.bad { background:var(--bad); }
.badge.warn { background:var(--warn); } .badge.info { background:var(--info); }
.cards { display:grid; grid-template-columns:repeat(auto-fit,minmax(150px,1fr)); gap:10px; margin-top:14px; }
.card { background:var(--bg); border-radius:8px; padding:8px 12px; }
.card b { display:block; font-size:20px; } .card span { color:var(--muted); font-size:12px; }
.panel { background:#fff; border:1px solid var(--line); border-radius:10px; padding:6px; }
.grid { display:grid; grid-template-columns:repeat(auto-fill,minmax(560px,1fr)); gap:14px; }
.legend { color:var(--muted); font-size:12.5px; margin:-4px 0 10px; }
.legend i { display:inline-block; width:18px; height:10px; border-radius:2px; margin:0 4px 0 12px;
  vertical-align:middle; }
table { border-collapse:collapse; width:100%; background:#fff; font-size:13px; }
th, td { text-align:left; padding:5px 9px; border-bottom:1px solid var(--line); vertical-align:top; }
th { background:#f1f3f5; position:sticky; top:0; z-index:1; font-weight:600; }
td.num, th.num { text-align:right; font-variant-numeric:tabular-nums; }
.scroll { max-height:520px; overflow:auto; border:1px solid var(--line); border-radius:10px; }
.tablebox { border:1px solid var(--line); border-radius:10px; overflow:hidden; }
table.notable tr.quiet { display:none; }
tr.hold td { background:#fff9db; } tr.rollback td { background:#ffe3e3; }
.act { font-weight:bold; } .act.proceed { color:var(--ok); } .act.hold { color:var(--warn); }
.act.rollback { color:var(--bad); }
.chip { display:inline-block; font-size:11px; padding:0 6px; border-radius:4px; margin:1px 3px 1px 0;
  background:#e9ecef; } .chip.FAIL { background:#ffc9c9; } .chip.SUSPECT { background:#ffd8a8; }
.chip.TREND { background:#ffec99; } .chip.SHARED { background:#e5dbff; } .chip.NODATA { background:#dee2e6; }
.check { list-style:none; padding:0; margin:0; background:#fff; border:1px solid var(--line);
  border-radius:10px; }
.check li { padding:8px 14px; border-bottom:1px solid var(--line); } .check li:last-child { border-bottom:0; }
.mark { display:inline-block; width:44px; text-align:center; font-size:11px; font-weight:bold; color:#fff;
  border-radius:4px; margin-right:10px; }
.mark.ok { background:var(--ok); } .mark.bad { background:var(--bad); }
.alert { background:#fff5f5; border:1px solid #ffc9c9; border-left:5px solid var(--bad); border-radius:8px;
  padding:10px 16px; }
pre.log { background:#fff; border:1px solid var(--line); border-radius:10px; padding:10px 14px;
  max-height:420px; overflow:auto; font-size:12px; white-space:pre-wrap; }
details summary { cursor:pointer; font-weight:600; margin:20px 0 8px; font-size:16px; }
footer { color:var(--muted); font-size:12px; margin-top:30px; }
"""


def _e(value: Any) -> str:
    return escape("" if value is None else str(value), quote=True)


def _figure_div(fig: Any, div_id: str) -> str:
    height = int(fig.layout.height or 320)
    body = pio.to_html(fig, full_html=False, include_plotlyjs=False, config=PLOT_CONFIG, div_id=div_id,
                       default_width="100%", default_height=f"{height}px", validate=True)
    return f'<div class="panel fig" id="{div_id}-panel">{body}</div>'


def _header(v: RunView, evs: Sequence[LedgerEvent], plan: Plan | None) -> str:
    ended = rd.ended_event(v)
    status = ended.status if ended is not None else "running"
    code = ended.exit_code if ended is not None else None
    spans = rd.stage_spans(v)
    t0 = v.started.t0_at
    when = "-"
    if t0:
        t0_at = datetime.fromisoformat(str(t0))
        local = t0_at.astimezone(ZoneInfo(v.plan.market.timezone))
        when = f"{ts(t0_at)} ({local:%Y-%m-%d %H:%M} {v.plan.market.timezone})"
    done = sum(1 for s in spans if s.outcome == "complete")
    stage_end = max((s.end_s for s in spans), default=0.0)
    stage_start = min((s.start_s for s in spans), default=0.0)
    cards = [
        (f"{done}/{len(v.plan.stages)}", "stages completed"),
        (f"{spans[-1].weight:g}%" if spans else "0%", "last stage weight"),
        (str(len(v.of_kind(et.RollbackStarted))), "rollbacks"),
        (str(len(v.of_kind(et.HoldStarted))), "holds"),
        (str(len(v.decisions("stage"))), "stage decisions"),
        (f"{round((stage_end - stage_start) / 60)} min", "T0 to end of stages"),
        (str(len(v.decisions("first_night"))), "first-night check-ins"),
    ]
    card_html = "".join(f'<div class="card"><b>{_e(a)}</b><span>{_e(b)}</span></div>' for a, b in cards)
    status_text = _e(status.replace("_", " ").upper())
    badge = f'<span class="badge {STATUS_CLASS.get(status, "info")}">{status_text}</span>'
    exit_text = f" · exit {_e(code)}" if code is not None else ""
    return (
        f'<header class="top"><h1>{_e(v.version)} · {_e(v.plan.release.service)} canary report{badge}</h1>'
        f'<div class="sub">release {_e(v.plan.release.name)} · run <span class="mono">{_e(v.run_id)}</span>'
        f"{exit_text} · T0 {_e(when)}</div>"
        f'<div class="oneliner">{_e(oneliner(evs, plan))}</div>'
        + ("" if ended is None else f'<div class="sub">Ended: {_e(ended.reason)}</div>')
        + f'<div class="cards">{card_html}</div></header>'
    )


def _legend() -> str:
    items = [(figs.CANARY, "canary"), (figs.BASELINE, "baseline"), (figs.THRESHOLD, "threshold (dashed)"),
             (figs.BANDS[0], "stage band"), (figs.HOLD, "hold"), (figs.ROLLBACK, "rollback")]
    marks = "".join(f'<i style="background:{c}"></i>{_e(t)}' for c, t in items)
    return (f'<p class="legend">{marks}. Dots mark the ticks a gate did not pass (SUSPECT, TREND, SHARED: '
            "seen on the baseline too, FAIL, NODATA). Hover for values and reasons.</p>")


def _head(*columns: str) -> str:
    """A table's header row; a column named "#..." is numeric (right-aligned)."""
    cells = "".join(f"<th class=num>{_e(c[1:])}</th>" if c.startswith("#") else f"<th>{_e(c)}</th>"
                    for c in columns)
    return f"<tr>{cells}</tr>"


def _stages_table(v: RunView) -> str:
    rows = []
    for s in rd.stage_spans(v):
        passing = "-" if s.passing is None else f"{s.passing}/{s.gates}"
        rows.append(
            f"<tr><td>Stage {s.n}</td><td class=num>{s.weight:g}%</td><td>{_e(rd.label(s.start_s))}</td>"
            f"<td>{_e(rd.label(s.end_s))}</td><td class=num>{round(s.duration_s / 60)} / "
            f"{round(s.planned_s / 60)} min</td><td class=num>{s.ticks}</td><td class=num>{s.holds}</td>"
            f"<td class=num>{passing}</td><td>{_e(s.outcome)}</td></tr>")
    if not rows:
        return '<p class="sub">No stage started.</p>'
    head = _head("stage", "#weight", "start", "end", "#took / planned", "#ticks", "#holds", "#gates at end",
                 "outcome")
    return f'<div class="tablebox"><table>{head}{"".join(rows)}</table></div>'


def _rollback_box(v: RunView) -> str:
    rb = rd.rollback(v)
    if rb is None:
        return ""
    seen = "" if rb.first_seen_s is None else f" First seen {_e(rd.label(rb.first_seen_s))};"
    zero = ("traffic never read back 0 %" if rb.zero_s is None else
            f"the router read back 0 % at {_e(rd.label(rb.zero_s))} after {rb.attempts} attempt(s)")
    stage = "first night" if rb.trigger == "first_night" else f"stage {(rb.stage or 0) + 1}"
    reasons = "".join(f"<li>{_e(r)}</li>" for r in rb.reasons)
    return (f'<h2>Rollback</h2><div class="alert"><b>Rolled back at {_e(rd.label(rb.t_s))}</b> ({_e(stage)}, '
            f"{rb.weight or 0:g}% on the canary, trigger: {_e(rb.trigger)}): {_e(rb.summary)}.{seen} {zero}."
            + (f'<p class="why">Why: {_e(rb.sentence)}</p>' if rb.sentence else "")
            + f"<ul>{reasons}</ul></div>")


def _chips(verdicts: Iterable[VerdictRecord]) -> str:
    return "".join(f'<span class="chip {_e(x.verdict)}">{_e(x.metric)} {_e(x.verdict)}'
                   "</span>" for x in verdicts if x.verdict != "PASS")


def decision_rows(v: RunView) -> list[dict[str, Any]]:
    """The decision table's rows: one per decision event."""
    rows = []
    for e in v.of_kind(et.DecisionMade):
        rows.append({
            "label": e.label or v.label(e), "phase": e.phase, "trigger": e.trigger,
            "stage": "night" if e.phase == "first_night" else "-" if e.stage is None else e.stage + 1,
            "weight": e.weight, "action": e.action, "passing": e.passing,
            "gates": e.gates, "verdicts": list(e.verdicts), "reasons": list(e.reasons),
            "sentence": e.sentence,
        })
    return rows


def _decision_table(v: RunView) -> str:
    body = []
    for r in decision_rows(v):
        weight = "-" if r["weight"] is None else f"{float(r['weight']):g}%"
        trigger = "" if r["trigger"] in (None, "tick") else f' <span class="sub">({_e(r["trigger"])})</span>'
        quiet = r["action"] == "proceed" and not any(x.verdict != "PASS" for x in r["verdicts"])
        body.append(
            f'<tr class="{_e(r["action"])}{" quiet" if quiet else ""}"><td>{_e(r["label"])}{trigger}</td>'
            f'<td class=num>{_e(r["stage"])}</td>'
            f'<td class=num>{_e(weight)}</td><td class="act {_e(r["action"])}">{_e(r["action"])}</td>'
            f'<td class=num>{_e(r["passing"])}/{_e(r["gates"])}</td><td>{_chips(r["verdicts"])}'
            + (f"{_e(r['sentence'])}<div class=sub>{_e(reasons_text(r['reasons'], 2))}</div>" if r["sentence"]
               else _e(reasons_text(r["reasons"], 2)))
            + "</td></tr>")
    if not body:
        return '<p class="sub">No decision was recorded.</p>'
    columns = _head("tick", "#stage", "#weight", "action", "#passing", "gates not passing · reasons")
    head = f"<thead>{columns}</thead>"
    toggle = ('<label class="sub"><input type="checkbox" id="only-notable" onchange="document.'
              "getElementById('decisions').classList.toggle('notable', this.checked)\"> only holds, "
              "rollbacks and ticks with a gate not passing</label>")
    table = f'<table id="decisions">{head}<tbody>{"".join(body)}</tbody></table>'
    return f'{toggle}<div class="scroll">{table}</div>'


def _checklist(criteria: Sequence[checklist.Criterion]) -> str:
    items = "".join(
        f'<li><span class="mark {"ok" if c.passed else "bad"}">'
        f'{"PASS" if c.passed else "PENDING" if c.pending else "FAIL"}</span>'
        f"<b>{_e(c.name)}</b> <span class=\"sub\">{_e(c.detail)}</span></li>" for c in criteria)
    met = sum(1 for c in criteria if c.passed)
    total = f"<li><b>{met}/{len(criteria)} criteria met: {checklist.verdict(criteria)}</b></li>"
    return f'<ul class="check" id="checklist">{items}{total}</ul>'


def _feedback(v: RunView) -> str:
    """What users said during the first night (`runofshow feedback`), when anybody said anything."""
    lines = feedback_lines(v)
    if not lines:
        return ""
    items = "".join(f"<li>{_e(line)}</li>" for line in lines)
    return f'<h2>User feedback ({len(lines)})</h2><ul id="feedback">{items}</ul>'


def render_report(events: Iterable[LedgerEvent], plan: Plan | None = None, *,
                  evidence_files: int | None = None) -> str:
    evs = sorted(events, key=lambda e: e.seq)
    v = RunView.of(evs, plan)
    criteria = checklist.evaluate(run_facts(v, evidence_files))
    gate_divs = "".join(_figure_div(figs.gate_figure(v, name), f"gate-{name}") for name in v.plan.gates)
    night_figs = ((figs.first_night_figure(v), "fig-first-night"), (figs.burn_figure(v), "fig-burn"))
    night = [_figure_div(fig, div_id) for fig, div_id in night_figs if fig is not None]
    night_html = f'<h2>First night</h2><div class="grid">{"".join(night)}</div>' if night else ""
    log = "\n".join(war_room_lines(v))
    last = evs[-1] if evs else None
    footer = (f"Rebuilt from {len(evs)} ledger events of run {_e(v.run_id)}"
              + (f"; last event #{last.seq} ({_e(last.kind)}) at {_e(ts(last.at))}, hash "
                 f'<span class="mono">{_e(last.hash[:16])}</span>' if last is not None else "")
              + f". Engine: {_e(v.started.engine or '-')}. Made by runofshow report.")
    title = f"{v.version} {v.plan.release.service} canary report"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_e(title)}</title>
<style>{CSS}</style>
<script type="text/javascript">{get_plotlyjs()}</script>
</head><body><main>
{_header(v, evs, plan)}
<h2>Traffic and decisions</h2>
{_figure_div(figs.weight_figure(v), "fig-weight")}
<h2>Gate metrics: canary vs baseline</h2>
{_legend()}
<div class="grid" id="gates">{gate_divs}</div>
{night_html}
<h2>Stages</h2>
{_stages_table(v)}
{_rollback_box(v)}
<h2>Decisions ({len(v.of_kind(et.DecisionMade))})</h2>
{_decision_table(v)}
<h2>Success checklist</h2>
{_checklist(criteria)}{_feedback(v)}
<details><summary>War-room log ({len(war_room_lines(v))} lines)</summary>
<pre class="log">{_e(log)}</pre></details>
<footer>{footer}</footer>
</main></body></html>
"""


def write_report(events: Iterable[LedgerEvent], plan: Plan | None, path: str | Path, *,
                 evidence_files: int | None = None) -> Path:
    """Write the report to `path` (atomically) and return it. `plan=None`: the plan in run_started."""
    return atomic_write_text(path, render_report(events, plan, evidence_files=evidence_files))


__all__ = ["decision_rows", "render_report", "write_report"]
