"""Keep the access log readable: a fleet's liveness chatter is left out of it.

Every agent heartbeats every 30 s and polls every 10–60 s: with 5,000 agents that is ~250
access-log lines a second that say nothing (and formatting them was ~4 % of the hub's CPU).
Successful ``POST /heartbeat`` and ``GET /tasks/poll`` are not logged unless
``ORCHESTRATIA_LOG_LIVENESS`` is set; failed ones (4xx, 5xx) always are. The same goes for the
probes and the scrapes of the hub itself (``/healthz``, ``/readyz``, ``/metrics``: HAProxy
checks every replica every second).
"""

from __future__ import annotations

import logging

from orchestratia.protocol import API_PREFIX

LIVENESS_PATHS = frozenset({f"{API_PREFIX}/heartbeat", f"{API_PREFIX}/tasks/poll", "/healthz", "/readyz", "/metrics"})
ACCESS_LOGGER = "uvicorn.access"


class QuietLiveness(logging.Filter):
    """Drops uvicorn access records of a successful heartbeat or poll."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if not isinstance(args, tuple) or len(args) != 5:
            return True
        _client, _method, path, _version, status = args
        path = str(path).split("?", 1)[0]
        return not (path in LIVENESS_PATHS and isinstance(status, int) and 200 <= status < 300)


def quiet_liveness(enabled: bool = True) -> None:
    """Install (or remove) the filter on uvicorn's access logger; idempotent."""
    logger = logging.getLogger(ACCESS_LOGGER)
    for existing in [f for f in logger.filters if isinstance(f, QuietLiveness)]:
        logger.removeFilter(existing)
    if enabled:
        # first in line: the redaction filter (protocol/redact.py, installed on this logger
        # earlier) formats every record and runs five regular expressions over it; for a
        # record dropped here that was ~64 us of a heartbeat's ~1 ms of hub CPU (measured on a
        # loaded machine, 2026-12-06: the record through both filters 93 us, through this one
        # alone 29 us, LogRecord creation included)
        logger.filters.insert(0, QuietLiveness())
