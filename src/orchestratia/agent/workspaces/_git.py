"""Running git: argv lists only (never a shell string), a timeout on every call, no prompts.

Every call runs with ``GIT_TERMINAL_PROMPT=0``, stdin from /dev/null and in a new session (no
controlling terminal, so neither git nor ssh can stop to ask for a password: a push whose
credentials are missing fails at once instead of hanging the daemon), and ``LC_ALL=C`` so the
messages we recognise (non-fast-forward, authentication) are git's English ones.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Mapping, Sequence

from .errors import GitError

_USERINFO = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://)[^/@\s]+@")

#: local operations (rev-parse, add, commit, diff) on big repos stay well under this
LOCAL_TIMEOUT = 120.0
#: fetch / push over the network
NETWORK_TIMEOUT = 300.0
#: options that keep git from running code the repository's config or hooks name: an agent
#: controls the worktree and could have written them (it can run commands anyway, but the
#: daemon's own commit must not run hooks: the commit message promises "no hooks run")
SAFE_CONFIG = ("-c", "core.hooksPath=/dev/null", "-c", "core.fsmonitor=false", "-c", "commit.gpgsign=false")


def git_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C", "LANGUAGE": "C", "GIT_PAGER": "cat"})
    env.pop("GIT_DIR", None)  # an inherited GIT_DIR / GIT_WORK_TREE would point every call elsewhere
    env.pop("GIT_WORK_TREE", None)
    env.pop("GIT_INDEX_FILE", None)
    if extra:
        env.update(extra)
    return env


def run(args: Sequence[str], cwd: str | Path, *, timeout: float = LOCAL_TIMEOUT, check: bool = True,
        env: Mapping[str, str] | None = None, input: bytes | None = None,
        what: str = "") -> subprocess.CompletedProcess[str]:
    """Run ``git ARGS`` in ``cwd``; raise :class:`GitError` on a non-zero exit when ``check``."""
    argv = ["git", *args]
    try:
        proc = subprocess.run(argv, cwd=os.fspath(cwd), env=git_env(env), input=input,
                              stdin=None if input is not None else subprocess.DEVNULL,
                              capture_output=True, timeout=timeout, start_new_session=True)
    except subprocess.TimeoutExpired as exc:
        raise GitError(f"git {args[0]} {'(' + what + ') ' if what else ''}did not finish within "
                       f"{timeout:.0f} s in {cwd}", argv) from exc
    except FileNotFoundError as exc:
        if not Path(cwd).is_dir():
            raise GitError(f"the directory {cwd} does not exist", argv) from exc
        raise GitError("git is not installed on this server (no `git` on PATH); install it", argv) from exc
    out = proc.stdout.decode("utf-8", "replace")
    err = proc.stderr.decode("utf-8", "replace")
    result = subprocess.CompletedProcess(argv, proc.returncode, out, err)
    if check and proc.returncode != 0:
        raise GitError(f"git {args[0]} failed{' (' + what + ')' if what else ''}: {first_error(err, out)}",
                       argv, err)
    return result


def run_capped(args: Sequence[str], cwd: str | Path, cap: int, *, timeout: float = LOCAL_TIMEOUT,
               env: Mapping[str, str] | None = None) -> tuple[bytes, bool]:
    """Run ``git ARGS`` and read at most ``cap`` bytes of its stdout: (bytes, truncated).

    A diff can be gigabytes (a generated file, a dump): reading it whole would cost the daemon
    that much memory, so past the cap git is stopped and only the fact is kept."""
    argv = ["git", *args]
    proc = subprocess.Popen(argv, cwd=os.fspath(cwd), env=git_env(env), stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    assert proc.stdout is not None
    chunks: list[bytes] = []
    size = 0
    truncated = False
    try:
        while True:
            chunk = proc.stdout.read(min(1 << 16, cap + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
            if size > cap:
                truncated = True
                proc.kill()
                break
        _, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        proc.kill()
        proc.communicate()
        raise GitError(f"git {args[0]} did not finish within {timeout:.0f} s in {cwd}", argv) from exc
    if not truncated and proc.returncode != 0:
        text = err.decode("utf-8", "replace")
        raise GitError(f"git {args[0]} failed: {first_error(text, '')}", argv, text)
    return b"".join(chunks)[:cap], truncated


def first_error(stderr: str, stdout: str = "") -> str:
    """The informative part of git's output: its ``fatal:``/``error:`` lines, else the last
    lines; credentials in URLs redacted."""
    lines = [ln.strip() for ln in (stderr or stdout).splitlines() if ln.strip()]
    picked = [ln for ln in lines if ln.startswith(("fatal:", "error:"))] or lines[-3:]
    return redact(" / ".join(picked)[:1000]) or "no message"


def redact(text: str) -> str:
    """``https://user:token@host/...`` -> ``https://***@host/...``: a remote URL may embed a
    token, and our messages end up on the hub."""
    return _USERINFO.sub(r"\1***@", text)


def rev(cwd: str | Path, ref: str) -> str | None:
    """The commit ``ref`` names, or None when it names none (never reads ``ref`` as an option)."""
    proc = run(["rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}"], cwd, check=False)
    sha = proc.stdout.strip()
    return sha if proc.returncode == 0 and sha else None


def current_branch(cwd: str | Path) -> str | None:
    """The branch checked out in ``cwd`` (None when HEAD is detached)."""
    proc = run(["symbolic-ref", "--quiet", "--short", "HEAD"], cwd, check=False)
    return proc.stdout.strip() or None if proc.returncode == 0 else None


def common_dir(cwd: str | Path) -> Path:
    """The repository's shared .git directory (the same for every worktree of a repo)."""
    out = run(["rev-parse", "--git-common-dir"], cwd).stdout.strip()  # relative to cwd or absolute
    return (Path(cwd) / out).resolve()
