"""``orchestratia hub serve``: the web service (needs the ``hub`` extra; imported lazily)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from .errors import CliError, guard

app = typer.Typer(help="The hub: the web service, admin dashboard and agent API.", no_args_is_help=True)

HUB_EXTRA_HINT = "the hub needs the `hub` extra: pip install 'orchestratia[hub]' (or run ./scripts/up.sh)"


def import_hub() -> tuple[Any, Any]:
    """``(load_settings, create_app)``, or a CliError saying what to install."""
    try:
        from orchestratia.hub.app import create_app
        from orchestratia.hub.settings import load_settings
    except ImportError as exc:
        raise CliError(f"{HUB_EXTRA_HINT} ({exc})") from exc
    return load_settings, create_app


def build_settings(**overrides: Any) -> Any:
    load_settings, _ = import_hub()
    clean = {key: value for key, value in overrides.items() if value is not None}
    try:
        return load_settings(**clean)
    except Exception as exc:  # pydantic ValidationError and friends: one line
        raise CliError(f"invalid hub settings: {' '.join(str(exc).split())}") from exc


def run_uvicorn(settings: Any, host: str, port: int, log_level: str = "info") -> None:
    """Serve the app in the foreground until Ctrl+C / SIGTERM."""
    _, create_app = import_hub()
    import uvicorn

    app_ = create_app(settings)
    config = uvicorn.Config(app_, host=host, port=port, log_level=log_level, proxy_headers=True, lifespan="on")
    server = uvicorn.Server(config)
    try:
        server.run()
    except OSError as exc:
        raise CliError(f"cannot listen on {host}:{port}: {exc.strerror or exc}; pick another --port") from exc
    if not server.started:
        raise CliError(f"the hub did not start on {host}:{port} (see the log above)")


@app.command("serve")
@guard
def serve(
    host: Annotated[Optional[str], typer.Option("--host", help="Address to listen on (default 127.0.0.1)")] = None,
    port: Annotated[Optional[int], typer.Option("--port", "-p", help="Port to listen on (default 8000)")] = None,
    data_dir: Annotated[Optional[Path], typer.Option("--data-dir", help="Where the SQLite database lives")] = None,
    database_url: Annotated[Optional[str], typer.Option("--database-url", help="e.g. postgresql+asyncpg://user@host/db")] = None,
    redis_url: Annotated[Optional[str], typer.Option("--redis-url", help="Redis for events across several hub replicas")] = None,
    log_level: Annotated[str, typer.Option("--log-level", help="debug, info, warning, error")] = "info",
) -> None:
    """Run the hub in the foreground (settings also come from ORCHESTRATIA_* variables)."""
    if data_dir is not None and database_url is not None:
        raise CliError("give either --data-dir (SQLite) or --database-url, not both")
    settings = build_settings(
        host=host,
        port=port,
        data_dir=str(data_dir.expanduser().resolve()) if data_dir else None,
        database_url=database_url,
        redis_url=redis_url,
    )
    run_uvicorn(settings, getattr(settings, "host", host or "127.0.0.1"), int(getattr(settings, "port", port or 8000)), log_level)
