"""Shared pieces of the benchmarks: a real hub (and daemon) as subprocesses on loopback, an admin
client, statistics, tables, JSON results and optional py-spy profiles.

Everything talks to the hub through its documented contracts (docs/architecture.md, PROTOCOL.md)
and starts it with the documented command, so the benchmarks measure what users run."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import httpx
import yaml

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
PYTHON = sys.executable
HOST = "127.0.0.1"


# --------------------------------------------------------------------------- statistics


def pct(values: list[float], q: float) -> float:
    """The q-th percentile (0..100), nearest-rank; NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def summary(values: list[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "p50": pct(values, 50),
        "p90": pct(values, 90),
        "p99": pct(values, 99),
        "max": max(values) if values else float("nan"),
        "mean": statistics.fmean(values) if values else float("nan"),
    }


def ratio(a: float, b: float) -> float:
    return a / b if b else float("inf")


def table(title: str, headers: list[str], rows: list[list[Any]]) -> str:
    def fmt(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:,.3g}" if abs(v) < 1000 else f"{v:,.0f}"
        return str(v)

    cells = [[fmt(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths))
    out = [f"\n== {title}", line, "-" * len(line)]
    out += ["  ".join(c.rjust(w) for c, w in zip(row, widths)) for row in cells]
    return "\n".join(out)


def write_result(name: str, data: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    path = RESULTS / f"{name}-{stamp}.json"
    data = {"benchmark": name, "at": stamp, "machine": machine_info(), **data}
    path.write_text(json.dumps(data, indent=2, default=str))
    (RESULTS / f"{name}-latest.json").write_text(json.dumps(data, indent=2, default=str))
    return path


def machine_info() -> dict[str, Any]:
    import psutil

    return {
        "cpus": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "load_avg": os.getloadavg(),
    }


# --------------------------------------------------------------------------- processes


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout: float, interval: float = 0.05, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def _stop(proc: subprocess.Popen, grace: float = 10.0) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        print(f"  (pid {proc.pid} ignored SIGTERM for {grace:.0f} s: SIGKILL)", flush=True)
        proc.kill()
        proc.wait(5)


@dataclass
class Hub:
    """A real hub: ``orchestratia hub serve`` on a loopback port, SQLite in a temp data dir."""

    workdir: Path
    database_url: str | None = None
    port: int = field(default_factory=free_port)
    password: str = field(default_factory=lambda: "bench-" + secrets.token_urlsafe(12))
    extra_env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen | None = None
    token: str = ""
    #: run the hub under pyinstrument, writing a text profile here when it stops
    pyinstrument_out: Path | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{HOST}:{self.port}/ws/agent"

    def start(self, timeout: float = 60.0) -> "Hub":
        data_dir = self.workdir / "hub-data"
        data_dir.mkdir(parents=True, exist_ok=True)
        argv = [PYTHON, "-m", "orchestratia.cli.main", "hub", "serve", "--host", HOST, "--port", str(self.port)]
        if self.pyinstrument_out:
            argv[1:1] = ["-m", "pyinstrument", "-r", "text", "--show-all", "-o", str(self.pyinstrument_out)]
        argv += ["--database-url", self.database_url] if self.database_url else ["--data-dir", str(data_dir)]
        env = {**os.environ, "ORCHESTRATIA_ADMIN_PASSWORD": self.password, "PYTHONUNBUFFERED": "1", **self.extra_env}
        self.log_path = self.workdir / "hub.log"
        self.proc = subprocess.Popen(
            argv, cwd=self.workdir, env=env, stdout=self.log_path.open("ab"), stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_until(self._healthy, timeout, 0.1, "the hub's /health")
        self.token = self._login()
        return self

    def _healthy(self) -> bool:
        if self.proc and self.proc.poll() is not None:
            raise RuntimeError(f"hub exited with {self.proc.returncode}; log: {self.log_path}\n{self.log_tail()}")
        try:
            return httpx.get(self.url + "/health", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def log_tail(self, n: int = 40) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        return ""

    def _login(self) -> str:
        r = httpx.post(self.url + "/api/admin/login", json={"username": "admin", "password": self.password}, timeout=10)
        r.raise_for_status()
        return r.json()["token"]

    def admin(self, timeout: float = 30.0) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {self.token}"}, timeout=timeout)

    def admin_async(self, timeout: float = 30.0, **kw) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.url, headers={"Authorization": f"Bearer {self.token}"}, timeout=timeout, **kw
        )

    def stop(self) -> None:
        if self.proc and self.pyinstrument_out and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # a clean exit, so pyinstrument writes its report
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(60)
        if self.proc:
            _stop(self.proc)

    @property
    def pid(self) -> int:
        assert self.proc
        return self.proc.pid


def create_token(client: httpx.Client, label: str) -> str:
    r = client.post("/api/admin/tokens", json={"label": label, "expires_in": "24h"})
    r.raise_for_status()
    return r.json()["token"]


@dataclass
class Daemon:
    """The real agent daemon: ``orchestratia agent run --config PATH`` with the shell runner on."""

    workdir: Path
    hub: Hub
    name: str = "bench-agent"
    max_concurrent_tasks: int = 4
    poll_interval: float = 10
    heartbeat_interval: float = 30
    backend: str = "screen"
    extra: dict[str, Any] = field(default_factory=dict)
    proc: subprocess.Popen | None = None
    config_path: Path | None = None

    def write_config(self) -> Path:
        base = self.workdir / self.name
        (base / "log").mkdir(parents=True, exist_ok=True)
        (base / "run").mkdir(parents=True, exist_ok=True)
        (base / "repo").mkdir(parents=True, exist_ok=True)
        with self.hub.admin() as client:
            token = create_token(client, self.name)
        config = {
            "hub_url": self.hub.url,
            "registration_token": token,
            "api_key": "",
            "agent_name": self.name,
            "repos": {"bench": {"path": str(base / "repo"), "branch": "main"}},
            "default_runner": "shell",
            "max_concurrent_tasks": self.max_concurrent_tasks,
            "heartbeat_interval": self.heartbeat_interval,
            "poll_interval": self.poll_interval,
            "shell": {"enabled": True, "binary": "bash"},
            "claude": {"binary": str(ROOT / "tests" / "fakes" / "claude")},
            "session": {"backend": self.backend, "log_dir": str(base / "log"), "pid_dir": str(base / "run"),
                        "reconcile_on_start": True},
            **self.extra,
        }
        self.config_path = base / "config.yaml"
        self.config_path.write_text(yaml.safe_dump(config))
        self.config_path.chmod(0o600)
        self.log_dir = base / "log"
        return self.config_path

    def start(self, timeout: float = 60.0) -> "Daemon":
        if not self.config_path:
            self.write_config()
        self.log_path = self.workdir / f"{self.name}.log"
        self.proc = subprocess.Popen(
            [PYTHON, "-m", "orchestratia.cli.main", "agent", "run", "--config", str(self.config_path)],
            cwd=self.workdir, env={**os.environ, "PYTHONUNBUFFERED": "1"},
            stdout=self.log_path.open("ab"), stderr=subprocess.STDOUT, start_new_session=True,
        )
        wait_until(self._online, timeout, 0.1, f"agent {self.name} ONLINE")
        return self

    def _online(self) -> bool:
        if self.proc and self.proc.poll() is not None:
            raise RuntimeError(f"daemon exited with {self.proc.returncode}; log: {self.log_path}")
        with self.hub.admin() as client:
            r = client.get(f"/api/admin/agents/{self.name}")
        return r.status_code == 200 and r.json().get("status") == "ONLINE"

    def stop(self) -> None:
        if self.proc:
            _stop(self.proc)
        if self.config_path:
            kill_sessions(self.config_path.parent)

    @property
    def pid(self) -> int:
        assert self.proc
        return self.proc.pid


def kill_sessions(marker: Path) -> None:
    """Task sessions outlive a daemon by design: end the processes this benchmark started
    (anything whose command line or cwd names our work dir)."""
    import psutil

    me = os.getpid()
    for proc in psutil.process_iter(["pid", "cmdline", "cwd"]):
        with contextlib.suppress(psutil.Error):
            text = " ".join(proc.info["cmdline"] or []) + " " + (proc.info["cwd"] or "")
            if proc.pid != me and str(marker) in text:
                proc.kill()


@contextlib.contextmanager
def workdir(prefix: str) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix=f"orc-bench-{prefix}-"))
    try:
        yield path
    finally:
        if not os.environ.get("BENCH_KEEP"):
            shutil.rmtree(path, ignore_errors=True)


# --------------------------------------------------------------------------- profiling


class Profiler:
    """``py-spy record`` attached to a pid for the duration of a block; writes the raw collapsed
    stacks and returns the top functions by own and inclusive samples."""

    def __init__(self, pid: int, name: str, enabled: bool, rate: int = 200):
        self.pid, self.name, self.enabled, self.rate = pid, name, enabled, rate
        self.proc: subprocess.Popen | None = None
        self.top: dict[str, Any] = {}

    def __enter__(self) -> "Profiler":
        exe = shutil.which("py-spy") or str(Path(PYTHON).parent / "py-spy")
        if self.enabled and Path(exe).exists():
            RESULTS.mkdir(parents=True, exist_ok=True)
            self.out = RESULTS / f"profile-{self.name}.txt"
            # --gil counts only samples holding the GIL; zlib (permessage-deflate) releases it
            # while it blocks the event loop, so BENCH_PYSPY_ALL=1 samples every active thread
            gil = [] if os.environ.get("BENCH_PYSPY_ALL") else ["--gil"]
            self.proc = subprocess.Popen(
                [exe, "record", "--pid", str(self.pid), "--rate", str(self.rate), "--format", "raw", *gil,
                 "--nonblocking", "-o", str(self.out)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )
            time.sleep(0.5)
        return self

    def __exit__(self, *exc) -> None:
        if not self.proc:
            return
        self.proc.send_signal(signal.SIGINT)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(30)
        if self.proc.poll() is None:
            self.proc.kill()
        with contextlib.suppress(OSError):
            self.top = collapsed_top(self.out.read_text())

    def report(self, n: int = 12) -> str:
        if not self.top:
            return ""
        own = [[f"{v:.1f}%", k[:110]] for k, v in self.top["own"][:n]]
        app = [[f"{v:.1f}%", k[:110]] for k, v in self.top["app"][:n]]
        return (table(f"profile {self.name}: GIL-holding samples by deepest orchestratia frame "
                      f"({self.top['samples']} samples)", ["share", "where"], app)
                + table(f"profile {self.name}: own time (leaf function)", ["share", "function"], own))


def _frame_name(frame: str) -> str:
    # py-spy raw frames look like "func (path/to/file.py:123)"
    name, _, where = frame.partition(" (")
    where = where.rstrip(")")
    path, _, _line = where.rpartition(":")
    short = "/".join(Path(path).parts[-2:]) if path else ""
    return f"{name} ({short})"


IDLE_LEAVES = ("select (selectors.py)", "poll (selectors.py)", "epoll", "Condition.wait", "wait (threading")


def collapsed_top(text: str) -> dict[str, Any]:
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    app: Counter[str] = Counter()
    total = 0
    for line in text.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = [_frame_name(f) for f in stack.split(";") if f and not f.startswith("process ")
                  and not f.startswith("thread ")]
        if not frames:
            continue
        leaf = frames[-1]
        if any(leaf.startswith(i) or i in leaf for i in IDLE_LEAVES):
            continue  # waiting for I/O: not where the time goes
        n = int(count)
        total += n
        own[leaf] += n
        for f in set(frames):
            inclusive[f] += n
        raw = [f for f in stack.split(";") if "orchestratia" in f]
        if raw:
            app[_frame_name(raw[-1]) + " :" + raw[-1].rpartition(":")[2].rstrip(")")] += n
        else:
            lib = next((f for f in frames if any(x in f for x in ("sqlalchemy", "aiosqlite", "uvicorn", "starlette",
                                                                   "fastapi", "websockets", "pydantic", "httpx"))),
                       frames[min(2, len(frames) - 1)])
            app["(no app frame) " + lib] += n
    if not total:
        return {}
    return {
        "samples": total,
        "own": [(k, 100 * v / total) for k, v in own.most_common(25)],
        "inclusive": [(k, 100 * v / total) for k, v in inclusive.most_common(40)],
        "app": [(k, 100 * v / total) for k, v in app.most_common(30)],
    }
