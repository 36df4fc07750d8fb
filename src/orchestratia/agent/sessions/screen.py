"""GNU screen backend: detached sessions named ``orc-<task id>``.

A screen process killed with SIGKILL (the OOM killer, ``systemctl kill -s KILL``) cannot remove
its socket: ``screen -ls`` then lists the session as ``(Dead ???)`` for ever. Such a session is
not alive (its task ends failed once the daemon's grace for a vanished session has passed), and
its socket is wiped (``screen -wipe``) as soon as it is seen.
"""

from __future__ import annotations

import re

from .base import SessionBackend, SessionError

#: the states of `screen -ls` that are not a running screen process
DEAD_STATES = ("dead", "removed")


class ScreenBackend(SessionBackend):
    name = "screen"
    binary = "screen"

    def __init__(self) -> None:
        self._dead: set[str] = set()  # sessions seen dead: their task's error says it was killed

    def start(self, name: str, argv: list[str], env: dict[str, str], cwd: str) -> None:
        self.require()
        env = {**env, "TERM": env.get("TERM") or "xterm"}
        env.pop("STY", None)  # started from inside another screen: still make a new one
        proc = self._run(["screen", "-dmS", name, *argv], env=env, cwd=cwd)
        if proc.returncode != 0:
            raise SessionError(f"screen failed to start session {name}: {(proc.stderr or proc.stdout).strip()}")

    def is_alive(self, name: str) -> bool:
        proc = self._run(["screen", "-ls", name])
        # lines look like "\t12345.orc-<id>\t(<date>)\t(Detached)", or "(Dead ???)" for a screen
        # killed with SIGKILL; `screen -ls` exits 1 even when listing. `-ls NAME` matches by
        # prefix: only the line with exactly this name counts.
        alive = dead = False
        for line in proc.stdout.splitlines():
            if re.match(rf"\s*\d+\.{re.escape(name)}\s", line):
                states = [s.lower() for s in re.findall(r"\(([^()]*)\)", line)]
                if any(s.startswith(DEAD_STATES) for s in states):
                    dead = True
                else:
                    alive = True
        if dead:
            self._dead.add(name)
            self._run(["screen", "-wipe", name])  # removes dead sockets only
        return alive

    def ended_error(self, name: str) -> str:
        if name in self._dead:
            self._dead.discard(name)
            return "the task's screen session was killed (SIGKILL?) before the runner reported an exit"
        return super().ended_error(name)

    def kill(self, name: str) -> None:
        self._run(["screen", "-S", name, "-X", "quit"])

    def attach_hint(self, name: str) -> str:
        return f"screen -r {name}"
