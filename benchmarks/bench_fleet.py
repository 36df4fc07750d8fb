"""Fleet scale: N simulated agents (``benchmarks/fleet_sim.py``, a separate process) against one
hub process on SQLite. Each agent holds a WebSocket (``hello``), heartbeats every 30 s and polls
every 10 s (the fallback poll, at the deployed daemons' rate: the worst case). Agents are added in
steps; a step passes when heartbeat and poll p99 < 100 ms, no request failed, and no agent went
OFFLINE (watched on the admin event stream and in ``GET /api/admin/agents``).

Registration of thousands of agents goes through the admin API (``POST /tokens``) and the v1
``POST /register`` in parallel, as an operator's script would."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import threading
import time
from pathlib import Path

import httpx
import psutil

from .common import PYTHON, RESULTS, ROOT, Hub, Profiler, table, workdir, write_result
from .sse import Event, SseReader


async def register_many(hub: Hub, n: int, concurrency: int = 24) -> tuple[list[str], float]:
    keys: list[str] = [""] * n
    sem = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    t0 = time.monotonic()
    async with hub.admin_async(limits=limits) as admin, httpx.AsyncClient(base_url=hub.url, limits=limits,
                                                                          timeout=60) as anon:
        async def one(i: int) -> None:
            for attempt in range(4):  # a keep-alive connection closed under us: new token, same name
                try:
                    return await attempt_one(i)
                except httpx.TransportError:
                    if attempt == 3:
                        raise
                    await asyncio.sleep(0.2)

        async def attempt_one(i: int) -> None:
            async with sem:
                r = await admin.post("/api/admin/tokens", json={"label": f"fleet-{i}", "expires_in": "24h"})
                r.raise_for_status()
                r = await anon.post("/api/v1/agents/register", json={
                    "name": f"fleet-{i:05d}", "hostname": f"sim-{i}", "ip": "127.0.0.1", "os": "Linux",
                    "repos": {"app": "/srv/app"}, "system_info": {}, "registration_token": r.json()["token"],
                    "agent_version": "fleet-sim", "runners": ["claude"]})
                r.raise_for_status()
                keys[i] = r.json()["api_key"]

        await asyncio.gather(*(one(i) for i in range(n)))
    return keys, time.monotonic() - t0


def register_direct(hub: Hub, first: int, n: int) -> tuple[list[str], float]:
    """Agents ``fleet-<first>`` .. through the hub's own store (a setup step: thousands of
    one-use tokens through the API only measure registration, which is not the point here)."""
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    from orchestratia.hub.auth import hash_secret
    from orchestratia.hub.store.models import Agent
    from orchestratia.protocol import new_api_key

    t0 = time.monotonic()
    db = hub.workdir / "hub-data" / "orchestratia.db"
    engine = create_engine(f"sqlite:///{db}", connect_args={"timeout": 60})
    keys = [new_api_key() for _ in range(n)]
    with Session(engine) as session, session.begin():
        session.add_all([
            Agent(name=f"fleet-{first + i:05d}", api_key_hash=hash_secret(k), hostname=f"sim-{first + i}",
                  ip="127.0.0.1", os="Linux", repos={"app": "/srv/app"}, system_info={}, labels=[],
                  runners=["claude"], agent_version="fleet-sim", max_concurrent_tasks=2)
            for i, k in enumerate(keys)])
    engine.dispose()
    return keys, time.monotonic() - t0


def request_costs(hub: Hub, key: str, n: int) -> dict:
    """Hub CPU time per request (psutil, the hub process) for heartbeat, poll and a loopback
    /health, one request at a time on one keep-alive connection: a capacity figure that holds
    on a busy machine too (CPU time, not wall time)."""
    from .fleet_sim import HEARTBEAT_BODY

    from websockets.sync.client import connect

    proc = psutil.Process(hub.pid)
    out = {}
    ws_url = hub.url.replace("http://", "ws://") + "/ws/agent"
    hello = json.dumps({"type": "hello", "agent_version": "fleet-sim", "features": ["offsets", "push"], "tasks": []})

    def ws_cycle() -> None:  # what an agent (re)connecting costs: auth, hello, resume, close
        with connect(ws_url, additional_headers={"X-API-Key": key}) as ws:
            ws.recv(10)
            ws.send(hello)
            ws.recv(10)

    with httpx.Client(base_url=hub.url, headers={"X-API-Key": key, "Content-Type": "application/json"}) as c:
        for name, call in [("health", lambda: c.get("/health")),
                           ("heartbeat", lambda: c.post("/api/v1/agents/heartbeat", content=HEARTBEAT_BODY)),
                           ("poll", lambda: c.get("/api/v1/agents/tasks/poll")),
                           ("ws connect", ws_cycle)]:
            for _ in range(20):
                call()
            t = proc.cpu_times()
            c0, w0 = t.user + t.system, time.monotonic()
            for _ in range(n):
                r = call()
                if r is not None:
                    r.raise_for_status()
            t = proc.cpu_times()
            cpu = (t.user + t.system - c0) / n
            out[name] = {"hub_cpu_ms": cpu * 1000, "wall_ms": (time.monotonic() - w0) / n * 1000,
                         "max_per_s_one_core": 1 / cpu if cpu else float("inf")}
    return out


class OfflineWatch:
    def __init__(self, hub: Hub):
        self.offline: list[tuple[float, str]] = []
        self.reader = SseReader(hub.url + "/api/admin/events", {"Authorization": f"Bearer {hub.token}"},
                                on_event=self._on)

    def _on(self, ev: Event) -> None:
        d = ev.data if isinstance(ev.data, dict) else {}
        agent = d.get("agent") if isinstance(d.get("agent"), dict) else d
        if (ev.event == "agent" or d.get("kind") == "agent") and agent.get("status") == "OFFLINE":
            self.offline.append((ev.at, str(agent.get("id") or agent.get("name"))))


def _gc_pauses(probe: Path, over_ms: float, since: float = 0.0, until: float = float("inf")) -> list[float]:
    """Collections over ``over_ms`` logged by the probe between wall-clock ``since`` and ``until``."""
    try:
        lines = probe.read_text().splitlines()
    except OSError:
        return []
    out = []
    for line in lines:
        parts = line.split()
        if len(parts) >= 3 and parts[2].endswith("ms") and parts[0].replace(".", "", 1).isdigit():
            at, ms = float(parts[0]), float(parts[2][:-2])
            if ms > over_ms and since <= at <= until:
                out.append(ms)
    return out


def agent_statuses(hub: Hub) -> dict[str, int]:
    with hub.admin(timeout=120) as c:
        r = c.get("/api/admin/agents")
    counts: dict[str, int] = {}
    if r.status_code == 200:
        for a in r.json():
            counts[a.get("status", "?")] = counts.get(a.get("status", "?"), 0) + 1
    return counts


def run(quick: bool = False, profile: bool = False, steps: list[int] | None = None, poll_s: float = 60.0) -> dict:
    """``poll_s``: 60 is what our daemon does while its WebSocket is up (the safety poll); 10 is
    the deployed v1 daemons' rate, the worst case."""
    steps = steps or ([100, 300] if quick else [1000, 2000, 5000, 10000])
    step_s = 15 if quick else 75
    settle_s = 3 if quick else 10
    results: list[dict] = []
    with workdir("fleet") as work:
        # the hub's garbage-collection pauses over 20 ms, logged by benchmarks/gcprobe/sitecustomize.py
        probe = RESULTS / "gc-pauses-fleet-hub.txt"
        RESULTS.mkdir(parents=True, exist_ok=True)
        probe.unlink(missing_ok=True)
        env = {"PYTHONPATH": str(ROOT / "benchmarks" / "gcprobe") + os.pathsep + os.environ.get("PYTHONPATH", ""),
               "GC_PROBE_LOG": str(probe), "GC_PROBE_DETAIL": os.environ.get("GC_PROBE_DETAIL", "")}
        hub = Hub(work, extra_env=env).start()
        try:
            keys, via_api, reg_s, direct_s = register_fleet(hub, max(steps))
            costs = request_costs(hub, keys[0], 300 if quick else 1000)
            keyfile = work / "keys.txt"
            keyfile.write_text("\n".join(keys))
            watch = OfflineWatch(hub)
            watch.reader.start()
            hub_proc = psutil.Process(hub.pid)
            hub_proc.cpu_percent()
            sim = subprocess.Popen(
                [PYTHON, "-m", "benchmarks.fleet_sim", "--hub", hub.url, "--keys", str(keyfile),
                 "--steps", ",".join(map(str, steps)), "--step-seconds", str(step_s), "--settle", str(settle_s),
                 "--poll", str(poll_s)],
                cwd=ROOT, stdout=subprocess.PIPE, stderr=(work / "sim.err").open("wb"), text=True,
                env={**os.environ, "PYTHONPATH": str(ROOT)},
            )
            sim_proc = psutil.Process(sim.pid)
            sim_proc.cpu_percent()
            prof = Profiler(hub.pid, "fleet-hub", profile, rate=200).__enter__()
            try:
                for line in sim.stdout:
                    step = judge_step(json.loads(line), hub, hub_proc, sim_proc, watch, probe)
                    hb, pl = step["heartbeat"]["p99_ms"], step["poll"]["p99_ms"]
                    results.append(step)
                    print(f"  fleet step {step['agents']}: hb p99 {hb} ms, poll p99 {pl} ms, "
                          f"hub cpu {step['hub_cpu_percent']:.0f}%, offline {len(watch.offline)}, "
                          f"errors {step['errors']}", flush=True)
                    if hb is None or hb > 2000 or (pl or 0) > 2000 or sum(step["errors"].values()) > step["agents"]:
                        break  # far past the target: larger fleets only take longer to fail
            finally:
                prof.__exit__(None, None, None)
                if sim.poll() is None:
                    sim.terminate()
                    try:
                        sim.wait(60)
                    except subprocess.TimeoutExpired:
                        sim.kill()
                watch.reader.stop()
        finally:
            hub.stop()
            sim_err = (work / "sim.err").read_text(errors="replace")[-2000:] if (work / "sim.err").exists() else ""
    return report(results, costs, steps, step_s, poll_s, via_api, reg_s, direct_s, prof, sim_err, quick)


def register_fleet(hub: Hub, n: int) -> tuple[list[str], int, float, float]:
    """``n`` agents: up to 500 through the API (token + register each), the rest written to the
    store. Their keys, how many went through the API, and the seconds each way took."""
    via_api = min(n, 500)
    keys, reg_s = asyncio.run(register_many(hub, via_api))
    direct_s = 0.0
    if n > via_api:
        more, direct_s = register_direct(hub, via_api, n - via_api)
        keys += more
    return keys, via_api, reg_s, direct_s


def judge_step(step: dict, hub: Hub, hub_proc: psutil.Process, sim_proc: psutil.Process, watch: OfflineWatch,
               probe: Path) -> dict:
    """A step the simulator reported, with the hub's side of it, and whether it met the bar."""
    step["hub_cpu_percent"] = hub_proc.cpu_percent()
    step["sim_cpu_percent"] = sim_proc.cpu_percent()
    step["hub_rss_mb"] = hub_proc.memory_info().rss / 2**20
    step["offline_events_total"] = len(watch.offline)
    step["agent_statuses"] = agent_statuses(hub)
    step["gc_pauses_over_100ms_so_far"] = _gc_pauses(probe, 100)
    begin = step["t_connect_wall"] + step["window_starts_s"]
    step["gc_pauses_over_20ms_in_window"] = _gc_pauses(probe, 20, begin, begin + step["window_s"])
    hb, pl = step["heartbeat"]["p99_ms"], step["poll"]["p99_ms"]
    step["passed"] = bool(
        hb is not None and pl is not None and hb < 100 and pl < 100 and not step["errors"]
        and not watch.offline and step["ws_connected"] >= step["agents"]
        and step["agent_statuses"].get("ONLINE", 0) >= step["agents"])
    return step


def report(results: list[dict], costs: dict, steps: list[int], step_s: float, poll_s: float, via_api: int,
           reg_s: float, direct_s: float, prof: Profiler, sim_err: str, quick: bool) -> dict:
    passed = [r["agents"] for r in results if r["passed"]]
    largest = max(passed) if passed else 0
    rows = [[r["agents"], r.get("connect_all_s"), r.get("drained_s"), r["heartbeat"]["n"], r["heartbeat"]["p50_ms"], r["heartbeat"]["p99_ms"], r["poll"]["n"],
             r["poll"]["p50_ms"], r["poll"]["p99_ms"], f"{r['hub_cpu_percent']:.0f}", f"{r['sim_cpu_percent']:.0f}",
             f"{r['hub_rss_mb']:.0f}", r["offline_events_total"], sum(r["errors"].values()),
             "yes" if r["passed"] else "NO"] for r in results]
    text = table(f"fleet scale, one hub process on SQLite ({step_s:.0f} s per step, heartbeat 30 s, poll {poll_s:g} s; "
                 "latencies in ms)",
                 ["agents", "connect s", "drained s", "hb n", "hb p50", "hb p99", "poll n", "poll p50", "poll p99", "hub cpu%", "sim cpu%",
                  "hub MB", "offline", "errors", "pass"], rows)
    base = results[0] if results else None
    ratios = {}
    if base and results[-1] is not base and base["poll"]["p99_ms"]:
        ratios["poll_p99_largest_over_smallest"] = results[-1]["poll"]["p99_ms"] / base["poll"]["p99_ms"]
        ratios["heartbeat_p99_largest_over_smallest"] = results[-1]["heartbeat"]["p99_ms"] / base["heartbeat"]["p99_ms"]
    text += table("hub CPU per request (one at a time; capacity = 1 / cpu)", ["request", "hub CPU ms", "wall ms",
                                                                              "max/s on one core"],
                  [[k, v["hub_cpu_ms"], v["wall_ms"], v["max_per_s_one_core"]] for k, v in costs.items()])
    need = {n: n / 30 + n / poll_s for n in steps}
    text += f"\nrequests/s the fleet needs (heartbeat/30 s + poll/{poll_s:g} s): " + ", ".join(
        f"{n}: {v:.0f}/s" for n, v in need.items())
    text += (f"\nregistration through the API (token + register each): {via_api} agents in {reg_s:.1f} s "
             f"({via_api / reg_s:.0f} agents/s); the other {max(steps) - via_api} inserted through the store "
             f"in {direct_s:.1f} s")
    text += "\n" + "  ".join(f"{k}={v:.2f}" for k, v in ratios.items())
    text += f"\nlargest fleet meeting the bar: {largest}; target >= 5000: {'MET' if largest >= 5000 else 'NOT MET'}"
    text += prof.report()
    if sim_err.strip():
        text += "\nsim stderr (tail): " + sim_err.strip()[-500:]
    result = {"steps": results, "largest_passing": largest, "registration_api": {"agents": via_api, "seconds": reg_s},
              "request_costs": costs, "ratios": ratios,
              "targets": {"agents_ge_5000": largest >= 5000}, "step_seconds": step_s, "quick": quick, "poll_s": poll_s,
              "profile_top": prof.top}
    result["file"] = str(write_result(f"fleet-poll{poll_s:g}s", result))
    print(text, flush=True)
    return result
