"""`runofshow blast` against a loopback server: exit 0 and evidence on a pass, 3 on a slow server."""

from __future__ import annotations

import asyncio
import threading

import pytest
from aiohttp import web

from tests.unit.cli.test_blast_grafana_cmds import run


@pytest.fixture(scope="module")
def base_url():
    loop = asyncio.new_event_loop()
    ready, box = threading.Event(), {}

    async def handle(request: web.Request) -> web.Response:
        await asyncio.sleep(float(request.query.get("d", "0")))
        return web.Response(text="ok")

    async def start() -> None:
        app = web.Application()
        app.router.add_get("/health", handle)
        runner = web.AppRunner(app, shutdown_timeout=0.2, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        box["runner"], box["port"] = runner, runner.addresses[0][1]

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(start())
        ready.set()
        loop.run_forever()
        loop.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert ready.wait(10)
    yield f"http://127.0.0.1:{box['port']}/health"
    asyncio.run_coroutine_threadsafe(box["runner"].cleanup(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)


def test_blast_passes_and_writes_evidence(base_url, tmp_path, capsys):
    code, out, _ = run(["blast", base_url, "v1.4.0", "1", "--rate", "20", "--concurrency", "5",
                        "--evidence-dir", str(tmp_path)], capsys)
    assert code == 0, out
    assert "Blast radius PASS" in out and "20 (20 ok, 0 failed)" in out
    (log,) = tmp_path.glob("micro_blast_v1.4.0_*.log")
    assert "Result: PASS" in log.read_text(encoding="utf-8")


def test_blast_on_a_slow_server_exits_3(base_url, tmp_path, capsys):
    code, out, _ = run(["blast", base_url + "?d=0.3", "v1.4.0", "1", "--rate", "10",
                        "--p95-max", "0.2", "--evidence-dir", str(tmp_path)], capsys)
    assert code == 3
    assert "Blast radius FAIL: p95" in out and "not below 0.2 s" in out
    (log,) = tmp_path.glob("micro_blast_v1.4.0_*.log")
    assert "Result: FAIL" in log.read_text(encoding="utf-8")
