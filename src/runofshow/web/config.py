"""What the war-room web app is given: its settings (parsed once, from the environment) and its
dependencies (built by `runofshow.app.bootstrap`, never here).

    RUNOFSHOW_WEB_SECRET          signs the session cookies. Every replica behind one address needs
                                  the same secret; without it, one is drawn at start (sessions then
                                  end when the process does)
    RUNOFSHOW_WEB_SECURE_COOKIE   1 behind a TLS reverse proxy: cookies are sent over https only
    RUNOFSHOW_WEB_STREAM_MAX_S    seconds an event stream stays open before the browser reconnects
                                  (with Last-Event-ID); default 300
    RUNOFSHOW_OIDC_ISSUER         a company IdP (OpenID Connect, authorization code + PKCE): its issuer
    RUNOFSHOW_OIDC_CLIENT_ID      URL (discovery at ISSUER/.well-known/openid-configuration), this
    RUNOFSHOW_OIDC_CLIENT_SECRET  app's client id and secret; all three, or none (token login only)
    RUNOFSHOW_OIDC_ROLES          who has which role: "alice@example.com=ic,bob@example.com=member";
                                  the --plan's incident commanders are ic; everyone else observer
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from runofshow.app import settings
from runofshow.domain.plan import Plan
from runofshow.errors import InputError
from runofshow.ports import ChatInteractions, Ledger, SeenRequests, TokenStore

SECRET_ENV = "RUNOFSHOW_WEB_SECRET"
SECURE_ENV = "RUNOFSHOW_WEB_SECURE_COOKIE"
STREAM_ENV = "RUNOFSHOW_WEB_STREAM_MAX_S"
#: request bodies above this are refused (413) before they are read further
MAX_BODY_BYTES = 64 * 1024


@dataclass(frozen=True)
class OidcSettings:
    issuer: str
    client_id: str
    client_secret: str = field(repr=False)
    roles: tuple[tuple[str, str], ...] = ()

    @property
    def discovery_url(self) -> str:
        return self.issuer.rstrip("/") + "/.well-known/openid-configuration"


def _oidc(env: Mapping[str, str]) -> OidcSettings | None:
    names = ("RUNOFSHOW_OIDC_ISSUER", "RUNOFSHOW_OIDC_CLIENT_ID", "RUNOFSHOW_OIDC_CLIENT_SECRET")
    values = [env.get(n, "").strip() for n in names]
    if not any(values):
        return None
    missing = [n for n, v in zip(names, values, strict=True) if not v]
    if missing:
        raise InputError(f"OIDC: set {', '.join(missing)} too (or none of the three)")
    if not values[0].startswith(("https://", "http://127.0.0.1", "http://localhost")):
        raise InputError(f"RUNOFSHOW_OIDC_ISSUER: '{values[0]}' must be an https URL")
    roles = []
    for item in env.get("RUNOFSHOW_OIDC_ROLES", "").split(","):
        if item.strip():
            who, sep, role = item.partition("=")
            if not sep or role.strip().lower() not in ("ic", "member", "observer"):
                raise InputError(f"RUNOFSHOW_OIDC_ROLES: '{item.strip()}' is not WHO=ic|member|observer")
            roles.append((who.strip(), role.strip().lower()))
    return OidcSettings(values[0], values[1], values[2], tuple(roles))


@dataclass(frozen=True)
class WebSettings:
    secret: str = field(repr=False, default_factory=lambda: secrets.token_urlsafe(32))
    secure_cookie: bool = False
    poll_s: float = 0.2  # how often an event stream looks at the ledger
    stream_max_s: float = 300.0
    keepalive_s: float = 15.0
    max_body: int = MAX_BODY_BYTES
    refusal_every_s: float = 10.0  # anonymous refusals recorded at most once per address per window
    public_read: bool = False  # pages and GET API readable without logging in (`serve --public-read`)
    oidc: OidcSettings | None = None


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
    values["oidc"] = _oidc(env)
    values.update(overrides)
    return WebSettings(**values)


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class SlackEndpoint:
    """What `/slack/actions` needs (`runofshow.web.slack_routes`): the Slack app's signing secret,
    the requests already taken (a replay is refused), the way to answer a click (the rollback's
    reason modal, an ephemeral reply) and the clock the 5-minute timestamp window is judged on."""

    signing_secret: str = field(repr=False)
    seen: SeenRequests
    interactions: ChatInteractions
    now: Callable[[], datetime] = _utc_now


@dataclass(frozen=True)
class WebDeps:
    """The ledger (runs and events), the token store, the settings, an optional plan (shown on the
    board), `decision_ports(plan, action)`: the router / notifier / annotator keyword arguments a
    decision needs (a rollback acts at once, as `runofshow decide` does; None: record only), and the
    Slack endpoint (`slack`, None: no Slack buttons)."""

    ledger: Ledger
    tokens: TokenStore
    settings: WebSettings = field(default_factory=WebSettings)
    plan: Plan | None = None
    decision_ports: Callable[[Plan, str], dict[str, Any]] | None = None
    slack: SlackEndpoint | None = None  # None: /slack/actions answers 404


__all__ = ["MAX_BODY_BYTES", "OidcSettings", "SlackEndpoint", "WebDeps", "WebSettings", "web_settings"]
