"""Helpers for the browser tests (imported by conftest.py and the tests): browser contexts,
sign-in, screenshots, and a real daemon started from the dashboard's config snippet."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "integration"))

from integration_harness import (  # noqa: E402
    ADMIN_PASSWORD,
    FAKE_CLAUDE,
    FINAL,
    ORCHESTRATIA,
    Hub,
    base_env,
    kill_screen_sessions,
    stop_process,
    tail,
    wait_for,
)

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SHOTS = ROOT / "artifacts" / "screenshots"
DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}
UUID_RE = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"

__all__ = ["ADMIN_PASSWORD", "FINAL", "Hub", "kill_screen_sessions", "wait_for"]


def new_context(browser: Any, hub: Hub, **kwargs: Any) -> Any:
    context = browser.new_context(base_url=hub.url, viewport=DESKTOP, **kwargs)
    context.set_default_timeout(15_000)
    return context


def sign_in(page: Any, username: str = "admin", password: str = ADMIN_PASSWORD) -> None:
    page.goto("/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


def shoot(page: Any, name: str) -> None:
    """Full-page screenshots of the current page: desktop, phone width, and desktop in dark mode."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    size = page.viewport_size
    page.set_viewport_size(DESKTOP)
    page.screenshot(path=str(SHOTS / f"{name}-desktop.png"), full_page=True)
    page.set_viewport_size(PHONE)
    page.screenshot(path=str(SHOTS / f"{name}-phone.png"), full_page=True)
    page.set_viewport_size(DESKTOP)
    page.emulate_media(color_scheme="dark")
    page.screenshot(path=str(SHOTS / f"{name}-dark.png"), full_page=True)
    page.emulate_media(color_scheme="light")
    page.set_viewport_size(size or DESKTOP)


@dataclass
class Daemon:
    """A real daemon (`orchestratia agent run`) started from a config built on the
    dashboard's snippet (the seed's flow: token in the config, consumed on first run)."""

    hub: Hub
    workdir: Path
    name: str
    proc: subprocess.Popen | None = None

    @property
    def config_path(self) -> Path:
        return self.workdir / "config.yaml"

    @property
    def log(self) -> Path:
        return self.workdir / "daemon.log"

    def write_config(self, snippet: str) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        config = yaml.safe_load(snippet)
        repo_web = self.workdir / "repo-web"
        repo_api = self.workdir / "repo-api"
        repo_web.mkdir(exist_ok=True)
        repo_api.mkdir(exist_ok=True)
        config.update({
            "agent_name": self.name,
            "repos": {"web": {"path": str(repo_web), "branch": "main"}, "api": str(repo_api)},
            "default_runner": "claude",
            "max_concurrent_tasks": 4,
            "heartbeat_interval": 2,
            "poll_interval": 2,
            "claude": {"binary": str(FAKE_CLAUDE), "max_turns": 10, "timeout_minutes": 30},
            "shell": {"enabled": True, "binary": "bash"},
            "session": {"backend": "screen", "log_dir": str(self.workdir / "logs"),
                        "pid_dir": str(self.workdir / "run"), "reconcile_on_start": True, "kill_grace_seconds": 2},
        })
        self.config_path.write_text(yaml.safe_dump(config, sort_keys=False))
        self.config_path.chmod(0o600)

    def start(self) -> None:
        env = base_env(self.workdir)
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen([ORCHESTRATIA, "agent", "run", "--config", str(self.config_path)],
                                         stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                                         cwd=self.workdir, start_new_session=True)

    def api_key(self) -> str:
        def key() -> str:
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(f"the daemon exited with {self.proc.returncode}:\n{tail(self.log)}")
            return (yaml.safe_load(self.config_path.read_text()) or {}).get("api_key") or ""

        return wait_for(key, 30, f"the daemon to write its API key into {self.config_path}", interval=0.1)

    def stop(self) -> None:
        stop_process(self.proc, grace=15)


def create_task(hub: Hub, **body: Any) -> dict[str, Any]:
    r = hub.api("POST", "/tasks", json=body)
    assert r.status_code == 201, r.text
    return r.json()


def finished_task(hub: Hub, title: str) -> dict[str, Any]:
    """A shell task of agent web-1 in its repo ``api`` (not a git checkout), completed."""
    task = create_task(hub, title=title, spec="echo done", agent="web-1", target_repo="api", runner="shell")
    done = hub.wait_final(task["id"], timeout=60)
    assert done["status"] == "completed", done
    return done


def report_workspace(hub: Hub, agent: Any, task_id: str, body: dict[str, Any]) -> None:
    """The task's agent reports its workspace and change (the agent API the daemon uses)."""
    r = httpx.post(f"{hub.url}/api/v1/agents/tasks/{task_id}/workspace", json=body,
                   headers={"X-API-Key": agent.api_key()}, timeout=15)
    assert r.status_code == 200, r.text


def wait_output(hub: Hub, task_id: str, at_least: int, timeout: float = 30.0) -> dict[str, Any]:
    def enough() -> dict[str, Any] | None:
        task = hub.task(task_id)
        return task if task["output_size"] >= at_least else None

    return wait_for(enough, timeout, f"task {task_id} to have {at_least} bytes of output")
