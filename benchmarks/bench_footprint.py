"""Daemon footprint: RSS and CPU of the real daemon (``orchestratia agent run``) idle for 60 s and
while one task streams output, next to two baselines measured in the same run: a bare Python
interpreter and one that has imported the daemon's dependencies (httpx, websockets, pydantic,
PyYAML, psutil)."""

from __future__ import annotations

import subprocess
import time

import httpx
import psutil

from .bench_output import create_task, python_spec, wait_final
from .common import PYTHON, Daemon, Hub, Profiler, ratio, table, workdir, write_result

STREAM_PROGRAM = """
import sys, time
end = time.time() + {seconds}
i = 0
while time.time() < end:
    sys.stdout.write("%08d streaming a steady line of output for the footprint benchmark ....\\n" % i)
    i += 1
    if i % 100 == 0:
        sys.stdout.flush(); time.sleep(0.01)
sys.stdout.flush()
"""


def sample(pid: int, seconds: float, every: float = 1.0) -> dict:
    """RSS (max and mean) and CPU (% of one core) of a process tree rooted at ``pid``."""
    proc = psutil.Process(pid)

    def tree() -> list[psutil.Process]:
        procs = [proc]
        try:
            procs += proc.children(recursive=True)
        except psutil.Error:
            pass
        return procs

    def cpu_total() -> float:
        total = 0.0
        for p in tree():
            try:
                t = p.cpu_times()
                total += t.user + t.system
            except psutil.Error:
                pass
        return total

    rss = []
    c0, t0 = cpu_total(), time.monotonic()
    while time.monotonic() - t0 < seconds:
        time.sleep(every)
        rss.append(sum(p.memory_info().rss for p in [proc]) / 2**20)
    c1, t1 = cpu_total(), time.monotonic()
    return {"rss_mb_max": max(rss), "rss_mb_mean": sum(rss) / len(rss), "cpu_percent": 100 * (c1 - c0) / (t1 - t0),
            "seconds": t1 - t0, "children": len(tree()) - 1}


def baseline(code: str, seconds: float = 3) -> dict:
    p = subprocess.Popen([PYTHON, "-c", code + "\nimport time\ntime.sleep(600)"])
    try:
        time.sleep(2.5)  # let imports finish
        return sample(p.pid, seconds)
    finally:
        p.kill()
        p.wait()


def run(quick: bool = False, profile: bool = False) -> dict:
    idle_s = 10 if quick else 60
    stream_s = 8 if quick else 30
    base_bare = baseline("pass")
    base_deps = baseline("import httpx, websockets, pydantic, yaml, psutil, asyncio")
    with workdir("footprint") as work:
        hub = Hub(work).start()
        daemon = None
        try:
            daemon = Daemon(work, hub, name="footprint-daemon").start()
            time.sleep(3)  # past start-up
            idle = sample(daemon.pid, idle_s)
            with hub.admin() as client:
                spec = python_spec(STREAM_PROGRAM.format(seconds=stream_s), work, "stream")
                tid = create_task(client, daemon.name, spec, "footprint stream")
                time.sleep(1)
                with Profiler(daemon.pid, "footprint-daemon-streaming", profile) as prof:
                    streaming = sample(daemon.pid, stream_s - 2)
                task = wait_final(client, tid, 120)
                streaming["bytes_streamed"] = task.get("output_size")
                streaming["mb_per_s"] = (task.get("output_size") or 0) / stream_s / 1e6
        finally:
            if daemon:
                daemon.stop()
            hub.stop()
    rows = [["bare python (baseline)", base_bare["rss_mb_max"], base_bare["cpu_percent"]],
            ["python + daemon deps (baseline)", base_deps["rss_mb_max"], base_deps["cpu_percent"]],
            [f"daemon idle, {idle['seconds']:.0f} s", idle["rss_mb_max"], idle["cpu_percent"]],
            [f"daemon streaming {streaming['mb_per_s']:.2f} MB/s", streaming["rss_mb_max"], streaming["cpu_percent"]]]
    ratios = {"idle_rss_over_deps_baseline": ratio(idle["rss_mb_max"], base_deps["rss_mb_max"]),
              "streaming_rss_over_idle": ratio(streaming["rss_mb_max"], idle["rss_mb_max"])}
    targets = {"idle_rss_le_60MB": idle["rss_mb_max"] <= 60, "idle_cpu_le_0.5pct": idle["cpu_percent"] <= 0.5}
    text = table("daemon footprint (RSS of the daemon process; CPU % of one core)", ["what", "RSS MB", "CPU %"], rows)
    text += "\n" + "  ".join(f"{k}={v:.2f}" for k, v in ratios.items())
    text += "\ntargets: " + ", ".join(f"{k}={'MET' if v else 'NOT MET'}" for k, v in targets.items())
    text += prof.report()
    result = {"baseline_bare": base_bare, "baseline_deps": base_deps, "idle": idle, "streaming": streaming,
              "ratios": ratios, "targets": targets, "quick": quick, "profile_top": prof.top}
    result["file"] = str(write_result("footprint", result))
    print(text, flush=True)
    return result
