"""discard(), prune() and disk_usage() on real worktrees."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from ws_helpers import git, new_id, snapshot

from orchestratia.agent.workspaces import (
    DiscardRefused, WorkspaceError, WorkspaceSpec, discard, disk_usage, finish, prepare, prune, push,
)


def _branch_exists(repo: Path, branch: str) -> bool:
    return git(repo, "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}", check=False) != ""


def test_discard_refuses_unpushed_commits_unless_forced(repo: Path, spec: WorkspaceSpec) -> None:
    before = snapshot(repo)
    p = prepare(spec, new_id(), "t")
    (p.path / "x.txt").write_text("x\n")
    finish(p, "m")
    with pytest.raises(DiscardRefused, match=f"branch {p.branch} has 1 commit.* on no remote.*--force"):
        discard(p.path, p.branch)
    assert p.path.exists() and _branch_exists(repo, p.branch)
    discard(p.path, p.branch, force=True)
    assert not p.path.exists() and not _branch_exists(repo, p.branch)
    assert snapshot(repo) == before
    assert git(repo, "worktree", "list", "--porcelain").count("worktree ") == 1  # git forgot it too
    assert [e.name for e in p.path.parent.iterdir()] == [".locks"]  # nothing left behind


def test_force_discard_removes_read_only_files_the_agent_left(spec: WorkspaceSpec) -> None:
    p = prepare(spec, new_id(), "t")
    locked = p.path / "locked"
    locked.mkdir()
    (locked / "ro.txt").write_text("x\n")
    (locked / "ro.txt").chmod(0o400)
    locked.chmod(0o500)
    discard(p.path, p.branch, force=True)
    assert [e.name for e in p.path.parent.iterdir()] == [".locks"]


def test_discard_refuses_uncommitted_files_unless_forced(spec: WorkspaceSpec) -> None:
    p = prepare(spec, new_id(), "t")
    (p.path / "left.txt").write_text("not committed\n")
    with pytest.raises(DiscardRefused, match="1 uncommitted file"):
        discard(p.path, p.branch)
    discard(p.path, p.branch, force=True)
    assert not p.path.exists()


def test_discard_of_an_unchanged_or_pushed_branch_needs_no_force(tmp_path: Path, repo: Path,
                                                                 spec: WorkspaceSpec) -> None:
    unchanged = prepare(spec, new_id(), "nothing")
    discard(unchanged.path, unchanged.branch)  # its commits are all on main
    assert not unchanged.path.exists() and not _branch_exists(repo, unchanged.branch)
    git(tmp_path, "init", "-q", "--bare", str(tmp_path / "remote.git"))
    git(repo, "remote", "add", "origin", str(tmp_path / "remote.git"))
    p = prepare(spec, new_id(), "pushed")
    (p.path / "x.txt").write_text("x\n")
    finish(p, "m")
    push(p)
    discard(p.path, p.branch)
    assert not p.path.exists() and not _branch_exists(repo, p.branch)


def test_discard_never_removes_the_repos_own_checkout(repo: Path, spec: WorkspaceSpec) -> None:
    p = prepare(spec.model_copy(update={"kind": "in_place"}), new_id(), "t")
    before = snapshot(repo)
    for force in (False, True):
        with pytest.raises(WorkspaceError, match="repository's own checkout"):
            discard(p.path, "main", force=force)
    assert snapshot(repo) == before and (repo / "README.md").exists()


def test_discard_after_the_directory_vanished(repo: Path, spec: WorkspaceSpec) -> None:
    import shutil

    p = prepare(spec, new_id(), "t")
    shutil.rmtree(p.path)
    with pytest.raises(WorkspaceError, match="give the repository"):
        discard(p.path, p.branch)
    discard(p.path, p.branch, repo=repo)
    assert not _branch_exists(repo, p.branch)
    assert len(git(repo, "worktree", "list", "--porcelain").split("\n\n")) == 1


def _age(path: Path, days: float) -> None:
    old = time.time() - days * 86400
    os.utime(path, (old, old))
    dotgit = (path / ".git").read_text().split(":", 1)[1].strip()
    index = Path(dotgit) / "index"
    if index.exists():
        os.utime(index, (old, old))


def test_prune_removes_only_old_finished_worktrees_and_keeps_branches(repo: Path, spec: WorkspaceSpec,
                                                                     root: Path) -> None:
    old_done, old_running, new_done = (prepare(spec, new_id(), n) for n in ("old done", "old running", "new done"))
    (old_done.path / "x.txt").write_text("x\n")
    finish(old_done, "m")
    _age(old_done.path, 20)
    _age(old_running.path, 20)
    done = {old_done.task_id, new_done.task_id}
    (root / "not-a-task").mkdir()
    (root / ".trash-interrupted" / "x").mkdir(parents=True)
    assert prune(root, 14, lambda task: task in done) == [old_done.task_id]
    assert not old_done.path.exists() and old_running.path.exists() and new_done.path.exists()
    assert (root / "not-a-task").exists() and (root / ".locks").exists()
    assert not (root / ".trash-interrupted").exists()
    assert _branch_exists(repo, old_done.branch)
    assert str(old_done.path) not in git(repo, "worktree", "list")
    assert prune(root / "missing", 14, lambda task: True) == []


def test_prune_counts_from_the_finish_not_the_start(spec: WorkspaceSpec, root: Path) -> None:
    p = prepare(spec, new_id(), "long task")
    _age(p.path, 20)  # started 20 days ago ...
    (p.path / "x.txt").write_text("x\n")
    finish(p, "m")  # ... and finished now
    assert prune(root, 14, lambda task: True) == []
    assert prune(root, 14, lambda task: True, now=time.time() + 15 * 86400) == [p.task_id]


def test_disk_usage_per_task(spec: WorkspaceSpec, root: Path) -> None:
    assert disk_usage(root / "missing").total_bytes == 0
    small = prepare(spec, new_id(), "small")
    big = prepare(spec, new_id(), "big")
    (big.path / "blob.bin").write_bytes(os.urandom(1 << 20))
    usage = disk_usage(root)
    assert set(usage.by_task) == {small.task_id, big.task_id}
    assert usage.by_task[big.task_id] >= usage.by_task[small.task_id] + (1 << 20)
    assert usage.total_bytes >= sum(usage.by_task.values())
