"""JSON the store can keep and the hub can answer with, whatever a client sends.

Python's JSON parser (what FastAPI uses) accepts things that the store or our JSON encoder
cannot take, and each used to end in a 500 (or, stored, broke every later read of the row):

* ``\\u0000`` — PostgreSQL's text and JSON values cannot hold NUL;
* a lone UTF-16 surrogate (``\\ud800`` without its pair) — not Unicode: no store can encode it,
  and orjson refuses to write it back;
* integers outside 64 bits — SQLite and asyncpg cannot bind them, orjson cannot write them;
* ``NaN`` / ``Infinity`` and numbers that overflow a double — not JSON; PostgreSQL rejects them;
* nesting deeper than :data:`MAX_DEPTH` — orjson stops writing at 255 levels.

:func:`clean_json_body` runs on every JSON request body (``middleware.BodyLimitMiddleware``):
text is kept, with NUL and lone surrogates replaced by U+FFFD (so an agent's report that quotes
a program's odd output is stored, not lost); numbers and nesting that cannot be stored are
refused with :class:`UnsafeBody` (answered 422). A body without any of these costs one regex
scan. :func:`dumps` writes a response even for rows stored before these rules.
"""

from __future__ import annotations

import json
import math
import re
from datetime import date, datetime
from enum import Enum
from typing import Any
from uuid import UUID

import orjson

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
MAX_DEPTH = 128
REPLACEMENT = "\ufffd"

#: bytes whose presence sends a body down the slow path: a NUL or surrogate escape (``\\ud``
#: also starts a valid pair), the non-JSON constants
_SUSPECT_BYTES = (b"\\u0000", b"\\ud", b"\\uD", b"NaN", b"Infinity")
#: for numbers: digits -> "1", an exponent's letter -> "e", signs -> "+", the rest -> " "; then a
#: run of 19 digits (maybe past int64) or a 3-digit exponent (maybe past a double) is a substring
_NUMBER_SHAPES = bytes(
    ord("1") if chr(b).isdigit() and b < 128 else ord("e") if b in b"eE" else ord("+") if b in b"+-" else ord(" ")
    for b in range(256)
)
_BAD_TEXT = re.compile("[\x00\ud800-\udfff]")


class UnsafeBody(ValueError):
    """A request body the hub cannot store; ``detail`` says what to change."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


def clean_text(text: str) -> str:
    """``text`` with NUL and lone surrogates replaced by U+FFFD (a valid pair never reaches
    here: the JSON parser joins it into one character)."""
    return _BAD_TEXT.sub(REPLACEMENT, text) if _BAD_TEXT.search(text) else text


def clean_json_body(body: bytes) -> bytes:
    """``body`` unchanged, or rewritten with NUL and lone surrogates replaced by U+FFFD.
    Raises :class:`UnsafeBody` for numbers or nesting the hub cannot store. A body that is not
    JSON at all is returned as it is (the route answers it 422, as before)."""
    return clean_parsed(body) if suspect(body) else body


def clean_parsed(body: bytes) -> bytes:
    """:func:`clean_json_body`'s slow path: parse, check and clean every value."""
    try:
        value = json.loads(body, parse_int=_parse_int, parse_float=_parse_float, parse_constant=_parse_constant)
    except RecursionError:
        raise UnsafeBody(f"JSON nested deeper than {MAX_DEPTH} levels; flatten it") from None
    except ValueError as exc:
        if isinstance(exc, UnsafeBody):
            raise
        return body  # not JSON: the route's own parser answers with where it broke
    cleaned, changed = _clean(value, 0)
    if not changed:
        return body
    return json.dumps(cleaned, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def suspect(body: bytes) -> bool:
    """Whether ``body`` may hold anything :func:`clean_parsed` changes or refuses (substring
    searches in C: about 5 µs for a heartbeat, 5-10 ms for a 1 MiB report)."""
    if any(marker in body for marker in _SUSPECT_BYTES) or body.count(b"[") + body.count(b"{") > MAX_DEPTH:
        return True
    shapes = body.translate(_NUMBER_SHAPES)
    return b"1" * 19 in shapes or b"e111" in shapes or b"e+111" in shapes


def _parse_int(text: str) -> int:
    if len(text.lstrip("-")) > 19 or not INT64_MIN <= int(text) <= INT64_MAX:
        shown = text if len(text) <= 40 else f"{text[:20]}...({len(text)} digits)"
        raise UnsafeBody(f"the integer {shown} does not fit in 64 bits ({INT64_MIN}..{INT64_MAX})")
    return int(text)


def _parse_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        shown = text if len(text) <= 40 else f"{text[:20]}..."
        raise UnsafeBody(f"the number {shown} is too large for a 64-bit float")
    return value


def _parse_constant(name: str) -> float:
    raise UnsafeBody(f"{name} is not a JSON number; send a number or null")


def _clean(value: Any, depth: int) -> tuple[Any, bool]:
    """``value`` with its text cleaned (keys too), and whether anything changed."""
    if depth > MAX_DEPTH:
        raise UnsafeBody(f"JSON nested deeper than {MAX_DEPTH} levels; flatten it")
    if isinstance(value, str):
        cleaned = clean_text(value)
        return cleaned, cleaned is not value
    if isinstance(value, list):
        items = [_clean(item, depth + 1) for item in value]
        return [item for item, _ in items], any(changed for _, changed in items)
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        changed = False
        for key, item in value.items():
            new_key = clean_text(key)
            out[new_key], item_changed = _clean(item, depth + 1)
            changed = changed or item_changed or new_key is not key
        return out, changed
    return value, False


# ---------------------------------------------------------------------------- stored JSON, responses

_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def load_stored(text: str) -> Any:
    """A JSON column's value as read from the store (the engine's ``json_deserializer``). Rows
    written before :func:`clean_json_body` may hold lone surrogates (SQLite keeps the escape),
    which no response can carry: they are read as U+FFFD."""
    value = json.loads(text)
    if _SURROGATE_ESCAPE.search(text):
        value = _repair(value, 0)
    return value


def dumps(content: Any, option: int | None = None) -> bytes:
    """orjson's bytes; for what orjson refuses (a lone surrogate, an integer past 64 bits, very
    deep nesting: rows stored before :func:`clean_json_body` existed), the same JSON written by
    the standard library from a repaired copy, instead of a 500 on every read of the row."""
    try:
        return orjson.dumps(content, option=option)
    except orjson.JSONEncodeError:
        repaired = _repair(content, 0)
        return json.dumps(repaired, ensure_ascii=False, separators=(",", ":"), default=_default).encode("utf-8")


def _repair(value: Any, depth: int) -> Any:
    if depth > 2 * MAX_DEPTH:  # what the store holds deeper than this is not shown
        return None
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None  # as orjson writes it
    if isinstance(value, dict):
        return {_repair_key(k): _repair(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_repair(v, depth + 1) for v in value]
    return value


def _repair_key(key: Any) -> Any:
    if isinstance(key, str):
        return clean_text(key)
    if key is None or isinstance(key, (int, float, bool)):
        return key  # the standard library writes these keys as orjson's OPT_NON_STR_KEYS does
    return str(_default(key))


def _default(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    raise TypeError(f"cannot write {type(value).__name__} as JSON")
