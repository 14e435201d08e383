"""The ports of one run plus what must be started and stopped around it (webhook receivers,
notification fan-outs, ledgers, adapters with connections): built by `runofshow.app.bootstrap`,
closed in reverse order of opening, as a context manager."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from runofshow.app.run.runner import Runner, RunPorts
from runofshow.domain.tick import Alert
from runofshow.ports import WebhookRefusal

log = logging.getLogger(__name__)


class World:
    """The ports of one run, plus what must be started and stopped around it."""

    def __init__(self, ports: RunPorts) -> None:
        self.ports = ports
        self.webhook: Any = None
        self.fanout: Any = None
        self.comms: Any = None  # the war room's communications (`runofshow.app.bootstrap.comms`)
        self.runner: Runner | None = None
        self._closers: list[Callable[[], None]] = []
        self._t0_targets: list[Any] = []
        self._early_refusals: list[WebhookRefusal] = []  # before a runner is attached (bounded)

    def on_close(self, fn: Callable[[], None]) -> None:
        self._closers.append(fn)

    def _alert(self, alert: Alert) -> None:
        if self.runner is not None:
            self.runner.alert_arrived(alert)

    def _refused(self, refusal: WebhookRefusal) -> None:
        """The alert webhook refused a call: the runner records it (rate-limited)."""
        runner = self.runner
        if runner is not None:
            runner.refusals.take(refusal)
        elif len(self._early_refusals) < 100:
            self._early_refusals.append(refusal)

    def _notify_failed(self, failure: Any) -> None:
        if self.runner is not None:
            self.runner.notify_failed(failure.channel, failure.event, failure.error)

    def _record_later(self, kind: Any, payload: dict[str, Any]) -> None:
        if self.runner is not None:
            self.runner.record_later(kind, payload)

    def attach(self, runner: Runner) -> Runner:
        """Route webhook alerts, refusals and notification failures to `runner`; tell feeds where T0 is."""
        self.runner = runner
        early, self._early_refusals = self._early_refusals, []
        for refusal in early:
            runner.refusals.take(refusal)
        t0_wall = self.ports.clock.to_wall(runner.state.t0_at)
        for target in self._t0_targets:
            target.t0_at = t0_wall
        return runner

    def close(self) -> None:
        for fn in reversed(self._closers):
            try:
                fn()
            except Exception as err:  # closing must go on with the rest
                log.warning("closing %s failed: %s", getattr(fn, "__qualname__", fn), err)
        self._closers.clear()

    def __enter__(self) -> World:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def closer_of(obj: Any) -> Callable[[], None] | None:
    for name in ("close", "stop"):
        fn = getattr(obj, name, None)
        if callable(fn):
            return fn  # type: ignore[no-any-return]
    return None


__all__ = ["World", "closer_of"]
