"""The fleet across replicas: N simulated agents (``benchmarks/fleet_sim.py``) against, in one
run and one after the other, one hub process on SQLite, one on PostgreSQL + Redis, and two
replicas on PostgreSQL + Redis (agent i talks to replica i mod 2). Per configuration and fleet
size: heartbeat / poll p99 at the client, the hubs' CPU (all replicas summed) per agent, and hub
CPU per request one at a time (``bench_fleet.request_costs``: CPU time, robust on a busy machine).

Target: p99 <= 100 ms, and CPU per agent on replicas within 1.5x of SQLite.

``python -m benchmarks --only replicas --fleet-steps 2000,5000 [--replica-configs sqlite,pg1,pg2]``
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import threading
import time
import uuid
from pathlib import Path

import psutil

from .bench_fleet import OfflineWatch, agent_statuses, request_costs
from .common import PYTHON, ROOT, Hub, Profiler, table, workdir, write_result

POSTGRES_URL = os.environ.get("BENCH_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
#: name -> (store, replicas, Redis)
CONFIGS = {"sqlite": ("sqlite", 1, False), "pg1": ("postgres", 1, True), "pg2": ("postgres", 2, True),
           "pg1-noredis": ("postgres", 1, False)}


async def insert_agents(url: str, schema: str | None, n: int, max_tasks: int = 2) -> list[str]:
    """``n`` agents written straight to the store (setup, not what is measured)."""
    from orchestratia.hub.auth import hash_secret
    from orchestratia.hub.store.engine import Database
    from orchestratia.hub.store.models import Agent
    from orchestratia.protocol import new_api_key

    db = Database(url, schema)
    keys = [new_api_key() for _ in range(n)]
    try:
        for first in range(0, n, 2000):
            async with db.write() as session:
                session.add_all([
                    Agent(name=f"fleet-{i:05d}", api_key_hash=hash_secret(keys[i]), hostname=f"sim-{i}",
                          ip="127.0.0.1", os="Linux", repos={"app": "/srv/app"}, system_info={}, labels=[],
                          runners=["claude", "shell"], agent_version="fleet-sim", max_concurrent_tasks=max_tasks)
                    for i in range(first, min(n, first + 2000))])
    finally:
        await db.dispose()
    return keys


async def drop_schema(schema: str) -> None:
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(POSTGRES_URL)
    try:
        async with engine.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    finally:
        await engine.dispose()


def start_hubs(name: str, work: Path) -> tuple[list[Hub], str, str | None]:
    store, replicas, redis = CONFIGS[name]
    schema = f"bench_{uuid.uuid4().hex[:10]}" if store == "postgres" else None
    env = {"ORCHESTRATIA_DATABASE_SCHEMA": schema} if schema else {}
    if redis:
        env["ORCHESTRATIA_REDIS_URL"] = REDIS_URL
    hubs: list[Hub] = []
    for i in range(replicas):  # one after the other: the first runs the migrations
        d = work / f"{name}-{i}"
        d.mkdir(parents=True)
        hub = Hub(d, database_url=POSTGRES_URL if schema else None, extra_env=env,
                  **({"password": hubs[0].password} if hubs else {}))
        hubs.append(hub.start())
    url = POSTGRES_URL if schema else f"sqlite+aiosqlite:///{hubs[0].workdir / 'hub-data' / 'orchestratia.db'}"
    return hubs, url, schema


def cpu_total(procs: list[psutil.Process]) -> float:
    return sum(t.user + t.system for t in (p.cpu_times() for p in procs))


class CpuSampler:
    """CPU time of some processes sampled every 0.5 s (wall clock), so the CPU of a step's
    measurement window can be told apart from its connect storm."""

    def __init__(self, procs: list[psutil.Process]):
        self.procs, self.samples = procs, []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append((time.time(), cpu_total(self.procs)))
            self._stop.wait(0.5)

    def start(self) -> "CpuSampler":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def percent(self, begin: float, end: float) -> float:
        inside = [s for s in self.samples if begin <= s[0] <= end]
        if len(inside) < 2:
            return float("nan")
        (t0, c0), (t1, c1) = inside[0], inside[-1]
        return 100 * (c1 - c0) / (t1 - t0)


def run_config(name: str, steps: list[int], step_s: float, settle_s: float, poll_s: float, profile: bool,
               work: Path) -> dict:
    hubs, url, schema = start_hubs(name, work)
    out: dict = {"config": name, "replicas": len(hubs), "steps": []}
    try:
        keys = asyncio.run(insert_agents(url, schema, max(steps)))
        out["request_costs"] = request_costs(hubs[0], keys[0], 500)
        keyfile = work / f"{name}-keys.txt"
        keyfile.write_text("\n".join(keys))
        with hubs[0].admin(timeout=120) as c:  # other hubs on this Redis publish on the same hub channel
            ours = {a["id"] for a in c.get("/api/admin/agents").json()}
        watch = OfflineWatch(hubs[0])
        watch.reader.start()
        procs = [psutil.Process(h.pid) for h in hubs]
        sim = subprocess.Popen(
            [PYTHON, "-m", "benchmarks.fleet_sim", "--hub", ",".join(h.url for h in hubs), "--keys", str(keyfile),
             "--steps", ",".join(map(str, steps)), "--step-seconds", str(step_s), "--settle", str(settle_s),
             "--poll", str(poll_s)],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=(work / f"{name}-sim.err").open("wb"), text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)})
        sim_proc = psutil.Process(sim.pid)
        hub_cpu, sim_cpu = CpuSampler(procs).start(), CpuSampler([sim_proc]).start()
        prof = Profiler(hubs[0].pid, f"replicas-{name}-hub", profile, rate=200).__enter__()
        try:
            for line in sim.stdout:
                step = json.loads(line)
                # CPU over the step's measurement window only (the connect storm is apart)
                begin = step["t_connect_wall"] + step["window_starts_s"]
                step["hub_cpu_percent"] = hub_cpu.percent(begin, begin + step["window_s"])
                step["sim_cpu_percent"] = sim_cpu.percent(begin, begin + step["window_s"])
                step["hub_cpu_us_per_agent_s"] = step["hub_cpu_percent"] / 100 * 1e6 / step["agents"]
                step["hub_rss_mb"] = sum(p.memory_info().rss for p in procs) / 2**20
                step["offline_events_total"] = sum(1 for _, a in watch.offline if a in ours)
                step["offline_events_foreign"] = len(watch.offline) - step["offline_events_total"]
                step["agent_statuses"] = agent_statuses(hubs[0])
                hb, pl = step["heartbeat"]["p99_ms"], step["poll"]["p99_ms"]
                step["passed"] = bool(hb is not None and pl is not None and hb <= 100 and pl <= 100
                                      and not step["errors"] and not step["offline_events_total"]
                                      and step["agent_statuses"].get("ONLINE", 0) >= step["agents"])
                out["steps"].append(step)
                print(f"  {name} {step['agents']}: hb p99 {hb} ms, poll p99 {pl} ms, hub cpu "
                      f"{step['hub_cpu_percent']:.0f}%, offline {step['offline_events_total']}, errors {step['errors']}, "
                      f"simulator stalls > 50 ms in the window {step.get('sim_stalls')}",
                      flush=True)
        finally:
            hub_cpu.stop()
            sim_cpu.stop()
            prof.__exit__(None, None, None)
            if sim.poll() is None:
                sim.terminate()
                sim.wait(60)
            watch.reader.stop()
        out["profile_top"] = prof.top
        out["profile_report"] = prof.report()
    finally:
        for h in hubs:
            h.stop()
        if schema:
            asyncio.run(drop_schema(schema))
    return out


def run(quick: bool = False, profile: bool = False, steps: list[int] | None = None, poll_s: float = 60.0,
        configs: list[str] | None = None) -> dict:
    steps = steps or ([200] if quick else [2000, 5000])
    configs = configs or ["sqlite", "pg1", "pg2"]
    step_s, settle_s = (15, 3) if quick else (60, 10)
    load_before = os.getloadavg()
    results = []
    with workdir("replicas") as work:
        for name in configs:
            print(f"  config {name} ...", flush=True)
            results.append(run_config(name, steps, step_s, settle_s, poll_s, profile, work))
    load_after = os.getloadavg()
    rows = []
    for r in results:
        for s in r["steps"]:
            rows.append([r["config"], s["agents"], s["heartbeat"]["p50_ms"], s["heartbeat"]["p99_ms"], s["poll"]["p50_ms"],
                         s["poll"]["p99_ms"], f"{s['hub_cpu_percent']:.0f}", f"{s['hub_cpu_us_per_agent_s']:.1f}",
                         f"{s['sim_cpu_percent']:.0f}", f"{s['hub_rss_mb']:.0f}", s["offline_events_total"],
                         sum(s["errors"].values()), "yes" if s["passed"] else "NO"])
    text = table(f"fleet across replicas ({step_s} s per step, heartbeat 30 s, poll {poll_s:g} s; latencies ms; "
                 f"load {load_before[0]:.1f} -> {load_after[0]:.1f})",
                 ["config", "agents", "hb p50", "hb p99", "poll p50", "poll p99", "hub cpu% (sum)", "cpu us/agent/s",
                  "sim cpu%", "hub MB", "offline", "errors", "pass"], rows)
    text += table("hub CPU per request, one at a time (first replica)", ["config", "health ms", "heartbeat ms",
                                                                         "poll ms", "ws connect ms"],
                  [[r["config"], *(r["request_costs"][k]["hub_cpu_ms"] for k in ("health", "heartbeat", "poll",
                                                                               "ws connect"))] for r in results])
    by = {r["config"]: {s["agents"]: s for s in r["steps"]} for r in results}
    ratios, targets = {}, {}
    for name in by:
        if name == "sqlite" or "sqlite" not in by:
            continue
        for n, s in by[name].items():
            base = by["sqlite"].get(n)
            if base:
                ratios[f"{name}_over_sqlite_cpu_per_agent_{n}"] = s["hub_cpu_us_per_agent_s"] / base["hub_cpu_us_per_agent_s"]
    for r in results:
        for s in r["steps"]:
            targets[f"{r['config']}_{s['agents']}_p99_le_100ms"] = s["passed"]
    for k, v in ratios.items():
        if k.startswith("pg2"):
            targets[k.replace("_over_sqlite", "_within_1.5x_sqlite")] = v <= 1.5
    text += "\n" + "  ".join(f"{k}={v:.2f}" for k, v in ratios.items())
    text += "\ntargets: " + ", ".join(f"{k}={'MET' if v else 'NOT MET'}" for k, v in targets.items())
    for r in results:
        text += r.pop("profile_report", "")
    result = {"configs": results, "ratios": ratios, "targets": targets, "step_seconds": step_s, "poll_s": poll_s,
              "load_before": load_before, "load_after": load_after, "quick": quick}
    result["file"] = str(write_result(f"replicas-poll{poll_s:g}s", result))
    print(text, flush=True)
    return result
