"""Property tests on the daemon's output splitter and offset bookkeeping
(``orchestratia.agent.log_track``): chunks never split a UTF-8 character, offsets always add up,
and — against a model of the hub's offset rules (PROTOCOL.md) over a connection that drops
messages and reconnects at random — the hub ends up with exactly the log, byte for byte."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestratia.agent.log_track import OutputTrack, incomplete_tail, split_chunks
from orchestratia.protocol import dump, encode_output, parse_agent_message

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
UTF8_CHARS = st.characters(blacklist_categories=("Cs",))
# text-heavy output with multi-byte characters, and now and then raw non-UTF-8 bytes
pieces = st.one_of(
    st.text(UTF8_CHARS, max_size=40).map(lambda s: s.encode("utf-8")),
    st.sampled_from(["é", "日本", "🎉", "\n", "ok\n"]).map(str.encode),
    st.binary(max_size=6),
)


@FUZZ
@given(st.lists(pieces, max_size=30), st.integers(min_value=0, max_value=10**12), st.integers(min_value=1, max_value=70))
def test_split_chunks_contiguous_and_bounded(parts: list[bytes], offset: int, max_bytes: int) -> None:
    data = b"".join(parts)
    chunks = split_chunks(data, offset, max_bytes)
    pos = offset
    for at, chunk in chunks:
        assert at == pos and 1 <= len(chunk) <= max_bytes
        pos += len(chunk)
    assert pos == offset + len(data)
    assert b"".join(c for _, c in chunks) == data


@FUZZ
@given(st.text(UTF8_CHARS, min_size=1, max_size=300), st.integers(min_value=4, max_value=70))
def test_split_chunks_never_split_a_character(text: str, max_bytes: int) -> None:
    for _, chunk in split_chunks(text.encode("utf-8"), 0, max_bytes):
        chunk.decode("utf-8")  # raises if a character was split


@FUZZ
@given(st.text(UTF8_CHARS, min_size=1, max_size=100), st.data())
def test_incomplete_tail_holds_back_exactly_the_partial_character(text: str, data) -> None:
    raw = text.encode("utf-8")
    cut = data.draw(st.integers(min_value=0, max_value=len(raw)))
    prefix = raw[:cut]
    hold = incomplete_tail(prefix)
    assert 0 <= hold <= 3
    prefix[: len(prefix) - hold].decode("utf-8")  # what is sent decodes
    # and nothing more than the partial character is held back
    boundary = cut
    while boundary > 0 and boundary < len(raw) and (raw[boundary] & 0xC0) == 0x80:
        boundary -= 1
    assert cut - hold == boundary


class HubModel:
    """PROTOCOL.md's offset rules for one task."""

    def __init__(self) -> None:
        self.stored = bytearray()
        self.to_agent: list[tuple[str, int]] = []

    def receive(self, wire: str) -> None:
        msg = parse_agent_message(wire)
        data = msg.raw_bytes()
        assert msg.length == len(data)
        nxt = len(self.stored)
        if msg.offset == nxt:
            self.stored += data
            self.to_agent.append(("ack", len(self.stored)))
        elif msg.offset + msg.length <= nxt:
            pass  # duplicate
        else:
            self.to_agent.append(("resend", nxt))


actions = st.lists(
    st.one_of(
        st.tuples(st.just("write"), pieces),
        st.tuples(st.just("pump"), st.just(0)),
        st.tuples(st.just("deliver"), st.integers(min_value=1, max_value=5)),
        st.tuples(st.just("acks"), st.integers(min_value=1, max_value=5)),
        st.tuples(st.just("cut"), st.just(0)),
    ),
    max_size=60,
)


@FUZZ
@given(actions, st.integers(min_value=4, max_value=64), st.integers(min_value=8, max_value=256))
def test_track_delivers_the_log_exactly_over_a_lossy_reconnecting_link(acts, max_chunk: int, window: int) -> None:
    log = bytearray()
    track = OutputTrack("t", max_chunk=max_chunk, window=window)
    hub = HubModel()
    in_flight: list[str] = []

    def pump(final: bool = False) -> None:
        """The daemon's pump loop (OutputStream.pump), with a bound instead of trust."""
        track.size = len(log)
        for _ in range(10_000):
            n = track.want()
            if n <= 0:
                return
            data = bytes(log[track.sent: track.sent + n])
            if not data:
                return
            sent_before = track.sent
            for offset, chunk in track.plan(data, final=final):
                in_flight.append(dump(encode_output("t", chunk, offset)))
            if len(data) < n or track.sent == sent_before:
                return  # nothing more can go now (the daemon must stop here too: see below)
        raise AssertionError("pump did not finish")

    def acks(k: int) -> None:
        for kind, value in hub.to_agent[:k]:
            track.on_ack(value) if kind == "ack" else track.on_resend(value)
        del hub.to_agent[:k]

    for kind, arg in acts:
        if kind == "write":
            log += arg
        elif kind == "pump":
            pump()
        elif kind == "deliver":
            for wire in in_flight[:arg]:
                hub.receive(wire)
            del in_flight[:arg]
        elif kind == "acks":
            acks(arg)
        elif kind == "cut":  # the connection drops: everything in flight is lost both ways
            in_flight.clear()
            hub.to_agent.clear()
            track.on_resume(len(hub.stored))  # hello -> resume
    # the program ends; the daemon keeps pumping until the hub holds everything
    for _ in range(10_000):
        pump(final=True)
        for wire in in_flight:
            hub.receive(wire)
        in_flight.clear()
        acks(len(hub.to_agent))
        if track.caught_up and len(hub.stored) == len(log):
            break
    assert bytes(hub.stored) == bytes(log)
    assert track.caught_up


PUMP_PROBE = textwrap.dedent("""
    import asyncio, os, sys, tempfile, types
    from orchestratia.agent.log_track import OutputTrack
    from orchestratia.agent.streaming import OutputStream

    async def main():
        log = os.path.join(tempfile.mkdtemp(), "task.log")
        # the program has written the first 2 bytes of a 3-byte character so far
        open(log, "wb").write("hello ".encode() + "\u20ac".encode()[:2])
        sent = []

        async def send_output(task_id, data, offset):
            sent.append(data)
            return True

        me = types.SimpleNamespace(ws=types.SimpleNamespace(ready=True, frames=False, send_output=send_output))
        run = types.SimpleNamespace(id="t", track=OutputTrack("t"), files=types.SimpleNamespace(log=log))
        await OutputStream.pump(me, run, final=False)
        assert b"".join(sent) == b"hello ", sent
        print("ok")

    asyncio.run(main())
""")


def test_daemon_pump_returns_when_the_log_ends_inside_a_character() -> None:
    """A log whose last bytes are an unfinished UTF-8 character (a program's buffer flushed in
    the middle of one) must not make the daemon's pump loop spin: the loop never awaits then,
    so it would freeze the whole daemon (no heartbeat, no WebSocket) at 100 % CPU."""
    try:
        proc = subprocess.run([sys.executable, "-c", PUMP_PROBE], capture_output=True, text=True, timeout=10)
    except subprocess.TimeoutExpired:
        raise AssertionError("OutputStream.pump spins forever on a log that ends inside a UTF-8 character") from None
    assert proc.returncode == 0 and "ok" in proc.stdout, proc.stderr[-2000:]
