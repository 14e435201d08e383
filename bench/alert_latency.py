"""Alert-to-zero benchmark: how fast a canary-only error burst takes canary traffic to 0 %.

Real Prometheus and Alertmanager on loopback (scrape and rule evaluation every 1 s, group_wait
0 s), the demo's sample services behind the local proxy under steady load, and the real runner.
When stage 3 (25 %) starts, the canary begins answering 8 % 5xx. Two figures per trial:

    end to end   from the moment the canary's 5xx share crosses the CanaryErrorBurst threshold
                 (over 1 % of the last 5 s, at least 5 errors; measured on the service itself)
                 to the router reading back 0 %                                  target < 3 s
    webhook      from Alertmanager's webhook reaching the runner to the router
                 reading back 0 %                                                 target < 1 s

The decision engine's own comparative rollback is switched off for the trials (a rollback the
engine decides at a tick would race the alert and leave nothing to measure); the alert path is
the one under test. Usage: python bench/alert_latency.py [--trials N] [--out DIR]
"""

from __future__ import annotations

import argparse
import signal
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from runofshow.app.run.policy import exit_code_for
from runofshow.cli.demo_cmd import _kit
from runofshow.demo.orchestration import DemoOptions, DemoSession, prometheus_binaries
from runofshow.domain.decide import decide
from runofshow.domain.tick import Action, Decision

THRESHOLD_PCT, MIN_ERRORS, RULE_WINDOW_S = 1.0, 5, 5.0
TARGET_END_TO_END_S, TARGET_WEBHOOK_S = 3.0, 1.0


def alerts_only(plan: Any, history: Any, now_s: float) -> Decision:
    """The real engine, except that a rollback without an auto-rollback alert is a proceed."""
    d = decide(plan, history, now_s)
    fired = any(a.matches(plan.alert_source.match_labels) for a in history[-1].alerts)
    if d.action is Action.ROLLBACK and not fired:
        return Decision(d.t_s, Action.PROCEED, ("(bench) engine rollback ignored",), d.verdicts, False,
                        d.engine)
    return d


class TimedRouter:
    """The real router, noting when it first reads back 0 % after `armed`."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.armed, self.zero_at = inner, False, None

    def set_weight(self, weight: float) -> None:
        self.inner.set_weight(weight)

    def current_weight(self) -> float:
        w = self.inner.current_weight()
        if self.armed and w == 0 and self.zero_at is None:
            self.zero_at = time.monotonic()
        return w


def watch_crossing(canary: Any, session: DemoSession, out: dict[str, float], stop: threading.Event) -> None:
    """Poll the canary service itself until its 5xx share over the rule's window crosses the rule."""
    while not stop.is_set():
        if session.fault_injected_at is not None:
            snap = canary.snapshot(RULE_WINDOW_S)
            pct, n = snap.get("http_5xx_pct"), snap.get("requests") or 0
            if pct is not None and pct > THRESHOLD_PCT and pct * n / 100 >= MIN_ERRORS:
                out["crossed"] = time.monotonic()
                return
        time.sleep(0.005)


def trial(out_dir: Path) -> tuple[float, float]:
    options = DemoOptions(out_dir=out_dir, fault="errors", scrape_s=1.0, fault_stage=2)
    marks: dict[str, float] = {}
    with DemoSession(options, _kit(), overrides={"decide": alerts_only}) as session:
        runner, world = session.runner, session.world
        assert runner is not None and world is not None and world.webhook is not None
        router = TimedRouter(runner.ports.router)
        runner.ports.router = router
        runner.mover.router = router  # the traffic mover holds the router it was built with
        forward = world.webhook.on_alert

        def on_alert(alert: Any) -> None:
            marks.setdefault("webhook", time.monotonic())
            router.armed = True
            forward(alert)

        world.webhook.on_alert = on_alert
        stop = threading.Event()
        watcher = threading.Thread(target=watch_crossing, args=(session.canary, session, marks, stop),
                                   daemon=True)
        watcher.start()
        try:
            code = exit_code_for(runner.run())
        finally:
            stop.set()
            watcher.join(5)
    if code != 3 or router.zero_at is None or "webhook" not in marks or "crossed" not in marks:
        raise RuntimeError(f"trial did not roll back on the alert (exit {code}, marks {marks})")
    return router.zero_at - marks["crossed"], router.zero_at - marks["webhook"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--out", type=Path, default=None, help="keep each trial's files here")
    args = parser.parse_args()
    def on_term(signum: int, frame: Any) -> None:  # a timeout's SIGTERM: stop what was started
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    if prometheus_binaries() is None:
        print("prometheus and prometheus-alertmanager must be on PATH (scripts/install-services.sh)")
        return 1
    ends, hooks = [], []
    with tempfile.TemporaryDirectory() as tmp:
        base = args.out or Path(tmp)
        for n in range(args.trials):
            end, hook = trial(base / f"trial-{n + 1}")
            ends.append(end)
            hooks.append(hook)
            print(f"trial {n + 1}: threshold crossed -> 0 % read back {end:.3f} s; "
                  f"webhook -> 0 % read back {hook * 1000:.1f} ms", flush=True)
    ok = max(ends) < TARGET_END_TO_END_S and max(hooks) < TARGET_WEBHOOK_S
    print(f"alert to zero over {args.trials} trials "
          "(Prometheus scrape/eval 1 s, Alertmanager group_wait 0 s):")
    print(f"  metric crosses threshold -> router reads back 0 %: median {statistics.median(ends):.3f} s, "
          f"max {max(ends):.3f} s (target < {TARGET_END_TO_END_S:g} s)")
    print(f"  webhook received -> router reads back 0 %: median {statistics.median(hooks) * 1000:.1f} ms, "
          f"max {max(hooks) * 1000:.1f} ms (target < {TARGET_WEBHOOK_S:g} s)")
    print("  " + ("both targets met" if ok else "TARGET MISSED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
