"""prepare(): a worktree and branch per task, the repo's own checkout untouched, real git."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from ws_helpers import ROOT, git, make_repo, new_id, snapshot

from orchestratia.agent.workspaces import (
    WorkspaceError, WorkspaceSpec, commit_message, finish, prepare,
)


def test_two_tasks_at_once_each_branch_holds_only_its_own_change(repo: Path, spec: WorkspaceSpec) -> None:
    (repo / "README.md").write_text("the owner's uncommitted edit\n")  # a dirty checkout does not block
    (repo / "scratch.txt").write_text("untracked\n")
    before = snapshot(repo)
    a, b = new_id(), new_id()
    pa, pb = prepare(spec, a, "Task A"), prepare(spec, b, "Task B")
    assert pa.path != pb.path and pa.branch != pb.branch
    (pa.path / "a.txt").write_text("from A\n")
    (pb.path / "b.txt").write_text("from B\n")
    (pb.path / "src" / "app.py").write_text("print('B')\n")
    ra = finish(pa, commit_message("Task A", a))
    rb = finish(pb, commit_message("Task B", b))
    assert [f.path for f in ra.files] == ["a.txt"]
    assert sorted(f.path for f in rb.files) == ["b.txt", "src/app.py"]
    assert git(repo, "diff", "--name-only", f"main...{pa.branch}").splitlines() == ["a.txt"]
    assert sorted(git(repo, "diff", "--name-only", f"main...{pb.branch}").splitlines()) == ["b.txt", "src/app.py"]
    assert snapshot(repo) == before
    assert (repo / "README.md").read_text() == "the owner's uncommitted edit\n"
    assert not (repo / "a.txt").exists() and not (repo / "b.txt").exists()


def test_the_worktree_starts_from_the_configured_branch_not_the_checkouts_branch(repo: Path, spec: WorkspaceSpec) -> None:
    main_head = git(repo, "rev-parse", "main")
    git(repo, "checkout", "-q", "-b", "wip")
    (repo / "wip.txt").write_text("wip\n")
    git(repo, "add", "wip.txt")
    git(repo, "commit", "-q", "-m", "wip")
    before = snapshot(repo)
    p = prepare(spec, new_id(), "t")
    assert p.base_ref == "main" and p.base_commit == main_head
    assert git(p.path, "rev-parse", "HEAD") == main_head and not (p.path / "wip.txt").exists()
    assert git(p.path, "symbolic-ref", "--short", "HEAD") == p.branch
    assert snapshot(repo) == before


def test_without_a_configured_branch_the_base_is_head(repo: Path, root: Path) -> None:
    p = prepare(WorkspaceSpec(repo=repo, root=root), new_id(), "t")
    assert p.base_ref == "HEAD" and p.base_commit == git(repo, "rev-parse", "HEAD")


def test_base_ref_chooses_the_start(repo: Path, spec: WorkspaceSpec) -> None:
    first = git(repo, "rev-parse", "HEAD")
    git(repo, "tag", "v1")
    (repo / "later.txt").write_text("x\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "later")
    p = prepare(spec.model_copy(update={"base_ref": "v1"}), new_id(), "t")
    assert p.base_ref == "v1" and p.base_commit == first and not (p.path / "later.txt").exists()
    with pytest.raises(WorkspaceError, match="--base 'nope' names no commit"):
        prepare(spec.model_copy(update={"base_ref": "nope"}), new_id(), "t")
    with pytest.raises(WorkspaceError, match="names no commit"):
        prepare(spec.model_copy(update={"base_ref": "--output=/tmp/x"}), new_id(), "t")


def test_continue_a_local_branch(repo: Path, spec: WorkspaceSpec) -> None:
    git(repo, "branch", "feature")
    git(repo, "worktree", "add", "-q", "-b", "tmp", str(repo.parent / "tmpwt"), "feature")
    (repo.parent / "tmpwt" / "f.txt").write_text("f\n")
    git(repo.parent / "tmpwt", "add", "-A")
    git(repo.parent / "tmpwt", "commit", "-q", "-m", "f")
    git(repo, "branch", "-f", "feature", "tmp")
    before = snapshot(repo)
    p = prepare(spec.model_copy(update={"continue_branch": "feature"}), new_id(), "ignored title")
    assert p.branch == "feature" and p.base_ref == "feature"
    assert p.base_commit == git(repo, "rev-parse", "feature") and (p.path / "f.txt").read_text() == "f\n"
    assert snapshot(repo) == before


def test_continue_a_branch_that_is_only_on_the_remote(tmp_path: Path, root: Path) -> None:
    upstream = make_repo(tmp_path / "upstream")
    git(upstream, "checkout", "-q", "-b", "pr-42")
    (upstream / "pr.txt").write_text("pr\n")
    git(upstream, "add", "-A")
    git(upstream, "commit", "-q", "-m", "pr")
    tip = git(upstream, "rev-parse", "HEAD")
    git(upstream, "checkout", "-q", "main")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", "--single-branch", "-b", "main", str(upstream), str(clone))
    p = prepare(WorkspaceSpec(repo=clone, root=root, continue_branch="pr-42"), new_id(), "t")
    assert p.branch == "pr-42" and p.base_commit == tip and (p.path / "pr.txt").exists()
    assert git(p.path, "config", "branch.pr-42.remote") == "origin"  # a plain `git push` goes back there
    assert git(p.path, "config", "branch.pr-42.merge") == "refs/heads/pr-42"
    with pytest.raises(WorkspaceError, match="no branch nope in .* nor on origin"):
        prepare(WorkspaceSpec(repo=clone, root=root, continue_branch="nope"), new_id(), "t")


def test_continue_a_branch_checked_out_elsewhere_is_a_clear_error(repo: Path, spec: WorkspaceSpec) -> None:
    with pytest.raises(WorkspaceError, match=f"branch main is already checked out at {repo}"):
        prepare(spec.model_copy(update={"continue_branch": "main"}), new_id(), "t")
    p = prepare(spec, new_id(), "first")
    with pytest.raises(WorkspaceError, match=f"already checked out at {p.path}"):
        prepare(spec.model_copy(update={"continue_branch": p.branch}), new_id(), "t")


def test_continue_without_remote_or_with_a_hostile_name(repo: Path, spec: WorkspaceSpec) -> None:
    with pytest.raises(WorkspaceError, match="no remote 'origin'"):
        prepare(spec.model_copy(update={"continue_branch": "ghost"}), new_id(), "t")
    with pytest.raises(WorkspaceError, match="not a valid git branch name"):
        prepare(spec.model_copy(update={"continue_branch": "--upload-pack=touch /tmp/pwned"}), new_id(), "t")


def test_a_directory_that_is_not_a_git_checkout_runs_in_place(tmp_path: Path, root: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    p = prepare(WorkspaceSpec(repo=plain, root=root), new_id(), "t")
    assert p.kind == "in_place" and p.path == plain and p.branch is None and not p.is_git
    assert "not a git checkout" in p.note
    r = finish(p, "m")
    assert r.summary.files_changed == 0 and "not a git checkout" in r.summary.note and r.diff == ""


def test_a_bare_repository_runs_in_place(tmp_path: Path, repo: Path, root: Path) -> None:
    git(tmp_path, "clone", "-q", "--bare", str(repo), str(tmp_path / "bare.git"))
    p = prepare(WorkspaceSpec(repo=tmp_path / "bare.git", root=root), new_id(), "t")
    assert p.kind == "in_place" and "not a git work tree" in p.note


def test_a_repo_without_commits_runs_in_place(tmp_path: Path, root: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    git(empty, "init", "-q")
    p = prepare(WorkspaceSpec(repo=empty, root=root), new_id(), "t")
    assert p.kind == "in_place" and "no commits yet" in p.note


def test_a_subdirectory_of_a_repo_gets_the_same_subdirectory_of_the_worktree(repo: Path, root: Path) -> None:
    p = prepare(WorkspaceSpec(repo=repo / "src", root=root), new_id(), "t")
    assert p.kind == "worktree" and p.path.name == "src" and (p.path / "app.py").exists()
    (p.path / "new.py").write_text("x = 1\n")
    assert [f.path for f in finish(p, "m").files] == ["src/new.py"]


def test_an_untracked_directory_inside_some_other_checkout_runs_in_place(repo: Path, root: Path) -> None:
    inner = repo / "not-a-project"
    inner.mkdir()
    (inner / "x.txt").write_text("x\n")
    p = prepare(WorkspaceSpec(repo=inner, root=root), new_id(), "t")
    assert p.kind == "in_place" and "no tracked files" in p.note


def test_in_place_uses_the_checkout_itself(repo: Path, spec: WorkspaceSpec) -> None:
    p = prepare(spec.model_copy(update={"kind": "in_place"}), new_id(), "t")
    assert p.kind == "in_place" and p.path == repo and p.branch == "main"
    assert p.base_commit == git(repo, "rev-parse", "HEAD")


def test_missing_repo_and_bad_task_id(tmp_path: Path, root: Path, spec: WorkspaceSpec) -> None:
    with pytest.raises(WorkspaceError, match="does not exist"):
        prepare(WorkspaceSpec(repo=tmp_path / "gone", root=root), new_id(), "t")
    with pytest.raises(WorkspaceError, match="not a UUID"):
        prepare(spec, "../../etc", "t")


def test_preparing_the_same_task_twice_is_refused(spec: WorkspaceSpec) -> None:
    task = new_id()
    prepare(spec, task, "t")
    with pytest.raises(WorkspaceError, match="already exists"):
        prepare(spec, task, "t")


def test_the_worktree_root_and_dirs_are_private(spec: WorkspaceSpec, root: Path) -> None:
    p = prepare(spec, new_id(), "t")
    assert stat.S_IMODE(root.stat().st_mode) == 0o700
    assert stat.S_IMODE(p.path.stat().st_mode) == 0o700
    assert stat.S_IMODE((root / ".locks").stat().st_mode) == 0o700


def test_many_threads_create_worktrees_on_one_repo_at_once(repo: Path, spec: WorkspaceSpec) -> None:
    before = snapshot(repo)
    ids = [new_id() for _ in range(8)]
    barrier = threading.Barrier(len(ids))
    results: dict[str, object] = {}

    def work(task: str) -> None:
        barrier.wait()
        try:
            results[task] = prepare(spec, task, f"task {task[:4]}")
        except Exception as exc:  # noqa: BLE001 - reported by the assert below
            results[task] = exc

    threads = [threading.Thread(target=work, args=(t,)) for t in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    errors = [r for r in results.values() if isinstance(r, Exception)]
    assert not errors and len(results) == len(ids)
    assert len(git(repo, "worktree", "list", "--porcelain").split("\n\n")) == len(ids) + 1
    assert snapshot(repo) == before


CHILD = """
import json, sys
from orchestratia.agent.workspaces import WorkspaceSpec, prepare
spec = WorkspaceSpec.model_validate_json(sys.argv[1])
ids = sys.argv[2:]
print(json.dumps([prepare(spec, t, "from a process").branch for t in ids]))
"""


def test_two_processes_create_worktrees_on_one_repo_at_once(repo: Path, spec: WorkspaceSpec) -> None:
    groups = [[new_id() for _ in range(4)] for _ in range(2)]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    procs = [subprocess.Popen([sys.executable, "-c", CHILD, spec.model_dump_json(), *g], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for g in groups]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    branches = [b for out, _ in outs for b in json.loads(out)]
    assert len(set(branches)) == 8
    listed = git(repo, "branch", "--list", "orchestratia/*").split()
    assert sorted(set(listed) - {"*", "+"}) == sorted(branches)
