"""``split_chunks`` cuts by index into the read (no copy of the rest per chunk): the same cuts
as ``protocol.utf8_safe_cut`` on the rest, for any bytes, start and limit."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from orchestratia.agent.log_track import split_chunks
from orchestratia.protocol import utf8_safe_cut_at as safe_cut_at
from orchestratia.protocol import utf8_safe_cut

utf8ish = st.one_of(
    st.binary(max_size=200),
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=80).map(lambda s: s.encode("utf-8")),
    st.lists(st.sampled_from([b"\xc3", b"\xa9", b"\xe6\x97", b"\xa5", b"\xf0\x9f\x8e", b"\x89", b"a", b"\x80"]),
             max_size=60).map(b"".join),
)


@settings(max_examples=500, deadline=None)
@given(utf8ish, st.data(), st.integers(min_value=1, max_value=12))
def test_safe_cut_at_equals_utf8_safe_cut_on_the_rest(data: bytes, draw, limit: int) -> None:
    start = draw.draw(st.integers(min_value=0, max_value=len(data)))
    assert safe_cut_at(data, start, limit) == start + utf8_safe_cut(data[start:], limit)


def copying_reference(data: bytes, offset: int, max_bytes: int) -> list[tuple[int, bytes]]:
    out, pos = [], 0
    while pos < len(data):
        rest = data[pos:]
        n = utf8_safe_cut(rest, max_bytes) or min(max_bytes, len(rest))
        out.append((offset + pos, rest[:n]))
        pos += n
    return out


@settings(max_examples=300, deadline=None)
@given(utf8ish, st.integers(min_value=0, max_value=10**9), st.integers(min_value=1, max_value=9))
def test_split_chunks_cuts_where_the_copying_version_did(data: bytes, offset: int, limit: int) -> None:
    assert split_chunks(data, offset, limit) == copying_reference(data, offset, limit)


def test_a_big_read_is_cut_into_whole_characters() -> None:
    data = ("é日🎉x" * 300_000).encode()  # ~3 MiB, characters of 1 to 4 bytes
    chunks = split_chunks(data, 7, 65536)
    assert b"".join(c for _, c in chunks) == data and chunks[0][0] == 7
    for (at, chunk), (nxt, _) in zip(chunks, chunks[1:]):
        assert nxt == at + len(chunk) and len(chunk) <= 65536
        chunk.decode("utf-8")
