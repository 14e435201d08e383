"""GitHub (or GitHub Enterprise) pull requests behind `PullRequestHost`, over the REST API with httpx.

Endpoints: list open PRs (`GET /repos/{o}/{r}/pulls`, every page through the `Link` header), one
PR, its files, its labels, add a label (`POST .../issues/{n}/labels`), remove one
(`DELETE .../issues/{n}/labels/{name}`, 404 "Label does not exist" when it is not there) and
create a commit status (`POST .../statuses/{sha}`).

Rate limits, as GitHub documents them: a 403/429 with `retry-after` waits that many seconds; with
`x-ratelimit-remaining: 0` waits until `x-ratelimit-reset`; any other 429 (or a 403 whose message
says "rate limit") waits a minute. A success that leaves `x-ratelimit-remaining: 0` makes the next
request wait for the reset. Waits longer than `max_wait_s` are not slept: they raise
`PullRequestHostError` naming the time to come back. 5xx answers and transport errors are retried
with exponential backoff (`adapters.http`), `max_attempts` in all.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit

import httpx

from runofshow.adapters.http import AttemptFailed, with_retries
from runofshow.domain.freeze import PullRequest
from runofshow.errors import PullRequestHostError

DEFAULT_API_URL = "https://api.github.com"
T = TypeVar("T")
MAX_PAGES = 100


def _message(resp: httpx.Response) -> str:
    try:
        body = resp.json()
    except ValueError:
        return resp.text[:200]
    return str(body.get("message", "")) if isinstance(body, dict) else ""


def _pull_request(data: dict[str, Any]) -> PullRequest:
    return PullRequest(
        number=int(data["number"]),
        title=str(data.get("title") or ""),
        labels=tuple(str(x["name"]) for x in data.get("labels") or ()),
        head_sha=str((data.get("head") or {}).get("sha") or ""),
        state=str(data.get("state") or "open"),
        draft=bool(data.get("draft", False)),
        author=str((data.get("user") or {}).get("login") or ""),
        url=str(data.get("html_url") or ""),
    )


class GitHubPullRequestHost:
    """`PullRequestHost` for one repository on GitHub or GitHub Enterprise (`base_url` .../api/v3)."""

    def __init__(
        self, repo: str, *, token: str | None = None, base_url: str = DEFAULT_API_URL,
        timeout_s: float = 10.0, max_attempts: int = 5, max_wait_s: float = 120.0,
        backoff_s: float = 0.5, sleep: Callable[[float], None] = time.sleep,
        now: Callable[[], float] = time.time, transport: httpx.BaseTransport | None = None,
        per_page: int = 100,
    ) -> None:
        owner, _, name = repo.partition("/")
        if not owner or not name or "/" in name:
            raise ValueError(f"repository '{repo}' is not OWNER/NAME")
        self._repo = repo
        self._base = base_url.rstrip("/")
        self._origin = urlsplit(self._base)[:2]
        self._max_attempts = max(1, max_attempts)
        self._max_wait_s = max_wait_s
        self._backoff_s = backoff_s
        self._sleep = sleep
        self._now = now
        self._per_page = per_page
        self._not_before = 0.0
        headers = {
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
            "User-Agent": "runofshow",
        }
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._http = httpx.Client(headers=headers, timeout=timeout_s, transport=transport)

    # ------------------------------------------------------------------ the port

    @property
    def repo(self) -> str:
        return self._repo

    def open_pull_requests(self) -> list[PullRequest]:
        rows = self._get_all(f"/pulls?state=open&per_page={self._per_page}")
        return self._parse(self._url("/pulls"), lambda: [_pull_request(r) for r in rows])

    def pull_request(self, number: int) -> PullRequest:
        url = self._url(f"/pulls/{int(number)}")
        return self._parse(url, lambda: _pull_request(self._request("GET", url).json()))

    def changed_files(self, number: int) -> list[str]:
        out: list[str] = []
        for f in self._get_all(f"/pulls/{int(number)}/files?per_page={self._per_page}"):
            for key in ("previous_filename", "filename"):
                if f.get(key) and f[key] not in out:
                    out.append(str(f[key]))
        return out

    def labels(self, number: int) -> tuple[str, ...]:
        rows = self._get_all(f"/issues/{int(number)}/labels?per_page={self._per_page}")
        return tuple(str(x["name"]) for x in rows)

    def add_label(self, number: int, label: str) -> tuple[str, ...]:
        url = self._url(f"/issues/{int(number)}/labels")
        resp = self._request("POST", url, json={"labels": [label]})
        return self._parse(url, lambda: tuple(str(x["name"]) for x in resp.json()))

    def remove_label(self, number: int, label: str) -> bool:
        url = self._url(f"/issues/{int(number)}/labels/{quote(label, safe='')}")
        resp, ambiguous = self._tracked("DELETE", url, ok=(200, 204, 404))
        if resp.status_code != 404:
            return True
        if "label does not exist" in _message(resp).lower():
            return ambiguous  # an earlier attempt may have removed it, then lost the answer
        raise self._error("DELETE", url, resp)

    def set_status(
        self, sha: str, state: str, description: str, context: str, target_url: str | None = None,
    ) -> None:
        if state not in ("success", "failure", "error", "pending"):
            raise ValueError(f"commit status state '{state}' is not success/failure/error/pending")
        body: dict[str, Any] = {"state": state, "description": description[:140], "context": context}
        if target_url:
            body["target_url"] = target_url
        self._request("POST", self._url(f"/statuses/{quote(sha, safe='')}"), json=body, ok=(201, 200))

    def call(self, method: str, path: str, *, json: Any = None, ok: tuple[int, ...] = (200,)) -> Any:
        """One call under /repos/OWNER/NAME (`path` e.g. "/deployments"), with the retries and rate
        limits above; the JSON answer. For the repository's other GitHub adapters (deployments)."""
        url = self._url(path)
        resp = self._request(method, url, json=json, ok=ok)
        return self._parse(url, resp.json)

    def call_all(self, path: str) -> list[dict[str, Any]]:
        """Every page of a list under /repos/OWNER/NAME."""
        return self._get_all(path)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> GitHubPullRequestHost:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ HTTP

    def _url(self, path: str) -> str:
        return f"{self._base}/repos/{quote(self._repo, safe='/')}{path}"

    @staticmethod
    def _parse(url: str, read: Callable[[], T]) -> T:
        """Read an answer's JSON; a body of another shape is the host's failure, not a crash."""
        try:
            return read()
        except (ValueError, KeyError, TypeError, AttributeError) as ex:
            raise PullRequestHostError(f"GitHub {url}: unexpected answer ({type(ex).__name__}: {ex})",
                                       adapter="github", target=url) from None

    def _get_all(self, path: str) -> list[dict[str, Any]]:
        url: str | None = self._url(path)
        rows: list[dict[str, Any]] = []
        for _ in range(MAX_PAGES):
            if url is None:
                return rows
            resp = self._request("GET", url)
            page = self._parse(url, resp.json)
            if not isinstance(page, list):
                raise PullRequestHostError(
                    f"GitHub GET {url}: expected a list, got {type(page).__name__}",
                    adapter="github", target=url,
                )
            rows.extend(page)
            url = resp.links.get("next", {}).get("url")
            if url is not None and urlsplit(url)[:2] != self._origin:
                raise PullRequestHostError(
                    f"GitHub GET: refusing a next page on another host: {url}",
                    adapter="github", target=url,
                )
        raise PullRequestHostError(f"GitHub GET {path}: more than {MAX_PAGES} pages", adapter="github")

    def _error(self, method: str, url: str, resp: httpx.Response) -> PullRequestHostError:
        hint = ""
        if resp.status_code in (401, 403, 404):
            hint = " (is GITHUB_TOKEN set, with access to the repository?)"
        return PullRequestHostError(
            f"GitHub {method} {url}: {resp.status_code} {_message(resp) or resp.reason_phrase}{hint}",
            adapter="github", target=url,
        )

    def _wait_for(self, resume_at: float, what: str, url: str) -> float:
        wait = max(0.0, resume_at - self._now())
        if wait > self._max_wait_s:
            when = datetime.fromtimestamp(resume_at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            raise PullRequestHostError(
                f"GitHub {what}: rate limited until {when}; try again then", adapter="github", target=url
            )
        return wait

    def _rate_limit_wait(self, resp: httpx.Response, url: str) -> float | None:
        """Seconds to wait when `resp` is a rate-limit answer; None when it is not one."""
        h = resp.headers
        if resp.status_code not in (403, 429):
            return None
        retry_after = h.get("retry-after")
        if retry_after is not None:
            try:
                return self._wait_for(self._now() + float(retry_after), "secondary rate limit", url)
            except ValueError:
                return self._wait_for(self._now() + 60, "secondary rate limit", url)
        if h.get("x-ratelimit-remaining") == "0" and h.get("x-ratelimit-reset"):
            return self._wait_for(float(h["x-ratelimit-reset"]) + 1, "primary rate limit", url)
        if resp.status_code == 429 or "rate limit" in _message(resp).lower():
            return self._wait_for(self._now() + 60, "secondary rate limit", url)
        return None

    def _send_once(self, method: str, url: str, json: Any, ok: tuple[int, ...]) -> httpx.Response:
        if self._not_before > self._now():
            self._sleep(self._wait_for(self._not_before, "primary rate limit", url))
        resp = self._http.request(method, url, json=json)
        if resp.status_code in ok:
            if resp.headers.get("x-ratelimit-remaining") == "0" and resp.headers.get("x-ratelimit-reset"):
                self._not_before = float(resp.headers["x-ratelimit-reset"]) + 1  # quota spent: wait next time
            return resp
        wait = self._rate_limit_wait(resp, url)
        if wait is not None:
            raise AttemptFailed(f"GitHub {method} {url}: {resp.status_code} rate limited", wait_s=wait)
        if resp.status_code >= 500:
            why = _message(resp) or resp.reason_phrase
            raise AttemptFailed(f"GitHub {method} {url}: {resp.status_code} {why}")
        raise self._error(method, url, resp)

    def _request(
        self, method: str, url: str, *, json: Any = None, ok: tuple[int, ...] = (200,),
    ) -> httpx.Response:
        return self._tracked(method, url, json=json, ok=ok)[0]

    def _tracked(
        self, method: str, url: str, *, json: Any = None, ok: tuple[int, ...] = (200,),
    ) -> tuple[httpx.Response, bool]:
        """The answer, and whether an earlier attempt may have reached GitHub (5xx or lost answer)."""
        ambiguous = False

        def once() -> httpx.Response:
            nonlocal ambiguous
            try:
                return self._send_once(method, url, json, ok)
            except AttemptFailed as ex:
                ambiguous = ambiguous or ex.wait_s is None
                raise
            except httpx.TransportError:
                ambiguous = True
                raise

        try:
            # a rate limit's wait was checked against max_wait_s already; it is slept in full
            resp = with_retries(once, attempts=self._max_attempts, backoff_s=self._backoff_s,
                                max_server_wait_s=math.inf, sleep=self._sleep)
            return resp, ambiguous
        except AttemptFailed as ex:
            raise PullRequestHostError(
                f"{ex.message} (gave up after {self._max_attempts} attempts)", adapter="github", target=url
            ) from None
        except httpx.HTTPError as ex:
            raise PullRequestHostError(
                f"GitHub {method} {url}: {type(ex).__name__}: {ex}", adapter="github", target=url
            ) from None
