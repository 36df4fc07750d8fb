"""GET /api/admin/tasks/{id}/output windows: the tail cut at a line start (what the task page
shows first), earlier tails (``before``), exact ranges (``offset`` + ``limit``), with
``X-Offset`` / ``X-Next-Offset`` saying where the bytes sit."""

from __future__ import annotations

from typing import Any

from orchestratia.hub.task_output import append_output
from orchestratia.hub.output_window import line_start

from .helpers import ADMIN, Api


async def _task_with(api: Api, chunks: list[bytes]) -> tuple[str, bytes]:
    agent = await api.online("dev-1")
    task_id = await api.running_task(agent)
    offset = 0
    for data in chunks:
        await append_output(api.hub.store, agent["id"], task_id, data, offset=offset)
        offset += len(data)
    return task_id, b"".join(chunks)


async def _get(api: Api, task_id: str, **params: Any) -> tuple[int, int, bytes]:
    r = await api.client.get(f"{ADMIN}/tasks/{task_id}/output", params=params, headers=api.headers)
    assert r.status_code == 200, r.text
    assert int(r.headers["content-length"]) == len(r.content)
    return int(r.headers["x-offset"]), int(r.headers["x-next-offset"]), r.content


async def test_the_tail_starts_at_a_line_and_earlier_tails_join_up(api: Api) -> None:
    lines = [f"line {i:04d} {'x' * (i % 50)}\n".encode() for i in range(2000)]
    # chunks that do not follow lines: a window's start falls inside a chunk
    blob = b"".join(lines)
    task_id, stored = await _task_with(api, [blob[i : i + 7777] for i in range(0, len(blob), 7777)])

    start, end, tail = await _get(api, task_id, tail_bytes=4096)
    assert end == len(stored) and 0 < start and len(tail) <= 4096 and stored[start:] == tail
    assert stored[start - 1 : start] == b"\n" and tail.endswith(b"line 1999 " + b"x" * 49 + b"\n")

    pieces = [tail]
    while start > 0:  # "Load earlier output" until the beginning: every byte once, in order
        before = start
        start, end, earlier = await _get(api, task_id, tail_bytes=50_000, before=before)
        assert end == before and stored[start:end] == earlier
        assert start == 0 or stored[start - 1 : start] == b"\n"
        pieces.insert(0, earlier)
    assert b"".join(pieces) == stored

    assert await _get(api, task_id, tail_bytes=10**9) == (0, len(stored), stored)  # small logs: all of it
    assert await _get(api, task_id, offset=100, limit=50) == (100, 150, stored[100:150])
    assert await _get(api, task_id, offset=len(stored) - 10, limit=50) == (len(stored) - 10, len(stored), stored[-10:])
    assert await _get(api, task_id) == (0, len(stored), stored)  # unchanged without the new parameters


async def test_mixing_offset_and_tail_is_a_clear_422(api: Api) -> None:
    task_id, _ = await _task_with(api, [b"a\nb\n"])
    for params in ({"tail_bytes": 10, "offset": 1}, {"tail_bytes": 10, "limit": 1}, {"before": 3}):
        r = await api.client.get(f"{ADMIN}/tasks/{task_id}/output", params=params, headers=api.headers)
        assert r.status_code == 422 and ("tail_bytes" in r.json()["detail"]), r.text
    r = await api.client.get(f"{ADMIN}/tasks/{task_id}/output", params={"tail_bytes": 0}, headers=api.headers)
    assert r.status_code == 422


async def test_a_task_without_output_has_an_empty_tail(api: Api) -> None:
    task = await api.task(title="queued")
    assert await _get(api, task["id"], tail_bytes=4096) == (0, 0, b"")


def test_a_cut_inside_one_huge_line_lands_on_a_character_boundary() -> None:
    window = "ééé".encode()  # no newline; byte 0 is the byte before the cut
    assert line_start(window, 100) == 102  # byte 101 is a continuation byte of the first é
    assert line_start(b"ab\ncd", 10) == 13
    assert line_start(b"\nabc", 10) == 11  # the cut was already at a line start
