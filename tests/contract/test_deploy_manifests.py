"""The deployment files (issue 13): the kustomize base under deploy/kubernetes rendered with
`kubectl kustomize` and every object validated with kubernetes-validate (strict), and the
Dockerfile parsed with dockerfile-parse. No cluster and no container engine run here: what these
tests cannot show is said in the README."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from dockerfile_parse import DockerfileParser

from tests.helpers import require_binary

ROOT = Path(__file__).resolve().parents[2]
BASE = ROOT / "deploy" / "kubernetes"
VERSIONS = ["1.27", "1.30", kubernetes_validate.latest_version()]


@pytest.fixture(scope="module")
def objects() -> list[dict[str, Any]]:
    kubectl = require_binary("kubectl")
    out = subprocess.run([kubectl, "kustomize", str(BASE)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return [d for d in yaml.safe_load_all(out.stdout) if d]


def by_kind(objects: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


@pytest.mark.parametrize("version", VERSIONS)
def test_every_rendered_object_is_valid(objects: list[dict[str, Any]], version: str) -> None:
    assert {o["kind"] for o in objects} == {"ServiceAccount", "Role", "RoleBinding", "Deployment",
                                            "PodDisruptionBudget", "Service"}
    for obj in objects:
        kubernetes_validate.validate(obj, version, strict=True)


def _container(deployment: dict[str, Any]) -> dict[str, Any]:
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return container  # type: ignore[no-any-return]


def test_three_workers_with_probes_requests_and_secrets(objects: list[dict[str, Any]]) -> None:
    deployments = by_kind(objects, "Deployment")
    worker = deployments["runofshow-worker"]
    assert worker["spec"]["replicas"] == 3
    pod = worker["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "runofshow" and pod["securityContext"]["runAsNonRoot"] is True
    c = _container(worker)
    assert c["image"] == "registry.example.com/runofshow:0.1.0"
    assert c["args"][0] == "worker" and "--heartbeat-file" in c["args"]
    evidence = c["args"][c["args"].index("--evidence-root") + 1]  # on a volume: the root is read-only
    mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
    assert evidence in mounts and {"name": mounts[evidence], "emptyDir": {"sizeLimit": "2Gi"}} in pod["volumes"]
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        assert c[probe]["exec"]["command"][:2] == ["runofshow", "worker-alive"]
    assert {"cpu", "memory"} <= set(c["resources"]["requests"])
    env = {e["name"]: e for e in c["env"]}
    assert env["RUNOFSHOW_STATE"]["valueFrom"]["secretKeyRef"] == {"name": "runofshow", "key": "database-url"}
    assert all("value" not in e for e in c["env"])  # secrets by reference only
    web = deployments["runofshow-web"]
    w = _container(web)
    assert w["args"][0] == "serve" and w["readinessProbe"]["httpGet"]["path"] == "/healthz"
    assert w["livenessProbe"]["httpGet"]["path"] == "/healthz" and "requests" in w["resources"]
    service = by_kind(objects, "Service")["runofshow-web"]
    assert service["spec"]["selector"] == web["spec"]["selector"]["matchLabels"]
    pdb = by_kind(objects, "PodDisruptionBudget")["runofshow-worker"]
    assert pdb["spec"]["selector"]["matchLabels"] == worker["spec"]["selector"]["matchLabels"]
    assert pdb["spec"]["maxUnavailable"] == 1


def test_the_role_may_only_get_and_patch_named_ingresses(objects: list[dict[str, Any]]) -> None:
    (role,) = by_kind(objects, "Role").values()
    for rule in role["rules"]:
        assert rule["apiGroups"] == ["networking.k8s.io"] and rule["resources"] == ["ingresses"]
        assert sorted(rule["verbs"]) == ["get", "patch"] and rule["resourceNames"]
    (binding,) = by_kind(objects, "RoleBinding").values()
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "runofshow"}]


def test_the_dockerfile_is_pinned_non_root_healthchecked_and_installs_the_wheel() -> None:
    parser = DockerfileParser(path=str(ROOT / "Dockerfile"))
    args = dict(str(i["value"]).split("=", 1) for i in parser.structure if i["instruction"] == "ARG")
    base = args["PYTHON_IMAGE"]
    assert parser.baseimage in (base, "${PYTHON_IMAGE}")
    assert re.fullmatch(r"python:\d+\.\d+\.\d+-slim(-\w+)?@sha256:[0-9a-f]{64}", base), base  # by digest
    stages = [i for i in parser.structure if i["instruction"] == "FROM"]
    assert len(stages) == 2  # the wheel is built in the first, installed in the second
    last_from = max(i["startline"] for i in stages)
    final = [i for i in parser.structure if i["startline"] > last_from]

    def values(instruction: str) -> list[str]:
        return [str(i["value"]) for i in final if i["instruction"] == instruction]

    (user,) = values("USER")
    assert user.split(":")[0] not in ("0", "root")
    assert any("pip install" in run and ".whl" in run for run in values("RUN"))
    assert [r for r in values("RUN") if "useradd" in r and "10001" in r]
    (health,) = values("HEALTHCHECK")
    assert "worker-alive" in health
    assert values("ENTRYPOINT") == ['["runofshow"]']
    (cmd,) = values("CMD")
    assert cmd.startswith('["worker"') and "/tmp/runofshow-worker.alive" in cmd
