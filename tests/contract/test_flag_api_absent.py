"""A feature flag that does not exist yet is 0 % to the canary (the state before T0): the flag-API
router reads it as 0, the preflight's router check passes saying so, and the first weight change
creates the flag with the service's own create-or-update `POST`. Run against the fake flag service
(`conftest.FakeFlagApi`, which answers 404 for an unknown flag and 201 for a create)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from runofshow.adapters.flag_api import FlagApiRouter
from runofshow.app.bootstrap import preflight_tools
from runofshow.app.run.traffic import rollback, shift
from runofshow.app.steps.preflight import CHECKS, run_check
from runofshow.app.steps.probes import PreflightWiring
from runofshow.domain.connections import FlagApiRouterSettings
from runofshow.domain.plan import Plan
from runofshow.errors import RouterError
from runofshow.ports import WeightNote

if TYPE_CHECKING:
    from conftest import FakeFlagApi

FEATURE = "spark-v140"


def settings(api: FakeFlagApi) -> FlagApiRouterSettings:
    return FlagApiRouterSettings(url=api.url + "/api/features/rollout", feature=FEATURE,
                                 read_url=api.url + "/api/features/{feature}", retries=1)


def test_an_absent_flag_reads_as_zero_and_the_first_change_creates_it(flag_api: FakeFlagApi) -> None:
    with FlagApiRouter(settings(flag_api)) as router:
        assert isinstance(router, WeightNote)
        assert router.current_weight() == 0
        assert router.weight_note() == f"flag {FEATURE} absent"
        assert shift(router, 1) == 1
        assert flag_api.created == [FEATURE] and flag_api.percentages == {FEATURE: 1}
        assert router.current_weight() == 1 and router.weight_note() is None
        router.set_weight(5)
        assert flag_api.created == [FEATURE] and [p["percentage"] for p in flag_api.posts] == [1, 5]


def test_zero_on_an_absent_flag_changes_nothing(flag_api: FakeFlagApi) -> None:
    with FlagApiRouter(settings(flag_api)) as router:
        router.set_weight(0)
        assert rollback(router, attempts=2, backoff_s=0, sleep=lambda s: None) == 1
    assert flag_api.posts == [] and flag_api.created == []


def test_a_flag_that_vanishes_after_it_was_set_is_an_error(flag_api: FakeFlagApi) -> None:
    with FlagApiRouter(settings(flag_api)) as router:
        router.set_weight(25)
        del flag_api.percentages[FEATURE]
        with pytest.raises(RouterError, match="absent .*404.* although it was set to 25 %"):
            router.current_weight()
        router.set_weight(0)  # rollback still works: the POST creates it again at 0 %
    assert flag_api.percentages == {FEATURE: 0}


def test_other_errors_on_the_read_back_still_fail(make_flag_api) -> None:  # type: ignore[no-untyped-def]
    api = make_flag_api(token="s3cret")
    with FlagApiRouter(settings(api)) as router, pytest.raises(RouterError, match="401"):
        router.current_weight()


def test_preflight_router_check_passes_on_an_absent_flag(flag_api: FakeFlagApi, tmp_path: Path) -> None:
    plan = Plan(traffic_router=settings(flag_api))
    with PreflightWiring(plan, tmp_path, preflight_tools(environ={})) as wiring:
        result = run_check(CHECKS["traffic_router"], wiring.context)
    assert result.passed, result.detail
    assert result.detail == f"flag {FEATURE} absent: canary at 0 %"
    flag_api.percentages[FEATURE] = 0
    with PreflightWiring(plan, tmp_path, preflight_tools(environ={})) as wiring:
        result = run_check(CHECKS["traffic_router"], wiring.context)
    assert result.passed and result.detail == "flag_api: reachable, canary at 0 %"
    flag_api.percentages[FEATURE] = 5
    with PreflightWiring(plan, tmp_path, preflight_tools(environ={})) as wiring:
        result = run_check(CHECKS["traffic_router"], wiring.context)
    assert not result.passed and result.detail == "flag_api: canary at 5 %, expected 0 %"
