"""Alertmanager webhook receiver: rollback alerts pushed to us, not polled.

`AlertmanagerWebhook` listens on host:port (port 0 picks a free one; `port` is set after
`start()`), in a background thread. Every POST must carry `Authorization: Bearer <token>`;
anything else is answered 401, logged with the remote address, and reported to `on_refused` as a
`WebhookRefusal` (time, address, reason; never the token presented) for the runner to record.
A webhook v4 payload's firing alerts whose labels match the plan's `match_labels` are kept and
handed to `on_alert` at once (so the runner can roll back without waiting for the next tick);
resolved ones are dropped. It also implements the `AlertFeed` port: `firing(at)` is what is still firing.

Alertmanager configuration (receiver side):

    receivers:
      - name: runofshow
        webhook_configs:
          - url: http://127.0.0.1:9095/alerts
            send_resolved: true
            http_config: {authorization: {type: Bearer, credentials: <token>}}
"""

from __future__ import annotations

import hmac
import json
import logging
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import Any

from runofshow.adapters.http_server import TrackingHTTPServer
from runofshow.adapters.prometheus import to_alert
from runofshow.domain.addresses import split_listen
from runofshow.domain.connections import AlertSourceSettings
from runofshow.domain.tick import Alert
from runofshow.errors import AdapterError
from runofshow.ports import WebhookRefusal

log = logging.getLogger(__name__)

MAX_BODY = 4 * 1024 * 1024


def parse_listen(listen: str) -> tuple[str, int]:
    """'127.0.0.1:9095' or '[::1]:9095' -> (host, port)."""
    try:
        return split_listen(listen)
    except ValueError as err:
        raise AdapterError(f"alertmanager webhook: not host:port: {err}", adapter="alertmanager",
                           target=listen) from None


def alert_key(labels: Mapping[str, str]) -> str:
    """An alert's identity: its label set (what Alertmanager fingerprints)."""
    return json.dumps(dict(labels), sort_keys=True)


class _Server(TrackingHTTPServer):
    owner: AlertmanagerWebhook

    def __init__(self, address: tuple[str, int]) -> None:
        super().__init__(address, _Handler)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    timeout = 60  # an idle keep-alive connection is closed after a minute

    def log_message(self, format: str, *args: Any) -> None:  # the stdlib's name
        log.debug("alertmanager webhook %s: " + format, self.address_string(), *args)

    def _reply(self, status: int, text: str) -> None:
        body = (text + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        if status == 401:
            self.send_header("WWW-Authenticate", 'Bearer realm="runofshow"')
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # the stdlib's name
        self._reply(200 if self.path in ("/", "/healthz") else 404, "runofshow alert webhook")

    def do_POST(self) -> None:  # the stdlib's name
        owner = self.server.owner
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self.close_connection = True
            self._reply(413, "payload too large")
            return
        body = self.rfile.read(length) if length else b""
        refused = owner.refusal(self.headers.get("Authorization"))
        if refused is not None:
            log.warning("alertmanager webhook: rejected POST %s from %s:%s: %s",
                        self.path, *self.client_address[:2], refused)
            owner.refused(str(self.client_address[0]), refused, self.path)  # before the answer: a caller
            self._reply(401, "unauthorised")  # that has its 401 finds the refusal already taken in
            return
        try:
            payload = json.loads(body)
            if not isinstance(payload, dict) or not isinstance(payload.get("alerts"), list):
                raise ValueError("no alerts list")
        except ValueError as exc:
            log.warning("alertmanager webhook: bad payload from %s: %s", self.client_address[0], exc)
            self._reply(400, "not an Alertmanager webhook payload")
            return
        owner.receive(payload)
        self._reply(200, "ok")


class AlertmanagerWebhook:
    """Receives Alertmanager webhooks; calls `on_alert(Alert)` for each newly firing matching alert."""

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, *, token: str,
        match_labels: Mapping[str, str] | None = None, on_alert: Callable[[Alert], None] | None = None,
        t0_at: datetime | None = None, on_refused: Callable[[WebhookRefusal], None] | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        if not token:
            raise AdapterError("alertmanager webhook: an empty bearer token is not allowed",
                               adapter="alertmanager", target=f"{host}:{port}")
        self.host = host
        self.port = port
        self._token = token.encode()
        self.match_labels = dict(match_labels or {})
        self.on_alert = on_alert
        self.on_refused = on_refused
        self._now = now
        self.t0_at = t0_at
        self.rejected = 0
        self.received = 0
        self._firing: dict[str, Alert] = {}
        self._lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @classmethod
    def from_settings(
        cls, settings: AlertSourceSettings, token: str, *,
        on_alert: Callable[[Alert], None] | None = None, t0_at: datetime | None = None,
        on_refused: Callable[[WebhookRefusal], None] | None = None,
    ) -> AlertmanagerWebhook:
        host, port = parse_listen(settings.webhook_listen or "127.0.0.1:0")
        return cls(host, port, token=token, match_labels=settings.match_labels, on_alert=on_alert,
                   t0_at=t0_at, on_refused=on_refused)

    # ------------------------------------------------------------------ lifecycle

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/alerts"

    def start(self) -> AlertmanagerWebhook:
        if self._server is not None:
            return self
        try:
            server = _Server((self.host, self.port))
        except OSError as exc:
            raise AdapterError(f"alertmanager webhook {self.host}:{self.port}: cannot listen: {exc.strerror}",
                               adapter="alertmanager", target=f"{self.host}:{self.port}") from exc
        server.owner = self
        self._server = server
        self.port = server.server_address[1]
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name=f"alertmanager-webhook-{self.port}", daemon=True)
        self._thread.start()
        log.info("alertmanager webhook listening on %s", self.url)
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is not None:
            server.close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> AlertmanagerWebhook:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ receiving

    def authorised(self, header: str) -> bool:
        return self.refusal(header) is None

    def refusal(self, header: str | None) -> str | None:
        """Why an `Authorization` header is refused (None: it carries the right bearer token). The
        reason never quotes what was presented."""
        if not header:
            return "no bearer token"
        scheme, _, credentials = header.partition(" ")
        if scheme.lower() != "bearer":
            return "not a bearer token"
        if not hmac.compare_digest(credentials.strip().encode(), self._token):
            return "wrong bearer token"
        return None

    def refused(self, source: str, reason: str, path: str = "") -> None:
        """Count a refused call and report it to `on_refused` (which must not block)."""
        with self._lock:
            self.rejected += 1
        if self.on_refused is not None:
            try:
                self.on_refused(WebhookRefusal(at=self._now(), source=source, reason=reason, path=path))
            except Exception:  # the receiver must keep answering
                log.exception("alertmanager webhook: on_refused failed")

    def receive(self, payload: Mapping[str, Any]) -> list[Alert]:
        """Apply one webhook payload; return the alerts that newly started firing (and were announced)."""
        fresh: list[Alert] = []
        with self._lock:
            self.received += 1
            for item in payload.get("alerts") or []:
                if not isinstance(item, Mapping):
                    continue
                labels = {str(k): str(v) for k, v in (item.get("labels") or {}).items()}
                key = alert_key(labels)
                if item.get("status") == "resolved":
                    self._firing.pop(key, None)
                    continue
                if item.get("status") != "firing":
                    continue
                alert = to_alert(labels, item.get("startsAt"), self.t0_at)
                if not alert.matches(self.match_labels):
                    continue
                if key not in self._firing:
                    fresh.append(alert)
                self._firing[key] = alert
        for alert in fresh:
            log.info("alertmanager webhook: %s firing %s", alert.name, alert.labels)
            if self.on_alert is not None:
                try:
                    self.on_alert(alert)
                except Exception:  # the receiver must keep answering Alertmanager
                    log.exception("alertmanager webhook: on_alert failed for %s", alert.name)
        return fresh

    def firing(self, at: datetime) -> tuple[Alert, ...]:
        with self._lock:
            return tuple(self._firing.values())
