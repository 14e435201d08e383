"""Docs that cannot drift: every traffic router kind has a block in the `init` template and a
complete example in README, each of which validates as a plan; README's Alertmanager snippet
points at the webhook runofshow actually serves (the real `amtool` and Alertmanager check it in
tests/integration/test_alertmanager_readme.py)."""

from __future__ import annotations

import re
import typing
from pathlib import Path
from typing import Any

import pytest
import yaml

from runofshow.adapters.alertmanager import AlertmanagerWebhook
from runofshow.app.plan_file import default_plan_text, parse_plan
from runofshow.domain.connections import AlertSourceSettings as AlertSource
from runofshow.domain.plan import Plan

README = (Path(__file__).resolve().parents[3] / "README.md").read_text(encoding="utf-8")
FIELD_LINE = re.compile(r"^(\s+)# (?=[a-z_]+: )")  # an optional field commented out in a block


def router_models() -> dict[str, Any]:
    """kind -> settings model, from the plan's own traffic_router field (wherever the models live)."""
    union = typing.get_args(Plan.model_fields["traffic_router"].annotation)
    models = typing.get_args(union[0]) if union and typing.get_args(union[0]) else union
    return {m.model_fields["kind"].default: m for m in models}


def template_router_blocks() -> dict[str, dict[str, Any]]:
    """kind -> the `traffic_router` mapping of each block (active or commented out) in the template."""
    lines = default_plan_text().splitlines()
    start = lines.index("traffic_router:")
    end = next(i for i in range(start, len(lines)) if not lines[i].strip())
    chunks: list[list[str]] = []
    for line in lines[start:end]:
        line = re.sub(r"^# ?", "", line) if line.startswith("#") else line
        if line == "traffic_router:":
            chunks.append([])
        chunks[-1].append(FIELD_LINE.sub(r"\1", line))
    blocks = [yaml.safe_load("traffic_router:\n" + "\n".join(c[1:]))["traffic_router"] for c in chunks]
    return {b["kind"]: b for b in blocks}


def readme_router_blocks() -> dict[str, str]:
    """kind -> the text of README's ```yaml example that starts with `traffic_router:`."""
    found = re.findall(r"```yaml\n(traffic_router:\n  kind: (\w+)\n.*?)```", README, re.S)
    return {kind: text for text, kind in found}


def readme_alertmanager() -> dict[str, Any]:
    text = next(b for b in re.findall(r"```yaml\n(.*?)```", README, re.S) if b.startswith("# alertmanager.yml"))
    return dict(yaml.safe_load(text))


@pytest.mark.parametrize("kind", sorted(router_models()))
def test_the_template_has_a_block_for_every_router_with_every_field(kind: str) -> None:
    blocks = template_router_blocks()
    assert kind in blocks, f"default_plan.yaml has no traffic_router block for {kind}"
    assert set(blocks[kind]) == set(router_models()[kind].model_fields)
    plan = parse_plan(yaml.safe_dump({"traffic_router": blocks[kind]}))
    assert plan.traffic_router.kind == kind


def test_the_active_template_block_is_the_default_router() -> None:
    assert parse_plan(default_plan_text()).traffic_router == Plan().traffic_router
    assert template_router_blocks()["local_proxy"] == Plan().traffic_router.model_dump(mode="json")


@pytest.mark.parametrize("kind", sorted(router_models()))
def test_readme_has_a_complete_example_for_every_router(kind: str) -> None:
    examples = readme_router_blocks()
    assert kind in examples, f"README has no ```yaml traffic_router example for {kind}"
    block = yaml.safe_load(examples[kind])["traffic_router"]
    assert set(block) == set(router_models()[kind].model_fields)
    assert parse_plan(examples[kind]).traffic_router.kind == kind


def test_readme_alertmanager_snippet_targets_runofshows_webhook() -> None:
    config = readme_alertmanager()
    runofshow_routes = [r for r in config["route"]["routes"] if r["receiver"] == "runofshow"]
    assert len(runofshow_routes) == 1
    route = runofshow_routes[0]
    labels = AlertSource().match_labels
    assert route["matchers"] == [f'{k}="{v}"' for k, v in labels.items()]
    assert route["continue"] is True  # the alert still reaches the people's routes
    (receiver,) = [r for r in config["receivers"] if r["name"] == "runofshow"]
    (hook,) = receiver["webhook_configs"]
    listen = re.search(r"--listen (\S+)`", README.split("### Alertmanager: auto-rollback")[1])
    assert listen is not None
    host, port = listen.group(1).rsplit(":", 1)
    assert hook["url"] == AlertmanagerWebhook(host, int(port), token="x").url
    assert hook["send_resolved"] is True
    assert hook["http_config"]["authorization"]["type"] == "Bearer"
    token_file = hook["http_config"]["authorization"]["credentials_file"]
    assert f"> {token_file}" in README  # the README says how the file gets the token


@pytest.mark.parametrize("kind", sorted(set(router_models()) - {"ingress_nginx"}))  # that one loads a kubeconfig
def test_readme_router_examples_build_their_router(kind: str) -> None:
    from runofshow.app import bootstrap

    plan = parse_plan(readme_router_blocks()[kind])
    router = bootstrap.build_router(plan, {"FLAG_API_TOKEN": "from-the-environment"})
    try:
        if kind == "nginx_file":
            from runofshow.adapters.nginx_file import render

            text = render(plan.traffic_router, 25)  # type: ignore[arg-type]
            assert "split_clients" in text and "10.0.1.21:8080" in text
    finally:
        getattr(router, "close", lambda: None)()
