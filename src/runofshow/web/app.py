"""The war-room web app: `create_app(deps)` -> an ASGI app (FastAPI).

    /                      the release board          /runs/{id}            a run's page
    /login /logout         a browser logs in once with an API token (signed session cookie)
    /api/...               the JSON API and the event stream (see `runofshow.web.api`)
    /healthz /metrics      liveness, Prometheus exposition
    /static/...            htmx, its SSE extension, the page script and style; /assets/plotly.min.js from
                           the installed plotly package (no CDN, no build step)

Everything it shows is read from the ledger at request time: no state in memory that a second
replica would need (sessions are signed cookies; event streams resume from `Last-Event-ID`).
Every response carries a CSP without inline script, nosniff and frame-ancestors 'none'.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import jinja2
import plotly
from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool
from starlette.middleware.sessions import SessionMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from runofshow.app.warroom.throttle import Throttle
from runofshow.web.cache import RunCache
from runofshow.web.config import WebDeps
from runofshow.web.feed import Feed
from runofshow.web.metrics import WebMetrics

HERE = Path(__file__).resolve().parent
PLOTLY_JS = Path(plotly.__file__).resolve().parent / "package_data" / "plotly.min.js"
SESSION_COOKIE = "runofshow_session"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
}


#: what anyone may GET without logging in: the way in, the assets, liveness and the scrape
OPEN_PATHS = ("/login", "/auth/oidc/", "/static/", "/assets/", "/healthz", "/metrics", "/api/openapi.json")


def open_path(path: str) -> bool:
    return any(path == p or (p.endswith("/") and path.startswith(p)) or path.startswith(p + "/")
               for p in OPEN_PATHS)


def wants_json(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return request.url.path.startswith("/api/") or (
        "application/json" in accept and "text/html" not in accept
    )


class Guard:
    """Security headers on every response; request bodies over the limit refused (413) unread."""

    def __init__(self, app: ASGIApp, max_body: int) -> None:
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {k.lower() for k, _ in headers}
                if b"content-security-policy" not in names:
                    headers.append((b"content-security-policy", CSP.encode()))
                headers += [
                    (k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items() if k.encode() not in names
                ]
                message = {**message, "headers": headers}
            await send(message)

        length = dict(scope.get("headers", [])).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_body):
            await self._too_large(scope, receive, send_with_headers)
            return
        if scope["method"] in ("POST", "PUT", "PATCH", "DELETE"):
            body, more = b"", True
            while more:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return
                body += message.get("body", b"")
                more = message.get("more_body", False)
                if len(body) > self.max_body:
                    await self._too_large(scope, receive, send_with_headers)
                    return
            sent = False

            async def replay() -> Message:
                nonlocal sent
                if not sent:
                    sent = True
                    return {"type": "http.request", "body": body, "more_body": False}
                return await receive()

            await self.app(scope, replay, send_with_headers)
            return
        await self.app(scope, receive, send_with_headers)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = JSONResponse({"error": f"request body over {self.max_body // 1024} KiB"}, status_code=413)
        await response(scope, receive, send)


def create_app(deps: WebDeps) -> FastAPI:
    from runofshow.web import api, feedback_routes, pages, slack_routes

    app = FastAPI(
        title="runofshow war room",
        version="1",
        docs_url=None,  # Swagger UI comes from a CDN with inline script: not under this CSP
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    app.state.deps = deps
    app.state.metrics = WebMetrics(deps.ledger)
    app.state.cache = RunCache(deps.ledger)
    app.state.feed = Feed(deps.ledger.events, deps.settings.poll_s)
    app.state.refusals = Throttle(deps.settings.refusal_every_s)
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True)
    for name in env.list_templates(extensions=["html"]):
        env.get_template(name)  # compiled now, not on the first request that needs one
    app.state.templates = Jinja2Templates(env=env)

    @app.middleware("http")
    async def readers(request: Request, call_next: Any) -> Response:
        """Reading needs an identity (any role: observers read), unless `public_read`; inside the
        session middleware, so that a browser's session counts."""
        if deps.settings.public_read or request.method not in ("GET", "HEAD") or open_path(request.url.path):
            response: Response = await call_next(request)
            return response
        from runofshow.web.auth import identity_of

        if await run_in_threadpool(identity_of, request) is not None:
            response = await call_next(request)
            return response
        app.state.metrics.refusals.labels("401").inc()
        if wants_json(request) or request.headers.get("hx-request"):
            return JSONResponse({"error": "no identity: log in, or send Authorization: Bearer <token>"},
                                status_code=401, headers={"www-authenticate": "Bearer"})
        return RedirectResponse("/login", status_code=303)

    app.add_middleware(
        SessionMiddleware,
        secret_key=deps.settings.secret,
        session_cookie=SESSION_COOKIE,
        same_site="lax",  # Lax: the way back from a company IdP is a cross-site GET; POSTs need CSRF
        https_only=deps.settings.secure_cookie,
        max_age=12 * 3600,
    )
    app.add_middleware(Guard, max_body=deps.settings.max_body)

    @app.middleware("http")
    async def timed(request: Request, call_next: Any) -> Response:
        started = time.perf_counter()
        response: Response = await call_next(request)
        route = getattr(request.scope.get("route"), "path", "unmatched")
        app.state.metrics.latency.labels(request.method, route).observe(time.perf_counter() - started)
        return response

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        detail = exc.detail if isinstance(exc.detail, str) else json.dumps(exc.detail)
        headers = getattr(exc, "headers", None)
        if wants_json(request):
            return JSONResponse({"error": detail}, status_code=exc.status_code, headers=headers)
        if request.headers.get("hx-request"):  # an htmx action: a fragment in place of the form's result
            return app.state.templates.TemplateResponse(
                request,
                "action_result.html",
                {"ok": False, "message": detail, "what": ""},
                status_code=exc.status_code,
                headers=headers,
            )
        return app.state.templates.TemplateResponse(
            request,
            "error.html",
            {"status": exc.status_code, "message": detail},
            status_code=exc.status_code,
            headers=headers,
        )

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        message = (
            f"{where}: {first.get('msg', 'invalid request')}" if where else str(first.get("msg", "invalid"))
        )
        return JSONResponse({"error": message}, status_code=422)

    @app.get("/assets/plotly.min.js", include_in_schema=False)
    def plotly_js() -> FileResponse:
        return FileResponse(
            PLOTLY_JS, media_type="text/javascript", headers={"cache-control": "public, max-age=86400"}
        )

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> PlainTextResponse:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return PlainTextResponse(generate_latest(app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    if deps.settings.oidc is not None:
        from runofshow.web import oidc

        oidc.install(app, deps.settings.oidc)
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    app.include_router(api.router)
    app.include_router(pages.router)
    app.include_router(slack_routes.router)
    app.include_router(feedback_routes.router)

    @app.exception_handler(404)
    async def not_found(request: Request, exc: Exception) -> Response:
        return await http_error(request, HTTPException(404, getattr(exc, "detail", "not found")))

    return app


__all__ = ["CSP", "create_app"]
