"""One ``orchestratia up`` per data dir: a second one (a first-time user ran it in two terminals
and got two hubs and two daemons on one agent) stops at once and says who runs it.

``up`` holds an exclusive lock on ``DATA_DIR/up.lock`` for its life (the kernel drops it when
``up`` ends, however it ends); a hub already serving the data dir on its own (``hub serve``,
which holds the store's lock, hub/store/guard.py) is refused too."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import CliError

UP_LOCK = "up.lock"


def hold_single_instance(data: Path) -> Any:
    """The held lock (keep it until ``up`` ends), or a CliError naming the running process."""
    from orchestratia.hub.settings import load_settings
    from orchestratia.hub.store.guard import LOCK_SUFFIX, PidLock, StoreBusy, lock_holder, sqlite_path

    lock = PidLock(data / UP_LOCK)
    try:
        lock.acquire()
    except StoreBusy as busy:
        pid = busy.pid
        how = f"kill {pid}" if pid else "stop that process"
        raise CliError(f"orchestratia up is already running for {data} (pid {pid or 'unknown'}); "
                       f"stop it with Ctrl+C in its terminal or {how}") from None
    db_path = sqlite_path(load_settings(data_dir=str(data)).effective_database_url())
    hub_pid = lock_holder(db_path.with_name(db_path.name + LOCK_SUFFIX)) if db_path else None
    if hub_pid is not None:
        lock.release()
        pid = str(hub_pid) if hub_pid else "unknown"
        raise CliError(f"a hub is already running on {data} (pid {pid}); stop it (Ctrl+C in its terminal"
                       f"{f' or kill {hub_pid}' if hub_pid else ''}) or give `up` another --data-dir")
    return lock
