"""The web app's Prometheus metrics, in a registry of its own (one per app: tests build many).

runofshow_web_runs{status}                    runs in the ledger by status (read at scrape time)
runofshow_web_decisions_total{action,outcome} decisions asked through the web (accepted, refused)
runofshow_web_notes_total                     parking-lot notes written through the web
runofshow_web_refusals_total{code}            requests refused for want of identity (401) or role (403)
runofshow_web_sse_clients                     event streams open now
runofshow_web_request_seconds{method,route}   request latency
"""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from runofshow.ports import Ledger


class _RunsByStatus(Collector):
    def __init__(self, ledger: Ledger) -> None:
        self._ledger = ledger

    def collect(self) -> Iterator[Any]:
        family = GaugeMetricFamily("runofshow_web_runs", "Runs in the ledger by status", labels=["status"])
        for status, n in sorted(Tally(r.status for r in self._ledger.runs()).items()):
            family.add_metric([status], n)
        yield family


class WebMetrics:
    def __init__(self, ledger: Ledger) -> None:
        self.registry = CollectorRegistry()
        self.registry.register(_RunsByStatus(ledger))
        self.decisions = Counter(
            "runofshow_web_decisions",
            "Decisions asked through the web",
            ["action", "outcome"],
            registry=self.registry,
        )
        self.notes = Counter(
            "runofshow_web_notes", "Parking-lot notes written through the web", registry=self.registry
        )
        self.refusals = Counter(
            "runofshow_web_refusals",
            "Requests refused (401 no identity, 403 role)",
            ["code"],
            registry=self.registry,
        )
        self.sse_clients = Gauge(
            "runofshow_web_sse_clients", "Event streams open now", registry=self.registry
        )
        self.latency = Histogram(
            "runofshow_web_request_seconds",
            "Request latency",
            ["method", "route"],
            registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
        )


__all__ = ["WebMetrics"]
