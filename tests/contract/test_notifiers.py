"""Notifier and Annotator contract: the real adapters against a loopback HTTP server answering like
Slack, a generic webhook and Grafana; the in-memory fakes against the same promises; the fan-out
never raises and never blocks the caller."""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler

import pytest

from runofshow.adapters.grafana import GrafanaAnnotator, GrafanaHealth
from runofshow.adapters.memory import RecordingAnnotator, RecordingNotifier
from runofshow.adapters.slack import SlackWebhookNotifier
from runofshow.adapters.webhook import JsonWebhookNotifier
from runofshow.app.run import notify as texts
from runofshow.app.run.notify import DeliveryFailure, NotifierFanout
from runofshow.errors import NotifierError
from runofshow.loopback import LOOPBACK, free_port
from runofshow.ports import Annotator, Notifier
from tests.helpers import TrackedHTTPServer, wait_until

AT = datetime(2024, 10, 24, 10, 15, 0, tzinfo=UTC)
HANG = -1  # a scripted status: hold the request until the test releases it or ends (at most 30 s)


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self):
        return json.loads(self.body)


@dataclass
class Script:
    requests: list[Seen] = field(default_factory=list)
    replies: dict[str, deque] = field(default_factory=dict)
    release: threading.Event = field(default_factory=threading.Event)

    def answer(self, path: str, *replies: tuple[int, str] | tuple[int, str, dict[str, str]]) -> None:
        """Answer `path` with these (status, body[, headers]) in turn; the last one repeats."""
        self.replies[path] = deque(replies)

    def seen(self, path: str) -> list[Seen]:
        return [r for r in self.requests if r.path == path]


def _handler(script: Script) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:  # quiet
            pass

        def _reply(self) -> None:
            size = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(size) if size else b""
            path = self.path.split("?")[0]
            headers = {k.lower(): v for k, v in self.headers.items()}
            script.requests.append(Seen(self.command, path, headers, body))
            queue = script.replies.get(path) or deque([(404, "no_service")])
            reply = queue.popleft() if len(queue) > 1 else queue[0]
            status, text, extra = (*reply, {})[:3] if len(reply) == 2 else reply
            if status == HANG:
                script.release.wait(30)
                status, text = 200, "ok"
            data = text.encode()
            self.send_response(status)
            for k, v in extra.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = _reply

    return Handler


@pytest.fixture
def server() -> Iterator[tuple[str, Script]]:
    script = Script()
    # handler threads are joined at stop: a hung reply the client gave up on is written (to a closed
    # connection, which the server does not report) before the next test starts, not during it
    httpd = TrackedHTTPServer(_handler(script)).start()
    yield f"http://{LOOPBACK}:{httpd.port}", script
    script.release.set()
    httpd.stop()


class Sleeps(list):
    """An injected sleep that only records how long it was asked to wait."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


# --------------------------------------------------------------------------- the contract, on every notifier


def _slack(base: str, script: Script, ok: bool) -> SlackWebhookNotifier:
    script.answer("/services/T0/B0/X", (200, "ok") if ok else (403, "invalid_token"))
    return SlackWebhookNotifier(f"{base}/services/T0/B0/X", sleep=Sleeps())


def _webhook(base: str, script: Script, ok: bool) -> JsonWebhookNotifier:
    script.answer("/hook", (200, "{}") if ok else (400, "bad"))
    return JsonWebhookNotifier(f"{base}/hook", sleep=Sleeps())


def _recording(base: str, script: Script, ok: bool) -> RecordingNotifier:
    return RecordingNotifier(fail=0 if ok else 1)


@pytest.mark.parametrize("make", [_slack, _webhook, _recording], ids=["slack", "webhook", "memory"])
def test_notifier_contract(make, server):
    base, script = server
    good = make(base, script, True)
    assert isinstance(good, Notifier)
    assert good.notify("stage", texts.stage_transition("v1.4.0", 2, 5), {"p95": "142ms"}) is None
    bad = make(base, script, False)
    with pytest.raises(NotifierError) as ex:
        bad.notify("stage", "x")
    assert ex.value.adapter


def _grafana(base: str, script: Script, ok: bool) -> GrafanaAnnotator:
    script.answer("/api/annotations", (200, '{"id":1,"message":"Annotation added"}') if ok
                  else (401, '{"message":"Unauthorized"}'))
    return GrafanaAnnotator(base, "glsa_token", sleep=Sleeps())


def _recording_annotator(base: str, script: Script, ok: bool) -> RecordingAnnotator:
    return RecordingAnnotator(fail=0 if ok else 1)


@pytest.mark.parametrize("make", [_grafana, _recording_annotator], ids=["grafana", "memory"])
def test_annotator_contract(make, server):
    base, script = server
    good = make(base, script, True)
    assert isinstance(good, Annotator)
    assert good.annotate(AT, "Stage 2 (5%) start", ["stage"]) is None
    with pytest.raises(NotifierError):
        make(base, script, False).annotate(AT, "x", [])
    with pytest.raises(ValueError):
        good.annotate(datetime(2024, 10, 24, 10, 15), "naive", [])


# --------------------------------------------------------------------------- Slack


def test_slack_payload_shape(server):
    base, script = server
    script.answer("/services/T0/B0/X", (200, "ok"))
    SlackWebhookNotifier(f"{base}/services/T0/B0/X").notify(
        "freeze_open", texts.freeze_open("v1.4.0"), {"release": "v1.4.0", "prs held": 3})
    (req,) = script.seen("/services/T0/B0/X")
    assert req.method == "POST" and req.headers["content-type"].startswith("application/json")
    body = req.json
    assert body["text"] == "🔒 Freeze window open for v1.4.0 canary"
    assert body["blocks"][0] == {"type": "section", "text": {"type": "mrkdwn", "text": body["text"]}}
    assert body["blocks"][1]["fields"] == [{"type": "mrkdwn", "text": "*release*\nv1.4.0"},
                                           {"type": "mrkdwn", "text": "*prs held*\n3"}]
    assert "freeze_open" in body["blocks"][-1]["elements"][0]["text"]


def test_slack_retries_500_and_429_with_backoff(server):
    base, script = server
    script.answer("/s", (500, "internal_error"), (429, "rate_limited", {"Retry-After": "2"}), (200, "ok"))
    sleeps = Sleeps()
    SlackWebhookNotifier(f"{base}/s", attempts=3, backoff_s=0.25, sleep=sleeps).notify("hold", "x")
    assert len(script.seen("/s")) == 3
    assert sleeps == [0.25, 2.0]  # exponential backoff, then the server's Retry-After


def test_slack_gives_up_after_the_last_attempt_and_does_not_retry_4xx(server):
    base, script = server
    script.answer("/s", (500, "internal_error"))
    sleeps = Sleeps()
    n = SlackWebhookNotifier(f"{base}/s", attempts=3, backoff_s=0.1, sleep=sleeps)
    with pytest.raises(NotifierError, match="gave up after 3 attempts: HTTP 500 internal_error") as ex:
        n.notify("rollback", "x")
    assert len(script.seen("/s")) == 3 and sleeps == [0.1, 0.2]
    assert ex.value.target == f"{base}/..." and "/s" not in str(ex.value)  # the secret path stays out
    script.answer("/t", (400, "invalid_payload"))
    with pytest.raises(NotifierError, match="HTTP 400 invalid_payload"):
        SlackWebhookNotifier(f"{base}/t", sleep=Sleeps()).notify("rollback", "x")
    assert len(script.seen("/t")) == 1


def test_slack_unreachable_is_a_notifier_error():
    with pytest.raises(NotifierError, match="gave up after 2 attempts"):
        SlackWebhookNotifier(f"http://127.0.0.1:{free_port()}/x", attempts=2, sleep=Sleeps()).notify("e", "x")


# --------------------------------------------------------------------------- generic webhook


def test_webhook_payload_shape_and_retry(server):
    base, script = server
    script.answer("/hook", (503, "busy"), (200, '{"ok":true}'))
    sleeps = Sleeps()
    JsonWebhookNotifier(f"{base}/hook", headers={"X-Token": "t"}, backoff_s=0.5, sleep=sleeps).notify(
        "checkin", texts.checkin("v1.4.0", 3, 24, "p95=140ms 5xx=0.1%"), {"at": AT, "hour": 3})
    first, second = script.seen("/hook")
    assert first.json == second.json == {
        "source": "runofshow", "event": "checkin",
        "text": "🌙 v1.4.0 first night check-in 3/24h: p95=140ms 5xx=0.1%",
        "fields": {"at": "2024-10-24 10:15:00+00:00", "hour": 3},
    }
    assert second.headers["x-token"] == "t" and sleeps == [0.5]


def test_webhook_does_not_retry_a_client_error(server):
    base, script = server
    script.answer("/hook", (404, "nope"))
    with pytest.raises(NotifierError, match="HTTP 404 nope"):
        JsonWebhookNotifier(f"{base}/hook", sleep=Sleeps()).notify("e", "x")
    assert len(script.seen("/hook")) == 1


# --------------------------------------------------------------------------- Grafana


def test_grafana_annotation_payload(server):
    base, script = server
    script.answer("/api/annotations", (200, '{"id":1,"message":"Annotation added"}'))
    g = GrafanaAnnotator(base + "/", "glsa_secret", dashboard_uid="risk-idempotency-pitr")
    g.annotate(AT, "Stage 2 (5%) start", ["stage", "runofshow", "v1.4.0"])
    (req,) = script.seen("/api/annotations")
    assert req.headers["authorization"] == "Bearer glsa_secret"
    assert req.json == {"time": 1729764900000, "tags": ["runofshow", "stage", "v1.4.0"],
                        "text": "Stage 2 (5%) start", "dashboardUID": "risk-idempotency-pitr"}
    assert g.last_id == 1


def test_grafana_401_fails_at_once_and_5xx_is_retried(server):
    base, script = server
    script.answer("/api/annotations", (401, '{"message":"Unauthorized"}'))
    with pytest.raises(NotifierError, match="HTTP 401"):
        GrafanaAnnotator(base, "bad", sleep=Sleeps()).annotate(AT, "x", [])
    assert len(script.seen("/api/annotations")) == 1
    script.answer("/api/annotations", (502, "bad gateway"), (200, '{"id":7,"message":"Annotation added"}'))
    g = GrafanaAnnotator(base, "t", sleep=Sleeps())
    g.annotate(AT, "x", [])
    assert g.last_id == 7 and "dashboardUID" not in script.seen("/api/annotations")[-1].json


def test_grafana_health(server):
    base, script = server
    script.answer("/api/health", (200, '{"commit":"abc","database":"ok","version":"11.2.0"}'))
    script.answer("/api/dashboards/uid/risk-idempotency-pitr", (200, '{"dashboard":{}}'))
    h = GrafanaHealth(base, "t")
    assert h.version() == "11.2.0"
    assert h.dashboard_exists("risk-idempotency-pitr") is True
    assert h.dashboard_exists("missing") is False  # the script answers 404
    script.answer("/api/health", (503, '{"database":"failing"}'))
    with pytest.raises(NotifierError, match="503"):
        h.version()


# --------------------------------------------------------------------------- fan-out


def test_fanout_sends_to_every_channel():
    a, b, notes = RecordingNotifier("a"), RecordingNotifier("b"), RecordingAnnotator()
    fan = NotifierFanout([a, b], [notes], backoff_s=0)
    assert isinstance(fan, Notifier) and isinstance(fan, Annotator)
    fan.notify("stable", texts.stable_24h("v1.4.0"), {"hours": 24})
    fan.annotate(AT, "promoted", ["runofshow"])
    assert fan.flush(5)
    assert a.sent == b.sent == [("stable", "✅ v1.4.0 stable (24h), freeze lifted", {"hours": 24})]
    assert notes.annotations == [(AT, "promoted", ("runofshow",))]
    assert fan.channels == ["a", "b", "recording-annotator"] and fan.delivered == 3
    assert fan.close(1)


def test_fanout_retries_then_logs_and_reports_failures_without_raising(caplog):
    flaky, broken = RecordingNotifier("flaky", fail=1), RecordingNotifier("broken", fail=99)
    fine = RecordingNotifier("fine")

    class Exploding:
        name = "exploding"

        def notify(self, event, text, fields=None):
            raise RuntimeError("boom")

    reported: list[DeliveryFailure] = []
    fan = NotifierFanout([flaky, broken, fine, Exploding()], attempts=2, backoff_s=0,
                         on_failure=reported.append)
    fan.notify("rollback", texts.rollback("v1.4.0", 2, 5, ["p95 above 300 ms"]))
    assert fan.flush(5)
    assert len(flaky.sent) == 1 and flaky.calls == 2  # the fan-out's retry delivered it
    assert len(fine.sent) == 1 and broken.calls == 2
    assert sorted(f.channel for f in reported) == ["broken", "exploding"]
    assert {f.event for f in fan.failures} == {"rollback"}
    assert "RuntimeError: boom" in {f.error for f in reported if f.channel == "exploding"}
    assert "notification rollback to broken failed" in caplog.text
    assert fan.undelivered() == []  # everything was delivered or given up
    fan.close(1)


def finishes(call, *, within_s: float = 10.0):
    """Run `call` in a thread and wait until it has returned (a condition, with a generous bound: the
    hanging server below holds each request until the test releases it). Its result."""
    result: list[object] = []
    thread = threading.Thread(target=lambda: result.append(call()), daemon=True)
    thread.start()
    wait_until(lambda: not thread.is_alive(), timeout=within_s, what="the call to return")
    return result[0]


def test_a_hanging_server_does_not_slow_notify_or_other_channels(server):
    base, script = server
    script.answer("/hook", (HANG, ""))
    fast = RecordingNotifier("fast")
    hook = JsonWebhookNotifier(f"{base}/hook", timeout_s=30, attempts=1, sleep=Sleeps())
    fan = NotifierFanout([hook, fast], backoff_s=0)
    finishes(lambda: [fan.notify("checkin", f"check-in {i}") for i in range(20)])  # notify only queues
    wait_until(lambda: len(fast.sent) == 20, timeout=10, what="the fast channel")
    assert len(script.seen("/hook")) <= 1  # delivered while the webhook holds (or is about to get) its first
    assert fan.flush(0.2) is False  # the webhook's channel has not drained
    stuck = fan.undelivered()  # what a run that ends now records: the webhook, still sending
    assert [(f.channel, f.event) for f in stuck] == [("webhook", "undelivered")]
    assert stuck[0].error == "20 message(s) not delivered when the run ended (still sending)"
    assert finishes(lambda: fan.close(0.3)) is False  # close gives up on the hung channel
    script.release.set()  # the server answers again: what was queued still goes out
    wait_until(lambda: len(script.seen("/hook")) == 20, timeout=10, what="the queued messages")


def test_a_full_queue_drops_and_reports_instead_of_blocking(server):
    base, script = server
    script.answer("/hook", (HANG, ""))
    reported: list[DeliveryFailure] = []
    hook = JsonWebhookNotifier(f"{base}/hook", timeout_s=30, attempts=1, sleep=Sleeps())
    fan = NotifierFanout([hook], queue_max=2, backoff_s=0, on_failure=reported.append)
    finishes(lambda: [fan.notify("stage", f"m{i}") for i in range(10)])
    assert len(script.seen("/hook")) <= 1 and any("queue full" in f.error for f in reported)
    script.release.set()
    assert fan.close(5)
    fan.notify("stage", "after close")
    assert reported[-1].error == "fan-out is closed"


def test_texts_are_the_seeds():
    assert texts.freeze_open("v1.4.0") == "🔒 Freeze window open for v1.4.0 canary"
    assert texts.canary_complete() == "✅ Canary complete (1→100%), entering 24h monitoring"
    assert texts.stable_24h("v1.4.0") == "✅ v1.4.0 stable (24h), freeze lifted"
    assert texts.preflight_confirmed(9, 9, True) == "Preflight 9/9 ✅, Blast radius PASS ✅"
    assert texts.stage_transition("v1.4.0", 1, 1, "p95=142ms 5xx=0.2%") == (
        "▶️ v1.4.0 canary: Stage 1 (1%) start | p95=142ms 5xx=0.2%")
    assert texts.hold("v1.4.0", 2, 5, 15, ["p95 trending up"]) == (
        "⏸️ v1.4.0 canary held at Stage 2 (5%) for 15 min: p95 trending up")
    assert texts.rollback("v1.4.0", None, None, "alert HighErrorRate") == (
        "🚨 v1.4.0 canary ROLLED BACK, canary traffic 0%: alert HighErrorRate")
