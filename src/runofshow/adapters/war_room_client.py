"""The war room's web server as a script sees it: `runofshow decide|note|handover --server URL`
post to its JSON API with `Authorization: Bearer $RUNOFSHOW_TOKEN` instead of writing the ledger.

    client = WarRoomClient("https://warroom.example.com", token)
    client.post(run_id, "decisions", {"decision": "hold", "reason": "p95 climbing"})
        -> (accepted, the server's answer): 201 accepted; 409 refused by the war room's rules
           (recorded by the server, as a local refusal is)

Every other answer is one error line: 401 (the token is unknown or revoked) and 403 (the token's
role may not) as NotAuthorisedError, 404 as RunNotFoundError, 400/413/422 as InputError (all exit
2); no answer or a 5xx as AdapterError (exit 1). No retries: a decision is not to be posted twice.
The token is never part of a message.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx

from runofshow.errors import AdapterError, InputError, NotAuthorisedError, RunNotFoundError

ADAPTER = "war room server"


class WarRoomClient:
    def __init__(self, base_url: str, token: str, *, timeout_s: float = 30.0,
                 transport: httpx.BaseTransport | None = None) -> None:
        url = base_url.strip().rstrip("/")
        if not url.startswith(("http://", "https://")):
            raise InputError(f"--server: '{base_url}' needs http:// or https://")
        if not token.strip():
            raise InputError("--server: set RUNOFSHOW_TOKEN to a token from `runofshow token create`")
        self.base_url = url
        self._client = httpx.Client(base_url=url, timeout=timeout_s, transport=transport,
                                    headers={"authorization": f"Bearer {token.strip()}"})

    def close(self) -> None:
        self._client.close()

    def post(self, run_id: str, what: str, body: dict[str, Any]) -> tuple[bool, dict[str, Any]]:
        """POST /api/runs/{run_id}/{what}: (accepted, the answer's JSON)."""
        path = f"/api/runs/{quote(run_id.strip(), safe='')}/{what}"
        try:
            response = self._client.post(path, json=body)
        except httpx.HTTPError as err:
            raise AdapterError(f"{ADAPTER} {self.base_url}: no answer ({type(err).__name__}: {err})",
                               adapter=ADAPTER, target=self.base_url) from None
        answer = _json(response)
        code = response.status_code
        if code in (200, 201):
            return True, answer
        if code == 409:
            return False, answer
        said = str(answer.get("error") or answer.get("message") or response.reason_phrase).replace("\n", " ")
        where = f"{ADAPTER} {self.base_url}"
        if code == 401:
            raise NotAuthorisedError(f"{where}: 401 {said} (is RUNOFSHOW_TOKEN a live token?)")
        if code == 403:
            raise NotAuthorisedError(f"{where}: 403 {said}")
        if code == 404:
            raise RunNotFoundError(f"{where}: 404 {said}")
        if code in (400, 413, 422):
            raise InputError(f"{where}: {code} {said}")
        raise AdapterError(f"{where}: {code} {said}", adapter=ADAPTER, target=self.base_url)


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


__all__ = ["WarRoomClient"]
