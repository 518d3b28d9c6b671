"""``pytest --containers``: the institutional tests against throw-away Docker containers instead of local services.

With the option, the service fixtures of ``backbone_tests/fixtures/`` ask this plugin first: ``pg_admin_url``
gets a plain PostgreSQL container, ``timescale_url`` a TimescaleDB one, ``redis_server_url`` a Redis one and
``kafka_bootstrap`` an Apache Kafka broker in KRaft mode (Confluent's packaging, which testcontainers'
``KafkaContainer`` is written for). PostgreSQL and TimescaleDB are separate containers on purpose: the store
creates the extension wherever the server offers it, so the plain-PostgreSQL tests need a server without it.
This is how contributors with Docker exercise the TimescaleDB-only paths on a real server. Each container
starts on first use, once per session, and is removed at the end. Without the option nothing changes.

No Docker engine: the tests that need a container skip with a reason naming Docker. With
``BACKBONE_TEST_REQUIRE_SERVICES=1`` they fail instead, like any other missing service: someone who asked for
containers and required services gets a red run, not a green one with the institutional suite skipped. The
first Docker error is remembered, so the rest of the session skips at once instead of retrying per test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from backbone_tests.fixtures.missing import service_missing

OPTION = "--containers"
POSTGRES_IMAGE = "postgres:16-alpine"
TIMESCALE_IMAGE = "timescale/timescaledb:latest-pg16"
REDIS_IMAGE = "redis:7.4-alpine"
KAFKA_IMAGE = "confluentinc/cp-kafka:7.6.0"  # KafkaContainer's start script is written for this packaging


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        OPTION,
        action="store_true",
        default=False,
        help="run the institutional tests against testcontainers PostgreSQL, TimescaleDB, Redis and Kafka "
        "(needs a Docker engine; without one those tests skip naming Docker)",
    )


def pytest_report_header(config: pytest.Config) -> str | None:
    if config.getoption(OPTION):
        images = ", ".join((POSTGRES_IMAGE, TIMESCALE_IMAGE, REDIS_IMAGE, KAFKA_IMAGE))
        return f"backbone services: Docker containers ({images})"
    return None


def _postgres(image: str) -> tuple[Any, Callable[[Any], str]]:
    from testcontainers.community.postgres import PostgresContainer

    container = PostgresContainer(image, username="postgres", password="postgres", dbname="postgres", driver=None)
    return container.start(), lambda c: c.get_connection_url()


def _redis() -> tuple[Any, Callable[[Any], str]]:
    from testcontainers.community.redis import RedisContainer

    container = RedisContainer(REDIS_IMAGE).start()
    return container, lambda c: f"redis://{c.get_container_host_ip()}:{c.get_exposed_port(c.port)}/0"


def _kafka() -> tuple[Any, Callable[[Any], str]]:
    from testcontainers.community.kafka import KafkaContainer

    container = KafkaContainer(KAFKA_IMAGE).with_kraft().start(timeout=120)
    return container, lambda c: c.get_bootstrap_server()


STARTERS: dict[str, Callable[[], tuple[Any, Callable[[Any], str]]]] = {
    "postgres": lambda: _postgres(POSTGRES_IMAGE),
    "timescale": lambda: _postgres(TIMESCALE_IMAGE),
    "redis": _redis,
    "kafka": _kafka,
}


class Containers:
    """The session's containers, started on first use; a Docker failure is remembered and reported to all."""

    def __init__(self, starters: dict[str, Callable[[], tuple[Any, Callable[[Any], str]]]]) -> None:
        self._starters = starters
        self._urls: dict[str, str] = {}
        self._running: list[Any] = []
        self._docker_problem: str | None = None

    def url(self, service: str) -> str:
        from docker.errors import DockerException

        if self._docker_problem is not None:
            service_missing(self._docker_problem)
        if service not in self._urls:
            try:
                container, url_of = self._starters[service]()
            except DockerException as exc:
                cause = " ".join(str(exc).split()) or type(exc).__name__
                self._docker_problem = f"{OPTION} needs a running Docker engine, which is not reachable: {cause}"
                service_missing(self._docker_problem)
            self._running.append(container)
            self._urls[service] = url_of(container)
        return self._urls[service]

    def stop(self) -> None:
        for container in reversed(self._running):
            container.stop()
        self._running.clear()


@pytest.fixture(scope="session")
def backbone_containers() -> Iterator[Containers]:
    """The session's containers (only requested when ``--containers`` is given), removed at the end."""
    containers = Containers(STARTERS)
    yield containers
    containers.stop()


def container_url(request: pytest.FixtureRequest, service: str) -> str | None:
    """The URL of ``service`` (postgres, timescale, redis, kafka) in a container when ``--containers`` is
    given; None otherwise, so the calling fixture falls back to its local service."""
    if not request.config.getoption(OPTION, default=False):
        return None
    containers: Containers = request.getfixturevalue("backbone_containers")
    return containers.url(service)
