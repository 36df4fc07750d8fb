"""finish(): the agent's work committed on its branch, then numstat and the unified diff."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from ws_helpers import git, new_id, snapshot

from orchestratia.agent.workspaces import WorkspaceError, WorkspaceSpec, commit_message, finish, prepare


def test_uncommitted_work_is_committed_with_title_id_and_author(spec: WorkspaceSpec) -> None:
    task = new_id()
    p = prepare(spec, task, "Add a greeting")
    (p.path / "hello.txt").write_text("hello\nworld\n")
    r = finish(p, commit_message("Add a greeting\nsecond line \x1b[31m", task), author="Bot Builder <bot@example.com>")
    s = r.summary
    assert s.committed and s.kind == "worktree" and s.branch == p.branch and s.base_commit == p.base_commit
    assert s.head_commit == git(p.path, "rev-parse", p.branch) != p.base_commit
    assert (s.files_changed, s.insertions, s.deletions) == (1, 2, 0)
    assert git(p.path, "log", "-1", "--format=%an <%ae>") == "Bot Builder <bot@example.com>"
    assert git(p.path, "log", "-1", "--format=%B") == f"Add a greeting\n\nOrchestratia-Task: {task}"
    assert "+world" in r.diff and r.diff.startswith("diff --git a/hello.txt b/hello.txt")
    assert git(p.path, "status", "--porcelain") == ""


def test_nothing_changed_means_no_commit_and_an_empty_diff(spec: WorkspaceSpec) -> None:
    p = prepare(spec, new_id(), "noop")
    r = finish(p, "m")
    assert not r.summary.committed and r.summary.head_commit == p.base_commit
    assert (r.summary.files_changed, r.diff, r.files) == (0, "", [])


def test_commits_the_agent_made_itself_are_in_the_diff(spec: WorkspaceSpec) -> None:
    p = prepare(spec, new_id(), "t")
    (p.path / "one.txt").write_text("1\n")
    git(p.path, "add", "one.txt")
    git(p.path, "commit", "-q", "-m", "agent's own commit")
    (p.path / "two.txt").write_text("2\n")
    r = finish(p, "m")
    assert r.summary.committed and sorted(f.path for f in r.files) == ["one.txt", "two.txt"]
    assert git(p.path, "rev-list", "--count", f"{p.base_commit}..HEAD") == "2"


def test_a_binary_file_is_named_not_inlined_and_a_rename_is_a_rename(repo: Path, spec: WorkspaceSpec) -> None:
    (repo / "docs").mkdir()
    (repo / "docs" / "guide.md").write_text("".join(f"line {i}\n" for i in range(50)))
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "guide")
    p = prepare(spec, new_id(), "t")
    git(p.path, "mv", "docs/guide.md", "docs/manual.md")
    blob = bytes(range(256)) * 40
    (p.path / "logo.png").write_bytes(blob)
    r = finish(p, "m")
    by_path = {f.path: f for f in r.files}
    assert by_path["logo.png"].binary and by_path["logo.png"].insertions is None
    assert by_path["docs/manual.md"].old_path == "docs/guide.md"
    assert (by_path["docs/manual.md"].insertions, by_path["docs/manual.md"].deletions) == (0, 0)
    assert "Binary files /dev/null and b/logo.png differ" in r.diff
    assert "rename from docs/guide.md\nrename to docs/manual.md" in r.diff
    assert "\x00" not in r.diff and len(r.diff) < 1000


def test_a_diff_above_the_cap_keeps_only_the_stat(spec: WorkspaceSpec) -> None:
    p = prepare(spec, new_id(), "big")
    (p.path / "big.txt").write_text("".join(f"generated line {i}\n" for i in range(20000)))
    r = finish(p, "m", max_diff_bytes=64 * 1024)
    assert r.diff_truncated and r.diff == "" and "larger than the size cap" in r.summary.note
    assert (r.summary.files_changed, r.summary.insertions) == (1, 20000)
    assert finish(p, "m").diff_truncated is False  # the default cap (5 MB) holds this ~450 kB diff


def test_no_hook_runs_during_the_commit(repo: Path, spec: WorkspaceSpec, tmp_path: Path) -> None:
    marker = tmp_path / "hook-ran"
    for hook in ("pre-commit", "commit-msg", "post-commit", "prepare-commit-msg"):
        path = repo / ".git" / "hooks" / hook
        path.write_text(f"#!/bin/sh\necho {hook} >> {marker}\nexit 1\n")
        path.chmod(0o755)
    p = prepare(spec, new_id(), "t")
    (p.path / "x.txt").write_text("x\n")
    assert finish(p, "m").summary.committed
    assert not marker.exists()


def test_commit_works_without_any_configured_identity(repo: Path, spec: WorkspaceSpec, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    git(repo, "config", "--unset", "user.name")
    git(repo, "config", "--unset", "user.email")
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.gitconfig
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("EMAIL", "")
    for var in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL"):
        monkeypatch.delenv(var, raising=False)
    p = prepare(spec, new_id(), "t")
    (p.path / "x.txt").write_text("x\n")
    assert finish(p, "m").summary.committed
    assert git(p.path, "log", "-1", "--format=%cn <%ce>") != ""
    with pytest.raises(WorkspaceError, match="not of the form 'Name <email>'"):
        (p.path / "y.txt").write_text("y\n")
        finish(p, "m", author="no email here")


def test_in_place_reports_the_change_without_committing_or_touching_the_index(repo: Path, spec: WorkspaceSpec) -> None:
    (repo / "README.md").write_text("edited\n")
    git(repo, "add", "README.md")  # the owner's own staged change stays staged, nothing else
    p = prepare(spec.model_copy(update={"kind": "in_place"}), new_id(), "t")
    (repo / "new.txt").write_text("new\n")
    before = snapshot(repo)
    r = finish(p, "m")
    assert snapshot(repo) == before and not r.summary.committed
    assert sorted(f.path for f in r.files) == ["README.md", "new.txt"] and "+new" in r.diff
    assert "ran in place" in r.summary.note


def test_finish_of_a_removed_worktree_is_a_clear_error(spec: WorkspaceSpec) -> None:
    p = prepare(spec, new_id(), "t")
    git(spec.repo, "worktree", "remove", str(p.path))
    with pytest.raises(WorkspaceError, match="no longer exists"):
        finish(p, "m")


def test_the_summary_serialises_to_the_workspace_json_shape(spec: WorkspaceSpec) -> None:
    p = prepare(spec, new_id(), "t")
    (p.path / "x.txt").write_text("x\n")
    data = finish(p, "m").summary.model_dump(mode="json")
    assert {"kind", "branch", "base_ref", "base_commit", "head_commit", "files_changed", "insertions",
            "deletions", "note"} <= set(data)
    assert os.fspath(p.path) in p.model_dump_json()
