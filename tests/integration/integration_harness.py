"""The integration harness: the REAL hub and daemon as subprocesses on loopback, the CLI as a
subprocess, and waits that are conditions with deadlines (never sleep-and-hope).

Used by tests/integration/conftest.py; importable by the tests as ``integration_harness``."""

from __future__ import annotations

import json
import os
import signal
import socket
import ssl
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import httpx
import yaml

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = ROOT / ".venv" / "bin"
ORCHESTRATIA = str(VENV_BIN / "orchestratia")
FAKE_CLAUDE = ROOT / "tests" / "fakes" / "claude"
ADMIN_PASSWORD = "integration-admin-pw-1"
FINAL = {"completed", "failed", "cancelled", "timed_out", "lost"}


class WaitTimeout(AssertionError):
    pass


def wait_for(condition: Callable[[], Any], timeout: float, what: str, interval: float = 0.05) -> Any:
    """Poll ``condition`` until it returns something truthy; fail with ``what`` after
    ``timeout`` seconds. Returns the truthy value."""
    deadline = time.monotonic() + timeout
    last_exc: BaseException | None = None
    while True:
        try:
            value = condition()
            if value:
                return value
        except Exception as exc:  # noqa: BLE001 - keep polling until the deadline
            last_exc = exc
        if time.monotonic() > deadline:
            extra = f" (last error: {last_exc!r})" if last_exc else ""
            raise WaitTimeout(f"timed out after {timeout:.1f}s waiting for {what}{extra}")
        time.sleep(interval)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stop_process(proc: subprocess.Popen | None, sig: int = signal.SIGTERM, grace: float = 10.0) -> None:
    if proc is None or proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        proc.send_signal(sig)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=10)


def tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def base_env(home: Path) -> dict[str, str]:
    """The environment for our subprocesses: the user's config and data dirs point into the
    test's tmp dir, so nothing touches the real ~/.config."""
    env = dict(os.environ)
    env["XDG_CONFIG_HOME"] = str(home / "config")
    env["XDG_DATA_HOME"] = str(home / "data")
    env["XDG_STATE_HOME"] = str(home / "state")
    env.pop("ORCHESTRATIA_HUB_URL", None)
    env.pop("ORCHESTRATIA_TOKEN", None)
    env["PYTHONUNBUFFERED"] = "1"
    return env


@dataclass
class Hub:
    """``orchestratia hub serve`` on a free loopback port with a tmp data dir. With
    ``ssl_certfile`` (+ ``ssl_keyfile``) it serves HTTPS/WSS; ``ca_bundle`` is then the CA that
    the harness, the CLI (``ORCHESTRATIA_CA_BUNDLE``) and agents (``ca_bundle:``) trust."""

    workdir: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None
    token: str = ""
    extra_env: dict[str, str] = field(default_factory=dict)
    ssl_certfile: Path | None = None
    ssl_keyfile: Path | None = None
    ca_bundle: Path | None = None

    @property
    def url(self) -> str:
        scheme = "https" if self.ssl_certfile else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    @property
    def verify(self) -> ssl.SSLContext | bool:
        """What the harness's own requests verify the hub with (always verified)."""
        return ssl.create_default_context(cafile=str(self.ca_bundle)) if self.ca_bundle else True

    @property
    def log(self) -> Path:
        return self.workdir / "hub.log"

    def start(self, deadline: float = 45.0) -> "Hub":
        self.workdir.mkdir(parents=True, exist_ok=True)
        env = base_env(self.workdir)
        env.update({
            "ORCHESTRATIA_ADMIN_PASSWORD": ADMIN_PASSWORD,
            "ORCHESTRATIA_CHECK_INTERVAL_S": "0.25",
            "ORCHESTRATIA_LOGIN_FAILURES_PER_MINUTE": "1000",
        })
        env.update(self.extra_env)
        argv = [ORCHESTRATIA, "hub", "serve", "--port", str(self.port), "--data-dir", str(self.workdir / "data")]
        if self.ssl_certfile:
            argv += ["--ssl-certfile", str(self.ssl_certfile)]
        if self.ssl_keyfile:
            argv += ["--ssl-keyfile", str(self.ssl_keyfile)]
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         env=env, cwd=self.workdir, start_new_session=True)
        wait_for(self._healthy, deadline, f"the hub's /health on {self.url} (log: {self.log})", interval=0.1)
        self.token = self.login()
        return self

    def _healthy(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError(f"the hub exited with {self.proc.returncode}:\n{tail(self.log)}")
        try:
            return httpx.get(f"{self.url}/health", timeout=1.0, verify=self.verify).status_code == 200
        except httpx.HTTPError:
            return False

    def login(self) -> str:
        r = httpx.post(f"{self.url}/api/admin/login", json={"username": "admin", "password": ADMIN_PASSWORD}, timeout=10,
                       verify=self.verify)
        assert r.status_code == 200, r.text
        return r.json()["token"]

    def stop(self) -> None:
        stop_process(self.proc)

    # ---- the admin API, for assertions (the CLI is exercised through `Cli`)
    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token}"}
        return httpx.request(method, f"{self.url}/api/admin{path}", headers=headers, timeout=15, verify=self.verify,
                             **kwargs)

    def task(self, task_id: str) -> dict[str, Any]:
        r = self.api("GET", f"/tasks/{task_id}")
        assert r.status_code == 200, r.text
        return r.json()

    def output(self, task_id: str) -> bytes:
        r = self.api("GET", f"/tasks/{task_id}/output")
        assert r.status_code == 200, r.text
        return r.content

    def agent(self, name: str) -> dict[str, Any]:
        r = self.api("GET", f"/agents/{name}")
        assert r.status_code == 200, r.text
        return r.json()

    def create_token(self, label: str = "it") -> str:
        r = self.api("POST", "/tokens", json={"label": label, "expires_in": "30m"})
        assert r.status_code == 201, r.text
        return r.json()["token"]

    def wait_status(self, task_id: str, statuses: set[str] | str, timeout: float = 30.0) -> dict[str, Any]:
        wanted = {statuses} if isinstance(statuses, str) else set(statuses)
        seen: dict[str, Any] = {}

        def check() -> dict[str, Any] | None:
            seen["task"] = self.task(task_id)
            return seen["task"] if seen["task"]["status"] in wanted else None

        try:
            return wait_for(check, timeout, f"task {task_id} to be {sorted(wanted)}", interval=0.05)
        except WaitTimeout as exc:
            raise WaitTimeout(f"{exc}; last seen: {json.dumps(seen.get('task'), default=str)[:800]}") from None

    def wait_final(self, task_id: str, timeout: float = 30.0) -> dict[str, Any]:
        return self.wait_status(task_id, FINAL, timeout)


@dataclass
class Cli:
    """Runs ``orchestratia`` as a subprocess against ``hub`` (ORCHESTRATIA_HUB_URL/TOKEN)."""

    hub: Hub
    home: Path

    def env(self) -> dict[str, str]:
        env = base_env(self.home)
        env["ORCHESTRATIA_HUB_URL"] = self.hub.url
        env["ORCHESTRATIA_TOKEN"] = self.hub.token
        # a wide terminal: under pytest-xdist the workers' environment says COLUMNS=80, tables and
        # details wrapped there, and a long tmp path (xdist adds popen-gwN) split "--offset 1393"
        # and a question across lines
        env["COLUMNS"] = "200"
        if self.hub.ca_bundle:
            env["ORCHESTRATIA_CA_BUNDLE"] = str(self.hub.ca_bundle)
        return env

    def run(self, *args: str, input: str | None = None, check: bool = True, timeout: float = 60.0,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        """``env``: the environment instead of :meth:`env` (e.g. without the CA bundle)."""
        proc = subprocess.run([ORCHESTRATIA, *args], input=input, capture_output=True, text=True,
                              env=self.env() if env is None else env, timeout=timeout,
                              stdin=None if input is not None else subprocess.DEVNULL)
        if check and proc.returncode != 0:
            raise AssertionError(f"orchestratia {' '.join(args)} exited {proc.returncode}\nstdout: {proc.stdout}\nstderr: {proc.stderr}")
        return proc

    def json(self, *args: str, **kwargs: Any) -> Any:
        return json.loads(self.run(*args, "--json", **kwargs).stdout)

    def create_task(self, spec: str, agent: str, repo: str = "work", title: str = "it", *extra: str) -> dict[str, Any]:
        return self.json("tasks", "create", "--title", title, "--spec", spec, "--agent", agent, "--repo", repo, *extra)


@dataclass
class Agent:
    """The real daemon (``orchestratia agent run``) registered with the CLI's
    ``agent register TOKEN``, screen backend, fake claude, shell enabled."""

    hub: Hub
    workdir: Path
    name: str
    repos: dict[str, Path] = field(default_factory=dict)
    proc: subprocess.Popen | None = None
    starts: int = 0
    overrides: dict[str, Any] = field(default_factory=dict)

    @property
    def config(self) -> Path:
        return self.workdir / "config.yaml"

    @property
    def log_dir(self) -> Path:
        return self.workdir / "logs"

    @property
    def daemon_log(self) -> Path:
        return self.workdir / "daemon.log"

    def task_log(self, task_id: str) -> Path:
        return self.log_dir / f"task-{task_id}.log"

    def register(self) -> "Agent":
        self.workdir.mkdir(parents=True, exist_ok=True)
        if not self.repos:
            self.repos = {"work": self.workdir / "repo-work"}
        for path in self.repos.values():
            path.mkdir(parents=True, exist_ok=True)
        config = {
            "hub_url": self.hub.url,
            "agent_name": self.name,
            "repos": {name: str(path) for name, path in self.repos.items()},
            "default_runner": "claude",
            "max_concurrent_tasks": 4,
            "heartbeat_interval": 5,
            "poll_interval": 2,
            "claude": {"binary": str(FAKE_CLAUDE), "max_turns": 10, "timeout_minutes": 30},
            "shell": {"enabled": True, "binary": "bash"},
            "session": {"backend": "screen", "log_dir": str(self.log_dir), "pid_dir": str(self.workdir / "run"),
                        "reconcile_on_start": True, "kill_grace_seconds": 3},
        }
        if self.hub.ca_bundle:
            config["ca_bundle"] = str(self.hub.ca_bundle)
        for key, value in self.overrides.items():
            config[key] = {**config[key], **value} if isinstance(value, dict) and isinstance(config.get(key), dict) else value
        self.config.write_text(yaml.safe_dump(config, sort_keys=False))
        token = self.hub.create_token(self.name)
        cli = Cli(self.hub, self.workdir)
        cli.run("agent", "register", token, "--config", str(self.config), "--name", self.name)
        return self

    def start(self, wait_online: bool = True) -> "Agent":
        self.starts += 1
        env = base_env(self.workdir)
        with open(self.daemon_log, "ab") as log:
            log.write(f"\n==== start {self.starts} ====\n".encode())
            log.flush()
            self.proc = subprocess.Popen([ORCHESTRATIA, "agent", "run", "--config", str(self.config)], stdout=log,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, cwd=self.workdir,
                                         start_new_session=True)
        if wait_online:
            self.wait_connected()
        return self

    def wait_connected(self, timeout: float = 30.0) -> None:
        """Until this start's daemon runs its loops (its "running:" log line; the first poll and
        the WebSocket follow at once) and the hub holds the agent ONLINE. ONLINE alone is not
        enough: registration is not contact, but an agent seen within the offline window (a
        daemon restart, a re-registration) is still ONLINE before this daemon has started, and a
        task created then waits for the daemon's start-up (~0.5-1 s)."""
        marker = f"==== start {self.starts} ====".encode()

        def online() -> bool:
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(f"the daemon exited with {self.proc.returncode}:\n{tail(self.daemon_log)}")
            log = self.daemon_log.read_bytes()
            if b" running: hub " not in log[log.rfind(marker):]:
                return False
            return self.hub.agent(self.name)["status"] == "ONLINE"

        wait_for(online, timeout, f"agent {self.name}'s daemon running and ONLINE (log: {self.daemon_log})",
                 interval=0.02)

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Signal the daemon process only (its task sessions live in their own screen)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=15)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


def screen_sessions(prefix: str = "orc-") -> list[str]:
    proc = subprocess.run(["screen", "-ls"], capture_output=True, text=True)
    names = []
    for line in proc.stdout.splitlines():
        part = line.strip().split("\t")[0] if line.strip() else ""
        if "." in part:
            name = part.split(".", 1)[1]
            if name.startswith(prefix):
                names.append(name)
    return names


def retire_agent(hub: "Hub", name: str, stop: Callable[[], None]) -> None:
    """Test teardown for one agent: cancel its unfinished tasks (best effort), stop its daemon
    with ``stop``, and kill the screen sessions of all its tasks."""
    tasks: list[dict] = []
    try:
        tasks = hub.api("GET", "/tasks", params={"agent": name, "limit": 500}).json()
        for task in tasks:
            if task["status"] not in FINAL:
                hub.api("POST", f"/tasks/{task['id']}/cancel", json={"reason": "test teardown"})
    except Exception:  # noqa: BLE001 - best effort cleanup
        pass
    stop()
    kill_screen_sessions([t["id"] for t in tasks])


def kill_screen_sessions(task_ids: list[str]) -> list[str]:
    """Quit the screen sessions ``orc-<task id>`` of the given tasks (ours only: other
    engineers' tests may run screen sessions with the same prefix at the same time)."""
    wanted = {f"orc-{task_id}" for task_id in task_ids}
    killed = [name for name in screen_sessions() if name in wanted]
    for name in killed:
        subprocess.run(["screen", "-S", name, "-X", "quit"], capture_output=True)
    return killed
