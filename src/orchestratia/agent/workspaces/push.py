"""Pushing a task's branch and opening a pull / merge request, with the server's own
credentials (whatever git, ``gh`` or ``glab`` are configured with; no token ever passes through
here). Every failure raises with a message for the user; the local branch always stays."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Mapping

from . import _git
from .errors import PullRequestError, PushError
from .model import Prepared
from .naming import check_branch_name

PR_TIMEOUT = 120.0
_AUTH = ("authentication failed", "permission denied", "could not read username", "could not read password",
         "terminal prompts disabled", "access denied", "returned error: 401", "returned error: 403",
         "invalid username or password",
         "host key verification failed")
_UNREACHABLE = ("could not resolve host", "does not appear to be a git repository", "connection refused",
                "could not read from remote repository", "unable to access", "repository not found")


def push(where: Prepared | str | os.PathLike[str], branch: str | None = None, remote: str = "origin", *,
         timeout: float = _git.NETWORK_TIMEOUT) -> str:
    """Push ``branch`` (default: the prepared task's) to ``remote`` under the same name; return
    the remote's URL (credentials redacted). A non-fast-forward is refused, never forced."""
    path = Path(where.path if isinstance(where, Prepared) else where)
    if branch is None and isinstance(where, Prepared):
        branch = where.branch
    if not branch:
        raise PushError("this task has no branch to push (it ran in place on a detached HEAD or outside git)")
    branch = check_branch_name(branch)
    url = remote_url(path, remote)
    proc = _git.run(["push", "--porcelain", "--", remote, f"refs/heads/{branch}:refs/heads/{branch}"], path,
                    check=False, timeout=timeout)
    if proc.returncode != 0:
        raise PushError(_push_failure(proc.stdout + "\n" + proc.stderr, branch, remote, url))
    return url


def remote_url(path: Path, remote: str) -> str:
    """The URL of ``remote``, or a PushError naming the remotes there are."""
    remotes = _git.run(["remote"], path).stdout.split()
    if remote not in remotes:
        have = ", ".join(remotes) or "none"
        raise PushError(f"the repository has no remote {remote!r} (remotes: {have}); add one on the server with "
                        f"`git remote add {remote} URL` or choose another with --remote")
    return _git.redact(_git.run(["remote", "get-url", "--", remote], path).stdout.strip())


def _push_failure(output: str, branch: str, remote: str, url: str) -> str:
    low = output.lower()
    kept = f"the branch {branch} is kept on the server"
    if "non-fast-forward" in low or "fetch first" in low or "[rejected]" in low:
        return (f"{remote} refused the push: its {branch} has commits this branch does not (non-fast-forward); "
                f"{kept}: merge or rebase it there, or push under another name")
    if any(word in low for word in _AUTH):
        return (f"{remote} ({url}) refused the server's git credentials; set up credentials for that remote on "
                f"the server (SSH key or credential helper), then push again; {kept}")
    if any(word in low for word in _UNREACHABLE):
        return f"could not reach {remote} ({url}): {_git.first_error(output)}; {kept}"
    return f"pushing {branch} to {remote} failed: {_git.first_error(output)}; {kept}"


def detect_pr_tool(env: Mapping[str, str] | None = None, prefer: str | None = None) -> str | None:
    """``gh`` or ``glab`` (the first found on PATH; ``prefer`` first when given), else None."""
    search = (env or os.environ).get("PATH", os.defpath)
    order = [prefer] if prefer in ("gh", "glab") else []
    order += [t for t in ("gh", "glab") if t not in order]
    for tool in order:
        found = shutil.which(tool, path=search)
        if found:
            return found
    return None


def open_pr(path: str | os.PathLike[str], branch: str, base: str, title: str, body: str = "", *,
            remote: str = "origin", env: Mapping[str, str] | None = None, timeout: float = PR_TIMEOUT) -> str:
    """Open a pull request (``gh``) or merge request (``glab``) from ``branch`` into ``base``;
    return its URL (the tool's last stdout line). ``glab`` is preferred for a GitLab remote."""
    branch, base = check_branch_name(branch), check_branch_name(base)
    url = ""
    try:
        url = remote_url(Path(path), remote)
    except PushError:
        pass  # the tool says itself what it lacks
    tool = detect_pr_tool(env, prefer="glab" if "gitlab" in url.lower() else None)
    if tool is None:
        raise PullRequestError("neither gh (GitHub CLI) nor glab (GitLab CLI) is installed on the server; install "
                               "and log in to one (gh auth login) to open pull requests; the branch was pushed")
    title = title.strip() or branch
    if os.path.basename(tool) == "glab":
        argv = [tool, "mr", "create", f"--source-branch={branch}", f"--target-branch={base}", f"--title={title}",
                f"--description={body}", "--yes"]
    else:
        argv = [tool, "pr", "create", f"--head={branch}", f"--base={base}", f"--title={title}", f"--body={body}"]
    return _run_pr_tool(argv, Path(path), env, timeout)


def _run_pr_tool(argv: list[str], cwd: Path, env: Mapping[str, str] | None, timeout: float) -> str:
    name = os.path.basename(argv[0])
    full_env = dict(env if env is not None else os.environ)
    full_env.update({"GIT_TERMINAL_PROMPT": "0", "GH_PROMPT_DISABLED": "1", "NO_COLOR": "1"})
    try:
        proc = subprocess.run(argv, cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL, start_new_session=True)
    except subprocess.TimeoutExpired:
        raise PullRequestError(f"{name} did not answer within {timeout:.0f} s; the branch was pushed") from None
    except OSError as exc:
        raise PullRequestError(f"{name} could not be started ({exc}); the branch was pushed") from None
    if proc.returncode != 0:
        detail = _git.first_error(proc.stderr, proc.stdout)
        hint = " (log in on the server: gh auth login / glab auth login)" if "auth" in detail.lower() else ""
        raise PullRequestError(f"{name} could not open the request: {detail}{hint}; the branch was pushed")
    lines = [ln.strip() for ln in proc.stdout.splitlines() if ln.strip()]
    if not lines or not lines[-1].startswith(("https://", "http://")):
        raise PullRequestError(f"{name} succeeded but printed no URL (got {lines[-1] if lines else 'nothing'!r})")
    return lines[-1]
