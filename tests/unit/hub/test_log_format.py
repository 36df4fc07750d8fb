"""``ORCHESTRATIA_LOG_FORMAT=json`` in the hub: its handlers write one JSON object per line, with
secrets masked as in text (the daemon's side: tests/unit/protocol/test_json_logs.py)."""

from __future__ import annotations

import io
import json
import logging

import pytest

from orchestratia.hub.app import create_app
from orchestratia.protocol.json_logs import JsonFormatter

KEY = "orc_eTpYSPY0QEJN_r-rjrqd4oqMRkDebfiapTp4xR2fD0Y"


async def test_the_hub_logs_json_lines(settings_factory) -> None:
    root = logging.getLogger()
    saved = [(handler, handler.formatter) for handler in root.handlers]
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    hub_logger = logging.getLogger("orchestratia.hub")
    hub_logger.addHandler(handler)
    try:
        create_app(settings_factory(log_format="json"))
        assert isinstance(handler.formatter, JsonFormatter)
        logging.getLogger("orchestratia.hub.test").warning("login with %s refused", f'{{"password": "{KEY}"}}')
    finally:
        hub_logger.removeHandler(handler)
        for h, formatter in saved:  # pytest's own handlers: as they were
            h.setFormatter(formatter)
    (line,) = [json.loads(text) for text in stream.getvalue().splitlines()]
    assert line["logger"] == "orchestratia.hub.test" and line["level"] == "WARNING"
    assert KEY not in stream.getvalue() and "[redacted]" in line["message"]


async def test_log_format_setting_refuses_other_values(settings_factory) -> None:
    with pytest.raises(ValueError, match="'text' or 'json'"):
        settings_factory(log_format="xml")
