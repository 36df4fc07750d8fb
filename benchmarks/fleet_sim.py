"""A fleet of simulated agents in ONE process, separate from the hub's.

Each agent speaks the protocol like our daemon: a WebSocket authenticated with ``X-API-Key``,
``hello`` (features offsets + push), then every ``--heartbeat`` seconds ``POST /heartbeat``
and every ``--poll`` seconds ``GET /tasks/poll`` (the fallback poll: 60 s is what our daemon does
while its WebSocket is up, 10 s what the deployed v1 daemons do), each at a random phase.
HTTP requests go over a pool of raw keep-alive HTTP/1.1 connections (a full HTTP client per
request would make this process, not the hub, the bottleneck on 2 cores).

Agents are added in steps (``--steps 1000,2000,5000``): a step connects its new agents, waits
for the phases to settle, measures for ``--step-seconds``, then prints one JSON line with the
latencies seen in that window. Earlier agents keep running, so step N measures N live agents.

Several replicas: ``--hub URL1,URL2``; agent i talks to replica i mod N (HTTP and WebSocket), as
a load balancer with source affinity would spread them.

Usage: python -m benchmarks.fleet_sim --hub http://127.0.0.1:PORT --keys keys.txt --steps ...
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import random
import sys
import time

import websockets

HEARTBEAT_BODY = json.dumps(
    {
        "system_info": {
            "cpu_count": 8, "cpu_percent": 3.5, "memory_total_gb": 31.2, "memory_used_gb": 9.1,
            "memory_percent": 29.0, "disk_total_gb": 500.0, "disk_used_gb": 120.0, "disk_percent": 24.0,
            "platform": "Linux", "platform_release": "6.1.0", "python_version": "3.11.7",
            "uptime_seconds": 12345,
        },
        "active_tasks": [],
        "agent_version": "fleet-sim",
    }
).encode()


class HttpPool:
    """Raw HTTP/1.1 keep-alive connections to one host; one request at a time per connection."""

    def __init__(self, host: str, port: int, size: int):
        self.host, self.port = host, port
        self.free: asyncio.Queue = asyncio.Queue()
        for _ in range(size):
            self.free.put_nowait(None)  # lazily connected
        self.errors = 0

    async def _connect(self):
        return await asyncio.open_connection(self.host, self.port)

    async def request(self, method: str, path: str, key: str, body: bytes = b"") -> int:
        conn = await self.free.get()
        try:
            for attempt in (1, 2):
                if conn is None:
                    conn = await self._connect()
                reader, writer = conn
                head = (
                    f"{method} {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\nX-API-Key: {key}\r\n"
                    f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
                ).encode()
                try:
                    writer.write(head + body)
                    status, close = await _read_response(reader)
                except (ConnectionError, asyncio.IncompleteReadError, OSError):
                    writer.close()
                    conn = None
                    if attempt == 2:
                        raise
                    continue
                if close:
                    writer.close()
                    conn = None
                return status
            raise ConnectionError("unreachable")
        finally:
            self.free.put_nowait(conn)


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    if "content-length" in headers:
        await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip().split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    return status, headers.get("connection", "").lower() == "close"


class Stats:
    def __init__(self) -> None:
        self.heartbeat: list[tuple[float, float]] = []  # (time, latency s)
        self.poll: list[tuple[float, float]] = []
        self.errors: dict[str, int] = {}
        self.ws_drops = 0
        self.ws_connect: list[float] = []
        self.pushes = 0
        self.stalls: list[tuple[float, float]] = []  # (time, s late): this process's own loop


async def watch_own_loop(stats: Stats, stop: asyncio.Event, tick: float = 0.01, late: float = 0.05) -> None:
    """Note every moment this process's event loop ran more than ``late`` behind: its requests
    went out late then, and a clump of them later is the simulator's, not the hub's."""
    while not stop.is_set():
        t0 = time.monotonic()
        await asyncio.sleep(tick)
        if (lag := time.monotonic() - t0 - tick) > late:
            stats.stalls.append((t0, lag))

    def error(self, what: str) -> None:
        self.errors[what] = self.errors.get(what, 0) + 1


async def agent(idx: int, key: str, args, pools: list[HttpPool], stats: Stats, stop: asyncio.Event) -> None:
    pool, ws_url = pools[idx % len(pools)], args.ws[idx % len(pools)]
    tasks = [asyncio.create_task(ws_loop(key, ws_url, args, stats, stop))]
    tasks.append(asyncio.create_task(periodic(
        args.heartbeat, lambda: pool.request("POST", "/api/v1/agents/heartbeat", key, HEARTBEAT_BODY),
        stats.heartbeat, "heartbeat", stats, stop)))
    if args.poll > 0:
        tasks.append(asyncio.create_task(periodic(
            args.poll, lambda: pool.request("GET", "/api/v1/agents/tasks/poll", key), stats.poll, "poll", stats, stop)))
    await stop.wait()
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def periodic(interval: float, call, sink: list, what: str, stats: Stats, stop: asyncio.Event) -> None:
    # the schedule is counted from the phase drawn, not from when the first sleep ended: a stall
    # of this process (its own collection between steps, 2.3 s at 10,000 agents) once woke every
    # agent whose phase fell inside it at the same moment, and those agents then sent together
    # every interval for the rest of the run (a clump of 1,000-1,600 requests in one second,
    # every 30 s: the 10,000-agent replica runs' p99 of 114-205 ms; each real daemon keeps its own clock)
    next_at = time.monotonic() + random.uniform(0, interval)
    await asyncio.sleep(max(0.0, next_at - time.monotonic()))
    while not stop.is_set():
        t0 = time.monotonic()
        try:
            status = await call()
            if status != 200:
                stats.error(f"{what} {status}")
            else:
                sink.append((t0, time.monotonic() - t0))
        except Exception as exc:  # noqa: BLE001 - counted, the fleet goes on
            stats.error(f"{what} {type(exc).__name__}")
        next_at += interval
        await asyncio.sleep(max(0.0, next_at - time.monotonic()))


async def ws_loop(key: str, ws_url: str, args, stats: Stats, stop: asyncio.Event) -> None:
    backoff = 1.0
    while not stop.is_set():
        t0 = time.monotonic()
        try:
            async with websockets.connect(
                ws_url, additional_headers={"X-API-Key": key}, open_timeout=30, ping_interval=20,
                ping_timeout=60, max_size=2**20,
            ) as ws:
                first = json.loads(await asyncio.wait_for(ws.recv(), 30))
                if first.get("type") != "auth_ok":
                    stats.error(f"ws auth {first.get('type')}")
                    return
                await ws.send(json.dumps({"type": "hello", "agent_version": "fleet-sim",
                                          "features": ["offsets", "push"], "tasks": []}))
                stats.ws_connect.append(time.monotonic() - t0)
                backoff = 1.0
                async for raw in ws:
                    msg = json.loads(raw)
                    if msg.get("type") == "task_assigned":
                        stats.pushes += 1
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001
            stats.error(f"ws {type(exc).__name__}")
        if stop.is_set():
            return
        stats.ws_drops += 1
        await asyncio.sleep(backoff * random.uniform(0.5, 1.5))
        backoff = min(backoff * 2, 30)


def window(values: list[tuple[float, float]], since: float) -> list[float]:
    return [lat for t, lat in values if t >= since]


async def drained(stats: Stats, t_connect: float, timeout: float) -> float | None:
    """Seconds from the step's first connect until the backlog of its connect storm is gone:
    every heartbeat and poll that completed in the last 3 s took under 100 ms (None: not within
    ``timeout``)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        await asyncio.sleep(1)
        now = time.monotonic()
        recent = [lat for t, lat in (*stats.heartbeat[-2000:], *stats.poll[-1000:]) if t + lat >= now - 3]
        if recent and max(recent) < 0.1:
            return round(now - t_connect, 1)
    return None


def timeline(values: list[tuple[float, float]], since: float) -> list[list[int]]:
    per: dict[int, list[float]] = {}
    for t, lat in values:
        if t >= since:
            per.setdefault(int(t - since), []).append(lat)
    return [[s, len(v), round(max(v) * 1000)] for s, v in sorted(per.items())]


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))]


async def connect(n: int, running: list, keys: list[str], args, pools: list[HttpPool], stats: Stats,
                  stop: asyncio.Event) -> None:
    """Start agents (``running`` holds the loop watcher first) up to ``n``, at ``connect_rate``;
    return once every WebSocket of the step is up (or after 120 s)."""
    while len(running) - 1 < n:
        i = len(running) - 1
        running.append(asyncio.create_task(agent(i, keys[i], args, pools, stats, stop)))
        if i % 50 == 49:
            await asyncio.sleep(50 / args.connect_rate)
    deadline = time.monotonic() + 120
    while len(stats.ws_connect) < n and time.monotonic() < deadline:
        await asyncio.sleep(0.2)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hub", required=True)
    parser.add_argument("--keys", required=True, help="file with one API key per line")
    parser.add_argument("--steps", default="1000")
    parser.add_argument("--step-seconds", type=float, default=90)
    parser.add_argument("--settle", type=float, default=10)
    parser.add_argument("--heartbeat", type=float, default=30)
    parser.add_argument("--poll", type=float, default=60)
    parser.add_argument("--pool", type=int, default=200)
    parser.add_argument("--drain-timeout", type=float, default=180,
                        help="longest wait, after connecting, for the connect storm's backlog to clear")
    parser.add_argument("--connect-rate", type=float, default=500, help="new WebSockets per second")
    return parser.parse_args()


async def main() -> None:
    args = parse_args()
    hubs = [h.split("//", 1)[1].split(":") for h in args.hub.split(",")]
    args.ws = [f"ws://{host}:{port}/ws/agent" for host, port in hubs]
    keys = [k.strip() for k in open(args.keys) if k.strip()]
    steps = [int(s) for s in args.steps.split(",")]
    pools = [HttpPool(host, int(port), args.pool) for host, port in hubs]
    stats = Stats()
    stop = asyncio.Event()
    gc.disable()  # collected between windows only (below); minutes of garbage fit in memory
    running: list[asyncio.Task] = [asyncio.create_task(watch_own_loop(stats, stop))]
    for n in steps:
        n = min(n, len(keys))
        t_connect = time.monotonic()
        await connect(n, running, keys, args, pools, stats, stop)
        connected_s = time.monotonic() - t_connect
        drained_s = await drained(stats, t_connect, args.drain_timeout)
        # this process's own collections would stall its timers and show up as hub latency:
        # collect now, outside the window, and freeze what the fleet holds
        gc.collect()
        gc.freeze()
        await asyncio.sleep(args.settle)
        since = time.monotonic()
        errors_before = dict(stats.errors)
        drops_before = stats.ws_drops
        await asyncio.sleep(args.step_seconds)
        hb, poll = window(stats.heartbeat, since), window(stats.poll, since)
        print(json.dumps({
            "agents": n,
            "ws_connected": len(stats.ws_connect),
            "connect_all_s": round(connected_s, 2),
            "window_s": round(time.monotonic() - since, 1),
            "heartbeat": latencies(hb),
            "poll": latencies(poll),
            # when the slowest requests were sent (s into the window): periodic stalls show up here
            "slowest": sorted(((round(t - since, 2), round(lat * 1000)) for t, lat in
                               [*((t, l) for t, l in stats.heartbeat if t >= since),
                                *((t, l) for t, l in stats.poll if t >= since)]),
                              key=lambda x: -x[1])[:12],
            # per second since this step began connecting: [s, requests sent, slowest ms]
            "timeline": timeline([*stats.heartbeat, *stats.poll], t_connect),
            "window_starts_s": round(since - t_connect, 1),
            "t_connect_wall": round(time.time() - (time.monotonic() - t_connect), 3),
            # the connect storm's backlog: until every request completed in 3 s was under 100 ms
            "drained_s": drained_s,
            "errors": {k: v - errors_before.get(k, 0) for k, v in stats.errors.items()
                       if v - errors_before.get(k, 0)},
            "ws_drops": stats.ws_drops - drops_before,
            # [s into the window, ms late] of each stall of the simulator's own event loop
            "sim_stalls": [[round(t - since, 1), round(lag * 1000)] for t, lag in stats.stalls if t >= since],
        }), flush=True)
    stop.set()
    for t in running:
        t.cancel()
    with contextlib.suppress(Exception):
        await asyncio.wait_for(asyncio.gather(*running, return_exceptions=True), 30)


def latencies(values: list[float]) -> dict:
    return {"n": len(values), "p50_ms": _ms(pct(values, 50)), "p99_ms": _ms(pct(values, 99)),
            "max_ms": _ms(max(values) if values else None)}


def _ms(v: float | None) -> float | None:
    return None if v is None else round(v * 1000, 2)


if __name__ == "__main__":
    try:
        try:
            import uvloop
        except ImportError:
            asyncio.run(main())
        else:
            uvloop.run(main())
    except KeyboardInterrupt:
        sys.exit(130)
