"""What may start now on this agent: at most ``max_concurrent_tasks`` tasks running or starting,
each task once; the others wait, in the order they came, for a free slot.

The daemon hears of a task from the WebSocket push and again from every poll until the hub
marks it running, so the same task comes in many times: only its first offer starts it. A
cancel may arrive at any point: a waiting task is dropped, a starting one is told when its start
reaches the hub (:meth:`Admission.cancel_reason`), a running one is handed back to be stopped.
"""

from __future__ import annotations

from orchestratia.protocol import TaskPayload

from .tasks import TaskRun


class Admission:
    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.running: dict[str, TaskRun] = {}
        self._starting: dict[str, str | None] = {}  # task id -> the reason of a cancel that came meanwhile
        self._waiting: dict[str, TaskPayload] = {}  # insertion order: first come, first started

    @property
    def full(self) -> bool:
        return len(self.running) + len(self._starting) >= self.capacity

    def offer(self, task: TaskPayload) -> bool:
        """True when ``task`` is to start now (it counts as starting until :meth:`started`);
        False when it runs or starts already, or waits for a slot."""
        if task.id in self.running or task.id in self._starting:
            return False
        if self.full:
            self._waiting[task.id] = task
            return False
        self._waiting.pop(task.id, None)
        self._starting[task.id] = None
        return True

    def cancel_reason(self, task_id: str) -> str | None:
        """The reason of a cancel that came while ``task_id`` was starting, if any."""
        return self._starting.get(task_id)

    def is_starting(self, task_id: str) -> bool:
        return task_id in self._starting

    def started(self, task_id: str, run: TaskRun | None) -> None:
        """The start of ``task_id`` is over: it runs as ``run``, or (None) it did not start."""
        self._starting.pop(task_id, None)
        if run is not None:
            self.running[task_id] = run

    def adopt(self, run: TaskRun) -> None:
        """A task a previous daemon started (found on disk at start-up)."""
        self.running[run.id] = run

    def cancel(self, task_id: str, reason: str) -> TaskRun | None:
        """The run to stop when ``task_id`` runs; a waiting task is dropped, a starting one is
        told when its start reaches the hub."""
        if self._waiting.pop(task_id, None) is not None:
            return None
        if task_id in self._starting:
            self._starting[task_id] = reason
            return None
        return self.running.get(task_id)

    def finished(self, task_id: str) -> None:
        self.running.pop(task_id, None)

    def next_waiting(self) -> TaskPayload | None:
        """The first waiting task, taken off the queue, when a slot is free."""
        if self.full or not self._waiting:
            return None
        task_id = next(iter(self._waiting))
        return self._waiting.pop(task_id)
