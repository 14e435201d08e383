"""One contract per T-minus step tool, run on the fake and on the real adapter: `HttpProbe` (httpx
against a loopback HTTP server), `CommandRunner` (subprocess), `FreezeStore` (freeze_state.json) and
`LoadGenerator` (aiohttp against the same loopback server). Then what only the real ones can show."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from runofshow.adapters.freeze_file import STATE_FILE, JsonFreezeStore
from runofshow.adapters.http_probe import HttpxProbe
from runofshow.adapters.load_generator import AiohttpLoadGenerator
from runofshow.adapters.local_process import LocalCommandRunner
from runofshow.adapters.memory_steps import (
    InMemoryFreezeStore,
    ScriptedCommands,
    ScriptedHttp,
    ScriptedLoad,
)
from runofshow.domain.freeze import FreezeRecord
from runofshow.errors import AdapterError, EvidenceError
from runofshow.loopback import free_port
from runofshow.ports import (
    CommandResult,
    CommandRunner,
    FreezeStore,
    HttpAnswer,
    HttpProbe,
    LoadGenerator,
)
from tests.helpers import probe_target


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with probe_target() as stub:
        yield stub.url


# --------------------------------------------------------------------------- HttpProbe


def http_probe(kind: str, base: str) -> HttpProbe:
    if kind == "httpx":
        return HttpxProbe()
    return ScriptedHttp({  # what the loopback server answers, written down
        f"{base}/ok": HttpAnswer(200, "fine"), f"{base}/redirect": HttpAnswer(200, "fine"),
        f"{base}/gone": HttpAnswer(404, "no_service"), f"{base}/boom": HttpAnswer(503, "down"),
        f"HEAD {base}/ok": HttpAnswer(200, ""), f"{base}/big": HttpAnswer(200, "x" * 64 * 1024),
    })


@pytest.mark.parametrize("kind", ["memory", "httpx"])
def test_http_probe_contract(kind: str, server: str) -> None:
    probe = http_probe(kind, server)
    assert isinstance(probe, HttpProbe)
    assert probe.fetch("GET", f"{server}/ok", 2.0) == HttpAnswer(200, "fine")
    assert probe.fetch("GET", f"{server}/redirect", 2.0) == HttpAnswer(200, "fine")  # followed
    assert probe.fetch("GET", f"{server}/gone", 2.0).status == 404  # an answer, not an error
    assert probe.fetch("GET", f"{server}/boom", 2.0) == HttpAnswer(503, "down")
    assert probe.fetch("HEAD", f"{server}/ok", 2.0) == HttpAnswer(200, "")
    assert len(probe.fetch("GET", f"{server}/big", 2.0).text) == 64 * 1024  # only the start
    refused = f"http://127.0.0.1:{free_port()}/T000/secret"
    with pytest.raises(AdapterError, match=r"^127\.0\.0\.1:\d+: ConnectError") as err:
        probe.fetch("GET", refused, 1.0)
    assert "secret" not in str(err.value)  # only the host: webhook URLs carry secrets


def test_httpx_probe_gives_up_after_its_timeout(server: str) -> None:
    started = time.monotonic()
    with pytest.raises(AdapterError, match=r"^127\.0\.0\.1:\d+: ReadTimeout"):
        HttpxProbe().fetch("GET", f"{server}/slow", 0.3)
    assert time.monotonic() - started < 1.4


# --------------------------------------------------------------------------- CommandRunner

FAILING = "echo hi; echo oops >&2; exit 3"
SLOW = "sleep 5 | cat"


def command_runner(kind: str) -> CommandRunner:
    if kind == "subprocess":
        return LocalCommandRunner()
    return ScriptedCommands({"echo 2026-12-05T01:30:00Z": CommandResult(0, "2026-12-05T01:30:00Z\n"),
                             FAILING: CommandResult(3, "hi\n", "oops\n"), SLOW: CommandResult(None)})


@pytest.mark.parametrize("kind", ["memory", "subprocess"])
def test_command_runner_contract(kind: str) -> None:
    runner = command_runner(kind)
    assert isinstance(runner, CommandRunner)
    ok = runner.run(["/bin/sh", "-c", "echo 2026-12-05T01:30:00Z"], 5)
    assert ok == CommandResult(0, "2026-12-05T01:30:00Z\n", "")
    assert runner.run(["/bin/sh", "-c", FAILING], 5) == CommandResult(3, "hi\n", "oops\n")
    started = time.monotonic()
    assert runner.run(["/bin/sh", "-c", SLOW], 0.3).exit_code is None  # killed at the timeout
    assert time.monotonic() - started < 3  # the pipeline's children too
    with pytest.raises(AdapterError, match="No such file or directory"):
        runner.run(["/nonexistent/backup-check"], 5)


# --------------------------------------------------------------------------- FreezeStore


def freeze_store(kind: str, folder: Path) -> FreezeStore:
    return JsonFreezeStore(folder) if kind == "json" else InMemoryFreezeStore()


@pytest.mark.parametrize("kind", ["memory", "json"])
def test_freeze_store_contract(kind: str, tmp_path: Path) -> None:
    store = freeze_store(kind, tmp_path)
    assert isinstance(store, FreezeStore) and store.location
    assert store.load() is None
    rec = FreezeRecord(repo="acme/spark", release="v1.4.0", label="hold-for-canary",
                       started_at="2026-12-05T03:30:00Z", to_label=[1, 2], labelled=[1])
    store.save(rec)
    loaded = store.load()
    assert loaded == rec and loaded is not rec
    loaded.add("labelled", [2])  # a changed copy is not saved until it is saved
    assert store.load() == rec
    store.save(loaded)
    assert store.load() == loaded and store.load().labelled == [1, 2]


def test_the_json_store_keeps_readable_json_and_says_when_it_cannot_read(tmp_path: Path) -> None:
    store = JsonFreezeStore(tmp_path)
    assert store.location == str(tmp_path / STATE_FILE)
    store.save(FreezeRecord(repo="acme/spark", release="v1.4.0", label="hold", started_at="x",
                            status="active", labelled=[7, 4]))
    data = json.loads((tmp_path / STATE_FILE).read_text())
    assert data["status"] == "active" and data["labelled"] == [7, 4] and list(data) == sorted(data)
    assert [p.name for p in tmp_path.iterdir()] == [STATE_FILE]  # no temporary file left
    (tmp_path / STATE_FILE).write_text("{not json")
    with pytest.raises(EvidenceError, match="unreadable freeze record"):
        store.load()


# --------------------------------------------------------------------------- LoadGenerator


def load_generator(kind: str) -> LoadGenerator:
    return AiohttpLoadGenerator() if kind == "aiohttp" else ScriptedLoad(latency_s=0.001)


@pytest.mark.parametrize("kind", ["memory", "aiohttp"])
def test_load_generator_contract(kind: str, server: str) -> None:
    load = load_generator(kind)
    assert isinstance(load, LoadGenerator)
    seen: list[tuple[int, int]] = []
    r = load.run(f"{server}/ok", 20, 40.0, 5, 2.0, on_progress=lambda done, planned: seen.append((done, planned)))
    assert r.requests == 20 and r.succeeded + sum(r.failures.values()) == 20
    assert r.succeeded == 20 and dict(r.failures) == {}
    assert 0 < r.p50_s <= r.p95_s <= r.p99_s <= r.max_s and r.service_p95_s <= r.max_s
    assert r.elapsed_s >= 19 / 40.0  # open loop: the last request is due at (n - 1) / rate
    assert seen and seen[-1] == (20, 20)


def test_aiohttp_load_names_its_failures(server: str) -> None:
    r = AiohttpLoadGenerator().run(f"{server}/boom", 10, 50.0, 5, 2.0)
    assert r.succeeded == 0 and dict(r.failures) == {"HTTP 503": 10}
    refused = AiohttpLoadGenerator().run(f"http://127.0.0.1:{free_port()}/", 5, 50.0, 5, 1.0)
    assert refused.succeeded == 0 and sum(refused.failures.values()) == 5
    assert "HTTP" not in " ".join(refused.failures)  # connection errors, by exception name
