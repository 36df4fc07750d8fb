"""``tasks watch``: output, exit codes, reconnection from the last offset."""

from __future__ import annotations

import json

import pytest

from orchestratia.cli import watch as watch_mod
from orchestratia.cli.errors import CliError
from orchestratia.cli.sse import SseEvent


def out(offset: int, text: str) -> SseEvent:
    data = {"offset": offset, "length": len(text.encode()), "stream": "stdout", "text": text}
    return SseEvent("output", json.dumps(data), str(offset + len(text.encode())))


def end(status: str) -> SseEvent:
    return SseEvent("end", json.dumps({"id": "t", "status": status}), None)


class FakeHub:
    def __init__(self, scripts):
        self.scripts = list(scripts)
        self.offsets: list[int] = []

    def stream_task(self, task_id, offset=0):
        self.offsets.append(offset)
        for item in self.scripts.pop(0):
            if isinstance(item, Exception):
                raise item
            yield item


@pytest.mark.parametrize("status,code", [("completed", 0), ("failed", 1), ("cancelled", 2), ("timed_out", 3), ("lost", 4)])
def test_exit_codes(status, code, capsys) -> None:
    assert watch_mod.watch_task(FakeHub([[out(0, "a"), end(status)]]), "t") == code
    captured = capsys.readouterr()
    assert captured.out == "a" and status in captured.err


def test_reconnects_from_the_last_offset_without_duplicates(monkeypatch, capsys) -> None:
    monkeypatch.setattr(watch_mod.time, "sleep", lambda s: None)
    hub = FakeHub([
        [out(0, "héllo "), CliError("cannot reach the hub at http://x: reset")],
        [out(7, "world"), end("completed")],
    ])
    assert watch_mod.watch_task(hub, "t", quiet=True) == 0
    assert hub.offsets == [0, 7]
    assert capsys.readouterr().out == "héllo world"


def test_unknown_task_is_not_retried() -> None:
    hub = FakeHub([[CliError("not found: task t not found", status=404)]])
    with pytest.raises(CliError) as info:
        watch_mod.watch_task(hub, "t")
    assert info.value.exit_code == watch_mod.WATCH_EXIT_ERROR


def test_gives_up_after_the_deadline(monkeypatch) -> None:
    clock = {"now": 0.0}
    monkeypatch.setattr(watch_mod.time, "monotonic", lambda: clock["now"])
    monkeypatch.setattr(watch_mod.time, "sleep", lambda s: clock.__setitem__("now", clock["now"] + 30))
    hub = FakeHub([[CliError("cannot reach the hub")]] * 10)
    with pytest.raises(CliError, match="lost the stream"):
        watch_mod.watch_task(hub, "t")


def test_status_changes_go_to_stderr_once(capsys) -> None:
    status = lambda s: SseEvent("status", json.dumps({"id": "t", "status": s, "agent": "dev-1"}), None)  # noqa: E731
    hub = FakeHub([[status("assigned"), status("running"), status("running"), out(0, "x"), status("completed"), end("completed")]])
    assert watch_mod.watch_task(hub, "t") == 0
    captured = capsys.readouterr()
    assert captured.out == "x"
    assert captured.err.count("[task running on dev-1]") == 1 and "[task assigned on dev-1]" in captured.err


@pytest.mark.parametrize("data", ["{not json", json.dumps({"offset": 0, "text": "no length"})])
def test_an_output_event_it_cannot_read_ends_the_watch_with_5(data) -> None:
    """Not JSON, or not the hub's output event: a clear error, exit status 5 (not a traceback)."""
    with pytest.raises(CliError, match="the hub sent an event this CLI cannot read") as info:
        watch_mod.watch_task(FakeHub([[SseEvent("output", data, None)]]), "t")
    assert info.value.exit_code == 5
