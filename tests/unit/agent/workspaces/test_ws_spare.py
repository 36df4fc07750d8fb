"""warm_spare(): a worktree checked out ahead, which the next prepare() moves into place."""

from __future__ import annotations

from pathlib import Path

from ws_helpers import git, new_id, snapshot

from orchestratia.agent.workspaces import WorkspaceSpec, finish, prepare, prune, warm_spare


def _spares(root: Path) -> list[Path]:
    return [p for p in root.iterdir() if p.name.startswith(".spare-")]


def test_the_next_task_starts_from_the_spare_at_the_current_base(repo: Path, spec: WorkspaceSpec, root: Path) -> None:
    spare = warm_spare(spec)
    assert spare is not None and _spares(root) == [spare] and (spare / "src" / "app.py").exists()
    assert warm_spare(spec) == spare  # one per repo
    (repo / "moved.txt").write_text("main moved on after the spare was made\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "later")
    (repo / "README.md").write_text("dirty\n")
    before = snapshot(repo)
    task = new_id()
    p = prepare(spec, task, "From the spare")
    assert p.path == root / task and not spare.exists() and _spares(root) == []
    assert p.base_commit == git(repo, "rev-parse", "main") == git(p.path, "rev-parse", "HEAD")
    assert git(p.path, "symbolic-ref", "--short", "HEAD") == p.branch
    assert (p.path / "moved.txt").exists() and git(p.path, "status", "--porcelain") == ""
    (p.path / "mine.txt").write_text("mine\n")
    assert [f.path for f in finish(p, "m").files] == ["mine.txt"]
    assert snapshot(repo) == before


def test_continue_a_branch_from_the_spare(repo: Path, spec: WorkspaceSpec) -> None:
    git(repo, "branch", "feature")
    warm_spare(spec)
    p = prepare(spec.model_copy(update={"continue_branch": "feature"}), new_id(), "t")
    assert p.branch == "feature" and git(p.path, "symbolic-ref", "--short", "HEAD") == "feature"


def test_no_spare_for_in_place_or_a_plain_directory(tmp_path: Path, spec: WorkspaceSpec, root: Path) -> None:
    assert warm_spare(spec.model_copy(update={"kind": "in_place"})) is None
    (tmp_path / "plain").mkdir()
    assert warm_spare(WorkspaceSpec(repo=tmp_path / "plain", root=root)) is None


def test_prune_leaves_the_spare_alone(spec: WorkspaceSpec, root: Path) -> None:
    spare = warm_spare(spec)
    assert prune(root, 0, lambda task: True, now=2**40) == []
    assert spare is not None and spare.is_dir()
