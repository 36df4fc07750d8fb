"""Measures two figures on loopback with the real hub and daemon (not a test; run it):

    .venv/bin/python tests/integration/measure_latency.py [--tasks 10] [--lines 50]

1. dispatch: from ``POST /api/admin/tasks`` returning to the task being ``running`` (seen
   by polling every 5 ms), the hub's own ``started_at - created_at``, and from starting
   ``orchestratia tasks create`` (process start-up included) to ``running``;
2. output: from a line printed by the task (a shell task prints ``MARK <epoch ns>``) to that
   line reaching a client of the hub's SSE stream (the hub publishes after storing, so this
   bounds the time to "stored at the hub" from above).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from integration_harness import ORCHESTRATIA, Agent, Hub, kill_screen_sessions  # noqa: E402


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def summary(name: str, values_ms: list[float]) -> str:
    return (f"{name}: n={len(values_ms)} median={statistics.median(values_ms):.1f} ms "
            f"p90={pct(values_ms, 90):.1f} ms max={max(values_ms):.1f} ms")


def measure_dispatch(hub: Hub, agent: Agent, n: int) -> tuple[list[float], list[float]]:
    observed, server = [], []
    for i in range(n):
        r = hub.api("POST", "/tasks", json={"title": f"d{i}", "spec": "true", "agent": agent.name,
                                             "target_repo": "work", "runner": "shell"})
        assert r.status_code == 201, r.text
        t_created = time.monotonic()
        task_id = r.json()["id"]
        while True:
            task = hub.task(task_id)
            if task["status"] not in ("queued", "assigned"):
                break
            time.sleep(0.005)
        observed.append((time.monotonic() - t_created) * 1000)
        if task.get("started_at"):
            s = datetime.fromisoformat(task["started_at"]) - datetime.fromisoformat(task["created_at"])
            server.append(s.total_seconds() * 1000)
        hub.wait_final(task_id)
    return observed, server


def measure_dispatch_cli(hub: Hub, agent: Agent, n: int, home: Path) -> list[float]:
    """From starting ``orchestratia tasks create`` (a new process, as a user would) to running."""
    import subprocess

    from integration_harness import Cli

    cli, observed = Cli(hub, home), []
    for i in range(n):
        t0 = time.monotonic()
        proc = subprocess.run([ORCHESTRATIA, "tasks", "create", "--title", f"c{i}", "--spec", "true", "--agent",
                               agent.name, "--repo", "work", "--runner", "shell", "--json"],
                              capture_output=True, text=True, env=cli.env(), check=True)
        task_id = json.loads(proc.stdout)["id"]
        while hub.task(task_id)["status"] in ("queued", "assigned"):
            time.sleep(0.005)
        observed.append((time.monotonic() - t0) * 1000)
        hub.wait_final(task_id)
    return observed


def measure_output(hub: Hub, agent: Agent, lines: int) -> list[float]:
    spec = f'for i in $(seq 1 {lines}); do echo "MARK $(date +%s%N)"; sleep 0.05; done'
    r = hub.api("POST", "/tasks", json={"title": "latency", "spec": spec, "agent": agent.name,
                                         "target_repo": "work", "runner": "shell"})
    task_id = r.json()["id"]
    latencies: list[float] = []
    buffer = {"text": ""}

    def follow() -> None:
        headers = {"Authorization": f"Bearer {hub.token}"}
        with httpx.stream("GET", f"{hub.url}/api/admin/tasks/{task_id}/stream", headers=headers,
                          timeout=httpx.Timeout(10, read=None)) as resp:
            event = None
            for line in resp.iter_lines():
                if line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:") and event == "output":
                    now_ns = time.time_ns()
                    buffer["text"] += json.loads(line[5:])["text"]
                    *complete, buffer["text"] = buffer["text"].split("\n")
                    for item in complete:
                        if item.startswith("MARK "):
                            latencies.append((now_ns - int(item.split()[1])) / 1e6)
                elif event == "end":
                    return

    thread = threading.Thread(target=follow, daemon=True)
    thread.start()
    hub.wait_final(task_id, timeout=60)
    thread.join(timeout=10)
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=10)
    parser.add_argument("--lines", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        hub = Hub(Path(tmp) / "hub").start()
        agent = Agent(hub, Path(tmp) / "agent", "latency-agent")
        try:
            agent.register().start()
            observed, server = measure_dispatch(hub, agent, args.tasks)
            print(summary("POST /api/admin/tasks returned -> running (5 ms polling)", observed))
            cli_ms = measure_dispatch_cli(hub, agent, args.tasks, Path(tmp) / "cli")
            print(summary("`orchestratia tasks create` started -> running (incl. CLI start-up)", cli_ms))
            if server:
                print(summary("create -> running (hub's started_at - created_at)", server))
            print(summary("line printed -> received from the hub's SSE stream", measure_output(hub, agent, args.lines)))
        finally:
            try:
                tasks = hub.api("GET", "/tasks", params={"limit": 500}).json()
            except Exception:  # noqa: BLE001
                tasks = []
            agent.stop()
            hub.stop()
            kill_screen_sessions([t["id"] for t in tasks])


if __name__ == "__main__":
    main()
