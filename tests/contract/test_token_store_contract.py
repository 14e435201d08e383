"""One contract for the `TokenStore` port (the web app's API tokens), on InMemoryTokenStore,
SqlLedger(SQLite) and SqlLedger(PostgreSQL); and the token use cases over it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from runofshow.adapters.ledger_sql import SqlLedger
from runofshow.adapters.memory import InMemoryTokenStore
from runofshow.app.warroom.identity import Proof, Role, create_token, identify, revoke_token, token_hash
from runofshow.errors import InputError, LedgerError
from runofshow.ports import ApiToken, TokenStore
from tests.contract.test_ledger_contract import _reset_pg
from tests.helpers import fresh_postgres_database

T0 = datetime(2026, 12, 5, 3, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    with fresh_postgres_database() as url:
        yield url


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    if request.param == "memory":
        yield InMemoryTokenStore()
        return
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'runofshow.db'}"
    else:
        url = request.getfixturevalue("pg_url")
        _reset_pg(url)
    sql = SqlLedger(url)
    yield sql
    sql.close()


def test_is_a_token_store(store: TokenStore) -> None:
    assert isinstance(store, TokenStore)


def test_add_find_list_revoke(store: TokenStore) -> None:
    a = ApiToken("aaaa0001", "alice", "ic", "a" * 64, T0)
    b = ApiToken("bbbb0002", "bob", "member", "b" * 64, T0.replace(minute=5))
    store.add_token(b)
    store.add_token(a)
    assert [t.token_id for t in store.tokens()] == ["aaaa0001", "bbbb0002"]
    assert store.token_by_hash("a" * 64) == a
    assert store.token_by_hash("c" * 64) is None
    assert store.revoke_token("aaaa0001", T0.replace(hour=4)) is True
    assert store.revoke_token("aaaa0001", T0.replace(hour=5)) is False  # once
    assert store.revoke_token("nope", T0) is False
    found = store.token_by_hash("a" * 64)
    assert found is not None and found.revoked_at == T0.replace(hour=4)


def test_the_same_hash_twice_is_refused(store: TokenStore) -> None:
    store.add_token(ApiToken("aaaa0001", "alice", "ic", "a" * 64, T0))
    with pytest.raises(LedgerError):
        store.add_token(ApiToken("cccc0003", "eve", "ic", "a" * 64, T0))


def test_token_use_cases(store: TokenStore) -> None:
    token, record = create_token(store, "  alice   smith ", "IC", now=lambda: T0)
    assert token.startswith("ros_") and len(token) > 40
    assert record.name == "alice smith" and record.role == "ic" and record.token_hash == token_hash(token)
    assert token not in repr(store.tokens())  # only the hash is kept
    who = identify(store, token)
    assert who is not None and who.name == "alice smith" and who.role is Role.IC and who.proof is Proof.TOKEN
    assert who.subject == f"token:{record.token_id}"
    assert identify(store, token + "x") is None and identify(store, None) is None
    assert identify(store, "not-a-token") is None
    with pytest.raises(InputError, match="is not one of ic, member, observer"):
        create_token(store, "bob", "admin")
    with pytest.raises(InputError, match="--name"):
        create_token(store, "  ", "ic")
    revoke_token(store, record.token_id)
    assert identify(store, token) is None
    with pytest.raises(InputError, match="already revoked"):
        revoke_token(store, record.token_id)
    with pytest.raises(InputError, match="no token"):
        revoke_token(store, "nope")
