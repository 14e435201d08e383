"""What the war-room web app is given: its settings (parsed once, from the environment) and its
dependencies (built by `runofshow.app.bootstrap`, never here).

    RUNOFSHOW_WEB_SECRET          signs the session cookies. Every replica behind one address needs
                                  the same secret; without it, one is drawn at start (sessions then
                                  end when the process does)
    RUNOFSHOW_WEB_SECURE_COOKIE   1 behind a TLS reverse proxy: cookies are sent over https only
    RUNOFSHOW_WEB_STREAM_MAX_S    seconds an event stream stays open before the browser reconnects
                                  (with Last-Event-ID); default 300
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from runofshow.app import settings
from runofshow.domain.plan import Plan
from runofshow.errors import InputError
from runofshow.ports import Ledger, TokenStore

SECRET_ENV = "RUNOFSHOW_WEB_SECRET"
SECURE_ENV = "RUNOFSHOW_WEB_SECURE_COOKIE"
STREAM_ENV = "RUNOFSHOW_WEB_STREAM_MAX_S"
#: request bodies above this are refused (413) before they are read further
MAX_BODY_BYTES = 64 * 1024


@dataclass(frozen=True)
class WebSettings:
    secret: str = field(repr=False, default_factory=lambda: secrets.token_urlsafe(32))
    secure_cookie: bool = False
    poll_s: float = 0.2  # how often an event stream looks at the ledger
    stream_max_s: float = 300.0
    keepalive_s: float = 15.0
    max_body: int = MAX_BODY_BYTES


def web_settings(environ: Mapping[str, str] | None = None, **overrides: Any) -> WebSettings:
    env = settings.environment(environ)
    values: dict[str, Any] = {}
    if env.get(SECRET_ENV, "").strip():
        secret = env[SECRET_ENV].strip()
        if len(secret) < 16:
            raise InputError(f"{SECRET_ENV}: use at least 16 characters (e.g. `openssl rand -hex 32`)")
        values["secret"] = secret
    values["secure_cookie"] = env.get(SECURE_ENV, "").strip().lower() in ("1", "true", "yes")
    if env.get(STREAM_ENV, "").strip():
        try:
            values["stream_max_s"] = float(env[STREAM_ENV])
        except ValueError:
            raise InputError(f"{STREAM_ENV}: '{env[STREAM_ENV]}' is not a number of seconds") from None
    values.update(overrides)
    return WebSettings(**values)


@dataclass(frozen=True)
class WebDeps:
    """The ledger (runs and events), the token store, the settings, an optional plan (shown on the
    board), and `decision_ports(plan, action)`: the router / notifier / annotator keyword arguments a
    decision needs (a rollback acts at once, as `runofshow decide` does); None: record only."""

    ledger: Ledger
    tokens: TokenStore
    settings: WebSettings = field(default_factory=WebSettings)
    plan: Plan | None = None
    decision_ports: Callable[[Plan, str], dict[str, Any]] | None = None


__all__ = ["MAX_BODY_BYTES", "WebDeps", "WebSettings", "web_settings"]
