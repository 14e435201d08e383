"""The service fixtures themselves: nginx (config in conf_d + reload) and the PostgreSQL database."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import httpx
import pytest

from runofshow.adapters.ledger_sql import SqlLedger
from runofshow.ports import RunRecord
from tests.helpers import Reply, StubServer, wait_until
from tests.integration.services import NginxServer


def test_nginx_serves_a_reloaded_conf_d_server(nginx: NginxServer) -> None:
    with StubServer() as stable, StubServer() as canary:
        stable.route("GET", "/", Reply(200, "stable"))
        canary.route("GET", "/", Reply(200, "canary"))
        (nginx.conf_d / "canary.conf").write_text(f"""
upstream app {{ server 127.0.0.1:{stable.port} weight=1; server 127.0.0.1:{canary.port} weight=1; }}
server {{ listen 127.0.0.1:{nginx.port}; location / {{ proxy_pass http://app; }} }}
""")
        nginx.reload()

        def both() -> bool:
            seen = {httpx.get(nginx.url, timeout=2).text for _ in range(6)}
            return seen == {"stable", "canary"}

        wait_until(both, timeout=15, what="nginx to balance across stable and canary after reload")
        (nginx.conf_d / "broken.conf").write_text("server { listen nonsense; }")
        with pytest.raises(RuntimeError, match="nginx -t failed"):
            nginx.reload()
        (nginx.conf_d / "broken.conf").unlink()
    assert nginx.process.alive() and str(nginx.prefix) in nginx.command("-t")[2]


def test_second_nginx_from_the_factory_is_independent(nginx_factory: Callable[..., NginxServer]) -> None:
    extra = nginx_factory(http_config="    server_tokens off;")
    assert httpx.get(f"http://127.0.0.1:{extra.health_port}/healthz", timeout=2).text == "ok\n"
    extra.stop()
    assert not extra.process.alive()


def test_postgres_url_is_a_fresh_database(postgres_url: str) -> None:
    assert "/runofshow_test_" in postgres_url
    with SqlLedger(postgres_url) as ledger:
        ledger.create_run(RunRecord("fixture-run", "spark-trading", "v1.4.0", "running", None, None,
                                    datetime.now(UTC)))
        assert ledger.append("fixture-run", "tick", {}, datetime.now(UTC)).seq == 1


def test_a_missing_binary_fails_the_test_instead_of_skipping(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.helpers import require_binary

    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="in CI .*install-services.sh"):
        require_binary("runofshow-no-such-binary")
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.fail.Exception, match="missing locally"):
        require_binary("runofshow-no-such-binary")
