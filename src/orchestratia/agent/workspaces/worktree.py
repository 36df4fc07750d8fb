"""Preparing a task's workspace: its own ``git worktree`` on a new branch, or in place.

The repository's own checkout is never touched: ``git worktree add`` writes only the new
directory, the new branch ref and ``.git/worktrees/<task-id>``, so the checkout's HEAD, current
branch, index and files (dirty or not) stay exactly as they were.
"""

from __future__ import annotations

import os
from pathlib import Path

from . import _git
from ._lock import ensure_private_dir, repo_lock
from .errors import GitError, WorkspaceError
from .model import Prepared, WorkspaceSpec
from .naming import branch_name, canonical_task_id, check_branch_name
from .repo import probe, repo_dir, resolve_base
from .spare import spare_path, take_spare

#: parallel checkout of the new worktree: writing the files is most of a worktree's cost, and
#: it waits in the kernel more than it computes. Measured on a 20,000-file repo (2-core VM under
#: load, ext4): 1 worker (git's default) 2.9-8.9 s, 4 workers 1.4-2.4 s, 8-16 no better.
CHECKOUT_WORKERS = 4


def prepare(spec: WorkspaceSpec, task_id: str, title: str) -> Prepared:
    """Make the workspace ``spec`` asks for and return where the agent runs."""
    task_id = canonical_task_id(task_id)
    repo = repo_dir(spec)
    found = probe(repo)
    if isinstance(found, str):
        return Prepared(kind="in_place", path=repo, repo=repo, task_id=task_id, note=found)
    top, prefix, head = found
    if spec.kind == "in_place":
        branch = _git.current_branch(top)
        return Prepared(kind="in_place", path=repo, repo=repo, task_id=task_id, branch=branch,
                        base_ref=branch or "HEAD", base_commit=head,
                        note="runs in place in the repo's own checkout (one task at a time there)")
    root = ensure_private_dir(Path(spec.root).expanduser())
    dest = root / task_id
    if spec.continue_branch is not None:
        branch, base_ref, base = _continue_branch(spec, top, dest)
    else:
        branch = branch_name(task_id, title)
        base_ref, base = resolve_base(spec, top)
        if _git.rev(top, f"refs/heads/{branch}") is not None:
            raise WorkspaceError(f"branch {branch} already exists (an earlier attempt at this task?): discard "
                                 f"it, or continue it with --branch {branch}")
        _add(top, root, dest, ["-b", branch, "--no-track"], base)
    return Prepared(kind="worktree", path=dest / prefix if prefix else dest, repo=repo, task_id=task_id,
                    branch=branch, base_ref=base_ref, base_commit=base)


def _continue_branch(spec: WorkspaceSpec, top: Path, dest: Path) -> tuple[str, str, str]:
    """Check out the existing branch ``spec.continue_branch`` (local, else fetched from the
    remote) into ``dest``: (branch, base_ref, commit it starts from)."""
    name = check_branch_name(spec.continue_branch or "")
    root = dest.parent
    if _git.rev(top, f"refs/heads/{name}") is not None:
        where = checked_out_at(top).get(name)
        if where is not None:
            raise WorkspaceError(f"branch {name} is already checked out at {where}: a branch can be checked out "
                                 "in one place at a time; finish or discard the task using it, or switch that "
                                 "checkout to another branch")
        _add(top, root, dest, [], name)
    else:
        remote_ref = f"refs/remotes/{spec.remote}/{name}"
        _fetch_branch(top, spec.remote, name, remote_ref)
        # Tracking is set by hand: `--track` refuses a remote ref outside the remote's fetch
        # refspec (a --single-branch clone), which is exactly when fetching it was needed.
        _add(top, root, dest, ["--no-track", "-b", name], remote_ref,
             then=[["config", f"branch.{name}.remote", spec.remote],
                   ["config", f"branch.{name}.merge", f"refs/heads/{name}"]])
    return name, name, _git.rev(dest, "HEAD") or ""


def _fetch_branch(top: Path, remote: str, name: str, remote_ref: str) -> None:
    remotes = _git.run(["remote"], top).stdout.split()
    if remote not in remotes:
        raise WorkspaceError(f"branch {name} is not a local branch of {top}, and the repo has no remote "
                             f"{remote!r} to fetch it from (remotes: {', '.join(remotes) or 'none'})")
    proc = _git.run(["fetch", "--no-tags", "--quiet", remote, f"+refs/heads/{name}:{remote_ref}"], top,
                    check=False, timeout=_git.NETWORK_TIMEOUT)
    if proc.returncode != 0:
        if "couldn't find remote ref" in proc.stderr:
            raise WorkspaceError(f"there is no branch {name} in {top} nor on {remote}; check the name "
                                 "(git branch -a)")
        raise WorkspaceError(f"fetching branch {name} from {remote} failed: {_git.first_error(proc.stderr)}")


def _add(top: Path, root: Path, dest: Path, opts: list[str], start: str,
         then: list[list[str]] | None = None) -> None:
    """Make ``dest`` a worktree checked out with ``opts`` at ``start`` (the options of both
    ``git worktree add`` and ``git checkout``: ``-b NAME``, ``--no-track``), from the repo's
    spare when it has one, then run the git commands ``then`` (which write the repo's config);
    all under the repo's lock. ``dest`` must not exist yet."""
    common = _git.common_dir(top)
    with repo_lock(root, common):
        if dest.exists() or dest.is_symlink():
            raise WorkspaceError(f"the workspace {dest} already exists (this task was prepared before); "
                                 "reuse it or discard it first")
        if take_spare(top, spare_path(root, common), dest):
            try:
                _git.run(["checkout", "--quiet", *opts, start, "--"], dest, what="switching the spare worktree")
            except WorkspaceError:
                _git.run(["worktree", "remove", "--force", "--force", str(dest)], top, check=False)
                raise
        else:
            _git.run(["-c", f"checkout.workers={CHECKOUT_WORKERS}", "worktree", "add", "--quiet", *opts,
                      str(dest), start], top, what="creating the task's worktree")
        for extra in then or []:
            _git.run(extra, top)
    os.chmod(dest, 0o700)


def checked_out_at(repo: Path) -> dict[str, Path]:
    """Branch name -> the worktree (the repo's own checkout included) where it is checked out."""
    out = _git.run(["worktree", "list", "--porcelain"], repo).stdout
    found: dict[str, Path] = {}
    path: Path | None = None
    for line in out.splitlines():
        if line.startswith("worktree "):
            path = Path(line[len("worktree "):])
        elif line.startswith("branch refs/heads/") and path is not None:
            found[line[len("branch refs/heads/"):]] = path
    return found
