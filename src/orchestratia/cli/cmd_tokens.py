"""``orchestratia tokens``: one-time registration tokens for new agents."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.text import Text

from . import render
from .common import client, resolve_token_id, short_id
from .errors import guard

app = typer.Typer(help="Registration tokens: one use each, for `orchestratia agent register`.", no_args_is_help=True)


@app.command("create")
@guard
def create(
    label: Annotated[str, typer.Option("--label", "-l", help="What the token is for, e.g. the server's name")],
    expires: Annotated[str, typer.Option("--expires", help="Lifetime: 30m, 24h, 7d, 2w (at most 365d)")] = "24h",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON (has `token`, `config_snippet`)")] = False,
) -> None:
    """Create a registration token; it is shown only now."""
    with client() as hub:
        token = hub.create_token(label, expires)
    if as_json:
        render.print_json(token)
        return
    con = render.console()
    con.print(Text.assemble(("Registration token", "bold"), " for ", render.text(token.get("label"), "cyan"),
                            f" (expires {render.short_time(token.get('expires_at'))} UTC, one use):"))
    render.block(token.get("token", ""))
    con.print("\n[bold]Register an agent with it[/bold] (on the dev server):")
    render.block(token.get("register_command") or f"orchestratia agent register {token.get('token')}")
    if token.get("config_snippet"):
        con.print("\n[bold]Or paste this into the agent's config.yaml[/bold]:")
        render.block(token["config_snippet"])


@app.command("list")
@guard
def list_(as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False) -> None:
    """List registration tokens (never the secrets)."""
    with client() as hub:
        tokens = hub.list_tokens()
    if as_json:
        render.print_json(tokens)
        return
    render.table(
        ["ID", "LABEL", "STATUS", "CREATED (UTC)", "EXPIRES (UTC)", "AGENT"],
        (
            [short_id(t.get("id")), t.get("label"), render.status_text(t.get("status")), render.short_time(t.get("created_at")),
             render.short_time(t.get("expires_at")), short_id(t.get("agent_id")) or "-"]
            for t in tokens
        ),
    )


@app.command("revoke")
@guard
def revoke(token_id: Annotated[str, typer.Argument(metavar="ID", help="Token id (or a unique prefix)")]) -> None:
    """Revoke an unused registration token."""
    with client() as hub:
        token = hub.revoke_token(resolve_token_id(hub, token_id))
    render.success(f"Token {token.get('id')} ({token.get('label')}) is {token.get('status', 'revoked')}.")
