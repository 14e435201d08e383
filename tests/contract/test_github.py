"""Contract tests for `PullRequestHost`: the same suite on the in-memory fake and on the GitHub
adapter, the latter against a local stand-in for the GitHub REST API on 127.0.0.1 (api.github.com
or GitHub Enterprise's /api/v3) that answers the endpoints used with GitHub's response shapes:
list PRs with `Link` pagination through /repositories/{id}/... URLs, one PR, its files, add and
remove labels (404 "Label does not exist"), create a commit status, rate-limit headers on every
answer, scripted failures. Then GitHub specifics (rate limits, retries, pagination, GHE), a freeze
that fails part-way and is re-run over HTTP, and the `freeze` CLI end to end."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from runofshow.adapters.freeze_file import JsonFreezeStore
from runofshow.adapters.github import GitHubPullRequestHost
from runofshow.adapters.memory import InMemoryPullRequestHost
from runofshow.app.steps.freeze import end_freeze, start_freeze
from runofshow.cli.main import main
from runofshow.domain.freeze import PullRequest
from runofshow.domain.plan import Plan
from runofshow.errors import PullRequestHostError
from runofshow.ports import PullRequestHost


class Sleeps(list):
    """A `sleep` that records instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(round(seconds, 3))


# =========================================================================== the local GitHub

TOKEN = "ghp_test_token_0123456789"
REPO_ID = 1300192
DOCS = "https://docs.github.com/rest"


def _user(login: str) -> dict[str, Any]:
    return {"login": login, "id": 583231, "node_id": "MDQ6VXNlcjU4MzIzMQ==", "type": "User",
            "avatar_url": "https://avatars.githubusercontent.com/u/583231?v=4", "site_admin": False,
            "url": f"https://api.github.com/users/{login}", "html_url": f"https://github.com/{login}"}


def label_shape(name: str, i: int) -> dict[str, Any]:
    return {"id": 208045946 + i, "node_id": f"MDU6TGFiZWwyMDgwNDU5N{i}", "name": name,
            "url": f"https://api.github.com/repos/acme/spark-trading/labels/{name}",
            "description": None, "color": "ededed", "default": False}


@dataclass
class FakePR:
    number: int
    title: str
    labels: list[str] = field(default_factory=list)
    files: list[dict[str, Any]] = field(default_factory=list)
    state: str = "open"
    sha: str = ""

    def __post_init__(self) -> None:
        self.sha = self.sha or f"{self.number:040x}"


def file_shape(filename: str, status: str = "modified", previous: str | None = None) -> dict[str, Any]:
    f = {"sha": "bbcd538c8e72b8c175046e27cc8f907076331401", "filename": filename, "status": status,
         "additions": 103, "deletions": 21, "changes": 124,
         "blob_url": f"https://github.com/acme/spark-trading/blob/6dcb09b/{filename}",
         "raw_url": f"https://github.com/acme/spark-trading/raw/6dcb09b/{filename}",
         "contents_url": f"https://api.github.com/repos/acme/spark-trading/contents/{filename}?ref=6dcb09b",
         "patch": "@@ -132,7 +132,7 @@ module Test @@ -1000,7 +1000,7 @@ module Test"}
    if previous:
        f["previous_filename"] = previous
    return f


class FakeGitHub:
    def __init__(self, repo: str = "acme/spark-trading", prs: list[FakePR] | None = None, *,
                 prefix: str = "", page_cap: int = 100, token: str = TOKEN) -> None:
        self.repo, self.prefix, self.page_cap, self.token = repo, prefix, page_cap, token
        self.prs = {p.number: p for p in prs or []}
        self.statuses: list[dict[str, Any]] = []
        self.requests: list[tuple[str, str]] = []
        self.fail_next: list[tuple[str, str, int, dict[str, str], dict[str, Any]]] = []
        self.apply_then_fail: dict[tuple[str, str], int] = {}  # do the write, then answer this status
        self.route_override: Any = None  # (method, path, headers, body) -> (status, headers, data)
        self.remaining = 5000
        self.reset = int(time.time()) + 3600
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out in separate writes

            def log_message(self, *args: Any) -> None:
                pass

            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else None
                with fake._lock:
                    status, headers, data = fake.handle(self.command, self.path, dict(self.headers), body)
                raw = json.dumps(data).encode()
                self.send_response(status)
                for k, v in {"Content-Type": "application/json; charset=utf-8", **headers}.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            do_GET = do_POST = do_DELETE = do_PATCH = _any

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.origin = f"http://127.0.0.1:{self._server.server_address[1]}"
        self.url = self.origin + prefix
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    # ------------------------------------------------------------------ helpers

    def labels_of(self, n: int) -> list[str]:
        return list(self.prs[n].labels)

    def _rl(self) -> dict[str, str]:
        self.remaining = max(0, self.remaining - 1)
        return {"x-ratelimit-limit": "5000", "x-ratelimit-remaining": str(self.remaining),
                "x-ratelimit-reset": str(self.reset), "x-ratelimit-used": str(5000 - self.remaining),
                "x-ratelimit-resource": "core", "X-GitHub-Media-Type": "github.v3; format=json"}

    def _labels(self, n: int) -> list[dict[str, Any]]:
        return [label_shape(x, i) for i, x in enumerate(self.prs[n].labels)]

    def _pr(self, p: FakePR) -> dict[str, Any]:
        base = f"https://api.github.com/repos/{self.repo}"
        return {
            "url": f"{base}/pulls/{p.number}", "id": 1000 + p.number,
            "node_id": f"MDExOlB1bGxSZXF1ZXN0{p.number}",
            "html_url": f"https://github.com/{self.repo}/pull/{p.number}", "number": p.number,
            "state": p.state,
            "locked": False, "title": p.title, "user": _user("octocat"), "body": "Please pull these changes",
            "labels": self._labels(p.number), "milestone": None, "active_lock_reason": None,
            "created_at": "2026-11-20T19:01:12Z", "updated_at": "2026-11-29T20:01:12Z", "closed_at": None,
            "merged_at": None, "merge_commit_sha": None, "assignee": None, "assignees": [],
            "requested_reviewers": [], "requested_teams": [], "draft": False,
            "head": {"label": "octocat:new-topic", "ref": "new-topic", "sha": p.sha,
                     "user": _user("octocat")},
            "base": {"label": "acme:main", "ref": "main", "sha": "6dcb09b5b57875f334f61aebed695e2e4193db5e",
                     "user": _user("acme")},
            "author_association": "MEMBER", "auto_merge": None,
        }

    def _page(
        self, rows: list[Any], path: str, query: dict[str, list[str]],
    ) -> tuple[list[Any], dict[str, str]]:
        per = min(int(query.get("per_page", ["30"])[0]), self.page_cap)
        page = int(query.get("page", ["1"])[0])
        chunk = rows[(page - 1) * per: page * per]
        last = max(1, -(-len(rows) // per))
        headers = {}
        if page < last:
            q = "&".join(f"{k}={v[0]}" for k, v in query.items() if k != "page")
            where = f"{self.url}/repositories/{REPO_ID}/{path}"
            headers["Link"] = (f'<{where}?{q}&page={page + 1}>; rel="next", '
                               f'<{where}?{q}&page={last}>; rel="last"')
        return chunk, headers

    @staticmethod
    def _err(status: int, message: str, doc: str) -> tuple[int, dict[str, str], dict[str, Any]]:
        return status, {}, {"message": message, "documentation_url": f"{DOCS}/{doc}", "status": str(status)}

    # ------------------------------------------------------------------ routes

    def handle(self, method: str, raw_path: str, headers: dict[str, str], body: Any):
        parts = urlsplit(raw_path)
        path, query = unquote(parts.path), parse_qs(parts.query)
        self.requests.append((method, raw_path))
        if self.prefix and not path.startswith(self.prefix):
            return self._err(404, "Not Found", "")
        path = path[len(self.prefix):]
        if headers.get("Authorization") != f"Bearer {self.token}":
            return self._err(401, "Bad credentials", "")
        if self.route_override is not None:
            return self.route_override(method, path, headers, body)
        for i, (m, pat, status, hdrs, data) in enumerate(self.fail_next):
            if m == method and re.fullmatch(pat, path):
                del self.fail_next[i]
                return status, hdrs, data
        rl = self._rl()
        path = re.sub(rf"^/repositories/{REPO_ID}/", f"/repos/{self.repo}/", path)
        repo = f"/repos/{self.repo}"
        if not path.startswith(repo):
            return self._err(404, "Not Found", "repos/repos#get-a-repository")
        rest = path[len(repo):]
        status, extra, data = self._route(method, rest, query, body)
        after = self.apply_then_fail.pop((method, path), None)
        if after is not None:
            return after, rl, {"message": "Server Error"}
        return status, {**rl, **extra}, data

    def _route(self, method: str, rest: str, query: dict[str, list[str]], body: Any):
        if method == "GET" and rest == "/pulls":
            state = query.get("state", ["open"])[0]
            rows = [self._pr(p) for _, p in sorted(self.prs.items()) if state == "all" or p.state == state]
            chunk, h = self._page(rows, "pulls", query)
            return 200, h, chunk
        m = re.fullmatch(r"/pulls/(\d+)(/files)?", rest)
        if m and method == "GET":
            n = int(m.group(1))
            if n not in self.prs:
                return self._err(404, "Not Found", "pulls/pulls#get-a-pull-request")
            if m.group(2):
                chunk, h = self._page(self.prs[n].files, f"pulls/{n}/files", query)
                return 200, h, chunk
            return 200, {}, self._pr(self.prs[n])
        m = re.fullmatch(r"/issues/(\d+)/labels(?:/(.+))?", rest)
        if m:
            n = int(m.group(1))
            if n not in self.prs:
                return self._err(404, "Not Found", "issues/labels")
            pr = self.prs[n]
            if method == "GET" and not m.group(2):
                return 200, {}, self._labels(n)
            if method == "POST" and not m.group(2):
                names = body["labels"] if isinstance(body, dict) else body
                for name in names:
                    if name not in pr.labels:
                        pr.labels.append(name)
                return 200, {}, self._labels(n)
            if method == "DELETE" and m.group(2):
                if m.group(2) not in pr.labels:
                    return self._err(404, "Label does not exist",
                                     "issues/labels#remove-a-label-from-an-issue")
                pr.labels.remove(m.group(2))
                return 200, {}, self._labels(n)
        m = re.fullmatch(r"/statuses/([0-9a-f]{40})", rest)
        if m and method == "POST":
            if body.get("state") not in ("error", "failure", "pending", "success"):
                return self._err(422, "Validation Failed", "commits/statuses#create-a-commit-status")
            st = {"url": f"https://api.github.com/repos/{self.repo}/statuses/{m.group(1)}",
                  "avatar_url": "https://github.com/images/error/hubot_happy.gif",
                  "id": 1 + len(self.statuses), "node_id": "MDY6U3RhdHVzMQ==", "state": body["state"],
                  "description": body.get("description"),
                  "target_url": body.get("target_url"), "context": body.get("context", "default"),
                  "created_at": "2026-11-30T10:00:00Z", "updated_at": "2026-11-30T10:00:00Z",
                  "creator": _user("runofshow-bot"), "sha": m.group(1)}
            self.statuses.append(st)
            return 201, {}, st
        return self._err(404, "Not Found", "")


# =========================================================================== the contract


@pytest.fixture
def fake() -> Iterator[FakeGitHub]:
    gh = FakeGitHub(prs=seed_prs(), page_cap=2)
    yield gh
    gh.close()


def github_host(gh: FakeGitHub, **kw: Any) -> GitHubPullRequestHost:
    opts: dict[str, Any] = {"token": TOKEN, "base_url": gh.url, "sleep": Sleeps(), "backoff_s": 0.01}
    opts.update(kw)
    return GitHubPullRequestHost(gh.repo, **opts)


def seed_prs() -> list[FakePR]:
    return [
        FakePR(1, "feat: limit orders", ["feature"], [file_shape("src/limit.py")]),
        FakePR(2, "Bump httpx from 0.27.0 to 0.28.1", [], [file_shape("requirements.txt")]),
        FakePR(3, "Waiting for legal", ["hold-for-canary"], [file_shape("src/x.py")]),
        FakePR(4, "hotfix: rounding", ["hotfix"],
               [file_shape("src/round.py"), file_shape("src/new_name.py", "renamed", "migrations/0001.sql")]),
        FakePR(5, "docs: runbook", [], [file_shape(f"docs/page{i}.md", "added") for i in range(5)]),
        FakePR(6, "closed one", [], [], state="closed"),
    ]


def memory_host() -> InMemoryPullRequestHost:
    prs = [PullRequest(p.number, p.title, tuple(p.labels), p.sha, p.state) for p in seed_prs()]
    files = {}
    for p in seed_prs():
        names: list[str] = []
        for f in p.files:
            for key in ("previous_filename", "filename"):
                if f.get(key) and f[key] not in names:
                    names.append(f[key])
        files[p.number] = names
    return InMemoryPullRequestHost("acme/spark-trading", prs, files)


@pytest.fixture(params=["memory", "github"])
def host(request: pytest.FixtureRequest, fake: FakeGitHub) -> Iterator[PullRequestHost]:
    if request.param == "memory":
        yield memory_host()
    else:
        with github_host(fake) as h:
            yield h


def test_contract_lists_open_prs_across_pages(host: PullRequestHost):
    assert isinstance(host, PullRequestHost) and host.repo == "acme/spark-trading"
    prs = host.open_pull_requests()
    assert [p.number for p in prs] == [1, 2, 3, 4, 5]
    one = prs[0]
    assert one.title == "feat: limit orders" and one.labels == ("feature",)
    assert one.head_sha == f"{1:040x}" and one.state == "open"
    assert host.pull_request(3).labels == ("hold-for-canary",)


def test_contract_files_include_both_names_of_a_rename(host: PullRequestHost):
    assert host.changed_files(4) == ["src/round.py", "migrations/0001.sql", "src/new_name.py"]
    assert host.changed_files(5) == [f"docs/page{i}.md" for i in range(5)]  # three pages of two


def test_contract_labels_are_idempotent_with_a_read_back(host: PullRequestHost):
    assert host.add_label(2, "hold-for-canary") == ("hold-for-canary",)
    assert host.add_label(2, "hold-for-canary") == ("hold-for-canary",)
    assert host.labels(2) == ("hold-for-canary",)
    assert host.add_label(1, "hold for canary/v1") == ("feature", "hold for canary/v1")
    assert host.remove_label(1, "hold for canary/v1") is True
    assert host.remove_label(1, "hold for canary/v1") is False
    assert host.labels(1) == ("feature",)


def test_contract_status_and_unknown_pr(host: PullRequestHost):
    host.set_status(f"{4:040x}", "success", "allowed: hotfix", "runofshow/freeze-gate", "https://ci/1")
    with pytest.raises(PullRequestHostError):
        host.pull_request(99)


# =========================================================================== GitHub specifics


def test_github_follows_link_pages_and_sends_the_right_headers(fake: FakeGitHub):
    with github_host(fake) as h:
        h.open_pull_requests()
    gets = [p for m, p in fake.requests if m == "GET"]
    assert gets[0].startswith("/repos/acme/spark-trading/pulls?state=open&per_page=100")
    assert gets[1].startswith(f"/repositories/{REPO_ID}/pulls?") and gets[2].endswith("page=3")
    assert len(gets) == 3


def test_github_enterprise_base_url():
    gh = FakeGitHub(prs=seed_prs(), prefix="/api/v3")
    try:
        with github_host(gh) as h:
            assert [p.number for p in h.open_pull_requests()] == [1, 2, 3, 4, 5]
            h.set_status(f"{1:040x}", "failure", "blocked", "runofshow/freeze-gate")
        assert all(p.startswith("/api/v3/") for _, p in gh.requests)
        assert gh.statuses[0]["state"] == "failure"
    finally:
        gh.close()


def test_github_status_body(fake: FakeGitHub):
    with github_host(fake) as h:
        h.set_status(f"{4:040x}", "success", "x" * 300, "runofshow/freeze-gate", "https://ci.example/1")
    (st,) = fake.statuses
    assert st["context"] == "runofshow/freeze-gate" and len(st["description"]) == 140
    assert st["target_url"] == "https://ci.example/1"


def test_github_refuses_a_next_page_on_another_host(fake: FakeGitHub):
    def other_host(method, path, headers, body):
        return 200, {"Link": '<https://evil.example/repos/x/pulls?page=2>; rel="next"'}, []
    fake.route_override = other_host
    with github_host(fake) as h, pytest.raises(PullRequestHostError, match="another host"):
        h.open_pull_requests()


def test_bad_credentials_fail_at_once_with_a_hint(fake: FakeGitHub):
    sleeps = Sleeps()
    with github_host(fake, token="wrong", sleep=sleeps) as h, pytest.raises(PullRequestHostError) as ex:
        h.open_pull_requests()
    assert "401 Bad credentials" in str(ex.value) and "GITHUB_TOKEN" in str(ex.value)
    assert ex.value.adapter == "github" and sleeps == [] and len(fake.requests) == 1


RL_BODY = {"message": "API rate limit exceeded for user ID 583231.",
           "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"}
SECONDARY = {"message": "You have exceeded a secondary rate limit. Please wait a few minutes before you "
                        "try again. If you reach out to GitHub Support for help, please include the "
                        "request ID",
             "documentation_url": "https://docs.github.com/free-pro-team@latest/rest/overview/"
                                  "rate-limits-for-the-rest-api#about-secondary-rate-limits"}
NOW = 1_800_000_000.0


def primary_limited(reset: float) -> dict[str, str]:
    return {"x-ratelimit-limit": "5000", "x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(reset)),
            "x-ratelimit-used": "5000", "x-ratelimit-resource": "core"}


def test_primary_rate_limit_waits_until_reset(fake: FakeGitHub):
    fake.fail_next.append(("GET", r"/repos/.*/pulls/1", 403, primary_limited(NOW + 30), RL_BODY))
    sleeps = Sleeps()
    with github_host(fake, sleep=sleeps, now=lambda: NOW) as h:
        assert h.pull_request(1).number == 1
    assert sleeps == [31.0]


def test_primary_rate_limit_far_away_is_an_error_not_a_long_sleep(fake: FakeGitHub):
    fake.fail_next.append(("GET", r"/repos/.*/pulls/1", 429, primary_limited(NOW + 3600), RL_BODY))
    sleeps = Sleeps()
    with github_host(fake, sleep=sleeps, now=lambda: NOW) as h, \
            pytest.raises(PullRequestHostError, match="rate limited until 2027-01-15T09:00:01Z"):
        h.pull_request(1)
    assert sleeps == []


def test_secondary_rate_limit_honours_retry_after(fake: FakeGitHub):
    fake.fail_next.append(("POST", r"/repos/.*/issues/2/labels", 403, {"retry-after": "7"}, SECONDARY))
    fake.fail_next.append(("POST", r"/repos/.*/issues/2/labels", 429, {}, SECONDARY))
    sleeps = Sleeps()
    with github_host(fake, sleep=sleeps, now=lambda: NOW) as h:
        assert h.add_label(2, "hold-for-canary") == ("hold-for-canary",)
    assert sleeps == [7.0, 60.0]  # then a minute when no header says how long


def test_an_exhausted_quota_on_a_success_delays_the_next_request(fake: FakeGitHub):
    fake.remaining = 1  # the next answer says remaining 0
    fake.reset = int(NOW + 20)
    sleeps = Sleeps()
    with github_host(fake, sleep=sleeps, now=lambda: NOW) as h:
        h.pull_request(1)
        assert sleeps == []
        h.pull_request(2)
    assert sleeps == [21.0]


def test_server_errors_are_retried_with_backoff_then_given_up(fake: FakeGitHub):
    for _ in range(2):
        fake.fail_next.append(("GET", r"/repos/.*/pulls/1", 502, {}, {"message": "Server Error"}))
    sleeps = Sleeps()
    with github_host(fake, sleep=sleeps, backoff_s=0.5) as h:
        assert h.pull_request(1).number == 1
        assert sleeps == [0.5, 1.0]
        for _ in range(3):
            fake.fail_next.append(("GET", r"/repos/.*/pulls/2", 503, {}, {"message": "Unavailable"}))
    with github_host(fake, max_attempts=3) as h, \
            pytest.raises(PullRequestHostError, match="after 3 attempts"):
        h.pull_request(2)


def test_connection_refused_is_a_host_error():
    h = GitHubPullRequestHost("acme/spark-trading", base_url="http://127.0.0.1:9", max_attempts=2,
                              sleep=Sleeps())
    with h, pytest.raises(PullRequestHostError, match="ConnectError"):
        h.open_pull_requests()


def test_remove_label_whose_answer_was_lost_still_counts(fake: FakeGitHub):
    fake.prs[2].labels.append("hold-for-canary")
    fake.apply_then_fail[("DELETE", "/repos/acme/spark-trading/issues/2/labels/hold-for-canary")] = 502
    with github_host(fake) as h:
        assert h.remove_label(2, "hold-for-canary") is True  # removed, then a 404 on the retry
    assert fake.labels_of(2) == []


# =========================================================================== freeze over HTTP


def test_freeze_partial_failure_and_rerun_over_http(fake: FakeGitHub, tmp_path: Path):
    rules = Plan().freeze
    t0 = datetime(2026, 12, 5, 3, 30, tzinfo=UTC)
    for _ in range(2):
        fake.fail_next.append(("POST", r"/repos/.*/issues/4/labels", 500, {}, {"message": "Server Error"}))
    with github_host(fake, max_attempts=2) as h, pytest.raises(PullRequestHostError, match="part-way"):
        start_freeze(h, rules, "v1.4.0", tmp_path, t0, store=JsonFreezeStore(tmp_path))
    state = json.loads((tmp_path / "freeze_state.json").read_text())
    assert state["labelled"] == [1, 2] and state["to_label"] == [1, 2, 4, 5] and state["status"] == "starting"
    with github_host(fake) as h:
        res = start_freeze(h, rules, "v1.4.0", tmp_path, t0, store=JsonFreezeStore(tmp_path))
        assert res.newly_labelled == (4, 5) and res.record.held_by_hand == [3]
        assert sorted(n for n, p in fake.prs.items() if "hold-for-canary" in p.labels) == [1, 2, 3, 4, 5]
        end = end_freeze(h, tmp_path, t0 + timedelta(hours=24), store=JsonFreezeStore(tmp_path))
    assert end.record.released == [1, 2, 4, 5]
    assert [n for n, p in fake.prs.items() if "hold-for-canary" in p.labels] == [3]
    assert "PRs released: 4" in (tmp_path / "freeze_window_end.txt").read_text()


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as ex:
        main(argv)
    out, err = capsys.readouterr()
    return int(ex.value.code or 0), out, err


def test_freeze_cli_against_the_local_api(fake: FakeGitHub, tmp_path: Path, capsys, monkeypatch):
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    monkeypatch.setenv("GITHUB_API_URL", fake.url)
    common = ["--repo", "acme/spark-trading", "--evidence-dir", str(tmp_path)]
    code, out, err = run_cli(["freeze", "start", *common, "--release", "v1.4.0"], capsys)
    assert code == 0, err
    assert "labelled #1, #2, #4, #5" in out and (tmp_path / "freeze_window_start.txt").exists()
    code, out, _ = run_cli(["freeze", "status", *common, "--json"], capsys)
    st = json.loads(out)
    assert code == 0 and st["active"] and st["on_hold_now"] == [1, 2, 3, 4, 5]
    saturday = "2026-12-05T23:00:00+03:00"
    code, out, _ = run_cli(["freeze", "check", *common, "--pr", "1", "--post-status", "--at", saturday],
                           capsys)
    assert code == 3 and "feature: BLOCKED" in out
    code, out, _ = run_cli(["freeze", "check", *common, "--pr", "5", "--post-status", "--at", saturday],
                           capsys)
    assert code == 0 and "documentation: ALLOWED" in out
    code, out, _ = run_cli(["freeze", "check", *common, "--pr", "4", "--at", saturday], capsys)
    assert code == 3 and "schema_migration" in out  # the rename out of migrations/ counts
    assert [s["state"] for s in fake.statuses] == ["failure", "success"]
    code, out, _ = run_cli(["freeze", "end", *common], capsys)
    assert code == 0 and "released 4 (#1, #2, #4, #5)" in out
    code, out, _ = run_cli(["freeze", "end", *common], capsys)
    assert code == 0 and "already ended" in out
    code, out, _ = run_cli(["freeze", "check", *common, "--pr", "1", "--at", saturday], capsys)
    assert code == 0 and "freeze not active" in out
    code, out, _ = run_cli(["freeze", "check", *common, "--pr", "3", "--at", saturday], capsys)
    assert code == 3 and "#3 carries 'hold-for-canary'" in out  # held by hand: still on hold
    code, out, _ = run_cli(["freeze", "check", *common, "--pr", "1", "--freeze", "active"], capsys)
    assert code == 3


def test_freeze_cli_bad_input(capsys, tmp_path: Path, monkeypatch):
    monkeypatch.delenv("GITHUB_API_URL", raising=False)
    code, _, err = run_cli(["freeze", "start", "--repo", "not-a-repo", "--evidence-dir", str(tmp_path)],
                           capsys)
    assert code == 2 and "OWNER/NAME" in err
    code, _, err = run_cli(["freeze", "check", "--repo", "a/b", "--pr", "1", "--freeze", "maybe"], capsys)
    assert code == 2 and "--freeze" in err
    code, _, err = run_cli(["freeze", "status", "--repo", "a/b", "--api-url", "ftp://x"], capsys)
    assert code == 2 and "needs http:// or https://" in err


def test_an_answer_of_the_wrong_shape_is_a_host_error(fake: FakeGitHub):
    fake.route_override = lambda method, path, headers, body: (200, {}, "<html>proxy login</html>")
    with github_host(fake) as h:
        with pytest.raises(PullRequestHostError, match="unexpected answer"):
            h.pull_request(1)
        with pytest.raises(PullRequestHostError, match="expected a list"):
            h.open_pull_requests()
