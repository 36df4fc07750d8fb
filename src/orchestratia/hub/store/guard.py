"""The SQLite store's guards (standard library only, so the CLI can use them before the hub runs):

* one hub process per SQLite file: an exclusive ``flock`` on ``<db>.lock``, held for the
  process's life, with the holder's pid inside. A second hub on the same file used to start
  silently and never run a task (the first one's scheduler and in-process index own them);
  several hubs need PostgreSQL;
* private files: the data dir 0700, the database and its ``-wal``, ``-shm`` and lock 0600
  (stored task output can hold credentials), also for a store made by an older version;
* a writable file: a hub on a read-only store used to start, answer every write with a 500
  and report itself healthy.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import sqlite3
import stat
from pathlib import Path
from typing import Any

log = logging.getLogger("orchestratia.hub.store")

LOCK_SUFFIX = ".lock"
SIDE_FILES = ("-wal", "-shm", LOCK_SUFFIX)


class StoreBusy(Exception):
    """Another process holds the store's lock. ``pid``: that process, when known."""

    def __init__(self, message: str, pid: int | None) -> None:
        super().__init__(message)
        self.pid = pid


class StoreNotWritable(Exception):
    """The store cannot be written; the message names the file and the cause."""


def sqlite_path(url: str) -> Path | None:
    """The database file of a ``sqlite`` URL; None for PostgreSQL, memory or ``file:`` URIs."""
    if not url.startswith("sqlite") or ":///" not in url:
        return None
    path = url.split(":///", 1)[1].split("?", 1)[0]
    if not path or path == ":memory:" or path.startswith("file:"):
        return None
    return Path(path).expanduser()


class PidLock:
    """An exclusive, non-blocking ``flock`` on ``path`` (created 0600) with our pid written in
    it. The kernel drops the lock when the process ends, however it ends (no stale locks)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> "PidLock":
        """Take the lock, or raise :class:`StoreBusy` with the holder's pid when known."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise
            pid = holder_pid(self.path)
            raise StoreBusy(f"{self.path} is locked by process {pid or '(unknown)'}", pid) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)  # closing the last descriptor releases the flock
            self._fd = None

    def __enter__(self) -> "PidLock":
        return self.acquire()

    def __exit__(self, *_exc: Any) -> None:
        self.release()


def holder_pid(path: Path) -> int | None:
    """The pid written in a lock file (None when unreadable or empty)."""
    try:
        text = path.read_text(encoding="ascii", errors="replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def lock_holder(path: Path) -> int | None:
    """The pid holding ``path`` now (0 when held by an unknown process), or None when free."""
    if not path.exists():
        return None
    try:
        with PidLock(path):
            return None
    except StoreBusy as busy:
        return busy.pid or 0


def lock_sqlite_store(db_path: Path) -> PidLock:
    """Hold the one-hub-per-SQLite-file lock until the returned lock is released (or the
    process ends); :class:`StoreBusy` with a message saying what to do otherwise."""
    db_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    lock = PidLock(db_path.with_name(db_path.name + LOCK_SUFFIX))
    try:
        return lock.acquire()
    except PermissionError as exc:
        raise StoreNotWritable(f"cannot open the lock file {lock.path}: {exc.strerror} ({file_facts(lock.path)})") from exc
    except StoreBusy as busy:
        who = f"process {busy.pid}" if busy.pid else "another process"
        raise StoreBusy(
            f"another hub ({who}) already serves the SQLite store {db_path}: SQLite serves one hub "
            f"process. Stop that one{f' (kill {busy.pid})' if busy.pid else ''}, give this one another "
            "--data-dir, or use PostgreSQL (--database-url) to run several hubs on one store", busy.pid) from None


def _tighten(path: Path, mode: int) -> str | None:
    """chmod ``path`` to ``mode`` when it grants more; a note of what changed, or None."""
    try:
        current = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return None
    if current & ~mode == 0:
        return None
    try:
        os.chmod(path, mode)
    except OSError as exc:  # not our file (another user made it): say so, go on
        log.warning("cannot restrict %s to %o (it is %o): %s", path, mode, current, exc.strerror or exc)
        return None
    return f"{path.name} {current:o} -> {mode:o}"


def secure_sqlite_files(db_path: Path, data_dir: Path | None = None) -> None:
    """The data dir 0700 (only when it is the database's own dir: a database elsewhere never
    changes its directory's mode), the database created 0600 before SQLite makes it (SQLite
    gives ``-wal`` and ``-shm`` the database's mode), existing files tightened, logged once."""
    parent = db_path.parent
    own_dir = data_dir is not None and parent.resolve() == Path(data_dir).expanduser().resolve()
    parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    changes = [_tighten(parent, 0o700)] if own_dir else []
    with contextlib.suppress(FileExistsError):
        os.close(os.open(db_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600))
    changes += [_tighten(db_path, 0o600)]
    changes += [_tighten(db_path.with_name(db_path.name + side), 0o600) for side in SIDE_FILES]
    done = [c for c in changes if c]
    if done:
        log.info("made the store private (others could read it): %s in %s", ", ".join(done), parent)


def check_sqlite_writable(db_path: Path) -> None:
    """Write to the database in a transaction that is rolled back; :class:`StoreNotWritable`
    naming the file and the cause (read-only, permission, disk) when that fails. A database
    that does not exist yet is created by the hub: its directory is checked instead."""
    if not db_path.exists() or db_path.stat().st_size == 0:
        if not os.access(db_path.parent, os.W_OK | os.X_OK):
            raise StoreNotWritable(f"cannot create the database {db_path}: its directory is not writable "
                                   "by this user; pick another --data-dir")
        return
    try:
        conn = sqlite3.connect(str(db_path), timeout=10, isolation_level=None)
    except sqlite3.Error as exc:
        raise StoreNotWritable(_not_writable(db_path, exc)) from exc
    try:
        conn.execute("BEGIN IMMEDIATE")
        # any page write needs write access; DDL rolls back like the rest in SQLite
        conn.execute("CREATE TABLE orchestratia_write_probe (x INTEGER)")
    except sqlite3.Error as exc:
        raise StoreNotWritable(_not_writable(db_path, exc)) from exc
    finally:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
        conn.close()


def _not_writable(db_path: Path, exc: BaseException) -> str:
    return f"the SQLite store {db_path} cannot be written: {' '.join(str(exc).split())} ({file_facts(db_path)})"


def file_facts(db_path: Path) -> str:
    """Who owns the database and its dir and with which mode, against who this process is: what
    an admin needs to fix a read-only or permission error."""
    facts = []
    for path in (db_path, db_path.parent):
        try:
            st = path.stat()
        except OSError as exc:
            facts.append(f"{path}: {exc.strerror or exc}")
            continue
        writable = "writable" if os.access(path, os.W_OK) else "read-only"
        facts.append(f"{path.name or path}: owner uid {st.st_uid}, mode {stat.S_IMODE(st.st_mode):o}, {writable} for us")
    return "; ".join(facts) + f"; this process runs as uid {os.geteuid()}"


def secure_store(url: str, data_dir: Path | None) -> Path | None:
    """:func:`secure_sqlite_files` for a SQLite ``url``; its database file, or None."""
    db_path = sqlite_path(url)
    if db_path is not None:
        secure_sqlite_files(db_path, data_dir)
    return db_path


def open_sqlite_store(url: str) -> PidLock | None:
    """For ``hub serve`` before it binds its port: the store's lock (keep it for the process's
    life) and a writable database, or :class:`StoreBusy` / :class:`StoreNotWritable` with one
    clear message. None for PostgreSQL (several hubs may share it)."""
    db_path = sqlite_path(url)
    if db_path is None:
        return None
    lock = lock_sqlite_store(db_path)
    try:
        check_sqlite_writable(db_path)
    except BaseException:
        lock.release()
        raise
    return lock
