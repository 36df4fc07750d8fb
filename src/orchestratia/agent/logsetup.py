"""The daemon's logging: stderr, the level from ``ORCHESTRATIA_LOG_LEVEL`` (default info), text
or JSON lines by ``ORCHESTRATIA_LOG_FORMAT`` (``text``, ``json``), and secrets masked at every
level in both (``orchestratia.protocol.redact``)."""

from __future__ import annotations

import logging
import os
import sys

from orchestratia.protocol.json_logs import use_json_logs
from orchestratia.protocol.redact import install_redaction

LEVEL_ENV = "ORCHESTRATIA_LOG_LEVEL"
FORMAT_ENV = "ORCHESTRATIA_LOG_FORMAT"
#: one line per heartbeat and poll at info; their request and handshake detail only at debug
NOISY = ("httpx", "httpcore", "websockets")


def daemon_log_level(environ: dict[str, str] | None = None) -> int:
    """The level ``ORCHESTRATIA_LOG_LEVEL`` names (debug, info, warning, error), else INFO."""
    name = (os.environ if environ is None else environ).get(LEVEL_ENV, "").strip().upper()
    level = logging.getLevelName(name) if name else logging.INFO
    return level if isinstance(level, int) else logging.INFO


def daemon_log_format(environ: dict[str, str] | None = None) -> str:
    """``json`` or ``text`` (the default, also for an empty value)."""
    value = (os.environ if environ is None else environ).get(FORMAT_ENV, "").strip().lower()
    if value and value not in ("text", "json"):
        sys.stderr.write(f"{FORMAT_ENV}={value!r} is neither 'text' nor 'json': logging text\n")
    return "json" if value == "json" else "text"


def configure_daemon_logging() -> None:
    """Log to stderr unless the embedding program configured logging itself; JSON lines on
    every root handler when ``ORCHESTRATIA_LOG_FORMAT=json``."""
    level = daemon_log_level()
    if not logging.getLogger().handlers:
        logging.basicConfig(level=level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    else:
        logging.getLogger("orchestratia").setLevel(level)
    for noisy in NOISY:
        logging.getLogger(noisy).setLevel(level if level <= logging.DEBUG else max(level, logging.WARNING))
    if daemon_log_format() == "json":
        use_json_logs(("",))
    install_redaction()
