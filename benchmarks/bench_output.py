"""Output: latency from a line written by the running program to its delivery on a live SSE
subscriber of ``/api/admin/tasks/{id}/stream``, and the throughput of one task printing as fast as
it can (MB/s stored by the hub, byte-exact against the program's output and the agent's log)."""

from __future__ import annotations

import hashlib
import os
import shlex
import time
from math import nan
from pathlib import Path

import httpx
import psutil

from .common import (PYTHON, RESULTS, Daemon, Hub, Profiler, ratio, summary, table, wait_until, workdir,
                     write_result)
from .sse import Event, SseReader

# The program under test: N lines, each carrying the wall-clock time it was written at.
LATENCY_PROGRAM = """
import sys, time
for i in range({n}):
    sys.stdout.write("LAT %d %.6f\\n" % (i, time.time()))
    sys.stdout.flush()
    time.sleep({gap})
"""

# Deterministic bytes, as fast as it can: numbered lines with some multi-byte UTF-8.
# Deterministic bytes (numbered lines with multi-byte UTF-8), built before the clock starts,
# then written as fast as the pipe takes them, in 64 KiB writes that cut characters anywhere.
THROUGHPUT_PROGRAM = """
import sys, time
total = {total}
parts, size, i = [], 0, 0
while size < total:
    b = ("%09d the quick brown fox — jumps over the lazy dog ✓ 0123456789abcdef\\n" % i).encode()
    parts.append(b); size += len(b); i += 1
data = memoryview(b"".join(parts)[:total])
out = sys.stdout.buffer
t_wall, t0 = time.time(), time.perf_counter()
for pos in range(0, total, 65536):
    out.write(data[pos:pos + 65536])
out.flush()
open({marker!r}, "w").write("%.6f %.6f" % (time.perf_counter() - t0, t_wall))
"""


def expected_bytes(total: int) -> bytes:
    out, i, size = [], 0, 0
    while size < total:
        b = ("%09d the quick brown fox — jumps over the lazy dog ✓ 0123456789abcdef\n" % i).encode()
        out.append(b)
        size += len(b)
        i += 1
    return b"".join(out)[:total]


def python_spec(program: str, work: Path, name: str) -> str:
    path = work / f"{name}.py"
    path.write_text(program)
    return f"exec {shlex.quote(PYTHON)} -u {shlex.quote(str(path))}"


def create_task(client: httpx.Client, agent: str, spec: str, title: str) -> str:
    r = client.post("/api/admin/tasks", json={"title": title, "spec": spec, "agent": agent, "runner": "shell",
                                              "timeout_minutes": 10})
    if r.status_code != 201:
        raise RuntimeError(f"POST /api/admin/tasks -> {r.status_code} {r.text[:300]}")
    return r.json()["id"]


def wait_final(client: httpx.Client, tid: str, timeout: float) -> dict:
    return wait_until(lambda: (t := client.get(f"/api/admin/tasks/{tid}").json())["status"] in
                      ("completed", "failed", "cancelled", "timed_out", "lost") and t, timeout, 0.1, f"task {tid} final")


def measure_latency(hub: Hub, daemon: Daemon, work: Path, lines: int, gap: float) -> dict:
    lat: list[float] = []
    partial = {"buf": ""}
    ends: list[Event] = []

    def on(ev: Event) -> None:
        if ev.event == "end":
            ends.append(ev)
        if ev.event != "output" or not isinstance(ev.data, dict):
            return
        text = partial["buf"] + ev.data.get("text", "")
        *complete, partial["buf"] = text.split("\n")
        for line in complete:
            parts = line.split()
            if len(parts) == 3 and parts[0] == "LAT":
                lat.append((ev.wall - float(parts[2])) * 1000)

    with hub.admin() as client:
        spec = python_spec(LATENCY_PROGRAM.format(n=lines, gap=gap), work, "latency")
        tid = create_task(client, daemon.name, spec, "output latency")
        reader = SseReader(f"{hub.url}/api/admin/tasks/{tid}/stream", {"Authorization": f"Bearer {hub.token}"},
                           on_event=on).start()
        try:
            task = wait_final(client, tid, 60 + lines * gap * 3)
            wait_until(lambda: len(lat) >= lines or ends, 15, 0.05, "all lines on the stream")
        finally:
            reader.stop()
    # baseline measured in the same run: one loopback HTTP round trip to the same hub
    rtt = []
    with httpx.Client() as c:
        for _ in range(50):
            t0 = time.perf_counter()
            c.get(hub.url + "/health")
            rtt.append((time.perf_counter() - t0) * 1000)
    return {"latency_ms": summary(lat), "lines_expected": lines, "lines_seen": len(lat), "gap_s": gap,
            "status": task["status"], "health_rtt_ms": summary(rtt)}


def measure_throughput(hub: Hub, daemon: Daemon, work: Path, total: int, profile: bool) -> dict:
    marker = work / f"throughput-{daemon.name}.elapsed"
    spec = python_spec(THROUGHPUT_PROGRAM.format(total=total, marker=str(marker)), work, "throughput")
    with hub.admin() as client, Profiler(hub.pid, f"{daemon.name}-hub", profile) as ph, \
            Profiler(daemon.pid, daemon.name, profile) as pd:
        tid = create_task(client, daemon.name, spec, "output throughput")
        t_running = wait_until(lambda: client.get(f"/api/admin/tasks/{tid}").json()["status"] != "assigned"
                               and time.monotonic(), 60, 0.01, "task running")
        sizes: list[tuple[float, int]] = []
        cpu0 = _cpu(hub.pid), _cpu(daemon.pid)

        def stored() -> bool:
            t = client.get(f"/api/admin/tasks/{tid}").json()
            now, size = time.monotonic(), t.get("output_size") or 0
            if sizes and size == sizes[-1][1] and now - sizes[-1][0] > 20:
                raise RuntimeError(f"output stalled at {size} of {total} bytes for 20 s (task {t['status']}); "
                                   f"daemon log: {daemon.log_path}")
            if not sizes or size != sizes[-1][1]:
                sizes.append((now, size))
            return size >= total

        wait_until(stored, 60 + total / 2e6, 0.05, f"{total} bytes stored")
        t_stored, t_stored_wall = time.monotonic(), time.time()
        cpu1 = _cpu(hub.pid), _cpu(daemon.pid)
        task = wait_final(client, tid, 120)
    program_s, first_write = (float(v) for v in marker.read_text().split()) if marker.exists() else (nan, nan)
    # from the program's first write to the hub holding the last byte: the ingest time. Counted
    # from the task's start instead (``mb_per_s_from_start``), it also counted ~1 s of the program
    # building its 100 MB in memory before writing a byte (stop 10's figures were that one)
    hub_s = t_stored_wall - first_write
    from_start_s = t_stored - t_running
    # byte-exact: the hub's stored output vs what the program wrote vs the agent's log file.
    # The hub answers at most MAX_OUTPUT_RESPONSE per call: page on with X-Next-Offset.
    h_hub = hashlib.sha256()
    got = 0
    with httpx.Client(base_url=hub.url, headers={"Authorization": f"Bearer {hub.token}"}, timeout=120) as c:
        while got < total:
            r = c.get(f"/api/admin/tasks/{tid}/output", params={"offset": got})
            r.raise_for_status()
            if not r.content:
                break
            h_hub.update(r.content)
            got += len(r.content)
            assert int(r.headers["X-Next-Offset"]) == got, (r.headers["X-Next-Offset"], got)
    want = hashlib.sha256(expected_bytes(total)).hexdigest()
    logs = list(daemon.log_dir.glob(f"*{tid}*"))
    log_hash = hashlib.sha256(logs[0].read_bytes()).hexdigest() if logs else None
    return {
        "bytes": total, "stored_bytes": got, "seconds_to_store": hub_s, "program_seconds": program_s,
        "mb_per_s_stored": total / hub_s / 1e6, "mb_per_s_from_start": total / from_start_s / 1e6,
        "mb_per_s_program": total / program_s / 1e6 if program_s else None,
        "byte_exact_vs_program": h_hub.hexdigest() == want, "byte_exact_vs_log": h_hub.hexdigest() == log_hash,
        "log_file": str(logs[0]) if logs else None, "status": task["status"],
        # CPU seconds (user + system) of each process while the bytes were stored, per MB stored
        "hub_cpu_ms_per_mb": (cpu1[0] - cpu0[0]) * 1000 / (total / 1e6),
        "daemon_cpu_ms_per_mb": (cpu1[1] - cpu0[1]) * 1000 / (total / 1e6),
        "profiles": [ph.report(), pd.report()], "profile_top": {"hub": ph.top, "daemon": pd.top},
    }


def _cpu(pid: int) -> float:
    t = psutil.Process(pid).cpu_times()
    return t.user + t.system


def throughput_table(thr: dict, thr_direct: dict) -> str:
    rows = [[what, *(t[key] for t in (thr, thr_direct))] for what, key in (
        ("bytes", "bytes"), ("stored MB/s (first write -> last byte stored)", "mb_per_s_stored"),
        ("stored MB/s from the task's start", "mb_per_s_from_start"),
        ("hub CPU ms per MB stored", "hub_cpu_ms_per_mb"), ("daemon CPU ms per MB stored", "daemon_cpu_ms_per_mb"),
        ("byte-exact vs program", "byte_exact_vs_program"), ("byte-exact vs agent log", "byte_exact_vs_log"))]
    rows.insert(5, ["program's own write MB/s", *(t["mb_per_s_program"] or float("nan") for t in (thr, thr_direct))])
    rows.append(["bytes lost", *(t["bytes"] - t["stored_bytes"] for t in (thr, thr_direct))])
    return table("output throughput (one task, as fast as it can)", ["what", "screen (default)", "direct"], rows)


def run(quick: bool = False, profile: bool = False) -> dict:
    lines, gap = (100, 0.02) if quick else (500, 0.02)
    total = (10 if quick else 100) * 1_000_000
    with workdir("output") as work:
        hub = Hub(work)
        if os.environ.get("BENCH_PYINSTRUMENT"):  # not with py-spy: one profiler at a time
            RESULTS.mkdir(parents=True, exist_ok=True)
            hub.pyinstrument_out = RESULTS / "pyinstrument-output-hub.txt"
            profile = False
        hub.start()
        daemons: list[Daemon] = []
        try:
            # a generous report_ack_timeout: before 2026-12-06 the daemon reported 10 s after the
            # task's end even while acks still came, and dropped the rest of the log (on a busy
            # machine every run stalled); with it, the tree before that fix can still be measured
            patient = {"report_ack_timeout": 300}
            daemon = Daemon(work, hub, name="output-screen", extra=patient)
            daemons.append(daemon)
            daemon.start()
            lat = measure_latency(hub, daemon, work, lines, gap)
            thr = measure_throughput(hub, daemon, work, total, profile)
            daemon.stop()
            # the same with the `direct` session backend: no terminal to feed (screen renders
            # every byte the task prints, and the launcher waits for it)
            direct = Daemon(work, hub, name="output-direct", backend="direct", extra=patient)
            daemons.append(direct)
            direct.start()
            thr_direct = measure_throughput(hub, direct, work, total, profile)
        finally:
            for d in daemons:
                d.stop()
            hub.stop()
    L = lat["latency_ms"]
    rows = [["line -> SSE subscriber (ms)", L["n"], L["p50"], L["p90"], L["p99"], L["max"]],
            ["baseline: GET /health RTT (ms)", lat["health_rtt_ms"]["n"], lat["health_rtt_ms"]["p50"],
             lat["health_rtt_ms"]["p90"], lat["health_rtt_ms"]["p99"], lat["health_rtt_ms"]["max"]]]
    text = table("output latency", ["what", "n", "p50", "p90", "p99", "max"], rows)
    text += throughput_table(thr, thr_direct)
    ratios = {"latency_p50_over_http_rtt_p50": ratio(L["p50"], lat["health_rtt_ms"]["p50"]),
              "stored_rate_over_program_rate": ratio(thr["mb_per_s_stored"], thr["mb_per_s_program"] or 0),
              "direct_over_screen_stored_rate": ratio(thr_direct["mb_per_s_stored"], thr["mb_per_s_stored"])}
    targets = {"latency_p99_le_100ms": L["p99"] <= 100 and lat["lines_seen"] == lines,
               "throughput_ge_50MBps": thr["mb_per_s_stored"] >= 50,  # #12 (stop 6: 20)
               "zero_bytes_lost": all(t["byte_exact_vs_program"] and t["byte_exact_vs_log"] for t in (thr, thr_direct))}
    text += "\n" + "  ".join(f"{k}={v:.2f}" for k, v in ratios.items())
    text += "\ntargets: " + ", ".join(f"{k}={'MET' if v else 'NOT MET'}" for k, v in targets.items())
    for p in thr.pop("profiles") + thr_direct.pop("profiles"):
        text += p
    result = {"latency": lat, "throughput": thr, "throughput_direct": thr_direct, "ratios": ratios,
              "targets": targets, "quick": quick}
    result["file"] = str(write_result("output", result))
    print(text, flush=True)
    return result
