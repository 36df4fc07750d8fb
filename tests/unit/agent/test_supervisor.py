"""The supervisor's stop escalation (SIGINT -> SIGTERM -> SIGKILL) on real sessions running the
fake claude, and a stop under way finished by a restarted daemon."""

from __future__ import annotations

import asyncio
import time

import pytest

from orchestratia.agent.config import config_from_dict
from orchestratia.agent.daemon import Daemon

from .agent_helpers import FAKE_CLAUDE, launch_task, read_exit, wait_for


def daemon_for(dirs, backend: str = "screen", grace: float = 0.3) -> Daemon:
    cfg = config_from_dict({"hub_url": "http://127.0.0.1:9", "api_key": "orc_test",
                            "claude": {"binary": str(FAKE_CLAUDE)},
                            "session": {"backend": backend, "log_dir": str(dirs["log"]), "pid_dir": str(dirs["run"]),
                                        "kill_grace_seconds": grace}})
    return Daemon(cfg)


@pytest.mark.parametrize("prompt, code", [
    ("FAKE_LINES=1 FAKE_SLEEP=60", 130),  # SIGINT is enough
    ("FAKE_LINES=1 FAKE_SLEEP=60 FAKE_IGNORE_SIGINT", 143),  # then SIGTERM
    ("FAKE_LINES=1 FAKE_SLEEP=60 FAKE_IGNORE_SIGINT FAKE_IGNORE_SIGTERM", 137),  # then SIGKILL
])
async def test_stop_escalation(prompt, code, dirs, task_id, cleanup_sessions) -> None:
    d = daemon_for(dirs)
    try:
        run, _ = launch_task("screen", dirs, task_id, prompt, cleanup_sessions, d.backend)
        wait_for(lambda: run.runner_alive() and b"line 1" in run.files.log.read_bytes(), 10, what="the runner")
        await d.supervisor.escalate(run)
        # the exit status says which signal ended it: SIGINT 130, SIGTERM 143, SIGKILL 137
        assert wait_for(lambda: read_exit(dirs, task_id), 10, what="exit")["exit_code"] == code
    finally:
        await d.client.aclose()


async def test_a_stop_under_way_is_finished_after_a_restart(dirs, task_id, cleanup_sessions) -> None:
    d = daemon_for(dirs, backend="direct", grace=0.3)
    await d.client.aclose()
    run, _ = launch_task("direct", dirs, task_id, "FAKE_LINES=1 FAKE_SLEEP=60 FAKE_IGNORE_SIGINT", cleanup_sessions,
                    d.backend)
    wait_for(lambda: run.runner_alive() and b"line 1" in run.files.log.read_bytes(), 10, what="the runner")
    run.mark_stopping("cancel", "cancelled from the hub")  # the daemon died right after recording it
    d2 = daemon_for(dirs, backend="direct", grace=0.3)
    stop = asyncio.Event()
    task = asyncio.create_task(d2.run(stop))
    try:
        deadline = time.monotonic() + 10
        while read_exit(dirs, task_id) is None:
            assert time.monotonic() < deadline, "the adopted cancel was not finished"
            await asyncio.sleep(0.02)
        assert read_exit(dirs, task_id)["exit_code"] == 143
    finally:
        stop.set()
        await asyncio.wait_for(task, 20)


async def test_a_slow_but_steady_hub_is_waited_for_before_the_report(dirs, task_id) -> None:
    """The runner ended with output still unacknowledged: as long as acks keep coming, the daemon
    waits (reporting would forget the task and its unsent output); only ``report_ack_timeout``
    without any new ack makes it report anyway."""
    import types

    from orchestratia.agent.log_track import OutputTrack
    from orchestratia.agent.tasks import RunTimes

    daemon = daemon_for(dirs)
    daemon.ws.ready = True
    timeout = daemon.cfg.report_ack_timeout
    track = OutputTrack(task_id, sent=100, acked=10, size=100)
    run = types.SimpleNamespace(id=task_id, track=track, times=RunTimes())
    ready = daemon.supervisor._ready_to_report
    assert not ready(run, 1000.0)
    for step in range(1, 6):  # an ack every 0.8 timeouts: never late, well past one timeout in all
        track.on_ack(10 + 10 * step)
        assert not ready(run, 1000.0 + step * 0.8 * timeout)
    assert ready(run, 1000.0 + 5 * 0.8 * timeout + timeout)  # then no ack for a whole timeout
    track.on_ack(100)
    assert ready(types.SimpleNamespace(id=task_id, track=track, times=RunTimes()), 0.0)  # all acked
