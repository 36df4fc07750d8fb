"""A task's own worktree and branch, through the real hub, the real daemon, screen and the
shell runner, with real git: tasks on one repo run at once, each on its own branch; the repo's
checkout is untouched; the hub serves each task's change (``tasks diff``)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any, Callable

import pytest

from integration_harness import Agent, Cli, Hub

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

IDENT = ["-c", "user.name=Test", "-c", "user.email=test@example.com"]


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *IDENT, *args], cwd=repo, check=True, capture_output=True, text=True).stdout


def make_repo(path: Path) -> Path:
    """A repo on ``main`` with one commit, then left dirty: a modified tracked file, an untracked
    one, and a staged change (a dirty checkout must not block a task, nor be touched by one)."""
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", "main")
    (path / "README.md").write_text("hello\n")
    (path / "staged.txt").write_text("one\n")
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "first")
    (path / "README.md").write_text("hello, edited by the user\n")
    (path / "scratch.txt").write_text("the user's own notes\n")
    (path / "staged.txt").write_text("two\n")
    git(path, "add", "staged.txt")
    return path


def checkout_state(repo: Path) -> tuple[str, str, str, str]:
    return (git(repo, "rev-parse", "HEAD"), git(repo, "branch", "--show-current"),
            git(repo, "status", "--porcelain"), git(repo, "diff", "--cached"))


def both_then_write(marker_dir: Path, me: str, other: str, filename: str, text: str) -> str:
    """A shell task that says it runs, waits (at most 40 s) until the other one runs too, then
    writes its file: the two are running at the same time when they write."""
    return (f"touch {marker_dir}/{me}; for i in $(seq 400); do [ -e {marker_dir}/{other} ] && break; sleep 0.1; done; "
            f"[ -e {marker_dir}/{other} ] || {{ echo 'the other task never ran'; exit 9; }}; "
            f"printf '{text}\\n' > {filename}")


@pytest.fixture
def repo_agent(make_agent: Callable[..., Agent], tmp_path: Path) -> tuple[Agent, Path]:
    repo = make_repo(tmp_path / "repo")
    agent = make_agent(repos={"work": repo, "plain": tmp_path / "plain"},
                       overrides={"max_concurrent_tasks": 2,
                                  "workspace": {"root": str(tmp_path / "worktrees"),
                                                "author": "Robot <robot@example.com>"}})
    return agent, repo


def create(cli: Cli, agent: Agent, spec: str, title: str, repo: str = "work", *extra: str) -> dict[str, Any]:
    return cli.create_task(spec, agent.name, repo, title, "--runner", "shell", *extra)


def test_two_tasks_on_one_repo_run_at_once_each_on_its_own_branch(
        hub: Hub, cli: Cli, repo_agent: tuple[Agent, Path], tmp_path: Path) -> None:
    agent, repo = repo_agent
    before = checkout_state(repo)
    markers = tmp_path / "markers"
    markers.mkdir()
    a = create(cli, agent, both_then_write(markers, "a", "b", "alpha.txt", "from a"), "Add alpha")
    b = create(cli, agent, both_then_write(markers, "b", "a", "beta.txt", "from b"), "Add beta")
    done = {t["id"]: hub.wait_final(t["id"], timeout=60) for t in (a, b)}
    assert all(t["status"] == "completed" for t in done.values()), done
    assert checkout_state(repo) == before  # HEAD, branch, status and index as the user left them
    assert not (repo / "alpha.txt").exists() and not (repo / "beta.txt").exists()

    base = before[0].strip()
    for task, mine, theirs in ((a, "alpha.txt", "beta.txt"), (b, "beta.txt", "alpha.txt")):
        ws = cli.json("tasks", "show", task["id"])["workspace"]
        assert ws["kind"] == "worktree" and ws["branch"].startswith(f"orchestratia/{task['id'][:8]}-")
        assert ws["base_commit"] == base and ws["head_commit"] != base and ws["committed"] is True
        assert (ws["files_changed"], ws["insertions"], ws["deletions"]) == (1, 1, 0)
        assert git(repo, "diff", "--name-only", f"{base}...{ws['branch']}").split() == [mine]
        assert git(repo, "log", "-1", "--format=%an <%ae>%n%B", ws["branch"]).startswith("Robot <robot@example.com>")
        shown = cli.run("tasks", "diff", task["id"]).stdout
        assert f"+++ b/{mine}" in shown and theirs not in shown
        stat = cli.json("tasks", "diff", task["id"], "--stat")
        assert stat["files"] == [{"path": mine, "old_path": None, "insertions": 1, "deletions": 0,
                                  "binary": False, "status": "added"}]
        human = cli.run("tasks", "show", task["id"]).stdout
        assert ws["branch"] in human


def test_in_place_runs_in_the_checkout(hub: Hub, cli: Cli, repo_agent: tuple[Agent, Path]) -> None:
    agent, repo = repo_agent
    task = create(cli, agent, "printf 'here\\n' > inplace.txt", "In place", "work", "--workspace", "in-place")
    assert hub.wait_final(task["id"])["status"] == "completed"
    assert (repo / "inplace.txt").read_text() == "here\n"
    ws = cli.json("tasks", "show", task["id"])["workspace"]
    assert ws["kind"] == "in_place" and ws["committed"] is False and ws["branch"] == "main"
    assert "+here" in cli.run("tasks", "diff", task["id"]).stdout
    assert git(repo, "branch", "--list", "orchestratia/*") == ""


def test_a_directory_that_is_not_git_runs_in_place(hub: Hub, cli: Cli, repo_agent: tuple[Agent, Path],
                                                   tmp_path: Path) -> None:
    agent, _ = repo_agent
    task = create(cli, agent, "printf 'x\\n' > made.txt", "Plain dir", "plain")
    assert hub.wait_final(task["id"])["status"] == "completed"
    assert (tmp_path / "plain" / "made.txt").exists()
    ws = cli.json("tasks", "show", task["id"])["workspace"]
    assert ws["kind"] == "in_place" and ws["head_commit"] is None and "git" in ws["note"]
    out = cli.run("tasks", "diff", task["id"])
    assert out.returncode == 0 and out.stdout == ""


def test_diff_of_a_task_without_workspace_says_so(hub: Hub, cli: Cli, repo_agent: tuple[Agent, Path]) -> None:
    agent, _ = repo_agent
    task = cli.json("tasks", "create", "--title", "no repo", "--spec", "true", "--agent", agent.name,
                    "--runner", "shell")
    assert hub.wait_final(task["id"])["status"] == "completed"
    out = cli.run("tasks", "diff", task["id"], check=False)
    assert out.returncode != 0 and "no workspace result" in out.stderr


def test_a_bad_base_fails_the_task_with_the_reason(hub: Hub, cli: Cli, repo_agent: tuple[Agent, Path]) -> None:
    agent, repo = repo_agent
    before = checkout_state(repo)
    task = create(cli, agent, "true", "Bad base", "work", "--base", "no-such-ref")
    final = hub.wait_final(task["id"])
    assert final["status"] == "failed" and "no-such-ref" in final["error"], final
    assert checkout_state(repo) == before
