"""ingress-nginx traffic router: the canary Ingress's `nginx.ingress.kubernetes.io/canary-weight`.

Through the official `kubernetes` client (an injected `ApiClient` / `Configuration`, else the
kubeconfig named in the settings, else `~/.kube/config` / `$KUBECONFIG`, else in-cluster config).

Weights: ingress-nginx reads `canary-weight` as an integer out of `canary-weight-total` (default
100). Every write sets both, with the smallest total of 100, 1000 and 10000 that holds the weight
exactly (1 % -> 1/100, 0.5 % -> 5/1000, 0.25 % -> 25/10000); the read-back is weight * 100 / total.
A weight finer than 0.01 % is a `ValueError`.

Writes are JSON merge patches carrying the `resourceVersion` read just before, so a concurrent
writer causes a 409 and a fresh read, never a lost update; a patch is only sent when the
annotations differ (idempotent). With `create_canary_ingress`, a missing canary Ingress is created
from the stable one (`canary_manifest`): same class and rules, every backend pointed at the canary
Service, `canary: "true"`. No canary Ingress means no canary traffic: it reads back 0 % and setting
0 % is a no-op. An Ingress without `canary: "true"` is refused, so the stable Ingress is never
turned into a canary by mistake.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Callable, Mapping
from typing import Any

import urllib3
from kubernetes import config as kube_config
from kubernetes.client import ApiClient, Configuration, NetworkingV1Api, V1Ingress
from kubernetes.client.exceptions import ApiException

from runofshow.adapters.weights import checked_weight
from runofshow.domain.connections import IngressNginxRouterSettings
from runofshow.errors import RouterError

ADAPTER = "ingress_nginx"
PREFIX = "nginx.ingress.kubernetes.io/"
CANARY = PREFIX + "canary"
CANARY_WEIGHT = PREFIX + "canary-weight"
CANARY_WEIGHT_TOTAL = PREFIX + "canary-weight-total"
TOTALS = (100, 1000, 10000)
MANAGED_BY = {"app.kubernetes.io/managed-by": "runofshow"}
MERGE_PATCH = "application/merge-patch+json"


# --------------------------------------------------------------------------- pure helpers


def weight_annotations(weight: float) -> dict[str, str]:
    """The canary-weight / canary-weight-total annotations for `weight` %."""
    w = checked_weight(weight)
    for total in TOTALS:
        units = w * total / 100
        if abs(units - round(units)) < 1e-6:
            return {CANARY_WEIGHT: str(round(units)), CANARY_WEIGHT_TOTAL: str(total)}
    raise ValueError(f"ingress-nginx weights go in 0.01 % steps (canary-weight-total 10000); "
                     f"{weight!r} % is finer")


def annotated_weight(annotations: Mapping[str, str]) -> float:
    """The canary weight in percent the annotations ask ingress-nginx for (ValueError if garbled)."""
    raw_weight = annotations.get(CANARY_WEIGHT, "0")
    raw_total = annotations.get(CANARY_WEIGHT_TOTAL, "100")
    try:
        units, total = int(str(raw_weight).strip()), int(str(raw_total).strip())
    except ValueError:
        raise ValueError(f"canary-weight '{raw_weight}' / canary-weight-total '{raw_total}' "
                         "are not integers") from None
    if total <= 0 or not 0 <= units <= total:
        raise ValueError(f"canary-weight {units} is not within 0..canary-weight-total {total}")
    return round(units * 100 / total, 6)


def _canary_backend(service: str, port: int) -> dict[str, Any]:
    return {"service": {"name": service, "port": {"number": port}}}


def canary_manifest(
    stable: Mapping[str, Any], *, name: str, service: str, port: int, weight: float = 0.0,
    namespace: str | None = None,
) -> dict[str, Any]:
    """The canary Ingress for `stable` (a networking.k8s.io/v1 Ingress as a JSON dict). Pure.

    Keeps the stable Ingress's class (field or legacy annotation), hosts and paths; points every
    backend at `service`:`port`; adds `canary: "true"` and the weight annotations. Labels, TLS and
    other annotations are not copied (GitOps tools would claim a copy of their tracking labels).
    """
    meta = stable.get("metadata") or {}
    spec = stable.get("spec") or {}
    stable_annotations = meta.get("annotations") or {}
    annotations = {CANARY: "true", **weight_annotations(weight)}
    if "kubernetes.io/ingress.class" in stable_annotations:
        annotations["kubernetes.io/ingress.class"] = stable_annotations["kubernetes.io/ingress.class"]
    rules = []
    for rule in spec.get("rules") or []:
        new_rule = {k: copy.deepcopy(v) for k, v in rule.items() if k != "http"}
        paths = ((rule.get("http") or {}).get("paths")) or []
        if paths:
            new_rule["http"] = {"paths": [
                {
                    **({"path": p["path"]} if "path" in p else {}),
                    "pathType": p.get("pathType") or "ImplementationSpecific",
                    "backend": _canary_backend(service, port),
                }
                for p in paths
            ]}
        rules.append(new_rule)
    new_spec: dict[str, Any] = {}
    if spec.get("ingressClassName"):
        new_spec["ingressClassName"] = spec["ingressClassName"]
    if spec.get("defaultBackend"):
        new_spec["defaultBackend"] = _canary_backend(service, port)
    if rules:
        new_spec["rules"] = rules
    if not rules and "defaultBackend" not in new_spec:
        raise ValueError(f"the stable Ingress {meta.get('name', '?')} has no rules and no defaultBackend")
    metadata: dict[str, Any] = {
        "name": name,
        "labels": {**MANAGED_BY, "runofshow/stable-ingress": str(meta.get("name", ""))[:63]},
        "annotations": annotations,
    }
    ns = namespace or meta.get("namespace")
    if ns:
        metadata["namespace"] = ns
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": metadata,
            "spec": new_spec}


def _status_message(e: ApiException) -> str:
    try:
        status = json.loads(e.body or "")
        return str(status.get("message") or e.reason)
    except (ValueError, AttributeError):
        return str(e.reason or e.body or "")


def _client_from(settings: IngressNginxRouterSettings) -> ApiClient:
    """kubeconfig (settings, $KUBECONFIG, ~/.kube/config), else in-cluster config."""
    default = os.path.expanduser(kube_config.kube_config.KUBE_CONFIG_DEFAULT_LOCATION)
    if settings.kubeconfig or settings.context or os.path.exists(default):
        client: ApiClient = kube_config.new_client_from_config(
            config_file=settings.kubeconfig, context=settings.context, persist_config=False,
        )
        return client
    configuration = Configuration()
    kube_config.load_incluster_config(client_configuration=configuration)
    return ApiClient(configuration)


# --------------------------------------------------------------------------- the router


class IngressNginxRouter:
    """`TrafficRouter` over an ingress-nginx canary Ingress."""

    def __init__(
        self, settings: IngressNginxRouterSettings, *, api_client: ApiClient | None = None,
        configuration: Configuration | None = None,
    ) -> None:
        self.settings = settings
        self.target = f"{settings.namespace}/{settings.ingress}"
        if settings.ingress == settings.stable_ingress:
            raise self._error("the canary Ingress and the stable Ingress have the same name")
        if settings.create_canary_ingress and not settings.canary_service:
            raise self._error("create_canary_ingress needs canary_service")
        try:
            if api_client is None:
                api_client = ApiClient(configuration) if configuration else _client_from(settings)
        except (kube_config.ConfigException, OSError, ValueError) as e:
            raise self._error(f"no Kubernetes configuration: {e}") from e
        self._client = api_client
        self._api = NetworkingV1Api(api_client)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> IngressNginxRouter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _error(self, message: str, target: str | None = None) -> RouterError:
        return RouterError(f"ingress-nginx {target or self.target}: {message}", adapter=ADAPTER,
                           target=target or self.target)

    # ------------------------------------------------------------------ API calls

    def _call(self, what: str, name: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Call the API for raw JSON; 404 -> None; 409 -> `_Conflict`; anything else -> RouterError."""
        target = f"{self.settings.namespace}/{name}"
        try:
            response = fn(*args, _preload_content=False, _request_timeout=self.settings.timeout_s,
                          **kwargs)
            return json.loads(response.data)
        except ApiException as e:
            if e.status == 404:
                return None
            if e.status == 409:
                raise _Conflict(_status_message(e)) from e
            raise self._error(f"{what} failed: HTTP {e.status}: {_status_message(e)}", target) from e
        except (urllib3.exceptions.HTTPError, OSError) as e:
            host = self._client.configuration.host
            raise self._error(f"{what} failed: cannot reach the Kubernetes API at {host}: {e}",
                              target) from e
        except ValueError as e:
            raise self._error(f"{what} failed: the answer is not JSON", target) from e

    def _read(self, name: str) -> dict[str, Any] | None:
        try:
            found: dict[str, Any] | None = self._call("read", name, self._api.read_namespaced_ingress,
                                                      name, self.settings.namespace)
            return found
        except _Conflict as e:
            raise self._error(f"read failed: HTTP 409: {e}", f"{self.settings.namespace}/{name}") from e

    def _canary_annotations(self, ingress: Mapping[str, Any]) -> dict[str, str]:
        annotations = dict((ingress.get("metadata") or {}).get("annotations") or {})
        if str(annotations.get(CANARY, "")).strip().lower() != "true":
            raise self._error(f'is not a canary Ingress ({CANARY} is not "true"); refusing to use it')
        return annotations

    def _create(self, weight: float) -> bool:
        """Create the canary Ingress from the stable one. False when it already exists (409)."""
        s = self.settings
        stable = self._read(s.stable_ingress)
        if stable is None:
            raise self._error("cannot create the canary Ingress: the stable Ingress "
                              f"{s.namespace}/{s.stable_ingress} was not found")
        assert s.canary_service is not None
        try:
            manifest = canary_manifest(stable, name=s.ingress, service=s.canary_service,
                                       port=s.canary_service_port, weight=weight, namespace=s.namespace)
        except ValueError as e:
            raise self._error(f"cannot create the canary Ingress: {e}") from e
        try:
            self._call("create", s.ingress, self._api.create_namespaced_ingress, s.namespace,
                       V1Ingress.from_dict(manifest))
        except _Conflict:
            return False
        return True

    # ------------------------------------------------------------------ TrafficRouter

    def current_weight(self) -> float:
        ingress = self._read(self.settings.ingress)
        if ingress is None:
            return 0.0
        try:
            return annotated_weight(self._canary_annotations(ingress))
        except ValueError as e:
            raise self._error(str(e)) from e

    def set_weight(self, weight: float) -> None:
        wanted = weight_annotations(weight)
        for _ in range(5):
            ingress = self._read(self.settings.ingress)
            if ingress is None:
                if float(weight) == 0:
                    return  # no canary Ingress: no canary traffic
                if not self.settings.create_canary_ingress:
                    raise self._error("the canary Ingress was not found (and create_canary_ingress is off)")
                if self._create(float(weight)):
                    return
                continue  # someone created it meanwhile: read it and patch
            annotations = self._canary_annotations(ingress)
            if all(annotations.get(k) == v for k, v in wanted.items()):
                return
            patch = {"metadata": {
                "resourceVersion": ingress["metadata"].get("resourceVersion"), "annotations": wanted,
            }}
            try:
                self._call("patch", self.settings.ingress, self._api.patch_namespaced_ingress,
                           self.settings.ingress, self.settings.namespace, patch,
                           _content_type=MERGE_PATCH)
            except _Conflict:
                continue  # modified since we read it: read again
            return
        raise self._error("gave up after 5 conflicting writes (409); another writer keeps changing it")


class _Conflict(Exception):
    """HTTP 409 from the API server (AlreadyExists on create, Conflict on a stale resourceVersion)."""


__all__ = ["IngressNginxRouter", "annotated_weight", "canary_manifest", "weight_annotations"]
