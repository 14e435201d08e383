"""The Kubernetes objects the ingress-nginx router produces, validated with kubernetes-validate
(strict: unknown fields fail) against the networking.k8s.io/v1 schema of several releases."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

import kubernetes_validate
import pytest
from kubernetes.client import ApiClient, Configuration

from runofshow.adapters.ingress_nginx import (
    CANARY,
    CANARY_WEIGHT,
    CANARY_WEIGHT_TOTAL,
    IngressNginxRouter,
    annotated_weight,
    canary_manifest,
    weight_annotations,
)
from runofshow.domain.connections import IngressNginxRouterSettings

if TYPE_CHECKING:
    from conftest import FakeKubeApi

VERSIONS = ["1.27", "1.30", kubernetes_validate.latest_version()]


def validate(manifest: dict[str, Any], version: str) -> None:
    kubernetes_validate.validate(manifest, version, strict=True)


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("weight", [0, 0.01, 0.5, 1, 12.25, 50, 100])
def test_canary_manifest_is_a_valid_ingress(stable_ingress: dict[str, Any], weight: float,
                                            version: str) -> None:
    manifest = canary_manifest(stable_ingress, name="spark-trading-canary", service="spark-trading-v140",
                               port=8080, weight=weight)
    validate(manifest, version)
    notes = manifest["metadata"]["annotations"]
    assert notes[CANARY] == "true"
    assert all(isinstance(v, str) for v in notes.values())
    assert annotated_weight(notes) == pytest.approx(weight)


def test_canary_manifest_copies_routing_not_ownership(stable_ingress: dict[str, Any]) -> None:
    original = copy.deepcopy(stable_ingress)
    m = canary_manifest(stable_ingress, name="c", service="svc-canary", port=80, weight=5)
    assert stable_ingress == original  # pure: the input is not touched
    assert m["metadata"]["namespace"] == "trading" and m["spec"]["ingressClassName"] == "nginx"
    paths = m["spec"]["rules"][0]["http"]["paths"]
    assert [(p["path"], p["pathType"]) for p in paths] == [("/", "Prefix"), ("/ws", "Prefix")]
    assert all(p["backend"] == {"service": {"name": "svc-canary", "port": {"number": 80}}} for p in paths)
    assert m["spec"]["rules"][0]["host"] == "trading.example.com"
    assert "tls" not in m["spec"] and "status" not in m
    for server_side in ("uid", "resourceVersion", "managedFields", "creationTimestamp", "generation"):
        assert server_side not in m["metadata"]
    assert m["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "runofshow",
                                       "runofshow/stable-ingress": "spark-trading"}
    assert "kubectl.kubernetes.io/last-applied-configuration" not in m["metadata"]["annotations"]


@pytest.mark.parametrize("version", VERSIONS)
def test_default_backend_and_legacy_class_annotation(version: str) -> None:
    stable = {
        "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": {"name": "web", "namespace": "shop",
                     "annotations": {"kubernetes.io/ingress.class": "nginx"}},
        "spec": {"defaultBackend": {"service": {"name": "web", "port": {"name": "http"}}},
                 "rules": [{"host": "shop.example.com"}]},
    }
    m = canary_manifest(stable, name="web-canary", service="web-canary", port=8080, weight=1)
    validate(m, version)
    assert m["spec"]["defaultBackend"] == {"service": {"name": "web-canary", "port": {"number": 8080}}}
    assert m["metadata"]["annotations"]["kubernetes.io/ingress.class"] == "nginx"
    assert m["spec"]["rules"] == [{"host": "shop.example.com"}]


def test_a_stable_ingress_without_routes_is_refused() -> None:
    with pytest.raises(ValueError, match="no rules"):
        canary_manifest({"metadata": {"name": "empty"}, "spec": {}}, name="c", service="s", port=80)


@pytest.mark.parametrize(("weight", "units", "total"), [
    (0, "0", "100"), (1, "1", "100"), (100, "100", "100"), (0.5, "5", "1000"), (0.1, "1", "1000"),
    (0.25, "25", "10000"), (12.34, "1234", "10000"), (99.99, "9999", "10000"),
])
def test_weight_annotations_use_the_smallest_exact_total(weight: float, units: str, total: str) -> None:
    notes = weight_annotations(weight)
    assert notes == {CANARY_WEIGHT: units, CANARY_WEIGHT_TOTAL: total}
    assert annotated_weight(notes) == pytest.approx(weight)


@pytest.mark.parametrize("bad", [-1, 100.5, 0.001, 33.333])
def test_weights_ingress_nginx_cannot_express_are_refused(bad: float) -> None:
    with pytest.raises(ValueError):
        weight_annotations(bad)


@pytest.mark.parametrize(("notes", "expected"), [
    ({}, 0.0), ({CANARY_WEIGHT: "7"}, 7.0), ({CANARY_WEIGHT: " 7 "}, 7.0),
    ({CANARY_WEIGHT: "5", CANARY_WEIGHT_TOTAL: "1000"}, 0.5),
])
def test_read_back_of_annotations(notes: dict[str, str], expected: float) -> None:
    assert annotated_weight(notes) == expected


@pytest.mark.parametrize("notes", [
    {CANARY_WEIGHT: "abc"}, {CANARY_WEIGHT: "101"}, {CANARY_WEIGHT: "5", CANARY_WEIGHT_TOTAL: "0"},
    {CANARY_WEIGHT: "-1"}, {CANARY_WEIGHT: "2.5"},
])
def test_garbled_annotations_are_errors(notes: dict[str, str]) -> None:
    with pytest.raises(ValueError):
        annotated_weight(notes)


def test_what_the_router_sends_to_the_api_server_validates(kube_api: FakeKubeApi) -> None:
    configuration = Configuration(host=kube_api.url)
    configuration.api_key = {"BearerToken": kube_api.token}
    configuration.api_key_prefix = {"BearerToken": "Bearer"}
    settings = IngressNginxRouterSettings(namespace="trading", ingress="spark-trading-canary",
                               stable_ingress="spark-trading", create_canary_ingress=True,
                               canary_service="spark-trading-v140", canary_service_port=8080)
    with IngressNginxRouter(settings, api_client=ApiClient(configuration)) as router:
        router.set_weight(1)
        router.set_weight(0.5)
    posted = [body for method, _, _, body in kube_api.requests if method == "POST"]
    assert len(posted) == 1
    for version in VERSIONS:
        validate(posted[0], version)
    # the object after the merge patch, as the server stores it, is still a valid Ingress
    stored = copy.deepcopy(kube_api.objects[("trading", "spark-trading-canary")])
    for server_side in ("uid", "resourceVersion", "managedFields", "creationTimestamp", "generation"):
        stored["metadata"].pop(server_side)
    stored.pop("status")
    validate(stored, VERSIONS[-1])
    assert annotated_weight(stored["metadata"]["annotations"]) == 0.5
