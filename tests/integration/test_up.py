"""``orchestratia up``: a hub on SQLite plus a local agent; prints the URL and the admin
credentials; the CLI is logged in; a shell task runs through it; Ctrl+C stops both; a second
run lets the user in with the same credentials."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import threading
from pathlib import Path

import httpx
import pytest

from integration_harness import ORCHESTRATIA, base_env, free_port, kill_screen_sessions, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.timeout(150)]


class UpProcess:
    def __init__(self, home: Path, data: Path, cwd: Path, port: int) -> None:
        self.env = base_env(home)
        self.env.pop("ORCHESTRATIA_ADMIN_PASSWORD", None)
        self.port = port
        self.out: list[str] = []
        self.proc = subprocess.Popen([ORCHESTRATIA, "up", "--data-dir", str(data), "--port", str(port)],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=self.env,
                                     cwd=cwd, start_new_session=True)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.out.append(line)

    def text(self) -> str:
        return "".join(self.out)

    def wait_banner(self, timeout: float = 60) -> dict[str, str]:
        def banner() -> dict[str, str] | None:
            if self.proc.poll() is not None:
                raise AssertionError(f"`orchestratia up` exited {self.proc.returncode}:\n{self.text()}")
            text = self.text()
            url = re.search(r"Dashboard: (http://\S+)", text)
            password = re.search(r"admin password:\s+(\S+)", text)
            return {"url": url.group(1).rstrip("/"), "password": password.group(1)} if url and password else None

        return wait_for(banner, timeout, "the banner of `orchestratia up`", interval=0.1)

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([ORCHESTRATIA, *args], capture_output=True, text=True, env=self.env, timeout=60)

    def interrupt(self) -> int:
        os.killpg(self.proc.pid, signal.SIGINT)  # what Ctrl+C in a terminal does
        return self.proc.wait(timeout=40)


def test_up_runs_a_shell_task_and_stops_cleanly(tmp_path: Path) -> None:
    home, data, cwd = tmp_path / "home", tmp_path / "data", tmp_path / "myproject"
    cwd.mkdir()
    port = free_port()
    up = UpProcess(home, data, cwd, port)
    task_ids: list[str] = []
    try:
        banner = up.wait_banner()
        assert banner["url"] == f"http://127.0.0.1:{port}"
        assert httpx.get(f"{banner['url']}/health", timeout=5).status_code == 200
        creds = list((home / "config" / "orchestratia" / "up").glob("*/credentials.json"))
        assert len(creds) == 1 and oct(creds[0].stat().st_mode & 0o777) == "0o600"
        assert json.loads(creds[0].read_text())["password"] == banner["password"]
        assert not any(banner["password"] in p.read_text(errors="ignore") for p in data.rglob("*") if p.is_file() and p.suffix in {".json", ".yaml", ".txt"})

        agents = json.loads(up.cli("agents", "list", "--json").stdout)  # the CLI is logged in
        assert len(agents) == 1 and agents[0]["status"] == "ONLINE"
        assert set(agents[0]["repos"]) == {"myproject", "scratch"}
        created = json.loads(up.cli("tasks", "create", "--title", "hi", "--runner", "shell", "--repo", "myproject",
                                    "--spec", "pwd; echo hello-from-up", "--json").stdout)
        task_ids.append(created["id"])
        watched = up.cli("tasks", "watch", created["id"])
        assert watched.returncode == 0, watched.stderr
        assert "hello-from-up" in watched.stdout and str(cwd) in watched.stdout
    finally:
        code = up.interrupt() if up.proc.poll() is None else up.proc.returncode
        kill_screen_sessions(task_ids)
    assert code == 0, up.text()
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)

    # A second run: same credentials, the agent is reused, the user gets in.
    again = UpProcess(home, data, cwd, port)
    try:
        second = again.wait_banner()
        assert second["password"] == banner["password"]
        login = httpx.post(f"{second['url']}/api/admin/login", json={"username": "admin", "password": second["password"]}, timeout=10)
        assert login.status_code == 200
        agents = json.loads(again.cli("agents", "list", "--json").stdout)
        assert len(agents) == 1 and agents[0]["status"] == "ONLINE"
    finally:
        assert again.interrupt() == 0, again.text()
