"""The ``up`` command: start the hub, log in, register and start the local agent, print the
banner, supervise until Ctrl+C; always stop what was started."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from .. import render
from ..cmd_hub import port_free
from ..errors import CliError, guard
from ..paths import data_dir, ensure_private_dir
from .children import start_agent, start_hub
from .credentials import candidate_passwords, login_admin
from .local_agent import ensure_agent
from .plan import ADMIN_USER, UpPlan, state_dir_for
from .single_instance import hold_single_instance
from .supervisor import stop_all, supervise


def banner(plan: UpPlan, agent_name: str, online: bool) -> None:
    con = render.console()
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
