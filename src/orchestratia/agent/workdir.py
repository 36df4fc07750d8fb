"""The working directory of a task with no repo: made fresh for it (``$TMPDIR/orc-<id[:8]>-*``,
0700) and removed, with the task's records, once the hub has its report (:func:`retire`)."""

from __future__ import annotations

import logging
import os
import shutil
import stat
import tempfile
from pathlib import Path

from .tasks import TaskRun

log = logging.getLogger("orchestratia.agent")


def temp_dir_prefix(task_id: str) -> str:
    return f"orc-{task_id[:8]}-"


def make_temp_dir(task_id: str) -> str:
    """A fresh working directory for a task with no repo (0700, under ``$TMPDIR``)."""
    return tempfile.mkdtemp(prefix=temp_dir_prefix(task_id))


def _make_writable(top: Path) -> None:
    """Give the owner rwx on ``top`` and every directory under it (symlinks untouched), so that
    what a task left read-only (e.g. a Go module cache) can be removed. Top-down: a directory is
    made readable before the walk lists it."""
    def allow(d: str) -> None:
        try:
            if not os.path.islink(d):
                os.chmod(d, os.stat(d).st_mode | stat.S_IRWXU)
        except OSError:
            pass

    allow(str(top))
    for root, dirs, _files in os.walk(top):
        for name in dirs:
            allow(os.path.join(root, name))


def remove_temp_dir(run: TaskRun) -> bool:
    """Remove the task's temporary working directory with everything in it. Only a directory
    named for this task (``orc-<id[:8]>-*``, not a symlink) is removed. True when it is gone."""
    if not run.temp_dir:
        return True
    path = Path(run.temp_dir)
    if not path.name.startswith(temp_dir_prefix(run.id)) or path.is_symlink():
        log.warning("task %s: not removing %s: not a working directory made for this task", run.id, path)
        return False
    for attempt in (1, 2):
        if not os.path.lexists(path):
            return True
        try:
            shutil.rmtree(path)
            return True
        except OSError as err:
            if attempt == 2:
                log.warning("task %s: could not remove its temporary working directory %s: %s", run.id, path, err)
                return False
            _make_writable(path)
    return False


def retire(run: TaskRun) -> None:
    """After the hub has the report: the temporary working directory (if any), then every file
    in pid_dir for the task. The records go last, so a daemon stopped in between adopts the task
    again, reports it again (the hub answers 409) and retries. Blocking (a big directory)."""
    remove_temp_dir(run)
    run.files.cleanup()
