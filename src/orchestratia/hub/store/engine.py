"""Engine factory and the :class:`Database` handle.

SQLite: WAL, ``busy_timeout``, foreign keys on, and all writes serialized through one
asyncio lock (SQLite has a single writer; queueing in-process is cheaper and fairer than
``database is locked`` retries). PostgreSQL: asyncpg, optional schema via ``search_path``.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool

from orchestratia.hub.json_safety import load_stored
from orchestratia.hub.store.writable import WriteHealth, store_failure

_SCHEMA_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_engine(url: str, schema: str | None = None) -> AsyncEngine:
    """An async engine for ``url`` (``sqlite+aiosqlite://`` or ``postgresql+asyncpg://``)."""
    if url.startswith("sqlite"):
        _ensure_sqlite_dir(url)
        engine = create_async_engine(url, connect_args={"timeout": 30}, json_deserializer=load_stored,
                                     hide_parameters=True)  # values in logs and errors can be secrets
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    connect_args: dict[str, Any] = {}
    if schema:
        if not _SCHEMA_RE.match(schema):
            raise ValueError(f"invalid database schema name: {schema!r}")
        connect_args["server_settings"] = {"search_path": schema}
    return create_async_engine(url, connect_args=connect_args, pool_pre_ping=True, pool_size=10, max_overflow=20,
                               json_deserializer=load_stored, hide_parameters=True)


def _ensure_sqlite_dir(url: str) -> None:
    path = url.split(":///", 1)[-1] if ":///" in url else ""
    if path and path != ":memory:" and not path.startswith("file:"):
        Path(path).expanduser().parent.mkdir(parents=True, exist_ok=True, mode=0o700)


class Database:
    """The store handle: ``read()`` and ``write()`` give sessions; writes commit on exit."""

    def __init__(self, url: str, schema: str | None = None) -> None:
        self.url = url
        self.schema = schema
        self.is_sqlite = url.startswith("sqlite")
        self.engine = make_engine(url, schema)
        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._write_lock = asyncio.Lock()
        #: the latest write's outcome, for /health and /readyz (store/writable.py)
        self.write_health = WriteHealth()
        #: transactions that failed for the store's own reasons, by "read" / "write" (/metrics)
        self.failures: collections.Counter[str] = collections.Counter()

    async def ensure_schema(self) -> None:
        """PostgreSQL with a schema: create it when missing (before migrations)."""
        if self.is_sqlite or not self.schema:
            return
        admin = create_async_engine(self.url, poolclass=NullPool)
        try:
            async with admin.begin() as conn:
                await conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"'))
        finally:
            await admin.dispose()

    @contextlib.asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        try:
            async with self._sessions() as session:
                yield session
        except Exception as exc:
            self.failures["read"] += store_failure(exc) is not None
            raise

    @contextlib.asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """A session in a transaction, committed on success, rolled back on error.

        On SQLite the whole transaction holds the hub's single-writer lock."""
        lock = self._write_lock if self.is_sqlite else None
        if lock is not None:
            await lock.acquire()
        try:
            async with self._sessions() as session:
                async with session.begin():
                    yield session
            self.write_health.succeeded()
        except Exception as exc:
            self.write_health.failed(exc)  # counts only when the store itself failed
            self.failures["write"] += store_failure(exc) is not None
            raise
        finally:
            if lock is not None:
                lock.release()

    async def dispose(self) -> None:
        await self.engine.dispose()
