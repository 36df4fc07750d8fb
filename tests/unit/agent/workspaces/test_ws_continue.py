"""continue_worktree(): a reply runs in its thread's worktree on its branch, and its change is
its own; a worktree that is gone is made again from the branch; a worktree moved to another
branch is refused with what to do. Real git."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from ws_helpers import git, new_id

from orchestratia.agent.workspaces import (
    WorkspaceError, WorkspaceSpec, commit_message, continue_worktree, finish, prepare,
)


def test_a_reply_continues_the_worktree_and_shows_only_its_change(repo: Path, spec: WorkspaceSpec) -> None:
    first = new_id()
    p1 = prepare(spec, first, "Notes")
    (p1.path / "notes.txt").write_text("one\n")
    r1 = finish(p1, commit_message("Notes", first))
    reply = new_id()
    p2 = continue_worktree(spec, first, p1.branch or "", reply)
    assert (p2.path, p2.branch, p2.base_commit, p2.task_id) == (p1.path, p1.branch, r1.summary.head_commit, reply)
    (p2.path / "notes.txt").write_text("one\ntwo\n")
    r2 = finish(p2, commit_message("Re: Notes", reply))
    assert r2.summary.base_commit == r1.summary.head_commit
    assert git(repo, "rev-parse", f"{r2.summary.head_commit}^") == r1.summary.head_commit
    assert "+two" in r2.diff and "+one" not in r2.diff


def test_a_removed_worktree_is_made_again_from_the_branch(repo: Path, spec: WorkspaceSpec) -> None:
    first = new_id()
    p1 = prepare(spec, first, "Notes")
    (p1.path / "notes.txt").write_text("one\n")
    r1 = finish(p1, commit_message("Notes", first))
    shutil.rmtree(p1.path)  # gone without `git worktree remove`: git still lists it
    p2 = continue_worktree(spec, first, p1.branch or "", new_id())
    assert p2.path == p1.path and (p2.path / "notes.txt").read_text() == "one\n"
    assert p2.base_commit == r1.summary.head_commit


def test_a_worktree_on_another_branch_or_a_missing_branch_is_refused(repo: Path, spec: WorkspaceSpec) -> None:
    first = new_id()
    p1 = prepare(spec, first, "Notes")
    git(p1.path, "switch", "-q", "-c", "elsewhere")
    with pytest.raises(WorkspaceError, match="not on .*switch"):
        continue_worktree(spec, first, p1.branch or "", new_id())
    with pytest.raises(WorkspaceError, match="orchestratia/nope is not a local branch"):
        continue_worktree(spec, new_id(), "orchestratia/nope", new_id())
    with pytest.raises(WorkspaceError, match="not a UUID"):
        continue_worktree(spec, "../../etc", p1.branch or "", new_id())
