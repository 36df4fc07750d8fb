"""tmux backend: detached sessions named ``orc-<task id>``."""

from __future__ import annotations

import os
import time

from .base import SessionBackend, SessionError


#: sockaddr_un.sun_path holds 108 bytes with the terminating NUL
MAX_SOCKET_PATH = 107


class TmuxBackend(SessionBackend):
    name = "tmux"
    binary = "tmux"

    def __init__(self, socket: str = "") -> None:
        self.socket = socket

    def _tmux(self) -> list[str]:
        return ["tmux", "-S", self.socket] if self.socket else ["tmux"]

    def start(self, name: str, argv: list[str], env: dict[str, str], cwd: str) -> None:
        self.require()
        if self.socket and len(os.fsencode(os.path.abspath(self.socket))) > MAX_SOCKET_PATH:
            # tmux would only say "File name too long"
            raise SessionError(f"session.tmux_socket: {self.socket} is too long for a Unix socket path (at most "
                               f"{MAX_SOCKET_PATH} bytes); choose a shorter path, e.g. under /tmp")
        env = {k: v for k, v in env.items() if k not in ("TMUX", "TMUX_PANE")}
        env.setdefault("TERM", "xterm")
        # several arguments after the session options: tmux runs them directly (no shell)
        cmd = [*self._tmux(), "new-session", "-d", "-s", name, "-c", cwd, "-x", "200", "-y", "50", *argv]
        proc = self._run(cmd, env=env, cwd=cwd)
        if proc.returncode != 0 and not self.is_alive(name):
            # the server may have been exiting (its last session just ended) as we connected: once more
            time.sleep(0.2)
            proc = self._run(cmd, env=env, cwd=cwd)
        if proc.returncode != 0:
            raise SessionError(f"tmux failed to start session {name}: {(proc.stderr or proc.stdout).strip()}")

    def is_alive(self, name: str) -> bool:
        return self._run([*self._tmux(), "has-session", "-t", f"={name}"]).returncode == 0

    def kill(self, name: str) -> None:
        self._run([*self._tmux(), "kill-session", "-t", f"={name}"])

    def attach_hint(self, name: str) -> str:
        return " ".join([*self._tmux(), "attach", "-t", name])
