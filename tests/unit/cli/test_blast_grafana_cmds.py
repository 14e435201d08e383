"""`runofshow blast` (exit 0 on pass, 3 on fail, 2 on bad input) and `runofshow grafana dashboard`."""

from __future__ import annotations

import asyncio
import json
import threading

import pytest
from aiohttp import web

from runofshow.cli.main import main


def run(argv, capsys):
    with pytest.raises(SystemExit) as ex:
        main(argv)
    out, err = capsys.readouterr()
    return ex.value.code, out, err


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


def test_blast_bad_input_exits_2(tmp_path, capsys):
    code, _, err = run(["blast", "not-a-url", "v1.4.0", "1", "--evidence-dir", str(tmp_path)], capsys)
    assert code == 2 and "'not-a-url' is not an http(s) URL" in err
    code, _, err = run(["blast", "http://127.0.0.1:9/", "v1.4.0", "0"], capsys)
    assert code == 2 and "seconds must be more than 0" in err
    assert list(tmp_path.iterdir()) == []


def test_grafana_dashboard_prints_importable_json(tmp_path, capsys):
    plan = tmp_path / "plan.yaml"
    assert run(["init", str(plan)], capsys)[0] == 0
    code, out, _ = run(["grafana", "dashboard", str(plan)], capsys)
    assert code == 0
    board = json.loads(out)
    assert board["uid"] == "risk-idempotency-pitr" and len(board["panels"]) == 10
    code, out, _ = run(["grafana", "dashboard", str(plan), "--for-api"], capsys)
    assert code == 0 and json.loads(out)["overwrite"] is True
    code, _, err = run(["grafana", "dashboard", str(plan), "--endpoint-label", "bad-label"], capsys)
    assert code == 2 and "not a Prometheus label name" in err
    code, _, err = run(["grafana", "dashboard", str(tmp_path / "missing.yaml")], capsys)
    assert code == 2 and "no such file" in err
