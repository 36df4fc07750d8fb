"""The daemon against the real hub (a subprocess on a loopback port): register, push, run in
screen with the fake claude, stream output byte for byte, report, cancel, reject, restart."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml

from orchestratia.agent.daemon import run_daemon_async
from orchestratia.agent.register import register_with_token_async

from .agent_helpers import FAKE_CLAUDE

pytestmark = pytest.mark.skipif(importlib.util.find_spec("fastapi") is None, reason="hub extra not installed")
PASSWORD = "agent-tests-password"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    data = tmp_path_factory.mktemp("hub")
    port = free_port()
    env = {**os.environ, "ORCHESTRATIA_ADMIN_PASSWORD": PASSWORD, "ORCHESTRATIA_ARGON2_TIME_COST": "1",
           "ORCHESTRATIA_ARGON2_MEMORY_KIB": "1024", "ORCHESTRATIA_CHECK_INTERVAL_S": "0.5"}
    log = open(data / "hub.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "orchestratia.cli", "hub", "serve", "--port", str(port),
                             "--data-dir", str(data)], env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"hub did not start: {(data / 'hub.log').read_text()[-2000:]}")
        time.sleep(0.1)
    token = httpx.post(url + "/api/admin/login", json={"username": "admin", "password": PASSWORD}).json()["token"]
    yield {"url": url, "token": token}
    proc.terminate()
    proc.wait(10)
    log.close()


class Admin:
    def __init__(self, hub: dict) -> None:
        self.c = httpx.AsyncClient(base_url=hub["url"] + "/api/admin", headers={"Authorization": f"Bearer {hub['token']}"})

    async def call(self, method: str, path: str, **kw):
        r = await self.c.request(method, path, **kw)
        assert r.status_code < 400, r.text
        return r

    async def task(self, tid: str) -> dict:
        return (await self.call("GET", f"/tasks/{tid}")).json()

    async def wait_task(self, tid: str, statuses: set[str], timeout: float = 20) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            t = await self.task(tid)
            if t["status"] in statuses:
                return t
            if time.monotonic() > deadline:
                pytest.fail(f"task {tid} still {t['status']} after {timeout} s (want {statuses}): {t}")
            await asyncio.sleep(0.05)

    async def output(self, tid: str) -> bytes:
        return (await self.call("GET", f"/tasks/{tid}/output")).content


async def setup_agent(hub: dict, tmp_path: Path, name: str, **extra) -> tuple[Path, Admin]:
    admin = Admin(hub)
    token = (await admin.call("POST", "/tokens", json={"label": name})).json()["token"]
    (tmp_path / "repo").mkdir()
    (tmp_path / "repo2").mkdir()  # the hub runs one task per repo directory at a time
    cfg = tmp_path / "config.yaml"
    cfg.write_text(yaml.safe_dump({
        "agent_name": name, "repos": {"repo": str(tmp_path / "repo"), "repo2": {"path": str(tmp_path / "repo2"), "branch": "main"}},
        "claude": {"binary": str(FAKE_CLAUDE)},
        "session": {"backend": "screen", "log_dir": str(tmp_path / "log"), "pid_dir": str(tmp_path / "run"),
                    "kill_grace_seconds": 0.5},
        **extra,
    }))
    agent_id, key = await register_with_token_async(token, cfg)
    saved = yaml.safe_load(cfg.read_text())
    assert saved["api_key"] == key and saved["hub_url"] == hub["url"] and "registration_token" not in saved
    assert oct(cfg.stat().st_mode & 0o777) == "0o600"
    return cfg, admin


class Running:
    def __init__(self, cfg: Path) -> None:
        self.stop = asyncio.Event()
        self.task = asyncio.create_task(run_daemon_async(cfg, self.stop))

    async def shutdown(self) -> int:
        self.stop.set()
        return await asyncio.wait_for(self.task, 20)


async def test_task_completes_with_result_and_exact_output(hub, tmp_path, cleanup_sessions) -> None:
    cfg, admin = await setup_agent(hub, tmp_path, "ut-complete")
    d = Running(cfg)
    try:
        t = (await admin.call("POST", "/tasks", json={"title": "t", "spec": "go FAKE_LINES=5 FAKE_TURNS=2 FAKE_UNICODE "
                                                      "FAKE_INVALID_UTF8 FAKE_ECHO_ENV=ORCHESTRATIA_TASK_ID", "target_repo": "repo",
                                                      "agent": "ut-complete"})).json()
        cleanup_sessions.append(("screen", f"orc-{t['id']}"))
        running = await admin.wait_task(t["id"], {"running", "completed"})
        assert running["status"] in ("running", "completed")
        done = await admin.wait_task(t["id"], {"completed", "failed"})
        assert done["status"] == "completed", done
        r = done["result"]
        assert r["exit_code"] == 0 and r["num_turns"] == 2 and r["cost_usd"] == pytest.approx(0.0246)
        assert r["session_id"] and r["summary"].startswith("Fake claude done") and r["duration_s"] > 0
        log = (tmp_path / "log" / f"task-{t['id']}.log").read_bytes()
        assert await admin.output(t["id"]) == log  # byte for byte, invalid UTF-8 included
        assert b"\xff\xfe" in log
        # human in the loop is wired in: the ask_human MCP server, its tool allowed, the task's id in env
        init = json.loads(log.splitlines()[0])
        assert init["mcp_servers"] == [{"name": "orchestratia", "status": "connected"}]
        assert "mcp__orchestratia__ask_human" in init["tools"] and "Bash" in init["tools"]
        assert f"env ORCHESTRATIA_TASK_ID={t['id']}".encode() in log
        assert not list((tmp_path / "run").glob(f"task-{t['id']}.*"))  # cleaned up after the report
    finally:
        assert await d.shutdown() == 0


async def test_failures_rejections_and_cancel(hub, tmp_path, cleanup_sessions) -> None:
    cfg, admin = await setup_agent(hub, tmp_path, "ut-fail")
    d = Running(cfg)
    try:
        async def create(spec: str, **kw) -> str:
            t = (await admin.call("POST", "/tasks", json={"title": "t", "spec": spec, "agent": "ut-fail", **kw})).json()
            cleanup_sessions.append(("screen", f"orc-{t['id']}"))
            return t["id"]

        failing = await create("FAKE_FAIL", target_repo="repo")
        norepo = await create("x", target_repo="elsewhere")
        noshell = await create("echo hi", runner="shell")
        slow = await create("FAKE_LINES=1 FAKE_SLEEP=60 FAKE_IGNORE_SIGINT", target_repo="repo")
        t = await admin.wait_task(failing, {"completed", "failed"})
        assert t["status"] == "failed" and t["exit_code"] == 1 and "Fake failure requested" in t["error"]
        t = await admin.wait_task(norepo, {"failed"})
        assert "repo 'elsewhere' is not configured" in t["error"]
        t = await admin.wait_task(noshell, {"failed"})
        assert "not enabled" in t["error"] and "shell.enabled" in t["error"]
        await admin.wait_task(slow, {"running"})
        log = tmp_path / "log" / f"task-{slow}.log"
        deadline = time.monotonic() + 10
        while b"line 1" not in (log.read_bytes() if log.exists() else b""):
            assert time.monotonic() < deadline
            await asyncio.sleep(0.02)
        pid = int((tmp_path / "run" / f"task-{slow}.pid").read_text())
        await admin.call("POST", f"/tasks/{slow}/cancel", json={"reason": "test"})
        deadline = time.monotonic() + 10
        while (tmp_path / "run" / f"task-{slow}.json").exists():  # SIGINT ignored -> SIGTERM after 0.5 s
            assert time.monotonic() < deadline, "the cancelled runner did not stop"
            await asyncio.sleep(0.02)
        with pytest.raises(ProcessLookupError):
            os.killpg(pid, 0)
        assert b'"type": "result"' not in log.read_bytes()  # ended by SIGTERM, not SIGINT
        assert (await admin.task(slow))["status"] == "cancelled"
    finally:
        assert await d.shutdown() == 0


async def test_restart_adopts_running_and_finished_sessions(hub, tmp_path, cleanup_sessions) -> None:
    cfg, admin = await setup_agent(hub, tmp_path, "ut-restart")
    # each fake claude prints its lines, then holds its result until the test creates its gate
    # file (FAKE_WAIT_FOR_FILE): `short` ends only while no daemon runs, `long` only after the
    # next daemon has adopted it as still running
    gate_short, gate_long = tmp_path / "gate-short", tmp_path / "gate-long"
    d = Running(cfg)
    try:
        long = (await admin.call("POST", "/tasks", json={
            "title": "long", "spec": f"FAKE_LINES=100 FAKE_LINE_DELAY=0.04 FAKE_WAIT_FOR_FILE={gate_long}",
            "target_repo": "repo", "agent": "ut-restart"})).json()["id"]
        short = (await admin.call("POST", "/tasks", json={
            "title": "short", "spec": f"FAKE_LINES=3 FAKE_WAIT_FOR_FILE={gate_short}",
            "target_repo": "repo2", "agent": "ut-restart"})).json()["id"]
        cleanup_sessions += [("screen", f"orc-{long}"), ("screen", f"orc-{short}")]
        await admin.wait_task(long, {"running"})
        await admin.wait_task(short, {"running"})
        deadline = time.monotonic() + 15  # part of each output is on the hub: the next daemon
        # resumes both streams part way through
        while not (b'"line 3 of 3"' in await admin.output(short) and b'"line 1 of 100"' in await admin.output(long)):
            assert time.monotonic() < deadline, "the tasks' first output did not reach the hub"
            await asyncio.sleep(0.02)
        assert not (tmp_path / "run" / f"task-{short}.exit").exists()  # held by its gate
        assert await d.shutdown() == 0  # the sessions keep running without the daemon
        gate_short.touch()  # `short` ends while no daemon runs
        deadline = time.monotonic() + 15
        while not (tmp_path / "run" / f"task-{short}.exit").exists():
            assert time.monotonic() < deadline, "the short task did not end"
            await asyncio.sleep(0.02)
        assert (await admin.task(short))["status"] == "running"  # nobody reported it
        assert not (tmp_path / "run" / f"task-{long}.exit").exists()  # `long` is still running (gated)
        d = Running(cfg)
        # the next daemon adopts both at start (before it reports anything): `short` has ended,
        # `long` is held by its gate, so it is adopted as running
        t = await admin.wait_task(short, {"completed", "failed"})
        assert t["status"] == "completed", t
        assert (await admin.task(long))["status"] == "running"
        gate_long.touch()  # `long` ends under the new daemon
        t = await admin.wait_task(long, {"completed", "failed"})
        assert t["status"] == "completed", t
        for tid in (long, short):
            assert await admin.output(tid) == (tmp_path / "log" / f"task-{tid}.log").read_bytes()
    finally:
        gate_short.touch()  # on a failure, no fake is left holding (cleanup_sessions ends them too)
        gate_long.touch()
        assert await d.shutdown() == 0


async def test_daemon_side_timeout_stops_and_reports(hub, tmp_path, cleanup_sessions) -> None:
    cfg, admin = await setup_agent(hub, tmp_path, "ut-timeout",
                                   claude={"binary": str(FAKE_CLAUDE), "timeout_minutes": 0.01})  # 0.6 s
    d = Running(cfg)
    try:
        t = (await admin.call("POST", "/tasks", json={"title": "slow", "spec": "FAKE_LINES=1 FAKE_SLEEP=60",
                                                      "target_repo": "repo", "agent": "ut-timeout"})).json()
        cleanup_sessions.append(("screen", f"orc-{t['id']}"))
        done = await admin.wait_task(t["id"], {"failed", "timed_out", "completed"})
        # the hub knows no timeout for this task: only the daemon's fail with reason "timeout"
        # makes it timed_out
        assert done["status"] == "timed_out", done
        # SIGINT: 130 once the fake handles it; 1 when it lands while python is still starting
        assert done["error"].startswith("timed out") and done["exit_code"] in (1, 130), done
    finally:
        assert await d.shutdown() == 0


async def test_seed_flow_registers_prints_key_and_heartbeats(hub, tmp_path, capsys, cleanup_sessions) -> None:
    admin = Admin(hub)
    token = (await admin.call("POST", "/tokens", json={"label": "seed"})).json()["token"]
    cfg = tmp_path / "config.yaml"
    cfg.write_text(f'hub_url: "{hub["url"]}"\nregistration_token: "{token}"  # One-time token from dashboard\n'
                   'api_key: ""                        # Auto-set after registration\nagent_name: "ut-seed"\n\n'
                   f'session:\n  backend: screen\n  log_dir: {tmp_path}/log\n  pid_dir: {tmp_path}/run\n')
    d = Running(cfg)
    try:
        deadline = time.monotonic() + 15
        while True:
            agents = (await admin.call("GET", "/agents")).json()
            agent = next((a for a in agents if a["name"] == "ut-seed"), None)
            if agent and agent["status"] == "ONLINE" and agent.get("system_info"):
                break
            assert time.monotonic() < deadline, agents
            await asyncio.sleep(0.1)
        out = capsys.readouterr().out
        key = yaml.safe_load(cfg.read_text())["api_key"]
        assert f"SAVE THIS API KEY to your config.yaml: {key}\n" in out and key.startswith("orc_")
        text = cfg.read_text()
        assert "registration_token" not in text and "# Auto-set after registration" in text
        info = agent["system_info"]
        for k in ("cpu_count", "cpu_percent", "memory_total_gb", "memory_used_gb", "memory_percent", "disk_total_gb",
                  "disk_used_gb", "disk_percent", "platform", "platform_release", "python_version", "uptime_seconds"):
            assert k in info, k
    finally:
        assert await d.shutdown() == 0
    # the token is consumed: registering with it again says so
    from orchestratia.agent.register import RegistrationError

    with pytest.raises(RegistrationError, match="used|consumed"):
        await register_with_token_async(token, tmp_path / "other.yaml")
