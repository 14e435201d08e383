"""Team mode on real PostgreSQL: the plan's caps (`team: {max_canaries_per_service,
max_canaries_total}`), recorded at `submit` and honoured by every worker's claim, with or
without caps of its own (the stricter wins), and said in `waiting`.

Each test gets a fresh database; a missing PostgreSQL fails, never skips.
"""

from __future__ import annotations

from runofshow.adapters.lease_sql import SqlLeases
from runofshow.app.plan_file import parse_plan
from runofshow.app.team.submit import Submission, submit
from runofshow.ports import Caps
from tests.contract.test_lease_caps_fence import claims_at_once
from tests.contract.test_lease_contract import _run

PLAN_SERVICE = "; the plan's team.max_canaries_per_service)"


def _caps(per_service: int | None = None, total: int | None = None) -> dict[str, object]:
    return {"caps": {"per_service": per_service, "total": total}}


def test_a_plan_cap_holds_a_second_canary_for_a_worker_without_caps(two: tuple[SqlLeases, SqlLeases]) -> None:
    a, b = two
    a.submit(_run("r1", "trading"), _caps(per_service=1))
    a.submit(_run("r2", "trading"), _caps(per_service=1))
    a.submit(_run("r3", "pricing"), {})
    first = a.claim("w-a", 15)
    assert first is not None and first.run_id == "r1"
    second = b.claim("w-b", 15)
    assert second is not None and second.run_id == "r3"  # r2 waits: trading has its canary
    assert b.claim("w-b", 15) is None and a.claim("w-a", 15) is None
    assert {x.run_id: x.waiting for x in a.all()} == {
        "r1": None, "r3": None, "r2": "per-service cap 1 for trading reached (1 running" + PLAN_SERVICE}
    a.release(first, done=True)
    third = b.claim("w-b", 15)
    assert third is not None and third.run_id == "r2" and third.waiting is None


def test_the_stricter_of_the_plans_and_the_workers_cap_wins(two: tuple[SqlLeases, SqlLeases]) -> None:
    a, b = two
    for i in range(3):
        a.submit(_run(f"t{i}", "trading"), _caps(per_service=1))  # plan 1, worker 2: the plan's
    for i in range(3):
        a.submit(_run(f"p{i}", "pricing"), _caps(per_service=3))  # plan 3, worker 2: the worker's
    worker = Caps(per_service=2)
    got = [x.run_id for x in iter(lambda: b.claim("w-b", 15, caps=worker), None)]
    assert sorted(got) == ["p0", "p1", "t0"]
    waiting = {x.run_id: x.waiting for x in a.all() if x.status == "queued"}
    assert waiting == {"t1": "per-service cap 1 for trading reached (1 running" + PLAN_SERVICE,
                       "t2": "per-service cap 1 for trading reached (1 running" + PLAN_SERVICE,
                       "p2": "per-service cap 2 for pricing reached (2 running)"}


def test_a_plans_global_cap_counts_every_service(two: tuple[SqlLeases, SqlLeases]) -> None:
    a, b = two
    a.submit(_run("r0", "svc0"), {})
    a.submit(_run("r1", "svc1"), {})
    a.submit(_run("r2", "svc2"), _caps(total=2))
    a.submit(_run("r3", "svc3"), {})
    assert [x.run_id for x in iter(lambda: a.claim("w-a", 15), None)] == ["r0", "r1", "r3"]
    assert {x.run_id: x.waiting for x in b.all()}["r2"] == (
        "global cap 2 reached (3 running; the plan's team.max_canaries_total)")


def test_submit_records_the_plans_caps_and_claims_honour_them(two: tuple[SqlLeases, SqlLeases]) -> None:
    a, b = two
    plan = parse_plan("release: {name: trading}\nteam: {max_canaries_per_service: 1}\n")
    ids = [submit(plan, a, Submission(speed=60)) for _ in range(2)]
    lease = b.claim("w-b", 15)
    assert lease is not None and lease.options["caps"] == {"per_service": 1, "total": None}
    assert b.claim("w-b", 15) is None
    current = a.current(ids[1] if lease.run_id == ids[0] else ids[0])
    assert current is not None and current.waiting is not None and current.waiting.endswith(PLAN_SERVICE)


def test_concurrent_claims_never_pass_a_plans_cap(pg_url: str) -> None:
    """Four workers without caps of their own, claiming at once: the plan's cap still holds."""
    got = claims_at_once(pg_url, options=_caps(per_service=2), caps=None)
    assert len(got) == 4 and len({x.run_id for x in got}) == 4
