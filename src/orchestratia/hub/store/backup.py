"""Backup and restore of the hub's store (``orchestratia hub backup`` / ``hub restore``).

SQLite: an online-consistent copy through SQLite's own backup API (the stdlib's
``Connection.backup``, in one step: it reads one snapshot while the hub keeps writing, WAL
readers never block the writer), written 0600, checked, and renamed into place.

PostgreSQL: ``pg_dump --format=custom`` of the hub's schema and ``pg_restore``. Chosen over a
dump of our own through SQLAlchemy because pg_dump reads one snapshot of the whole schema, keeps
the sequences (``output_chunks.id``), types and indexes exactly, streams output of any size, and
is the file PostgreSQL operators already know how to inspect and restore by hand. The cost: the
client tools must be on PATH (``apt install postgresql-client``), and a dump restores into the
schema it was taken from (checked, with a clear error).

The kind of a backup file is told by its magic bytes, so ``restore`` needs no flag for it.
Passwords never reach a command line (``ps`` shows them): the libpq tools get them in
``PGPASSWORD``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from orchestratia.hub.store.guard import LOCK_SUFFIX, PidLock, StoreBusy

SQLITE_MAGIC = b"SQLite format 3\x00"
PGDUMP_MAGIC = b"PGDMP"
_LIST_TABLE = re.compile(r"^\d+; \d+ \d+ TABLE (?!DATA )(\S+) (\S+) ")


class BackupError(Exception):
    """What went wrong and what to do; ``str()`` is the whole message for the user."""


@dataclass(frozen=True)
class Store:
    """Where the hub's data lives: a SQLite file, or a PostgreSQL URL and schema."""

    url: str
    schema: str | None = None

    @property
    def sqlite_file(self) -> Path | None:
        if not self.url.startswith("sqlite"):
            return None
        path = self.url.split(":///", 1)[1].split("?", 1)[0] if ":///" in self.url else ""
        if not path or path == ":memory:" or path.startswith("file:"):
            raise BackupError(f"cannot back up or restore the SQLite URL {self.url!r}: it names no file")
        return Path(path).expanduser()

    @property
    def pg_schema(self) -> str:
        return self.schema or "public"


@dataclass(frozen=True)
class Outcome:
    """What a backup or restore did, for the CLI to print."""

    kind: str  # "sqlite" or "postgresql"
    path: Path
    size: int
    revision: str | None


# ---------------------------------------------------------------- common
def known_revisions() -> list[str]:
    """The shipped Alembic revisions, oldest first."""
    from alembic.script import ScriptDirectory

    from orchestratia.hub.store.migrate import alembic_config

    script = ScriptDirectory.from_config(alembic_config())
    return [rev.revision for rev in reversed(list(script.walk_revisions()))]


def check_revision(revision: str | None, source: Path) -> None:
    """A backup the hub can start on: a hub store, not newer than this code knows."""
    if revision is None:
        raise BackupError(f"{source} holds no Orchestratia schema version (no alembic_version row): "
                          "it is not a hub store backup")
    if revision not in known_revisions():
        raise BackupError(f"{source} was made by a newer Orchestratia (schema {revision}, this one knows up to "
                          f"{known_revisions()[-1]}): upgrade orchestratia first, then restore")


def backup_kind(path: Path) -> str:
    try:
        with open(path, "rb") as fh:
            head = fh.read(16)
    except OSError as exc:
        raise BackupError(f"cannot read the backup {path}: {exc.strerror or exc}") from exc
    if head.startswith(SQLITE_MAGIC):
        return "sqlite"
    if head.startswith(PGDUMP_MAGIC):
        return "postgresql"
    raise BackupError(f"{path} is not an Orchestratia backup (neither a SQLite database nor a pg_dump "
                      "custom-format file)")


def _private_temp(dest: Path) -> Path:
    """An empty 0600 file beside ``dest`` (same filesystem, so the final rename is atomic)."""
    dest.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    os.close(fd)  # mkstemp creates it 0600
    return Path(name)


def _check_dest(dest: Path, force: bool) -> None:
    if dest.exists() and not force:
        raise BackupError(f"{dest} exists: pick a new file name, or pass --force to replace it")


def backup(store: Store, dest: Path, force: bool = False) -> Outcome:
    """Write a consistent backup of ``store`` to ``dest`` (mode 0600) while the hub runs."""
    _check_dest(dest, force)
    db = store.sqlite_file
    return backup_sqlite(db, dest) if db is not None else backup_postgres(store, dest)


def restore(store: Store, source: Path, force: bool = False) -> Outcome:
    """Put the backup ``source`` into ``store``; refuses a store a running hub holds, and an
    existing store unless ``force``."""
    kind = backup_kind(source)
    db = store.sqlite_file
    if (kind == "sqlite") != (db is not None):
        target = "a SQLite data dir" if db is not None else "PostgreSQL"
        raise BackupError(f"{source} is a {kind} backup but the target store is {target}: restore it into the "
                          f"same kind of store (--data-dir for SQLite, --database-url for PostgreSQL)")
    return restore_sqlite(source, db, force) if db is not None else restore_postgres(store, source, force)


# ---------------------------------------------------------------- SQLite
def _sqlite_revision(conn: sqlite3.Connection) -> str | None:
    try:
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.OperationalError:
        return None
    return row[0] if row else None


def _copy_sqlite(src_path: Path, dest: Path, what: str) -> str | None:
    """SQLite backup API ``src_path`` → ``dest`` (an existing 0600 file), then a rollback-journal
    copy (one self-contained file) checked with ``quick_check``. The copy's schema revision."""
    try:
        with contextlib.closing(sqlite3.connect(str(src_path), timeout=30)) as src, \
                contextlib.closing(sqlite3.connect(str(dest))) as dst:
            src.backup(dst)  # pages=-1: the whole database from one read snapshot
            dst.execute("PRAGMA journal_mode=DELETE")
            check = dst.execute("PRAGMA quick_check").fetchone()[0]
            revision = _sqlite_revision(dst)
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"cannot copy {what} {src_path}: {exc}") from exc
    if check != "ok":
        raise BackupError(f"the copy of {what} {src_path} failed SQLite's integrity check: {check}")
    return revision


def backup_sqlite(db: Path, dest: Path) -> Outcome:
    if not db.is_file():
        raise BackupError(f"there is no SQLite store at {db}: is --data-dir right (the hub's data dir)?")
    tmp = _private_temp(dest)
    try:
        revision = _copy_sqlite(db, tmp, "the store")
        check_revision(revision, db)
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return Outcome("sqlite", dest, dest.stat().st_size, revision)


@contextlib.contextmanager
def store_lock(db: Path) -> Iterator[None]:
    """Hold the store's one-hub lock (``guard.PidLock`` on ``<db>.lock``) for the restore: refuse
    when a hub holds it, and keep a hub from starting on a half-written store."""
    try:
        with PidLock(db.with_name(db.name + LOCK_SUFFIX)):
            yield
    except StoreBusy as busy:
        raise BackupError(f"a running hub (process {busy.pid or 'unknown'}) holds the store {db}: stop it "
                          "first, then restore") from None


def in_use(db: Path) -> bool:
    """True when another process has the database open. A hub keeps WAL connections open, and
    SQLite refuses to leave WAL mode while any other connection is open (measured: "database
    is locked" at once with one idle reader elsewhere; ``delete`` once it closed). The probe
    changes only the journal mode of a store that is about to be replaced."""
    try:
        with contextlib.closing(sqlite3.connect(str(db), timeout=0.5, isolation_level=None)) as conn:
            conn.execute("PRAGMA journal_mode=DELETE").fetchone()
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc) or "busy" in str(exc):
            return True
        raise BackupError(f"cannot open the store {db}: {exc}") from exc
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{db} is not a SQLite database ({exc}): is --data-dir right?") from exc
    return False


def restore_sqlite(source: Path, db: Path, force: bool) -> Outcome:
    db.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with store_lock(db):
        if db.exists() and db.stat().st_size > 0:
            if not force:
                raise BackupError(f"the store {db} exists: restore into an empty --data-dir, or stop the hub and "
                                  "pass --force to replace it (back it up first)")
            if in_use(db):
                raise BackupError(f"a running process (a hub?) has the store {db} open: stop it first, then restore")
        tmp = _private_temp(db)
        try:
            revision = _copy_sqlite(source, tmp, "the backup")
            check_revision(revision, source)
            # a stale write-ahead log of the old database must never be replayed into the new one
            for side in ("-wal", "-shm"):
                db.with_name(db.name + side).unlink(missing_ok=True)
            os.replace(tmp, db)
        finally:
            tmp.unlink(missing_ok=True)
    return Outcome("sqlite", db, db.stat().st_size, revision)


# ---------------------------------------------------------------- PostgreSQL
def _pg_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BackupError(f"{name} is not on PATH: install the PostgreSQL client tools (Debian: "
                          f"sudo apt install postgresql-client, the same major version as the server or newer)")
    return path


def _pg_env(url: str) -> dict[str, str]:
    """libpq's environment for ``url`` (the password goes here, never on a command line)."""
    from sqlalchemy.engine import make_url

    try:
        parsed = make_url(url)
    except Exception as exc:  # noqa: BLE001 - SQLAlchemy's ArgumentError and friends
        raise BackupError(f"invalid --database-url: {exc}") from exc
    env = dict(os.environ)
    pairs = {"PGHOST": parsed.host, "PGPORT": parsed.port, "PGUSER": parsed.username,
             "PGPASSWORD": parsed.password, "PGDATABASE": parsed.database}
    if not parsed.database:
        raise BackupError("the --database-url names no database (postgresql+asyncpg://user@host/DATABASE)")
    env.update({key: str(value) for key, value in pairs.items() if value is not None})
    ssl = parsed.query.get("sslmode") or parsed.query.get("ssl")
    if isinstance(ssl, str):
        env["PGSSLMODE"] = ssl
    return env


def _run(argv: list[str], env: dict[str, str], what: str) -> str:
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        detail = " ".join(proc.stderr.split())[-600:] or f"exit status {proc.returncode}"
        raise BackupError(f"{what} failed: {detail}")
    return proc.stdout


def backup_postgres(store: Store, dest: Path) -> Outcome:
    pg_dump = _pg_tool("pg_dump")
    env = _pg_env(store.url)
    tmp = _private_temp(dest)
    try:
        _run([pg_dump, "--format=custom", "--no-owner", "--no-acl", f"--schema={store.pg_schema}",
              f"--file={tmp}"], env, "pg_dump")
        schema, revision = dump_facts(tmp)
        check_revision(revision, dest)
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return Outcome("postgresql", dest, dest.stat().st_size, revision)


def dump_facts(path: Path) -> tuple[str | None, str | None]:
    """The schema of a custom-format dump's tables, and its Alembic revision (read offline)."""
    pg_restore = _pg_tool("pg_restore")
    listing = _run([pg_restore, "--list", str(path)], dict(os.environ), "reading the backup's contents")
    schemas = {m.group(1) for m in map(_LIST_TABLE.match, listing.splitlines()) if m}
    if not schemas:
        return None, None
    if len(schemas) > 1:
        raise BackupError(f"{path} holds tables of several schemas ({', '.join(sorted(schemas))}): "
                          "it is not a hub backup")
    schema = schemas.pop()
    data = _run([pg_restore, "--data-only", f"--schema={schema}", "--table=alembic_version", "--file=-", str(path)],
                dict(os.environ), "reading the backup's schema version")
    rows = data.split("FROM stdin;\n", 1)[1].split("\n\\.", 1)[0].split() if "FROM stdin;" in data else []
    return schema, (rows[0] if rows else None)


async def _pg_tables(url: str, schema: str) -> int:
    """How many tables ``schema`` holds now (0 when it does not exist)."""
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError
    from sqlalchemy.ext.asyncio import create_async_engine
    from sqlalchemy.pool import NullPool

    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            count = await conn.scalar(text("SELECT count(*) FROM information_schema.tables WHERE table_schema = :s"),
                                      {"s": schema})
            await conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
            await conn.commit()
    except (OSError, DBAPIError) as exc:
        raise BackupError(f"cannot reach PostgreSQL: {' '.join(str(exc).split())[:300]}; is --database-url right?") from exc
    finally:
        await engine.dispose()
    return int(count or 0)


def restore_postgres(store: Store, source: Path, force: bool) -> Outcome:
    pg_restore = _pg_tool("pg_restore")
    schema, revision = dump_facts(source)
    check_revision(revision, source)
    if schema != store.pg_schema:
        raise BackupError(f"{source} holds the schema {schema!r} but the target is {store.pg_schema!r}: a pg_dump "
                          f"restores into the schema it was taken from; set ORCHESTRATIA_DATABASE_SCHEMA={schema}")
    existing = asyncio.run(_pg_tables(store.url, store.pg_schema))
    if existing and not force:
        raise BackupError(f"the schema {store.pg_schema!r} already holds {existing} tables: restore into an empty "
                          "database or schema, or stop every hub replica and pass --force to replace it")
    # every entry but the schema itself and its comment (the schema is created above, it may exist
    # already, e.g. public, and only its owner may comment on it)
    listing = _run([pg_restore, "--list", str(source)], dict(os.environ), "reading the backup's contents")
    keep = [line for line in listing.splitlines() if " SCHEMA - " not in line and " COMMENT - SCHEMA " not in line]
    with tempfile.NamedTemporaryFile("w", suffix=".list") as toc:
        toc.write("\n".join(keep) + "\n")
        toc.flush()
        argv = [pg_restore, "--no-owner", "--no-acl", "--exit-on-error", "--single-transaction",
                f"--use-list={toc.name}", f"--dbname={_pg_env(store.url)['PGDATABASE']}"]
        if force:
            argv += ["--clean", "--if-exists"]
        _run([*argv, str(source)], _pg_env(store.url), "pg_restore")
    return Outcome("postgresql", source, source.stat().st_size, revision)
