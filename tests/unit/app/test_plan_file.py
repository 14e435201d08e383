"""Bad plan input: one line naming the file, the field and the problem. A test per kind."""

from __future__ import annotations

import pytest
import yaml
from pydantic import BaseModel

from runofshow.app.plan_file import default_plan_text, load_plan, parse_plan
from runofshow.domain.plan import Plan
from runofshow.errors import PlanError


def test_default_template_is_the_default_plan():
    assert parse_plan(default_plan_text()) == Plan()


def _keys(model: type[BaseModel], prefix: str = ""):
    for name, field in model.model_fields.items():
        yield prefix + name
        ann = field.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            yield from _keys(ann, prefix + name + ".")


def test_template_documents_every_field():
    data = yaml.safe_load(default_plan_text())

    def has(path: str) -> bool:
        node = data
        for part in path.split("."):
            if not isinstance(node, dict) or part not in node:
                return False
            node = node[part]
        return True

    missing = [k for k in _keys(Plan) if not has(k)]
    assert missing == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("stages: [{weight: 1}, {weight: 5}, {weight: 150}]", "plan.yaml: stages[2].weight: must be between 0 and 100"),
        ("stages: [{weight: -5}, {weight: 100}]", "plan.yaml: stages[0].weight: must be between 0 and 100"),
        ("stages: [{weight: 50}, {weight: 5}, {weight: 100}]", "plan.yaml: stages: weights must increase (50 then 5)"),
        ("gates: {http_p95_ms: {threshold: lots}}", "plan.yaml: gates.http_p95_ms.threshold: input should be a valid number"),
        ("gates: {http_p95_ms: {unit: ms}}", "plan.yaml: gates.http_p95_ms.threshold: missing"),
        ("gates: {http_p95_ms: {threshold: 1, kind: median}}", "plan.yaml: gates.http_p95_ms.kind: input should be"),
        ("traffic_router: {kind: carrier_pigeon}", "plan.yaml: traffic_router: unknown kind 'carrier_pigeon'"),
        ("traffic_router: {kind: ingress_nginx, ingress: c, stable_ingress: s, namespce: prod}", "plan.yaml: traffic_router.namespce: unknown field"),
        ("traffic_router: {kind: flag_api, feature: v1.4.0}", "plan.yaml: traffic_router.url: missing"),
        ("traffic_router: {kind: nginx_file, stable_servers: ['127.0.0.1:8081']}", "plan.yaml: traffic_router.canary_servers: missing"),
        ("metrics_source: {kind: prometheus, timeout_s: 0}", "plan.yaml: metrics_source.timeout_s: input should be greater than 0"),
        ("market: {timezone: Europe/Atlantis}", "plan.yaml: market.timezone: unknown time zone 'Europe/Atlantis'"),
        ("market: {hours: {start: '18:00', end: '09:30'}}", "plan.yaml: market.hours: start must be before end"),
        ("release: {version: latest}", "plan.yaml: release.version: 'latest' is not a version like v1.4.0"),
        ("relase: {version: v1.4.0}", "plan.yaml: relase: unknown field"),
        ("stages: {weight: 1}", "plan.yaml: stages: input should be a valid"),
        ("- just\n- a list", "plan.yaml: (top level): must be a mapping of sections, not list"),
        ("stages: [\n  {weight: 1\n", "plan.yaml: line 3 column 1: invalid YAML"),
        ("decision: {tick_interval_s: -60}", "plan.yaml: decision.tick_interval_s: input should be greater than 0"),
        ("war_room: {incident_commanders: []}", "plan.yaml: war_room.incident_commanders: name at least one incident commander"),
        ("team: {max_canaries_per_service: 0}", "plan.yaml: team.max_canaries_per_service: input should be greater than or equal to 1"),
        ("team: {max_canaries: 2}", "plan.yaml: team.max_canaries: "),
        ("freeze: {allowed: [hotfix], blocked: [hotfix]}", "plan.yaml: freeze: hotfix cannot be both allowed and blocked"),
        # addresses that cannot work (issue 10 item 1)
        ("traffic_router: {kind: local_proxy, stable_url: '127.0.0.1:8081'}", "plan.yaml: traffic_router.stable_url: needs http:// or https://"),
        ("traffic_router: {kind: local_proxy, canary_url: 'ftp://127.0.0.1/x'}", "plan.yaml: traffic_router.canary_url: needs http:// or https://"),
        ("traffic_router: {kind: local_proxy, admin_url: 'http://'}", "plan.yaml: traffic_router.admin_url: 'http://' has no host"),
        ("traffic_router: {kind: local_proxy, listen: '8080'}", "plan.yaml: traffic_router.listen: '8080' needs host and port"),
        ("traffic_router: {kind: local_proxy, listen: '::1:8080'}", "plan.yaml: traffic_router.listen: '::1:8080': an IPv6 address goes in brackets"),
        ("traffic_router: {kind: local_proxy, listen: '127.0.0.1:http'}", "plan.yaml: traffic_router.listen: '127.0.0.1:http' needs a port"),
        ("traffic_router: {kind: flag_api, url: 'localhost:4001/api', feature: f}", "plan.yaml: traffic_router.url: needs http:// or https://"),
        ("traffic_router: {kind: flag_api, url: 'http://x/', read_url: 'x/{feature}', feature: f}", "plan.yaml: traffic_router.read_url: needs http://"),
        ("metrics_source: {kind: prometheus, url: localhost}", "plan.yaml: metrics_source.url: needs http:// or https://"),
        ("metrics_source: {kind: prometheus, url: 'http://127.0.0.1:99999'}", "plan.yaml: metrics_source.url: 'http://127.0.0.1:99999' has a port that is not"),
        ("metrics_source: {kind: web_json, metrics: {p95: {baseline: {url: 'b:1/x', path: p}, canary: {url: 'http://c/x', path: p}}}}", "plan.yaml: metrics_source.metrics.p95.baseline.url: needs http://"),
        ("alert_source: {webhook_listen: 'localhost'}", "plan.yaml: alert_source.webhook_listen: 'localhost' needs host and port"),
        ("alert_source: {webhook_listen: '[127.0.0.1]:9095'}", "plan.yaml: alert_source.webhook_listen: '[127.0.0.1]:9095': only an IPv6 address goes in brackets"),
        ("notifications: {webhook_url: 'hooks.example/x'}", "plan.yaml: notifications.webhook_url: needs http:// or https://"),
        ("notifications: {grafana_url: 'grafana:3000'}", "plan.yaml: notifications.grafana_url: needs http:// or https://"),
        ("preflight: {canary_health_url: '127.0.0.1:8082/healthz'}", "plan.yaml: preflight.canary_health_url: needs http:// or https://"),
        ("timeline: {blast_radius: {url: 'http:/x'}}", "plan.yaml: timeline.blast_radius.url: needs http:// or https://"),
    ],
)
def test_each_kind_of_bad_plan_is_one_clear_line(text, expected):
    with pytest.raises(PlanError) as err:
        parse_plan(text)
    first = err.value.problems[0]
    assert first.startswith(expected), first
    assert "\n" not in first and "Traceback" not in first


def test_every_problem_is_reported():
    with pytest.raises(PlanError) as err:
        parse_plan("stages: [{weight: 500}, {weight: 100}]\nrelease: {version: x}\nbogus: 1\n")
    assert len(err.value.problems) == 3


def test_missing_file(tmp_path):
    with pytest.raises(PlanError, match="no such file"):
        load_plan(tmp_path / "nope.yaml")


@pytest.mark.parametrize("listen", ["127.0.0.1:8080", "[::1]:8080", "localhost:0", "0.0.0.0:9095"])
def test_listen_addresses_that_work_pass(listen):
    plan = parse_plan(f"traffic_router: {{kind: local_proxy, listen: '{listen}'}}\nalert_source: {{webhook_listen: '{listen}'}}")
    assert plan.alert_source.webhook_listen == listen


def test_empty_file_is_the_default_plan(tmp_path):
    p = tmp_path / "plan.yaml"
    p.write_text("")
    assert load_plan(p) == Plan()
