"""The release's deployment status on GitHub (or GitHub Enterprise), behind `DeploymentStatus`.

REST API (the same client, token, base URL, retries and rate-limit handling as the freeze's
`GitHubPullRequestHost`):
  POST /repos/{o}/{r}/deployments                     {ref, environment, description,
                                                       auto_merge: false, required_contexts: []}
  POST /repos/{o}/{r}/deployments/{id}/statuses       {state, description, environment}
  GET  /repos/{o}/{r}/deployments?environment=E       (every page) and
  GET  /repos/{o}/{r}/deployments/{id}/statuses       to find the still-active previous ones
`auto_merge` is off and `required_contexts` empty: the deployment records what the canary did;
it is not a request to merge or to wait for checks. The token needs the `deployments: write`
permission (fine-grained / GitHub App) or the `repo_deployment` scope (classic).
Failures raise `NotifierError` (a deployment status is a communication; the run goes on).
"""

from __future__ import annotations

from urllib.parse import quote

from runofshow.adapters.github import GitHubPullRequestHost
from runofshow.errors import NotifierError, PullRequestHostError

STATES = ("error", "failure", "inactive", "in_progress", "queued", "pending", "success")
ACTIVE = ("success", "in_progress", "queued", "pending")


class GitHubDeployments:
    """`DeploymentStatus` for one repository, through a `GitHubPullRequestHost`'s client."""

    name = "github-deployments"

    def __init__(self, github: GitHubPullRequestHost, *, production: bool = True) -> None:
        self._github = github
        self._production = production

    @property
    def repo(self) -> str:
        return self._github.repo

    def start(self, environment: str, ref: str, description: str) -> int:
        body = {"ref": ref, "environment": environment, "description": description[:140], "auto_merge": False,
                "required_contexts": [], "production_environment": self._production,
                "transient_environment": False, "payload": {"source": "runofshow"}}
        answer = self._call("POST", "/deployments", body, ok=(201,))
        try:
            return int(answer["id"])
        except (KeyError, TypeError, ValueError):
            message = answer.get("message") if isinstance(answer, dict) else answer
            raise NotifierError(f"{self.name}: {self.repo}: no deployment created ({message})",
                                adapter=self.name, target=self.repo) from None

    def set_state(self, deployment_id: int, state: str, description: str) -> None:
        if state not in STATES:
            raise NotifierError(f"{self.name}: state '{state}' is not one of {', '.join(STATES)}",
                                adapter=self.name, target=self.repo)
        body = {"state": state, "description": description[:140], "auto_inactive": False}
        self._call("POST", f"/deployments/{int(deployment_id)}/statuses", body, ok=(201,))

    def state(self, deployment_id: int) -> str | None:
        rows = self._call("GET", f"/deployments/{int(deployment_id)}/statuses?per_page=1")
        if not isinstance(rows, list):
            raise NotifierError(f"{self.name}: statuses of {deployment_id}: expected a list",
                                adapter=self.name, target=self.repo)
        return str(rows[0]["state"]) if rows else None

    def mark_previous_inactive(self, environment: str, keep: int) -> list[int]:
        try:
            path = f"/deployments?environment={quote(environment, safe='')}&per_page=100"
            rows = self._github.call_all(path)
        except PullRequestHostError as ex:
            raise NotifierError(f"{self.name}: {ex.message}", adapter=self.name, target=ex.target) from None
        marked = []
        for row in rows:
            other = int(row["id"])
            if other != keep and self.state(other) in ACTIVE:
                self.set_state(other, "inactive", f"superseded by deployment {keep}")
                marked.append(other)
        return marked

    def _call(self, method: str, path: str, body: object = None, ok: tuple[int, ...] = (200,)) -> object:
        try:
            return self._github.call(method, path, json=body, ok=ok)
        except PullRequestHostError as ex:
            raise NotifierError(f"{self.name}: {ex.message}", adapter=self.name, target=ex.target) from None

    def close(self) -> None:
        self._github.close()


__all__ = ["ACTIVE", "STATES", "GitHubDeployments"]
