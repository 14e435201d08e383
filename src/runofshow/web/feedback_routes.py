"""User feedback from the web: the run page's form and the JSON API, through the same use case as
`runofshow feedback` (`runofshow.app.warroom.feedback`), with the identity recorded.

    POST /runs/{id}/feedback        form: sentiment, note, csrf (an htmx fragment in answer)
    POST /api/runs/{id}/feedback    {"sentiment": "positive|neutral|negative", "note": "..."}

Incident commanders and members may give it; observers may not (403, recorded as `ic_refused`,
as for notes). The answer says how the criterion "User feedback neutral/positive" now stands.
"""

from __future__ import annotations

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from runofshow.app.warroom.feedback import feedback_criterion
from runofshow.app.warroom.identity import Identity, feedback_as
from runofshow.domain.checklist import FEEDBACK, Criterion
from runofshow.errors import InputError
from runofshow.ports import LedgerEvent
from runofshow.web import api
from runofshow.web.auth import deps, require
from runofshow.web.pages import render

router = APIRouter()


def _standing(c: Criterion) -> str:
    mark = "met" if c.passed else "pending" if c.pending else "NOT MET"
    return f"{c.name}: {mark} ({c.detail})"


async def give(
    request: Request, run_id: str, who: Identity, sentiment: str, note: str,
) -> tuple[LedgerEvent, str]:
    """Record it; the event and how the criterion now stands. 422 for a sentiment not in FEEDBACK."""
    if sentiment.strip().lower() not in FEEDBACK:
        raise HTTPException(422, f"sentiment: must be one of {', '.join(FEEDBACK)}")
    d = deps(request)

    def work() -> tuple[LedgerEvent, str]:
        event = feedback_as(who, run_id, sentiment, note, ledger=d.ledger)
        return event, _standing(feedback_criterion(d.ledger.events(run_id)))

    try:
        return await run_in_threadpool(work)
    except InputError as err:
        raise HTTPException(422, str(err)) from None


@router.post("/runs/{run_id}/feedback", response_class=HTMLResponse, include_in_schema=False)
async def feedback_form(
    request: Request, run_id: str, sentiment: str = Form(""), note: str = Form(""), csrf: str = Form(""),
) -> Response:
    await api.exists(request, run_id)
    who = await require(request, run_id, "feedback", lambda r: r.may_note, csrf)
    event, standing = await give(request, run_id, who, sentiment, note)
    message = f"user feedback #{event.seq} ({event.payload['sentiment']}) recorded. {standing}"
    return render(request, "action_result.html", {"ok": True, "what": "feedback", "message": message}, 201)


@router.post("/api/runs/{run_id}/feedback", status_code=201)
async def post_feedback(request: Request, run_id: str) -> JSONResponse:
    await api.exists(request, run_id)
    who = await require(request, run_id, "feedback", lambda r: r.may_note)
    body = await api.json_body(request)
    sentiment = api.text_field(body, "sentiment", f"one of {', '.join(FEEDBACK)}")
    note = body.get("note", "")
    if not isinstance(note, str):
        raise HTTPException(422, "note: must be text")
    event, standing = await give(request, run_id, who, sentiment, note)
    return JSONResponse({"event": api.event_json(event), "criterion": standing}, status_code=201)


__all__ = ["router"]
