"""OIDC login (authorization code + PKCE) against the local test provider, through the app's own
routes: the ID token's subject and email become the identity, recorded with proof `oidc`."""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient

from runofshow.app.warroom.identity import Proof, Role, oidc_identity
from runofshow.errors import InputError
from runofshow.web import WebDeps, create_app, web_settings
from tests.oidc_provider import OidcProvider
from tests.unit.web.conftest import WarRoom


@pytest.fixture(scope="module")
def idp() -> Iterator[OidcProvider]:
    with OidcProvider(client_id="war-room", client_secret="s3cret-for-tests") as provider:
        yield provider


def oidc_client(room: WarRoom, idp: OidcProvider, roles: str = "alice@example.com=ic") -> TestClient:
    env = {"RUNOFSHOW_OIDC_ISSUER": idp.issuer, "RUNOFSHOW_OIDC_CLIENT_ID": "war-room",
           "RUNOFSHOW_OIDC_CLIENT_SECRET": "s3cret-for-tests", "RUNOFSHOW_OIDC_ROLES": roles}
    deps = WebDeps(ledger=room.ledger, tokens=room.ledger, settings=web_settings(env, public_read=True))
    return TestClient(create_app(deps))


def sign_in(client: TestClient) -> httpx.Response:
    start = client.get("/login/oidc", follow_redirects=False)
    assert start.status_code == 302, start.text
    at_idp = httpx.get(start.headers["location"], follow_redirects=False)
    assert at_idp.status_code == 302, at_idp.text
    back = urlsplit(at_idp.headers["location"])
    return client.get(f"{back.path}?{back.query}", follow_redirects=False)


def test_login_with_pkce_and_decide_as_the_oidc_identity(room: WarRoom, idp: OidcProvider) -> None:
    idp.user = {"sub": "u-1", "email": "alice@example.com", "preferred_username": "alice"}
    with oidc_client(room, idp) as client:
        assert 'id="oidc-login"' in client.get("/login").text
        r = sign_in(client)
        assert r.status_code == 303, r.text
        who = client.get("/api/whoami").json()
        assert who == {**who, "name": "alice", "proof": "oidc", "role": "ic", "subject": "oidc:u-1"}
        authorize = next(a for a in reversed(idp.asked) if a["endpoint"] == "authorize")
        token = next(a for a in reversed(idp.asked) if a["endpoint"] == "token")
        assert authorize["code_challenge_method"] == "S256" and authorize["nonce"]
        assert token["code_verifier"] and token["grant_type"] == "authorization_code"
        board = client.get("/").text.replace("&#34;", '"')
        csrf = re.search(r'"X-CSRF-Token": "([^"]+)"', board).group(1)
        r = client.post(f"/runs/{room.run_id}/note", data={"text": "from the IdP", "csrf": csrf})
        assert r.status_code == 201, r.text
    last = room.ledger.events(room.run_id)[-1]
    assert last.kind == "parking_lot" and last.payload["identity"] == {
        "name": "alice", "subject": "oidc:u-1", "proof": "oidc", "role": "ic"}
    assert "s3cret" not in str(room.ledger.events(room.run_id))


def test_a_forged_callback_logs_nobody_in(room: WarRoom, idp: OidcProvider) -> None:
    with oidc_client(room, idp) as client:
        client.get("/login/oidc", follow_redirects=False)
        r = client.get("/auth/oidc/callback?code=made-up&state=made-up", follow_redirects=False)
        assert r.status_code == 401
        assert client.get("/api/whoami").status_code == 401


def test_someone_the_roles_do_not_name_is_an_observer(room: WarRoom, idp: OidcProvider) -> None:
    idp.user = {"sub": "u-9", "email": "zed@example.com"}
    with oidc_client(room, idp) as client:
        assert sign_in(client).status_code == 303
        who = client.get("/api/whoami").json()
        assert who["name"] == "zed@example.com" and who["role"] == "observer"
        page = client.get(f"/runs/{room.run_id}").text
        assert 'id="btn-note"' not in page


def test_oidc_identity_rules() -> None:
    ident = oidc_identity({"sub": "s", "email": "Bob@Example.com"}, {"bob@example.com": "member"})
    assert ident.role is Role.MEMBER and ident.proof is Proof.OIDC and ident.name == "Bob@Example.com"
    assert oidc_identity({"sub": "s", "preferred_username": "alice"}, {}, ("alice",)).role is Role.IC
    with pytest.raises(InputError):
        oidc_identity({"email": "x@example.com"}, {})


def test_oidc_settings_are_all_or_nothing() -> None:
    assert web_settings({}).oidc is None
    with pytest.raises(InputError, match="RUNOFSHOW_OIDC_CLIENT_SECRET"):
        web_settings({"RUNOFSHOW_OIDC_ISSUER": "https://idp.example.com", "RUNOFSHOW_OIDC_CLIENT_ID": "x"})
    with pytest.raises(InputError, match="https"):
        web_settings({"RUNOFSHOW_OIDC_ISSUER": "http://idp.example.com", "RUNOFSHOW_OIDC_CLIENT_ID": "x",
                      "RUNOFSHOW_OIDC_CLIENT_SECRET": "y"})
    s = web_settings({"RUNOFSHOW_OIDC_ISSUER": "https://idp.example.com", "RUNOFSHOW_OIDC_CLIENT_ID": "x",
                      "RUNOFSHOW_OIDC_CLIENT_SECRET": "very-secret-value"})
    assert s.oidc is not None and "very-secret-value" not in repr(s)
