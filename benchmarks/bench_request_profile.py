"""Hub CPU per heartbeat (psutil, min and median of ROUNDS x N) and a cProfile window around N
more heartbeats inside the hub (call counts per request do not depend on the machine's load).

    .venv/bin/python -m benchmarks.bench_request_profile LABEL [N] [ROUNDS]

writes benchmarks/results/request-profile-LABEL.prof. To compare two trees, run it in each
(another tree: ``PYTHONPATH=<tree>/src`` with this venv) and then
``.venv/bin/python -m benchmarks.bench_request_profile --compare A.prof B.prof N``.
"""

from __future__ import annotations

import asyncio
import os
import pstats
import signal
import sys
import time

import httpx
import psutil

from .bench_fleet import register_many
from .common import RESULTS, ROOT, Hub, workdir
from .fleet_sim import HEARTBEAT_BODY


def measure(label: str, n: int, rounds: int) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"request-profile-{label}.prof"
    env = {"PROF_OUT": str(out),
           "PYTHONPATH": os.pathsep.join(p for p in (os.environ.get("PYTHONPATH"), str(ROOT / "benchmarks" / "profwindow")) if p)}
    with workdir("reqprof") as work:
        hub = Hub(work, extra_env=env).start()
        try:
            keys, _ = asyncio.run(register_many(hub, 1))
            proc = psutil.Process(hub.pid)
            headers = {"X-API-Key": keys[0], "Content-Type": "application/json"}
            with httpx.Client(base_url=hub.url, headers=headers) as c:
                def call() -> None:
                    c.post("/api/v1/agents/heartbeat", content=HEARTBEAT_BODY).raise_for_status()

                for _ in range(300):
                    call()
                res = []
                for _ in range(rounds):
                    t = proc.cpu_times()
                    c0 = t.user + t.system
                    for _ in range(n):
                        call()
                    t = proc.cpu_times()
                    res.append((t.user + t.system - c0) / n * 1000)
                os.kill(hub.pid, signal.SIGUSR1)
                time.sleep(0.3)
                for _ in range(n):
                    call()
                os.kill(hub.pid, signal.SIGUSR2)
                time.sleep(1.0)
            res.sort()
            print(f"{label}: hub CPU ms per heartbeat min {res[0]:.3f} median {res[len(res) // 2]:.3f}; profile {out}")
        finally:
            hub.stop()


def compare(a: str, b: str, n: int, top: int = 30) -> None:
    def load(path: str) -> tuple[int, dict[str, int]]:
        st = pstats.Stats(path)
        calls = {f"{fn} ({'/'.join(f.split('/')[-2:])})": v[1] for (f, _l, fn), v in st.stats.items()}  # type: ignore[attr-defined]
        return st.total_calls, calls  # type: ignore[attr-defined]

    (ta, ca), (tb, cb) = load(a), load(b)
    print(f"Python calls per request: A {ta / n:.0f}, B {tb / n:.0f}")
    keys = sorted(set(ca) | set(cb), key=lambda k: -abs(cb.get(k, 0) - ca.get(k, 0)))
    for k in keys[:top]:
        print(f"  A {ca.get(k, 0) / n:7.2f}  B {cb.get(k, 0) / n:7.2f}  {k[:110]}")


if __name__ == "__main__":
    if sys.argv[1] == "--compare":
        compare(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        measure(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 1000, int(sys.argv[3]) if len(sys.argv) > 3 else 5)
