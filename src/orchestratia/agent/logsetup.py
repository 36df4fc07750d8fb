"""The daemon's logging: stderr, the level from ``ORCHESTRATIA_LOG_LEVEL`` (default info), and
secrets masked at every level (``orchestratia.protocol.redact``)."""

from __future__ import annotations

import logging
import os
import sys

from orchestratia.protocol.redact import install_redaction

LEVEL_ENV = "ORCHESTRATIA_LOG_LEVEL"
#: one line per heartbeat and poll at info; their request and handshake detail only at debug
NOISY = ("httpx", "httpcore", "websockets")


def daemon_log_level(environ: dict[str, str] | None = None) -> int:
    """The level ``ORCHESTRATIA_LOG_LEVEL`` names (debug, info, warning, error), else INFO."""
    name = (os.environ if environ is None else environ).get(LEVEL_ENV, "").strip().upper()
    level = logging.getLevelName(name) if name else logging.INFO
    return level if isinstance(level, int) else logging.INFO


def configure_daemon_logging() -> None:
    """Log to stderr unless the embedding program configured logging itself."""
    level = daemon_log_level()
    if not logging.getLogger().handlers:
        logging.basicConfig(level=level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    else:
        logging.getLogger("orchestratia").setLevel(level)
    for noisy in NOISY:
        logging.getLogger(noisy).setLevel(level if level <= logging.DEBUG else max(level, logging.WARNING))
    install_redaction()
