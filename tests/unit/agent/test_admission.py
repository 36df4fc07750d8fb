"""What may start now: capacity, each task once, first come first started, and a cancel at each
stage (waiting, starting, running)."""

from __future__ import annotations

import uuid
from pathlib import Path

from orchestratia.agent import tasks as T
from orchestratia.agent.admission import Admission
from orchestratia.protocol import TaskPayload, TaskStatus


def task() -> TaskPayload:
    return TaskPayload(id=str(uuid.uuid4()), title="t", spec="s", status=TaskStatus.ASSIGNED)


def run_of(t: TaskPayload, tmp_path: Path) -> T.TaskRun:
    return T.new_run(t, "shell", "direct", tmp_path, tmp_path, None)


def test_capacity_then_waiting_in_order(tmp_path: Path) -> None:
    adm = Admission(2)
    a, b, c, d = task(), task(), task(), task()
    assert adm.offer(a) and adm.offer(b)
    assert not adm.offer(c) and not adm.offer(d)  # full: they wait
    assert adm.next_waiting() is None  # no slot yet
    adm.started(a.id, run_of(a, tmp_path))
    adm.started(b.id, None)  # b did not start: its slot is free
    assert adm.next_waiting() == c
    assert adm.offer(c)
    assert adm.next_waiting() is None  # a runs, c starts: full again
    adm.finished(a.id)
    assert adm.next_waiting() == d


def test_a_task_offered_again_starts_once(tmp_path: Path) -> None:
    adm = Admission(5)
    t = task()
    assert adm.offer(t)
    assert not adm.offer(t)  # the push and the poll both bring it while it starts
    adm.started(t.id, run_of(t, tmp_path))
    assert not adm.offer(t)  # and while it runs
    assert list(adm.running) == [t.id]


def test_cancel_while_waiting_starting_and_running(tmp_path: Path) -> None:
    adm = Admission(1)
    starting, waiting = task(), task()
    assert adm.offer(starting) and not adm.offer(waiting)
    assert adm.cancel(waiting.id, "no longer needed") is None
    adm.started(starting.id, None)
    assert adm.next_waiting() is None  # the cancelled task no longer waits
    assert adm.offer(starting)
    assert adm.cancel(starting.id, "cancelled from the hub") is None
    assert adm.cancel_reason(starting.id) == "cancelled from the hub"  # told once its start reaches the hub
    adm.started(starting.id, None)
    assert adm.cancel_reason(starting.id) is None  # the reason belonged to that start
    running = task()
    assert adm.offer(running)
    run = run_of(running, tmp_path)
    adm.started(running.id, run)
    assert adm.cancel(running.id, "stop") is run  # the caller stops it
    assert adm.cancel(str(uuid.uuid4()), "unknown") is None
