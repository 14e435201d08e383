"""Settings from the environment: the GitHub API URL is checked like every URL in the plan."""

from __future__ import annotations

import re

import pytest

from runofshow.app.settings import DEFAULT_GITHUB_API_URL, github_settings
from runofshow.errors import InputError


def test_github_settings_take_the_flag_then_the_environment_then_the_default() -> None:
    env = {"GITHUB_API_URL": "https://ghe.example.com/api/v3/", "GITHUB_TOKEN": " t0k "}
    assert github_settings({}).api_url == DEFAULT_GITHUB_API_URL
    assert github_settings(env) == github_settings(env, api_url=None)
    assert github_settings(env).api_url == "https://ghe.example.com/api/v3" and github_settings(env).token == "t0k"
    assert github_settings(env, api_url="http://127.0.0.1:9/api").api_url == "http://127.0.0.1:9/api"
    assert "t0k" not in repr(github_settings(env))


@pytest.mark.parametrize(("url", "says"), [
    ("github.example.com", "needs http:// or https://"),
    ("https:///api/v3", "has no host"),
    ("https://ghe:http/api", "port that is not a number"),
])
def test_a_bad_github_api_url_is_one_line_saying_what_is_wrong(url: str, says: str) -> None:
    with pytest.raises(InputError, match=f"^GitHub API URL .*{re.escape(says)}") as err:
        github_settings({"GITHUB_API_URL": url})
    assert "\n" not in str(err.value)
