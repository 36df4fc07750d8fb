"""Starting ``up``'s two children and knowing when each is up: the hub answers ``/health``, the
local agent is ONLINE."""

from __future__ import annotations

import os
import time

from .. import render
from ..client import HubClient
from ..errors import CliError
from .plan import AGENT_ONLINE_DEADLINE_S, HUB_START_DEADLINE_S, UpPlan
from .supervisor import child_died, spawn

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
    """Spawn ``hub serve`` and return once its ``/health`` answers."""
    ignored = [name for name in UP_OWNS_ENV if os.environ.get(name, "").strip()]
    if ignored:
        render.info(f"ignoring {' and '.join(ignored)}: `up` serves plain HTTP on {plan.hub_url} "
                    "(for TLS run `orchestratia hub serve --ssl-certfile ...`)")
    args = ["hub", "serve", "--host", plan.host, "--port", str(plan.port), "--data-dir", str(plan.data_dir)]
    proc = spawn(plan, "hub", args, hub_env(password))
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


def start_agent(plan: UpPlan, token: str, name: str) -> bool:
    """Spawn ``agent run``; True once the hub holds it ONLINE (False after the deadline: it may
    still come up, the banner says where its log is)."""
    proc = spawn(plan, "agent", ["agent", "run", "--config", str(plan.agent_config)], dict(os.environ))
    deadline = time.monotonic() + AGENT_ONLINE_DEADLINE_S
    with HubClient(plan.hub_url, token) as hub:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise child_died(plan, "agent", proc.returncode)
            try:
                if hub.get_agent(name).get("status") == "ONLINE":
                    return True
            except CliError:
                pass
            time.sleep(0.2)
    return False
