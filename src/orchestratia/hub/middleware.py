"""Request hygiene: body size limit, UTF-8 check, and ``{"detail": "..."}`` errors."""

from __future__ import annotations

import logging
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from orchestratia.hub.responses import OrjsonResponse

log = logging.getLogger(__name__)
BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class _TooLarge(Exception):
    pass


class BodyLimitMiddleware:
    """Reads request bodies up front: over ``max_bytes`` (by Content-Length or as streamed)
    → 413; a JSON body that is not UTF-8 → 400. Everything else is replayed to the app."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in BODY_METHODS:
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await self._reply(send, 413, self._too_large())
            return
        try:
            body = await self._read(receive)
        except _TooLarge:
            await self._reply(send, 413, self._too_large())
            return
        if "json" in headers.get("content-type", "json") and body:
            try:
                body.decode("utf-8")
            except UnicodeDecodeError as exc:
                detail = f"request body is not valid UTF-8 (byte {exc.start}); send JSON encoded as UTF-8"
                await self._reply(send, 400, detail)
                return
        await self.app(scope, _replay(body, receive), send)

    def _too_large(self) -> str:
        return f"request body too large: the limit is {self.max_bytes} bytes"

    async def _read(self, receive: Receive) -> bytes:
        parts: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                raise _TooLarge
            parts.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(parts)

    @staticmethod
    async def _reply(send: Send, status: int, detail: str) -> None:
        body = orjson.dumps({"detail": detail})
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _describe(error: dict[str, Any]) -> str:
    loc = [str(p) for p in error.get("loc", ()) if p not in ("body",)]
    if error.get("type") == "json_invalid":
        ctx = error.get("ctx", {}) or {}
        return f"malformed JSON: {ctx.get('error', error.get('msg', 'cannot parse'))}"
    where = ".".join(loc)
    return f"{where}: {error.get('msg', 'invalid')}" if where else str(error.get("msg", "invalid"))


async def _validation_error(_request: Request, exc: Exception) -> OrjsonResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    detail = "invalid request: " + "; ".join(_describe(e) for e in errors[:10])
    safe = [{"loc": list(e.get("loc", ())), "msg": e.get("msg"), "type": e.get("type")} for e in errors]
    return OrjsonResponse({"detail": detail, "errors": safe}, status_code=422)


async def _unhandled(_request: Request, exc: Exception) -> OrjsonResponse:
    log.exception("unhandled error", exc_info=exc)
    return OrjsonResponse({"detail": "internal error; see the hub log"}, status_code=500)


VALIDATION_ERROR_SCHEMA = {
    "title": "HTTPValidationError",
    "type": "object",
    "properties": {
        "detail": {"type": "string", "title": "Detail"},
        "errors": {"type": "array", "items": {"$ref": "#/components/schemas/ValidationError"}},
    },
    "required": ["detail"],
}


def _publish_error_shape(app: FastAPI) -> None:
    """/openapi.json describes our 422 body (``detail`` string + ``errors`` list)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = build()
        schemas = schema.get("components", {}).get("schemas", {})
        if "HTTPValidationError" in schemas:
            schemas["HTTPValidationError"] = VALIDATION_ERROR_SCHEMA
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def install(app: FastAPI, max_body_bytes: int) -> None:
    app.add_middleware(BodyLimitMiddleware, max_bytes=max_body_bytes)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unhandled)
    _publish_error_shape(app)
