"""A real hub for the CLI's end-to-end unit tests: ``orchestratia hub serve`` on SQLite in a tmp
dir on a free loopback port, the admin logged in, and a hostile v1 agent's tools (register,
heartbeat, start, ask, fail over HTTP; output over the WebSocket). Lighter than
tests/integration's harness: no daemon, no screen.

Also :func:`run_in_pty`: the real CLI in a pseudo-terminal, every byte it writes captured."""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import httpx

ADMIN_PASSWORD = "cli-unit-admin-pw"


def wait_for(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.05)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def cli_env(home: Path, hub_url: str | None = None, token: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORCHESTRATIA_")}
    env.update({"XDG_CONFIG_HOME": str(home / "config"), "XDG_DATA_HOME": str(home / "data"), "PYTHONUNBUFFERED": "1"})
    if hub_url:
        env.update({"ORCHESTRATIA_HUB_URL": hub_url, "ORCHESTRATIA_TOKEN": token or ""})
    return env


@dataclass
class RealHub:
    workdir: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None
    token: str = ""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "RealHub":
        env = cli_env(self.workdir)
        env.update({"ORCHESTRATIA_ADMIN_PASSWORD": ADMIN_PASSWORD, "ORCHESTRATIA_LOGIN_FAILURES_PER_MINUTE": "1000"})
        argv = [sys.executable, "-m", "orchestratia.cli", "hub", "serve", "--port", str(self.port),
                "--data-dir", str(self.workdir / "data")]
        with open(self.workdir / "hub.log", "ab") as log:
            self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                                         start_new_session=True)
        wait_for(self._healthy, 45, f"the hub's /health (log: {self.workdir / 'hub.log'})")
        login = httpx.post(f"{self.url}/api/admin/login", json={"username": "admin", "password": ADMIN_PASSWORD}, timeout=10)
        self.token = login.json()["token"]
        return self

    def _healthy(self) -> bool:
        assert self.proc is not None and self.proc.poll() is None, (self.workdir / "hub.log").read_text()
        try:
            return httpx.get(f"{self.url}/health", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.request(method, f"{self.url}/api/admin{path}", headers={"Authorization": f"Bearer {self.token}"},
                             timeout=15, **kwargs)

    def register(self, name: str, **fields: Any) -> "V1Agent":
        token = self.api("POST", "/tokens", json={"label": "unit", "expires_in": "30m"}).json()["token"]
        body = {"name": name, "hostname": "h", "ip": "127.0.0.1", "os": "Linux", "repos": {"r": "/tmp"},
                "system_info": {}, "registration_token": token, "runners": ["shell", "claude"], **fields}
        answer = httpx.post(f"{self.url}/api/v1/agents/register", json=body, timeout=10)
        assert answer.status_code == 200, answer.text
        return V1Agent(self, answer.json()["id"], answer.json()["api_key"])


@dataclass
class V1Agent:
    """An agent that speaks plain v1 (PROTOCOL.md) and says whatever a test wants it to."""

    hub: RealHub
    id: str
    key: str

    def post(self, path: str, body: dict[str, Any]) -> httpx.Response:
        answer = httpx.post(f"{self.hub.url}/api/v1/agents{path}", json=body, headers={"X-API-Key": self.key}, timeout=10)
        assert answer.status_code < 300, answer.text
        return answer

    def output(self, task_id: str, content: str) -> None:
        """Send output over the WebSocket; return once the hub has stored it."""
        from websockets.sync.client import connect

        before = len(self.hub.api("GET", f"/tasks/{task_id}/output").content)
        ws_url = self.hub.url.replace("http://", "ws://") + "/ws/agent"
        with connect(ws_url, additional_headers={"X-API-Key": self.key}, open_timeout=10) as ws:
            assert json.loads(ws.recv(timeout=10))["type"] == "auth_ok"
            ws.send(json.dumps({"type": "output", "task_id": task_id, "content": content, "stream": "stdout"}))
            wait_for(lambda: len(self.hub.api("GET", f"/tasks/{task_id}/output").content) > before, 15, "the output stored")


def run_in_pty(argv: list[str], env: dict[str, str], timeout: float = 60) -> tuple[int, bytes]:
    """Run ``argv`` with a pseudo-terminal as stdin, stdout and stderr (so it believes a person
    is watching: Rich colours on); every byte it wrote, and its exit status."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env={**env, "TERM": "xterm-256color"},
                            start_new_session=True)
    os.close(slave)
    captured = bytearray()
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not chunk:
                    break
                captured += chunk
            elif proc.poll() is not None:
                break
        else:
            proc.kill()
            raise AssertionError(f"{argv} did not finish within {timeout} s: {bytes(captured)!r}")
        return proc.wait(timeout=10), bytes(captured)
    finally:
        os.close(master)
