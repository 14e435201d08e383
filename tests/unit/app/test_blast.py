"""The blast-radius probe's verdict and evidence, from what a scripted load generator saw (no
servers: the probe against a real loopback server is in tests/integration/test_blast_probe.py)."""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from runofshow.adapters.memory_steps import ScriptedLoad
from runofshow.app.steps.blast import BlastResult, evidence_name, probe
from runofshow.errors import InputError

NOW = datetime(2024, 10, 24, 10, 15, 0, tzinfo=UTC)


def fixed_now() -> datetime:
    return NOW


def test_evidence_name_is_utc():
    from datetime import timedelta, timezone

    ist = datetime(2024, 10, 24, 13, 15, tzinfo=timezone(timedelta(hours=3)))
    assert evidence_name("v1.4.0", ist) == "micro_blast_v1.4.0_20241024T101500Z.log"


def _result(**kw) -> BlastResult:
    base = BlastResult(
        url="http://127.0.0.1/", version="v1.4.0", started_at=NOW, seconds=1, rate=100,
        concurrency=10, timeout_s=1, requests=100, succeeded=100, failures={}, elapsed_s=1.0,
        p50_s=0.1, p95_s=0.2, p99_s=0.3, max_s=0.4, service_p95_s=0.2,
    )
    return replace(base, **kw)


@pytest.mark.parametrize(
    ("kw", "passed"),
    [
        ({}, True),
        ({"succeeded": 96, "failures": {"HTTP 500": 4}}, True),
        ({"succeeded": 95, "failures": {"HTTP 500": 5}}, False),  # strictly above 95 %
        ({"p95_s": 0.5}, False),  # strictly below 0.5 s
        ({"p95_s": 0.499}, True),
        ({"requests": 0, "succeeded": 0, "p95_s": 0.0}, False),  # no data never passes
    ],
)
def test_passed_is_strict_and_pure(kw, passed):
    assert _result(**kw).passed(95, 0.5) is passed


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("ftp://127.0.0.1/", "v1.4.0", 1, 10, 1), "needs http:// or https://"),
        (("http://127.0.0.1/", "v1.4.0/../x", 1, 10, 1), "is not a version"),
        (("http://127.0.0.1/", "v1.4.0", 0, 10, 1), "seconds must be more than 0"),
        (("http://127.0.0.1/", "v1.4.0", 1, 0, 1), "rate must be more than 0"),
        (("http://127.0.0.1/", "v1.4.0", 1, 10, 0), "concurrency must be at least 1"),
    ],
)
def test_bad_input_is_an_input_error(args, message, tmp_path):
    load = ScriptedLoad()
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        probe(*args, now=fixed_now, load=load, evidence_dir=tmp_path)
    assert os.listdir(tmp_path) == [] and load.runs == []


def test_the_verdict_comes_from_what_the_load_generator_saw(tmp_path):
    load = ScriptedLoad(latency_s=0.2, failing=range(0, 150, 10))  # 15 of 150 fail: 90 %
    r = probe("http://canary.test/health", "v1.4.0", 3, 50, 20, now=fixed_now, load=load,
              evidence_dir=tmp_path, timeout_s=4)
    assert load.runs == [("http://canary.test/health", 150, 50, 20, 4)]
    assert (r.requests, r.succeeded, dict(r.failures)) == (150, 135, {"HTTP 503": 15})
    assert r.p95_s == 0.2 and not r.passed() and r.passed(success_min_pct=89)
    text = r.evidence_path.read_text()
    assert "Success: 90.00 %" in text and "Result: FAIL" in text and "success 90.00 % is not above 95 %" in text
