"""The pages: the release board, a run's page (live over SSE), login, the browser's actions, the
evidence downloads and the HTML report. Server-rendered (Jinja, autoescaped); htmx swaps the live
fragments in; no inline script.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from runofshow.app.warroom.identity import Identity, identify
from runofshow.web import api, views
from runofshow.web.auth import csrf_ok, csrf_token, deps, identity_of, login, require, role_in

router = APIRouter(include_in_schema=False)
#: the HTML report is ours but inlines plotly: it gets a sandbox (an opaque origin: no cookies, no API)
REPORT_CSP = (
    "sandbox allow-scripts; default-src 'none'; script-src 'unsafe-inline'; "
    "style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'"
)


def render(request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> Response:
    who = identity_of(request)
    base = {"who": who, "csrf": csrf_token(request) if who is not None else "",
            "role": who.role if who is not None else None}
    response: Response = request.app.state.templates.TemplateResponse(
        request, name, {**base, **context}, status_code=status_code
    )
    return response


@router.get("/", response_class=HTMLResponse)
async def board(request: Request) -> Response:
    rows = await api.list_runs(request)
    return render(request, "board.html", {"rows": rows})


@router.get("/board", response_class=HTMLResponse)
async def board_rows(request: Request) -> Response:
    rows = await api.list_runs(request)
    return render(request, "board_rows.html", {"rows": rows})


async def _page(request: Request, run_id: str) -> views.RunPage:
    return await api.run_page(request, run_id)


@router.get("/runs/{run_id}", response_class=HTMLResponse)
async def run(request: Request, run_id: str) -> Response:
    page = await _page(request, run_id)
    who = identity_of(request)
    role = None if who is None else await run_in_threadpool(role_in, request, run_id, who)
    return render(request, "run.html", {"page": page, "s": page.summary, "role": role})


@router.get("/runs/{run_id}/live", response_class=HTMLResponse)
async def live(request: Request, run_id: str) -> Response:
    page = await _page(request, run_id)
    return render(request, "run_live.html", {"page": page, "s": page.summary})


@router.get("/runs/{run_id}/report", response_class=HTMLResponse)
async def report(request: Request, run_id: str) -> Response:
    from runofshow.reports.html import render_report

    events = await api.events_of(request, run_id)
    html = await run_in_threadpool(render_report, events)
    return HTMLResponse(html, headers={"content-security-policy": REPORT_CSP})


@router.get("/runs/{run_id}/evidence/{name:path}")
async def evidence_file(request: Request, run_id: str, name: str) -> Response:
    path = await api.view(request, run_id, lambda r, e, _s: views.evidence_path(r, e, name))
    if path is None:
        raise HTTPException(404, f"no evidence file '{name}' for run '{run_id}'")
    return FileResponse(
        path,
        media_type="text/plain; charset=utf-8",
        filename=path.name,
        content_disposition_type="attachment",
    )


@router.get("/login", response_class=HTMLResponse)
async def login_page(request: Request) -> Response:
    oidc = deps(request).settings.oidc is not None
    return render(request, "login.html", {"login_csrf": csrf_token(request), "error": "", "oidc": oidc})


@router.post("/login", response_class=HTMLResponse)
async def login_post(request: Request, token: str = Form(""), csrf: str = Form("")) -> Response:
    if not csrf_ok(request, csrf):
        return render(
            request,
            "login.html",
            {"login_csrf": csrf_token(request), "error": "the form expired: try again"},
            403,
        )
    who: Identity | None = await run_in_threadpool(identify, deps(request).tokens, token.strip())
    if who is None:
        return render(
            request,
            "login.html",
            {"login_csrf": csrf_token(request), "error": "unknown or revoked token"},
            401,
        )
    login(request, who)
    return RedirectResponse("/", status_code=303)


@router.post("/logout")
async def logout(request: Request, csrf: str = Form("")) -> Response:
    if csrf_ok(request, csrf):
        request.session.clear()
    return RedirectResponse("/", status_code=303)


@router.post("/runs/{run_id}/decide", response_class=HTMLResponse)
async def decide_form(
    request: Request,
    run_id: str,
    decision: str = Form(""),
    reason: str = Form(""),
    confirm: str = Form(""),
    csrf: str = Form(""),
) -> Response:
    await api.exists(request, run_id)
    who = await require(request, run_id, "decide", lambda r: r.may_decide, csrf)
    action, why = api.check_decision(decision, reason)
    if action == "rollback" and confirm != "yes":
        raise HTTPException(422, "rollback: tick 'confirm rollback' first")
    status, body = await api.decide(request, run_id, who, action, why)
    return render(
        request,
        "action_result.html",
        {"ok": status == 201, "message": body["message"], "what": action},
        status,
    )


@router.post("/runs/{run_id}/handover", response_class=HTMLResponse)
async def handover_form(
    request: Request, run_id: str, to: str = Form(""), reason: str = Form(""), csrf: str = Form("")
) -> Response:
    await api.exists(request, run_id)
    who = await require(request, run_id, "hand over", lambda r: r.may_decide, csrf)
    if not to.strip():
        raise HTTPException(422, "to: say who takes the IC role")
    status, body = await api.handover(request, run_id, who, to, reason)
    return render(request, "action_result.html", {"ok": status == 201, "message": body["message"],
                                                  "what": "handover"}, status)


@router.post("/runs/{run_id}/note", response_class=HTMLResponse)
async def note_form(request: Request, run_id: str, text: str = Form(""), csrf: str = Form("")) -> Response:
    await api.exists(request, run_id)
    who = await require(request, run_id, "note", lambda r: r.may_note, csrf)
    if not text.strip():
        raise HTTPException(422, "text: the note is empty")
    event = await api.note(request, run_id, who, text)
    return render(
        request,
        "action_result.html",
        {"ok": True, "what": "note", "message": f"parking lot #{event.seq} recorded"},
        201,
    )


__all__ = ["router"]
