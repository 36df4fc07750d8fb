"""Two hub replicas (PostgreSQL + Redis) behind HAProxy running the shipped deploy/haproxy.cfg,
and a real daemon that knows only HAProxy's address. Mid-stream the replica holding the daemon's
WebSocket is killed with SIGKILL: the daemon reconnects through HAProxy to the other replica,
the task completes once, its program ran once, and the stored output is the agent's log byte
for byte, every numbered line exactly once.

Needs Debian's ``haproxy`` (scripts/test.sh installs it), PostgreSQL and Redis; all on loopback."""

from __future__ import annotations

import asyncio
import csv
import io
import os
import shutil
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import httpx
import pytest

from integration_harness import ROOT, Agent, Hub, free_port, retire_agent, stop_process, tail, wait_for

sys.path.insert(0, str(ROOT / "tests" / "faults"))
from fault_harness import FaultHub, drop_schema  # noqa: E402

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.timeout(180)]

HAPROXY_CFG = ROOT / "deploy" / "haproxy.cfg"
LINES = 2000
# the process section Debian's stock /etc/haproxy/haproxy.cfg would give (minus chroot and
# user, which need root), logging to stdout instead of /dev/log
GLOBAL = "global\n    maxconn 2000\n    log stdout format raw local0 info\n"


def haproxy_binary() -> str:
    found = shutil.which("haproxy") or ("/usr/sbin/haproxy" if os.access("/usr/sbin/haproxy", os.X_OK) else None)
    if found is None:
        message = "haproxy is not installed: sudo apt install -y haproxy (scripts/test.sh does it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


@dataclass
class Balancer:
    """HAProxy on loopback with deploy/haproxy.cfg, its variables set to our replicas."""

    workdir: Path
    servers: list[int]
    port: int = field(default_factory=free_port)
    stats_port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None

    @property
    def log(self) -> Path:
        return self.workdir / "haproxy.log"

    def start(self) -> "Balancer":
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / "global.cfg").write_text(GLOBAL)
        env = dict(os.environ, ORCHESTRATIA_LB_BIND=f"127.0.0.1:{self.port}",
                   ORCHESTRATIA_LB_STATS_PORT=str(self.stats_port))
        env.pop("ORCHESTRATIA_LB_CERT", None)
        env.update({f"ORCHESTRATIA_HUB{i}": f"127.0.0.1:{port}" for i, port in enumerate(self.servers, 1)})
        argv = [haproxy_binary(), "-db", "-f", str(self.workdir / "global.cfg"), "-f", str(HAPROXY_CFG)]
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         env=env, start_new_session=True)
        wait_for(lambda: self.up() == {f"hub{i}" for i in range(1, len(self.servers) + 1)}, 20,
                 f"HAProxy to see every replica UP (log: {self.log})")
        return self

    def up(self) -> set[str]:
        """The servers HAProxy's health checks hold UP (from its stats page, CSV)."""
        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError(f"haproxy exited with {self.proc.returncode}:\n{tail(self.log)}")
        text = httpx.get(f"http://127.0.0.1:{self.stats_port}/;csv", timeout=2).text.lstrip("# ")
        rows = csv.DictReader(io.StringIO(text))
        return {r["svname"] for r in rows if r["pxname"] == "orchestratia_hubs" and r["status"].startswith("UP")
                and r["svname"] not in ("FRONTEND", "BACKEND")}

    def stop(self) -> None:
        stop_process(self.proc)


@dataclass
class Fleet:
    replicas: list[FaultHub]
    balancer: Balancer
    front: Hub  # the admin API through HAProxy (no process of its own)


@pytest.fixture
def fleet(tmp_path: Path, postgres_url: str, redis_url: str) -> Iterator[Fleet]:
    haproxy_binary()
    schema = f"lb_{uuid.uuid4().hex[:12]}"
    env = {"ORCHESTRATIA_DATABASE_URL": postgres_url, "ORCHESTRATIA_DATABASE_SCHEMA": schema,
           "ORCHESTRATIA_REDIS_URL": redis_url}
    replicas = [FaultHub(tmp_path / f"replica{i}", extra_env=env) for i in (1, 2)]
    balancer = Balancer(tmp_path / "haproxy", [r.port for r in replicas])
    try:
        for replica in replicas:  # one after the other: the first one migrates the new schema
            replica.start()
        balancer.start()
        front = Hub(tmp_path / "front", port=balancer.port)
        front.token = front.login()
        yield Fleet(replicas, balancer, front)
    finally:
        balancer.stop()
        for replica in replicas:
            replica.stop()
        asyncio.run(drop_schema(postgres_url, schema))


def ws_holder(fleet: Fleet) -> FaultHub:
    """The replica that accepted the daemon's WebSocket (uvicorn logs each accepted one)."""
    holders = [r for r in fleet.replicas if b'"WebSocket /ws/agent" [accepted]' in r.log.read_bytes()]
    assert len(holders) == 1, f"{len(holders)} replicas accepted a WebSocket before the kill"
    return holders[0]


def test_replica_killed_mid_stream_behind_haproxy(fleet: Fleet, tmp_path: Path) -> None:
    front = fleet.front
    agent = Agent(front, tmp_path / "agent", f"lb-{uuid.uuid4().hex[:8]}")  # hub_url: HAProxy
    agent.register().start()
    try:
        wait_for(lambda: b"WebSocket connected to" in agent.daemon_log.read_bytes(), 20, "the daemon's WebSocket")
        runs = agent.workdir / "runs.txt"
        spec = (f'echo "$$" >> {runs}; for i in $(seq 1 {LINES}); do echo "line $i of {LINES}"; sleep 0.003; done')
        r = front.api("POST", "/tasks", json={"title": "lb stream", "spec": spec, "agent": agent.name,
                                              "target_repo": "work", "runner": "shell"})
        assert r.status_code == 201, r.text
        task_id = r.json()["id"]
        holder = ws_holder(fleet)
        survivor = next(r for r in fleet.replicas if r is not holder)
        wait_for(lambda: (front.task(task_id).get("output_size") or 0) > 3000, 30, "some output stored")
        assert front.task(task_id)["status"] == "running"

        holder.kill9()
        wait_for(lambda: b'"WebSocket /ws/agent" [accepted]' in survivor.log.read_bytes(), 30,
                 f"the daemon's WebSocket on the surviving replica through HAProxy (daemon log: {agent.daemon_log})")
        wait_for(lambda: fleet.balancer.up() == {f"hub{fleet.replicas.index(survivor) + 1}"}, 15,
                 "HAProxy to take the killed replica out")
        assert agent.daemon_log.read_bytes().count(b"WebSocket connected to") >= 2
        assert_intact(front, agent, task_id, runs)
    finally:
        retire_agent(front, agent.name, agent.stop)


def assert_intact(front: Hub, agent: Agent, task_id: str, runs: Path) -> None:
    task = front.wait_final(task_id, timeout=60)
    assert task["status"] == "completed" and task["exit_code"] == 0, task
    log = agent.task_log(task_id)
    wait_for(lambda: front.output(task_id) == log.read_bytes(), 15,
             "the stored output to equal the agent's log byte for byte")
    lines = [line for line in front.output(task_id).decode().splitlines() if line.startswith("line ")]
    assert lines == [f"line {i} of {LINES}" for i in range(1, LINES + 1)], "a line was lost, doubled or reordered"
    assert runs.read_text().count("\n") == 1, "the task's program ran more than once"
    again = front.task(task_id)
    assert (again["status"], again["finished_at"]) == (task["status"], task["finished_at"]), "reported twice"
    tasks = front.api("GET", "/tasks", params={"agent": agent.name, "limit": 10}).json()
    assert [t["id"] for t in tasks] == [task_id], "a task was duplicated"
