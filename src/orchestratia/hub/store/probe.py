"""Writing to the store to learn whether it can: :func:`probe_write` (a transaction that is
rolled back, for /health when nothing else wrote lately) and :func:`require_writable` (at
start). Beside :mod:`.writable`, which only records outcomes, so that the engine can import
that without importing this back."""

from __future__ import annotations

import time

from sqlalchemy import text

from orchestratia.hub.store.engine import Database
from orchestratia.hub.store.guard import StoreNotWritable, file_facts, sqlite_path
from orchestratia.hub.store.writable import store_failure


class _RolledBack(Exception):
    pass


async def probe_write(db: Database) -> str | None:
    """Write to the store in a transaction that is rolled back (the schema's version row,
    updated to itself: any store needs write access for it, no data changes). The cause of a
    failure, or None; the outcome is recorded in ``db.write_health`` either way."""
    try:
        async with db.write() as session:
            await session.execute(text("UPDATE alembic_version SET version_num = version_num"))
            raise _RolledBack
    except _RolledBack:
        db.write_health.succeeded()
        return None
    except Exception as exc:  # noqa: BLE001 - every failure is an answer here
        cause = store_failure(exc) or " ".join(str(exc).split())[:300]
        db.write_health.error, db.write_health.checked_at = cause, time.monotonic()
        return cause


async def require_writable(db: Database) -> None:
    """At start: :class:`StoreNotWritable` naming the store and the cause when a write fails
    (before, the hub started, then answered every write with a 500 and a green /health)."""
    cause = await probe_write(db)
    if cause is None:
        return
    db_path = sqlite_path(db.url)
    where = f"the SQLite store {db_path}" if db_path else "the database"
    facts = f" ({file_facts(db_path)})" if db_path else ""
    raise StoreNotWritable(f"{where} cannot be written: {cause}{facts}")
