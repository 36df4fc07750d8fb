"""What a task's repository is, before a worktree is made from it: a git work tree with commits
(:func:`probe`) and the commit a task starts from (:func:`resolve_base`). Shared by
:mod:`.worktree` and :mod:`.spare`, which both prepare checkouts."""

from __future__ import annotations

from pathlib import Path

from . import _git
from .errors import GitError, WorkspaceError
from .model import WorkspaceSpec


def repo_dir(spec: WorkspaceSpec) -> Path:
    """The spec's repo directory; a clear error when it is missing."""
    repo = Path(spec.repo).expanduser()
    if not repo.is_dir():
        raise WorkspaceError(f"the repo directory {repo} does not exist; fix the repo's path in the agent config")
    return repo


def probe(repo: Path) -> tuple[Path, str, str] | str:
    """(top level, prefix of ``repo`` in it, HEAD commit), or the note saying why the task runs
    in place instead (not a git checkout, no commits yet)."""
    proc = _git.run(["rev-parse", "--is-inside-work-tree", "--show-toplevel", "--show-prefix"], repo, check=False)
    if proc.returncode != 0:
        if "not a git repository" in proc.stderr:
            return f"{repo} is not a git checkout: the task runs in place, without a branch or a diff"
        if "must be run in a work tree" in proc.stderr:
            return f"{repo} is not a git work tree (a bare repository or a .git dir): the task runs in place"
        raise GitError(f"git cannot read the repository at {repo}: {_git.first_error(proc.stderr)}"
                       " (for 'dubious ownership', run the daemon as the repo's owner or add it to "
                       "safe.directory)", proc.args, proc.stderr)
    lines = proc.stdout.splitlines()
    if not lines or lines[0] != "true" or len(lines) < 2:
        return f"{repo} is not a git work tree (a bare repository or a .git dir): the task runs in place"
    top, prefix = Path(lines[1]), (lines[2] if len(lines) > 2 else "").strip("/")
    if prefix:
        # A directory that merely sits inside some other checkout (a home directory kept in
        # git) is not that repository's subproject: without a tracked file it runs in place.
        tracked, _ = _git.run_capped(["ls-files", "-z", "--", "."], repo, cap=1)
        if not tracked:
            return (f"{repo} has no tracked files in the enclosing repository {top}: the task runs in "
                    "place, without a branch or a diff")
    head = _git.rev(top, "HEAD")
    if head is None:
        return f"the repository {top} has no commits yet: the task runs in place, without a branch"
    return top, prefix, head


def resolve_base(spec: WorkspaceSpec, top: Path) -> tuple[str, str]:
    """(the base's name, its commit): ``--base REF``, else the configured branch, else HEAD."""
    wanted = spec.base_ref if spec.base_ref is not None else spec.branch
    if wanted is None:
        return "HEAD", _git.rev(top, "HEAD") or ""
    for ref in (wanted, f"{spec.remote}/{wanted}"):
        sha = _git.rev(top, ref)
        if sha is not None:
            return wanted, sha
    what = "--base" if spec.base_ref is not None else "the repo's configured branch"
    raise WorkspaceError(f"{what} {wanted!r} names no commit in {top} (nor {spec.remote}/{wanted}); give a "
                         "branch, tag or commit that exists there (git fetch first for a new remote branch)")
