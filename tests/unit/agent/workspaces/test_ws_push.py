"""push() to a real bare repository and open_pr() through fake gh / glab on PATH."""

from __future__ import annotations

import json
import os
import shutil
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator

import pytest
from ws_helpers import FAKES, git, new_id

from orchestratia.agent.workspaces import (
    Prepared, PullRequestError, PushError, WorkspaceSpec, finish, open_pr, prepare, push,
)


def _task_with_change(spec: WorkspaceSpec) -> Prepared:
    p = prepare(spec, new_id(), "Pushable work")
    (p.path / "feature.txt").write_text("feature\n")
    finish(p, "work")
    return p


def test_push_to_a_bare_repository(bare: Path, spec: WorkspaceSpec) -> None:
    p = _task_with_change(spec)
    assert push(p) == str(bare)
    assert git(bare, "rev-parse", f"refs/heads/{p.branch}") == git(p.path, "rev-parse", "HEAD")
    assert git(spec.repo, "rev-parse", f"refs/remotes/origin/{p.branch}") == git(p.path, "rev-parse", "HEAD")


def test_a_non_fast_forward_is_refused_clearly_and_the_branch_stays(bare: Path, spec: WorkspaceSpec,
                                                                    tmp_path: Path) -> None:
    p = _task_with_change(spec)
    push(p)
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", "-b", p.branch, str(bare), str(other))
    (other / "theirs.txt").write_text("someone else's\n")
    git(other, "add", "-A")
    git(other, "commit", "-q", "-m", "theirs")
    git(other, "push", "-q", "origin", p.branch)
    (p.path / "mine.txt").write_text("mine\n")
    mine = finish(p, "more").summary.head_commit
    with pytest.raises(PushError, match="non-fast-forward.*kept on the server"):
        push(p)
    assert git(p.path, "rev-parse", p.branch) == mine
    assert git(bare, "rev-parse", f"refs/heads/{p.branch}") == git(other, "rev-parse", "HEAD")


def test_push_without_the_remote_names_it(spec: WorkspaceSpec) -> None:
    p = _task_with_change(spec)
    with pytest.raises(PushError, match=r"no remote 'origin' \(remotes: none\).*git remote add origin"):
        push(p)
    with pytest.raises(PushError, match="no remote 'upstream'"):
        push(p.path, p.branch, remote="upstream")


def test_push_to_an_unreachable_remote_fails_fast(repo: Path, spec: WorkspaceSpec, tmp_path: Path) -> None:
    git(repo, "remote", "add", "origin", str(tmp_path / "nowhere.git"))
    p = _task_with_change(spec)
    with pytest.raises(PushError, match="could not reach origin"):
        push(p)


@pytest.fixture
def auth_server() -> Iterator[str]:
    """A git smart-HTTP endpoint on loopback that refuses every request with 401, as a forge does
    for missing or wrong credentials."""

    class Refuse(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="git"')
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_POST = do_GET

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Refuse)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("userinfo", ["", "bot:wrong-token@"])
def test_refused_credentials_are_named_and_nothing_prompts(repo: Path, spec: WorkspaceSpec, auth_server: str,
                                                           userinfo: str) -> None:
    git(repo, "remote", "add", "origin", f"http://{userinfo}{auth_server}/acme/repo.git")
    p = _task_with_change(spec)
    with pytest.raises(PushError, match="refused the server's git credentials.*kept on the server") as info:
        push(p)
    assert "wrong-token" not in str(info.value)  # the URL shown never carries the secret


def test_a_task_without_a_branch_cannot_be_pushed(tmp_path: Path, root: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    p = prepare(WorkspaceSpec(repo=plain, root=root), new_id(), "t")
    with pytest.raises(PushError, match="no branch to push"):
        push(p)


def _path_with(tmp_path: Path, *tools: str) -> dict[str, str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    for tool in tools:
        shutil.copy(FAKES / tool, bin_dir / tool)
    git_dir = os.path.dirname(shutil.which("git") or "/usr/bin/git")
    return {**os.environ, "PATH": f"{bin_dir}:{git_dir}", "FAKE_GH_ARGV_LOG": str(tmp_path / "argv.jsonl")}


def _calls(tmp_path: Path) -> list[dict]:
    return [json.loads(line) for line in (tmp_path / "argv.jsonl").read_text().splitlines()]


def test_open_pr_through_gh(bare: Path, spec: WorkspaceSpec, tmp_path: Path) -> None:
    p = _task_with_change(spec)
    push(p)
    env = _path_with(tmp_path, "gh")
    url = open_pr(p.path, p.branch, "main", "-Pushable work", "Body with `code`\nand lines", env=env)
    assert url == "https://github.com/acme/repo/pull/1"
    [call] = _calls(tmp_path)
    assert call["argv"] == ["pr", "create", f"--head={p.branch}", "--base=main", "--title=-Pushable work",
                            "--body=Body with `code`\nand lines"]
    assert call["cwd"] == str(p.path)


def test_gh_not_logged_in_is_a_clear_error(bare: Path, spec: WorkspaceSpec, tmp_path: Path) -> None:
    p = _task_with_change(spec)
    env = {**_path_with(tmp_path, "gh"), "FAKE_GH_MODE": "auth"}
    with pytest.raises(PullRequestError, match="gh could not open the request: .*gh auth login.*branch was pushed"):
        open_pr(p.path, p.branch, "main", "t", env=env)
    assert git(spec.repo, "rev-parse", "--verify", p.branch)


def test_no_gh_nor_glab_is_a_clear_error(spec: WorkspaceSpec, tmp_path: Path) -> None:
    p = _task_with_change(spec)
    with pytest.raises(PullRequestError, match="neither gh .* nor glab"):
        open_pr(p.path, p.branch, "main", "t", env=_path_with(tmp_path))


def test_glab_is_used_for_a_gitlab_remote(repo: Path, spec: WorkspaceSpec, tmp_path: Path) -> None:
    git(repo, "remote", "add", "origin", "git@gitlab.example.com:acme/repo.git")
    p = _task_with_change(spec)
    url = open_pr(p.path, p.branch, "main", "Title", "Desc", env=_path_with(tmp_path, "gh", "glab"))
    assert url == "https://gitlab.com/acme/repo/-/merge_requests/1"
    [call] = _calls(tmp_path)
    assert call["tool"] == "glab" and call["argv"] == [
        "mr", "create", f"--source-branch={p.branch}", "--target-branch=main", "--title=Title",
        "--description=Desc", "--yes"]


def test_open_pr_refuses_a_hostile_base(spec: WorkspaceSpec, tmp_path: Path) -> None:
    p = _task_with_change(spec)
    with pytest.raises(Exception, match="not a valid git branch name"):
        open_pr(p.path, p.branch, "--repo=evil/x", "t", env=_path_with(tmp_path, "gh"))
