"""Fault-injection fixtures. They reuse the integration harness (the real hub and daemon as
subprocesses, ``tests/integration/integration_harness.py``) and add what faults need: a hub we
may kill and restart (SQLite or a fresh PostgreSQL schema), a daemon whose claude binary records
every run, and a daemon whose hub URL goes through a cutting proxy."""

from __future__ import annotations

import asyncio
import sys
import uuid
from pathlib import Path
from typing import Callable, Iterator

import pytest
import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "integration"))
sys.path.insert(0, str(HERE))

from fault_harness import FaultAgent, FaultHub, drop_schema, write_counting_claude  # noqa: E402
from integration_harness import FINAL, Hub, kill_screen_sessions  # noqa: E402
from private_services import PrivatePostgres, PrivateRedis  # noqa: E402
from tcp_proxy import CuttingProxy  # noqa: E402


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.timeout(90))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def fault_hub(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[FaultHub]:
    extra: dict[str, str] = {"ORCHESTRATIA_CHECK_INTERVAL_S": "0.25"}
    schema = None
    if request.param == "postgres":
        url = request.getfixturevalue("postgres_url")
        schema = f"faults_{uuid.uuid4().hex[:12]}"
        extra.update({"ORCHESTRATIA_DATABASE_URL": url, "ORCHESTRATIA_DATABASE_SCHEMA": schema})
    hub = FaultHub(tmp_path / "hub", extra_env=extra)
    hub.backend = request.param  # type: ignore[attr-defined]
    try:
        hub.start()
        yield hub
    finally:
        hub.stop()
        if schema:
            asyncio.run(drop_schema(url, schema))


@pytest.fixture
def make_fault_agent(tmp_path: Path) -> Iterator[Callable[..., FaultAgent]]:
    """Registers a real daemon with ``hub``; optionally points it at ``via`` (a proxy URL);
    ``overrides``: top-level keys of its config.yaml (e.g. ``poll_interval``)."""
    made: list[tuple[FaultAgent, Hub]] = []

    def factory(hub: Hub, via: str | None = None, start: bool = True, overrides: dict | None = None) -> FaultAgent:
        name = f"fault-{uuid.uuid4().hex[:8]}"
        agent = FaultAgent(hub, tmp_path / name, name)
        agent.register()
        agent.runs_file = agent.workdir / "claude-runs.txt"
        config = yaml.safe_load(agent.config.read_text())
        config["claude"]["binary"] = str(write_counting_claude(agent.workdir / "claude", agent.runs_file))
        if via:
            config["hub_url"] = via
        config.update(overrides or {})
        agent.config.write_text(yaml.safe_dump(config, sort_keys=False))
        made.append((agent, hub))
        if start:
            agent.start()
        return agent

    yield factory
    for agent, hub in made:
        ids: list[str] = []
        try:
            tasks = hub.api("GET", "/tasks", params={"agent": agent.name, "limit": 100}).json()
            ids = [t["id"] for t in tasks]
            for t in tasks:
                if t["status"] not in FINAL:
                    hub.api("POST", f"/tasks/{t['id']}/cancel", json={"reason": "teardown"})
        except Exception:  # noqa: BLE001 - best effort
            pass
        agent.stop()
        kill_screen_sessions(ids)


@pytest.fixture
def proxy_factory() -> Iterator[Callable[..., CuttingProxy]]:
    proxies: list[CuttingProxy] = []

    def factory(hub: Hub, **kwargs) -> CuttingProxy:
        proxy = CuttingProxy(hub.port, **kwargs).start()
        proxies.append(proxy)
        return proxy

    yield factory
    for p in proxies:
        p.stop()



@pytest.fixture(scope="session")
def private_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateRedis]:
    """A Redis of our own, which tests may stop and start (never the machine's shared one)."""
    server = PrivateRedis(tmp_path_factory.mktemp("private-redis"))
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture(scope="session")
def private_postgres() -> Iterator[PrivatePostgres]:
    """A PostgreSQL cluster of our own, which tests may stop and start."""
    server = PrivatePostgres.create()
    try:
        yield server.start()
    finally:
        server.remove()
