"""Fixtures for the real services: PostgreSQL, Prometheus, Alertmanager, nginx, an exporter.

Every service runs on free loopback ports with its files under pytest's tmp folder and is
stopped at the end of the session. A missing binary or PostgreSQL fails the test (never skips).

    postgres_url          session: SQLAlchemy URL of a fresh database runofshow_test_<random>
    prometheus_factory    session: start(targets, rules=None, alertmanagers=()) -> PrometheusServer,
                          started once its targets are scraped (up == 1)
    alertmanager_factory  session: start(webhooks=[(url, token), ...], config_text=None) -> AlertmanagerServer
    nginx_factory         session: start(http_config="") -> NginxServer (conf_d, reload(), port)
    nginx                 function: a fresh NginxServer per test
    spark_metrics         session: SparkMetrics (the demo's metrics for both tracks) fed with traffic
    spark_exporter        session: Exporter serving spark_metrics; `.target` is host:port
    spark_prometheus      session: PrometheusServer scraping spark_exporter

Other suites (tests/e2e) can reuse them with `from tests.integration.conftest import *  # noqa`
in their own conftest.py, or call `tests.integration.services` directly.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import fresh_postgres_database
from tests.integration.services import (
    AlertmanagerServer,
    Exporter,
    NginxServer,
    PrometheusServer,
    SparkMetrics,
    TrafficLoop,
    serve_registry,
    start_alertmanager,
    start_nginx,
    start_prometheus,
)

__all__ = [
    "alertmanager_factory", "nginx", "nginx_factory", "postgres_url", "prometheus_factory",
    "spark_exporter", "spark_metrics", "spark_prometheus",
]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    with fresh_postgres_database() as url:
        yield url


class _Started:
    """Stops what a factory started, newest first, at the end of the session."""

    def __init__(self) -> None:
        self.items: list[Any] = []

    def add(self, item: Any) -> Any:
        self.items.append(item)
        return item

    def stop_all(self) -> None:
        for item in reversed(self.items):
            item.stop()


@pytest.fixture(scope="session")
def prometheus_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., PrometheusServer]]:
    started = _Started()

    def start(targets: list[str], **kwargs: Any) -> PrometheusServer:
        return started.add(start_prometheus(tmp_path_factory.mktemp("prometheus"), targets, **kwargs))

    yield start
    started.stop_all()


@pytest.fixture(scope="session")
def alertmanager_factory(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[..., AlertmanagerServer]]:
    started = _Started()

    def start(webhooks: list[tuple[str, str]], config_text: str | None = None) -> AlertmanagerServer:
        return started.add(start_alertmanager(tmp_path_factory.mktemp("alertmanager"), webhooks,
                                              config_text=config_text))

    yield start
    started.stop_all()


@pytest.fixture(scope="session")
def nginx_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., NginxServer]]:
    started = _Started()

    def start(http_config: str = "") -> NginxServer:
        return started.add(start_nginx(tmp_path_factory.mktemp("nginx"), http_config))

    yield start
    started.stop_all()


@pytest.fixture
def nginx(nginx_factory: Callable[..., NginxServer]) -> Iterator[NginxServer]:
    server = nginx_factory()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def spark_metrics() -> Iterator[SparkMetrics]:
    metrics = SparkMetrics()
    loop = TrafficLoop(metrics)
    yield metrics
    loop.stop()


@pytest.fixture(scope="session")
def spark_exporter(spark_metrics: SparkMetrics) -> Iterator[Exporter]:
    exporter = serve_registry(spark_metrics.registry)
    yield exporter
    exporter.close()


@pytest.fixture(scope="session")
def spark_prometheus(
    prometheus_factory: Callable[..., PrometheusServer], spark_exporter: Exporter,
) -> Iterator[PrometheusServer]:
    server = prometheus_factory([spark_exporter.target])
    yield server
    server.stop()  # before the exporter closes
