"""The program that runs inside a task's session (screen, tmux or direct).

    python -m orchestratia.agent.launcher SPEC.json
    python /path/to/orchestratia/agent/launcher.py SPEC.json      (same thing; stdlib only)

SPEC.json (written 0600 by the daemon, so no task data is ever on a command line) holds::

    {"task_id", "argv": [...], "cwd", "log_path", "pid_path", "exit_path",
     "stdin_path": null | path, "env": {...} | null}

The launcher
- spawns ``argv`` (a list, never a shell string) in ``cwd`` in a new session (its own process
  group, so the daemon can signal the whole tree with ``killpg``);
- writes the runner's pid to ``pid_path`` (atomically);
- copies the runner's stdout+stderr (one pipe, so their order is kept) to ``log_path``
  unbuffered (``os.read`` on the pipe, ``os.write`` of each read) and to its own stdout (the
  session's terminal, so ``screen -r`` shows it);
- forwards SIGINT/SIGTERM/SIGHUP it receives to the runner's process group;
- when the runner exits, writes ``exit_path`` atomically (tmp + rename) with the real exit status
  (killed by signal n -> 128 + n) as JSON ``{"exit_code", "signal", "pid", "ended_at"}``.

This module imports nothing but the standard library: it must start fast and run with any
python3 even where the orchestratia package is not importable.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timezone

SECRET_ENV_PREFIX = "ORCHESTRATIA_"
#: per-task variables the daemon sets on purpose (the help relay's socket and a per-task
#: credential, never the agent's API key); every other ORCHESTRATIA_* variable is removed
TASK_ENV_ALLOWED = frozenset({"ORCHESTRATIA_TASK_ID", "ORCHESTRATIA_TASK_CREDENTIAL", "ORCHESTRATIA_SOCKET"})
FORWARDED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def write_atomic(path: str, data: bytes, mode: int = 0o644) -> None:
    """Write ``data`` to ``path`` atomically (temp file, fsync, rename) with exactly ``mode``:
    readers see the old file or the new one, never a part.

    A twin of ``orchestratia.protocol.shared.write_atomic``, kept on purpose: this file runs as
    a script (``python launcher.py SPEC``) with any python3, where the package may not be
    importable, so it imports nothing but the standard library."""
    tmp = f"{path}.tmp.{os.getpid()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.fchmod(fd, mode)  # the umask may have taken bits away; a private file is 0600 exactly
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def clean_env(env: dict[str, str], allow: frozenset[str] = frozenset()) -> dict[str, str]:
    """The task's environment: no ORCHESTRATIA_* variable (API keys, admin tokens) but those in
    ``allow``."""
    return {k: v for k, v in env.items() if not k.startswith(SECRET_ENV_PREFIX) or k in allow}


def exit_status(returncode: int) -> tuple[int, int | None]:
    """Popen returncode -> (shell-style exit status, signal or None)."""
    if returncode < 0:
        return 128 - returncode, -returncode
    return returncode, None


def _write_exit(spec: dict, code: int, sig: int | None, pid: int | None) -> None:
    record = {
        "task_id": spec.get("task_id"),
        "exit_code": code,
        "signal": sig,
        "pid": pid,
        "ended_at": datetime.now(timezone.utc).isoformat(),
        "ended_at_epoch": time.time(),
    }
    write_atomic(spec["exit_path"], json.dumps(record).encode())


def _tee(out_fd: int, log_fd: int, term_fd: int | None) -> None:
    while True:
        try:
            data = os.read(out_fd, 65536)
        except InterruptedError:  # pragma: no cover - PEP 475 retries for us
            continue
        if not data:
            return
        view = memoryview(data)
        while view:
            written = os.write(log_fd, view)
            view = view[written:]
        if term_fd is not None:
            try:
                os.write(term_fd, data)  # best effort: never let a stalled terminal hold up the log
            except BlockingIOError:
                pass
            except OSError:  # the terminal went away (session killed): keep logging
                term_fd = None


def run(spec: dict) -> int:
    log_fd = os.open(spec["log_path"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)
    given = spec.get("env")
    env = clean_env(given, TASK_ENV_ALLOWED) if given is not None else clean_env(dict(os.environ))
    stdin = open(spec["stdin_path"], "rb") if spec.get("stdin_path") else subprocess.DEVNULL
    try:
        proc = subprocess.Popen(
            spec["argv"],
            cwd=spec.get("cwd") or None,
            env=env,
            stdin=stdin,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
        )
    except OSError as err:
        msg = f"[orchestratia] cannot start {spec['argv'][0]!r}: {err.strerror or err}\n"
        os.write(log_fd, msg.encode())
        _write_exit(spec, 127 if isinstance(err, FileNotFoundError) else 126, None, None)
        return 127
    finally:
        if stdin is not subprocess.DEVNULL:
            stdin.close()

    def forward(signum: int, _frame: object) -> None:
        try:
            os.killpg(proc.pid, signum)
        except ProcessLookupError:
            pass

    for sig in FORWARDED_SIGNALS:
        signal.signal(sig, forward)
    write_atomic(spec["pid_path"], f"{proc.pid}\n".encode())
    term_fd: int | None = None
    if sys.stdout is not None:
        try:
            term_fd = sys.stdout.fileno()
            os.set_blocking(term_fd, False)
        except (OSError, ValueError):
            term_fd = None
    try:
        assert proc.stdout is not None
        _tee(proc.stdout.fileno(), log_fd, term_fd)
    finally:
        returncode = proc.wait()
        os.close(log_fd)
    code, sig = exit_status(returncode)
    _write_exit(spec, code, sig, proc.pid)
    return code


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: launcher.py SPEC.json", file=sys.stderr)
        return 2
    with open(args[0], encoding="utf-8") as fh:
        spec = json.load(fh)
    return run(spec)


if __name__ == "__main__":
    sys.exit(main())
