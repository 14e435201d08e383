"""The preflight's HTTP probe on httpx: GET or HEAD, redirects followed, at most 64 KiB of the body."""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx

from runofshow.errors import AdapterError
from runofshow.ports import HttpAnswer

MAX_BODY = 64 * 1024


def host_of(url: str) -> str:
    """The URL's host:port only (webhook URLs carry secrets in their path)."""
    return urlsplit(url).netloc or url


class HttpxProbe:
    """An `HttpProbe`. `transport` is for tests (`httpx.MockTransport`)."""

    def __init__(self, transport: httpx.BaseTransport | None = None) -> None:
        self._transport = transport

    def fetch(self, method: str, url: str, timeout_s: float) -> HttpAnswer:
        try:
            with httpx.Client(timeout=timeout_s, follow_redirects=True, transport=self._transport,
                              headers={"User-Agent": "runofshow-preflight"}) as client:
                with client.stream(method, url) as response:
                    body = b""
                    for chunk in response.iter_bytes():
                        body += chunk
                        if len(body) >= MAX_BODY:
                            break
                    return HttpAnswer(response.status_code,
                                      body[:MAX_BODY].decode(response.encoding or "utf-8", "replace"))
        except httpx.HTTPError as err:
            raise AdapterError(f"{host_of(url)}: {type(err).__name__}: {err}", adapter="httpx",
                               target=host_of(url)) from None
