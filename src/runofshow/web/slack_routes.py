"""`POST /slack/actions`: the war room's Slack buttons (the Slack app's Interactivity Request URL).

    a click on Proceed / Hold            verified, the Slack user mapped to a person through the
                                         run's plan (`communications.slack.members`), then decided
                                         through the same use case as the web page and `runofshow
                                         decide` (proof `slack`); the result is an ephemeral reply
    a click on Rollback (by an IC)       opens the reason modal (views.open, within Slack's 3 s)
    the modal's submission               the rollback, with the reason typed, through the same use case
    anyone else's click                  the use case refuses it (`ic_refused`); a Slack user the plan
                                         does not list is refused here (`ic_refused`, proof slack)
    a bad signature, a stale timestamp   401, recorded as `ic_refused` in the run the body names (at
    or a replay                          most one per run per REFUSED_EVERY_S, the others counted)

Slack wants an answer within 3 s: decisions run after the 200 (Starlette background tasks) and
report through the click's response_url. Nothing here is Slack's SDK: verification is
`runofshow.app.warroom.slack_actions`, the answers go through the `ChatInteractions` port.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime

from fastapi import APIRouter, BackgroundTasks, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from runofshow.app.warroom import commander
from runofshow.app.warroom.identity import Identity, Proof, Role, refuse
from runofshow.app.warroom.slack_actions import (
    ClickVerdict,
    SlackClick,
    claimed_run_id,
    reason_modal,
    verify_click,
)
from runofshow.domain.communications import SlackWarRoomSettings
from runofshow.domain.plan import Plan
from runofshow.errors import AdapterError, LedgerError
from runofshow.web import api
from runofshow.web.auth import deps
from runofshow.web.config import SlackEndpoint

router = APIRouter(include_in_schema=False)
log = logging.getLogger(__name__)
#: a refused (401) Slack request is recorded at most once per run in this many seconds
REFUSED_EVERY_S = 10.0
MAX_RUNS_KEPT = 256


class RefusedGate:
    """At most one recorded refusal per run per `every_s`; the ones in between are counted and the
    next recorded one says how many."""

    def __init__(self, every_s: float = REFUSED_EVERY_S) -> None:
        self.every_s = every_s
        self._lock = threading.Lock()
        self._last: dict[str, datetime] = {}
        self._held: dict[str, int] = {}

    def due(self, run_id: str, now: datetime) -> int | None:
        """None: count it, do not record; otherwise record it, with this many not recorded before."""
        with self._lock:
            if len(self._last) > MAX_RUNS_KEPT:  # the run ids are the requests' own: keep the dict small
                self._last = {r: t for r, t in self._last.items() if (now - t).total_seconds() < self.every_s}
                self._held = {r: n for r, n in self._held.items() if r in self._last}
            last = self._last.get(run_id)
            if last is not None and (now - last).total_seconds() < self.every_s:
                self._held[run_id] = self._held.get(run_id, 0) + 1
                return None
            self._last[run_id] = now
            return self._held.pop(run_id, 0)


def _endpoint(request: Request) -> SlackEndpoint:
    endpoint = deps(request).slack
    if endpoint is None:
        raise HTTPException(404, "Slack actions are not set up here (set SLACK_SIGNING_SECRET for `serve`)")
    return endpoint


def _plan(request: Request, run_id: str) -> Plan | None:
    """The run's own plan (its run_started event), or None when the ledger has no such run."""
    try:
        found: Plan | None = request.app.state.cache.view(
            run_id, lambda _r, _e, st: st.plan() if st.started else None)
    except LedgerError:
        return None
    return found


def _members(request: Request, run_id: str) -> SlackWarRoomSettings | None:
    plan = _plan(request, run_id)
    return None if plan is None else plan.communications.slack


def _record_refused(request: Request, endpoint: SlackEndpoint, body: bytes, verdict: ClickVerdict) -> None:
    run_id = verdict.click.run_id if verdict.click is not None else claimed_run_id(body)
    if not run_id:
        return
    gate: RefusedGate = request.app.state.slack_refused
    held = gate.due(run_id, endpoint.now())
    if held is None:
        return
    more = f" (+{held} more refused since the last one recorded)" if held else ""
    try:
        refuse(deps(request).ledger, run_id, "slack", None, f"Slack request refused: {verdict.reason}{more}",
               now=endpoint.now)
    except LedgerError:  # the body named a run this ledger does not have
        pass


async def _reply(endpoint: SlackEndpoint, click: SlackClick, text: str) -> None:
    if not click.response_url:
        return
    try:
        await run_in_threadpool(endpoint.interactions.reply_ephemeral, click.response_url, text)
    except AdapterError as err:  # the decision is in the ledger either way
        log.warning("slack: ephemeral reply to %s not sent: %s", click.slack_user_id, err)


async def _decide(
    request: Request, endpoint: SlackEndpoint, click: SlackClick, who: Identity, reason: str,
) -> None:
    try:
        _status, body = await api.decide(request, click.run_id, who, click.action, reason)
        mark = "done" if body["accepted"] else "refused"
        text = f"{click.action} by {who.name} {mark}: {body['message']}"
    except HTTPException as err:
        text = f"{click.action} by {who.name} refused: {err.detail}"
    await _reply(endpoint, click, text)


@router.post("/slack/actions")
async def slack_actions(request: Request, background: BackgroundTasks) -> Response:
    endpoint = _endpoint(request)
    if not hasattr(request.app.state, "slack_refused"):
        request.app.state.slack_refused = RefusedGate()
    body = await request.body()

    def verify() -> ClickVerdict:
        return verify_click(dict(request.headers), body, endpoint.now(), seen=endpoint.seen,
                            signing_secret=endpoint.signing_secret, slack=lambda run: _members(request, run))

    verdict = await run_in_threadpool(verify)
    if verdict.status != 200 or verdict.click is None:
        await run_in_threadpool(_record_refused, request, endpoint, body, verdict)
        request.app.state.metrics.refusals.labels(str(verdict.status)).inc()
        return JSONResponse({"error": verdict.reason}, status_code=verdict.status)
    click = verdict.click
    plan = await run_in_threadpool(_plan, request, click.run_id)
    if plan is None:
        background.add_task(_reply, endpoint, click, f"runofshow: no run '{click.run_id}' on this server")
        return Response(status_code=200)
    subject = f"slack:{click.slack_user_id}"
    if click.person is None:  # signed by Slack, but not someone the plan lists
        who = Identity(subject, subject, Proof.SLACK, Role.OBSERVER)
        await run_in_threadpool(refuse, deps(request).ledger, click.run_id, click.action, who, verdict.reason,
                                now=endpoint.now)
        background.add_task(_reply, endpoint, click, f"{click.action} refused: {verdict.reason}")
        return Response(status_code=200)
    ic = commander.is_incident_commander(plan, click.person)
    who = Identity(click.person, subject, Proof.SLACK, Role.IC if ic else Role.MEMBER)
    if click.action == "rollback" and not click.submitted and ic:
        try:
            await run_in_threadpool(endpoint.interactions.open_modal, click.trigger_id, reason_modal(click))
        except AdapterError as err:
            log.warning("slack: the rollback modal did not open: %s", err)
            background.add_task(_reply, endpoint, click, (
                f"The rollback's reason form did not open ({err}). Nothing was decided: click Rollback "
                f"again, or use the web page or `runofshow decide {click.run_id} rollback`."))
        return Response(status_code=200)
    reason = click.reason if click.submitted else f"{click.action.capitalize()} clicked in Slack"
    background.add_task(_decide, request, endpoint, click, who, reason)
    return Response(status_code=200)


__all__ = ["REFUSED_EVERY_S", "RefusedGate", "router"]
