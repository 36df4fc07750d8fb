"""``orchestratia agent run`` / ``register``: the daemon (imported lazily)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from .errors import CliError, guard
from .paths import config_dir, read_yaml

app = typer.Typer(help="The agent daemon on a dev server: register, run.", no_args_is_help=True)

SYSTEM_CONFIG = Path("/etc/orchestratia/config.yaml")


def default_config_path() -> Path:
    """``/etc/orchestratia/config.yaml`` when it exists or we are root; else the user's
    ``~/.config/orchestratia/config.yaml``."""
    if SYSTEM_CONFIG.exists() or os.geteuid() == 0:
        return SYSTEM_CONFIG
    return config_dir() / "config.yaml"


def _config_error(exc: Exception) -> CliError:
    return CliError(" ".join(str(exc).split()) or type(exc).__name__)


def _agent_errors() -> tuple[type[BaseException], ...]:
    errors: list[type[BaseException]] = []
    try:
        from orchestratia.agent.config import ConfigError

        errors.append(ConfigError)
    except ImportError:
        pass
    try:
        from orchestratia.agent import register as register_mod

        for name in ("RegistrationError", "RegisterError"):
            if hasattr(register_mod, name):
                errors.append(getattr(register_mod, name))
    except ImportError:
        pass
    return tuple(errors)


@app.command("run")
@guard
def run(
    config: Annotated[Optional[Path], typer.Option("--config", "-c", help="config.yaml (default /etc/orchestratia/config.yaml, or ~/.config/orchestratia/config.yaml when not root)")] = None,
) -> None:
    """Run the daemon in the foreground: heartbeats, tasks, output streaming."""
    from orchestratia.agent.daemon import run_daemon

    path = (config or default_config_path()).expanduser()
    try:
        code: Any = run_daemon(str(path))
    except _agent_errors() as exc:
        raise _config_error(exc) from exc
    if isinstance(code, int) and code:
        raise typer.Exit(code)


@app.command("register")
@guard
def register(
    token: Annotated[str, typer.Argument(metavar="TOKEN", help="The one-time registration token (orcreg_...)")],
    config: Annotated[Optional[Path], typer.Option("--config", "-c", help="config.yaml to create or update (mode 0600)")] = None,
    name: Annotated[Optional[str], typer.Option("--name", "-n", help="Agent name (default: the config's agent_name, or the hostname)")] = None,
    ca_bundle: Annotated[Optional[Path], typer.Option("--ca-bundle", help="PEM file of the CA that signed the hub's TLS certificate; saved as ca_bundle in the config")] = None,
) -> None:
    """Register this server with the hub named in TOKEN and save the API key in the config."""
    from orchestratia.agent.register import register_with_token

    path = (config or default_config_path()).expanduser()
    try:
        if ca_bundle is not None:
            _save_ca_bundle(path, ca_bundle)
        result: Any = register_with_token(token, str(path), name=name)
    except _agent_errors() as exc:
        raise _config_error(exc) from exc
    typer.echo(f"Registered{_describe(result, name, path)}; API key saved in {path} (mode 0600).")
    typer.echo(f"Start the daemon with: orchestratia agent run --config {path}")


def _save_ca_bundle(config: Path, ca_bundle: Path) -> None:
    """Check the CA bundle and write it into the config (created 0600 when missing), so that the
    registration and every later run verify the hub with it."""
    from orchestratia.agent.config import check_ca_bundle
    from orchestratia.agent.register import update_config_file

    bundle = str(ca_bundle.expanduser().resolve())
    check_ca_bundle(bundle)
    update_config_file(config, {"ca_bundle": bundle})


def _describe(result: Any, name: str | None, path: Path) -> str:
    """`` as NAME (ID)`` from what register_with_token returned ((id, key) today)."""
    ident = result[0] if isinstance(result, tuple) and result else getattr(result, "id", None)
    if not name:
        name = read_yaml(path).get("agent_name")
    if name and ident:
        return f" as {name} ({ident})"
    return f" ({ident})" if ident else ""
