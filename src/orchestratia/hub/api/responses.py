"""A JSON response rendered with orjson (the hot paths: poll, lists, errors)."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse

from orchestratia.hub.json_safety import dumps


class OrjsonResponse(JSONResponse):
    """JSON by orjson; what orjson cannot write (a row stored with a lone surrogate or an
    integer past 64 bits) is written by ``json_safety.dumps`` instead of failing with a 500."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return dumps(content, orjson.OPT_NON_STR_KEYS)


class MarkdownResponse(PlainTextResponse):
    media_type = "text/markdown"


class OctetStreamResponse(Response):
    media_type = "application/octet-stream"


class EventStreamResponse(StreamingResponse):
    media_type = "text/event-stream"
