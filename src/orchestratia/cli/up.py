"""``orchestratia up``: the quickstart — a hub on SQLite plus a local agent, in one command.

Design: ``up`` is a supervisor of two child processes, ``orchestratia hub serve`` and
``orchestratia agent run``, each in its own session with its log in ``DATA_DIR/logs/``.
Separate processes keep the hub's event loop and the daemon's apart (the daemon must survive
restarts of its tasks' sessions, the hub must not be slowed by the daemon's file tailing),
and the same two commands are what a real deployment runs. Ctrl+C (or SIGTERM) stops the
agent, then the hub; task sessions in ``screen`` are left running, like a daemon restart.

State kept between runs, in the user's config dir (never in the data dir), one folder per
data dir: ``up/<hash>/credentials.json`` (admin user + password, 0600) and
``up/<hash>/agent.yaml`` (the local agent's config with its API key, 0600). ``up`` also
logs the CLI in (``cli.json``), so ``orchestratia tasks ...`` works right away.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
import yaml

from . import output
from .client import HubClient
from .cmd_hub import port_free
from .errors import CliError, guard
from .paths import config_dir, data_dir, ensure_private_dir, read_json, write_json, write_private
from .settings import save_cli_config
from .single_instance import hold_single_instance

ADMIN_USER = "admin"
HUB_START_DEADLINE_S = 60.0
AGENT_ONLINE_DEADLINE_S = 30.0
STOP_GRACE_S = 15.0


@dataclass
class UpPlan:
    data_dir: Path
    host: str
    port: int
    state_dir: Path
    hub_url: str = ""
    password: str = ""
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    @property
    def credentials_file(self) -> Path:
        return self.state_dir / "credentials.json"

    @property
    def agent_config(self) -> Path:
        return self.state_dir / "agent.yaml"

    @property
    def log_dir(self) -> Path:
        return self.data_dir / "logs"


def state_dir_for(data: Path) -> Path:
    digest = hashlib.sha256(str(data).encode()).hexdigest()[:12]
    return config_dir() / "up" / digest


def candidate_passwords(plan: UpPlan) -> list[str]:
    """The admin passwords to try, best first: ORCHESTRATIA_ADMIN_PASSWORD, the saved one,
    else a new one (saved before the hub first starts, so it is never lost)."""
    saved = read_json(plan.credentials_file).get("password")
    env = os.environ.get("ORCHESTRATIA_ADMIN_PASSWORD")
    found = [p for p in (env, saved) if p]
    if not found:
        found = [secrets.token_urlsafe(16)]
        write_json(plan.credentials_file, {"username": ADMIN_USER, "password": found[0], "data_dir": str(plan.data_dir)})
    return list(dict.fromkeys(found))


def _die_with_death_of_parent() -> None:  # pragma: no cover - runs in the child
    """Children get SIGTERM if ``up`` itself is killed (Linux prctl PR_SET_PDEATHSIG)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)
    except Exception:
        pass


def spawn(plan: UpPlan, name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen:
    ensure_private_dir(plan.log_dir)
    log = open(plan.log_dir / f"{name}.log", "ab")
    log.write(f"\n=== orchestratia up: starting {name} at {time.strftime('%Y-%m-%d %H:%M:%S')} ===\n".encode())
    log.flush()
    argv = [sys.executable, "-m", "orchestratia.cli", *args]
    proc = subprocess.Popen(
        argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
        start_new_session=True, preexec_fn=_die_with_death_of_parent if sys.platform.startswith("linux") else None,
    )
    log.close()
    plan.processes[name] = proc
    return proc


def log_tail(plan: UpPlan, name: str, lines: int = 15) -> str:
    try:
        text = (plan.log_dir / f"{name}.log").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def child_died(plan: UpPlan, name: str, status: int | None) -> CliError:
    """Show the end of the child's log (stderr), then a one-line error."""
    sys.stderr.write(f"--- the end of {plan.log_dir / (name + '.log')} ---\n{log_tail(plan, name)}\n---\n")
    what = "the hub" if name == "hub" else "the local agent"
    return CliError(f"{what} exited at start (status {status}); see its log above and in {plan.log_dir / (name + '.log')}")


#: hub settings ``up`` decides itself, whatever the user's environment says: the quickstart
#: serves plain HTTP on the address it then checks and hands to the CLI and the local agent
#: (a TLS hub is ``orchestratia hub serve --ssl-certfile``, docs/hub.md "TLS")
UP_OWNS_ENV = ("ORCHESTRATIA_SSL_CERTFILE", "ORCHESTRATIA_SSL_KEYFILE")


def hub_env(password: str, environ: dict[str, str] | None = None) -> dict[str, str]:
    """The hub child's environment: the user's, without :data:`UP_OWNS_ENV`, with the password."""
    env = {k: v for k, v in (os.environ if environ is None else environ).items() if k not in UP_OWNS_ENV}
    env["ORCHESTRATIA_ADMIN_PASSWORD"] = password
    return env


def start_hub(plan: UpPlan, password: str) -> None:
    ignored = [name for name in UP_OWNS_ENV if os.environ.get(name, "").strip()]
    if ignored:
        output.info(f"ignoring {' and '.join(ignored)}: `up` serves plain HTTP on {plan.hub_url} "
                    "(for TLS run `orchestratia hub serve --ssl-certfile ...`)")
    env = hub_env(password)
    args = ["hub", "serve", "--host", plan.host, "--port", str(plan.port), "--data-dir", str(plan.data_dir)]
    proc = spawn(plan, "hub", args, env)
    deadline = time.monotonic() + HUB_START_DEADLINE_S
    with HubClient(plan.hub_url, timeout=2.0) as probe:
        while True:
            if proc.poll() is not None:
                raise child_died(plan, "hub", proc.returncode)
            try:
                probe.health()
                return
            except CliError:
                if time.monotonic() > deadline:
                    raise CliError(f"the hub did not answer /health within {HUB_START_DEADLINE_S:.0f} s; see {plan.log_dir / 'hub.log'}")
                time.sleep(0.2)


def login_admin(plan: UpPlan, passwords: list[str]) -> str:
    """Log in as admin with the first password that works; save it and the CLI login."""
    with HubClient(plan.hub_url) as anonymous:
        for password in passwords:
            try:
                token = anonymous.login(ADMIN_USER, password)["token"]
            except CliError as exc:
                if "refused the credentials" in exc.message:
                    continue
                raise
            plan.password = password
            write_json(plan.credentials_file, {"username": ADMIN_USER, "password": password, "data_dir": str(plan.data_dir)})
            save_cli_config(plan.hub_url, token, ADMIN_USER)
            return token
    raise CliError(
        f"the admin password of the hub in {plan.data_dir} is not the saved one ({plan.credentials_file}); "
        "run again with ORCHESTRATIA_ADMIN_PASSWORD set to it, or use a new --data-dir"
    )


def repo_name(path: Path) -> str:
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", path.name).strip("-.")
    return name if name and name != "scratch" else "cwd"


def agent_settings(plan: UpPlan) -> dict[str, Any]:
    """Our keys of the local agent's config, rewritten on every run (the port may change)."""
    cwd = Path.cwd().resolve()
    scratch = plan.data_dir / "scratch"
    scratch.mkdir(parents=True, exist_ok=True)
    agent_dir = plan.data_dir / "agent"
    return {
        "hub_url": plan.hub_url,
        "agent_name": f"{socket.gethostname()}-local",
        "repos": {repo_name(cwd): str(cwd), "scratch": str(scratch)},
        "default_runner": "claude" if shutil.which("claude") else "shell",
        "shell": {"enabled": True, "binary": "bash"},
        "session": {
            "backend": "screen" if shutil.which("screen") else "direct",
            "log_dir": str(agent_dir / "log"),
            "pid_dir": str(agent_dir / "run"),
            "reconcile_on_start": True,
        },
    }


def write_agent_config(plan: UpPlan, keep_key: bool) -> dict[str, Any]:
    try:
        current = yaml.safe_load(plan.agent_config.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        current = {}
    merged = {**current, **agent_settings(plan)}
    if not keep_key:
        merged["api_key"] = ""
    merged.pop("registration_token", None)
    write_private(plan.agent_config, yaml.safe_dump(merged, sort_keys=False))
    return merged


def agent_is_known(hub: HubClient, name: str, api_key: str) -> bool:
    if not api_key:
        return False
    try:
        agent = hub.get_agent(name)
    except CliError:
        return False
    return agent.get("status") != "REVOKED"


def ensure_agent(plan: UpPlan, token: str) -> str:
    """Register the local agent unless its saved config is still good; its name."""
    with HubClient(plan.hub_url, token) as hub:
        wanted = agent_settings(plan)
        try:
            current = yaml.safe_load(plan.agent_config.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError):
            current = {}
        same_repos = current.get("repos") == wanted["repos"]
        if same_repos and agent_is_known(hub, wanted["agent_name"], str(current.get("api_key") or "")):
            write_agent_config(plan, keep_key=True)
            return wanted["agent_name"]
        write_agent_config(plan, keep_key=False)
        reg = hub.create_token("local agent (orchestratia up)", "30m")["token"]
    from orchestratia.agent.register import register_with_token

    try:
        register_with_token(reg, str(plan.agent_config), name=wanted["agent_name"])
    except Exception as exc:  # the agent's errors are plain messages
        raise CliError(f"could not register the local agent: {' '.join(str(exc).split())}") from exc
    return wanted["agent_name"]


def start_agent(plan: UpPlan, token: str, name: str) -> bool:
    spawn(plan, "agent", ["agent", "run", "--config", str(plan.agent_config)], dict(os.environ))
    deadline = time.monotonic() + AGENT_ONLINE_DEADLINE_S
    with HubClient(plan.hub_url, token) as hub:
        while time.monotonic() < deadline:
            if plan.processes["agent"].poll() is not None:
                raise child_died(plan, "agent", plan.processes["agent"].returncode)
            try:
                if hub.get_agent(name).get("status") == "ONLINE":
                    return True
            except CliError:
                pass
            time.sleep(0.2)
    return False


def banner(plan: UpPlan, agent_name: str, online: bool) -> None:
    con = output.console()
    con.soft_wrap = True  # never break a password or a path
    con.print()
    con.print(f"[bold green]Orchestratia is up.[/bold green]  Dashboard: [bold]{plan.hub_url}/[/bold]")
    con.print(f"  admin user:     [bold]{ADMIN_USER}[/bold]")
    con.print(f"  admin password: [bold]{plan.password}[/bold]   (saved in {plan.credentials_file})", markup=True)
    con.print(f"  local agent:    {agent_name} ({'ONLINE' if online else 'starting, see ' + str(plan.log_dir / 'agent.log')})")
    con.print(f"  data dir:       {plan.data_dir}    logs: {plan.log_dir}")
    con.print("  The CLI is logged in. Try:")
    con.print("    orchestratia tasks create --title hello --runner shell --repo scratch --spec 'echo hello' ", markup=False)
    con.print("    orchestratia tasks watch <ID>", markup=False)
    con.print("Press Ctrl+C to stop the hub and the agent.")
    sys.stdout.flush()


def stop_all(plan: UpPlan) -> None:
    """SIGTERM the agent, then the hub; SIGKILL whatever is still there after a grace period."""
    for name in ("agent", "hub"):
        proc = plan.processes.get(name)
        if proc is None or proc.poll() is not None:
            continue
        try:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        except ProcessLookupError:
            pass


def supervise(plan: UpPlan) -> int:
    """Wait until Ctrl+C / SIGTERM or a child dies; the exit status."""
    stop = {"signal": None}

    def on_signal(signum: int, _frame: Any) -> None:
        stop["signal"] = signum

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    while stop["signal"] is None:
        for name, proc in plan.processes.items():
            if proc.poll() is not None:
                output.info(f"the {name} exited (status {proc.returncode}); stopping. Its log: {plan.log_dir / (name + '.log')}")
                return 1
        time.sleep(0.2)
    output.info("stopping the agent and the hub...")
    return 0


def run_up(data: Path, host: str, port: int) -> int:
    data = data.expanduser().resolve()
    ensure_private_dir(data)
    instance = hold_single_instance(data)  # a second `up` on this data dir says who runs it
    plan = UpPlan(data_dir=data, host=host, port=port, state_dir=ensure_private_dir(state_dir_for(data)))
    plan.hub_url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '') else host}:{port}"
    if not port_free(host, port):
        raise CliError(f"port {port} on {host} is already in use: stop what uses it or pick another with --port")
    try:
        start_hub(plan, candidate_passwords(plan)[0])
        token = login_admin(plan, candidate_passwords(plan))
        name = ensure_agent(plan, token)
        online = start_agent(plan, token, name)
        banner(plan, name, online)
        return supervise(plan)
    finally:
        stop_all(plan)
        instance.release()


@guard
def up(
    data_dir_opt: Annotated[Optional[Path], typer.Option("--data-dir", help="Where the hub keeps its SQLite database (default ~/.local/share/orchestratia)")] = None,
    port: Annotated[int, typer.Option("--port", "-p", help="Port for the hub")] = 8000,
    host: Annotated[str, typer.Option("--host", help="Address for the hub (127.0.0.1 keeps it local)")] = "127.0.0.1",
) -> None:
    """Quickstart: run a hub on SQLite plus a local agent registered to it (Ctrl+C stops both)."""
    code = run_up(data_dir_opt or data_dir(), host, port)
    raise typer.Exit(code)
