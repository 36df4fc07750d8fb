"""log_track.py (pure logic): UTF-8-safe chunks, offsets that add up, ack/resend/resume bookkeeping."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from orchestratia.agent.log_track import OutputTrack, incomplete_tail, split_chunks
from orchestratia.protocol import encode_output


@given(st.text(), st.integers(min_value=4, max_value=64), st.integers(min_value=0, max_value=10**9))
def test_chunks_never_split_a_character(text: str, limit: int, offset: int) -> None:
    data = text.encode("utf-8")
    chunks = split_chunks(data, offset, limit)
    assert b"".join(c for _, c in chunks) == data
    pos = offset
    for off, chunk in chunks:
        assert off == pos and 0 < len(chunk) <= limit
        chunk.decode("utf-8")  # never raises: no character is split
        pos += len(chunk)


@given(st.binary(), st.integers(min_value=1, max_value=50))
def test_chunks_of_arbitrary_bytes_add_up(data: bytes, limit: int) -> None:
    chunks = split_chunks(data, 7, limit)
    assert b"".join(c for _, c in chunks) == data
    assert all(0 < len(c) <= limit for _, c in chunks)
    assert [o for o, _ in chunks] == [7 + sum(len(c) for _, c in chunks[:i]) for i in range(len(chunks))]
    for off, c in chunks:
        assert encode_output("t", c, off).raw_bytes() == c


@given(st.text(min_size=1))
def test_incomplete_tail(text: str) -> None:
    data = text.encode("utf-8")
    assert incomplete_tail(data) == 0
    last = text[-1].encode("utf-8")
    for cut in range(1, len(last)):
        partial = data[: len(data) - len(last) + cut]
        assert incomplete_tail(partial) == cut


@settings(max_examples=200)
@given(st.lists(st.text(max_size=30), max_size=30), st.integers(min_value=4, max_value=16))
def test_track_streams_a_growing_log_exactly(pieces: list[str], limit: int) -> None:
    """Bytes arrive in arbitrary pieces (possibly mid-character); what is sent is exactly the log."""
    log = b""
    track = OutputTrack("t", max_chunk=limit)
    received = bytearray()
    stream = "".join(pieces).encode("utf-8")
    # feed in odd-sized slices that cut characters
    step = 3
    for i in range(0, len(stream) + step, step):
        log = stream[: i + step]
        track.size = len(log)
        data = log[track.sent : track.sent + track.want()]
        for off, chunk in track.plan(data):
            assert off == len(received)
            chunk.decode("utf-8")
            received += chunk
            track.on_ack(off + len(chunk))
    for off, chunk in track.plan(log[track.sent :], final=True):
        received += chunk
        track.on_ack(off + len(chunk))
    assert bytes(received) == stream and track.caught_up


def test_ack_resend_resume() -> None:
    t = OutputTrack("t", size=100)
    chunks = t.plan(b"a" * 100)
    assert t.sent == 100 and t.acked == 0 and not t.caught_up
    assert chunks == [(0, b"a" * 100)]
    t.on_ack(40)
    assert t.acked == 40 and t.sent == 100
    t.on_resend(40)  # the hub holds 40 bytes: send again from there
    assert t.sent == 40 and t.acked == 40 and t.want() == 60
    t.plan(b"a" * 60)
    t.on_resend(40)  # a second resend for the same gap (a chunk that was in flight): ignored
    assert t.sent == 100
    t.on_ack(100)
    assert t.caught_up
    t.on_resume(70)  # after a reconnect the hub says it holds 70
    assert t.sent == 70 and t.acked == 70
    t.on_ack(50)  # a stale ack never moves backwards
    assert t.acked == 70


def test_window_limits_unacknowledged_bytes() -> None:
    t = OutputTrack("t", size=10_000, window=1000)
    assert t.want() == 1000
    t.plan(b"x" * 1000)
    assert t.want() == 0
    t.on_ack(500)
    assert t.want() == 500


def test_without_acks_sent_counts_as_stored() -> None:
    t = OutputTrack("t", size=10, acks=False)
    t.plan(b"0123456789")
    assert t.caught_up and t.acked == 10


def test_holds_back_a_half_written_character_until_final() -> None:
    t = OutputTrack("t")
    data = "ok é".encode()[:-1]
    t.size = len(data)
    chunks = t.plan(data)
    assert b"".join(c for _, c in chunks) == b"ok " and t.sent == 3
    chunks = t.plan(data[3:], final=True)
    assert chunks == [(3, b"\xc3")]
