"""Structured logs (``ORCHESTRATIA_LOG_FORMAT=json``): one JSON object per line, for the hub and
the daemon alike (stdlib only).

Each line: ``time`` (ISO 8601 UTC, milliseconds), ``level``, ``logger``, ``message``, then the
record's extra fields (``log.info("...", extra={"task_id": ...})``), ``exc_info`` /
``stack_info`` when present. Secrets are masked as in text logs: the redaction filter
(``protocol/redact.py``) cleans the message and the traceback before any handler formats them,
and this formatter masks the message again and every extra field (a value that is no plain
JSON type is written as its masked ``str()``; a field whose name says it is a credential is
masked whole).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any

from orchestratia.protocol.redact import MASK, redact

#: the attributes every LogRecord has: the rest are a call's ``extra`` fields
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}
#: ours (the redaction mark) and uvicorn's ANSI copy of a message: not fields
_SKIP = frozenset({"_orc_redacted", "color_message"})
_SECRET_NAME = re.compile(r"(?i)(password|passwd|secret|token|api_?key|authorization|cookie|credential)")
#: the loggers whose handlers print the hub's and uvicorn's lines (root: the daemon's)
LOG_FORMAT_LOGGERS = ("", "orchestratia", "orchestratia.hub", "uvicorn", "uvicorn.error", "uvicorn.access")


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in _SKIP and key not in line:
                line[key] = _safe(key, value)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exc_info"] = redact(record.exc_text)
        if record.stack_info:
            line["stack_info"] = redact(self.formatStack(record.stack_info))
        return json.dumps(line, ensure_ascii=False, default=str)


def _safe(key: str, value: Any, depth: int = 0) -> Any:
    """``value`` as JSON can carry it, with secrets masked."""
    if _SECRET_NAME.search(key):
        return MASK
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict) and depth < 4:
        return {str(k): _safe(str(k), v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)) and depth < 4:
        return [_safe("", v, depth + 1) for v in value]
    return redact(str(value))


def use_json_logs(loggers: Iterable[str] = LOG_FORMAT_LOGGERS) -> None:
    """Format every handler of ``loggers`` (the root: ``""``) as JSON lines. Call it again after
    something added handlers (uvicorn's logging config); idempotent."""
    for name in loggers:
        for handler in logging.getLogger(name).handlers:
            if not isinstance(handler.formatter, JsonFormatter):
                handler.setFormatter(JsonFormatter())
