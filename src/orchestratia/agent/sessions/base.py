"""The interface of a session backend."""

from __future__ import annotations

import shutil
import subprocess


class SessionError(Exception):
    """A session could not be started (multiplexer missing, failed to start)."""


def session_name(task_id: str) -> str:
    return f"orc-{task_id}"


class SessionBackend:
    name = "base"
    binary: str | None = None

    def available(self) -> bool:
        return self.binary is None or shutil.which(self.binary) is not None

    def require(self) -> None:
        if not self.available():
            raise SessionError(
                f"{self.binary} is not installed (session.backend: {self.name}); "
                f"install it (sudo apt install -y {self.binary}) or set session.backend: direct"
            )

    def start(self, name: str, argv: list[str], env: dict[str, str], cwd: str) -> None:
        raise NotImplementedError

    def is_alive(self, name: str) -> bool:
        raise NotImplementedError

    def ended_error(self, name: str) -> str:
        """The task's error when its session is gone and the launcher wrote no exit record."""
        return (f"the task's {self.name} session ended without recording an exit status "
                "(killed, or the machine rebooted)")

    def kill(self, name: str) -> None:
        """Tear the session down (the runner is signalled through its process group first)."""
        raise NotImplementedError

    def attach_hint(self, name: str) -> str:
        return ""

    @staticmethod
    def _run(argv: list[str], env: dict[str, str] | None = None, cwd: str | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(
            argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30
        )
