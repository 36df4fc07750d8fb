"""The daemon's side of a task's workspace: what it asks the engine for, the report it sends,
and its record (old records without a workspace still load). Real git, no mocks."""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path

from orchestratia.agent.config import AgentConfig
from orchestratia.agent.task_workspace import file_statuses, prepare_for, spec_for, to_report
from orchestratia.agent.tasks import TaskRecord
from orchestratia.agent.workspaces import finish
from orchestratia.agent.workspaces.model import ChangeSummary, FileChange, WorkspaceResult
from orchestratia.protocol import TaskPayload
from orchestratia.protocol.workspace import WORKSPACE_BODY_MAX

TID = "0ebf3038-1111-4222-8333-444455556666"


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-c", "user.name=T", "-c", "user.email=t@e", *args], cwd=repo, check=True,
                          capture_output=True, text=True).stdout


def config(tmp_path: Path, repo: Path, **repo_extra: str) -> AgentConfig:
    return AgentConfig.model_validate({
        "hub_url": "http://hub", "repos": {"work": {"path": str(repo), **repo_extra}},
        "session": {"log_dir": str(tmp_path / "log"), "pid_dir": str(tmp_path / "run")},
        "workspace": {"root": str(tmp_path / "wt")}})


def payload(**extra: str) -> TaskPayload:
    return TaskPayload(id=TID, title="Fix it", spec="x", target_repo="work", status="assigned", **extra)


def test_the_task_or_the_repo_config_chooses(tmp_path: Path) -> None:
    cfg = config(tmp_path, tmp_path)
    assert spec_for(payload(), cfg).kind == "worktree"
    assert spec_for(payload(workspace="in_place"), cfg).kind == "in_place"
    assert spec_for(payload(base_ref="v1"), cfg).base_ref == "v1"
    assert spec_for(payload(branch="feature"), cfg).continue_branch == "feature"
    assert spec_for(payload(), config(tmp_path, tmp_path, workspace="in-place")).kind == "in_place"
    assert "unknown workspace" in spec_for(payload(workspace="cloud"), cfg)
    assert "need a worktree" in spec_for(payload(workspace="in_place", branch="b"), cfg)
    assert cfg.workspace.author.startswith("Orchestratia <orchestratia@")


def test_a_worktree_task_end_to_end_in_git(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "a.txt").write_text("a\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "one")
    cfg = config(tmp_path, repo)
    assert cfg.register_repos() == {"work": {"path": str(repo), "workspace": "worktree"}}
    prepared = asyncio.run(prepare_for(payload(), cfg))
    assert prepared.path == tmp_path / "wt" / TID and prepared.branch.startswith("orchestratia/0ebf3038-fix-it")
    (prepared.path / "new.txt").write_text("new\n")
    (prepared.path / "a.txt").unlink()
    report = to_report(finish(prepared, "msg", "Robot <r@e>"))
    assert {f.path: f.status for f in report.files} == {"new.txt": "added", "a.txt": "deleted"}
    assert report.committed and "+new" in report.diff and git(repo, "status", "--porcelain") == ""
    failed = asyncio.run(prepare_for(payload(base_ref="nope").model_copy(update={"id": TID[:-1] + "7"}), cfg))
    assert isinstance(failed, str) and "nope" in failed and "'work'" in failed


def test_a_plain_directory_is_registered_as_a_path(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    assert config(tmp_path, plain).register_repos() == {"work": str(plain)}


def test_file_statuses_from_the_diff_headers() -> None:
    diff = ("diff --git a/x b/x\nnew file mode 100644\n--- /dev/null\n+++ b/x\n"
            "diff --git a/y b/y\ndeleted file mode 100644\n"
            "diff --git a/z b/z\nindex 1..2 100644\n")
    assert file_statuses(diff) == {"x": "added", "y": "deleted"}


def test_a_report_too_big_for_the_hub_drops_the_diff() -> None:
    summary = ChangeSummary(kind="worktree", files_changed=1, insertions=1)
    huge = "\x01" * (WORKSPACE_BODY_MAX // 5)  # escaped as \u0001: six bytes each in JSON
    report = to_report(WorkspaceResult(summary=summary, files=[FileChange(path="x", insertions=1, deletions=0)],
                                       diff=huge))
    assert report.diff == "" and report.diff_truncated and "too large" in report.note
    small = to_report(WorkspaceResult(summary=summary, diff="+a\n"))
    assert small.diff == "+a\n" and not small.diff_truncated


def test_records_with_and_without_a_workspace_load(tmp_path: Path) -> None:
    old = {"task": payload().model_dump(mode="json"), "runner": "shell", "backend": "screen", "session": "orc-x",
           "started_at": 1.0}
    path = tmp_path / "task.json"
    path.write_text(json.dumps(old))
    record = TaskRecord.load(path)
    assert record.workspace is None
    record.save(path)
    assert "workspace" not in json.loads(path.read_text())  # the file stays what older daemons wrote
    plain = tmp_path / "plain"
    plain.mkdir()
    prepared = asyncio.run(prepare_for(payload(), config(tmp_path, plain)))
    assert prepared.kind == "in_place" and prepared.note
    record.workspace = prepared
    record.save(path)
    assert TaskRecord.load(path).workspace == prepared


def test_a_refused_report_does_not_hold_up_the_task(tmp_path: Path) -> None:
    """A hub that refuses the report (422) or lacks the route (404): the daemon goes on to its
    complete/fail; an outage (503) raises, so the whole report is retried."""
    import httpx
    import pytest

    from orchestratia.agent.client import HubClient, TransientError
    from orchestratia.agent.task_workspace import finish_and_send

    plain = tmp_path / "plain"
    plain.mkdir()
    prepared = asyncio.run(prepare_for(payload(), config(tmp_path, plain)))
    seen: list[int] = []

    def answer(status: int) -> HubClient:
        def handler(request: httpx.Request) -> httpx.Response:
            seen.append(status)
            return httpx.Response(status, json={"detail": "no"})
        return HubClient("http://hub", "k", attempts=1, transport=httpx.MockTransport(handler))

    for status in (404, 422, 413):
        asyncio.run(finish_and_send(answer(status), prepared, "t", "A <a@b>"))
    with pytest.raises(TransientError):
        asyncio.run(finish_and_send(answer(503), prepared, "t", "A <a@b>"))
    assert seen == [404, 422, 413, 503]
