"""Faults of the distributed parts: Redis restarted, PostgreSQL restarted, a replica cut off
from Redis.

Two real hub replicas (``orchestratia hub serve`` with ``--database-url`` and ``--redis-url``
through the environment) on a PostgreSQL and a Redis owned by this test run (tests/faults/
private_services.py: the machine's shared ones are never stopped), and real daemons connected
to replica A. Tasks are created on replica B, so each one reaches its daemon through Redis (a
push from B to A's WebSocket) or through the daemon's poll of A.

Two daemons, told apart by how they can learn of a task:
* ``pusher`` polls every 600 s: a task it starts after its start-up poll was pushed to it;
* ``poller`` polls every second, also while its WebSocket is up (``safety_poll_interval``).
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import httpx
import pytest

from fault_harness import FaultAgent, FaultHub, drop_schema
from integration_harness import Hub, wait_for
from private_services import PrivatePostgres, PrivateRedis
from tcp_proxy import CuttingProxy

LINES = 2500
PUSH_ONLY = {"poll_interval": 600, "safety_poll_interval": 600}
POLL_EVERY_SECOND = {"poll_interval": 1, "safety_poll_interval": 1}


def stream_spec(delay: float) -> str:
    return f"fault stream FAKE_LINES={LINES} FAKE_LINE_DELAY={delay} FAKE_UNICODE"


@dataclass
class Fleet:
    a: FaultHub  # the daemons' replica
    b: FaultHub  # where tasks are created


@pytest.fixture
def make_fleet(tmp_path: Path, private_postgres: PrivatePostgres,
               private_redis: PrivateRedis) -> Iterator[Callable[..., Fleet]]:
    """Two replicas on a fresh schema of the private PostgreSQL; ``redis_a`` / ``redis_b``: each
    replica's Redis URL (default: the private Redis)."""
    started: list[tuple[list[FaultHub], str]] = []

    def factory(redis_a: str | None = None, redis_b: str | None = None) -> Fleet:
        private_postgres.ensure_started()
        private_redis.ensure_started()
        schema = f"dist_{uuid.uuid4().hex[:12]}"
        replicas: list[FaultHub] = []
        started.append((replicas, schema))
        for name, redis_url in (("a", redis_a), ("b", redis_b)):  # in turn: A migrates the schema
            env = {"ORCHESTRATIA_DATABASE_URL": private_postgres.url, "ORCHESTRATIA_DATABASE_SCHEMA": schema,
                   "ORCHESTRATIA_REDIS_URL": redis_url or private_redis.url}
            replicas.append(FaultHub(tmp_path / f"replica-{name}", extra_env=env).start())
        return Fleet(*replicas)

    yield factory
    for replicas, schema in started:
        for replica in replicas:
            replica.stop()
        private_postgres.ensure_started()
        asyncio.run(drop_schema(private_postgres.url, schema))


# ---------------------------------------------------------------------------- helpers

def ready(hub: Hub) -> tuple[int, dict]:
    r = httpx.get(f"{hub.url}/readyz", timeout=10)
    return r.status_code, r.json()


def wait_ready(hub: Hub, status: int, mentions: str = "", timeout: float = 20) -> dict:
    def check() -> dict | None:
        code, body = ready(hub)
        return body if code == status and mentions in str(body.get("detail", "")) else None

    return wait_for(check, timeout, f"{hub.url}/readyz to answer {status} {mentions!r}".strip())


def create(hub: Hub, agent: FaultAgent, spec: str, title: str = "dist") -> str:
    r = hub.api("POST", "/tasks", json={"title": title, "spec": spec, "agent": agent.name,
                                        "target_repo": "work", "runner": "claude"})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def stored(hub: Hub, task_id: str) -> int:
    return hub.task(task_id).get("output_size") or 0


def websocket_up(agent: FaultAgent) -> None:
    wait_for(lambda: b"WebSocket connected to" in agent.daemon_log.read_bytes(), 20,
             f"{agent.name}'s WebSocket (log: {agent.daemon_log})")


def websocket_connects(agent: FaultAgent) -> int:
    return agent.daemon_log.read_bytes().count(b"WebSocket connected to")


def completes(hub: Hub, task_id: str, why: str, timeout: float = 20) -> None:
    task = hub.wait_final(task_id, timeout=timeout)
    assert task["status"] == "completed", f"{why}: {task}"


def assert_streamed(hub: Hub, agent: FaultAgent, task_id: str) -> None:
    """Completed once; the stored output is the agent's log byte for byte, every line once."""
    task = hub.wait_final(task_id, timeout=40)
    assert task["status"] == "completed", task
    log = agent.task_log(task_id)
    wait_for(lambda: hub.output(task_id) == log.read_bytes(), 15,
             "the hub's stored output to equal the agent's log byte for byte")
    data = log.read_bytes()
    missing = [n for n in range(1, LINES + 1) if data.count(f'"line {n} of {LINES}"'.encode()) != 1]
    assert not missing, f"{len(missing)} numbered lines lost or doubled, first {missing[:5]}"
    again = hub.task(task_id)
    assert (again["status"], again["finished_at"]) == (task["status"], task["finished_at"]), "reported twice"


def no_task_stuck(hub: Hub, *agents: FaultAgent) -> None:
    for agent in agents:
        tasks = hub.api("GET", "/tasks", params={"agent": agent.name, "limit": 50}).json()
        assert [t["status"] for t in tasks if t["status"] != "completed"] == [], tasks
        assert len(agent.runs()) == len(tasks), f"{agent.name}: {len(agent.runs())} runs for {len(tasks)} tasks"


# ---------------------------------------------------------------------------- tests

def test_redis_restarted_mid_stream(make_fleet, make_fault_agent, private_redis: PrivateRedis) -> None:
    fleet = make_fleet()
    pusher = make_fault_agent(fleet.a, overrides=PUSH_ONLY)
    poller = make_fault_agent(fleet.a, overrides=POLL_EVERY_SECOND)
    websocket_up(pusher)
    streaming = create(fleet.b, pusher, stream_spec(0.003), "stream")
    wait_for(lambda: stored(fleet.a, streaming) > 30_000, 30, "some output stored before the fault")

    private_redis.stop()
    for replica in (fleet.a, fleet.b):
        wait_ready(replica, 503, "Redis")
    at_stop = stored(fleet.a, streaming)
    while_down = create(fleet.b, poller, "quick FAKE_LINES=3", "while redis is down")
    completes(fleet.b, while_down, "a task created while Redis is down should start through the daemon's poll")
    for_pusher = create(fleet.b, pusher, "quick FAKE_LINES=3", "pushed after redis is back")
    wait_for(lambda: stored(fleet.a, streaming) > at_stop + 20_000 or hub_final(fleet.a, streaming), 20,
             "output to keep being stored while Redis is down")
    assert fleet.b.task(for_pusher)["status"] in ("queued", "assigned")  # no poll, no push yet

    private_redis.start()
    for replica in (fleet.a, fleet.b):
        wait_ready(replica, 200)
    completes(fleet.b, for_pusher, "a task assigned while Redis was down should be pushed once it is back")
    after = create(fleet.b, pusher, "quick FAKE_LINES=3", "after redis is back")
    completes(fleet.b, after, "a task created after Redis came back should be pushed")
    assert_streamed(fleet.a, pusher, streaming)
    assert websocket_connects(pusher) == 1, "the daemon's WebSocket was dropped because Redis restarted"
    no_task_stuck(fleet.b, pusher, poller)


def hub_final(hub: Hub, task_id: str) -> bool:
    return hub.task(task_id)["status"] == "completed"


def test_postgres_restarted_mid_stream(make_fleet, make_fault_agent, private_postgres: PrivatePostgres) -> None:
    fleet = make_fleet()
    agent = make_fault_agent(fleet.a, overrides=POLL_EVERY_SECOND)
    websocket_up(agent)
    streaming = create(fleet.b, agent, stream_spec(0.004), "stream")
    wait_for(lambda: stored(fleet.a, streaming) > 30_000, 30, "some output stored before the fault")
    pids = [fleet.a.proc.pid, fleet.b.proc.pid]

    private_postgres.stop()
    log = agent.task_log(streaming)
    at_stop = log.stat().st_size
    for replica in (fleet.a, fleet.b):
        body = wait_ready(replica, 503, "store")
        assert body["checks"]["redis"] == "ok", body
        listed = replica.api("GET", "/tasks")
        assert listed.status_code == 503, listed.text
        assert "store" in listed.json()["detail"], listed.text
        refused = replica.api("POST", "/tasks", json={"title": "x", "spec": "quick", "agent": agent.name})
        assert refused.status_code == 503 and "store" in refused.json()["detail"], refused.text
    wait_for(lambda: log.stat().st_size > at_stop + 20_000, 15, "the task to keep writing while the store is down")

    private_postgres.start()
    for replica in (fleet.a, fleet.b):
        wait_ready(replica, 200, timeout=30)
    after = create(fleet.a, agent, "quick FAKE_LINES=3", "after postgres is back")
    completes(fleet.b, after, "a task created after PostgreSQL came back should run")
    assert_streamed(fleet.a, agent, streaming)
    assert [fleet.a.proc.pid, fleet.b.proc.pid] == pids and all(r.proc.poll() is None for r in (fleet.a, fleet.b)), \
        "a replica was restarted"
    no_task_stuck(fleet.b, agent)


def test_replica_partitioned_from_redis(make_fleet, make_fault_agent, private_redis: PrivateRedis) -> None:
    private_redis.ensure_started()
    with CuttingProxy(private_redis.port, websocket_only=False) as link:
        fleet = make_fleet(redis_a=f"redis://127.0.0.1:{link.port}/0")
        pusher = make_fault_agent(fleet.a, overrides=PUSH_ONLY)
        poller = make_fault_agent(fleet.a, overrides=POLL_EVERY_SECOND)
        websocket_up(pusher)
        streaming = create(fleet.b, pusher, stream_spec(0.002), "stream")
        wait_for(lambda: stored(fleet.a, streaming) > 10_000, 30, "some output stored before the partition")

        assert link.block() > 0, "replica A had no Redis connection to cut"
        body = wait_ready(fleet.a, 503, "Redis")
        assert body["checks"]["store"] == "ok", body
        assert ready(fleet.b)[0] == 200, "the healthy replica went red"
        during = create(fleet.b, poller, "quick FAKE_LINES=3", "during the partition")
        completes(fleet.b, during, "a task for an agent on the partitioned replica should run (poll fallback)")
        for_pusher = create(fleet.b, pusher, "quick FAKE_LINES=3", "pushed after the partition heals")

        link.unblock()
        wait_ready(fleet.a, 200)
        completes(fleet.b, for_pusher, "a task assigned during the partition should be pushed once it heals")
        after = create(fleet.b, pusher, "quick FAKE_LINES=3", "after the partition")
        completes(fleet.b, after, "pushes should flow again after the partition heals")
        assert_streamed(fleet.a, pusher, streaming)
        assert websocket_connects(pusher) == 1, "the daemon's WebSocket was dropped by the partition"
        no_task_stuck(fleet.b, pusher, poller)
