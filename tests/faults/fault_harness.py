"""Helpers for the fault-injection tests, on top of the integration harness."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

from integration_harness import FAKE_CLAUDE, Agent, Hub


class FaultHub(Hub):
    """A hub we own (not the session-wide one): killable with SIGKILL, restartable on the same
    port and store."""

    def kill9(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def restart(self) -> "FaultHub":
        self.start()
        return self


async def drop_schema(url: str, schema: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()


def write_counting_claude(path: Path, runs_file: Path) -> Path:
    """A claude binary that appends one line to ``runs_file`` per start, then runs the fake."""
    path.write_text(
        "#!/bin/sh\n"
        f'echo "$$ $(date +%s.%N)" >> "{runs_file}"\n'
        f'exec "{sys.executable}" "{FAKE_CLAUDE}" "$@"\n'
    )
    path.chmod(0o755)
    return path


class FaultAgent(Agent):
    runs_file: Path

    def runs(self) -> list[str]:
        return self.runs_file.read_text().splitlines() if self.runs_file.exists() else []
