"""Output as binary WebSocket frames: the ``output_frames`` extension (docs/protocol.md).

A v1 ``output`` carries the bytes as JSON text: the daemon decodes them as UTF-8 and pydantic
escapes them into JSON; the hub parses the JSON and encodes the text back to bytes. For a
64 KiB chunk that was ~160 us to dump and ~170 us to parse (``model_dump_json`` /
``validate_json``, 2026-12-06, 2 cores): in a 100 MB run, 26 % of the daemon's samples and 9 %
of the hub's. A frame carries the raw log bytes after a small fixed header, so neither side
touches them (``struct`` pack / unpack: ~6 / ~4 us a chunk).

Layout, big-endian::

    0      1      2          10           12             12+n
    | 0x01 | strm | offset   | n (task id) | task id (n) | raw log bytes ...
      kind   u8     u64        u16           UTF-8

``kind`` 0x01 is output (a JSON text never starts with that byte); ``strm`` is 0 stdout,
1 stderr, 2 system; ``length`` is the rest of the frame. Negotiated: the daemon lists
``output_frames`` in ``hello``, the hub lists it in ``resume.features``; only then does the
daemon send frames, and only such a connection's frames are read as output by the hub.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

FEATURE_OUTPUT_FRAMES = "output_frames"
FRAME_OUTPUT = 0x01
STREAMS = ("stdout", "stderr", "system")
_STREAM_CODE = {name: code for code, name in enumerate(STREAMS)}
_HEAD = struct.Struct(">BBQH")
TASK_ID_MAX = 200
#: the largest chunk our daemon puts into one frame: 4x the JSON chunk (64 KiB), well under
#: the 1 MiB message limit; the hub pays per chunk for a row, an event and a share of an ack
#: (hub CPU per MB stored, 256 vs 64 KiB frames: 20-22 vs 21-25 ms at load 13-18, 2026-12-06)
FRAME_MAX_CHUNK_BYTES = 256 * 1024


class FrameError(ValueError):
    """A binary frame that is not a well-formed output frame (the message says what is wrong)."""


@dataclass(frozen=True, slots=True)
class OutputFrame:
    task_id: str
    offset: int
    data: bytes
    stream: str = "stdout"


def encode_output_frame(task_id: str, data: bytes, offset: int, stream: str = "stdout") -> bytes:
    """One output frame for ``data`` logged at ``offset``."""
    tid = task_id.encode("utf-8")
    if len(tid) > TASK_ID_MAX:
        raise FrameError(f"task id of {len(tid)} bytes is over {TASK_ID_MAX}")
    return b"".join((_HEAD.pack(FRAME_OUTPUT, _STREAM_CODE[stream], offset, len(tid)), tid, data))


def is_output_frame(frame: bytes) -> bool:
    return bool(frame) and frame[0] == FRAME_OUTPUT


def parse_output_frame(frame: bytes) -> OutputFrame:
    """The frame's fields; :class:`FrameError` names what is malformed."""
    if len(frame) < _HEAD.size:
        raise FrameError(f"output frame of {len(frame)} bytes is shorter than its {_HEAD.size}-byte header")
    kind, code, offset, n = _HEAD.unpack_from(frame)
    if kind != FRAME_OUTPUT:
        raise FrameError(f"unknown frame kind {kind:#04x} (output is {FRAME_OUTPUT:#04x})")
    if code >= len(STREAMS):
        raise FrameError(f"unknown stream code {code} (0 stdout, 1 stderr, 2 system)")
    end = _HEAD.size + n
    if n == 0 or n > TASK_ID_MAX or end > len(frame):
        raise FrameError(f"task id length {n} does not fit the frame (1..{TASK_ID_MAX} bytes)")
    try:
        task_id = frame[_HEAD.size : end].decode("utf-8")
    except UnicodeDecodeError:
        raise FrameError("task id is not UTF-8") from None
    return OutputFrame(task_id, offset, frame[end:], STREAMS[code])
