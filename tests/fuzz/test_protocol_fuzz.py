"""Property tests on the wire protocol module: parsing never raises anything but
``ValidationError``, and the output splitter never cuts inside a UTF-8 character while its
offsets always add up to the bytes it was given."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from orchestratia import protocol
from orchestratia.protocol import (
    MAX_OUTPUT_CHUNK_BYTES,
    WsOutput,
    dump,
    encode_output,
    parse_agent_message,
    parse_hub_message,
    utf8_safe_cut,
)

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=40),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=5), st.dictionaries(st.text(max_size=10), inner, max_size=5)
    ),
    max_leaves=20,
)
#: every character that UTF-8 can encode (no lone surrogates)
UTF8_CHARS = st.characters(blacklist_categories=("Cs",))
agent_types = st.sampled_from(["auth", "ping", "hello", "output", "pong", "", "OUTPUT", "x" * 300])
field_names = st.sampled_from(
    ["type", "task_id", "content", "stream", "offset", "length", "encoding", "api_key", "features",
     "tasks", "agent_version", "log_size"]
)
# a message that looks like ours, with fields of any JSON type: the interesting part of the space
shaped_messages = st.builds(
    lambda t, extra: {"type": t, **extra},
    agent_types,
    st.dictionaries(field_names, json_values, max_size=6),
)


def _only_validation_error(data: str | bytes, parse=parse_agent_message) -> None:
    try:
        parse(data)
    except ValidationError:
        pass


@FUZZ
@given(st.binary(max_size=2000))
def test_parse_agent_message_arbitrary_bytes(data: bytes) -> None:
    _only_validation_error(data)


@FUZZ
@given(st.text(max_size=500))
def test_parse_agent_message_arbitrary_text(text: str) -> None:
    # includes lone surrogates, which cannot even be encoded as UTF-8
    _only_validation_error(text)


@FUZZ
@given(json_values)
def test_parse_agent_message_arbitrary_json(value) -> None:
    _only_validation_error(json.dumps(value))


@FUZZ
@given(shaped_messages)
def test_parse_agent_message_shaped(message: dict) -> None:
    _only_validation_error(json.dumps(message))


@FUZZ
@given(shaped_messages)
def test_parse_hub_message_shaped(message: dict) -> None:
    _only_validation_error(json.dumps(message), parse=parse_hub_message)


@FUZZ
@given(st.binary(max_size=300), st.integers(min_value=0, max_value=2**40), st.sampled_from(["stdout", "stderr"]))
def test_output_bytes_round_trip_through_json(data: bytes, offset: int, stream: str) -> None:
    """What the daemon sends is what the hub reads back, byte for byte, valid UTF-8 or not."""
    message = encode_output("t-1", data, offset, stream)
    assert message.length == len(data)
    parsed = parse_agent_message(dump(message))
    assert isinstance(parsed, WsOutput)
    assert parsed.raw_bytes() == data
    assert (parsed.offset, parsed.length, parsed.stream) == (offset, len(data), stream)


def _is_char_boundary(data: bytes, n: int) -> bool:
    return n in (0, len(data)) or (data[n] & 0xC0) != 0x80


@FUZZ
@given(st.binary(max_size=400), st.integers(min_value=0, max_value=500))
def test_utf8_safe_cut_bounds(data: bytes, limit: int) -> None:
    n = utf8_safe_cut(data, limit)
    assert 0 <= n <= min(limit, len(data))
    if data and limit >= 1:
        assert n >= 1, "a cut must always make progress"


@FUZZ
@given(st.text(UTF8_CHARS, max_size=300), st.integers(min_value=4, max_value=400))
def test_utf8_safe_cut_never_splits_a_character(text: str, limit: int) -> None:
    data = text.encode("utf-8")
    n = utf8_safe_cut(data, limit)
    assert _is_char_boundary(data, n)
    data[:n].decode("utf-8")
    data[n:].decode("utf-8")


def _split(data: bytes, limit: int) -> list[tuple[int, bytes]]:
    """The daemon's way of cutting a log read into messages: (offset, chunk)."""
    chunks, offset = [], 0
    while offset < len(data):
        n = utf8_safe_cut(data[offset:], limit)
        chunks.append((offset, data[offset : offset + n]))
        offset += n
    return chunks


@FUZZ
@given(
    st.lists(st.one_of(st.text(max_size=50).map(lambda s: s.encode("utf-8", "replace")), st.binary(max_size=20)), max_size=20),
    st.integers(min_value=1, max_value=64),
)
def test_splitting_offsets_add_up(parts: list[bytes], limit: int) -> None:
    data = b"".join(parts)
    chunks = _split(data, limit)
    expected = 0
    for offset, chunk in chunks:
        assert offset == expected and 1 <= len(chunk) <= limit
        expected += len(chunk)
    assert expected == len(data)
    assert b"".join(c for _, c in chunks) == data
    # each chunk survives the wire and the hub's offset rule reconstructs the log exactly
    stored = bytearray()
    for offset, chunk in chunks:
        message = parse_agent_message(dump(encode_output("t", chunk, offset)))
        assert message.offset == len(stored)
        stored += message.raw_bytes()
    assert bytes(stored) == data


@FUZZ
@given(st.text(UTF8_CHARS, min_size=1, max_size=400), st.integers(min_value=4, max_value=100))
def test_splitting_valid_utf8_is_all_text(text: str, limit: int) -> None:
    """Valid UTF-8 is never sent as base64 once cut: every chunk decodes on its own."""
    data = text.encode("utf-8")
    for _, chunk in _split(data, limit):
        assert encode_output("t", chunk, 0).encoding is None


def test_split_at_protocol_limit_of_large_multibyte_stream() -> None:
    data = ("€" * 50_000 + "😀" * 30_000).encode("utf-8")
    chunks = _split(data, MAX_OUTPUT_CHUNK_BYTES)
    assert all(len(c) <= MAX_OUTPUT_CHUNK_BYTES for _, c in chunks)
    assert "".join(c.decode("utf-8") for _, c in chunks).encode() == data


@FUZZ
@given(st.text(UTF8_CHARS, max_size=100), st.from_regex(r"[a-z0-9.-]{1,40}(:[0-9]{1,5})?", fullmatch=True),
       st.sampled_from(["http", "https"]))
def test_registration_token_round_trip(path: str, host: str, scheme: str) -> None:
    url = f"{scheme}://{host}/{path}"
    token = protocol.new_registration_token(url)
    assert token.startswith(protocol.REGISTRATION_TOKEN_PREFIX)
    assert protocol.hub_url_from_token(token) == url.rstrip("/")


@FUZZ
@given(st.text(max_size=200))
def test_hub_url_from_token_never_raises(token: str) -> None:
    result = protocol.hub_url_from_token(token)
    assert result is None or result.startswith(("http://", "https://"))


@pytest.mark.parametrize("size", [protocol.WS_MAX_MESSAGE_BYTES + 1])
def test_parse_large_message_is_validation_or_ok(size: int) -> None:
    _only_validation_error(b"{" * size)
