"""A finished task's result: its uncommitted work committed on its branch, then the change as
numstat and a unified diff ``base...head``."""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path

from . import _git
from .errors import WorkspaceError
from .model import DEFAULT_DIFF_CAP, ChangeSummary, FileChange, Prepared, WorkspaceResult

#: the identity of the daemon's commits when neither ``author`` nor git's config gives one
DEFAULT_AUTHOR = "Orchestratia <orchestratia@localhost>"
_IDENT = re.compile(r"^([^<>\x00-\x1f]+?)\s*<([^<>\s\x00-\x1f]+)>$")
#: a diff as the hub parses it, whatever the user's diff config says (prefixes, relative
#: paths, external diff drivers or textconv filters that would run repository-named programs)
_DIFF = ["-c", "core.quotepath=false", "diff", "--no-color", "--no-ext-diff", "--no-textconv", "--no-relative",
         "-M", "--src-prefix=a/", "--dst-prefix=b/"]


def commit_message(title: str, task_id: str) -> str:
    """The commit message of a task's work: its title (first line, control characters removed,
    at most 200 characters) and its id."""
    first = next((ln for ln in str(title or "").splitlines() if ln.strip()), "")
    clean = "".join(c if c.isprintable() else " " for c in first).strip()[:200] or "Task"
    return f"{clean}\n\nOrchestratia-Task: {task_id}\n"


def finish(prepared: Prepared, message: str, author: str | None = None, *,
           max_diff_bytes: int = DEFAULT_DIFF_CAP) -> WorkspaceResult:
    """Commit what the agent left uncommitted on the task's branch (no hooks, no signing; no
    commit when nothing changed) and return the summary and diff ``base...head``.

    ``author`` is ``"Name <email>"`` (None: git's configured identity, else ``DEFAULT_AUTHOR``).
    In place nothing is committed: the diff compares the checkout (untracked files included,
    through a temporary index so the user's own index is untouched) with the start commit."""
    if not prepared.is_git:
        return WorkspaceResult(summary=ChangeSummary(kind=prepared.kind, note=prepared.note or "not a git checkout"))
    if prepared.kind == "in_place":
        return _finish_in_place(prepared, max_diff_bytes)
    cwd = prepared.path
    if not Path(cwd).is_dir():
        raise WorkspaceError(f"the workspace {cwd} no longer exists (discarded or pruned); nothing to finish")
    _git.run([*_git.SAFE_CONFIG, "add", "-A"], cwd, what="staging the agent's changes")
    staged = _git.run([*_git.SAFE_CONFIG, "diff", "--cached", "--quiet"], cwd, check=False).returncode == 1
    if staged:
        _git.run([*_git.SAFE_CONFIG, "commit", "--no-verify", "--quiet", "-F", "-"], cwd,
                 input=message.encode("utf-8", "replace"), env=_identity_env(author, cwd),
                 what="committing the agent's changes")
    head = _git.rev(cwd, "HEAD") or ""
    note = ""
    on = _git.current_branch(cwd)
    if on != prepared.branch:
        note = f"the agent left the worktree on {on or 'a detached HEAD'}, not {prepared.branch}; the diff covers that HEAD"
    files, diff, truncated = _changes(cwd, [f"{prepared.base_commit}...{head}"], max_diff_bytes, None)
    return _result(prepared, head, files, diff, truncated, staged, note)


def _finish_in_place(prepared: Prepared, cap: int) -> WorkspaceResult:
    cwd = prepared.path
    git_dir = (Path(cwd) / _git.run(["rev-parse", "--git-dir"], cwd).stdout.strip()).resolve()
    tmp = Path(tempfile.mkdtemp(prefix="orchestratia-index-"))
    try:
        index = tmp / "index"
        if (git_dir / "index").exists():
            shutil.copyfile(git_dir / "index", index)  # its stat cache spares re-hashing every file
        env = {"GIT_INDEX_FILE": str(index)}
        _git.run([*_git.SAFE_CONFIG, "add", "-A"], cwd, env=env, what="reading the checkout's changes")
        files, diff, truncated = _changes(cwd, ["--cached", prepared.base_commit or "HEAD"], cap, env)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    note = ("ran in place: nothing was committed; the diff compares the checkout with the commit the task "
            "started from (changes already there before the task are included)")
    return _result(prepared, _git.rev(cwd, "HEAD") or "", files, diff, truncated, False, note)


def _result(prepared: Prepared, head: str, files: list[FileChange], diff: str, truncated: bool,
            committed: bool, note: str) -> WorkspaceResult:
    if truncated:
        note = " ".join(filter(None, [note, "the diff was larger than the size cap: only the stat is kept"]))
    summary = ChangeSummary(kind=prepared.kind, branch=prepared.branch, base_ref=prepared.base_ref,
                            base_commit=prepared.base_commit, head_commit=head, files_changed=len(files),
                            insertions=sum(f.insertions or 0 for f in files),
                            deletions=sum(f.deletions or 0 for f in files), committed=committed,
                            note=" ".join(filter(None, [prepared.note, note])))
    return WorkspaceResult(summary=summary, files=files, diff="" if truncated else diff, diff_truncated=truncated)


def _changes(cwd: Path, spec: list[str], cap: int, env: dict[str, str] | None) -> tuple[list[FileChange], str, bool]:
    stat = _git.run([*_DIFF, "--numstat", "-z", *spec], cwd, env=env, what="diff --numstat").stdout
    files = parse_numstat_z(stat)
    if not files:
        return [], "", False
    raw, truncated = _git.run_capped([*_DIFF, *spec], cwd, cap, env=env)
    return files, raw.decode("utf-8", "replace"), truncated


def parse_numstat_z(out: str) -> list[FileChange]:
    """Parse ``git diff --numstat -z``: ``ADD\\tDEL\\tPATH\\0``, or ``ADD\\tDEL\\t\\0OLD\\0NEW\\0``
    for a rename; ``-`` counts mean a binary file."""
    tokens = out.split("\0")
    files: list[FileChange] = []
    i = 0
    while i < len(tokens):
        head = tokens[i]
        i += 1
        if not head:
            continue
        add, dele, path = head.split("\t", 2)
        old = None
        if path == "":
            old, path = tokens[i], tokens[i + 1]
            i += 2
        binary = add == "-" and dele == "-"
        files.append(FileChange(path=path, old_path=old, binary=binary,
                                insertions=None if binary else int(add), deletions=None if binary else int(dele)))
    return files


def _identity_env(author: str | None, cwd: Path) -> dict[str, str]:
    """GIT_AUTHOR_*/GIT_COMMITTER_* for the commit: ``author`` when given; a committer (and
    author) of last resort when git's config has none, so the commit cannot fail on a server
    where nobody ran ``git config user.email``."""
    env: dict[str, str] = {}
    chosen = _parse_ident(author) if author else None
    if chosen:
        env.update(GIT_AUTHOR_NAME=chosen[0], GIT_AUTHOR_EMAIL=chosen[1])
    if _git.run(["var", "GIT_COMMITTER_IDENT"], cwd, check=False).returncode != 0:
        name, email = chosen or _parse_ident(DEFAULT_AUTHOR)
        env.update(GIT_COMMITTER_NAME=name, GIT_COMMITTER_EMAIL=email)
        env.setdefault("GIT_AUTHOR_NAME", name)
        env.setdefault("GIT_AUTHOR_EMAIL", email)
    return env


def _parse_ident(text: str) -> tuple[str, str]:
    match = _IDENT.match(text.strip())
    if not match:
        raise WorkspaceError(f"the commit author {text!r} is not of the form 'Name <email>'")
    return match.group(1), match.group(2)
