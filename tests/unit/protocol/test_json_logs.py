"""``ORCHESTRATIA_LOG_FORMAT=json``: one JSON object per line (time, level, logger, message,
extra fields), from the daemon and from the hub, with every secret masked as in text logs."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from orchestratia.agent.logsetup import configure_daemon_logging, daemon_log_format

KEY = "orc_eTpYSPY0QEJN_r-rjrqd4oqMRkDebfiapTp4xR2fD0Y"
SESSION = "orcs_FYsswfkc8VETzVqPJDjU5n3C8gYCHa0N8ibib7J_pso"


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    text = stream.getvalue()
    assert text.endswith("\n")
    return [json.loads(line) for line in text.splitlines()]  # every line is one JSON object


@pytest.fixture
def root_buffer(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    """The root logger writing into a buffer; its state restored after."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    formatters = [(h, h.formatter) for h in saved[0]]
    stream = io.StringIO()
    root.handlers = [logging.StreamHandler(stream)]
    try:
        yield stream
    finally:
        for handler, formatter in formatters:  # pytest's own handlers: as they were
            handler.setFormatter(formatter)
        root.handlers = saved[0]
        root.setLevel(saved[1])
        for name in ("websockets", "httpx", "httpcore", "orchestratia"):
            logging.getLogger(name).setLevel(logging.NOTSET)


def test_the_daemon_logs_json_lines_with_secrets_masked(root_buffer: io.StringIO, monkeypatch) -> None:
    monkeypatch.setenv("ORCHESTRATIA_LOG_FORMAT", "JSON")
    monkeypatch.setenv("ORCHESTRATIA_LOG_LEVEL", "debug")
    root = logging.getLogger()
    ours = root.handlers[:]
    root.handlers = ours[:1]  # not pytest's per-test capture handlers: they keep their format
    try:
        configure_daemon_logging()
    finally:
        root.handlers = ours
    logging.getLogger("websockets.client").debug("> X-API-Key: %s", KEY)  # the handshake line that once leaked
    logging.getLogger("orchestratia.agent.daemon").info(
        "task %s started", "t-1", extra={"task_id": "t-1", "attempt": 2, "api_key": "anything",
                                         "note": f"Bearer {SESSION}", "nested": {"header": f"x-api-key: {KEY}"}})
    try:
        raise RuntimeError(f"failed with {KEY}")
    except RuntimeError:
        logging.getLogger("orchestratia.agent").exception("boom")
    text = root_buffer.getvalue()
    assert KEY not in text and KEY[4:] not in text and SESSION not in text, text
    handshake, started, failed = lines(root_buffer)
    assert handshake["logger"] == "websockets.client" and handshake["message"] == "> X-API-Key: [redacted]"
    assert set(started) >= {"time", "level", "logger", "message"}
    assert started["time"].endswith("+00:00") and started["level"] == "INFO"
    assert started["message"] == "task t-1 started"
    assert started["task_id"] == "t-1" and started["attempt"] == 2
    assert started["api_key"] == "[redacted]" and started["note"] == "Bearer orcs_[redacted]"
    assert failed["level"] == "ERROR" and "RuntimeError: failed with orc_[redacted]" in failed["exc_info"]


@pytest.mark.parametrize("value, expected", [("json", "json"), (" Json ", "json"), ("", "text"), ("text", "text"),
                                             ("yaml", "text")])
def test_the_daemon_format_from_the_environment(value: str, expected: str) -> None:
    assert daemon_log_format({"ORCHESTRATIA_LOG_FORMAT": value}) == expected
