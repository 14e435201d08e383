"""The demo's notification channel: a local HTTP server that takes what a JSON webhook, Slack or
Grafana would (`POST` any path with a JSON body) and keeps it, in memory and one JSON object a line
in a file, so the demo shows every message the run sent. `GET` answers 200, which is what the
preflight's "notification channel reachable" check asks of a channel. Loopback only.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

LOOPBACK = "127.0.0.1"
MAX_BODY = 256 * 1024


class WebhookSink:
    """`start()` -> listening on `url`; `received` holds {path, body, at} per POST; `stop()`."""

    def __init__(self, log_path: Path | None = None, host: str = LOOPBACK, port: int = 0) -> None:
        self.log_path = log_path
        self.received: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _answer(self, status: int, doc: dict[str, Any]) -> None:
                body = json.dumps(doc).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                self._answer(200, {"ok": True, "received": len(sink.received)})

            def do_POST(self) -> None:
                size = min(int(self.headers.get("Content-Length") or 0), MAX_BODY)
                raw = self.rfile.read(size)
                try:
                    body = json.loads(raw or b"null")
                except ValueError:
                    self._answer(400, {"error": "not JSON"})
                    return
                sink.keep({"path": self.path, "body": body, "at": datetime.now(UTC).isoformat()})
                self._answer(200, {"ok": True, "id": len(sink.received)})

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def keep(self, item: dict[str, Any]) -> None:
        with self._lock:
            self.received.append(item)
            if self.log_path is not None:
                with self.log_path.open("a", encoding="utf-8") as f:
                    f.write(json.dumps(item, ensure_ascii=False) + "\n")

    def texts(self) -> list[str]:
        """The text of every message (webhook `text`, Grafana `text`)."""
        with self._lock:
            return [str(i["body"].get("text", "")) for i in self.received if isinstance(i["body"], dict)]

    def start(self) -> WebhookSink:
        self._thread = threading.Thread(target=self._server.serve_forever, name="webhook-sink", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


__all__ = ["WebhookSink"]
