"""Direct backend: no multiplexer. The launcher runs as a child in its own session
(``start_new_session``), so it survives the daemon; its terminal output goes nowhere
(the log file has everything)."""

from __future__ import annotations

import subprocess

import psutil

from .base import SessionBackend, SessionError


class DirectBackend(SessionBackend):
    name = "direct"
    binary = None

    def __init__(self) -> None:
        self._procs: dict[str, subprocess.Popen] = {}
        self._pids: dict[str, int] = {}

    def start(self, name: str, argv: list[str], env: dict[str, str], cwd: str) -> None:
        try:
            proc = subprocess.Popen(argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL, start_new_session=True, close_fds=True)
        except OSError as err:
            raise SessionError(f"cannot start the launcher: {err}") from err
        self._procs[name] = proc
        self._pids[name] = proc.pid

    def adopt(self, name: str, pid: int) -> None:
        self._pids[name] = pid

    def is_alive(self, name: str) -> bool:
        proc = self._procs.get(name)
        if proc is not None:
            if proc.poll() is None:
                return True
            self._procs.pop(name, None)
            return False
        pid = self._pids.get(name)
        if pid is None:
            return False
        try:
            return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
        except psutil.Error:
            return False

    def kill(self, name: str) -> None:
        proc = self._procs.pop(name, None)
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait(timeout=5)
