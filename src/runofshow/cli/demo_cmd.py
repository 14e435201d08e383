"""`runofshow demo`: the whole run-of-show against local sample services, with a Rich live view."""

import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from runofshow.app.run.event_parts import VerdictRecord
    from runofshow.app.run.runner import Runner
    from runofshow.app.run.state import RunState
    from runofshow.ports import LedgerEvent

_BADGE = {"PASS": "[green]PASS[/]", "HOLD": "[yellow]HOLD[/]", "FAIL": "[bold red]FAIL[/]"}
_HOLDING = {"NODATA", "TREND", "SUSPECT", "SHARED"}


class DemoView:
    """What the live view shows, kept up to date from ledger events (any thread)."""

    def __init__(self, title: str, source: str) -> None:
        self.title, self.source = title, source
        self.runner: Runner | None = None
        self._lock = threading.Lock()
        self.verdicts: list[VerdictRecord] = []
        self.last_line = ""
        self.action = ""
        self.stage_started: dict[int, float] = {}
        self.stage_done: set[int] = set()
        self.first_night_started: float | None = None
        self.ended = ""
        self.lines: list[str] = []

    def on_event(self, event: "LedgerEvent", state: "RunState") -> None:
        from runofshow.app.run import event_types as et
        from runofshow.app.run import minutes
        e = et.parse(event)
        with self._lock:
            match e:
                case et.DecisionMade():
                    self.verdicts, self.action = list(e.verdicts), e.action
                case et.WarRoom():
                    self.last_line = minutes.line(e.to_payload())
                    self.lines.append(self.last_line)
                case et.StepStarted(step_kind="stage", stage=int(stage)):
                    self.stage_started[stage] = e.t_s or 0.0
                case et.StepCompleted(step_kind="stage", stage=int(stage)):
                    self.stage_done.add(stage)
                case et.StepStarted(step_kind="first_night"):
                    self.first_night_started = e.t_s or 0.0
                case et.RunEnded():
                    self.ended = f"{e.status} (exit {e.exit_code})"

    def __rich__(self) -> Any:
        from rich.console import Group
        from rich.panel import Panel
        from rich.progress_bar import ProgressBar
        from rich.table import Table

        from runofshow.cli.views import label

        runner = self.runner
        if runner is None:
            return Panel("starting ...", title=self.title)
        s, plan = runner.state, runner.plan
        t_s = runner.t_s()
        weight = "-" if s.weight is None else f"{s.weight:g}%"
        stage = "-" if s.stage is None else f"{s.stage + 1}/{len(plan.stages)}"
        phase = s.phase.value if s.phase else ("pre-T0" if s.stage is None else "")
        head = (f"[bold]{label(t_s)}[/]  stage {stage}  weight [bold]{weight}[/]  {phase}  "
                f"status {s.status.value}{'  ' + self.ended if self.ended else ''}")
        with self._lock:
            verdicts, line, action = list(self.verdicts), self.last_line, self.action
            started, done, night = dict(self.stage_started), set(self.stage_done), self.first_night_started
        metrics = Table("metric", "canary", "baseline", "verdict", expand=True, box=None)
        for v in verdicts:
            badge = "PASS" if v.verdict == "PASS" else ("FAIL" if v.verdict == "FAIL" else "HOLD")
            metrics.add_row(v.metric, _num(v.canary), _num(v.baseline), _BADGE[badge])
        bars = Table(box=None, expand=True, show_header=False)
        bars.add_column(width=14)
        bars.add_column(ratio=1)
        for i, st in enumerate(plan.stages):
            frac = 0.0
            if i in done:
                frac = 1.0
            elif i in started:
                frac = min(1.0, max(0.0, (t_s - started[i]) / (st.hold_min * 60)))
            bars.add_row(f"Stage {i + 1} {st.weight:g}%", ProgressBar(total=1.0, completed=frac))
        night_s = plan.timeline.first_night_h * 3600
        night_frac = 0.0 if night is None or not night_s else min(1.0, (t_s - night) / night_s)
        bars.add_row(f"First night {plan.timeline.first_night_h:g}h",
                     ProgressBar(total=1.0, completed=night_frac))
        return Panel(Group(head, f"[dim]{self.source}[/]", bars, metrics,
                           f"decision: {action or '-'}", f"war room: {line}"), title=self.title)


def _num(value: Any) -> str:
    return "-" if value is None else f"{float(value):.3g}"


def _kit() -> Any:
    from runofshow.demo import load, prometheus_config, services
    from runofshow.demo.orchestration import DemoKit
    from runofshow.demo.sink import WebhookSink

    # WebSocket lag around 8 s, as in the seed's war-room lines (ws=8s): the walk's noise is then
    # small next to its level, as it is over the minute-long ticks of a real run. A pool of 1000
    # with 60 held by background jobs: one service per track carries its whole share of the load,
    # so at 100 % the canary's in-flight requests would otherwise dwarf an idle baseline's pool
    # (real pods scale with their share); the leak still passes 80 % in about 40 s. Idempotency
    # conflicts come from the load's reused keys only: at a tick a second a track sees a handful
    # of orders, and a rare event counted in ones is noise the judge should not have to carry.
    behaviour = services.Behaviour(ws_lag_mean_s=8.0, pool_max=1000, pool_floor=60, leak_per_s=17.5,
                                   intrinsic_conflict=0.0)
    return DemoKit(
        service=lambda version, track, port=0, seed=0: services.SampleService(
            version, track, port=port, seed=seed, behaviour=behaviour),
        load=lambda url, rate, seed, max_duration_s: load.LoadGenerator(url, rate, seed,
                                                                        max_duration_s=max_duration_s),
        prometheus_yml=prometheus_config.prometheus_yml, alert_rules_yml=prometheus_config.alert_rules_yml,
        alertmanager_yml=prometheus_config.alertmanager_yml,
        webhook_sink=lambda log_path, port=0: WebhookSink(log_path, port=port),
    )


FaultOpt = Annotated[str, typer.Option(
    "--fault", help="regression injected into the canary mid-run: latency, errors, leak, alert, none")]
OutOpt = Annotated[Path, typer.Option("--out", help="folder for the plan, ledger, evidence and logs")]
StateOpt = Annotated[str | None, typer.Option("--state", help="ledger URL (default: <out>/runofshow.db)")]
ResumeOpt = Annotated[str | None, typer.Option(
    "--resume", metavar="RUN_ID", help="continue an earlier demo run")]
SpeedOpt = Annotated[float, typer.Option(
    "--speed", min=1.0, help="compression of the canary stages (60: T0 .. T+90 in 90 s)")]
NightOpt = Annotated[float, typer.Option(
    "--night-speed", min=1.0, help="compression before T0 and of the first night (3600: 24 h in 24 s)")]
NoPromOpt = Annotated[bool, typer.Option(
    "--no-prometheus", help="use the services' /metrics.json even when Prometheus is on PATH")]
NoFreezeOpt = Annotated[bool, typer.Option(
    "--no-freeze", help="skip the freeze steps (the demo's in-memory pull requests); recorded as skipped")]


def demo(
    fault: FaultOpt = "none",
    out: OutOpt = Path("demo-out"),
    state: StateOpt = None,
    resume: ResumeOpt = None,
    speed: SpeedOpt = 60.0,
    night_speed: NightOpt = 3600.0,
    no_prometheus: NoPromOpt = False,
    no_serve: Annotated[bool, typer.Option(
        "--no-serve", help="leave out the war room on the web (runofshow serve on 127.0.0.1:8700)")] = False,
    no_freeze: NoFreezeOpt = False,
) -> int:
    """Run a compressed canary (T-30 .. T+24h) against local sample services, with a live view.

    Starts stable v1.3.9 and canary v1.4.0 services, the local proxy, a steady load, a local
    webhook sink (the notification channel and Grafana annotations) and, when `prometheus` and
    `prometheus-alertmanager` are on PATH, a real Prometheus + Alertmanager (otherwise the services'
    /metrics.json, said on screen). The whole ritual runs by itself: freeze, war room, preflight,
    blast radius, stages, first night, then the evidence bundle in <out>/evidence, the report and
    the success checklist. About two minutes by default.

    Example: runofshow demo --fault errors   (rolls back by itself: exit 3)

    Exit codes: 0 promoted, 3 rolled back, 4 halted or paused, 2 bad input, 1 unexpected error.
    """
    from rich.console import Console
    from rich.live import Live

    from runofshow.cli.closeout import both, finish
    from runofshow.cli.exit_codes import ExitCode
    from runofshow.cli.run_cmd import ask_on_interrupt, interrupts_to
    from runofshow.demo.orchestration import DemoOptions, DemoSession
    from runofshow.reports.evidence_live import LiveEvidence

    console = Console()
    live_ok = console.is_terminal
    options = DemoOptions(out_dir=out, fault=fault, speed=speed, night_speed=night_speed, state_url=state,
                          resume=resume, use_prometheus=not no_prometheus, no_freeze=no_freeze)
    view = DemoView(f"runofshow demo  fault={fault}  speed {speed:g}x (night {night_speed:g}x)", "")

    def on_event(event: "LedgerEvent", st: "RunState") -> None:
        view.on_event(event, st)
        if not live_ok and event.kind == "war_room":
            print(view.last_line, flush=True)

    evidence = LiveEvidence()  # <out>/evidence, the plan's evidence folder

    def on_term(signum: int, frame: Any) -> None:  # while starting up: stop what was started
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    if not no_serve:  # its imports take a few wall seconds: before the run's clock starts, not after
        import uvicorn  # noqa: F401

        import runofshow.web  # noqa: F401
    started = time.monotonic()
    with DemoSession(options, _kit(), on_event=both(on_event, evidence.on_event),
                     on_interrupt=ask_on_interrupt) as session:
        runner = session.runner
        assert runner is not None
        evidence.attach(runner.ports.ledger)
        view.runner, view.source = runner, session.source
        print(session.source, flush=True)
        for note in session.notes:
            print(note, flush=True)
        print(f"run {runner.state.run_id}: plan {session.out / 'plan.yaml'}", flush=True)
        stop_web = _serve(runner) if not no_serve else None
        with interrupts_to(runner):
            if live_ok:
                with Live(view, console=console, refresh_per_second=8, transient=False):
                    status = runner.run()
            else:
                status = runner.run()
        code = ExitCode.of(status)
        s = runner.state
        print(f"run {s.run_id}: {s.status.value} (exit {code}) in {time.monotonic() - started:.1f} s"
              + (f": {s.end_reason}" if s.end_reason else ""), flush=True)
        finish(runner)
        if stop_web is not None:
            stop_web()
        if session.sink is not None:
            print(f"notifications: {len(session.sink.received)} delivered to the local webhook sink "
                  f"({session.out / 'notifications.jsonl'})", flush=True)
        if session.comms.lines:
            from runofshow.demo.comms import milestones

            print(f"communications: {len(session.comms.lines)} calls ({session.comms.path}): "
                  + "; ".join(milestones(session.comms.lines)), flush=True)
    where = state or f"sqlite:///{session.out / 'runofshow.db'}"
    print(f"events: runofshow events {s.run_id} --state {where}", flush=True)
    return int(code)


def _serve(runner: "Runner") -> Callable[[], None]:
    """The war room on the web beside the demo run, with a demo IC token (printed once). It starts in
    the background: the run's clock is already going, and T-30 must not wait for a web server."""
    import threading

    from runofshow.cli.serve_cmd import serve_beside

    stops: list[Callable[[], None]] = []

    def start() -> None:
        try:
            url, token, stop = serve_beside(runner.ports.ledger, runner.plan)
        except Exception as err:  # the run goes on without its web page
            print(f"war room on the web not started: {type(err).__name__}: {err}", flush=True)
            return
        stops.append(stop)
        ic = runner.plan.war_room.incident_commanders[0]
        print(f"war room: {url}runs/{runner.state.run_id} (log in as {ic}, IC, with the demo token {token})",
              flush=True)

    starting = threading.Thread(target=start, name="war-room-web-start", daemon=True)
    starting.start()

    def stop_all() -> None:
        starting.join(20)
        for stop in stops:
            stop()

    return stop_all


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)


__all__ = ["DemoView", "register"]
