"""A Server-Sent Events reader in a background thread that timestamps every event on arrival."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import httpx


@dataclass
class Event:
    at: float  # time.monotonic() on arrival
    wall: float  # time.time() on arrival
    event: str
    data: Any
    id: str | None = None


@dataclass
class SseReader:
    url: str
    headers: dict[str, str]
    on_event: Callable[[Event], None] | None = None
    events: list[Event] = field(default_factory=list)
    error: BaseException | None = None

    def start(self) -> "SseReader":
        self._stop = threading.Event()
        self._connected = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="sse-reader")
        self._thread.start()
        if not self._connected.wait(15):
            raise RuntimeError(f"SSE stream {self.url} did not open: {self.error!r}")
        return self

    def stop(self) -> None:
        self._stop.set()
        try:
            self._response.close()
        except Exception:  # noqa: BLE001
            pass
        self._thread.join(5)

    def _run(self) -> None:
        try:
            with httpx.Client(timeout=httpx.Timeout(10, read=None)) as client:
                with client.stream("GET", self.url, headers={"Accept": "text/event-stream", **self.headers}) as r:
                    self._response = r
                    r.raise_for_status()
                    self._connected.set()
                    name, data, eid = "message", [], None
                    for line in r.iter_lines():
                        if self._stop.is_set():
                            return
                        if line == "":
                            if data:
                                raw = "\n".join(data)
                                try:
                                    payload = json.loads(raw)
                                except ValueError:
                                    payload = raw
                                ev = Event(time.monotonic(), time.time(), name, payload, eid)
                                self.events.append(ev)
                                if self.on_event:
                                    self.on_event(ev)
                            name, data, eid = "message", [], None
                        elif line.startswith(":"):
                            continue
                        else:
                            key, _, value = line.partition(":")
                            value = value[1:] if value.startswith(" ") else value
                            if key == "event":
                                name = value
                            elif key == "data":
                                data.append(value)
                            elif key == "id":
                                eid = value
        except Exception as exc:  # noqa: BLE001 - reported by the caller
            if not self._stop.is_set():
                self.error = exc
            self._connected.set()
