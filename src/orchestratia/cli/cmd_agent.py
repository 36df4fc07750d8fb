"""``orchestratia agent run`` / ``register``: the daemon (imported lazily)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from .errors import CliError, guard
from .paths import config_dir

app = typer.Typer(help="The agent daemon on a dev server: register, run.", no_args_is_help=True)

SYSTEM_CONFIG = Path("/etc/orchestratia/config.yaml")
#: the environment variable naming the agent's config (daemon.py reads it too)
CONFIG_ENV = "ORCHESTRATIA_AGENT_CONFIG"
CONFIG_HELP = ("config.yaml (default: $ORCHESTRATIA_AGENT_CONFIG; else /etc/orchestratia/config.yaml as root or "
               "when it exists; else ~/.config/orchestratia/config.yaml)")


def config_location(option: Path | None) -> tuple[Path, str]:
    """The agent's config and why: ``--config``, else ``$ORCHESTRATIA_AGENT_CONFIG``, else
    ``/etc/orchestratia/config.yaml`` for root (whatever HOME says: the service reads it) or
    when it exists, else ``$XDG_CONFIG_HOME/orchestratia/config.yaml`` (``~/.config``)."""
    if option is not None:
        return option.expanduser().absolute(), "--config"
    if os.environ.get(CONFIG_ENV):
        return Path(os.environ[CONFIG_ENV]).expanduser().absolute(), f"${CONFIG_ENV}"
    if os.geteuid() == 0:
        return SYSTEM_CONFIG, "running as root: the system config, whatever HOME is; --config to choose"
    if SYSTEM_CONFIG.exists():
        return SYSTEM_CONFIG, f"{SYSTEM_CONFIG} exists; --config to choose"
    return (config_dir() / "config.yaml").absolute(), "not root: your user config; --config to choose"


def default_config_path() -> Path:
    return config_location(None)[0]


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
    config: Annotated[Optional[Path], typer.Option("--config", "-c", help=CONFIG_HELP)] = None,
) -> None:
    """Run the daemon in the foreground: heartbeats, tasks, output streaming."""
    from orchestratia.agent.daemon import run_daemon

    path = config_location(config)[0]
    try:
        code: Any = run_daemon(str(path))
    except _agent_errors() as exc:
        raise _config_error(exc) from exc
    if isinstance(code, int) and code:
        raise typer.Exit(code)


@app.command("reload")
@guard
def reload(
    config: Annotated[Optional[Path], typer.Option("--config", "-c", help=CONFIG_HELP)] = None,
) -> None:
    """Make the running daemon re-read its config (repos, runners, labels) and tell the hub:
    sends it SIGHUP (its pid file is in session.pid_dir). A bad config is refused by the daemon,
    which keeps the old one and logs the key."""
    from orchestratia.agent.config import load_config
    from orchestratia.agent.reload import signal_reload

    path = config_location(config)[0]
    try:
        pid = signal_reload(load_config(path))
    except _agent_errors() as exc:
        raise _config_error(exc) from exc
    typer.echo(f"Asked the agent daemon (pid {pid}) to reload {path}; its log says what changed.")


@app.command("register")
@guard
def register(
    token: Annotated[str, typer.Argument(metavar="TOKEN", help="The one-time registration token (orcreg_...)")],
    config: Annotated[Optional[Path], typer.Option("--config", "-c", help=f"{CONFIG_HELP}; created or updated, mode 0600")] = None,
    name: Annotated[Optional[str], typer.Option("--name", "-n", help="Agent name (default: the config's agent_name, or the hostname)")] = None,
    repo: Annotated[Optional[list[str]], typer.Option("--repo", "-r", metavar="NAME=PATH", help="A repository this server works on (an existing directory); repeat for more. Tasks name it with --repo NAME")] = None,
    replace: Annotated[bool, typer.Option("--replace", help="Take the name even from a live agent: the hub revokes its key and this server gets its name and tasks")] = False,
    ca_bundle: Annotated[Optional[Path], typer.Option("--ca-bundle", help="PEM file of the CA that signed the hub's TLS certificate; saved as ca_bundle in the config")] = None,
) -> None:
    """Register this server with the hub named in TOKEN: saves the API key, the --repo
    repositories and the agent CLIs found on PATH (claude, codex, gemini, aider) in the config."""
    import shutil
    import sys

    from orchestratia.agent.enroll import enroll, parse_repos, summary

    path, why = config_location(config)
    try:
        parse_repos(repo or [])  # a bad --repo is reported before anything is written
        if ca_bundle is not None:
            _save_ca_bundle(path, ca_bundle)
        done = enroll(token, path, name=name, repo_specs=repo or [], replace=replace)
    except _agent_errors() as exc:
        raise _config_error(exc) from exc
    argv0 = Path(sys.argv[0])  # the program running now, for the service's ExecStart
    executable = str(argv0.absolute()) if argv0.name == "orchestratia" else shutil.which("orchestratia") or "orchestratia"
    for line in summary(done, why, executable):
        typer.echo(line)


def _save_ca_bundle(config: Path, ca_bundle: Path) -> None:
    """Check the CA bundle and write it into the config (created 0600 when missing), so that the
    registration and every later run verify the hub with it."""
    from orchestratia.agent.config import check_ca_bundle
    from orchestratia.agent.register import update_config_file

    bundle = str(ca_bundle.expanduser().resolve())
    check_ca_bundle(bundle)
    update_config_file(config, {"ca_bundle": bundle})
