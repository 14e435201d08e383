"""One contract for every `TrafficRouter`, run on the fake and on each real adapter against a local
stand-in (flag API, Kubernetes API) or the real thing (LocalProxy, nginx). Then per-router checks."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from kubernetes.client import ApiClient, Configuration

from runofshow.adapters.flag_api import FlagApiRouter
from runofshow.adapters.ingress_nginx import IngressNginxRouter
from runofshow.adapters.local_proxy import LocalProxy, LocalProxyRouter
from runofshow.adapters.memory import InMemoryRouter
from runofshow.adapters.nginx_file import NginxFileRouter
from runofshow.app.run.traffic import rollback, shift
from runofshow.domain.connections import (
    FlagApiRouterSettings,
    IngressNginxRouterSettings,
    LocalProxyRouterSettings,
    NginxFileRouterSettings,
)
from runofshow.errors import RouterError
from runofshow.ports import TrafficRouter

if TYPE_CHECKING:
    from conftest import FakeFlagApi, FakeKubeApi, NginxHarness, Upstream

ROUTERS = ["memory", "flag_api", "local_proxy", "ingress_nginx", "nginx_file"]


@dataclass
class Case:
    name: str
    router: Any
    changes: Callable[[], int]  # how many changes the system behind the router has seen


class CountingNginxFileRouter(NginxFileRouter):
    """The real router, counting the `nginx -s reload`s it runs."""

    reloads = 0

    def _run(self, *args: str) -> Any:
        proc = super()._run(*args)
        if args == ("-s", "reload") and proc.returncode == 0:
            self.reloads += 1
        return proc


def kube_client(api: FakeKubeApi) -> ApiClient:
    configuration = Configuration(host=api.url)
    configuration.api_key = {"BearerToken": api.token}
    configuration.api_key_prefix = {"BearerToken": "Bearer"}
    return ApiClient(configuration)


def ingress_settings(**override: Any) -> IngressNginxRouterSettings:
    values: dict[str, Any] = dict(namespace="trading", ingress="spark-trading-canary",
                                  stable_ingress="spark-trading", create_canary_ingress=True,
                                  canary_service="spark-trading-canary", canary_service_port=8080,
                                  timeout_s=5)
    values.update(override)
    return IngressNginxRouterSettings(**values)


@pytest.fixture(params=ROUTERS)
def case(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Case]:
    name = request.param
    if name == "memory":
        memory = InMemoryRouter()
        yield Case(name, memory, lambda: len(memory.changes))
    elif name == "flag_api":
        api: FakeFlagApi = request.getfixturevalue("flag_api")
        settings = FlagApiRouterSettings(url=api.url + "/api/features/rollout", feature="v1.4.0",
                                   read_url=api.url + "/api/features/{feature}")
        with FlagApiRouter(settings) as flag_router:
            yield Case(name, flag_router, lambda: len(api.posts))
    elif name == "local_proxy":
        stable, canary = request.getfixturevalue("upstreams")
        with LocalProxy(stable.url, canary.url) as proxy:
            settings = LocalProxyRouterSettings(listen=f"127.0.0.1:{proxy.port}")
            with LocalProxyRouter(settings) as proxy_router:
                yield Case(name, proxy_router, lambda: proxy.changes)
    elif name == "ingress_nginx":
        kube: FakeKubeApi = request.getfixturevalue("kube_api")
        with IngressNginxRouter(ingress_settings(), api_client=kube_client(kube)) as ingress_router:
            yield Case(name, ingress_router, kube.writes)
    else:
        harness: NginxHarness = request.getfixturevalue("nginx")
        stable, canary = request.getfixturevalue("upstreams")
        nginx_router = CountingNginxFileRouter(harness.settings(stable.url[7:], canary.url[7:]))
        yield Case(name, nginx_router, lambda: nginx_router.reloads)


# --------------------------------------------------------------------------- the contract


def test_is_a_traffic_router(case: Case) -> None:
    assert isinstance(case.router, TrafficRouter)


@pytest.mark.parametrize("weights", [(1, 5, 25, 50, 100, 0), (0.5, 12.25, 99.99, 0)])
def test_set_then_read_back_equals(case: Case, weights: tuple[float, ...]) -> None:
    for w in weights:
        case.router.set_weight(w)
        assert case.router.current_weight() == pytest.approx(w, abs=1e-9)


def test_setting_twice_is_one_change(case: Case) -> None:
    case.router.set_weight(5)
    before = case.changes()
    case.router.set_weight(5)
    assert case.changes() == before
    case.router.set_weight(25)
    assert case.changes() == before + 1
    case.router.set_weight(25)
    assert case.changes() == before + 1
    assert case.router.current_weight() == 25


def test_zero_and_hundred_are_valid(case: Case) -> None:
    case.router.set_weight(100)
    assert case.router.current_weight() == 100
    case.router.set_weight(0)
    assert case.router.current_weight() == 0


@pytest.mark.parametrize("bad", [-1, -0.01, 100.01, 250, math.nan, math.inf])
def test_weights_outside_0_to_100_are_refused(case: Case, bad: float) -> None:
    case.router.set_weight(5)
    with pytest.raises((ValueError, RouterError)):
        case.router.set_weight(bad)
    assert case.router.current_weight() == 5


def test_shift_and_rollback_through_the_app(case: Case) -> None:
    assert shift(case.router, 25) == 25
    slept: list[float] = []
    assert rollback(case.router, attempts=3, backoff_s=0.01, sleep=slept.append) == 1
    assert case.router.current_weight() == 0 and slept == []


# --------------------------------------------------------------------------- flag API


def test_flag_api_retries_5xx_then_succeeds(make_flag_api: Callable[..., FakeFlagApi]) -> None:
    api = make_flag_api(fail_next=2)
    slept: list[float] = []
    settings = FlagApiRouterSettings(url=api.url + "/api/features/rollout", feature="v1.4.0", retries=3)
    with FlagApiRouter(settings, sleep=slept.append) as router:
        router.set_weight(5)  # no read_url: POST answers the percentage
        assert router.current_weight() == 5
    assert len(slept) == 2 and [p["percentage"] for p in api.posts] == [5]


def test_flag_api_sends_the_token_it_is_given(make_flag_api: Callable[..., FakeFlagApi]) -> None:
    api = make_flag_api(token="s3cret")
    settings = FlagApiRouterSettings(url=api.url + "/api/features/rollout", feature="v1.4.0",
                                     read_url=api.url + "/api/features/{feature}")
    with FlagApiRouter(settings, token="s3cret") as router:
        router.set_weight(1)
        assert router.current_weight() == 1
    with FlagApiRouter(settings, token="wrong", sleep=lambda s: None) as router:
        with pytest.raises(RouterError, match="401"):
            router.set_weight(2)


def test_flag_api_failures_name_the_url(free_port: Callable[[], int]) -> None:
    url = f"http://127.0.0.1:{free_port()}/api/features/rollout"
    with FlagApiRouter(FlagApiRouterSettings(url=url, feature="v1.4.0", retries=2), sleep=lambda s: None) as router:
        with pytest.raises(RouterError) as err:
            router.set_weight(5)
        assert err.value.target == url and err.value.adapter == "flag_api"
        with pytest.raises(RouterError, match="read_url"):
            router.current_weight()


def test_flag_api_read_back_at_a_nested_path(flag_api: FakeFlagApi) -> None:
    flag_api.percentages["v1.4.0"] = 7
    settings = FlagApiRouterSettings(url=flag_api.url + "/api/features/rollout", feature="v1.4.0",
                                     read_url=flag_api.url + "/api/features/{feature}", read_json_path="nope")
    with FlagApiRouter(settings) as router, pytest.raises(RouterError, match="no percentage"):
        router.current_weight()


# --------------------------------------------------------------------------- local proxy


def test_local_proxy_splits_by_weight_exactly(upstreams: tuple[Upstream, Upstream]) -> None:
    stable, canary = upstreams
    with LocalProxy(stable.url, canary.url) as proxy, httpx.Client(base_url=proxy.url) as client:
        for weight, expected in ((0, 0), (25, 100), (100, 400)):
            proxy.set_weight(weight)
            tracks = [client.get("/quote", params={"i": i}) for i in range(400)]
            canaries = sum(r.headers["X-Canary-Track"] == "canary" for r in tracks)
            assert canaries == expected
            assert all(r.text == r.headers["X-Canary-Track"] for r in tracks)
        posted = client.post("/orders?x=1", content=b'{"qty": 3}', headers={"X-Idem": "k1"})
        assert posted.status_code == 200 and canary.seen[-1] == ("POST", "/orders?x=1", b'{"qty": 3}')
        metrics = client.get("/__runofshow/metrics").text
        assert 'runofshow_proxy_requests_total{track="canary",code="200"} 501' in metrics
        assert client.put("/__runofshow/weight", json={"weight": 101}).status_code == 400
        assert client.put("/__runofshow/weight", json={"weight": True}).status_code == 400


def test_local_proxy_answers_502_when_an_upstream_is_down(
    upstreams: tuple[Upstream, Upstream], free_port: Callable[[], int],
) -> None:
    stable, _ = upstreams
    dead = f"http://127.0.0.1:{free_port()}"
    with LocalProxy(stable.url, dead, weight=100) as proxy:
        response = httpx.get(proxy.url + "/")
        assert response.status_code == 502 and response.headers["X-Canary-Track"] == "canary"


def test_local_proxy_router_failures_name_the_admin_url(free_port: Callable[[], int]) -> None:
    settings = LocalProxyRouterSettings(listen=f"127.0.0.1:{free_port()}", retries=2)
    with LocalProxyRouter(settings, sleep=lambda s: None) as router:
        with pytest.raises(RouterError) as err:
            router.current_weight()
        assert err.value.target.endswith("/__runofshow/weight")


# --------------------------------------------------------------------------- ingress-nginx


def test_ingress_creates_the_canary_from_the_stable_ingress(kube_api: FakeKubeApi) -> None:
    with IngressNginxRouter(ingress_settings(), api_client=kube_client(kube_api)) as router:
        assert router.current_weight() == 0  # no canary Ingress yet: no canary traffic
        router.set_weight(0)
        assert kube_api.writes() == 0
        router.set_weight(0.5)
    created = kube_api.objects[("trading", "spark-trading-canary")]
    notes = created["metadata"]["annotations"]
    assert notes["nginx.ingress.kubernetes.io/canary"] == "true"
    assert notes["nginx.ingress.kubernetes.io/canary-weight"] == "5"
    assert notes["nginx.ingress.kubernetes.io/canary-weight-total"] == "1000"
    backends = {p["backend"]["service"]["name"] for p in created["spec"]["rules"][0]["http"]["paths"]}
    assert backends == {"spark-trading-canary"}
    assert kube_api.objects[("trading", "spark-trading")]["spec"]["rules"][0]["http"]["paths"][0][
        "backend"]["service"]["name"] == "spark-trading"  # the stable Ingress is untouched


def test_ingress_patches_only_the_annotations_with_a_merge_patch(kube_api: FakeKubeApi) -> None:
    with IngressNginxRouter(ingress_settings(), api_client=kube_client(kube_api)) as router:
        router.set_weight(1)
        router.set_weight(5)
    method, _, ctype, body = kube_api.requests[-1]
    assert (method, ctype) == ("PATCH", "application/merge-patch+json")
    assert body["metadata"]["annotations"] == {"nginx.ingress.kubernetes.io/canary-weight": "5",
                                               "nginx.ingress.kubernetes.io/canary-weight-total": "100"}
    assert "resourceVersion" in body["metadata"] and "spec" not in body


def test_ingress_rereads_after_a_409_conflict(kube_api: FakeKubeApi) -> None:
    with IngressNginxRouter(ingress_settings(), api_client=kube_client(kube_api)) as router:
        router.set_weight(1)
        kube_api.conflicts_next = 2
        router.set_weight(10)
        assert router.current_weight() == 10
        kube_api.conflicts_next = 99
        with pytest.raises(RouterError, match="409"):
            router.set_weight(20)


def test_ingress_refusals_and_errors_name_namespace_and_ingress(kube_api: FakeKubeApi) -> None:
    client = kube_client(kube_api)
    with IngressNginxRouter(ingress_settings(create_canary_ingress=False), api_client=client) as router:
        with pytest.raises(RouterError, match="trading/spark-trading-canary.*not found"):
            router.set_weight(5)
    with IngressNginxRouter(ingress_settings(ingress="spark-trading", stable_ingress="other"),
                            api_client=kube_client(kube_api)) as router:
        with pytest.raises(RouterError, match="not a canary Ingress"):
            router.set_weight(5)  # never turns the stable Ingress into a canary
        with pytest.raises(RouterError, match="not a canary Ingress"):
            router.current_weight()
    with IngressNginxRouter(ingress_settings(), api_client=kube_client(kube_api)) as router:
        router.set_weight(1)
        kube_api.forbid_patch = True
        with pytest.raises(RouterError, match="HTTP 403.*cannot patch") as err:
            router.set_weight(2)
        assert err.value.target == "trading/spark-trading-canary"
    with pytest.raises(RouterError, match="same name"):
        IngressNginxRouter(ingress_settings(ingress="spark-trading"), api_client=kube_client(kube_api))


def test_ingress_unreachable_api_and_bad_token(kube_api: FakeKubeApi, free_port: Callable[[], int]) -> None:
    dead = Configuration(host=f"http://127.0.0.1:{free_port()}")
    dead.retries = 0
    with IngressNginxRouter(ingress_settings(), configuration=dead) as router:
        with pytest.raises(RouterError, match="cannot reach the Kubernetes API"):
            router.current_weight()
    wrong = Configuration(host=kube_api.url)
    wrong.api_key, wrong.api_key_prefix = {"BearerToken": "nope"}, {"BearerToken": "Bearer"}
    with IngressNginxRouter(ingress_settings(), configuration=wrong) as router:
        with pytest.raises(RouterError, match="HTTP 401"):
            router.current_weight()


def test_ingress_from_a_kubeconfig_file(kube_api: FakeKubeApi, tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(f"""apiVersion: v1
kind: Config
clusters:
- name: local
  cluster: {{server: "{kube_api.url}"}}
users:
- name: runofshow
  user: {{token: "{kube_api.token}"}}
contexts:
- name: fake
  context: {{cluster: local, user: runofshow, namespace: trading}}
current-context: fake
""")
    with IngressNginxRouter(ingress_settings(kubeconfig=str(kubeconfig), context="fake")) as router:
        router.set_weight(3)
        assert router.current_weight() == 3
    with pytest.raises(RouterError, match="no Kubernetes configuration"):
        IngressNginxRouter(ingress_settings(kubeconfig=str(tmp_path / "missing")))


# --------------------------------------------------------------------------- nginx (real)


def _split(harness: NginxHarness, n: int = 400) -> tuple[int, int]:
    canary = 0
    with httpx.Client(base_url=harness.url, timeout=5) as client:
        for _ in range(n):
            response = client.get("/")
            assert response.status_code == 200
            assert response.text == response.headers["X-Canary-Track"]  # the upstream's own name
            canary += response.text == "canary"
    return n - canary, canary


def test_nginx_really_splits_traffic(nginx: NginxHarness, upstreams: tuple[Upstream, Upstream]) -> None:
    stable, canary = upstreams
    router = NginxFileRouter(nginx.settings(stable.url[7:], canary.url[7:]))
    for weight, low, high in ((0, 0, 0), (25, 60, 140), (100, 400, 400)):
        router.set_weight(weight)
        nginx.wait_for_weight(str(weight))
        _, to_canary = _split(nginx)
        assert low <= to_canary <= high, (weight, to_canary)
    text = Path(router.settings.config_path).read_text()
    assert "split_clients" not in text and text.startswith("# runofshow canary-weight: 100\n")


def test_nginx_keeps_the_old_config_when_nginx_t_fails(
    nginx: NginxHarness, upstreams: tuple[Upstream, Upstream],
) -> None:
    stable, canary = upstreams
    good = NginxFileRouter(nginx.settings(stable.url[7:], canary.url[7:]))
    good.set_weight(25)
    before = Path(good.settings.config_path).read_bytes()
    broken = NginxFileRouter(nginx.settings(stable.url[7:], "127.0.0.1:70000"))  # invalid port
    with pytest.raises(RouterError, match=r"nginx -t.*invalid port") as err:
        broken.set_weight(50)
    assert err.value.target == good.settings.config_path
    assert Path(good.settings.config_path).read_bytes() == before
    assert good.current_weight() == broken.current_weight() == 25
    assert sorted(p.name for p in nginx.confd.iterdir()) == ["runofshow-canary.conf"]  # no temp left
    nginx.wait_for_weight("25")
    # rollback needs no canary upstream, so even the broken settings can take traffic to 0 %
    assert rollback(broken, attempts=2, backoff_s=0, sleep=lambda s: None) == 1
    nginx.wait_for_weight("0")
    assert _split(nginx, 50) == (50, 0)


def test_nginx_reload_failure_restores_and_missing_binary_fails(
    nginx: NginxHarness, upstreams: tuple[Upstream, Upstream], tmp_path: Path,
) -> None:
    stable, canary = upstreams
    router = NginxFileRouter(nginx.settings(stable.url[7:], canary.url[7:]))
    router.set_weight(5)
    nginx.stop()
    with pytest.raises(RouterError, match="reload"):
        router.set_weight(10)
    assert router.current_weight() == 5
    missing = NginxFileRouter(nginx.settings(stable.url[7:], canary.url[7:],
                                             nginx_bin=str(tmp_path / "no-nginx")))
    with pytest.raises(RouterError, match="cannot run"):
        missing.set_weight(10)
    assert missing.current_weight() == 5


def test_nginx_read_back_without_a_file_is_an_error(tmp_path: Path) -> None:
    settings = NginxFileRouterSettings(config_path=str(tmp_path / "none.conf"), stable_servers=("127.0.0.1:8081",),
                                       canary_servers=("127.0.0.1:8082",))
    router = NginxFileRouter(settings)
    with pytest.raises(RouterError, match="nothing set yet"):
        router.current_weight()
