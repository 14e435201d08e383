"""The demo's load generator without a target: its request mix and what it refuses. Against a
running service: tests/integration/test_load_generator.py."""

from __future__ import annotations

from collections import Counter

import pytest

from runofshow.demo.load import MIX, LoadGenerator


def test_mix_reuses_idempotency_keys_sometimes() -> None:
    gen = LoadGenerator("http://127.0.0.1:9", rate_per_s=10, seed=5)
    assert sum(share for _, share in MIX) == pytest.approx(1.0)
    # request building is pure: draw many without sending anything
    drawn = [gen._request() for _ in range(20_000)]  # the generator's own recipe
    kinds = Counter(str(url.path) for _, url, _ in drawn)
    assert 0.45 <= kinds["/api/quotes"] / len(drawn) <= 0.55
    assert 0 < kinds["/csp-report"] < 40
    orders = [(kw["headers"]["Idempotency-Key"], kw["json"]) for _, url, kw in drawn
              if url.path == "/api/orders"]
    assert all(key for key, _ in orders)
    bodies: dict[str, list[object]] = {}
    for key, body in orders:
        bodies.setdefault(key, []).append(body)
    reused = [b for b in bodies.values() if len(b) > 1]
    retries = sum(1 for b in reused for x in b[1:] if x == b[0])
    conflicting = sum(1 for b in reused for x in b[1:] if x != b[0])
    assert 0.01 * len(orders) <= retries <= 0.03 * len(orders)
    assert 1 <= conflicting <= 0.006 * len(orders)


@pytest.mark.parametrize("url", ["http://10.0.0.1:8080", "http://example.com", "ftp://127.0.0.1:21"])
def test_refuses_targets_that_are_not_loopback_http(url: str) -> None:
    with pytest.raises(ValueError, match="loopback|http"):
        LoadGenerator(url)


@pytest.mark.parametrize("kwargs", [{"rate_per_s": 0}, {"concurrency": 0}, {"max_duration_s": 0}])
def test_refuses_nonsense_settings(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        LoadGenerator("http://127.0.0.1:8080", **kwargs)
