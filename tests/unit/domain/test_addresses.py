"""Plan addresses: one parser for every `host:port` the plan, the CLI and the adapters listen on."""

from __future__ import annotations

import pytest

from runofshow.domain.addresses import check_http_url, split_listen


@pytest.mark.parametrize(("listen", "expected"), [
    ("127.0.0.1:8080", ("127.0.0.1", 8080)),
    ("[::1]:9095", ("::1", 9095)),
    ("localhost:0", ("localhost", 0)),
])
def test_split_listen_gives_the_host_to_bind_and_the_port(listen: str, expected: tuple[str, int]) -> None:
    assert split_listen(listen) == expected


@pytest.mark.parametrize(("listen", "says"), [
    ("9095", "needs host and port"),
    (":80", "needs host and port"),
    ("host:", "port from 0 to 65535"),
    ("host:65536", "port from 0 to 65535"),
    ("::1:80", "IPv6 address goes in brackets"),
    ("[127.0.0.1]:80", "only an IPv6 address goes in brackets"),
    ("http://127.0.0.1:80", "not a URL"),
])
def test_split_listen_says_what_is_wrong(listen: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        split_listen(listen)


@pytest.mark.parametrize(("url", "says"), [
    ("127.0.0.1:9090", "needs http:// or https://"),
    ("http://", "has no host"),
    ("http://host:99999", "port that is not a number"),
    ("http://host/ x", "white space"),
])
def test_http_urls_need_a_scheme_a_host_and_a_port_that_is_a_number(url: str, says: str) -> None:
    assert check_http_url("https://prometheus.internal:9090/api") == "https://prometheus.internal:9090/api"
    with pytest.raises(ValueError, match=says):
        check_http_url(url)
