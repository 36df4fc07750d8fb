"""``orchestratia hub serve``: the web service (needs the ``hub`` extra; imported lazily)."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from orchestratia.protocol.json_logs import use_json_logs

from .errors import CliError, guard
from .tls import check_server_tls

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
        errors = getattr(exc, "errors", None)
        if callable(errors):
            parts = [f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')} (got {e.get('input')!r})" for e in errors()]
            raise CliError(f"invalid hub settings: {'; '.join(parts)}") from exc
        raise CliError(f"invalid hub settings: {' '.join(str(exc).split())}") from exc


def port_free(host: str, port: int) -> bool:
    """True when ``host:port`` can be bound now (uvicorn binds with SO_REUSEADDR too)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def _reachable(host: str, port: int, what: str, hint: str) -> None:
    try:
        with socket.create_connection((host, port), timeout=3.0):
            return
    except OSError as exc:
        raise CliError(f"cannot reach {what} at {host}:{port}: {exc.strerror or exc}; {hint}") from exc


def preflight(settings: Any) -> None:
    """Fail with one clear line before uvicorn starts (it would print a traceback): the TLS
    certificate and key must load, the data dir must be writable, PostgreSQL and Redis must
    accept connections."""
    check_server_tls(settings.ssl_certfile, settings.ssl_keyfile)
    url = settings.effective_database_url()
    if url.startswith("sqlite"):
        data = Path(settings.data_dir)
        try:
            data.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise CliError(f"cannot create the data dir {data}: {exc.strerror or exc}; pick another with --data-dir") from exc
        if not os.access(data, os.W_OK | os.X_OK):
            raise CliError(f"the data dir {data} is not writable: pick another with --data-dir")
    else:
        from sqlalchemy.engine import make_url

        try:
            parsed = make_url(url)
        except Exception as exc:  # noqa: BLE001 - SQLAlchemy's ArgumentError and friends
            raise CliError(f"invalid --database-url {url!r}: {exc}") from exc
        if parsed.host and not parsed.host.startswith("/"):
            _reachable(parsed.host, parsed.port or 5432, "the database", "is PostgreSQL running, and is --database-url right?")
    if settings.redis_url:
        from urllib.parse import urlsplit

        parts = urlsplit(settings.redis_url)
        if parts.hostname:
            _reachable(parts.hostname, parts.port or 6379, "Redis", "is it running, and is --redis-url right?")


def uvicorn_tls(settings: Any) -> dict[str, str]:
    """uvicorn's TLS arguments from the settings; none (plain HTTP) without a certificate."""
    if not settings.ssl_certfile:
        return {}
    tls = {"ssl_certfile": str(settings.ssl_certfile)}
    if settings.ssl_keyfile:
        tls["ssl_keyfile"] = str(settings.ssl_keyfile)
    return tls


def run_uvicorn(settings: Any, host: str, port: int, log_level: str = "info") -> None:
    """Serve the app in the foreground until Ctrl+C / SIGTERM."""
    _, create_app = import_hub()
    import uvicorn

    app_ = create_app(settings)
    config = uvicorn.Config(app_, host=host, port=port, log_level=log_level, proxy_headers=True, lifespan="on",
                            **uvicorn_tls(settings))
    if getattr(settings, "log_format", "text") == "json":  # uvicorn's handlers exist now: its first lines too
        use_json_logs()
    server = uvicorn.Server(config)
    try:
        server.run()
    except OSError as exc:
        raise CliError(f"cannot listen on {host}:{port}: {exc.strerror or exc}; pick another --port") from exc
    if not server.started:
        raise CliError(f"the hub did not start on {host}:{port} (see the log above)")


def _absolute(path: Path | None) -> str | None:
    return str(path.expanduser().resolve()) if path else None


@app.command("serve")
@guard
def serve(
    host: Annotated[Optional[str], typer.Option("--host", help="Address to listen on (default 127.0.0.1)")] = None,
    port: Annotated[Optional[int], typer.Option("--port", "-p", help="Port to listen on (default 8000)")] = None,
    data_dir: Annotated[Optional[Path], typer.Option("--data-dir", help="Where the SQLite database lives")] = None,
    database_url: Annotated[Optional[str], typer.Option("--database-url", help="e.g. postgresql+asyncpg://user@host/db")] = None,
    redis_url: Annotated[Optional[str], typer.Option("--redis-url", help="Redis for events across several hub replicas")] = None,
    log_level: Annotated[Optional[str], typer.Option("--log-level", help="debug, info, warning, error (default info)")] = None,
    ssl_certfile: Annotated[Optional[Path], typer.Option("--ssl-certfile", help="Serve HTTPS/WSS with this PEM certificate (chain)")] = None,
    ssl_keyfile: Annotated[Optional[Path], typer.Option("--ssl-keyfile", help="The certificate's PEM private key (unencrypted)")] = None,
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
        log_level=log_level,
        ssl_certfile=_absolute(ssl_certfile),
        ssl_keyfile=_absolute(ssl_keyfile),
    )
    preflight(settings)
    store_lock = hold_store(settings)  # SQLite: one hub process per file, held until we exit
    if settings.port and not port_free(settings.host, int(settings.port)):
        raise CliError(f"port {settings.port} on {settings.host} is already in use: stop what uses it or pick another with --port")
    try:
        run_uvicorn(settings, settings.host, int(settings.port), str(getattr(settings, "log_level", None) or "info").lower())
    finally:
        if store_lock is not None:
            store_lock.release()


def hold_store(settings: Any) -> Any:
    """The SQLite store's one-hub lock and a writable database (hub/store/guard.py), or one
    clear error line; None for PostgreSQL."""
    from orchestratia.hub.store.guard import StoreBusy, StoreNotWritable, open_sqlite_store

    try:
        return open_sqlite_store(settings.effective_database_url())
    except (StoreBusy, StoreNotWritable) as exc:
        raise CliError(str(exc)) from exc
