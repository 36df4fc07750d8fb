"""Dispatch latency: admin ``POST /api/admin/tasks`` → the agent's ``start`` reaching the hub.

Measured from just before the POST is sent to the arrival of the hub's ``task ... running`` event
on a live ``GET /api/admin/events`` subscriber (so the figure includes telling the dashboard),
and also from the hub's own ``created_at`` → ``started_at`` stamps.

Rows:
- push, real daemon: ``orchestratia agent run`` with the shell runner, one task at a time.
- push, light client: a WebSocket client that starts a task the moment ``task_assigned`` arrives
  (the hub's share of the figure above).
- poll-only, 10 s: light v1 clients that poll every 10 s like the deployed daemons, tasks created
  at random moments; fewer tasks (each waits ~5 s), run in parallel over many agents.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from datetime import datetime
from pathlib import Path

import httpx

from .common import Daemon, Hub, Profiler, ratio, summary, table, wait_until, workdir, write_result
from .simagent import SimAgent
from .sse import Event, SseReader

RUNNING = "running"
FINAL = {"completed", "failed", "cancelled", "timed_out", "lost"}


class TaskWatcher:
    """First arrival time of each (task id, status) on the hub's admin event stream."""

    def __init__(self, hub: Hub):
        self.hub = hub
        self.seen: dict[tuple[str, str], float] = {}
        self.cond = threading.Condition()
        self.reader = SseReader(hub.url + "/api/admin/events", {"Authorization": f"Bearer {hub.token}"},
                                on_event=self._on)

    def _on(self, ev: Event) -> None:
        data = ev.data if isinstance(ev.data, dict) else {}
        if ev.event != "task" and data.get("kind") != "task":
            return
        task = data.get("task") if isinstance(data.get("task"), dict) else data
        tid, status = task.get("id") or data.get("task_id"), task.get("status")
        if tid and status:
            with self.cond:
                self.seen.setdefault((tid, status), ev.at)
                self.cond.notify_all()

    def wait(self, tid: str, statuses: set[str], timeout: float) -> tuple[str, float]:
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for s in statuses:
                    if (tid, s) in self.seen:
                        return s, self.seen[(tid, s)]
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"task {tid} never reached {sorted(statuses)} on the event stream")
                self.cond.wait(min(left, 0.5))

    def __enter__(self) -> "TaskWatcher":
        self.reader.start()
        return self

    def __exit__(self, *exc) -> None:
        self.reader.stop()


def _iso(s: str | None) -> datetime | None:
    return datetime.fromisoformat(s.replace("Z", "+00:00")) if s else None


def server_delta_ms(task: dict) -> float | None:
    created, started = _iso(task.get("created_at")), _iso(task.get("started_at"))
    return (started - created).total_seconds() * 1000 if created and started else None


def create(client: httpx.Client, agent: str, spec: str = "true", title: str = "bench") -> tuple[str, float]:
    t0 = time.monotonic()
    r = client.post("/api/admin/tasks", json={"title": title, "spec": spec, "agent": agent, "runner": "shell"})
    if r.status_code != 201:
        raise RuntimeError(f"POST /api/admin/tasks -> {r.status_code} {r.text[:300]}")
    return r.json()["id"], t0


def push_real(hub: Hub, watcher: TaskWatcher, work: Path, n: int, profile: bool) -> dict:
    daemon = Daemon(work, hub, name="dispatch-daemon").start()
    lat, server, statuses = [], [], {}
    try:
        with hub.admin() as client, Profiler(hub.pid, "dispatch-hub", profile) as prof_hub, \
                Profiler(daemon.pid, "dispatch-daemon", profile) as prof_daemon:
            for i in range(n + 3):
                tid, t0 = create(client, daemon.name, title=f"dispatch {i}")
                watcher.wait(tid, {RUNNING} | FINAL, 30)
                end, _ = watcher.wait(tid, FINAL, 60)
                if (tid, RUNNING) not in watcher.seen:
                    raise RuntimeError(f"task never ran: {client.get(f'/api/admin/tasks/{tid}').json()}")
                at = watcher.seen[(tid, RUNNING)]
                statuses[end] = statuses.get(end, 0) + 1
                if i >= 3:  # warm-up
                    lat.append((at - t0) * 1000)
                    server.append(server_delta_ms(client.get(f"/api/admin/tasks/{tid}").json()))
    finally:
        daemon.stop()
    return {"latency_ms": summary(lat), "server_ms": summary([s for s in server if s is not None]),
            "final_statuses": statuses, "profiles": [p.report() for p in (prof_hub, prof_daemon)],
            "profile_top": {"hub": prof_hub.top, "daemon": prof_daemon.top}}


async def _push_sim(hub: Hub, watcher: TaskWatcher, n: int) -> dict:
    agent = SimAgent(hub, "dispatch-sim-push")
    stop, connected = asyncio.Event(), asyncio.Event()
    loop_task = asyncio.create_task(agent.push_loop(stop, connected))
    await asyncio.wait_for(connected.wait(), 30)
    lat, server = [], []
    async with hub.admin_async() as client:
        for i in range(n + 3):
            t0 = time.monotonic()
            r = await client.post("/api/admin/tasks", json={"title": f"p{i}", "spec": "true", "agent": agent.name})
            r.raise_for_status()
            tid = r.json()["id"]
            _, at = await asyncio.to_thread(watcher.wait, tid, {RUNNING}, 30)
            await asyncio.to_thread(watcher.wait, tid, FINAL, 30)
            if i >= 3:
                lat.append((at - t0) * 1000)
                server.append(server_delta_ms((await client.get(f"/api/admin/tasks/{tid}")).json()))
    stop.set()
    await asyncio.wait_for(loop_task, 10)
    return {"latency_ms": summary(lat), "server_ms": summary([s for s in server if s is not None])}


async def _poll_only(hub: Hub, watcher: TaskWatcher, agents: int, rounds: int, interval: float) -> dict:
    sims = [await asyncio.to_thread(SimAgent, hub, f"dispatch-poll-{i}") for i in range(agents)]
    stop = asyncio.Event()
    loops = [asyncio.create_task(a.poll_loop(interval, stop)) for a in sims]
    lat: list[float] = []
    async with hub.admin_async() as client:

        async def one(agent: SimAgent) -> None:
            await asyncio.sleep(random.uniform(0, interval))
            t0 = time.monotonic()
            r = await client.post("/api/admin/tasks", json={"title": "poll", "spec": "true", "agent": agent.name})
            r.raise_for_status()
            _, at = await asyncio.to_thread(watcher.wait, r.json()["id"], {RUNNING}, interval * 3)
            lat.append((at - t0) * 1000)

        for _ in range(rounds):
            await asyncio.gather(*(one(a) for a in sims))
    stop.set()
    await asyncio.gather(*loops, return_exceptions=True)
    return {"latency_ms": summary(lat), "interval_s": interval,
            "expected_ms": {"p50": interval * 500, "p99": interval * 990, "mean": interval * 500}}


def run(quick: bool = False, profile: bool = False) -> dict:
    n = 20 if quick else 200
    poll_agents, poll_rounds = (8, 1) if quick else (25, 2)
    with workdir("dispatch") as work:
        hub = Hub(work).start()
        try:
            with TaskWatcher(hub) as watcher:
                real = push_real(hub, watcher, work, n, profile)
                sim = asyncio.run(_push_sim(hub, watcher, n))
                poll = asyncio.run(_poll_only(hub, watcher, poll_agents, poll_rounds, 10.0))
        finally:
            hub.stop()
    rows = [
        ["push, real daemon", real["latency_ms"]["n"], real["latency_ms"]["p50"], real["latency_ms"]["p99"],
         real["server_ms"]["p50"], real["server_ms"]["p99"]],
        ["push, light client (hub only)", sim["latency_ms"]["n"], sim["latency_ms"]["p50"], sim["latency_ms"]["p99"],
         sim["server_ms"]["p50"], sim["server_ms"]["p99"]],
        ["poll-only 10 s (deployed daemons)", poll["latency_ms"]["n"], poll["latency_ms"]["p50"],
         poll["latency_ms"]["p99"], "", ""],
        ["poll-only expected from interval", "", poll["expected_ms"]["p50"], poll["expected_ms"]["p99"], "", ""],
    ]
    ratios = {
        "poll_p50_over_push_p50": ratio(poll["latency_ms"]["p50"], real["latency_ms"]["p50"]),
        "poll_p99_over_push_p99": ratio(poll["latency_ms"]["p99"], real["latency_ms"]["p99"]),
        "daemon_share_of_push_p50": 1 - ratio(sim["latency_ms"]["p50"], real["latency_ms"]["p50"]),
    }
    # #12: dispatch p50 <= 10 ms, the hub's own stamps (created_at -> started_at: the create's
    # commit to the daemon's start committed, the real daemon's hop included); end to end (the
    # POST sent -> the event on a dashboard's stream) adds the HTTP client, the admin's token
    # lookup and the event's delivery
    targets = {"push_p50_le_20ms": real["latency_ms"]["p50"] <= 20, "push_p99_le_100ms": real["latency_ms"]["p99"] <= 100,
               "push_hub_side_p50_le_10ms": real["server_ms"]["p50"] <= 10}
    text = table("dispatch latency: POST /tasks -> start reaches the hub (ms)",
                 ["mode", "tasks", "p50", "p99", "hub p50", "hub p99"], rows)
    text += "\n" + "  ".join(f"{k}={v:.1f}" for k, v in ratios.items())
    text += "\ntargets: " + ", ".join(f"{k}={'MET' if v else 'NOT MET'}" for k, v in targets.items())
    for p in real.pop("profiles"):
        text += p
    result = {"push_real": real, "push_light": sim, "poll_only": poll, "ratios": ratios, "targets": targets,
              "tasks_per_mode": n, "quick": quick}
    result["file"] = str(write_result("dispatch", result))
    print(text, flush=True)
    return result
