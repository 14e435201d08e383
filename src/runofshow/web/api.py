"""The JSON API and the event stream.

    GET  /api/runs                       every run's board row
    GET  /api/runs/{id}                  one run: board row, war-room lines, parking lot, gates
    GET  /api/runs/{id}/events?after=N   the events after seq N (JSON); with `Accept:
                                         text/event-stream` a live stream whose event ids are the
                                         ledger seqs (`Last-Event-ID` resumes after that seq)
    POST /api/runs/{id}/decisions        {"decision": "proceed|hold|rollback", "reason": "..."} (role ic)
    POST /api/runs/{id}/notes            {"text": "..."} (role ic or member)
    POST /api/runs/{id}/handover         {"to": "bob", "reason": "..."} (the run's current IC)

Errors are `{"error": "one line"}`: 400 malformed JSON, 422 unknown decision / empty reason or
text, 401 no identity, 403 wrong role (both recorded as `ic_refused`), 404 unknown run, 409 a
decision the rules refuse (recorded by the use case, as `runofshow decide` does), 413 body > 64 KiB.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any, TypeVar

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from runofshow.app.run.state import RunState, fold
from runofshow.app.warroom import commander
from runofshow.app.warroom.identity import Identity, Role, decide_as, handover_as, note_as
from runofshow.errors import InputError, LedgerError
from runofshow.ports import LedgerEvent, RunRecord
from runofshow.web import views
from runofshow.web.auth import deps, require
from runofshow.web.cache import RunCache
from runofshow.web.feed import Feed

router = APIRouter()
T = TypeVar("T")


def event_json(e: LedgerEvent) -> dict[str, Any]:
    return {"seq": e.seq, "at": e.at.isoformat(), "kind": e.kind, "payload": dict(e.payload), "hash": e.hash}


def _not_found(err: LedgerError, run_id: str) -> HTTPException:
    if "no run" in str(err):
        return HTTPException(404, f"no run '{run_id}'")
    raise err


async def view(request: Request, run_id: str, fn: Callable[[RunRecord, list[LedgerEvent], RunState], T]) -> T:
    """`fn(record, events, state)` for the run now (incremental: `runofshow.web.cache`); 404 when the
    ledger has no such run."""
    cache: RunCache = request.app.state.cache
    try:
        result: T = await run_in_threadpool(cache.view, run_id, fn)
    except LedgerError as err:
        raise _not_found(err, run_id) from None
    return result


async def exists(request: Request, run_id: str) -> RunRecord:
    try:
        record: RunRecord = await run_in_threadpool(deps(request).ledger.run, run_id)
    except LedgerError as err:
        raise _not_found(err, run_id) from None
    return record


async def events_of(request: Request, run_id: str) -> list[LedgerEvent]:
    return await view(request, run_id, lambda _r, events, _s: list(events))


@router.get("/api/runs")
async def list_runs(request: Request) -> list[dict[str, Any]]:
    cache: RunCache = request.app.state.cache

    def rows() -> list[dict[str, Any]]:
        return [cache.view(r.run_id, lambda rec, ev, st: views.summary(rec, ev, state=st).json())
                for r in deps(request).ledger.runs()]

    return await run_in_threadpool(rows)


async def run_page(request: Request, run_id: str) -> views.RunPage:
    """The run page's contents (the run's events parsed once per process: `RunCache.page`)."""
    cache: RunCache = request.app.state.cache
    try:
        page: views.RunPage = await run_in_threadpool(
            cache.page, run_id, lambda r, e, st, v: views.run_page(r, e, state=st, view=v))
    except LedgerError as err:
        raise _not_found(err, run_id) from None
    return page


@router.get("/api/runs/{run_id}")
async def one_run(request: Request, run_id: str) -> dict[str, Any]:
    page = await run_page(request, run_id)
    return {
        **page.summary.json(),
        "gates": page.gates,
        "war_room": page.war_room,
        "parking_lot": page.parking_lot,
        "ic": page.ic_decisions,
        "weights": page.weights,
        "timeline": page.timeline,
        "evidence": {
            "folder": page.evidence_dir,
            "status": page.evidence_status,
            "files": [f.__dict__ for f in page.evidence_files],
        },
    }


@router.get("/api/runs/{run_id}/figures")
async def run_figures(request: Request, run_id: str) -> dict[str, Any]:
    """The run page's plotly figures: traffic, and each gate canary against baseline with its threshold."""
    await exists(request, run_id)
    cache: RunCache = request.app.state.cache
    figures: dict[str, Any] = await run_in_threadpool(cache.figures, run_id, views.run_figures)
    return figures


def _after(request: Request, after: int) -> int:
    last = request.headers.get("last-event-id", "").strip()
    if last:
        if not last.isdigit():
            raise HTTPException(400, "Last-Event-ID: not a ledger sequence number")
        return int(last)
    return after


async def stream(request: Request, run_id: str, after: int) -> AsyncIterator[str]:
    """New events as server-sent events: first what the ledger has after `after`, then what this
    process's one poller of the run finds (`runofshow.web.feed`); ends after stream_max_s (the
    browser reconnects with Last-Event-ID)."""
    s = deps(request).settings
    feed: Feed = request.app.state.feed
    gauge = request.app.state.metrics.sse_clients
    gauge.inc()
    watching = False
    try:
        yield "retry: 1000\n\n"
        opened = time.monotonic()
        events = await feed.read(run_id, after)
        while True:
            for e in events:
                data = json.dumps(event_json(e), separators=(",", ":"))
                yield f"id: {e.seq}\nevent: ledger\ndata: {data}\n\n"
                after = e.seq
            if not watching:
                feed.watch(run_id, after)
                watching = True
            left = s.stream_max_s - (time.monotonic() - opened)
            if left <= 0:
                return
            events = await feed.after(run_id, after, min(left, s.keepalive_s))
            if not events and time.monotonic() - opened < s.stream_max_s:
                yield ": keepalive\n\n"
    finally:
        if watching:
            feed.unwatch(run_id)
        gauge.dec()


@router.get("/api/runs/{run_id}/events", response_model=None)
async def run_events(request: Request, run_id: str, after: int = 0) -> Response | list[dict[str, Any]]:
    await exists(request, run_id)
    start = _after(request, after)
    if "text/event-stream" in request.headers.get("accept", ""):
        return StreamingResponse(
            stream(request, run_id, start),
            media_type="text/event-stream",
            headers={"cache-control": "no-cache", "x-accel-buffering": "no"},
        )
    events = await run_in_threadpool(deps(request).ledger.events, run_id, start)
    return [event_json(e) for e in events]


async def json_body(request: Request) -> Mapping[str, Any]:
    try:
        body = json.loads(await request.body() or b"null")
    except (ValueError, UnicodeDecodeError):
        raise HTTPException(400, "malformed JSON") from None
    if not isinstance(body, dict):
        raise HTTPException(400, "the body must be a JSON object")
    return body


def text_field(body: Mapping[str, Any], name: str, what: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value.strip():
        raise HTTPException(422, f"{name}: {what}")
    return value


def check_decision(action: Any, reason: Any) -> tuple[str, str]:
    if not isinstance(action, str) or action.strip().lower() not in commander.ACTIONS:
        raise HTTPException(422, f"decision: must be one of {', '.join(commander.ACTIONS)}")
    if not isinstance(reason, str) or not reason.strip():
        raise HTTPException(422, "reason: say why (it is recorded with the decision)")
    return action.strip().lower(), reason


async def decide(request: Request, run_id: str, who: Identity, action: str, reason: str) -> tuple[int, Any]:
    """The decision through the same use case as `runofshow decide`: (status, body)."""
    d = deps(request)

    def work() -> tuple[int, Any]:
        before = fold(d.ledger.events(run_id))
        plan = before.plan()
        ports = d.decision_ports(plan, action) if d.decision_ports is not None else {}
        try:
            result = decide_as(who, run_id, action, reason, ledger=d.ledger, **ports)
        finally:
            fanout = ports.get("notifier")
            if fanout is not None and callable(getattr(fanout, "close", None)):
                fanout.close(1.0)
        event = next((e for e in d.ledger.events(run_id, (result.seq or 1) - 1) if e.seq == result.seq), None)
        body = {
            "accepted": result.accepted,
            "message": result.message,
            "weight": result.weight,
            "event": None if event is None else event_json(event),
        }
        _refresh(d.ledger, run_id, plan.evidence_dir, ("war_room", "timeline"))
        if result.accepted:
            return 201, body
        return (409 if commander.holds_ic(plan, before, who.name) else 403), body

    try:
        status, body = await run_in_threadpool(work)
    except InputError as err:
        raise HTTPException(422, str(err)) from None
    request.app.state.metrics.decisions.labels(action, "accepted" if status == 201 else "refused").inc()
    return status, body


async def note(request: Request, run_id: str, who: Identity, text: str) -> LedgerEvent:
    d = deps(request)

    def work() -> LedgerEvent:
        event = note_as(who, run_id, text, ledger=d.ledger)
        plan = fold(d.ledger.events(run_id)).plan()
        _refresh(d.ledger, run_id, plan.evidence_dir, ("parking_lot",))
        return event

    try:
        event = await run_in_threadpool(work)
    except InputError as err:
        raise HTTPException(422, str(err)) from None
    request.app.state.metrics.notes.inc()
    return event


def _refresh(ledger: Any, run_id: str, folder: str, targets: tuple[str, ...]) -> None:
    """The evidence files the new events change, as `runofshow decide` rewrites them."""
    from runofshow.reports.evidence_live import write_live

    try:
        write_live(ledger.events(run_id), folder, targets)
    except Exception:
        pass


@router.post("/api/runs/{run_id}/decisions", status_code=201)
async def post_decision(request: Request, run_id: str) -> JSONResponse:
    await exists(request, run_id)
    who = await require(request, run_id, "decide", lambda r: r.may_decide)
    body = await json_body(request)
    action, reason = check_decision(body.get("decision"), body.get("reason"))
    status, result = await decide(request, run_id, who, action, reason)
    return JSONResponse(result, status_code=status)


@router.post("/api/runs/{run_id}/notes", status_code=201)
async def post_note(request: Request, run_id: str) -> JSONResponse:
    await exists(request, run_id)
    who = await require(request, run_id, "note", lambda r: r.may_note)
    body = await json_body(request)
    text = text_field(body, "text", "the note is empty")
    event = await note(request, run_id, who, text)
    return JSONResponse(event_json(event), status_code=201)


async def handover(request: Request, run_id: str, who: Identity, to: str, reason: str) -> tuple[int, Any]:
    """The IC handover through the same use case as `runofshow handover`: (status, body)."""
    d = deps(request)

    def work() -> tuple[int, Any]:
        result = handover_as(who, run_id, to, reason, ledger=d.ledger)
        event = next((e for e in d.ledger.events(run_id, (result.seq or 1) - 1) if e.seq == result.seq), None)
        plan = fold(d.ledger.events(run_id)).plan()
        _refresh(d.ledger, run_id, plan.evidence_dir, ("war_room",))
        body = {"accepted": result.accepted, "message": result.message,
                "event": None if event is None else event_json(event)}
        return (201 if result.accepted else 409), body

    try:
        return await run_in_threadpool(work)
    except InputError as err:
        raise HTTPException(422, str(err)) from None


@router.post("/api/runs/{run_id}/handover", status_code=201)
async def post_handover(request: Request, run_id: str) -> JSONResponse:
    await exists(request, run_id)
    who = await require(request, run_id, "hand over", lambda r: r.may_decide)
    body = await json_body(request)
    to = text_field(body, "to", "say who takes the IC role")
    reason = body.get("reason") or ""
    if not isinstance(reason, str):
        raise HTTPException(422, "reason: must be text")
    status, result = await handover(request, run_id, who, to, reason)
    return JSONResponse(result, status_code=status)


@router.get("/api/whoami")
async def whoami(request: Request) -> dict[str, Any]:
    from runofshow.web.auth import identity_of

    who = identity_of(request)
    if who is None:
        raise HTTPException(401, "no identity")
    return {**who.payload(), "may_decide": who.role is Role.IC, "may_note": who.role.may_note}


__all__ = ["router"]
