"""Fixtures for the end-to-end tests: the real hub (one per test session), real daemons
(one per test), and the CLI as a subprocess. See integration_harness.py.

Run them with ``./scripts/test.sh tests/integration`` (or ``.venv/bin/python -m pytest
tests/integration``; ``-m integration`` selects them anywhere). They need ``screen`` and the
``hub`` extra. Every test has a pytest timeout; every wait is a condition with a deadline.
Screen sessions are named ``orc-<task id>``; the fixtures quit those of the tasks they made.

Fixtures other tests may use: ``hub`` (Hub), ``cli`` (Cli), ``agent`` (a started Agent),
``make_agent(repos=None, start=True, overrides=None)``."""

from __future__ import annotations

import json
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import pytest

from integration_harness import FINAL, ORCHESTRATIA, Agent, Cli, Hub, kill_screen_sessions, retire_agent


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "integration: end to end on loopback (real hub, daemon, screen)")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def _prereqs() -> None:
    if not Path(ORCHESTRATIA).exists():
        pytest.fail(f"{ORCHESTRATIA} is missing: run scripts/bootstrap.sh hub,test")
    if shutil.which("screen") is None:
        pytest.fail("screen is not installed: sudo apt install -y screen (scripts/test.sh does it)")


@pytest.fixture(scope="session")
def hub(tmp_path_factory: pytest.TempPathFactory, _prereqs: None) -> Iterator[Hub]:
    server = Hub(tmp_path_factory.mktemp("hub"))
    try:
        server.start()
        yield server
    finally:
        server.stop()


@dataclass
class EarlyTimeout:
    """A task with a 3 s timeout (``--timeout 0.05``), started when the test session starts so
    that its wait overlaps the other tests."""

    agent: Agent
    task_id: str
    minutes: str


@pytest.fixture(scope="session", autouse=True)
def early_timeout(hub: Hub, tmp_path_factory: pytest.TempPathFactory) -> Iterator[EarlyTimeout]:
    agent = Agent(hub, tmp_path_factory.mktemp("timeout-agent"), f"it-timeout-{uuid.uuid4().hex[:6]}")
    agent.register().start()
    cli = Cli(hub, agent.workdir / "cli-home")
    base = ["tasks", "create", "--title", "slow", "--spec", "too slow FAKE_LINES=1 FAKE_SLEEP=150",
            "--agent", agent.name, "--repo", "work", "--json"]
    minutes = "0.05"  # 3 s: the hub takes fractional minutes (migration 0002)
    task = json.loads(cli.run(*base, "--timeout", minutes).stdout)
    try:
        yield EarlyTimeout(agent, task["id"], minutes)
    finally:
        if hub.task(task["id"])["status"] not in FINAL:
            hub.api("POST", f"/tasks/{task['id']}/cancel", json={"reason": "test teardown"})
        agent.stop()
        kill_screen_sessions([task["id"]])


@pytest.fixture
def cli(hub: Hub, tmp_path: Path) -> Cli:
    return Cli(hub, tmp_path / "cli-home")


@pytest.fixture
def make_agent(hub: Hub, tmp_path: Path) -> Iterator[Callable[..., Agent]]:
    """Registers (via `orchestratia agent register`) and starts real daemons; stops them and
    quits the screen sessions of their tasks afterwards."""
    agents: list[Agent] = []

    def factory(repos: dict[str, Path] | None = None, start: bool = True, overrides: dict | None = None) -> Agent:
        name = f"it-{uuid.uuid4().hex[:8]}"
        agent = Agent(hub, tmp_path / name, name, dict(repos or {}), overrides=dict(overrides or {}))
        agents.append(agent)
        agent.register()
        if start:
            agent.start()
        return agent

    yield factory
    for agent in agents:
        retire_agent(hub, agent.name, agent.stop)


@pytest.fixture
def agent(make_agent: Callable[..., Agent]) -> Agent:
    return make_agent()
