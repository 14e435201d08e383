"""The HTML report's plotly figures, built from a run's events (`RunView`). Pure: no I/O.

    weight_figure(v)        canary weight read back over plan minutes, each decision a dot coloured
                            by its action, stage bands, holds, the rollback
    gate_figure(v, name)    one gate: canary and baseline over plan minutes, the threshold, the
                            verdicts that were not PASS, stage bands, holds, the rollback
    first_night_figure(v)   every gate's canary value as % of its threshold, hour by hour after
                            promotion (None when the first night never started)
    burn_figure(v)          the first night's SLO burn rate per window against the 24 h limit

The x axis is minutes since T0 for the stages (the first night has hours since promotion: 24 h
would squash the 90 minutes of stages into a sliver).
"""

from __future__ import annotations

import plotly.graph_objects as go
import plotly.io as pio

from runofshow.app.run import event_types as et
from runofshow.domain.rules import Direction
from runofshow.reports import report_data as rd
from runofshow.reports.evidence_render import RunView, value_text

# plotly writes figures with orjson when it is installed (the ledger reads with it), and its numbers
# then come out differently: the report's bytes, pinned by evidence hashes, must not depend on that
pio.json.config.default_engine = "json"

CANARY = "#e8590c"
BASELINE = "#1c7ed6"
THRESHOLD = "#c92a2a"
ROLLBACK = "#e03131"
HOLD = "#fcc419"
BANDS = ("#e7f5ff", "#f3f0ff", "#e6fcf5", "#fff4e6", "#f8f0fc", "#ebfbee")
ACTION_COLOURS = {"proceed": "#2f9e44", "hold": "#f59f00", "rollback": "#e03131"}
VERDICT_COLOURS = {"NODATA": "#868e96", "SHARED": "#7048e8", "TREND": "#fab005", "SUSPECT": "#f76707",
                   "FAIL": "#e03131"}
FONT = "DejaVu Sans, Liberation Sans, Helvetica, Arial, sans-serif"
GATE_HEIGHT, WEIGHT_HEIGHT, NIGHT_HEIGHT = 330, 270, 330
BOTTOM = 58  # px below the plot: tick labels, then the legend's row


def plain(text: str) -> str:
    """Ledger text for plotly's hover labels, which read a few HTML tags: shown as typed, never as markup."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _layout(fig: go.Figure, title: str, height: int, x_title: str) -> None:
    fig.update_layout(
        title={"text": title, "x": 0.012, "xanchor": "left", "y": 0.975, "yanchor": "top",
               "yref": "container", "font": {"size": 15}},
        height=height, margin={"l": 64, "r": 24, "t": 72, "b": BOTTOM}, template="plotly_white",
        font={"family": FONT, "size": 12, "color": "#212529"}, hovermode="x unified",
        legend={"orientation": "h", "x": 1, "xanchor": "right", "y": 0.015, "yanchor": "bottom",
                "yref": "container", "font": {"size": 11}, "bgcolor": "rgba(255,255,255,0)"},
        xaxis={"zeroline": False, "showline": True, "linecolor": "#adb5bd", "gridcolor": "#f1f3f5"},
        yaxis={"zeroline": False, "showline": True, "linecolor": "#adb5bd", "gridcolor": "#f1f3f5"},
    )
    # the x axis' title sits bottom left, on the legend's row (annotations cannot use container refs)
    fig.add_annotation(text=x_title, x=0, xref="paper", xanchor="left", y=0, yref="paper", yanchor="bottom",
                       yshift=-(BOTTOM - 8), showarrow=False, font={"size": 11, "color": "#6c757d"})


def stage_range(v: RunView) -> tuple[float, float]:
    """The x range of the stage figures, in minutes: a little before T0 to a little after the end
    of the stages (promotion, rollback or the last stage decision); after a rollback, room right of
    it for its label and the weight back at 0."""
    spans = rd.stage_spans(v)
    ends = [s.end_s for s in spans] + [rd.t_of(e) or 0.0 for e in v.decisions("stage")]
    rb = rd.rollback(v)
    if rb is not None and rb.trigger != "first_night":
        ends.append(rb.zero_s if rb.zero_s is not None else rb.t_s)
    end = rd.minutes(max(ends, default=v.plan.stages[0].hold_min * 60 if v.plan.stages else 900.0))
    start = -2.0
    pad = max(3.0, 0.2 * (end - start)) if rb is not None and rb.trigger != "first_night" else 3.0
    return start, end + pad


def _marks(fig: go.Figure, v: RunView) -> None:
    """Stage bands (labelled above the plot), holds and the rollback, behind the data."""
    for i, s in enumerate(rd.stage_spans(v)):
        fig.add_vrect(x0=rd.minutes(s.start_s), x1=rd.minutes(s.end_s), fillcolor=BANDS[i % len(BANDS)],
                      opacity=1.0, layer="below", line_width=0)
        fig.add_annotation(x=(rd.minutes(s.start_s) + rd.minutes(s.end_s)) / 2, y=1.0, yref="paper",
                           yanchor="bottom", text=f"S{s.n} · {s.weight:g}%", showarrow=False,
                           font={"size": 11, "color": "#495057"})
    for h in rd.hold_intervals(v):
        fig.add_vrect(x0=rd.minutes(h.start_s), x1=max(rd.minutes(h.end_s), rd.minutes(h.start_s) + 0.3),
                      fillcolor=HOLD, opacity=0.35, layer="below", line_width=0)
        fig.add_annotation(x=rd.minutes(h.start_s), y=0.02, yref="paper", xanchor="left", yanchor="bottom",
                           text=f"hold {h.n}", showarrow=False, font={"size": 10, "color": "#8a5a00"},
                           bgcolor="rgba(255,255,255,0.7)")
    rb = rd.rollback(v)
    if rb is not None and rb.trigger != "first_night":
        fig.add_vline(x=rd.minutes(rb.t_s), line={"color": ROLLBACK, "width": 2.5})
        fig.add_annotation(x=rd.minutes(rb.t_s), y=0.97, yref="paper", xanchor="left", yanchor="top",
                           xshift=6, text=f"<b>ROLLBACK</b><br>{rd.label(rb.t_s)}", align="left",
                           showarrow=False, font={"size": 11, "color": ROLLBACK},
                           bgcolor="rgba(255,255,255,0.9)")
    for e in v.of_kind(et.AlertReceived):
        fig.add_vline(x=rd.minutes(rd.t_of(e)), line={"color": "#7048e8", "width": 1.5, "dash": "dot"})


def weight_figure(v: RunView) -> go.Figure:
    fig = go.Figure()
    steps = rd.weight_steps(v)
    x0, x1 = stage_range(v)
    xs = [rd.minutes(t) for t, _ in steps] + [x1]
    ys = [w for _, w in steps] + [steps[-1][1]]
    fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", line={"shape": "hv", "color": "#343a40", "width": 2.5},
                             name="canary weight (read back)", hovertemplate="%{y:g}%<extra>weight</extra>"))
    by_action: dict[str, list[tuple[float, float, str]]] = {}
    for e in v.decisions("stage"):
        by_action.setdefault(e.action, []).append(
            (rd.minutes(rd.t_of(e)), e.weight,
             f"{e.label}: {e.passing}/{e.gates} pass · {(e.reasons or ('',))[0]}"))
    for action in ("proceed", "hold", "rollback"):
        pts = by_action.get(action, [])
        if pts:
            fig.add_trace(go.Scatter(
                x=[p[0] for p in pts], y=[p[1] for p in pts], mode="markers", name=f"decision: {action}",
                marker={"color": ACTION_COLOURS[action], "size": 6 if action == "proceed" else 10,
                        "symbol": "circle" if action == "proceed" else "diamond",
                        "line": {"width": 0.5, "color": "white"}},
                customdata=[plain(p[2][:140]) for p in pts], hovertemplate="%{customdata}<extra></extra>"))
    _marks(fig, v)
    _layout(fig, "Canary traffic weight and the decision at every tick", WEIGHT_HEIGHT, "minutes since T0")
    top = max([w for _, w in steps] + [1.0])
    fig.update_yaxes(title={"text": "canary weight %", "font": {"size": 11}}, range=[-top * 0.06, top * 1.12])
    fig.update_xaxes(range=[x0, x1], dtick=15)
    fig.update_layout(hovermode="closest")
    return fig


def _limit_text(v: RunView, name: str) -> str:
    gate = v.plan.gates[name]
    sign = "≤" if gate.direction is Direction.LOWER_IS_BETTER else "≥"
    return f"{sign} {value_text(gate.threshold, gate.unit)}"


def gate_figure(v: RunView, name: str) -> go.Figure:
    gate = v.plan.gates[name]
    s = rd.gate_series(v, name)
    fig = go.Figure()
    unit = gate.unit or ""
    tracks = (("baseline", s.baseline, BASELINE, 1.8), ("canary", s.canary, CANARY, 2.4))
    for track, values, colour, width in tracks:
        fig.add_trace(go.Scatter(
            x=s.t_min, y=values, mode="lines", name=track, connectgaps=False,
            line={"color": colour, "width": width},
            customdata=[[lab, verdict] for lab, verdict in zip(s.labels, s.verdicts, strict=True)],
            hovertemplate=f"%{{customdata[0]}}: %{{y:.4g}} {unit} (%{{customdata[1]}})"
                          f"<extra>{track}</extra>"))
    for verdict, colour in VERDICT_COLOURS.items():
        idx = [i for i, x in enumerate(s.verdicts) if x == verdict]
        if not idx:
            continue
        ys = [s.canary[i] if s.canary[i] is not None else 0.0 for i in idx]
        fig.add_trace(go.Scatter(
            x=[s.t_min[i] for i in idx], y=ys, mode="markers", name=verdict,
            marker={"color": colour, "size": 9, "symbol": "x" if verdict == "NODATA" else "circle",
                    "line": {"width": 1, "color": "white"}},
            customdata=[plain(f"{s.labels[i]} {verdict}: {s.reasons[i][:160]}") for i in idx],
            hovertemplate="%{customdata}<extra></extra>"))
    fig.add_hline(y=gate.threshold, line={"color": THRESHOLD, "width": 1.6, "dash": "dash"})
    fig.add_annotation(x=0.005, xref="paper", xanchor="left", y=gate.threshold, yanchor="bottom",
                       text=f"threshold {_limit_text(v, name)}", showarrow=False,
                       font={"size": 10, "color": THRESHOLD})
    _marks(fig, v)
    short = f" ({gate.short})" if gate.short else ""
    _layout(fig, f"<b>{name}</b>{short} · gate {_limit_text(v, name)}", GATE_HEIGHT,
            "minutes since T0")
    values = [x for x in (*s.canary, *s.baseline) if x is not None]
    if not s.t_min:
        fig.add_annotation(text="no decision recorded: no stage ran", x=0.5, y=0.5, xref="paper",
                           yref="paper", showarrow=False, font={"size": 13, "color": "#868e96"})
    top = max([gate.threshold * 1.15, *(x * 1.08 for x in values)])
    bottom = min([0.0, *values])
    fig.update_yaxes(title={"text": unit or "value", "font": {"size": 11}}, range=[bottom, top])
    x0, x1 = stage_range(v)
    fig.update_xaxes(range=[x0, x1], dtick=15)
    return fig


def first_night_figure(v: RunView) -> go.Figure | None:
    start = v.step(et.StepStarted, "first_night")
    ticks = v.decisions("first_night")
    if start is None or not ticks:
        return None
    t_start = rd.t_of(start) or 0.0
    fig = go.Figure()
    palette = ("#1c7ed6", "#e8590c", "#2f9e44", "#7048e8", "#c2255c", "#0c8599", "#5c940d", "#862e9c")
    for i, (name, gate) in enumerate(v.plan.gates.items()):
        s = rd.gate_series(v, name, "first_night")
        hours = [(m * 60 - t_start) / 3600 for m in s.t_min]
        share = [None if x is None else 100 * rd.used(gate, x) for x in s.canary]
        fig.add_trace(go.Scatter(
            x=hours, y=share, mode="lines+markers", name=gate.short or name,
            line={"color": palette[i % len(palette)], "width": 2},
            marker={"size": 5}, customdata=[[lab, "n/a" if c is None else value_text(c, gate.unit)]
                                             for lab, c in zip(s.labels, s.canary, strict=True)],
            hovertemplate="%{customdata[1]} (%{y:.0f}% of threshold)<extra>" + name + "</extra>"))
    fig.add_hline(y=100, line={"color": THRESHOLD, "width": 1.6, "dash": "dash"})
    fig.add_annotation(x=1, xref="paper", xanchor="right", y=100, yanchor="bottom", text="threshold",
                       showarrow=False, font={"size": 10, "color": THRESHOLD})
    rb = rd.rollback(v)
    if rb is not None and rb.trigger == "first_night":
        x = (rb.t_s - t_start) / 3600
        fig.add_vline(x=x, line={"color": ROLLBACK, "width": 2.5})
        fig.add_annotation(x=x, y=0.97, yref="paper", xanchor="right", yanchor="top", text="<b>ROLLBACK</b>",
                           showarrow=False, font={"size": 11, "color": ROLLBACK})
    _layout(fig, "First night: each gate's canary value as % of its threshold", NIGHT_HEIGHT,
            "hours since promotion")
    fig.update_yaxes(title={"text": "% of threshold", "font": {"size": 11}}, rangemode="tozero")
    fig.update_layout(hovermode="closest", legend={"y": 1.02})
    return fig


def burn_figure(v: RunView) -> go.Figure | None:
    """The first night's SLO burn rate per window at every check-in, against the 24 h limit
    (None when no check-in recorded a burn rate)."""
    start = v.step(et.StepStarted, "first_night")
    points = [(e, b) for e in v.decisions("first_night") if (b := e.burn_record) is not None]
    if start is None or not points:
        return None
    t_start = rd.t_of(start) or 0.0
    hours = [((rd.t_of(e) or 0.0) - t_start) / 3600 for e, _ in points]
    fig = go.Figure()
    colours = {"1h": "#f08c00", "6h": "#1c7ed6", "24h": "#212529"}
    for window, colour in colours.items():
        ys = [b.windows.get(window) for _, b in points]
        if any(y is not None for y in ys):
            fig.add_trace(go.Scatter(x=hours, y=ys, mode="lines+markers", name=f"burn {window}",
                                     line={"color": colour, "width": 2.6 if window == "24h" else 1.6},
                                     marker={"size": 4},
                                     hovertemplate="%{y:.2f}x<extra>" + window + "</extra>"))
    limit = v.plan.timeline.burn_rate_24h_max
    fig.add_hline(y=limit, line={"color": THRESHOLD, "width": 1.6, "dash": "dash"})
    fig.add_annotation(x=0.005, xref="paper", xanchor="left", y=limit, yanchor="bottom",
                       text=f"24 h limit {limit:g}x", showarrow=False, font={"size": 10, "color": THRESHOLD})
    _layout(fig, f"First night: SLO burn rate ({v.plan.timeline.slo_target_pct:g} % target)", NIGHT_HEIGHT,
            "hours since promotion")
    fig.update_yaxes(title={"text": "burn rate (x budget)", "font": {"size": 11}}, rangemode="tozero")
    fig.update_layout(hovermode="x unified")
    return fig


__all__ = ["burn_figure", "first_night_figure", "gate_figure", "plain", "stage_range", "weight_figure"]
