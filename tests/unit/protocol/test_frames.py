"""protocol/frames.py: binary output frames round-trip any bytes, and every malformed frame is
refused with a message that says what is wrong."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orchestratia.protocol.frames import (
    STREAMS,
    FrameError,
    encode_output_frame,
    is_output_frame,
    parse_output_frame,
)


@given(
    task_id=st.text(min_size=1, max_size=50),
    data=st.binary(max_size=2000),
    offset=st.integers(min_value=0, max_value=2**64 - 1),
    stream=st.sampled_from(STREAMS),
)
def test_round_trip(task_id: str, data: bytes, offset: int, stream: str) -> None:
    frame = encode_output_frame(task_id, data, offset, stream)
    assert is_output_frame(frame)
    parsed = parse_output_frame(frame)
    assert (parsed.task_id, parsed.offset, parsed.data, parsed.stream) == (task_id, offset, data, stream)


def test_a_json_message_is_never_a_frame() -> None:
    assert not is_output_frame(b'{"type": "output"}') and not is_output_frame(b"")


@pytest.mark.parametrize(
    ("frame", "says"),
    [
        (b"\x01\x00", "shorter than its 12-byte header"),
        (b"\x02" + encode_output_frame("t", b"x", 0)[1:], "unknown frame kind 0x02"),
        (b"\x01\x07" + encode_output_frame("t", b"x", 0)[2:], "unknown stream code 7"),
        (encode_output_frame("task", b"", 0)[:13], "task id length 4 does not fit"),
        (encode_output_frame("t", b"", 0)[:10] + b"\x00\x00", "task id length 0"),
        (encode_output_frame("t", b"", 0)[:12] + b"\xff", "task id is not UTF-8"),
    ],
)
def test_malformed_frames_say_what_is_wrong(frame: bytes, says: str) -> None:
    with pytest.raises(FrameError, match=says):
        parse_output_frame(frame)


def test_a_task_id_too_long_is_refused_when_encoding() -> None:
    with pytest.raises(FrameError, match="over 200"):
        encode_output_frame("t" * 201, b"x", 0)
