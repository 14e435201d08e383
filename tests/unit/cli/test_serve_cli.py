"""`runofshow token create|list|revoke` and `runofshow serve`'s options."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from runofshow.adapters.ledger_sql import SqlLedger
from runofshow.app.warroom.identity import identify
from runofshow.cli.serve_cmd import host_port
from runofshow.errors import InputError
from tests.helpers import run_cli as cli


def test_token_create_prints_it_once_and_stores_the_hash(tmp_path: Path, capsys: Any) -> None:
    url = f"sqlite:///{tmp_path / 'runofshow.db'}"
    code, out, _ = cli(["token", "create", "--name", "alice", "--role", "ic", "--state", url], capsys)
    assert code == 0
    token = out.strip().splitlines()[-1]
    assert token.startswith("ros_")
    with SqlLedger(url) as store:
        who = identify(store, token)
        assert who is not None and who.name == "alice"
        assert token not in (tmp_path / "runofshow.db").read_bytes().decode("latin-1")
        token_id = store.tokens()[0].token_id
    code, out, _ = cli(["token", "list", "--state", url], capsys)
    assert code == 0 and f"{token_id}  alice  ic" in out and "live" in out and token not in out
    code, out, _ = cli(["token", "revoke", token_id, "--state", url], capsys)
    assert code == 0 and "revoked" in out
    code, out, err = cli(["token", "revoke", token_id, "--state", url], capsys)
    assert code == 2 and "already revoked" in err
    code, _, err = cli(["token", "create", "--name", "bob", "--role", "boss", "--state", url], capsys)
    assert code == 2 and "is not one of ic, member, observer" in err


def test_listen_is_host_port() -> None:
    assert host_port("127.0.0.1:8700") == ("127.0.0.1", 8700)
    assert host_port("[::1]:9000") == ("::1", 9000)
    for bad in ("8700", "host:", "host:99999", ":80", "host:0", "::1:80"):
        with pytest.raises(InputError):
            host_port(bad)
