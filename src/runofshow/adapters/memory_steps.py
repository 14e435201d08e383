"""In-memory fakes of the T-minus steps' ports: market calendar, pull requests, the freeze record,
the preflight's HTTP probe and command runner, and the blast radius' load generator. Production
code like `runofshow.adapters.memory`: they pass the same contract tests as the real adapters.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import date, datetime, time
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from runofshow.domain.freeze import FreezeRecord, PullRequest
from runofshow.domain.windows import MarketDay
from runofshow.errors import AdapterError, PullRequestHostError
from runofshow.ports import CommandResult, HttpAnswer, LoadResult

# --------------------------------------------------------------------------- market calendar, PR host
# (issue 4)


class FixedMarketCalendar:
    """A `MarketCalendar` from fixed facts, XIST-shaped by default: Monday-Friday sessions
    10:00-18:00 in `timezone`, except `holidays` (date -> name); `early_closes` (date -> close
    time) close early. Days outside [first, last] are unknown (possibly trading)."""

    def __init__(
        self, *, holidays: Mapping[date, str] | None = None,
        early_closes: Mapping[date, time] | None = None, first: date = date(2000, 1, 3),
        last: date = date(2099, 12, 31), timezone: str = "Europe/Istanbul",
        open_time: time = time(10), close_time: time = time(18), name: str = "FIXED",
    ) -> None:
        self._holidays = dict(holidays or {})
        self._early = dict(early_closes or {})
        self._first, self._last = first, last
        self._tz = ZoneInfo(timezone)
        self._open, self._close = open_time, close_time
        self._name = name

    @property
    def name(self) -> str:
        return self._name

    def bounds(self) -> tuple[date, date]:
        return self._first, self._last

    def market_day(self, day: date) -> MarketDay:
        if not self._first <= day <= self._last:
            return MarketDay(day=day, known=False, note=f"is outside the {self._name} calendar")
        if day.weekday() >= 5:
            return MarketDay(day=day)
        if day in self._holidays:
            return MarketDay(day=day, holiday=self._holidays[day])
        close = self._early.get(day, self._close)
        return MarketDay(
            day=day, session=True, open_at=datetime.combine(day, self._open, tzinfo=self._tz),
            close_at=datetime.combine(day, close, tzinfo=self._tz), early_close=day in self._early,
            note="half day" if day in self._early else "",
        )


class InMemoryPullRequestHost:
    """A `PullRequestHost` held in memory. `fail_adds_after=N` makes every `add_label` after the
    first N successful ones raise `PullRequestHostError` (a failure part-way); set it back to None
    to "recover". `statuses` records every commit status set; `calls` every write."""

    def __init__(
        self, repo: str = "acme/spark-trading", prs: Iterable[PullRequest] = (),
        files: Mapping[int, Sequence[str]] | None = None, *, fail_adds_after: int | None = None,
        fail_removes_after: int | None = None,
    ) -> None:
        self._repo = repo
        self.prs: dict[int, PullRequest] = {p.number: p for p in prs}
        self.files: dict[int, list[str]] = {k: list(v) for k, v in (files or {}).items()}
        self.fail_adds_after = fail_adds_after
        self.fail_removes_after = fail_removes_after
        self.statuses: list[dict[str, Any]] = []
        self.calls: list[tuple[str, int, str]] = []
        self._lock = threading.Lock()

    @property
    def repo(self) -> str:
        return self._repo

    def _get(self, number: int) -> PullRequest:
        if number not in self.prs:
            raise PullRequestHostError(f"memory: no pull request #{number} in {self._repo}",
                                       adapter="memory", target=self._repo)
        return self.prs[number]

    def open_pull_requests(self) -> list[PullRequest]:
        return [p for _, p in sorted(self.prs.items()) if p.state == "open"]

    def pull_request(self, number: int) -> PullRequest:
        return self._get(number)

    def changed_files(self, number: int) -> list[str]:
        self._get(number)
        return list(self.files.get(number, []))

    def labels(self, number: int) -> tuple[str, ...]:
        return self._get(number).labels

    def _writes(self, kind: str) -> int:
        return sum(1 for c in self.calls if c[0] == kind)

    def add_label(self, number: int, label: str) -> tuple[str, ...]:
        with self._lock:
            pr = self._get(number)
            if self.fail_adds_after is not None and self._writes("add") >= self.fail_adds_after:
                raise PullRequestHostError(f"memory: adding '{label}' to #{number} failed",
                                           adapter="memory", target=self._repo)
            self.calls.append(("add", number, label))
            if not pr.has_label(label):
                self.prs[number] = replace(pr, labels=(*pr.labels, label))
            return self.prs[number].labels

    def remove_label(self, number: int, label: str) -> bool:
        with self._lock:
            pr = self._get(number)
            if self.fail_removes_after is not None and self._writes("remove") >= self.fail_removes_after:
                raise PullRequestHostError(f"memory: removing '{label}' from #{number} failed",
                                           adapter="memory", target=self._repo)
            self.calls.append(("remove", number, label))
            if not pr.has_label(label):
                return False
            self.prs[number] = replace(pr, labels=tuple(x for x in pr.labels if x.lower() != label.lower()))
            return True

    def set_status(
        self, sha: str, state: str, description: str, context: str, target_url: str | None = None,
    ) -> None:
        self.statuses.append({"sha": sha, "state": state, "description": description[:140],
                              "context": context, "target_url": target_url})


# --------------------------------------------------------------------------- freeze record


class InMemoryFreezeStore:
    """A `FreezeStore` held in memory; `load` gives a copy, as a file would."""

    def __init__(self, record: FreezeRecord | None = None, location: str = "memory") -> None:
        self._record = copy.deepcopy(record)
        self._location = location
        self.saves = 0

    @property
    def location(self) -> str:
        return self._location

    def load(self) -> FreezeRecord | None:
        return copy.deepcopy(self._record)

    def save(self, record: FreezeRecord) -> None:
        self._record = copy.deepcopy(record)
        self.saves += 1


# --------------------------------------------------------------------------- preflight: HTTP, commands


class ScriptedHttp:
    """An `HttpProbe` answering from a table: `"METHOD url"` first, then `url`; a URL missing
    from it is unreachable (`AdapterError`, like a refused connection). `asked` records each call."""

    def __init__(self, answers: Mapping[str, HttpAnswer | int] | None = None) -> None:
        self.answers: dict[str, HttpAnswer | int] = dict(answers or {})
        self.asked: list[tuple[str, str, float]] = []

    def fetch(self, method: str, url: str, timeout_s: float) -> HttpAnswer:
        self.asked.append((method, url, timeout_s))
        answer = self.answers.get(f"{method} {url}", self.answers.get(url))
        if answer is None:
            host = urlsplit(url).netloc or url
            raise AdapterError(f"{host}: ConnectError: nothing scripted", adapter="memory", target=host)
        return HttpAnswer(answer) if isinstance(answer, int) else answer


class ScriptedCommands:
    """A `CommandRunner` answering from a table keyed by the command's last argument (the script
    for `/bin/sh -c SCRIPT`); unknown commands cannot start (`AdapterError`). A result with
    `exit_code=None` stands for a command killed at its timeout. `ran` records each call."""

    def __init__(self, results: Mapping[str, CommandResult] | None = None) -> None:
        self.results = dict(results or {})
        self.ran: list[tuple[tuple[str, ...], float]] = []

    def run(self, argv: Sequence[str], timeout_s: float) -> CommandResult:
        self.ran.append((tuple(argv), timeout_s))
        key = argv[-1] if argv else ""
        if key not in self.results:
            raise AdapterError(f"[Errno 2] No such file or directory: '{key}'", adapter="memory", target=key)
        return self.results[key]


# --------------------------------------------------------------------------- blast radius: load


class ScriptedLoad:
    """A `LoadGenerator` that sends nothing: every run sees `latency_s` per request and fails the
    requests whose index is in `failing` (with `failure`). Reports progress once, at the end."""

    def __init__(self, latency_s: float = 0.01, failing: Iterable[int] = (), failure: str = "HTTP 503",
                 elapsed_s: float | None = None) -> None:
        self.latency_s, self.failing, self.failure = latency_s, set(failing), failure
        self.elapsed_s = elapsed_s
        self.runs: list[tuple[str, int, float, int, float]] = []

    def run(self, url: str, requests: int, rate: float, concurrency: int, timeout_s: float,
            on_progress: Callable[[int, int], None] | None = None) -> LoadResult:
        self.runs.append((url, requests, rate, concurrency, timeout_s))
        failed = len({i for i in self.failing if 0 <= i < requests})
        if on_progress is not None:
            on_progress(requests, requests)
        lat = self.latency_s if requests else 0.0
        elapsed = self.elapsed_s if self.elapsed_s is not None else (requests - 1) / rate + lat
        return LoadResult(requests=requests, succeeded=requests - failed,
                          failures={self.failure: failed} if failed else {}, elapsed_s=max(elapsed, 1e-9),
                          p50_s=lat, p95_s=lat, p99_s=lat, max_s=lat, service_p95_s=lat)
