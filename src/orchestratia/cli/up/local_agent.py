"""The local agent of ``up``: its config (rewritten on every run, the port may change) and its
registration through the admin API (token → register), skipped while the saved key works."""

from __future__ import annotations

import re
import shutil
import socket
from pathlib import Path
from typing import Any

from ..client import HubClient
from ..errors import CliError
from ..paths import read_yaml, write_yaml
from .plan import UpPlan


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
    """The saved config updated with :func:`agent_settings` (the API key kept or blanked)."""
    merged = {**read_yaml(plan.agent_config), **agent_settings(plan)}
    if not keep_key:
        merged["api_key"] = ""
    merged.pop("registration_token", None)
    write_yaml(plan.agent_config, merged)
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
        current = read_yaml(plan.agent_config)
        same_repos = current.get("repos") == wanted["repos"]
        if same_repos and agent_is_known(hub, wanted["agent_name"], str(current.get("api_key") or "")):
            write_agent_config(plan, keep_key=True)
            return wanted["agent_name"]
        write_agent_config(plan, keep_key=False)
        reg = hub.create_token("local agent (orchestratia up)", "30m")["token"]
    from orchestratia.agent.register import register_with_token

    try:
        # up owns its local agent's name: a previous run's agent (still ONLINE for 90 s after a
        # quick restart, or holding queued tasks) is this one, so take the name back
        register_with_token(reg, str(plan.agent_config), name=wanted["agent_name"], replace=True)
    except Exception as exc:  # the agent's errors are plain messages
        raise CliError(f"could not register the local agent: {' '.join(str(exc).split())}") from exc
    return wanted["agent_name"]
