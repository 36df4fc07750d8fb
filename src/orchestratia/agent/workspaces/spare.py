"""A spare worktree per repository, so that a task's start does not wait for its checkout.

Writing every file is nearly all of a worktree's cost: 0.7 s at best for 20,000 files, several
seconds on a loaded server. ``warm_spare`` checks out a spare, detached worktree ahead of time
(in the daemon's idle time, e.g. right after a task started); the next ``prepare`` on that repo
moves it into place (a rename) and switches it to the task's branch and base, which rewrites
only the files that differ. Without a spare, ``prepare`` makes a fresh worktree as before.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from pathlib import Path

from . import _git
from ._lock import ensure_private_dir, repo_lock
from .model import WorkspaceSpec
from .repo import probe, resolve_base

SPARE_PREFIX = ".spare-"


def spare_path(root: Path, common: Path) -> Path:
    """Where the spare of the repository whose shared git dir is ``common`` lives."""
    return root / f"{SPARE_PREFIX}{hashlib.sha256(os.fsencode(str(common))).hexdigest()[:16]}"


def warm_spare(spec: WorkspaceSpec, checkout_workers: int = 4) -> Path | None:
    """Make sure the repo of ``spec`` has a spare worktree (detached at the commit the next task
    would start from); return it, or None when the repo gets no worktrees (in place, not git).

    The checkout runs outside the repository's lock (it writes only the spare's own files and
    index), so tasks starting meanwhile are not held up; only the two metadata steps lock."""

    if spec.kind == "in_place":
        return None
    found = probe(Path(spec.repo).expanduser())
    if isinstance(found, str):
        return None
    top = found[0]
    _, base = resolve_base(spec, top)
    root = ensure_private_dir(Path(spec.root).expanduser())
    common = _git.common_dir(top)
    spare = spare_path(root, common)
    if spare.is_dir():
        return spare
    tmp = Path(f"{spare}.tmp-{secrets.token_hex(4)}")
    with repo_lock(root, common):
        _git.run(["worktree", "add", "--quiet", "--no-checkout", "--detach", str(tmp), base], top)
    os.chmod(tmp, 0o700)
    try:
        _git.run(["-c", f"checkout.workers={checkout_workers}", "reset", "--quiet", "--hard", base], tmp,
                 what="checking out the spare worktree")
        with repo_lock(root, common):
            if not spare.exists():
                _git.run(["worktree", "move", str(tmp), str(spare)], top)
                return spare
    except Exception:
        _remove(top, root, common, tmp)
        raise
    _remove(top, root, common, tmp)  # another warm_spare won the race
    return spare


def take_spare(top: Path, spare: Path, dest: Path) -> bool:
    """Move the spare to ``dest`` (call under the repo's lock); False when there is none or it
    cannot be moved (then the caller makes a fresh worktree)."""
    if not spare.is_dir():
        return False
    return _git.run(["worktree", "move", str(spare), str(dest)], top, check=False).returncode == 0


def _remove(top: Path, root: Path, common: Path, path: Path) -> None:
    with repo_lock(root, common):
        _git.run(["worktree", "remove", "--force", "--force", str(path)], top, check=False)
