"""A JSON response rendered with orjson (the hot paths: poll, lists, errors)."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse


class OrjsonResponse(JSONResponse):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS)


class MarkdownResponse(PlainTextResponse):
    media_type = "text/markdown"


class OctetStreamResponse(Response):
    media_type = "application/octet-stream"


class EventStreamResponse(StreamingResponse):
    media_type = "text/event-stream"
