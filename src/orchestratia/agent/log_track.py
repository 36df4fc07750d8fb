"""Task output bookkeeping, from the log file (the source of truth for offsets) to the hub.

Pure logic, fed bytes, no I/O: :func:`incomplete_tail`, :func:`split_chunks` and
:class:`OutputTrack` (per-task bookkeeping of what was sent and what the hub acknowledged).
The I/O around it: :mod:`.streaming` (reads the log, sends, follows acks) and :mod:`.watcher`
(wakes the daemon when a log changes).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from orchestratia.protocol import MAX_OUTPUT_CHUNK_BYTES, utf8_safe_cut_at

#: never have more than this many bytes sent but not acknowledged per task
DEFAULT_WINDOW = 4 * 1024 * 1024


def incomplete_tail(data: bytes) -> int:
    """How many bytes at the end of ``data`` are the start of a UTF-8 character whose
    remaining bytes have not been written yet (0..3). Hold them back unless the log is final."""
    n = len(data)
    for back in range(1, min(3, n) + 1):
        b = data[n - back]
        if b & 0xC0 == 0x80:  # continuation byte: keep looking for the lead
            continue
        need = 2 if b >> 5 == 0b110 else 3 if b >> 4 == 0b1110 else 4 if b >> 3 == 0b11110 else 1
        return back if need > back else 0
    return 0


def split_chunks(data: bytes, offset: int, max_bytes: int = MAX_OUTPUT_CHUNK_BYTES) -> list[tuple[int, bytes]]:
    """Cut ``data`` (logged at ``offset``) into ``(offset, bytes)`` chunks of at most
    ``max_bytes`` that never end inside a UTF-8 character (unless one character is longer than
    ``max_bytes``). The chunks are contiguous and add up to ``data``. Linear in ``len(data)``:
    each byte is copied once, into its chunk."""
    out: list[tuple[int, bytes]] = []
    pos = 0
    size = len(data)
    while pos < size:
        end = utf8_safe_cut_at(data, pos, max_bytes)
        if end <= pos:  # max_bytes < 1: never loop forever
            end = pos + 1
        out.append((offset + pos, data[pos:end]))
        pos = end
    return out


@dataclass
class OutputTrack:
    """Offsets of one task's output.

    ``sent``: the next byte offset to send. ``acked``: the hub's ``next_offset``.
    ``size``: the log's size as last seen. ``acks``: whether the hub acknowledges (it said
    ``resume`` to our ``hello``); without acks, sent counts as stored.
    """

    task_id: str
    sent: int = 0
    acked: int = 0
    size: int = 0
    acks: bool = True
    window: int = DEFAULT_WINDOW
    max_chunk: int = MAX_OUTPUT_CHUNK_BYTES
    resends: int = field(default=0)
    _rewound_to: int = field(default=-1, repr=False)

    def on_resume(self, next_offset: int) -> None:
        """After (re)connecting: the hub holds ``next_offset`` bytes; send from there."""
        self.sent = self.acked = max(0, next_offset)
        self._rewound_to = -1

    def on_ack(self, next_offset: int) -> None:
        if next_offset > self.acked:
            self.acked = next_offset
            if next_offset > self._rewound_to:
                self._rewound_to = -1
        if self.acked > self.sent:
            self.sent = self.acked

    def on_resend(self, from_offset: int) -> None:
        """The hub holds exactly ``from_offset`` bytes and dropped what we sent past a gap.
        Several resends for one gap (one per chunk already in flight) rewind only once."""
        from_offset = max(0, from_offset)
        if from_offset == self._rewound_to:
            return
        self.resends += 1
        self._rewound_to = from_offset
        self.acked = from_offset
        self.sent = from_offset

    def want(self) -> int:
        """How many bytes from ``sent`` may be read and sent now."""
        if self.acks:
            budget = self.acked + self.window - self.sent
        else:
            budget = self.window
        return max(0, min(self.size - self.sent, budget))

    def plan(self, data: bytes, final: bool = False) -> list[tuple[int, bytes]]:
        """Chunks to send for ``data`` read from the log at ``sent``; advances ``sent``.
        An unfinished UTF-8 character at the end is held back unless ``final``."""
        if not final:
            hold = incomplete_tail(data)
            if hold:
                data = data[: len(data) - hold]
        chunks = split_chunks(data, self.sent, self.max_chunk)
        self.sent += len(data)
        if not self.acks:
            self.acked = self.sent
        return chunks

    @property
    def caught_up(self) -> bool:
        """Everything in the log (as last seen) is stored by the hub."""
        return self.acked >= self.size if self.acks else self.sent >= self.size
