"""The demo's traffic router: a small weighted reverse proxy (aiohttp) and a client that steers it.

`LocalProxy` runs in its own thread with its own event loop (`start()` / `stop()`; port 0 picks a
free port). Each request goes to the stable or the canary upstream by weight, chosen by error
diffusion: the canary's share accumulates per request and a request goes to the canary each time
the sum passes 1, so 25 % is exactly every fourth request, 0 % is never and 100 % is always. Every
response carries `X-Canary-Track: stable|canary`.

Admin endpoints, under `/__runofshow/` (never forwarded):
    GET  /__runofshow/weight    -> {"weight": W, "changes": N}
    PUT  /__runofshow/weight    <- {"weight": W}; setting the current weight again is not a change
    GET  /__runofshow/metrics   -> Prometheus text: requests and seconds per track and status code

`LocalProxyRouter` implements `TrafficRouter` over the admin endpoint with httpx, so a runner in
another process can steer the demo proxy.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from typing import Any

import aiohttp
import httpx
from aiohttp import web
from multidict import CIMultiDict

from runofshow.adapters.http import TOO_MANY_OR_SERVER_ERROR, AttemptFailed, with_retries
from runofshow.adapters.weights import checked_weight
from runofshow.domain.addresses import split_listen
from runofshow.domain.connections import LocalProxyRouterSettings
from runofshow.errors import RouterError

ADAPTER = "local_proxy"
ADMIN = "/__runofshow/"
WEIGHT_PATH = "/__runofshow/weight"
TRACK_HEADER = "X-Canary-Track"
HOP_BY_HOP = frozenset({
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
    "trailers", "transfer-encoding", "upgrade", "host", "content-length",
})


class LocalProxy:
    """A weighted reverse proxy between two upstreams, for the demo."""

    def __init__(
        self, stable_url: str, canary_url: str, *, host: str = "127.0.0.1", port: int = 0,
        weight: float = 0.0, timeout_s: float = 30.0,
    ) -> None:
        self.upstreams = {"stable": stable_url.rstrip("/"), "canary": canary_url.rstrip("/")}
        self.host, self.port = host, port
        self.timeout_s = timeout_s
        self._weight = checked_weight(weight)
        self._credit = 0.0
        self.changes = 0
        self._lock = threading.Lock()
        self._requests: Counter[tuple[str, int]] = Counter()
        self._seconds: defaultdict[tuple[str, int], float] = defaultdict(float)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stopping: asyncio.Event | None = None
        self._session: aiohttp.ClientSession | None = None

    @classmethod
    def from_settings(cls, settings: LocalProxyRouterSettings, *, weight: float = 0.0) -> LocalProxy:
        host, port = split_listen(settings.listen)
        return cls(settings.stable_url, settings.canary_url, host=host, port=port, weight=weight)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    # ------------------------------------------------------------------ weight and choice

    @property
    def weight(self) -> float:
        with self._lock:
            return self._weight

    def set_weight(self, weight: float) -> bool:
        """Set the canary weight; True when it changed."""
        w = checked_weight(weight)
        with self._lock:
            if w == self._weight:
                return False
            self._weight, self._credit = w, 0.0
            self.changes += 1
            return True

    def choose(self) -> str:
        """The track for the next request (error diffusion; exact at 0 and 100)."""
        with self._lock:
            self._credit += self._weight / 100.0
            if self._credit >= 1.0 - 1e-9:
                self._credit -= 1.0
                return "canary"
            return "stable"

    def counts(self) -> dict[str, int]:
        """Requests forwarded so far, per track."""
        with self._lock:
            totals = {"stable": 0, "canary": 0}
            for (track, _), n in self._requests.items():
                totals[track] += n
            return totals

    # ------------------------------------------------------------------ lifecycle

    def start(self, timeout_s: float = 10.0) -> LocalProxy:
        if self._thread is not None:
            raise RuntimeError("the proxy is already running")
        ready = threading.Event()
        failure: list[BaseException] = []
        loop = asyncio.new_event_loop()
        self._loop = loop

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                runner, session = loop.run_until_complete(self._open())
            except BaseException as e:  # handed to the starting thread
                failure.append(e)
                ready.set()
                loop.close()
                return
            ready.set()
            try:
                loop.run_until_complete(self._serve_until_stopped())
            finally:
                loop.run_until_complete(session.close())
                loop.run_until_complete(runner.cleanup())
                loop.close()

        self._thread = threading.Thread(target=run, name=f"runofshow-proxy-{self.port}", daemon=True)
        self._thread.start()
        if not ready.wait(timeout_s) or failure:
            self._thread.join(timeout_s)
            self._thread = None
            why = failure[0] if failure else "timed out"
            raise RouterError(f"local proxy could not listen on {self.host}:{self.port}: {why}",
                              adapter=ADAPTER, target=f"{self.host}:{self.port}")
        return self

    def stop(self) -> None:
        thread, loop, stopping = self._thread, self._loop, self._stopping
        if thread is None or loop is None or stopping is None:
            return
        loop.call_soon_threadsafe(stopping.set)
        thread.join()
        self._thread = None

    def __enter__(self) -> LocalProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def _open(self) -> tuple[web.AppRunner, aiohttp.ClientSession]:
        self._stopping = asyncio.Event()
        app = web.Application(client_max_size=16 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.host, self.port)
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self.port = runner.addresses[0][1]
        session = aiohttp.ClientSession(
            auto_decompress=False, timeout=aiohttp.ClientTimeout(total=self.timeout_s),
        )
        self._session = session
        return runner, session

    async def _serve_until_stopped(self) -> None:
        assert self._stopping is not None
        await self._stopping.wait()

    # ------------------------------------------------------------------ HTTP handlers

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if request.path.startswith(ADMIN):
            return await self._admin(request)
        track = self.choose()
        started = time.perf_counter()
        response = await self._forward(request, track)
        with self._lock:
            self._requests[(track, response.status)] += 1
            self._seconds[(track, response.status)] += time.perf_counter() - started
        return response

    async def _forward(self, request: web.Request, track: str) -> web.Response:
        assert self._session is not None
        headers = CIMultiDict(
            (k, v) for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP
        )
        headers["X-Forwarded-Host"] = request.host
        if request.remote:
            headers["X-Forwarded-For"] = request.remote
        body = await request.read()
        try:
            async with self._session.request(
                request.method, self.upstreams[track] + request.rel_url.raw_path_qs,
                headers=headers, data=body or None, allow_redirects=False,
            ) as upstream:
                data = await upstream.read()
                out = CIMultiDict(
                    (k, v) for k, v in upstream.headers.items() if k.lower() not in HOP_BY_HOP
                )
                out[TRACK_HEADER] = track
                return web.Response(status=upstream.status, body=data, headers=out)
        except (aiohttp.ClientError, TimeoutError) as e:
            return web.Response(
                status=502, text=f"runofshow proxy: the {track} upstream failed: {e!r}\n",
                headers={TRACK_HEADER: track},
            )

    async def _admin(self, request: web.Request) -> web.Response:
        if request.path == WEIGHT_PATH and request.method == "GET":
            return web.json_response({"weight": self.weight, "changes": self.changes})
        if request.path == WEIGHT_PATH and request.method == "PUT":
            try:
                payload = await request.json()
                changed = self.set_weight(payload["weight"])
            except (ValueError, KeyError, TypeError) as e:
                return web.json_response({"error": f"expected {{\"weight\": 0..100}}: {e}"}, status=400)
            return web.json_response({"weight": self.weight, "changed": changed, "changes": self.changes})
        if request.path == "/__runofshow/metrics" and request.method == "GET":
            return web.Response(text=self.metrics_text(), content_type="text/plain")
        return web.json_response({"error": f"no {request.method} {request.path}"}, status=404)

    def metrics_text(self) -> str:
        with self._lock:
            requests, seconds = dict(self._requests), dict(self._seconds)
            weight, changes = self._weight, self.changes
        lines = [
            "# HELP runofshow_proxy_requests_total Requests forwarded, by track and status code.",
            "# TYPE runofshow_proxy_requests_total counter",
        ]
        for (track, code), n in sorted(requests.items()):
            lines.append(f'runofshow_proxy_requests_total{{track="{track}",code="{code}"}} {n}')
        lines += [
            "# HELP runofshow_proxy_request_seconds_total Seconds spent on forwarded requests.",
            "# TYPE runofshow_proxy_request_seconds_total counter",
        ]
        for (track, code), s in sorted(seconds.items()):
            lines.append(f'runofshow_proxy_request_seconds_total{{track="{track}",code="{code}"}} {s:.6f}')
        lines += [
            "# HELP runofshow_proxy_canary_weight The canary weight in percent.",
            "# TYPE runofshow_proxy_canary_weight gauge",
            f"runofshow_proxy_canary_weight {weight:g}",
            "# HELP runofshow_proxy_weight_changes_total Times the weight changed.",
            "# TYPE runofshow_proxy_weight_changes_total counter",
            f"runofshow_proxy_weight_changes_total {changes}",
        ]
        return "\n".join(lines) + "\n"


class LocalProxyRouter:
    """`TrafficRouter` that steers a `LocalProxy` (in this process or another) over HTTP."""

    def __init__(
        self, settings: LocalProxyRouterSettings, *, transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings
        base = (settings.admin_url or f"http://{settings.listen}").rstrip("/")
        self.admin_url = base if base.endswith(WEIGHT_PATH) else base + WEIGHT_PATH
        self._client = httpx.Client(timeout=httpx.Timeout(settings.timeout_s), transport=transport)
        self._sleep = sleep

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> LocalProxyRouter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _request(self, method: str, **kwargs: Any) -> dict[str, Any]:
        def once() -> dict[str, Any]:
            response = self._client.request(method, self.admin_url, **kwargs)
            if response.is_error:
                raise AttemptFailed.of(response, retry_status=TOO_MANY_OR_SERVER_ERROR)
            answer = response.json()
            if not isinstance(answer, dict):
                raise ValueError("not a JSON object")
            return answer

        try:
            return with_retries(once, attempts=self.settings.retries, backoff_s=0.2, max_backoff_s=5,
                                sleep=self._sleep)
        except (httpx.HTTPError, AttemptFailed, ValueError) as e:
            raise RouterError(f"local proxy: {method} {self.admin_url} failed: {e}", adapter=ADAPTER,
                              target=self.admin_url) from e

    def set_weight(self, weight: float) -> None:
        self._request("PUT", json={"weight": checked_weight(weight)})

    def current_weight(self) -> float:
        answer = self._request("GET")
        try:
            return checked_weight(answer["weight"])
        except (KeyError, ValueError) as e:
            raise RouterError(f"local proxy: {self.admin_url} answered {json.dumps(answer)[:200]}",
                              adapter=ADAPTER, target=self.admin_url) from e


__all__ = ["LocalProxy", "LocalProxyRouter"]
