"""The composition root's traffic part: the plan's router (plan.traffic_router.kind: local_proxy,
ingress_nginx, nginx_file, flag_api, memory) and the demo's weighted proxy."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from runofshow.app import settings
from runofshow.domain.plan import Plan
from runofshow.ports import TrafficRouter


def build_router(plan: Plan, environ: Mapping[str, str]) -> TrafficRouter:
    s = plan.traffic_router
    if s.kind == "local_proxy":
        from runofshow.adapters.local_proxy import LocalProxyRouter

        return LocalProxyRouter(s)
    if s.kind == "ingress_nginx":
        from runofshow.adapters.ingress_nginx import IngressNginxRouter

        return IngressNginxRouter(s)
    if s.kind == "nginx_file":
        from runofshow.adapters.nginx_file import NginxFileRouter

        return NginxFileRouter(s)
    if s.kind == "flag_api":
        from runofshow.adapters.flag_api import FlagApiRouter

        return FlagApiRouter(s, token=settings.flag_api_token(s, environ))
    from runofshow.adapters.memory import InMemoryRouter

    return InMemoryRouter()


def start_local_proxy(stable_url: str, canary_url: str, host: str, port: int) -> Any:
    """The demo's weighted proxy, listening (`stop()` ends it; `url` is where to send traffic)."""
    from runofshow.adapters.local_proxy import LocalProxy

    return LocalProxy(stable_url, canary_url, host=host, port=port).start()


__all__ = ["build_router", "start_local_proxy"]
