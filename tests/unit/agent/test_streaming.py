"""The daemon's output path end to end on loopback, with a small WebSocket peer in the place of
the hub: a byte written to a task's log reaches the peer within milliseconds; resume, resend and
acks keep the stream exact."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import time
import uuid

import pytest

from websockets.asyncio.server import serve

from orchestratia.agent import tasks as T
from orchestratia.agent.config import config_from_dict
from orchestratia.agent.daemon import Daemon
from orchestratia.protocol import TaskPayload, TaskStatus, WsOutput


class Peer:
    """Answers auth_ok / resume(next_offset) / ack; records every output with its arrival time."""

    def __init__(self, next_offset: int = 0, drop_first: bool = False) -> None:
        self.next_offset = next_offset
        self.stored = bytearray()
        self.arrivals: list[tuple[float, WsOutput]] = []
        self.drop_first = drop_first
        self.hello: dict | None = None

    async def handler(self, conn) -> None:
        await conn.send(json.dumps({"type": "auth_ok", "agent_id": "a"}))
        self.hello = json.loads(await conn.recv())
        tasks = [{"task_id": t["task_id"], "next_offset": self.next_offset} for t in self.hello["tasks"]]
        await conn.send(json.dumps({"type": "resume", "tasks": tasks}))
        async for raw in conn:
            msg = json.loads(raw)
            if msg.get("type") != "output":
                continue
            out = WsOutput.model_validate(msg)
            self.arrivals.append((time.monotonic(), out))
            if self.drop_first:
                # pretend the first output was lost on the way (a gap): ask for it again
                self.drop_first = False
                await conn.send(json.dumps({"type": "resend", "task_id": out.task_id,
                                            "from_offset": self.next_offset}))
                continue
            if out.offset == self.next_offset:
                self.stored += out.raw_bytes()
                self.next_offset += out.length
            elif out.offset > self.next_offset:  # a gap, as PROTOCOL.md says: not stored, resend
                await conn.send(json.dumps({"type": "resend", "task_id": out.task_id,
                                            "from_offset": self.next_offset}))
                continue
            await conn.send(json.dumps({"type": "ack", "task_id": out.task_id, "next_offset": self.next_offset}))


async def start_daemon(dirs, port: int, task_id: str, log: bytes = b"", inotify: bool = True):
    cfg = config_from_dict({"hub_url": f"http://127.0.0.1:{port}", "api_key": "orc_k",
                            "heartbeat_interval": 3600, "poll_interval": 3600, "safety_poll_interval": 3600,
                            "session": {"backend": "direct", "log_dir": str(dirs["log"]), "pid_dir": str(dirs["run"]),
                                        "inotify": inotify},
                            "human": {"enabled": False}})
    # a task "left running by a previous daemon": state file, pid file of a live process, a log
    sleeper = subprocess.Popen(["sleep", "60"], start_new_session=True)
    run = T.new_run(TaskPayload(id=task_id, title="t", spec="s", status=TaskStatus.RUNNING), "claude", "direct",
                    dirs["log"], dirs["run"], None)
    run.save()
    run.files.pid.write_text(f"{sleeper.pid}\n")
    run.files.log.write_bytes(log)
    daemon = Daemon(cfg)
    stop = asyncio.Event()
    task = asyncio.create_task(daemon.run(stop))
    return daemon, stop, task, sleeper, run


async def wait(cond, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.002)


@pytest.mark.parametrize("inotify", [True, False])
async def test_each_write_reaches_the_hub_before_the_next(dirs, inotify) -> None:
    """Every write reaches the hub while the writer still holds the log open, before the next
    write (no batching behind a flush timer), byte for byte. Latency figures: benchmarks/."""
    peer = Peer()
    task_id = str(uuid.uuid4())
    async with serve(peer.handler, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        daemon, stop, task, sleeper, run = await start_daemon(dirs, port, task_id, inotify=inotify)
        try:
            await wait(lambda: peer.hello is not None and daemon.ws.ready)
            assert daemon.watcher.uses_inotify is inotify
            assert peer.hello["tasks"] == [{"task_id": task_id, "log_size": 0}]
            fd = os.open(run.files.log, os.O_WRONLY | os.O_APPEND)
            for i in range(30):
                line = f"line {i} é\n".encode()
                before = len(peer.stored)
                os.write(fd, line)
                await wait(lambda: len(peer.stored) >= before + len(line))
                assert bytes(peer.stored).endswith(line)
            os.close(fd)
            assert bytes(peer.stored) == run.files.log.read_bytes()
        finally:
            stop.set()
            await asyncio.wait_for(task, 10)
            sleeper.kill()
            sleeper.wait()


async def test_resume_from_the_hubs_offset_and_resend_after_a_gap(dirs) -> None:
    body = b"".join(f"{i:04d} \xe6\x97\xa5\xe6\x9c\xac\n".encode("latin-1") for i in range(8000))  # ~96 KB: 2 chunks
    peer = Peer(next_offset=1000, drop_first=True)
    task_id = str(uuid.uuid4())
    async with serve(peer.handler, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        daemon, stop, task, sleeper, run = await start_daemon(dirs, port, task_id, log=body)
        try:
            await wait(lambda: peer.hello is not None)
            assert peer.hello["tasks"] == [{"task_id": task_id, "log_size": len(body)}]
            await wait(lambda: peer.next_offset == len(body))
            assert bytes(peer.stored) == body[1000:]  # nothing before the hub's offset, nothing twice
            assert peer.arrivals[0][1].offset == 1000
            track = daemon.runs[task_id].track
            await wait(lambda: track.caught_up)
            offsets = [o.offset for _, o in peer.arrivals]
            assert track.resends == 1 and offsets.count(1000) == 2 and len(offsets) >= 3
            # every chunk: <= 64 KiB, contiguous with its offset, never cut inside a character
            for _, out in peer.arrivals:
                assert out.length == len(out.raw_bytes()) <= 64 * 1024
        finally:
            stop.set()
            await asyncio.wait_for(task, 10)
            sleeper.kill()
            sleeper.wait()


@pytest.mark.timeout(30)
async def test_a_log_ending_inside_a_character_waits_for_the_rest_without_spinning(dirs) -> None:
    """The runner flushed half of a UTF-8 character: the daemon sends what is complete, holds the
    rest back, and keeps serving its event loop (a spinning pump would freeze it) until the
    character is finished."""
    peer = Peer()
    task_id = str(uuid.uuid4())
    head = "hello ".encode() + "\u20ac".encode()[:2]
    async with serve(peer.handler, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        daemon, stop, task, sleeper, run = await start_daemon(dirs, port, task_id, log=head)
        try:
            await wait(lambda: bytes(peer.stored) == b"hello ")
            with open(run.files.log, "ab") as fh:
                fh.write("\u20ac".encode()[2:] + " done\n".encode())
            await wait(lambda: bytes(peer.stored) == run.files.log.read_bytes())
            for _, out in peer.arrivals:
                out.raw_bytes().decode("utf-8")  # no chunk ends inside a character
        finally:
            stop.set()
            await asyncio.wait_for(task, 10)
            sleeper.kill()
            sleeper.wait()
