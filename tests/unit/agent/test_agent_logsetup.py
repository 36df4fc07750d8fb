"""The daemon's log level comes from ORCHESTRATIA_LOG_LEVEL, and no level prints a secret:
the shapes the WebSocket and HTTP libraries print at debug are masked before any handler."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from orchestratia.agent.logsetup import configure_daemon_logging, daemon_log_level
from orchestratia.protocol.redact import RedactingFilter, redact

KEY = "orc_eTpYSPY0QEJN_r-rjrqd4oqMRkDebfiapTp4xR2fD0Y"
TOKEN = "orcreg_aHR0cDovLzEyNy4wLjAuMTo4MDAw.AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcdefg"
SESSION = "orcs_FYsswfkc8VETzVqPJDjU5n3C8gYCHa0N8ibib7J_pso"
TASK_CRED = "orctask_Q9C3cEyLnRRv5dwcYwGbUB2Emx3th2RaXprFNe6eMz"


@pytest.mark.parametrize("value, level", [("debug", logging.DEBUG), ("WARNING", logging.WARNING),
                                          ("", logging.INFO), ("loud", logging.INFO)])
def test_level_from_the_environment(value: str, level: int) -> None:
    assert daemon_log_level({"ORCHESTRATIA_LOG_LEVEL": value}) == level


@pytest.mark.parametrize("line", [
    f"< x-api-key: {KEY}", f"> X-API-Key: {KEY}", f"(b'x-api-key', b'{KEY}')", f"registering with {TOKEN}",
    f"Authorization: Bearer {SESSION}", f"> Cookie: orc_session={SESSION[5:]}; orc_csrf=abcdefabcdef",
    f"'{{\"type\":\"auth\",\"api_key\":\"{KEY}\"}}'", f"ORCHESTRATIA_TASK_TOKEN={TASK_CRED}",
])
def test_every_secret_shape_is_masked(line: str) -> None:
    masked = redact(line)
    for secret in (KEY, KEY[4:], TOKEN, TOKEN.split(".")[1], SESSION, SESSION[5:], TASK_CRED):
        assert secret not in masked, masked
    assert "[redacted]" in masked


def test_harmless_lines_are_unchanged() -> None:
    line = 'agent ab12 ONLINE; cookie name orc_session; GET /api/v1/agents/tasks/poll "HTTP/1.1 200 OK"'
    assert redact(line) == line


@pytest.fixture
def daemon_logging(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    """configure_daemon_logging at debug into a buffer, the root's state restored after."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    stream = io.StringIO()
    root.handlers = [logging.StreamHandler(stream)]
    monkeypatch.setenv("ORCHESTRATIA_LOG_LEVEL", "debug")
    try:
        configure_daemon_logging()
        root.setLevel(logging.DEBUG)
        yield stream
    finally:
        root.handlers = saved[0]
        root.setLevel(saved[1])
        for name in ("websockets", "httpx", "httpcore", "orchestratia"):
            logging.getLogger(name).setLevel(logging.NOTSET)


def test_debug_shows_the_handshake_without_the_key(daemon_logging: io.StringIO) -> None:
    logging.getLogger("websockets.client").debug("> %s: %s", "X-API-Key", KEY)
    logging.getLogger("some.library").debug("sent %r", {"api_key": KEY})  # the handler's net
    try:
        raise RuntimeError(f"refused {KEY}")
    except RuntimeError:
        logging.getLogger("orchestratia.agent").exception("connect failed")
    text = daemon_logging.getvalue()
    assert "X-API-Key: [redacted]" in text and "connect failed" in text and "RuntimeError" in text
    assert KEY[4:] not in text, text


def test_argument_shapes_survive_for_formatters_that_unpack_them() -> None:
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
                               ("1.2.3.4:5", "GET", f"/x?key={KEY}", "1.1", 200), None)
    RedactingFilter().filter(record)
    assert isinstance(record.args, tuple) and len(record.args) == 5 and record.args[4] == 200
    assert KEY not in record.getMessage()
