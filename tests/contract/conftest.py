"""Local stand-ins for the systems the traffic routers talk to, all on 127.0.0.1 free ports.

- `Upstream`: a tiny HTTP server that answers every request with its own name (stable / canary).
- `FakeFlagApi`: the seed's feature-flag API (`POST /api/features/rollout` creates or updates a flag,
  201 when it created it; `GET /api/features/<f>` answers 404 for a flag that does not exist).
- `FakeKubeApi`: answers like kube-apiserver for networking.k8s.io/v1 Ingresses (GET, merge-PATCH
  with resourceVersion preconditions, POST), using the response shapes recorded in `k8s_shapes`.
- `NginxHarness`: a real nginx (the Debian binary) with its own prefix, pid, error log and temp
  paths under tmp, run in the foreground by the test and stopped by its pid.
"""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import kubernetes_validate
import pytest

from runofshow.adapters.lease_sql import SqlLeases
from runofshow.adapters.ledger_sql import SqlLedger
from runofshow.domain.connections import NginxFileRouterSettings
from runofshow.loopback import free_port
from tests.helpers import fresh_postgres_database

NGINX = "/usr/sbin/nginx"

Reply = tuple[int, dict[str, str], bytes]
Handler = Callable[[str, str, Any, bytes], Reply]  # headers: case-insensitive Message


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database for one test (a module may keep one for all its tests instead)."""
    with fresh_postgres_database() as url:
        yield url


@pytest.fixture
def two(pg_url: str) -> Iterator[tuple[SqlLeases, SqlLeases]]:
    """Two workers' views of one database: separate engines, separate connections."""
    a, b = SqlLedger(pg_url), SqlLedger(pg_url)
    yield SqlLeases(a), SqlLeases(b)
    a.close()
    b.close()


@pytest.fixture(name="free_port")
def free_port_fixture() -> Callable[[], int]:
    """A port on 127.0.0.1 that was free a moment ago (nothing listens on it)."""
    return free_port


def json_reply(status: int, body: Any) -> Reply:
    return status, {"Content-Type": "application/json"}, json.dumps(body).encode()


class LocalServer:
    """A threaded HTTP/1.1 server on 127.0.0.1 that hands every request to `handle`."""

    def __init__(self, handle: Handler) -> None:
        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                status, headers, data = handle(self.command, self.path, self.headers, body)
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self._headers_buffer.append(b"\r\n")  # end_headers() and the body in one write
                self.wfile.write(b"".join(self._headers_buffer) + data)
                self._headers_buffer = []

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _any

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join()


class Upstream(LocalServer):
    """Answers every request with its name; remembers what it was sent."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.seen: list[tuple[str, str, bytes]] = []

        def handle(method: str, path: str, headers: Any, body: bytes) -> Reply:
            self.seen.append((method, path, body))
            return 200, {"Content-Type": "text/plain", "X-Upstream": name}, name.encode()

        super().__init__(handle)


@pytest.fixture
def upstreams() -> Iterator[tuple[Upstream, Upstream]]:
    stable, canary = Upstream("stable"), Upstream("canary")
    yield stable, canary
    stable.close()
    canary.close()


# --------------------------------------------------------------------------- feature-flag API


class FakeFlagApi(LocalServer):
    def __init__(self, token: str | None = None, fail_next: int = 0) -> None:
        self.percentages: dict[str, float] = {}
        self.posts: list[dict[str, Any]] = []
        self.created: list[str] = []  # features the first POST created (answered 201)
        self.token, self.fail_next = token, fail_next

        def handle(method: str, path: str, headers: Any, body: bytes) -> Reply:
            if self.token and headers.get("Authorization") != f"Bearer {self.token}":
                return json_reply(401, {"error": "unauthorized"})
            if self.fail_next > 0:
                self.fail_next -= 1
                return json_reply(503, {"error": "try again"})
            if method == "POST" and path == "/api/features/rollout":
                payload = json.loads(body)
                pct = payload.get("percentage")
                if not isinstance(pct, int | float) or not 0 <= pct <= 100:
                    return json_reply(400, {"error": "percentage must be 0..100"})
                self.posts.append(payload)
                created = payload["feature"] not in self.percentages
                self.percentages[payload["feature"]] = pct
                if created:
                    self.created.append(payload["feature"])
                return json_reply(201 if created else 200,
                                  {"ok": True, "feature": payload["feature"], "percentage": pct})
            if method == "GET" and path.startswith("/api/features/"):
                feature = path.removeprefix("/api/features/")
                if feature not in self.percentages:
                    return json_reply(404, {"error": f"feature '{feature}' not found"})
                return json_reply(200, {"feature": feature, "percentage": self.percentages[feature]})
            return json_reply(404, {"error": "not found"})

        super().__init__(handle)


@pytest.fixture
def make_flag_api() -> Iterator[Callable[..., FakeFlagApi]]:
    servers: list[FakeFlagApi] = []

    def make(**kwargs: Any) -> FakeFlagApi:
        servers.append(FakeFlagApi(**kwargs))
        return servers[-1]

    yield make
    for server in servers:
        server.close()


@pytest.fixture
def flag_api(make_flag_api: Callable[..., FakeFlagApi]) -> FakeFlagApi:
    return make_flag_api()


# --------------------------------------------------------------------------- recorded kube-apiserver shapes
# Shapes as kube-apiserver (v1.29/1.30) answers them: a full Ingress read with managedFields and
# status, and `Status` objects for errors (note details.kind is the plural resource, as the real
# server sends it). Names and times are ours; structure and messages are the server's.


def stable_ingress_shape() -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {
            "annotations": {
                "kubectl.kubernetes.io/last-applied-configuration": '{"apiVersion":"networking.k8s.io/v1"'
                ',"kind":"Ingress","metadata":{"annotations":{},"name":"spark-trading","namespace":'
                '"trading"},"spec":{"ingressClassName":"nginx"}}\n',
                "nginx.ingress.kubernetes.io/proxy-body-size": "8m",
            },
            "creationTimestamp": "2024-05-02T09:14:07Z",
            "generation": 1,
            "labels": {"app.kubernetes.io/instance": "spark-trading",
                       "app.kubernetes.io/name": "spark-trading"},
            "managedFields": [
                {"apiVersion": "networking.k8s.io/v1", "fieldsType": "FieldsV1",
                 "fieldsV1": {"f:metadata": {"f:annotations": {".": {}, "f:kubectl.kubernetes.io/"
                              "last-applied-configuration": {}}}, "f:spec": {"f:ingressClassName": {},
                              "f:rules": {}, "f:tls": {}}},
                 "manager": "kubectl-client-side-apply", "operation": "Update",
                 "time": "2024-05-02T09:14:07Z"},
                {"apiVersion": "networking.k8s.io/v1", "fieldsType": "FieldsV1",
                 "fieldsV1": {"f:status": {"f:loadBalancer": {"f:ingress": {}}}},
                 "manager": "nginx-ingress-controller", "operation": "Update", "subresource": "status",
                 "time": "2024-05-02T09:14:51Z"},
            ],
            "name": "spark-trading",
            "namespace": "trading",
            "resourceVersion": "48213",
            "uid": "0b6c0a3e-5d1f-4a47-9d6e-2f1f3c9b7a10",
        },
        "spec": {
            "ingressClassName": "nginx",
            "rules": [{"host": "trading.example.com", "http": {"paths": [
                {"backend": {"service": {"name": "spark-trading", "port": {"number": 80}}},
                 "path": "/", "pathType": "Prefix"},
                {"backend": {"service": {"name": "spark-trading-ws", "port": {"name": "ws"}}},
                 "path": "/ws", "pathType": "Prefix"},
            ]}}],
            "tls": [{"hosts": ["trading.example.com"], "secretName": "trading-tls"}],
        },
        "status": {"loadBalancer": {"ingress": [{"ip": "192.168.49.2"}]}},
    }


def _status(code: int, reason: str, message: str, name: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                           "message": message, "reason": reason}
    if name is not None:
        out["details"] = {"name": name, "group": "networking.k8s.io", "kind": "ingresses"}
    out["code"] = code
    return out


UNAUTHORIZED = _status(401, "Unauthorized", "Unauthorized")
UNSUPPORTED_MEDIA_TYPE = _status(
    415, "UnsupportedMediaType", "the body of the request was in an unknown format - accepted media "
    "types include: application/json-patch+json, application/merge-patch+json, "
    "application/apply-patch+yaml")
METHOD_NOT_ALLOWED = _status(405, "MethodNotAllowed", "the server does not allow this method on the "
                             "requested resource")


def status_404_path() -> dict[str, Any]:
    return _status(404, "NotFound", "the server could not find the requested resource")


def not_found(name: str) -> dict[str, Any]:
    return _status(404, "NotFound", f'ingresses.networking.k8s.io "{name}" not found', name)


def already_exists(name: str) -> dict[str, Any]:
    return _status(409, "AlreadyExists", f'ingresses.networking.k8s.io "{name}" already exists', name)


def conflict(name: str) -> dict[str, Any]:
    return _status(409, "Conflict", f'Operation cannot be fulfilled on ingresses.networking.k8s.io '
                   f'"{name}": the object has been modified; please apply your changes to the latest '
                   "version and try again", name)


def forbidden(name: str, ns: str) -> dict[str, Any]:
    return _status(403, "Forbidden", f'ingresses.networking.k8s.io "{name}" is forbidden: User '
                   '"system:serviceaccount:trading:runofshow" cannot patch resource "ingresses" in API '
                   f'group "networking.k8s.io" in the namespace "{ns}"', name)


def namespace_mismatch() -> dict[str, Any]:
    return _status(400, "BadRequest", "the namespace of the provided object does not match the "
                   "namespace sent on the request")


def invalid(name: str, why: str) -> dict[str, Any]:
    return _status(422, "Invalid", f'Ingress.networking.k8s.io "{name}" is invalid: {why}', name)


def as_created(manifest: dict[str, Any], ns: str, rv: int) -> dict[str, Any]:
    """What the server answers to a create: server-set metadata and an empty status."""
    obj = copy.deepcopy(manifest)
    meta = obj["metadata"]
    meta.update({
        "namespace": ns, "uid": "7f3e2b7c-1c7e-4f0e-8d7a-5a2e9e4c1b22", "resourceVersion": str(rv),
        "generation": 1, "creationTimestamp": "2024-05-02T10:00:00Z",
        "managedFields": [{"apiVersion": "networking.k8s.io/v1", "fieldsType": "FieldsV1",
                           "fieldsV1": {"f:metadata": {"f:annotations": {}}, "f:spec": {}},
                           "manager": "OpenAPI-Generator", "operation": "Update",
                           "time": "2024-05-02T10:00:00Z"}],
    })
    obj["status"] = {"loadBalancer": {}}
    return obj


@pytest.fixture
def stable_ingress() -> dict[str, Any]:
    return stable_ingress_shape()


# --------------------------------------------------------------------------- Kubernetes API

INGRESSES = "/apis/networking.k8s.io/v1/namespaces/"


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            result.pop(k, None)
        else:
            result[k] = merge_patch(result.get(k), v)
    return result


@dataclass
class FakeKubeApi:
    """Just enough of kube-apiserver for Ingresses; answers with the recorded shapes."""

    token: str = "test-token"
    objects: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    requests: list[tuple[str, str, str, Any]] = field(default_factory=list)  # method, path, ctype, body
    conflicts_next: int = 0  # answer the next N PATCHes with 409 Conflict
    forbid_patch: bool = False
    _rv: int = 48213

    def __post_init__(self) -> None:
        self.server = LocalServer(self.handle)
        self.url = self.server.url

    def close(self) -> None:
        self.server.close()

    def writes(self) -> int:
        return sum(1 for m, *_ in self.requests if m in ("PATCH", "POST"))

    def put(self, obj: dict[str, Any]) -> None:
        meta = obj["metadata"]
        self.objects[(meta["namespace"], meta["name"])] = copy.deepcopy(obj)

    def _bump(self, obj: dict[str, Any]) -> None:
        self._rv += 1
        obj["metadata"]["resourceVersion"] = str(self._rv)

    def handle(self, method: str, path: str, headers: Any, body: bytes) -> Reply:
        if headers.get("Authorization") != f"Bearer {self.token}":
            return json_reply(401, UNAUTHORIZED)
        ctype = headers.get("Content-Type", "")
        payload = json.loads(body) if body else None
        if not path.startswith(INGRESSES):
            return json_reply(404, status_404_path())
        parts = path.removeprefix(INGRESSES).split("?")[0].split("/")
        if len(parts) < 2 or parts[1] != "ingresses":
            return json_reply(404, status_404_path())
        ns, name = parts[0], (parts[2] if len(parts) > 2 else None)
        self.requests.append((method, path, ctype, payload))
        if method == "GET" and name:
            obj = self.objects.get((ns, name))
            return json_reply(200, obj) if obj else json_reply(404, not_found(name))
        if method == "PATCH" and name:
            if self.forbid_patch:
                return json_reply(403, forbidden(name, ns))
            if ctype not in ("application/merge-patch+json", "application/strategic-merge-patch+json"):
                return json_reply(415, UNSUPPORTED_MEDIA_TYPE)
            obj = self.objects.get((ns, name))
            if obj is None:
                return json_reply(404, not_found(name))
            wanted_rv = (payload.get("metadata") or {}).get("resourceVersion")
            if self.conflicts_next > 0 or (wanted_rv and wanted_rv != obj["metadata"]["resourceVersion"]):
                self.conflicts_next = max(0, self.conflicts_next - 1)
                return json_reply(409, conflict(name))
            patched = merge_patch(obj, payload)
            self._bump(patched)
            self.objects[(ns, name)] = patched
            return json_reply(200, patched)
        if method == "POST" and not name:
            meta = payload.get("metadata") or {}
            if meta.get("namespace", ns) != ns:
                return json_reply(400, namespace_mismatch())
            try:
                kubernetes_validate.validate(payload, "1.30", strict=True)
            except kubernetes_validate.ValidationError as e:
                return json_reply(422, invalid(meta.get("name", ""), str(e.message)))
            if (ns, meta["name"]) in self.objects:
                return json_reply(409, already_exists(meta["name"]))
            created = as_created(payload, ns, self._rv + 1)
            self._rv += 1
            self.objects[(ns, meta["name"])] = created
            return json_reply(201, created)
        return json_reply(405, METHOD_NOT_ALLOWED)


@pytest.fixture
def kube_api() -> Iterator[FakeKubeApi]:
    api = FakeKubeApi()
    api.put(stable_ingress_shape())
    yield api
    api.close()


# --------------------------------------------------------------------------- nginx


@dataclass
class NginxHarness:
    prefix: Path
    conf: Path
    confd: Path
    error_log: Path
    listen_port: int
    ready_port: int
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.listen_port}"

    def settings(self, stable: str, canary: str, **override: Any) -> NginxFileRouterSettings:
        values: dict[str, Any] = dict(
            config_path=str(self.confd / "runofshow-canary.conf"), stable_servers=(stable,),
            canary_servers=(canary,), listen=f"127.0.0.1:{self.listen_port}", nginx_bin=NGINX,
            nginx_conf=str(self.conf), nginx_prefix=str(self.prefix), nginx_error_log=str(self.error_log),
        )
        values.update(override)
        return NginxFileRouterSettings(**values)

    def start(self) -> None:
        """Until a worker answers on the readiness port. The pid file alone is not enough: nginx
        writes it before its master loop, and a reload signalled in that gap waits for the next
        signal (CI once saw a first reload never applied, and no listener for 60 s)."""
        self.proc = subprocess.Popen(
            [NGINX, "-p", str(self.prefix), "-c", str(self.conf), "-e", str(self.error_log)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{self.ready_port}/", timeout=2).status_code == 204:
                    return
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"nginx did not start: {self.error_log.read_text()}")
            time.sleep(0.02)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    def wait_for_weight(self, shown: str, timeout_s: float = 60.0) -> None:
        """Until 5 fresh connections in a row are served by the config for `shown` %. The timeout only
        ends a wait that would never succeed: a reload on a loaded 2-core machine took over 10 s."""
        deadline, streak = time.monotonic() + timeout_s, 0
        while streak < 5:
            try:
                got = httpx.get(self.url + "/", timeout=2).headers.get("X-Canary-Weight")
            except httpx.HTTPError:
                got = None
            streak = streak + 1 if got == shown else 0
            if time.monotonic() > deadline:
                raise AssertionError(f"nginx never served weight {shown} (last {got})")
            if streak < 5:
                time.sleep(0.02)


MAIN_CONF = """daemon off;
master_process on;
worker_processes 1;
pid {p}/nginx.pid;
error_log {p}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {p}/tmp/body;
    proxy_temp_path {p}/tmp/proxy;
    fastcgi_temp_path {p}/tmp/fastcgi;
    uwsgi_temp_path {p}/tmp/uwsgi;
    scgi_temp_path {p}/tmp/scgi;
    server {{ listen 127.0.0.1:{ready}; return 204; }}
    include {confd}/*.conf;
}}
"""


@pytest.fixture
def nginx(tmp_path: Path, upstreams: tuple[Upstream, Upstream]) -> Iterator[NginxHarness]:
    """After `upstreams`, so their servers are listening before the router's port is chosen: that
    port stays unbound until the first reload, and nothing else may take it in between."""
    if shutil.which(NGINX) is None:
        pytest.fail(f"{NGINX} is missing: install Debian's nginx-light (these tests never skip)")
    prefix = tmp_path / "nginx"
    confd = prefix / "conf.d"
    (prefix / "tmp").mkdir(parents=True)
    confd.mkdir()
    conf = prefix / "nginx.conf"
    ready = free_port()
    conf.write_text(MAIN_CONF.format(p=prefix, confd=confd, ready=ready))
    harness = NginxHarness(prefix, conf, confd, prefix / "error.log", free_port(), ready)
    harness.start()
    yield harness
    harness.stop()
