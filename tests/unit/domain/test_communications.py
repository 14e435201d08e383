"""The plan's `communications` section: off by default, each part validated at load time, the
template's commented examples valid, Slack user ids mapped to people."""

from __future__ import annotations

import re

import pytest
import yaml
from pydantic import ValidationError

from runofshow.app.plan_file import default_plan_text
from runofshow.domain.communications import (
    CommunicationsSettings,
    PagerDutySettings,
    SlackWarRoomSettings,
    WebhookPagerSettings,
    pager_fields,
    yellow_settings,
)
from runofshow.domain.plan import Plan


def test_everything_is_off_by_default() -> None:
    c = Plan().communications
    assert (c.slack, c.pager, c.deployments) == (None, None, None) and not c.any_on


def test_the_templates_commented_examples_are_valid() -> None:
    """Uncomment the template's examples under `communications:`; the plan they make validates."""
    text = default_plan_text()
    section = text[text.index("communications:"):text.index("\nevidence_dir:")]
    lines = []
    for line in section.splitlines():
        m = re.match(r"^  (slack|pager|deployments): null", line)
        if m:
            lines.append(f"  {m.group(1)}:")
        elif line.startswith("  #   "):
            lines.append("    " + line[len("  #   "):].split("  #")[0].split(" # ")[0].rstrip())
        else:
            lines.append(line.split("  #")[0].rstrip())
    data = yaml.safe_load("\n".join(lines))
    plan = Plan.model_validate(data)
    c = plan.communications
    assert c.slack is not None and c.slack.channel == "spark-warroom-v140"
    assert c.slack.person("U024BE7LH") == "ic-on-call"
    assert isinstance(c.pager, PagerDutySettings) and c.pager.service_ids == ("PIJ90N7",)
    assert c.deployments is not None and c.deployments.repo == "acme/spark-trading"


def test_a_full_section() -> None:
    c = CommunicationsSettings.model_validate({
        "slack": {"channel": "#spark-warroom-v140", "members": [
            {"name": "alice", "slack_user_id": "U024BE7LH"}, {"name": "bob", "slack_user_id": "W0G9QF9C6"}]},
        "pager": {"kind": "webhook", "url": "https://pager-bridge.example/hook", "token_env": "BRIDGE_TOKEN"},
        "deployments": {"repo": "acme/spark-trading", "environment": "prod-eu"},
    })
    assert c.any_on and c.slack is not None
    assert c.slack.channel == "spark-warroom-v140"  # the # is Slack's display, not the name
    assert c.slack.member_ids == ("U024BE7LH", "W0G9QF9C6")
    assert (c.slack.person("W0G9QF9C6"), c.slack.person("U0STRANGER")) == ("bob", None)
    assert isinstance(c.pager, WebhookPagerSettings) and c.pager.ack_timeout_s == 300


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ({"slack": {"channel": "Spark War Room"}}, "is not a Slack channel name"),
        ({"slack": {"channel": "x" * 81}}, "is not a Slack channel name"),
        ({"slack": {"members": [{"name": "alice", "slack_user_id": "alice"}]}}, "is not a Slack user id"),
        ({"slack": {"members": [{"name": "alice", "slack_user_id": "U024BE7LH"},
                                {"name": "bob", "slack_user_id": "U024BE7LH"}]}}, "given to both alice and bob"),
        ({"slack": {"api_url": "slack.com/api"}}, "needs http:// or https://"),
        ({"slack": {"bot_tokn_env": "X"}}, "Extra inputs are not permitted"),
        ({"pager": {"kind": "pagerduty"}}, "service_ids"),
        ({"pager": {"kind": "pagerduty", "service_ids": []}}, "at least 1"),
        ({"pager": {"kind": "pagerduty", "service_ids": ["checkout"]}}, "is not a PagerDuty service id"),
        ({"pager": {"kind": "pagerduty", "service_ids": ["PIJ90N7"], "ack_timeout_s": 30}}, "greater than or equal to 60"),
        ({"pager": {"kind": "opsgenie"}}, "does not match any of the expected tags"),
        ({"pager": {"kind": "webhook", "url": "ftp://pager"}}, "needs http:// or https://"),
        ({"deployments": {"repo": "spark-trading"}}, "is not OWNER/NAME"),
        ({"deployments": {"repo": "acme/spark-trading", "environment": ""}}, "at least 1 character"),
    ],
)
def test_bad_settings_fail_at_load_time(data: dict, problem: str) -> None:
    with pytest.raises(ValidationError) as caught:
        CommunicationsSettings.model_validate(data)
    assert problem in str(caught.value)


def test_pagerduty_service_ids_once_each() -> None:
    s = PagerDutySettings(service_ids=("PIJ90N7", "PQ2K7ZL", "PIJ90N7"))
    assert s.service_ids == ("PIJ90N7", "PQ2K7ZL")


def test_yellow_and_the_fields_green_puts_back() -> None:
    assert yellow_settings(300) == {"incident_urgency_rule": {"type": "constant", "urgency": "high"},
                                    "acknowledgement_timeout": 300}
    service = {"id": "PIJ90N7", "name": "checkout", "acknowledgement_timeout": None,
               "incident_urgency_rule": {"type": "use_support_hours"}, "scheduled_actions": [{"type": "x"}]}
    kept = pager_fields(service)
    assert kept == {"acknowledgement_timeout": None, "incident_urgency_rule": {"type": "use_support_hours"},
                    "scheduled_actions": [{"type": "x"}]}
    service["incident_urgency_rule"]["type"] = "constant"
    assert kept["incident_urgency_rule"] == {"type": "use_support_hours"}  # a copy, not a view


def test_slack_settings_defaults() -> None:
    s = SlackWarRoomSettings()
    assert (s.channel, s.bot_token_env, s.signing_secret_env, s.archive_at_close) == (
        "spark-warroom-v140", "SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", True)
