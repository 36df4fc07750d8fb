"""Keeping this agent's task worktrees in shape: prune the worktrees of finished, pushed tasks
after ``workspace.keep_days``, measure the disk they use (sent with each heartbeat), and keep
a spare checkout per worktree repo so the next task starts fast (docs/workspaces.md,
docs/performance.md). Everything blocking runs in a worker thread."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from orchestratia.protocol.shared import wait_set
from orchestratia.protocol.workspace_actions import WorkspaceDisk

from .task_workspace import spec_for_repo
from .workspace_actions import pushed_marker
from .workspaces import WorkspaceError, disk_usage, prune, warm_spare

log = logging.getLogger("orchestratia.agent")
#: how often prune runs and the disk is measured again without a change to prompt it; walking
#: a 20,000-file worktree takes about 0.1-0.5 s here, so not on every 30 s heartbeat
UPKEEP_EVERY_S = 600.0
#: a change (task ended, push, discard) prompts a new measure at most this often
MEASURE_MIN_GAP_S = 2.0


class WorkspaceUpkeep:
    def __init__(self, cfg: Any, is_running: Callable[[str], bool]) -> None:
        self.cfg = cfg
        self.is_running = is_running
        self.disk: WorkspaceDisk | None = None
        self._due = asyncio.Event()
        self._warming: set[str] = set()
        self._bg: set[asyncio.Task[None]] = set()  # the running warm-ups (a task needs a reference)

    @property
    def root(self) -> Path:
        return Path(self.cfg.workspace.root)

    def changed(self) -> None:
        """Something under the root changed: measure again soon."""
        self._due.set()

    def is_done(self, task_id: str) -> bool:
        """Finished here (not running) and pushed (discarded ones are gone already)."""
        return not self.is_running(task_id) and pushed_marker(self.root, task_id).exists()

    def prune_once(self, now: float | None = None) -> list[str]:
        """Remove the worktrees of pushed, finished tasks untouched for ``keep_days``; their
        branches stay. Blocking."""
        pruned = prune(self.root, self.cfg.workspace.keep_days, self.is_done, now=now)
        for task_id in pruned:
            pushed_marker(self.root, task_id).unlink(missing_ok=True)
            log.info("task %s: its worktree was pruned (pushed, and untouched for %g days); the branch stays",
                     task_id, self.cfg.workspace.keep_days)
        return pruned

    def measure(self) -> WorkspaceDisk:
        usage = disk_usage(self.root)
        self.disk = WorkspaceDisk(total_bytes=usage.total_bytes, worktrees=len(usage.by_task),
                                  measured_at=datetime.now(timezone.utc).isoformat())
        return self.disk

    async def run(self, stop: asyncio.Event) -> None:
        last_full = 0.0
        while not stop.is_set():
            full = time.monotonic() - last_full >= UPKEEP_EVERY_S
            try:
                if full:
                    last_full = time.monotonic()
                    await asyncio.to_thread(self.prune_once)
                await asyncio.to_thread(self.measure)
            except (OSError, WorkspaceError) as err:
                log.warning("workspace upkeep under %s failed: %s", self.root, err)
            self._due.clear()
            if await wait_set(stop, MEASURE_MIN_GAP_S):
                return
            await wait_set(self._due, max(0.0, UPKEEP_EVERY_S - (time.monotonic() - last_full)))

    # ------------------------------------------------------------------ spare worktrees
    def warm(self, repo_name: str | None = None) -> None:
        """Prepare a spare worktree (in the background) for ``repo_name``, or every worktree
        repo: the next task there starts by switching it, not by writing every file."""
        if not getattr(self.cfg.workspace, "spare", True):
            return
        names = [repo_name] if repo_name else list(self.cfg.repos)
        for name in names:
            if name in self._warming or name not in self.cfg.repos:
                continue
            spec = spec_for_repo(self.cfg, name)
            if spec is None:
                continue
            self._warming.add(name)
            task = asyncio.get_running_loop().create_task(self._warm(name, spec), name=f"spare-{name}")
            self._bg.add(task)
            task.add_done_callback(self._bg.discard)

    async def _warm(self, name: str, spec: Any) -> None:
        try:
            started = time.monotonic()
            made = await asyncio.to_thread(warm_spare, spec)
            if made is not None:
                log.debug("repo %s: spare worktree ready in %.2f s", name, time.monotonic() - started)
        except (OSError, WorkspaceError) as err:
            log.info("repo %s: no spare worktree (%s); tasks there start with a fresh checkout", name, err)
        finally:
            self._warming.discard(name)
