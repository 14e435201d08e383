"""Sample spark-trading services for `runofshow demo`: a "stable" (baseline) and a "canary" build.

A `SampleService` is an aiohttp app on a loopback port in its own thread and event loop, with its own
Prometheus `CollectorRegistry`. Its series are the ones the plan's default gate queries read
(`runofshow.domain.plan.default_gates`), labelled service="spark-trading", track=<track>:
http_requests_total{code,endpoint}, http_request_duration_seconds (histogram), ws_message_lag_seconds
(a random walk around a few seconds), idempotency_conflicts_total (409s of POST /api/orders),
csp_violation_reports_total (POST /csp-report), pgbouncer_pool_active_connections (floor + in-flight
requests + leaked), pgbouncer_pool_max_connections, and canary_crashloop (1 under the `alert` fault).
Every series a gate reads exists from the start (the 5xx codes at zero): a healthy service gives 0 %,
never "no data".

Traffic endpoints (counted, timed): GET /api/quotes, POST /api/orders (needs Idempotency-Key),
GET /api/portfolio, POST /csp-report. Operations endpoints (not counted): GET /healthz, GET /version,
GET /metrics, GET /metrics.json?window_s=30, GET|POST /__fault {"fault": "..."}.
Every response carries X-Canary-Track and X-Service-Version.

Faults (`runofshow.demo.behaviour`), from the constructor or at run time (`set_fault`, POST /__fault):
latency (p95 ~150 -> ~440 ms), errors (8 % 5xx), leak (pool past 80 % in about 40 s, latency creeping),
alert (canary_crashloop = 1 and /metrics.json "alert": "CanaryCrashLooping"), none.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import ipaddress
import json
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from random import Random
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import generate_latest

from runofshow.demo.behaviour import (
    ALERT_NAME,
    CSP,
    ENDPOINTS,
    FAULTS,
    OK_CODE,
    ORDERS,
    PORTFOLIO,
    QUOTES,
    Behaviour,
    Draw,
    TrafficModel,
)

__all__ = ["ALERT_NAME", "FAULTS", "LATENCY_BUCKETS", "SERVICE", "SYMBOLS", "TRACKS", "Behaviour",
           "SampleService"]

SERVICE = "spark-trading"
TRACKS = ("baseline", "canary")
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.125, 0.15, 0.175, 0.2, 0.25, 0.3, 0.35,
                   0.4, 0.5, 0.6, 0.75, 1.0, 1.5, 2.5, 5.0, 10.0)
SYMBOLS = ("THYAO", "GARAN", "AKBNK", "ASELS", "BIMAS", "EREGL", "KCHOL", "SISE", "TUPRS", "YKBNK")

_PRE_CODES = {ORDERS: ("400", "409")}  # created at zero besides the success code, 500 and 503
_PRICES = dict(zip(SYMBOLS, (289.5, 131.2, 62.4, 151.3, 512.0, 45.8, 198.6, 39.9, 171.4, 30.1),
                   strict=True))
_KEYS_KEPT = 10_000


def _loopback(host: str) -> str:
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ValueError(f"sample services listen on loopback only, not {host!r}")
    return host


class SampleService:
    """One track of the sample service. `start()` binds and returns once it answers; `stop()` ends it."""

    def __init__(self, version: str, track: str, port: int = 0, seed: int = 0, fault: str | None = None,
                 *, service: str = SERVICE, host: str = "127.0.0.1", behaviour: Behaviour = Behaviour()):
        if track not in TRACKS:
            raise ValueError(f"track must be one of {TRACKS}, not {track!r}")
        self.version, self.track, self.service, self.behaviour = version, track, service, behaviour
        self._host, self._want_port = _loopback(host), port
        self._port: int | None = None
        self.model = TrafficModel(behaviour, seed, fault, time.monotonic())
        self._payload_rng = Random(seed + 7919)
        self._keys: OrderedDict[str, tuple[str, dict[str, Any] | None]] = OrderedDict()
        self._order_seq = 0
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_event: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._build_metrics()

    # ------------------------------------------------------------------ public API

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("service not started")
        return self._port

    @property
    def url(self) -> str:
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self.port}"

    @property
    def registry(self) -> CollectorRegistry:
        """This service's own Prometheus registry (never the global one)."""
        return self._registry

    @property
    def fault(self) -> str:
        return self.model.fault

    def set_fault(self, fault: str | None) -> None:
        """Switch the fault now (thread-safe): "latency" | "errors" | "leak" | "alert" | "none" | None."""
        name = self.model.set_fault(fault, time.monotonic())
        self._m_crash.set(1 if name == "alert" else 0)

    def start(self, timeout_s: float = 10.0) -> SampleService:
        if self._thread is not None:
            raise RuntimeError("service already started")
        self._thread = threading.Thread(target=self._run, name=f"sample-{self.track}", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout_s):
            raise TimeoutError(f"{self.track} sample service did not start within {timeout_s} s")
        if self._error is not None:
            raise RuntimeError(f"{self.track} sample service failed to start: {self._error}") from self._error
        return self

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop serving (in-flight requests get 1 s). Safe to call twice or before `start()`."""
        thread, loop, event = self._thread, self._loop, self._stop_event
        if thread is None or not thread.is_alive():
            return
        if loop is not None and event is not None:
            with contextlib.suppress(RuntimeError):  # the loop has already closed
                loop.call_soon_threadsafe(event.set)
        thread.join(timeout_s)
        if thread.is_alive():
            raise TimeoutError(f"{self.track} sample service did not stop within {timeout_s} s")

    def __enter__(self) -> SampleService:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def snapshot(self, window_s: float = 30.0) -> dict[str, Any]:
        """What GET /metrics.json answers: the six gate values over the last `window_s` seconds,
        `requests` in that window, and `alert` ("CanaryCrashLooping" or None) with its labels.
        Per-request values are None when no request arrived in the window: missing data is not zero."""
        snap = self.model.snapshot(window_s, time.monotonic())
        labels = {"auto_rollback": "true", "severity": "page", "track": self.track} if snap["alert"] else {}
        return {"service": self.service, "track": self.track, "version": self.version, **snap,
                "alert_labels": labels}

    # ------------------------------------------------------------------ metrics

    def _build_metrics(self) -> None:
        self._registry = r = CollectorRegistry(auto_describe=True)
        lbl = ("service", "track")
        me = {"service": self.service, "track": self.track}
        model = self.model
        self._m_requests = Counter("http_requests_total", "HTTP requests by status code and endpoint",
                                   [*lbl, "code", "endpoint"], registry=r)
        self._m_duration = Histogram("http_request_duration_seconds", "HTTP request latency", lbl,
                                     buckets=LATENCY_BUCKETS, registry=r).labels(**me)
        self._m_conflicts = Counter("idempotency_conflicts_total", "Orders refused: key reused with another "
                                    "body or while in flight", lbl, registry=r).labels(**me)
        self._m_csp = Counter("csp_violation_reports_total", "CSP violation reports received", lbl,
                              registry=r).labels(**me)
        self._m_crash = Gauge("canary_crashloop", "1 while the pods crash-loop", lbl, registry=r).labels(**me)
        Gauge("ws_message_lag_seconds", "Lag of the WebSocket quote stream", lbl,
              registry=r).labels(**me).set_function(lambda: model.ws_lag(time.monotonic()))
        Gauge("pgbouncer_pool_active_connections", "Active server connections in the pgBouncer pool",
              lbl, registry=r).labels(**me).set_function(lambda: model.pool_active(time.monotonic()))
        Gauge("pgbouncer_pool_max_connections", "Size of the pgBouncer pool", lbl,
              registry=r).labels(**me).set(self.behaviour.pool_max)
        Gauge("app_build_info", "Build of this service", [*lbl, "version"],
              registry=r).labels(version=self.version, **me).set(1)
        for ep in ENDPOINTS:
            for code in (str(OK_CODE[ep]), "500", "503", *_PRE_CODES.get(ep, ())):
                self._m_requests.labels(code=code, endpoint=ep, **me)
        self._m_crash.set(1 if model.fault == "alert" else 0)

    def _finish(self, ep: str, status: int | None, elapsed_s: float) -> None:
        conflict, csp = self.model.finish(ep, status, elapsed_s, time.monotonic())
        if status is None:
            return
        self._m_requests.labels(service=self.service, track=self.track, code=str(status), endpoint=ep).inc()
        self._m_duration.observe(elapsed_s)
        if conflict:
            self._m_conflicts.inc()
        if csp:
            self._m_csp.inc()

    # ------------------------------------------------------------------ HTTP

    def _traffic(self, ep: str, handler: Callable[[web.Request, Draw], Awaitable[web.Response]]
                 ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def handle(request: web.Request) -> web.StreamResponse:
            t0, status = time.perf_counter(), None
            draw = self.model.begin(ep, time.monotonic())
            try:
                resp = await handler(request, draw)
                status = resp.status
                return resp
            except web.HTTPException as exc:  # e.g. 413 for a body over 64 KiB
                status = exc.status
                raise
            except Exception:  # aiohttp answers 500; a cancelled request (BaseException) is not counted
                status = 500
                raise
            finally:
                self._finish(ep, status, time.perf_counter() - t0)
        return handle

    @staticmethod
    def _failure(draw: Draw) -> web.Response:
        text = "internal error" if draw.fail_code == 500 else "service unavailable"
        return web.json_response({"error": text}, status=draw.fail_code or 500)

    def _quote(self, symbol: str) -> dict[str, Any]:
        mid = _PRICES[symbol] * (1 + self._payload_rng.gauss(0, 0.002))
        return {"symbol": symbol, "bid": round(mid * 0.9995, 2), "ask": round(mid * 1.0005, 2),
                "ts_ms": int(time.time() * 1000)}

    async def _quotes(self, request: web.Request, draw: Draw) -> web.Response:
        await asyncio.sleep(draw.delay_s)
        if draw.fail_code:
            return self._failure(draw)
        wanted = [s for s in request.query.get("symbols", "THYAO,GARAN,AKBNK").upper().split(",")
                  if s in _PRICES]
        return web.json_response({"quotes": [self._quote(s) for s in wanted[:10]]})

    async def _portfolio(self, request: web.Request, draw: Draw) -> web.Response:
        await asyncio.sleep(draw.delay_s)
        if draw.fail_code:
            return self._failure(draw)
        positions = [{"symbol": s, "qty": q, "mark": self._quote(s)["bid"]}
                     for s, q in (("THYAO", 1200), ("ASELS", 800), ("TUPRS", 150))]
        value = sum(p["qty"] * p["mark"] for p in positions)
        return web.json_response({"account": request.query.get("account", "demo-001"),
                                  "currency": "TRY", "positions": positions, "value": round(value, 2)})

    async def _orders(self, request: web.Request, draw: Draw) -> web.Response:
        key = request.headers.get("Idempotency-Key", "").strip()
        try:
            order = await request.json()
        except ValueError:
            order = None
        valid = (isinstance(order, dict) and order.get("symbol") in _PRICES
                 and order.get("side") in ("buy", "sell")
                 and isinstance(order.get("qty"), int) and order["qty"] > 0)
        if not key or not valid:
            await asyncio.sleep(min(draw.delay_s, 0.02))
            problem = "Idempotency-Key header is required" if not key else "invalid order"
            return web.json_response({"error": problem}, status=400)
        fingerprint = hashlib.sha256(json.dumps(order, sort_keys=True).encode()).hexdigest()
        seen = self._keys.get(key)
        if draw.race_conflict or (seen is not None and (seen[0] != fingerprint or seen[1] is None)):
            await asyncio.sleep(min(draw.delay_s, 0.02))
            return web.json_response({"error": "idempotency_conflict", "idempotency_key": key}, status=409)
        if seen is not None and seen[1] is not None:
            await asyncio.sleep(draw.delay_s * 0.3)
            return web.json_response(seen[1], status=201, headers={"Idempotent-Replayed": "true"})
        self._keys[key] = (fingerprint, None)  # in flight: a duplicate now is a conflict
        while len(self._keys) > _KEYS_KEPT:
            self._keys.popitem(last=False)
        await asyncio.sleep(draw.delay_s)
        if draw.fail_code:
            self._keys.pop(key, None)  # nothing stored: the client may retry with the same key
            return self._failure(draw)
        self._order_seq += 1
        result = {"order_id": f"{self.track[0]}-{self._order_seq:08d}", "status": "accepted",
                  "symbol": order["symbol"], "side": order["side"], "qty": order["qty"]}
        self._keys[key] = (fingerprint, result)
        return web.json_response(result, status=201)

    async def _csp_report(self, request: web.Request, draw: Draw) -> web.Response:
        body = await request.read()
        await asyncio.sleep(draw.delay_s)
        if draw.fail_code:
            return self._failure(draw)
        if not body:
            return web.json_response({"error": "empty report"}, status=400)
        return web.Response(status=204)

    async def _metrics(self, request: web.Request) -> web.Response:
        body = generate_latest(self._registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def _metrics_json(self, request: web.Request) -> web.Response:
        try:
            window_s = float(request.query.get("window_s", "30"))
        except ValueError:
            return web.json_response({"error": "window_s must be a number of seconds"}, status=400)
        if not math.isfinite(window_s) or window_s <= 0:
            return web.json_response({"error": "window_s must be more than 0"}, status=400)
        return web.json_response(self.snapshot(window_s))

    async def _fault_endpoint(self, request: web.Request) -> web.Response:
        if request.method == "POST":
            try:
                body = await request.json()
                if not isinstance(body, dict) or "fault" not in body:
                    raise ValueError('expected {"fault": "latency|errors|leak|alert|none"}')
                self.set_fault(body["fault"])
            except ValueError as err:
                return web.json_response({"error": str(err) or "bad JSON"}, status=400)
        return web.json_response({"fault": self.fault, "track": self.track, "version": self.version})

    async def _healthz(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def _version(self, request: web.Request) -> web.Response:
        return web.json_response({"service": self.service, "version": self.version, "track": self.track})

    async def _stamp(self, request: web.Request, response: web.StreamResponse) -> None:
        response.headers["X-Canary-Track"] = self.track
        response.headers["X-Service-Version"] = self.version

    def _app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024)
        app.on_response_prepare.append(self._stamp)
        app.add_routes([
            web.get(QUOTES, self._traffic(QUOTES, self._quotes)),
            web.post(ORDERS, self._traffic(ORDERS, self._orders)),
            web.get(PORTFOLIO, self._traffic(PORTFOLIO, self._portfolio)),
            web.post(CSP, self._traffic(CSP, self._csp_report)),
            web.get("/healthz", self._healthz), web.get("/version", self._version),
            web.get("/metrics", self._metrics), web.get("/metrics.json", self._metrics_json),
            web.get("/__fault", self._fault_endpoint), web.post("/__fault", self._fault_endpoint),
        ])
        return app

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as err:  # reported by start(); a thread must not die loudly
            self._error = err
        finally:
            self._ready.set()

    async def _main(self) -> None:
        runner = web.AppRunner(self._app(), access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        try:
            site = web.TCPSite(runner, self._host, self._want_port, reuse_address=True)
            await site.start()
            self._port = int(runner.addresses[0][1])
            self._loop, self._stop_event = asyncio.get_running_loop(), asyncio.Event()
            self._ready.set()
            await self._stop_event.wait()
        finally:
            await runner.cleanup()
