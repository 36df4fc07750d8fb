"""Removing task workspaces: ``discard`` one (refusing to lose work unless forced), ``prune``
old finished ones, and measure the disk they use."""

from __future__ import annotations

import os
import secrets
import shutil
import time
from pathlib import Path
from typing import Callable

from . import _git
from ._lock import LOCK_DIR, repo_lock
from .errors import DiscardRefused, WorkspaceError
from .model import DiskUsage
from .naming import canonical_task_id, check_branch_name


def discard(path: str | os.PathLike[str], branch: str | None, *, force: bool = False,
            repo: str | os.PathLike[str] | None = None) -> None:
    """Remove the task worktree at ``path`` and delete its ``branch``.

    Refused (:class:`DiscardRefused`) when the branch has commits that are on no remote and on
    no other local branch, or the worktree has uncommitted files, unless ``force``. Never
    removes a repository's own checkout. ``repo`` locates the repository when ``path`` is
    already gone; ``branch`` None removes the worktree only."""
    path = Path(path)
    top = _toplevel(path) if path.is_dir() else None
    where = top or (Path(repo) if repo is not None else None)
    if where is None:
        raise WorkspaceError(f"{path} is not a worktree any more; give the repository to delete the branch from")
    common = _git.common_dir(where)
    if top is not None and _is_main_checkout(top, common):
        raise WorkspaceError(f"{path} is the repository's own checkout, not a task worktree: it is never removed")
    if branch is not None:
        branch = check_branch_name(branch)
    if not force:
        _refuse_if_work_would_be_lost(top, common, branch)
    root = (top or path).parent
    trash = None
    with repo_lock(root if root.is_dir() else Path(common), common):
        if top is not None:
            # Deleting 20,000 files took 0.3-27 s here (loaded server, ext4 with online discard):
            # under the lock that would hold up every task starting on this repo. A rename is
            # instant; git then forgets the worktree whose directory is gone, and the files are
            # deleted after the lock is released.
            trash = top.with_name(f".trash-{top.name}-{secrets.token_hex(4)}")
            os.rename(top, trash)
        _git.run(["worktree", "prune"], common)
        if branch is not None and _git.rev(common, f"refs/heads/{branch}") is not None:
            _git.run(["branch", "-D", "--", branch], common, what="deleting the task's branch")
    if trash is not None:
        _rmtree(trash)


def _rmtree(path: Path) -> None:
    """Delete ``path`` whole, also where the agent left read-only files or directories."""

    def retry(func, name, _exc) -> None:  # noqa: ANN001 - shutil's onerror signature
        try:
            os.chmod(os.path.dirname(name), 0o700)
            os.chmod(name, 0o700)
            func(name)
        except OSError:
            pass

    shutil.rmtree(path, onerror=retry)


def _toplevel(path: Path) -> Path | None:
    proc = _git.run(["rev-parse", "--show-toplevel"], path, check=False)
    return Path(proc.stdout.strip()) if proc.returncode == 0 and proc.stdout.strip() else None


def _is_main_checkout(top: Path, common: Path) -> bool:
    git_dir = (top / _git.run(["rev-parse", "--git-dir"], top).stdout.strip()).resolve()
    return git_dir == common


def _refuse_if_work_would_be_lost(top: Path | None, common: Path, branch: str | None) -> None:
    if top is not None:
        dirty = _git.run(["-c", "core.fsmonitor=false", "status", "--porcelain", "--untracked-files=normal"],
                         top).stdout
        if dirty.strip():
            count = len(dirty.splitlines())
            raise DiscardRefused(f"the worktree {top} has {count} uncommitted file(s); finish the task first "
                                 "or discard with --force")
    if branch is None or _git.rev(common, f"refs/heads/{branch}") is None:
        return
    # Commits reachable from the branch but from no remote-tracking ref and no other local
    # branch: exactly the work that deleting the branch would lose.
    out = _git.run(["rev-list", "--count", f"refs/heads/{branch}", "--not", "--remotes",
                    f"--exclude={branch}", "--branches"], common).stdout.strip()
    if int(out or 0) > 0:
        raise DiscardRefused(f"branch {branch} has {out} commit(s) that are on no remote (nor on another branch); "
                             "push it first, or discard with --force to delete them")


def prune(root: str | os.PathLike[str], keep_days: float, is_done: Callable[[str], bool], *,
          now: float | None = None) -> list[str]:
    """Remove the worktrees under ``root`` of tasks for which ``is_done(task_id)`` says finished
    and pushed or discarded, once untouched for ``keep_days``. Their branches stay (a ref costs
    nothing and the work stays reachable). Returns the task ids pruned."""
    root = Path(root)
    if not root.is_dir():
        return []
    cutoff = (time.time() if now is None else now) - keep_days * 86400
    pruned: list[str] = []
    for entry in sorted(root.iterdir()):
        if entry.name.startswith(".trash-") and entry.is_dir() and not entry.is_symlink():
            _rmtree(entry)  # a discard interrupted between its rename and its delete
            continue
        task_id = _task_dir_id(entry)
        if task_id is None or _last_touched(entry) > cutoff or not is_done(task_id):
            continue
        if _toplevel(entry) == entry.resolve():
            discard(entry, None, force=True)
        else:
            _rmtree(entry)  # a leftover of a failed creation: no git metadata
        pruned.append(task_id)
    return pruned


def _task_dir_id(entry: Path) -> str | None:
    if entry.name == LOCK_DIR or entry.is_symlink() or not entry.is_dir():
        return None
    try:
        task_id = canonical_task_id(entry.name)
    except WorkspaceError:
        return None
    return task_id if task_id == entry.name else None


def _last_touched(entry: Path) -> float:
    """The newest of the directory's and its git index's mtimes: ``finish`` writes the index
    (``git add -A``), so a finished task counts from its end, not its start."""
    times = [entry.stat().st_mtime]
    dotgit = entry / ".git"
    try:
        text = dotgit.read_text(errors="replace").strip()
        if text.startswith("gitdir:"):
            times.append((Path(text[len("gitdir:"):].strip()) / "index").stat().st_mtime)
    except OSError:
        pass
    return max(times)


def disk_usage(root: str | os.PathLike[str]) -> DiskUsage:
    """Bytes allocated on disk under ``root`` (hard links counted once), per task directory."""
    root = Path(root)
    seen: set[tuple[int, int]] = set()
    by_task: dict[str, int] = {}
    total = 0
    if not root.is_dir():
        return DiskUsage()
    for entry in root.iterdir():
        size = _tree_bytes(entry, seen)
        total += size
        if _task_dir_id(entry) is not None:
            by_task[entry.name] = size
    return DiskUsage(total_bytes=total, by_task=by_task)


def _tree_bytes(top: Path, seen: set[tuple[int, int]]) -> int:
    size = _blocks(top, seen)
    if top.is_dir() and not top.is_symlink():
        for dirpath, dirnames, filenames in os.walk(top):  # does not follow symlinks
            for name in (*dirnames, *filenames):
                size += _blocks(Path(dirpath) / name, seen)
    return size


def _blocks(p: Path, seen: set[tuple[int, int]]) -> int:
    try:
        st = p.lstat()
    except OSError:
        return 0
    key = (st.st_dev, st.st_ino)
    if key in seen:
        return 0
    seen.add(key)
    return st.st_blocks * 512
