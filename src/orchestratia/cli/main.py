"""The ``orchestratia`` command: assembles the sub-apps. Thin: parse, call, print."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from orchestratia import __version__

from . import (cmd_agent, cmd_agents, cmd_auth, cmd_backup, cmd_budgets, cmd_groups, cmd_hub, cmd_interventions,
               cmd_pipelines, cmd_reply, cmd_tasks, cmd_tokens, human)
from .up.command import up
from .common import set_ca_bundle
from .errors import EXIT_INTERRUPTED, print_error
from .settings import ENV_CA_BUNDLE

app = typer.Typer(
    name="orchestratia",
    help="Orchestratia: run AI coding agents on your dev servers from one hub.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"orchestratia {__version__}")
        raise typer.Exit(0)


@app.callback()
def root(
    ca_bundle: Annotated[Optional[str], typer.Option("--ca-bundle", envvar=ENV_CA_BUNDLE, help="PEM file of CAs to trust for the hub's TLS certificate")] = None,
    version: Annotated[bool, typer.Option("--version", "-V", callback=_version, is_eager=True, help="Print the version and exit")] = False,
) -> None:
    """Orchestratia: run AI coding agents on your dev servers from one hub."""
    set_ca_bundle(ca_bundle)


app.command("login")(cmd_auth.login)
app.command("logout")(cmd_auth.logout)
app.command("whoami")(cmd_auth.whoami)
app.command("up")(up)
cmd_backup.register(cmd_hub.app)  # `hub backup` / `hub restore` join the hub group
app.add_typer(cmd_hub.app, name="hub")
app.add_typer(cmd_agent.app, name="agent")
app.add_typer(cmd_tokens.app, name="tokens")
app.add_typer(cmd_agents.app, name="agents")
cmd_tasks.app.command("reply")(cmd_reply.reply)  # `tasks reply`: its own module
app.add_typer(cmd_tasks.app, name="tasks")
app.add_typer(cmd_interventions.app, name="interventions")
app.add_typer(cmd_groups.app, name="groups")
app.add_typer(cmd_pipelines.app, name="pipelines")
app.add_typer(cmd_budgets.app, name="budgets")
app.command("costs")(cmd_budgets.costs)
human.register(app)  # `ask`, `mcp`, `approval-hook`: used from inside a running task


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:  # outside any command (e.g. while parsing)
        raise SystemExit(EXIT_INTERRUPTED) from None
    except BrokenPipeError:
        raise SystemExit(1) from None
    except Exception as exc:  # noqa: BLE001 - never a traceback
        print_error(f"unexpected {type(exc).__name__}: {exc}")
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
