from __future__ import annotations

from runofshow.cli import blast_cmd
from runofshow.domain.plan import BlastRadius


def test_the_blast_commands_defaults_are_the_plans():
    d = BlastRadius()
    assert (blast_cmd.RATE, blast_cmd.CONCURRENCY, blast_cmd.SUCCESS_MIN_PCT, blast_cmd.P95_MAX_S) == (
        d.rate, d.concurrency, d.success_min_pct, d.p95_max_s)
