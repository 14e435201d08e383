"""README's Alertmanager snippet, as printed, passes the real `amtool check-config`, and run by a real
Alertmanager it delivers an `auto_rollback="true"` alert to runofshow's webhook with the bearer token
read from the file (and an `auto_rollback="false"` one not at all), then its resolution."""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from runofshow.adapters.alertmanager import AlertmanagerWebhook
from runofshow.domain.connections import AlertSourceSettings as AlertSource
from runofshow.domain.tick import Alert
from tests.helpers import require_binary, wait_until
from tests.integration.services import AlertmanagerServer

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
TOKEN = "readme-webhook-token"  # a test's own token


def readme_snippet() -> str:
    blocks = README.split("```yaml\n")[1:]
    (text,) = [b.split("```", 1)[0] for b in blocks if b.startswith("# alertmanager.yml")]
    return text


def snippet_hook(text: str) -> Mapping[str, Any]:
    config = yaml.safe_load(text)
    (receiver,) = [r for r in config["receivers"] if r["name"] == "runofshow"]
    return dict(receiver["webhook_configs"][0])


def test_readme_snippet_passes_amtool_check_config(tmp_path: Path) -> None:
    amtool = require_binary("amtool")
    path = tmp_path / "alertmanager.yml"
    path.write_text(readme_snippet())
    checked = subprocess.run([amtool, "check-config", str(path)], capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS" in checked.stdout and " - 2 receivers" in checked.stdout


class Recorder:
    """Every payload the webhook accepted (wrapping its `receive`), and the alerts it announced."""

    def __init__(self, hook: AlertmanagerWebhook) -> None:
        self.payloads: list[dict[str, Any]] = []
        self.announced: list[Alert] = []
        self._receive = hook.receive
        self._lock = threading.Lock()
        hook.receive = self.receive  # type: ignore[method-assign]
        hook.on_alert = self.announced.append

    def receive(self, payload: Mapping[str, Any]) -> list[Alert]:
        with self._lock:
            self.payloads.append(dict(payload))
        return self._receive(payload)

    def names(self) -> set[str]:
        with self._lock:
            return {a["labels"].get("alertname") for p in self.payloads for a in p["alerts"]}


@pytest.fixture
def readme_stack(
    tmp_path: Path, alertmanager_factory: Callable[..., AlertmanagerServer],
) -> Iterator[tuple[AlertmanagerWebhook, Recorder, AlertmanagerServer]]:
    hook = AlertmanagerWebhook(token=TOKEN, match_labels=AlertSource().match_labels).start()
    recorder = Recorder(hook)
    token_file = tmp_path / "runofshow-webhook.token"
    token_file.write_text(TOKEN)  # as README's `printf '%s' "$RUNOFSHOW_WEBHOOK_TOKEN" > ...`
    text = readme_snippet()
    hook_config = snippet_hook(text)
    url, credentials_file = hook_config["url"], hook_config["http_config"]["authorization"]["credentials_file"]
    assert text.count(url) == 1 and text.count(credentials_file) == 1
    text = text.replace(url, hook.url).replace(credentials_file, str(token_file))
    am = alertmanager_factory([], config_text=text)
    yield hook, recorder, am
    am.stop()
    hook.stop()


def post_alert(am: AlertmanagerServer, labels: dict[str, str], *, ends_at: datetime | None = None) -> None:
    now = datetime.now(UTC)
    alert: dict[str, Any] = {"labels": labels, "startsAt": (now - timedelta(seconds=5)).isoformat()}
    if ends_at is not None:
        alert["endsAt"] = ends_at.isoformat()
    httpx.post(f"{am.url}/api/v2/alerts", json=[alert], timeout=10).raise_for_status()


def test_readme_snippet_routes_auto_rollback_alerts_to_the_webhook_with_the_token(
    readme_stack: tuple[AlertmanagerWebhook, Recorder, AlertmanagerServer],
) -> None:
    hook, recorder, am = readme_stack
    rollback = {"alertname": "SparkCanary5xx", "auto_rollback": "true", "severity": "page"}
    noisy = {"alertname": "SparkCanaryNoisy", "auto_rollback": "false", "severity": "page"}
    post_alert(am, noisy)
    started = time.monotonic()
    post_alert(am, rollback)

    wait_until(lambda: recorder.announced, timeout=60, what="the auto_rollback alert at the webhook")
    print(f"Alertmanager -> runofshow webhook: {time.monotonic() - started:.2f} s")
    assert [a.name for a in recorder.announced] == ["SparkCanary5xx"]
    assert [a.name for a in hook.firing(datetime.now(UTC))] == ["SparkCanary5xx"]
    assert hook.rejected == 0  # the token from credentials_file was the right one

    post_alert(am, rollback, ends_at=datetime.now(UTC))  # resolved: send_resolved tells the webhook
    wait_until(lambda: hook.firing(datetime.now(UTC)) == (), timeout=60, what="the resolved notification")
    assert recorder.names() == {"SparkCanary5xx"}  # the auto_rollback="false" alert never came
    assert hook.rejected == 0
