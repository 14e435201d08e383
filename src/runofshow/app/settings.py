"""Settings from the environment. The only module that reads `os.environ`; every function takes an
`environ` mapping so tests pass their own (`environ=None` means the process environment).

    GITHUB_TOKEN      token for the GitHub REST API (labels, statuses); GitHub Actions provides one
    GITHUB_API_URL    API base URL; GitHub Actions sets it (https://HOST/api/v3 on GitHub Enterprise)
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from runofshow.errors import InputError

DEFAULT_GITHUB_API_URL = "https://api.github.com"


@dataclass(frozen=True)
class GitHubSettings:
    api_url: str = DEFAULT_GITHUB_API_URL
    token: str | None = None
    timeout_s: float = 10.0
    max_attempts: int = 5
    max_wait_s: float = 120.0

    def __repr__(self) -> str:  # never print the token
        return f"GitHubSettings(api_url={self.api_url!r}, token={'***' if self.token else None})"


def environment(environ: Mapping[str, str] | None = None) -> Mapping[str, str]:
    """The process environment, or the mapping a test injects. The only place that reads os.environ."""
    return os.environ if environ is None else environ


def github_settings(
    environ: Mapping[str, str] | None = None, *, api_url: str | None = None,
) -> GitHubSettings:
    """GitHub settings: `api_url` (a --api-url flag) wins over GITHUB_API_URL, then the default."""
    env = environment(environ)
    url = (api_url or env.get("GITHUB_API_URL") or DEFAULT_GITHUB_API_URL).strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InputError(f"GitHub API URL '{url}' is not an http(s) URL like https://github.example.com/api/v3")
    token = (env.get("GITHUB_TOKEN") or "").strip() or None
    return GitHubSettings(api_url=url, token=token)
