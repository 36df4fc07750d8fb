"""Many tasks at once: T simulated tasks (default 500, over 50 simulated agents, 10 each) stream
output at R bytes/s each (default 20 KiB/s: a chunk every 200 ms) over the agents' WebSockets
(offsets and binary output frames, deflate at level 1, as our daemon does), while V live viewers
(default 50) follow as many tasks on ``GET /api/admin/tasks/{id}/stream``. Against one hub on SQLite, and two replicas on PostgreSQL +
Redis (agent i and viewer i on replica i mod 2), one after the other in one run.

Measured: aggregate MB/s stored (bytes the hub acknowledged, ``ack.next_offset``, over the
window) and line -> viewer latency (each chunk starts with a line carrying ``time.time()``).
Target: >= 10 MB/s aggregate with p99 <= 100 ms.

``python -m benchmarks --only many [--many-configs sqlite,pg2]``; the agents run in a separate
process (``python -m benchmarks.bench_many agents ...``).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil

from .bench_replicas import CONFIGS, CpuSampler, drop_schema, insert_agents, start_hubs
from .common import PYTHON, ROOT, Profiler, pct, summary, table, workdir, write_result

FILLER = ("x" * 99 + "\n").encode()


# --------------------------------------------------------------------------- the agents' process


async def agent_loop(hub: str, key: str, tasks: list[str], rate: int, interval: float, seconds: float,
                     out: dict) -> None:
    import websockets

    from orchestratia.agent.ws import deflate
    from orchestratia.protocol.frames import FEATURE_OUTPUT_FRAMES, encode_output_frame

    chunk = max(64, int(rate * interval))
    async with httpx.AsyncClient(base_url=hub + "/api/v1/agents", headers={"X-API-Key": key}, timeout=60) as c:
        for tid in tasks:
            (await c.post(f"/tasks/{tid}/start", json={})).raise_for_status()
    ws_url = hub.replace("http://", "ws://") + "/ws/agent"
    # as our daemon connects and speaks: deflate at level 1, output as binary frames
    async with websockets.connect(ws_url, additional_headers={"X-API-Key": key}, max_size=2**22,
                                  extensions=[deflate()]) as ws:
        await ws.recv()
        await ws.send(json.dumps({"type": "hello", "features": ["offsets", "push", FEATURE_OUTPUT_FRAMES],
                                  "tasks": [{"task_id": t, "log_size": 0} for t in tasks]}))
        while (resume := json.loads(await ws.recv())).get("type") != "resume":
            pass
        if FEATURE_OUTPUT_FRAMES not in (resume.get("features") or []):
            raise RuntimeError("the hub did not take output_frames: this benchmark measures our daemon's way")
        offsets = dict.fromkeys(tasks, 0)

        async def acks() -> None:
            async for raw in ws:
                m = json.loads(raw)
                if m.get("type") == "ack":
                    out["acked"][m["task_id"]] = max(out["acked"].get(m["task_id"], 0), m["next_offset"])
                    out["ack_log"].append((time.time(), m["task_id"], m["next_offset"]))

        reader = asyncio.create_task(acks())
        # each agent at its own phase, as independent daemons are (fleet_sim.py does the same):
        # started together, all 50 sent their 500 chunks in the same instant every 200 ms
        await asyncio.sleep(random.uniform(0, interval))
        start = time.monotonic()
        n = 0
        while time.monotonic() - start < seconds:
            for tid in tasks:
                head = f"TS {time.time():.6f}\n".encode()
                body = head + FILLER * ((chunk - len(head)) // len(FILLER) + 1)
                body = body[:chunk - 1] + b"\n"
                await ws.send(encode_output_frame(tid, body, offsets[tid]))
                offsets[tid] += len(body)
                out["sent"] += len(body)
            n += 1
            await asyncio.sleep(max(0.0, start + n * interval - time.monotonic()))
        await asyncio.sleep(3)  # the last acks
        reader.cancel()


async def agents_main(spec_path: str) -> None:
    spec = json.loads(Path(spec_path).read_text())
    out = {"sent": 0, "acked": {}, "ack_log": []}
    await asyncio.gather(*(agent_loop(a["hub"], a["key"], a["tasks"], spec["rate"], spec["interval"],
                                      spec["seconds"], out) for a in spec["agents"]))
    Path(spec["out"]).write_text(json.dumps(out))


# --------------------------------------------------------------------------- the benchmark


async def viewer(url: str, token: str, lat: list[float], stop: asyncio.Event) -> None:
    async with httpx.AsyncClient(timeout=httpx.Timeout(10, read=None)) as c:
        async with c.stream("GET", url, headers={"Authorization": f"Bearer {token}",
                                                  "Accept": "text/event-stream"}) as r:
            async for line in r.aiter_lines():
                if stop.is_set():
                    return
                if line.startswith("data: ") and "TS " in line:
                    now = time.time()
                    text = json.loads(line[6:]).get("text", "")
                    for part in text.split("\n"):
                        if part.startswith("TS "):
                            with_ts = part.split()
                            if len(with_ts) == 2:
                                lat.append((now - float(with_ts[1])) * 1000)


def create_tasks(hub_url: str, token: str, names: list[str], per_agent: int) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    with httpx.Client(base_url=hub_url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as c:
        for name in names:
            for _ in range(per_agent):
                r = c.post("/api/admin/tasks", json={"title": "many", "spec": "true", "agent": name, "runner": "shell",
                                                     "timeout_minutes": 30})
                r.raise_for_status()
                out.setdefault(name, []).append(r.json()["id"])
    return out


def run_config(name: str, work: Path, agents: int, per_agent: int, viewers: int, rate: int, seconds: float,
               profile: bool = False) -> dict:
    hubs, url, schema = start_hubs(name, work)
    try:
        keys = asyncio.run(insert_agents(url, schema, agents, max_tasks=per_agent))
        names = [f"fleet-{i:05d}" for i in range(agents)]
        tasks = create_tasks(hubs[0].url, hubs[0].token, names, per_agent)
        spec = {"rate": rate, "interval": 0.2, "seconds": seconds, "out": str(work / f"{name}-agents.json"),
                "agents": [{"hub": hubs[i % len(hubs)].url, "key": keys[i], "tasks": tasks[n]}
                           for i, n in enumerate(names)]}
        (work / f"{name}-spec.json").write_text(json.dumps(spec))
        all_tasks = [t for n in names for t in tasks[n]]
        lat: list[float] = []
        cpu = CpuSampler([psutil.Process(h.pid) for h in hubs]).start()

        async def watch_and_stream() -> subprocess.CompletedProcess:
            stop = asyncio.Event()
            views = [asyncio.create_task(viewer(f"{hubs[i % len(hubs)].url}/api/admin/tasks/{all_tasks[i * len(all_tasks) // viewers]}/stream",
                                                hubs[0].token, lat, stop)) for i in range(viewers)]
            await asyncio.sleep(2)
            proc = await asyncio.create_subprocess_exec(
                PYTHON, "-m", "benchmarks.bench_many", "agents", str(work / f"{name}-spec.json"), cwd=ROOT,
                env={**os.environ, "PYTHONPATH": str(ROOT)})
            samplers.append(CpuSampler([psutil.Process(proc.pid)]).start())
            await proc.wait()
            samplers[-1].stop()
            stop.set()
            for v in views:
                v.cancel()
            await asyncio.gather(*views, return_exceptions=True)
            return proc.returncode

        samplers: list[CpuSampler] = []
        me = psutil.Process()
        me_cpu0 = me.cpu_times()
        t0 = time.time()
        with Profiler(hubs[0].pid, f"many-{name}-hub", profile) as prof:
            rc = asyncio.run(watch_and_stream())
        me_cpu1 = me.cpu_times()
        cpu.stop()
        if rc:
            raise RuntimeError(f"the agents' process exited with {rc}")
        out = json.loads(Path(spec["out"]).read_text())
        log = sorted(out["ack_log"])
        # stored rate: acknowledged bytes over the streaming window (first to last ack)
        acked = sum(out["acked"].values())
        span = log[-1][0] - log[0][0] if len(log) > 1 else float("nan")
        return {"config": name, "replicas": len(hubs), "tasks": len(all_tasks), "viewers": viewers,
                "offered_mb_s": len(all_tasks) * rate / 1e6, "sent_bytes": out["sent"], "acked_bytes": acked,
                "stored_mb_s": acked / span / 1e6 if span else float("nan"), "lost_bytes": out["sent"] - acked,
                "latency_ms": summary(lat), "hub_cpu_percent": cpu.percent(t0, time.time()),
                "profile": prof.report(),
                "agents_cpu_percent": samplers[0].percent(t0, time.time()) if samplers else float("nan"),
                "viewers_cpu_percent": 100 * (me_cpu1.user + me_cpu1.system - me_cpu0.user - me_cpu0.system)
                / (time.time() - t0)}
    finally:
        for h in hubs:
            h.stop()
        if schema:
            asyncio.run(drop_schema(schema))


def run(quick: bool = False, profile: bool = False, configs: list[str] | None = None) -> dict:
    agents, per_agent, viewers, seconds = (10, 5, 10, 10) if quick else (50, 10, 50, 30)
    rate = 20 * 1024  # 20 KiB/s: 500 tasks offer 10.24 MB/s
    configs = configs or ["sqlite", "pg2"]
    load_before = os.getloadavg()
    results = []
    with workdir("many") as work:
        for name in configs:
            print(f"  config {name} ...", flush=True)
            results.append(run_config(name, work, agents, per_agent, viewers, rate, seconds, profile))
    load_after = os.getloadavg()
    rows = [[r["config"], r["tasks"], r["viewers"], r["offered_mb_s"], r["stored_mb_s"], r["lost_bytes"],
             r["latency_ms"]["n"], r["latency_ms"]["p50"], r["latency_ms"]["p99"], r["latency_ms"]["max"],
             f"{r['hub_cpu_percent']:.0f}", f"{r['agents_cpu_percent']:.0f}", f"{r['viewers_cpu_percent']:.0f}"]
            for r in results]
    text = table(f"many tasks at once ({seconds} s, 20 KiB/s each, chunk every 200 ms; load {load_before[0]:.1f} -> "
                 f"{load_after[0]:.1f})", ["config", "tasks", "viewers", "offered MB/s", "stored MB/s", "unacked B",
                                           "lines seen", "p50 ms", "p99 ms", "max ms", "hub cpu% (sum)",
                                           "agents cpu%", "viewers cpu%"], rows)
    targets = {f"{r['config']}_ge_10MBps_p99_le_100ms": r["stored_mb_s"] >= 10 and r["latency_ms"]["p99"] <= 100
               for r in results}
    text += "\ntargets: " + ", ".join(f"{k}={'MET' if v else 'NOT MET'}" for k, v in targets.items())
    text += "".join(r.pop("profile") for r in results)
    result = {"configs": results, "targets": targets, "load_before": load_before, "load_after": load_after,
              "quick": quick, "seconds": seconds}
    result["file"] = str(write_result("many", result))
    print(text, flush=True)
    return result


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "agents":
        try:
            import uvloop
        except ImportError:
            asyncio.run(agents_main(sys.argv[2]))
        else:
            uvloop.run(agents_main(sys.argv[2]))
