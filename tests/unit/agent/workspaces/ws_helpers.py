"""Helpers for the workspace engine's tests: real git repositories in temp dirs."""

from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path

import pytest

from orchestratia.agent.workspaces import WorkspaceSpec

ROOT = Path(__file__).resolve().parents[4]
FAKES = ROOT / "tests" / "fakes"
IDENTITY = {"GIT_AUTHOR_NAME": "Tester", "GIT_AUTHOR_EMAIL": "tester@example.com",
            "GIT_COMMITTER_NAME": "Tester", "GIT_COMMITTER_EMAIL": "tester@example.com"}


def git(cwd: Path, *args: str, check: bool = True) -> str:
    """Run git for a test's own setup and checks; returns stdout stripped."""
    env = {**os.environ, **IDENTITY, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"}
    proc = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60)
    if check and proc.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {proc.stderr}")
    return proc.stdout.strip()


def make_repo(path: Path, files: dict[str, str] | None = None, branch: str = "main") -> Path:
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", branch)
    git(path, "config", "user.name", "Repo Owner")
    git(path, "config", "user.email", "owner@example.com")
    for name, text in (files or {"README.md": "hello\n", "src/app.py": "print('hi')\n"}).items():
        p = path / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "initial")
    return path


def snapshot(repo: Path) -> tuple[str, str, str]:
    """What the user sees of their checkout: (HEAD commit, current branch, status --porcelain)."""
    return (git(repo, "rev-parse", "HEAD"), git(repo, "symbolic-ref", "--short", "HEAD"),
            git(repo, "status", "--porcelain", "--untracked-files=all"))


def new_id() -> str:
    return str(uuid.uuid4())


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "repo")


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "state" / "workspaces"


@pytest.fixture
def spec(repo: Path, root: Path) -> WorkspaceSpec:
    return WorkspaceSpec(repo=repo, root=root, branch="main")


@pytest.fixture
def bare(tmp_path: Path, repo: Path) -> Path:
    """A bare repository, the checkout's ``origin``, holding ``main``."""
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    git(repo, "remote", "add", "origin", str(remote))
    git(repo, "push", "-q", "origin", "main")
    return remote
