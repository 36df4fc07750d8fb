"""Whether the store can write, known cheaply: every write transaction reports its outcome to
:class:`WriteHealth` (``Database.write``), and ``probe.probe_write`` writes in a transaction
that is rolled back when nothing else wrote lately. ``/health`` and ``/readyz`` read it; a
store failure in a request becomes a 503 that says so (hub/health.py)."""

from __future__ import annotations

import sqlite3
import time

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError


#: SQLite result codes that mean the store itself fails (not the request)
_SQLITE_FAILURES = ("SQLITE_READONLY", "SQLITE_IOERR", "SQLITE_FULL", "SQLITE_CANTOPEN", "SQLITE_PERM",
                    "SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_CORRUPT", "SQLITE_NOTADB")
#: PostgreSQL SQLSTATEs (classes or codes) that mean the same: connection, resources, operator
#: intervention, system error, a read-only transaction, no privilege
_PG_FAILURES = ("08", "53", "57", "58", "25006", "42501")


def store_failure(exc: BaseException) -> str | None:
    """A short cause when ``exc`` says the store cannot serve (read-only, disk, connection);
    None when it is about the request (a constraint, a value) or not the store's at all."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        name = getattr(current, "sqlite_errorname", None)
        state = getattr(current, "sqlstate", None) or getattr(current, "pgcode", None)
        if isinstance(name, str) and name.startswith(_SQLITE_FAILURES):
            return _cause(current)
        if isinstance(state, str) and state.startswith(_PG_FAILURES):
            return _cause(current)
        if isinstance(current, (ConnectionError, InterfaceError)) or (
                isinstance(current, OperationalError) and not isinstance(current.orig, sqlite3.Error)):
            return _cause(current)
        current = getattr(current, "orig", None) or current.__cause__ or current.__context__
    return None


def _cause(exc: BaseException) -> str:
    if isinstance(exc, DBAPIError) and exc.orig is not None:
        exc = exc.orig
    message = " ".join(str(exc).split()) or type(exc).__name__
    if "readonly" in message or "read-only" in message:
        message += " (the store is read-only for the hub: check the owner and mode of its files)"
    return message[:300]


class WriteHealth:
    """The outcome of the store's latest write, and when it was learnt."""

    #: a failure is probed again after this long (the store may have come back)
    recheck_failed_s = 5.0

    def __init__(self) -> None:
        self.error: str | None = None
        self.checked_at = 0.0  # time.monotonic() of the latest outcome, 0: none yet

    def succeeded(self) -> None:
        self.error, self.checked_at = None, time.monotonic()

    def failed(self, exc: BaseException) -> None:
        """Record ``exc`` if it is a store failure (a request's own error changes nothing)."""
        cause = store_failure(exc)
        if cause is not None:
            self.error, self.checked_at = cause, time.monotonic()

    def stale(self, max_age_s: float) -> bool:
        """Whether to probe: nothing learnt within ``max_age_s`` (or a failure past its recheck)."""
        age = time.monotonic() - self.checked_at
        return self.checked_at == 0.0 or age > max_age_s or (self.error is not None and age > self.recheck_failed_s)
