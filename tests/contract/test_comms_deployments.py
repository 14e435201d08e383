"""`DeploymentStatus` contract: the same suite on the in-memory fake and on the GitHub Deployments
adapter against a local GitHub (api.github.com and GitHub Enterprise's /api/v3); then GitHub
specifics: the bodies sent, bad credentials, validation errors, secondary rate limits."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from runofshow.adapters.fakes_comms import DeploymentRecords, RecordingDeployments
from runofshow.adapters.github import GitHubPullRequestHost
from runofshow.adapters.github_deployments import GitHubDeployments
from runofshow.errors import NotifierError
from runofshow.ports import DeploymentStatus
from tests.contract.comms_servers import GH_TOKEN, FakeGitHubDeployments

REPO = "acme/spark-trading"


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


OPENED: list[GitHubDeployments] = []


@pytest.fixture(autouse=True)
def _close_adapters() -> Iterator[None]:
    yield
    while OPENED:
        OPENED.pop().close()


def real(server: FakeGitHubDeployments, token: str = GH_TOKEN, **kw: Any) -> GitHubDeployments:
    kw.setdefault("sleep", Sleeps())
    OPENED.append(GitHubDeployments(GitHubPullRequestHost(REPO, token=token, base_url=server.url, **kw)))
    return OPENED[-1]


@pytest.fixture(params=["", "/api/v3"], ids=["github.com", "ghe"])
def github(request: pytest.FixtureRequest) -> Iterator[FakeGitHubDeployments]:
    server = FakeGitHubDeployments(DeploymentRecords(), REPO, prefix=request.param)
    yield server
    server.close()


@pytest.fixture(params=["memory", "github"])
def deployments(
    request: pytest.FixtureRequest, github: FakeGitHubDeployments,
) -> tuple[DeploymentStatus, DeploymentRecords]:
    if request.param == "memory":
        fake = RecordingDeployments()
        return fake, fake.records
    return real(github), github.records


# =========================================================================== the contract


def test_is_a_deployment_status(deployments: tuple[DeploymentStatus, DeploymentRecords]) -> None:
    assert isinstance(deployments[0], DeploymentStatus)


def test_the_canary_life_of_a_deployment(deployments: tuple[DeploymentStatus, DeploymentRecords]) -> None:
    status, records = deployments
    did = status.start("production", "v1.4.0", "v1.4.0 canary")
    assert status.state(did) is None
    status.set_state(did, "in_progress", "🟡 Deployment in progress")
    assert status.state(did) == "in_progress"
    status.set_state(did, "success", "promoted to 100 % at T+90")
    assert status.state(did) == "success"
    d = records.deployments[did]
    assert (d["ref"], d["environment"]) == ("v1.4.0", "production")
    assert [s["state"] for s in d["statuses"]] == ["in_progress", "success"]
    assert d["statuses"][0]["description"] == "🟡 Deployment in progress"


def test_previous_deployments_become_inactive(deployments: tuple[DeploymentStatus, DeploymentRecords]) -> None:
    status, records = deployments
    old = status.start("production", "v1.3.2", "v1.3.2")
    status.set_state(old, "success", "live")
    failed = status.start("production", "v1.3.3", "v1.3.3")
    status.set_state(failed, "failure", "rolled back")
    staging = status.start("staging", "v1.4.0", "v1.4.0 on staging")
    status.set_state(staging, "success", "live")
    new = status.start("production", "v1.4.0", "v1.4.0 canary")
    status.set_state(new, "in_progress", "🟡 Deployment in progress")
    assert status.mark_previous_inactive("production", keep=new) == [old]
    assert status.state(old) == "inactive"
    assert status.state(failed) == "failure" and status.state(staging) == "success"
    assert status.state(new) == "in_progress"
    assert status.mark_previous_inactive("production", keep=new) == []  # twice is once


def test_a_rollback_is_a_failure(deployments: tuple[DeploymentStatus, DeploymentRecords]) -> None:
    status, _ = deployments
    did = status.start("production", "v1.4.0", "v1.4.0 canary")
    status.set_state(did, "in_progress", "🟡 Deployment in progress")
    status.set_state(did, "failure", "rolled back at stage 2 (5 %): http_p95_ms")
    assert status.state(did) == "failure"


def test_unknown_state_and_unknown_deployment(deployments: tuple[DeploymentStatus, DeploymentRecords]) -> None:
    status, _ = deployments
    did = status.start("production", "v1.4.0", "x")
    with pytest.raises(NotifierError, match="state"):
        status.set_state(did, "done", "x")
    with pytest.raises(NotifierError):
        status.set_state(99, "success", "x")


# =========================================================================== GitHub specifics


def test_bodies_sent(github: FakeGitHubDeployments) -> None:
    status = real(github)
    did = status.start("production", "v1.4.0", "v1.4.0 canary " + "x" * 200)
    status.set_state(did, "in_progress", "🟡 Deployment in progress")
    (m1, p1, h1, create), (m2, p2, _, state) = github.requests
    assert (m1, p1) == ("POST", f"{github.prefix}/repos/{REPO}/deployments")
    assert (m2, p2) == ("POST", f"{github.prefix}/repos/{REPO}/deployments/{did}/statuses")
    assert h1["Authorization"] == f"Bearer {GH_TOKEN}" and h1["Accept"] == "application/vnd.github+json"
    assert create["auto_merge"] is False and create["required_contexts"] == []
    assert create["environment"] == "production" and len(create["description"]) == 140
    assert state == {"state": "in_progress", "description": "🟡 Deployment in progress", "auto_inactive": False}


def test_bad_credentials(github: FakeGitHubDeployments) -> None:
    with pytest.raises(NotifierError, match="401 Bad credentials.*GITHUB_TOKEN") as caught:
        real(github, token="ghp_wrong").start("production", "v1.4.0", "x")
    assert caught.value.adapter == "github-deployments"


def test_secondary_rate_limit_waits_retry_after(github: FakeGitHubDeployments) -> None:
    sleeps = Sleeps()
    status = real(github, sleep=sleeps)
    github.throttle("deployments", n=1, retry_after="4", status=403)
    did = status.start("production", "v1.4.0", "x")
    assert [round(s, 1) for s in sleeps] == [4.0] and did in github.records.deployments


def test_rate_limited_too_long_is_a_failure(github: FakeGitHubDeployments) -> None:
    status = real(github, max_wait_s=10)
    github.throttle("deployments", n=1, retry_after="600", status=429)
    with pytest.raises(NotifierError, match="rate limited"):
        status.start("production", "v1.4.0", "x")
