"""`runofshow decide|note|handover --server URL` against a real `runofshow serve` app (uvicorn on
loopback): the server records the token's verified identity; 401/403/404/422 are one line, exit 2;
a server that does not answer is exit 1."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from runofshow.adapters.ledger_sql import SqlLedger
from runofshow.app.warroom.identity import create_token
from runofshow.cli.main import main
from runofshow.loopback import free_port
from runofshow.web import WebDeps, create_app, web_settings
from tests.helpers import wait_until
from tests.unit.web.conftest import start_run

WAR_ROOM = {"incident_commanders": ["alice"], "members": ["bob"], "observers": ["carol"]}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, SqlLedger, str, dict[str, str]]]:
    import uvicorn

    url = f"sqlite:///{tmp_path / 'runofshow.db'}"
    ledger = SqlLedger(url)
    run_id = start_run(ledger, tmp_path, url, WAR_ROOM)
    tokens = {name: create_token(ledger, name, role)[0] for name, role in
              (("alice", "ic"), ("bob", "member"), ("carol", "observer"))}
    app = create_app(WebDeps(ledger=ledger, tokens=ledger, settings=web_settings({})))
    port = free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                        timeout_graceful_shutdown=1))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    wait_until(lambda: srv.started, timeout=20, what="the web app to listen")
    try:
        yield f"http://127.0.0.1:{port}", ledger, run_id, tokens
    finally:
        srv.should_exit = True
        thread.join(10)
        ledger.close()


def cli(argv: list[str], capsys: Any, monkeypatch: pytest.MonkeyPatch, token: str = "") -> tuple[int, str, str]:
    monkeypatch.setenv("RUNOFSHOW_TOKEN", token)
    with pytest.raises(SystemExit) as ex:
        main(argv)
    out, err = capsys.readouterr()
    return int(ex.value.code or 0), out.strip(), err.strip()


def test_decide_note_and_handover_through_the_server(server: Any, capsys: Any,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    url, ledger, rid, tokens = server
    code, out, _ = cli(["decide", rid, "proceed", "--reason", "all green", "--server", url], capsys, monkeypatch,
                       tokens["alice"])
    assert code == 0 and out.startswith(f"{rid}: proceed by alice (token): accepted"), out
    event = next(e for e in ledger.events(rid) if e.kind == "ic_decision")
    assert event.payload["identity"]["proof"] == "token" and event.payload["identity"]["name"] == "alice"

    code, out, _ = cli(["note", rid, "maybe the pool", "--server", url + "/"], capsys, monkeypatch, tokens["bob"])
    assert code == 0 and "parking lot #" in out and "by bob (token): maybe the pool" in out

    code, out, _ = cli(["handover", rid, "--to", "bob", "--reason", "shift", "--server", url], capsys, monkeypatch,
                       tokens["alice"])
    assert code == 0 and out == f"{rid}: handover by alice (token): accepted: bob is the incident commander now"
    code, out, _ = cli(["decide", rid, "hold", "--reason", "mine", "--server", url], capsys, monkeypatch,
                       tokens["bob"])
    assert code == 2 and "refused: nothing to hold" in out  # the use case's rule, as from the ledger
    assert [e.kind for e in ledger.events(rid)][-1] == "ic_refused"


@pytest.mark.parametrize(("who", "argv", "line"), [
    ("", ["decide", "RUN", "proceed", "--reason", "x"], "--server: set RUNOFSHOW_TOKEN to a token from"),
    ("ros_made-up", ["decide", "RUN", "proceed", "--reason", "x"], "401 no identity"),
    ("carol", ["decide", "RUN", "proceed", "--reason", "x"], "403 role observer may not decide"),
    ("carol", ["note", "RUN", "x"], "403 role observer may not note"),
    ("alice", ["decide", "nope", "proceed", "--reason", "x"], "404 no run 'nope'"),
    ("alice", ["decide", "RUN", "maybe", "--reason", "x"], "422 decision: must be one of proceed, hold, rollback"),
    ("alice", ["decide", "RUN", "hold", "--reason", " "], "422 reason: say why"),
    ("alice", ["handover", "RUN", "--to", " "], "422 to: say who takes the IC role"),
])
def test_refusals_are_one_line_and_exit_2(server: Any, capsys: Any, monkeypatch: pytest.MonkeyPatch, who: str,
                                         argv: list[str], line: str) -> None:
    url, _, rid, tokens = server
    argv = [rid if a == "RUN" else a for a in argv] + ["--server", url]
    code, out, err = cli(argv, capsys, monkeypatch, tokens.get(who, who))
    assert code == 2, (out, err)
    assert len(err.splitlines()) == 1 and line in err, err
    assert all(t not in err + out for t in tokens.values())


def test_no_server_is_exit_1(capsys: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    code, _, err = cli(["decide", "r", "proceed", "--reason", "x", "--server", f"http://127.0.0.1:{free_port()}"],
                       capsys, monkeypatch, "ros_x")
    assert code == 1 and err.startswith("war room server http://127.0.0.1:") and "no answer" in err
    code, _, err = cli(["note", "r", "x", "--server", "ftp://x"], capsys, monkeypatch, "ros_x")
    assert code == 2 and err == "--server: 'ftp://x' needs http:// or https://"
