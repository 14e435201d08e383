"""Login through a company IdP: OpenID Connect, authorization code with PKCE (S256), by Authlib.

    GET /login/oidc            -> the IdP's authorize endpoint (state, nonce, code_challenge kept in
                                  the signed session cookie)
    GET /auth/oidc/callback    <- the code; exchanged with the code_verifier and the client secret,
                                  the ID token checked (signature by the IdP's JWKS, issuer,
                                  audience, expiry, nonce); its subject and email become the identity

Only mounted when RUNOFSHOW_OIDC_ISSUER, _CLIENT_ID and _CLIENT_SECRET are set.
"""

from __future__ import annotations

from typing import Any

from authlib.integrations.starlette_client import OAuth, OAuthError
from fastapi import APIRouter, FastAPI, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from runofshow.app.warroom.identity import oidc_identity
from runofshow.errors import InputError
from runofshow.web.auth import deps, login
from runofshow.web.config import OidcSettings

router = APIRouter(include_in_schema=False)


def install(app: FastAPI, settings: OidcSettings) -> None:
    oauth = OAuth()
    oauth.register(
        "idp", client_id=settings.client_id, client_secret=settings.client_secret,
        server_metadata_url=settings.discovery_url,
        client_kwargs={"scope": "openid email profile", "code_challenge_method": "S256"},
    )
    app.state.oauth = oauth
    app.include_router(router)


@router.get("/login/oidc")
async def start(request: Request) -> Response:
    client: Any = request.app.state.oauth.idp
    redirect: Response = await client.authorize_redirect(request, str(request.url_for("oidc_callback")))
    return redirect


@router.get("/auth/oidc/callback", name="oidc_callback")
async def callback(request: Request) -> Response:
    client: Any = request.app.state.oauth.idp
    try:
        token = await client.authorize_access_token(request)
    except OAuthError as err:
        raise HTTPException(401, f"OIDC login failed: {err.error}") from None
    claims = token.get("userinfo") or {}
    d = deps(request)
    settings = d.settings.oidc
    assert settings is not None
    ics = tuple(d.plan.war_room.incident_commanders) if d.plan is not None else ()
    try:
        who = oidc_identity(claims, dict(settings.roles), ics)
    except InputError as err:
        raise HTTPException(401, str(err)) from None
    login(request, who)
    return RedirectResponse("/", status_code=303)


__all__ = ["install"]
