"""Secrets out of log lines, whatever the level (stdlib only: the hub, the daemon and the CLI
use it).

Two layers. The loggers known to print request headers or frames at DEBUG (the WebSocket
handshake in uvicorn and in the ``websockets`` client: ``< x-api-key: orc_...``; httpcore's
request events) get a filter on the logger itself, so the record is cleaned before any handler,
ours or an embedding program's, formats it. Every handler configured in the process gets the
same filter as a net for whatever else propagates to it.

What is masked: registration tokens (``orcreg_``), agent API keys (``orc_``), admin session
tokens (``orcs_``), per-task credentials (``orctask_``), the values of credential-carrying
headers (``X-API-Key``, ``Authorization``, ``Cookie``, ``Set-Cookie``), our session and CSRF
cookies, and a JSON ``"password"`` value. The prefix stays, so a line still says *which kind*
of secret was there.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

MASK = "[redacted]"

#: token prefix + at least 16 token characters (a bare ``orc_session`` cookie name stays)
_TOKENS = re.compile(r"\b(orcreg_|orctask_|orcs_|orc_)[A-Za-z0-9_\-]{16,}(?:\.[A-Za-z0-9_\-]+)?")
#: ``name: value`` / ``name=value`` / ``(b'name', b'value')`` for headers that carry credentials
_HEADERS = re.compile(
    r"(?i)\b((?:x-api-key|proxy-authorization|authorization|set-cookie|cookie)"
    r"(?:\s*[:=]\s*|['\"]\s*[:,]\s*(?:b(?=['\"]))?['\"]?))[^\r\n'\"]+")
_BEARER = re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9._~+/=\-]{8,}")
_COOKIES = re.compile(r"((?:__Host-)?orc_(?:session|csrf)=)[^;\s'\"]+")
_PASSWORD = re.compile(r"(?i)(\"password\"\s*:\s*\")(?:[^\"\\]|\\.)*")

#: loggers that print headers or frames at DEBUG: filtered at the source
LEAKY_LOGGERS = ("uvicorn.error", "uvicorn.access", "websockets", "websockets.client", "websockets.server",
                 "httpx", "httpcore", "httpcore.http11", "httpcore.http2", "httpcore.connection",
                 "httpcore.proxy", "hpack", "aiosqlite", "sqlalchemy.engine", "sqlalchemy.engine.Engine",
                 "asyncio", "mcp", "fastapi", "starlette")


def redact(text: str) -> str:
    """``text`` with every secret we know the shape of masked."""
    if not text:
        return text
    text = _TOKENS.sub(lambda m: m.group(1) + MASK, text)
    text = _HEADERS.sub(lambda m: m.group(1) + MASK, text)
    text = _BEARER.sub(lambda m: m.group(1) + MASK, text)
    text = _COOKIES.sub(lambda m: m.group(1) + MASK, text)
    return _PASSWORD.sub(lambda m: m.group(1) + MASK, text)


class RedactingFilter(logging.Filter):
    """Rewrites a record's message (and its exception text) with secrets masked; never drops
    a record. Idempotent: a record already cleaned is left alone."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "_orc_redacted", False):
            return True
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a record that cannot format: keep its raw text only
            message = f"{record.msg!r} % {record.args!r}"
            record.msg, record.args = message, None
        if redact(message) != message:
            _clean_message(record, message)
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        record._orc_redacted = True
        return True


def _clean_message(record: logging.LogRecord, original: str) -> None:
    """Mask the arguments one by one, keeping their number (uvicorn's access formatter unpacks
    them); when the secret is still in the message, replace the message by its masked text."""
    msg, args = record.msg, record.args
    if isinstance(args, tuple):
        record.args = tuple(_clean_arg(arg) for arg in args)
    if isinstance(msg, str):
        record.msg = redact(msg)
    try:
        message = record.getMessage()
    except Exception:  # noqa: BLE001 - an argument changed type: the whole text instead
        message = original
    if redact(message) != message:
        record.msg, record.args = redact(original), None


def _clean_arg(arg: object) -> object:
    if isinstance(arg, (int, float)) or arg is None:
        return arg
    text = arg.decode("utf-8", "replace") if isinstance(arg, bytes) else str(arg)
    cleaned = redact(text)
    return arg if cleaned == text else cleaned


def _add(target: logging.Logger | logging.Handler, redactor: RedactingFilter) -> None:
    if not any(isinstance(f, RedactingFilter) for f in target.filters):
        target.addFilter(redactor)


def install_redaction(extra_loggers: Iterable[str] = ()) -> None:
    """Put :class:`RedactingFilter` on the leaky loggers and on every handler configured now
    (the root's and each named logger's). Call it again after something added handlers (e.g.
    uvicorn's logging config); installing twice is harmless."""
    redactor = RedactingFilter()
    for name in (*LEAKY_LOGGERS, *extra_loggers):
        _add(logging.getLogger(name), redactor)
    loggers = [logging.getLogger()]
    loggers += [lg for lg in logging.root.manager.loggerDict.values() if isinstance(lg, logging.Logger)]
    for logger in loggers:
        for handler in logger.handlers:
            _add(handler, redactor)
