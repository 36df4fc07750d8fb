"""The daemon's side of push / pull request / discard (agent/workspace_actions.py) and of the
worktrees' upkeep (agent/workspace_upkeep.py): real git, a real bare repository as the remote,
the fake gh on PATH, no mocks. Every failure comes back as a message and the branch stays."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from ws_helpers import FAKES, git

from orchestratia.agent.config import AgentConfig
from orchestratia.agent.task_workspace import remove_unused
from orchestratia.agent.workspace_actions import perform, pushed_marker
from orchestratia.agent.workspace_upkeep import WorkspaceUpkeep
from orchestratia.agent.workspaces import WorkspaceSpec, finish, prepare
from orchestratia.protocol.workspace_actions import WorkspaceAction

TID = "0ebf3038-1111-4222-8333-444455556666"


def config(tmp_path: Path, repo: Path, keep_days: float = 14) -> AgentConfig:
    return AgentConfig.model_validate({
        "hub_url": "http://hub", "repos": {"work": {"path": str(repo), "branch": "main"}},
        "session": {"log_dir": str(tmp_path / "log"), "pid_dir": str(tmp_path / "run")},
        "workspace": {"root": str(tmp_path / "wt"), "keep_days": keep_days}})


def finished_task(cfg: AgentConfig, task_id: str = TID) -> tuple[WorkspaceAction, str]:
    """A task's worktree with one commit, as the daemon leaves it when the run ended."""
    spec = WorkspaceSpec(repo=cfg.repos["work"].path, root=cfg.workspace.root, branch="main")
    prepared = prepare(spec, task_id, "Fix the bug")
    (prepared.path / "fix.txt").write_text("fixed\n")
    head = finish(prepared, "Fix the bug").summary.head_commit
    action = WorkspaceAction(id="a1", task_id=task_id, kind="push", target_repo="work", branch=prepared.branch,
                             base="main")
    return action, head


def test_push_to_a_bare_repository_then_open_a_pr_with_gh(tmp_path: Path, repo: Path, bare: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = config(tmp_path, repo)
    action, head = finished_task(cfg)
    done = perform(cfg, action, running=False)
    assert done.ok and f"pushed {action.branch} to origin" in done.message and done.remote_url == str(bare)
    assert git(bare, "rev-parse", f"refs/heads/{action.branch}") == head
    assert pushed_marker(Path(cfg.workspace.root), TID).exists()  # prune may now take the worktree

    log = tmp_path / "gh.jsonl"
    monkeypatch.setenv("PATH", f"{FAKES}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_GH_ARGV_LOG", str(log))
    monkeypatch.setenv("FAKE_GH_URL", "https://github.com/acme/repo/pull/42")
    pr = perform(cfg, action.model_copy(update={"pr": True, "title": "Fix the bug"}), running=False)
    assert pr.ok and pr.pr_url == "https://github.com/acme/repo/pull/42", pr.message
    argv = json.loads(log.read_text().splitlines()[-1])["argv"]
    assert argv[:2] == ["pr", "create"] and f"--head={action.branch}" in argv and "--base=main" in argv
    assert "--title=Fix the bug" in argv


def test_failures_say_what_to_do_and_the_branch_stays(tmp_path: Path, repo: Path, bare: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = config(tmp_path, repo)
    action, head = finished_task(cfg)
    nowhere = perform(cfg, action.model_copy(update={"remote": "upstream"}), running=False)
    assert not nowhere.ok and "no remote 'upstream'" in nowhere.message and "origin" in nowhere.message

    perform(cfg, action, running=False)
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", "-b", action.branch, str(bare), str(other))
    (other / "theirs.txt").write_text("theirs\n")
    git(other, "add", "-A")
    git(other, "-c", "user.name=O", "-c", "user.email=o@e", "commit", "-q", "-m", "theirs")
    git(other, "push", "-q", "origin", action.branch)
    (Path(cfg.workspace.root) / TID / "more.txt").write_text("more\n")
    git(Path(cfg.workspace.root) / TID, "add", "-A")
    git(Path(cfg.workspace.root) / TID, "-c", "user.name=T", "-c", "user.email=t@e", "commit", "-q", "-m", "more")
    refused = perform(cfg, action, running=False)
    assert not refused.ok and "non-fast-forward" in refused.message and "kept" in refused.message

    only_git = tmp_path / "bin"  # a PATH with git and no gh / glab
    only_git.mkdir()
    os.symlink(_which("git"), only_git / "git")
    monkeypatch.setenv("PATH", str(only_git))
    fresh, _ = finished_task(cfg, "2ebf3038-1111-4222-8333-444455556666")
    no_gh = perform(cfg, fresh.model_copy(update={"pr": True}), running=False)
    assert not no_gh.ok and "pushed" in no_gh.message and "neither gh" in no_gh.message
    assert git(repo, "rev-parse", "--verify", "-q", f"refs/heads/{action.branch}")  # the branches stay
    assert git(repo, "rev-parse", "--verify", "-q", f"refs/heads/{fresh.branch}")

    assert "still running" in perform(cfg, action, running=True).message
    foreign = perform(cfg, action.model_copy(update={"branch": "main"}), running=False)
    assert not foreign.ok and "not this task's branch" in foreign.message
    gone = perform(cfg, action.model_copy(update={"target_repo": "removed"}), running=False)
    assert not gone.ok and "no longer in this agent's config.yaml" in gone.message


def _which(name: str) -> str:
    for d in os.environ["PATH"].split(os.pathsep):
        if os.access(os.path.join(d, name), os.X_OK):
            return os.path.join(d, name)
    raise AssertionError(f"{name} not on PATH")


def test_discard_refuses_unpushed_commits_unless_forced(tmp_path: Path, repo: Path) -> None:
    cfg = config(tmp_path, repo)
    action, _ = finished_task(cfg)
    discard = action.model_copy(update={"kind": "discard"})
    refused = perform(cfg, discard, running=False)
    assert not refused.ok and "on no remote" in refused.message and "--force" in refused.message
    assert (Path(cfg.workspace.root) / TID).is_dir() and git(repo, "branch", "--list", action.branch)
    forced = perform(cfg, discard.model_copy(update={"force": True}), running=False)
    assert forced.ok and f"deleted branch {action.branch}" in forced.message
    assert not (Path(cfg.workspace.root) / TID).exists() and not git(repo, "branch", "--list", action.branch)


def test_discard_of_a_pushed_branch_needs_no_force(tmp_path: Path, repo: Path, bare: Path) -> None:
    cfg = config(tmp_path, repo)
    action, _ = finished_task(cfg)
    assert perform(cfg, action, running=False).ok
    assert perform(cfg, action.model_copy(update={"kind": "discard"}), running=False).ok
    assert not git(repo, "branch", "--list", action.branch)
    assert git(bare, "rev-parse", f"refs/heads/{action.branch}")  # still on the remote


def test_prune_takes_pushed_finished_worktrees_after_keep_days(tmp_path: Path, repo: Path, bare: Path) -> None:
    cfg = config(tmp_path, repo, keep_days=14)
    pushed, _ = finished_task(cfg)
    other_id = "1ebf3038-1111-4222-8333-444455556666"
    unpushed, _ = finished_task(cfg, other_id)
    assert perform(cfg, pushed, running=False).ok
    running: set[str] = set()
    upkeep = WorkspaceUpkeep(cfg, lambda task_id: task_id in running)
    root = Path(cfg.workspace.root)
    assert upkeep.prune_once() == []  # just finished: kept for 14 days
    later = time.time() + 15 * 86400
    running.add(TID)
    assert upkeep.prune_once(now=later) == []  # running again (a reply): never pruned
    running.clear()
    assert upkeep.prune_once(now=later) == [TID]
    assert not (root / TID).exists() and (root / other_id).is_dir()  # unpushed work stays
    assert git(repo, "branch", "--list", pushed.branch)  # the pruned task's branch stays
    assert not pushed_marker(root, TID).exists()


def test_disk_use_counts_the_task_worktrees(tmp_path: Path, repo: Path) -> None:
    cfg = config(tmp_path, repo)
    upkeep = WorkspaceUpkeep(cfg, lambda _: False)
    assert upkeep.measure().worktrees == 0
    finished_task(cfg)
    disk = upkeep.measure()
    assert disk.worktrees == 1 and disk.total_bytes > 0 and disk.measured_at


def test_a_worktree_whose_session_never_started_is_removed(tmp_path: Path, repo: Path) -> None:
    cfg = config(tmp_path, repo)
    spec = WorkspaceSpec(repo=repo, root=cfg.workspace.root, branch="main")
    prepared = prepare(spec, TID, "Never ran")
    remove_unused(prepared)
    assert not prepared.path.exists() and not git(repo, "branch", "--list", "orchestratia/*")
    git(repo, "branch", "main2")
    kept = prepare(WorkspaceSpec(repo=repo, root=cfg.workspace.root, continue_branch="main2"), TID, "x")
    remove_unused(kept)
    assert not kept.path.exists() and git(repo, "branch", "--list", "main2")  # a continued branch stays
