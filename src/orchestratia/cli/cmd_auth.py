"""``orchestratia login`` / ``logout`` / ``whoami``."""

from __future__ import annotations

import sys
from typing import Annotated, Optional

import typer

from . import render
from .client import HubClient
from .common import ca_bundle, client
from .errors import CliError, guard
from .settings import ENV_HUB_URL, forget_cli_config, load_cli_config, normalize_url, save_cli_config


def read_password(password_stdin: bool) -> str:
    if password_stdin:
        line = sys.stdin.readline()
        password = line.rstrip("\r\n")
        if not password:
            raise CliError("--password-stdin: standard input was empty; pipe the password in")
        return password
    if not sys.stdin.isatty():
        raise CliError("no terminal to ask for the password: pass --password-stdin and pipe it in")
    return typer.prompt("Password", hide_input=True)


@guard
def login(
    hub: Annotated[Optional[str], typer.Option("--hub", envvar=ENV_HUB_URL, help="The hub's URL, e.g. http://127.0.0.1:8000")] = None,
    username: Annotated[str, typer.Option("--username", "-u", help="Admin user name")] = "admin",
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the password from standard input")] = False,
) -> None:
    """Log in to a hub and save its URL and a bearer token (mode 0600) for later commands."""
    if not hub:
        raise CliError("which hub? pass --hub URL (e.g. --hub http://127.0.0.1:8000)")
    url = normalize_url(hub)
    password = read_password(password_stdin)
    with HubClient(url, ca_bundle=ca_bundle()) as anonymous:
        answer = anonymous.login(username, password)
    token = answer.get("token") if isinstance(answer, dict) else None
    if not token:
        raise CliError(f"the hub at {url} answered the login without a token; is it an Orchestratia hub?")
    path = save_cli_config(url, token, answer.get("username", username), ca_bundle())
    render.success(f"Logged in to {url} as {answer.get('username', username)}.")
    render.info(f"Token saved in {path} (expires {render.short_time(answer.get('expires_at'))} UTC).")


@guard
def logout() -> None:
    """End the session at the hub and forget the saved token."""
    saved = load_cli_config()
    if saved.get("hub_url") and saved.get("token"):
        try:
            with HubClient(saved["hub_url"], saved["token"], saved.get("ca_bundle")) as hub:
                hub.logout()
        except CliError:
            pass  # the hub is gone or the token already expired: forgetting it is enough
    if forget_cli_config():
        render.success("Logged out.")
    else:
        render.info("Not logged in; nothing to do.")


@guard
def whoami() -> None:
    """Show which hub and user the CLI talks to."""
    with client() as hub:
        me = hub.me()
        render.console().print(render.text(f"{me.get('username')} @ {hub.hub_url}"))
