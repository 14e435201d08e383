"""Shared test helpers: free loopback ports, waiting, a stub HTTP server answering recorded
responses, managed service processes, and a throw-away PostgreSQL database.

A missing binary or service is a failure, never a skip (`require_binary`, `fresh_postgres_database`):
`scripts/install-services.sh` makes them present.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from runofshow.adapters.http_server import TrackingHTTPServer
from runofshow.loopback import LOOPBACK

POSTGRES_ADMIN_URL = os.environ.get(
    "RUNOFSHOW_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def wait_until(
    predicate: Callable[[], Any], *, timeout: float = 30.0, interval: float = 0.1, what: str = "condition",
) -> Any:
    """Call `predicate` until it returns something truthy (returned); fail the test after `timeout` s.

    Exceptions raised by `predicate` count as "not yet"; the last one is shown on failure.
    """
    deadline = time.monotonic() + timeout
    last: BaseException | None = None
    while True:
        try:
            result = predicate()
            if result:
                return result
        except Exception as exc:  # "not yet"
            last = exc
        if time.monotonic() >= deadline:
            detail = f" (last error: {type(last).__name__}: {last})" if last else ""
            pytest.fail(f"timed out after {timeout:g}s waiting for {what}{detail}")
        time.sleep(interval)


def missing_service(what: str) -> None:
    """Fail (never skip): in CI and locally alike, a missing service is a failure."""
    hint = "run scripts/install-services.sh (make test does)"
    where = "in CI (CI=true)" if os.environ.get("CI") == "true" else "locally"
    pytest.fail(f"{what} is missing {where}: {hint}", pytrace=False)


def require_binary(name: str) -> str:
    """The path of `name` (also looked up in /usr/sbin), or fail the test."""
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/local/sbin:/sbin")
    if path is None:
        missing_service(f"the '{name}' binary")
        raise AssertionError("unreachable")
    return path


# --------------------------------------------------------------------------- HTTP servers


class TrackedHTTPServer(TrackingHTTPServer):
    """A threading HTTP server on a loopback port whose `stop()` also ends keep-alive connections
    and joins their threads (so no socket is left for the garbage collector to warn about)."""

    def __init__(self, handler: type[BaseHTTPRequestHandler], host: str = LOOPBACK, port: int = 0) -> None:
        super().__init__((host, port), handler)
        self.port = int(self.server_address[1])
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True, name=f"http-{self.port}")

    def start(self) -> TrackedHTTPServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.close()
        self._thread.join(timeout=5)


# --------------------------------------------------------------------------- stub HTTP server


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: Mapping[str, str]
    body: bytes


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # dict/list -> JSON; str/bytes as given
    headers: Mapping[str, str] = field(default_factory=dict)
    delay_s: float = 0.0


class StubServer:
    """A loopback HTTP server answering scripted replies per (method, path).

    `route("GET", "/api/v1/query", Reply(...), Reply(...))` answers each request with the next
    reply, repeating the last. A `responder(recorded) -> Reply` may be given instead. Every request
    is kept in `requests`. Unrouted paths get 404.
    """

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self._routes: dict[tuple[str, str], list[Reply] | Callable[[Recorded], Reply]] = {}
        self._lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                parts = urlsplit(self.path)
                rec = Recorded(self.command, parts.path, parse_qs(parts.query), dict(self.headers.items()),
                               self.rfile.read(length) if length else b"")
                reply = stub._reply(rec)
                if reply.delay_s:
                    time.sleep(reply.delay_s)
                body = reply.body
                if isinstance(body, dict | list):
                    data, ctype = json.dumps(body).encode(), "application/json"
                elif isinstance(body, str):
                    data, ctype = body.encode(), "text/plain; charset=utf-8"
                else:
                    data, ctype = (body or b""), "application/octet-stream"
                headers = {"Content-Type": ctype, **reply.headers, "Content-Length": str(len(data))}
                try:
                    self.send_response(reply.status)
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout tests)
                    self.close_connection = True

            do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = _handle

        self._server = TrackedHTTPServer(Handler).start()
        self.port = self._server.port
        self.url = f"http://{LOOPBACK}:{self.port}"

    def route(self, method: str, path: str, *replies: Reply | Callable[[Recorded], Reply]) -> None:
        with self._lock:
            if len(replies) == 1 and callable(replies[0]):
                self._routes[(method, path)] = replies[0]
            else:
                self._routes[(method, path)] = [r for r in replies if isinstance(r, Reply)]

    def _reply(self, rec: Recorded) -> Reply:
        with self._lock:
            self.requests.append(rec)
            route = self._routes.get((rec.method, rec.path))
            if route is None:
                return Reply(404, "404 page not found\n")
            if callable(route):
                return route(rec)
            return route.pop(0) if len(route) > 1 else route[0]

    def close(self) -> None:
        self._server.stop()

    def __enter__(self) -> StubServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def run_cli(argv: Sequence[str], capsys: Any) -> tuple[int, str, str]:
    """Run `runofshow ARGV` in this process: (exit code, stdout, stderr)."""
    from runofshow.cli.main import main

    with pytest.raises(SystemExit) as ex:
        main(list(argv))
    out, err = capsys.readouterr()
    return int(ex.value.code or 0), out, err


def probe_target() -> StubServer:
    """The answers the preflight's probes meet, on GET and HEAD: /ok 200 "fine", /gone 404
    "no_service", /hook 400 "invalid_payload", /boom 503 "down", /big 200 with 200,000 bytes;
    GET /redirect 302 to /ok; GET /slow answers after 1.5 s."""
    stub = StubServer()
    answers = {"/ok": (200, "fine"), "/gone": (404, "no_service"), "/hook": (400, "invalid_payload"),
               "/boom": (503, "down"), "/big": (200, "x" * 200_000)}
    for path, (status, body) in answers.items():
        for method in ("GET", "HEAD"):
            stub.route(method, path, Reply(status, body))
    stub.route("GET", "/redirect", Reply(302, "", {"Location": "/ok"}))
    stub.route("GET", "/slow", Reply(200, "slow", delay_s=1.5))
    return stub


# --------------------------------------------------------------------------- processes


class ManagedProcess:
    """A service process started by a test: output to `log_path`, stopped with SIGTERM then SIGKILL."""

    def __init__(self, name: str, argv: Sequence[str], log_path: Path, cwd: Path | None = None) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_path = log_path
        self._log = open(log_path, "ab")  # closed in stop()
        self.proc = subprocess.Popen(self.argv, stdout=self._log, stderr=subprocess.STDOUT, cwd=cwd,
                                     stdin=subprocess.DEVNULL, start_new_session=True)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def check_alive(self) -> None:
        if not self.alive():
            pytest.fail(f"{self.name} exited with {self.proc.returncode}:\n{self.log_tail()}", pytrace=False)

    def signal(self, sig: int) -> None:
        if self.alive():
            os.kill(self.proc.pid, sig)

    def stop(self, timeout: float = 10.0) -> None:
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=timeout)
        self._log.close()


def wait_http_ok(url: str, process: ManagedProcess, *, timeout: float = 30.0) -> None:
    """Wait until GET `url` answers 2xx, failing early (with its log) if `process` dies."""
    import httpx

    def ready() -> bool:
        process.check_alive()
        return httpx.get(url, timeout=2).is_success

    wait_until(ready, timeout=timeout, interval=0.1, what=f"{process.name} at {url}")


# --------------------------------------------------------------------------- PostgreSQL


@contextmanager
def fresh_postgres_database(
    admin_url: str = POSTGRES_ADMIN_URL, prefix: str = "runofshow_test",
) -> Iterator[str]:
    """Create database `<prefix>_<random>`, yield its SQLAlchemy URL, drop it afterwards."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import OperationalError

    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = f"{prefix}_{secrets.token_hex(5)}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError as exc:
        admin.dispose()
        shown = make_url(admin_url).render_as_string(hide_password=True)
        missing_service(f"PostgreSQL at {shown} ({exc.orig})")
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


# --------------------------------------------------------------------------- T-10 stand-ins

PREFLIGHT_CHECK_NAMES = ("artifact", "canary_health", "metrics", "alert_rules", "traffic_router", "backup",
                         "schema_window", "freeze", "notifier")


def passing_t10_handlers(failing: Sequence[str] = ()) -> dict[Any, Any]:
    """A stand-in preflight step handler for runs on in-memory fakes (9/9 unless `failing` names
    checks; then it halts before T0 like the real one). The real one checks real URLs: it is tested
    in tests/unit/app/test_step_handlers.py and end to end by the demo."""
    from runofshow.app.run.steps import StepOutcome
    from runofshow.app.steps.preflight import CheckResult, PreflightReport
    from runofshow.domain.timeline import StepKind

    def preflight(ctx: Any) -> Any:
        results = tuple(CheckResult(n, n, n not in failing, "broken" if n in failing else "ok", 0.01)
                        for n in PREFLIGHT_CHECK_NAMES)
        rep = PreflightReport(ctx.plan.release.service, ctx.plan.release.version, ctx.at, results)
        halt = None if rep.passed else f"preflight {rep.summary()}"
        return StepOutcome(details=rep.to_json(), ok=rep.passed, halt=halt, summary=f"{rep.score} PASS")

    return {StepKind.PREFLIGHT: preflight}
