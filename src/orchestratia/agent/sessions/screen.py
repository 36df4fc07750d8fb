"""GNU screen backend: detached sessions named ``orc-<task id>``."""

from __future__ import annotations

import re

from .base import SessionBackend, SessionError


class ScreenBackend(SessionBackend):
    name = "screen"
    binary = "screen"

    def start(self, name: str, argv: list[str], env: dict[str, str], cwd: str) -> None:
        self.require()
        env = {**env, "TERM": env.get("TERM") or "xterm"}
        env.pop("STY", None)  # started from inside another screen: still make a new one
        proc = self._run(["screen", "-dmS", name, *argv], env=env, cwd=cwd)
        if proc.returncode != 0:
            raise SessionError(f"screen failed to start session {name}: {(proc.stderr or proc.stdout).strip()}")

    def is_alive(self, name: str) -> bool:
        proc = self._run(["screen", "-ls", name])
        # lines look like "\t12345.orc-<id>\t(Detached)"; `screen -ls` exits 1 even when listing
        return re.search(rf"^\s*\d+\.{re.escape(name)}\s", proc.stdout, re.M) is not None

    def kill(self, name: str) -> None:
        self._run(["screen", "-S", name, "-X", "quit"])

    def attach_hint(self, name: str) -> str:
        return f"screen -r {name}"
