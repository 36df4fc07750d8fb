"""``orchestratia hub backup FILE`` / ``hub restore FILE``: a copy of the hub's store and back
(the work is in ``orchestratia.hub.store.backup``; imported lazily, it needs the ``hub`` extra)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from .errors import CliError, guard

DataDir = Annotated[Optional[Path], typer.Option("--data-dir", help="The hub's data dir (SQLite store)")]
DatabaseUrl = Annotated[Optional[str], typer.Option("--database-url", help="e.g. postgresql+asyncpg://user@host/db "
                                                                           "(schema: ORCHESTRATIA_DATABASE_SCHEMA)")]
Force = Annotated[bool, typer.Option("--force", help="Replace what exists (backup: the file; restore: the store)")]


def _store(data_dir: Path | None, database_url: str | None) -> Any:
    """The store the hub would use with these flags and the ORCHESTRATIA_* environment."""
    from . import cmd_hub

    if data_dir is not None and database_url is not None:
        raise CliError("give either --data-dir (SQLite) or --database-url, not both")
    settings = cmd_hub.build_settings(data_dir=str(data_dir.expanduser().resolve()) if data_dir else None,
                                      database_url=database_url)
    module = _backup_module()
    return module.Store(settings.effective_database_url(), settings.database_schema)


def _backup_module() -> Any:
    from . import cmd_hub

    try:
        from orchestratia.hub.store import backup
    except ImportError as exc:
        raise CliError(f"{cmd_hub.HUB_EXTRA_HINT} ({exc})") from exc
    return backup


def _call(fn: Any, *args: Any) -> Any:
    try:
        return fn(*args)
    except _backup_module().BackupError as exc:
        raise CliError(str(exc)) from exc
    except OSError as exc:
        raise CliError(f"{exc.filename or 'the store'}: {exc.strerror or exc}") from exc


def _say(text: str) -> None:
    sys.stdout.write(text + "\n")


def backup_cmd(
    file: Annotated[Path, typer.Argument(help="The backup file to write (created 0600)")],
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    force: Force = False,
) -> None:
    """Write a consistent copy of the hub's store to FILE; the hub may keep running."""
    store = _store(data_dir, database_url)
    done = _call(_backup_module().backup, store, file.expanduser().absolute(), force)
    _say(f"backed up the {done.kind} store (schema {done.revision}) to {done.path} ({done.size:,} bytes)")


def restore_cmd(
    file: Annotated[Path, typer.Argument(help="A file written by `orchestratia hub backup`")],
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    force: Force = False,
) -> None:
    """Put a backup into the hub's store. The hub must be stopped; an existing store needs --force."""
    store = _store(data_dir, database_url)
    done = _call(_backup_module().restore, store, file.expanduser().absolute(), force)
    _say(f"restored the {done.kind} backup (schema {done.revision}) from {file}; start the hub: it brings the "
         "schema up to date")


def register(app: typer.Typer) -> None:
    """Add ``backup`` and ``restore`` to the ``hub`` command group."""
    app.command("backup")(guard(backup_cmd))
    app.command("restore")(guard(restore_cmd))
