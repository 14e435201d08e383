"""The run page of a whole run (rolled back at stage 3): the war-room minutes exactly as
warroom_log.txt, the gates, the figures, the report; the board."""

from __future__ import annotations

import html
import time

import pytest
from fastapi.testclient import TestClient

from runofshow.adapters.ledger_sql import SqlLedger
from runofshow.domain.plan import Plan
from runofshow.reports.evidence import build_bundle
from runofshow.reports.evidence_render import RunView, war_room_lines
from runofshow.web import WebDeps, create_app, web_settings
from tests.report_runs import run


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("web-pages")
    ledger = SqlLedger(f"sqlite:///{tmp / 'runofshow.db'}")
    plan = Plan.model_validate({"evidence_dir": str(tmp / "evidence")})
    result = run([(35 * 60, {"http_5xx_pct": 6.0})], plan=plan, ledger=ledger)
    assert result.code == 3
    build_bundle(result.events, None, tmp / "evidence")
    with TestClient(create_app(WebDeps(ledger=ledger, tokens=ledger, settings=web_settings({}, public_read=True)))) as client:
        yield client, result, tmp
    ledger.close()


def test_run_page_shows_the_war_room_minutes_exactly(finished) -> None:
    client, result, _ = finished
    page = client.get(f"/runs/{result.run_id}").text
    log = page.split('id="war-room">', 1)[1].split("</pre>", 1)[0]
    assert html.unescape(log).splitlines() == war_room_lines(RunView.of(result.events))
    assert "rolled_back" in page and "ROLLBACK" in html.unescape(log)


def test_run_page_has_gates_timeline_steps_and_evidence(finished) -> None:
    client, result, _ = finished
    page = client.get(f"/runs/{result.run_id}").text
    gates = page.split('id="gates">', 1)[1].split("</table>", 1)[0]
    assert gates.count("<tr>") == 1 + 6  # head + six gates
    assert "5xx" in gates and "FAIL" in gates
    assert 'class="timeline"' in page and "T-30" in page
    assert "PREFLIGHT" in page.upper()
    assert 'id="manifest-status">verified<' in page
    assert f'/runs/{result.run_id}/evidence/warroom_log.txt' in page


def test_figures_are_the_reports(finished) -> None:
    client, result, _ = finished
    figures = client.get(f"/api/runs/{result.run_id}/figures").json()
    assert sorted(figures) == sorted(["weight", *(f"gate-{g}" for g in Plan().gates)])
    assert all(f["data"] for f in figures.values())


def test_evidence_downloads_only_bundle_files(finished) -> None:
    client, result, tmp = finished
    r = client.get(f"/runs/{result.run_id}/evidence/warroom_log.txt")
    assert r.status_code == 200 and "attachment" in r.headers["content-disposition"]
    assert r.text == (tmp / "evidence" / "warroom_log.txt").read_text()
    (tmp / "secret.txt").write_text("no")
    for name in ("../secret.txt", "..%2Fsecret.txt", "nope.txt", "/etc/passwd"):
        assert client.get(f"/runs/{result.run_id}/evidence/{name}").status_code == 404, name


def test_report_is_served_in_a_sandbox(finished) -> None:
    client, result, _ = finished
    r = client.get(f"/runs/{result.run_id}/report")
    assert r.status_code == 200 and "<html" in r.text
    assert r.headers["content-security-policy"].startswith("sandbox allow-scripts")


def test_board_row_and_run_page_time(finished) -> None:
    client, result, _ = finished
    rows = client.get("/board").text
    assert result.run_id in rows and "rolled_back" in rows and "stalled" not in rows  # ended: nothing due
    started = time.perf_counter()
    assert client.get(f"/runs/{result.run_id}").status_code == 200
    assert time.perf_counter() - started < 5  # generous: a shared 2-core machine


def test_the_evidence_folder_itself_is_no_download(finished) -> None:
    client, result, _ = finished
    assert client.get(f"/runs/{result.run_id}/evidence/").status_code == 404
