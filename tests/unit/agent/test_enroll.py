"""``orchestratia agent register`` against a real hub (a subprocess on a loopback port): the
repos and runners it writes, a name held by a live agent (refused, the token kept; ``--replace``
takes it), and the setup guide's daemon getting that refusal as a readable error."""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml

pytestmark = pytest.mark.skipif(importlib.util.find_spec("fastapi") is None, reason="hub extra not installed")
PASSWORD = "enroll-tests-password"
ROOT = Path(__file__).resolve().parents[3]
CLI = [sys.executable, "-m", "orchestratia.cli"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Hub:
    def __init__(self, url: str, admin_token: str) -> None:
        self.url = url
        self.admin = httpx.Client(base_url=url + "/api/admin", headers={"Authorization": f"Bearer {admin_token}"},
                                  timeout=10)

    def token(self, label: str = "t") -> tuple[str, str]:
        r = self.admin.post("/tokens", json={"label": label, "expires_in": "1h"})
        assert r.status_code == 201, r.text
        return r.json()["id"], r.json()["token"]

    def token_status(self, token_id: str) -> str:
        return next(t["status"] for t in self.admin.get("/tokens").json() if t["id"] == token_id)

    def agent(self, name: str) -> dict:
        r = self.admin.get(f"/agents/{name}")
        assert r.status_code == 200, r.text
        return r.json()


@pytest.fixture(scope="module")
def hub(tmp_path_factory) -> Hub:
    data = tmp_path_factory.mktemp("hub")
    port = free_port()
    env = {**os.environ, "ORCHESTRATIA_ADMIN_PASSWORD": PASSWORD, "ORCHESTRATIA_ARGON2_TIME_COST": "1",
           "ORCHESTRATIA_ARGON2_MEMORY_KIB": "1024"}
    with open(data / "hub.log", "wb") as log:
        proc = subprocess.Popen([*CLI, "hub", "serve", "--port", str(port), "--data-dir", str(data)], env=env,
                                stdout=log, stderr=subprocess.STDOUT)
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
    login = httpx.post(url + "/api/admin/login", json={"username": "admin", "password": PASSWORD})
    yield Hub(url, login.json()["token"])
    proc.terminate()
    proc.wait(10)


@pytest.fixture
def fake_bin(tmp_path: Path) -> Path:
    """A PATH dir with fake ``claude`` and ``gemini`` (no codex, no aider)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("claude", "gemini"):
        tool = bin_dir / name
        tool.write_text("#!/bin/sh\necho fake\n")
        tool.chmod(0o755)
    return bin_dir


def env_for(home: Path, bin_dir: Path | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORCHESTRATIA_")}
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"), XDG_STATE_HOME=str(home / ".state"))
    env["PATH"] = os.pathsep.join([str(bin_dir)] if bin_dir else []) + os.pathsep + "/usr/bin:/bin"
    return env


def run(args: list[str], env: dict[str, str], cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True, timeout=60)


def test_register_writes_repos_and_the_runners_found(hub: Hub, tmp_path: Path, fake_bin: Path) -> None:
    app, lib = tmp_path / "src" / "app", tmp_path / "src" / "lib"
    app.mkdir(parents=True)
    lib.mkdir()
    config = tmp_path / "home" / "agent" / "config.yaml"
    env = {**env_for(tmp_path / "home", fake_bin), "ORCHESTRATIA_AGENT_CONFIG": str(config)}
    _, token = hub.token()
    done = run([*CLI, "agent", "register", token, "--name", "web-2", "--repo", f"app={app}", "--repo", f"lib={lib}"],
               env)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert f"Config: {config} ($ORCHESTRATIA_AGENT_CONFIG)" in out and "orc_" not in out
    assert f"app = {app}" in out and f"lib = {lib}" in out
    assert f"Runners: claude ({fake_bin / 'claude'}), gemini ({fake_bin / 'gemini'}); default: claude" in out
    assert f"orchestratia agent run --config {config}" in out
    assert oct(config.stat().st_mode & 0o777) == "0o600"
    written = yaml.safe_load(config.read_text())
    assert written["repos"] == {"app": str(app), "lib": str(lib)} and written["api_key"].startswith("orc_")
    assert written["claude"]["binary"] == str(fake_bin / "claude")
    assert written["gemini"]["binary"] == str(fake_bin / "gemini")
    assert written["default_runner"] == "claude" and "codex" not in written and "aider" not in written
    shown = hub.agent("web-2")
    assert set(shown["repos"]) == {"app", "lib"} and {"claude", "gemini"} <= set(shown["runners"])


def test_a_bad_repo_is_refused_before_anything_is_written(hub: Hub, tmp_path: Path) -> None:
    token_id, token = hub.token()
    config = tmp_path / "config.yaml"
    env = env_for(tmp_path / "home")
    (tmp_path / "file").write_text("")
    for spec, says in ((f"app={tmp_path / 'nope'}", "does not exist"), (f"app={tmp_path / 'file'}", "is not a directory"),
                       ("app", "expected NAME=PATH"), (f"a b={tmp_path}", "the name may hold")):
        refused = run([*CLI, "agent", "register", token, "--config", str(config), "--repo", spec], env)
        assert refused.returncode == 1 and says in refused.stderr and "Traceback" not in refused.stderr, refused.stderr
    assert not config.exists() and hub.token_status(token_id) == "active"


def test_a_live_agents_name_is_refused_then_replaced(hub: Hub, tmp_path: Path) -> None:
    first = tmp_path / "first.yaml"
    env = env_for(tmp_path / "home")
    assert run([*CLI, "agent", "register", hub.token()[1], "--config", str(first), "--name", "busy"], env).returncode == 0
    old_key = yaml.safe_load(first.read_text())["api_key"]
    agent_api = httpx.Client(base_url=hub.url + "/api/v1/agents", headers={"X-API-Key": old_key}, timeout=10)
    assert agent_api.post("/heartbeat", json={}).status_code == 200  # the first server is ONLINE

    token_id, token = hub.token("second server")
    second = tmp_path / "second.yaml"
    refused = run([*CLI, "agent", "register", token, "--config", str(second), "--name", "busy"], env)
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert "the hub refused the name 'busy'" in refused.stderr and hub.agent("busy")["id"] in refused.stderr
    assert "--replace" in refused.stderr and "--name NAME" in refused.stderr
    assert not second.exists() and hub.token_status(token_id) == "active"
    assert agent_api.get("/tasks/poll").status_code == 200  # the holder is untouched

    replaced = run([*CLI, "agent", "register", token, "--config", str(second), "--name", "busy", "--replace"], env)
    assert replaced.returncode == 0, replaced.stderr
    assert "Replaced the agent busy: its previous API key is revoked" in replaced.stdout
    assert agent_api.get("/tasks/poll").status_code == 401
    new_key = yaml.safe_load(second.read_text())["api_key"]
    assert httpx.get(hub.url + "/api/v1/agents/tasks/poll", headers={"X-API-Key": new_key}).status_code == 200
    assert hub.agent("busy")["status"] != "REVOKED"


def test_the_setup_guides_daemon_reports_a_held_name_readably(hub: Hub, tmp_path: Path) -> None:
    """The seed flow: token in config.yaml, empty api_key, ``python3 daemon.py --config``."""
    holder = tmp_path / "holder.yaml"
    env = env_for(tmp_path / "home")
    assert run([*CLI, "agent", "register", hub.token()[1], "--config", str(holder), "--name", "seed-held"],
               env).returncode == 0
    key = yaml.safe_load(holder.read_text())["api_key"]
    assert httpx.post(hub.url + "/api/v1/agents/heartbeat", json={}, headers={"X-API-Key": key}).status_code == 200

    token_id, token = hub.token("seed")
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({
        "hub_url": hub.url, "registration_token": token, "api_key": "", "agent_name": "seed-held",
        "session": {"backend": "direct", "log_dir": str(tmp_path / "log"), "pid_dir": str(tmp_path / "run")}}))
    daemon = run([sys.executable, str(ROOT / "daemon.py"), "--config", str(config)], env, cwd=tmp_path)
    assert daemon.returncode == 2, daemon.stderr
    assert "Traceback" not in daemon.stderr
    assert "the hub refused the name 'seed-held'" in daemon.stderr and "agent_name in config.yaml" in daemon.stderr
    assert yaml.safe_load(config.read_text())["registration_token"] == token  # still there, still usable
    assert hub.token_status(token_id) == "active"


def test_config_location_rule(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from orchestratia.cli import cmd_agent

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv(cmd_agent.CONFIG_ENV, raising=False)
    monkeypatch.setattr(cmd_agent, "SYSTEM_CONFIG", tmp_path / "etc" / "config.yaml")
    assert cmd_agent.config_location(Path("c.yaml"))[0] == Path.cwd() / "c.yaml"
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert cmd_agent.config_location(None)[0] == tmp_path / "xdg" / "orchestratia" / "config.yaml"
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    path, why = cmd_agent.config_location(None)
    assert path == tmp_path / "etc" / "config.yaml" and "root" in why
    monkeypatch.setenv(cmd_agent.CONFIG_ENV, str(tmp_path / "env.yaml"))
    assert cmd_agent.config_location(None) == (tmp_path / "env.yaml", "$ORCHESTRATIA_AGENT_CONFIG")
