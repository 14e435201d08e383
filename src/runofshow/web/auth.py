"""Who is asking: a Bearer token (scripts) or the signed session cookie a browser got by logging in
once with a token. State-changing requests from a browser also carry the session's CSRF token
(header `X-CSRF-Token`, or the form field `csrf`); Bearer requests carry no ambient authority and
need none.

    identity_of(request)         the Identity, or None
    role_in(request, run_id, who) the identity's role in that run (the plan's war room first: the
                                 role follows an IC handover; `runofshow.app.warroom.identity.run_role`)
    require(request, run_id, action, allowed)
                                 the Identity when it may do `action`; otherwise the refusal is
                                 recorded in the run's ledger (`ic_refused`, naming who tried) and
                                 HTTPException 401 (nobody) or 403 (wrong role, bad CSRF token).
                                 Anonymous (401) refusals are recorded at most once per address per
                                 10 s, with how many more were not (`runofshow.app.warroom.throttle`)
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from typing import Any

from fastapi import HTTPException, Request
from starlette.concurrency import run_in_threadpool

from runofshow.app.warroom.identity import Identity, Role, identify, refuse, run_role, still_valid
from runofshow.app.warroom.throttle import Throttle
from runofshow.web.config import WebDeps

SESSION_IDENTITY = "identity"
SESSION_CSRF = "csrf"
CSRF_HEADER = "x-csrf-token"


def deps(request: Request) -> WebDeps:
    found: WebDeps = request.app.state.deps
    return found


def bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def identity_of(request: Request) -> Identity | None:
    """Bearer first (a script), then the session (a browser). A revoked token ends its sessions."""
    d = deps(request)
    token = bearer(request)
    if token is not None:
        return identify(d.tokens, token)
    data = request.session.get(SESSION_IDENTITY)
    found = Identity.from_session(data) if isinstance(data, dict) else None
    if found is None or not still_valid(d.tokens, found):
        return None
    return found


def csrf_token(request: Request) -> str:
    """The session's CSRF token (made on first use)."""
    token = request.session.get(SESSION_CSRF)
    if not isinstance(token, str) or len(token) < 20:
        token = secrets.token_urlsafe(24)
        request.session[SESSION_CSRF] = token
    return token


def csrf_ok(request: Request, form_value: str | None = None) -> bool:
    if bearer(request) is not None:
        return True
    expected = request.session.get(SESSION_CSRF)
    given = request.headers.get(CSRF_HEADER) or form_value or ""
    return isinstance(expected, str) and bool(given) and hmac.compare_digest(expected, given)


def login(request: Request, identity: Identity) -> None:
    """Start a browser session (a fresh CSRF token: no session fixation)."""
    request.session.clear()
    request.session[SESSION_IDENTITY] = identity.to_session()
    request.session[SESSION_CSRF] = secrets.token_urlsafe(24)


def role_in(request: Request, run_id: str, who: Identity) -> Role:
    """`who`'s role in the run (its plan's war room, its handovers), read through the run cache."""
    role: Role = request.app.state.cache.view(run_id, lambda _r, _e, st: run_role(who, st.plan(), st))
    return role


def source_of(request: Request) -> str:
    return request.client.host if request.client is not None else "unknown"


async def require(
    request: Request, run_id: str, action: str, allowed: Callable[[Role], bool], form_csrf: str | None = None
) -> Identity:
    d = deps(request)
    who = identity_of(request)
    status, why = 0, ""
    if who is None:
        status, why = 401, "no identity: log in, or send Authorization: Bearer <token>"
    elif not csrf_ok(request, form_csrf):
        status, why = 403, "missing or wrong CSRF token"
    else:
        role = await run_in_threadpool(role_in, request, run_id, who)
        if not allowed(role):
            status, why = 403, f"role {role.value} may not {action}"
    if status:
        metrics: Any = request.app.state.metrics
        metrics.refusals.labels(str(status)).inc()
        if who is None:
            throttle: Throttle = request.app.state.refusals
            source = source_of(request)
            told = throttle.admit(source)
            if told is not None:
                await run_in_threadpool(
                    refuse, d.ledger, run_id, action, None, why, source=source, suppressed=told
                )
        else:
            await run_in_threadpool(refuse, d.ledger, run_id, action, who, why)
        raise HTTPException(status, why)
    assert who is not None
    return who


__all__ = [
    "CSRF_HEADER",
    "bearer",
    "csrf_ok",
    "csrf_token",
    "deps",
    "identity_of",
    "login",
    "require",
    "role_in",
    "source_of",
]
