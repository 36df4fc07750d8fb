"""Request hygiene: body size limit, UTF-8 check, and ``{"detail": "..."}`` errors."""

from __future__ import annotations

import logging
import re
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import StatementError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from orchestratia.hub.api.responses import OrjsonResponse
from orchestratia.hub.health import store_unavailable
from orchestratia.hub.json_safety import UnsafeBody, clean_json_body, clean_text

log = logging.getLogger(__name__)
BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_CLASS_PREFIX = re.compile(r"^<class '[^']*'>: ")  # how SQLAlchemy's asyncpg adapter words errors
FORM_REPLACEMENT = b"%EF%BF%BD"  # U+FFFD, percent-encoded as a form carries it


class _TooLarge(Exception):
    pass


class _Refused(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status, self.detail = status, detail


def clean_body(content_type: str, body: bytes) -> bytes:
    """The body the app gets: a JSON body must be UTF-8 (else 400) and is cleaned by
    :func:`json_safety.clean_json_body` (NUL and lone surrogates become U+FFFD; numbers or
    nesting the store cannot hold: 422); a form's NUL (``%00``) becomes U+FFFD too."""
    if not body:
        return body
    content_type = content_type.lower()
    if "json" in content_type:
        try:
            body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _Refused(400, f"request body is not valid UTF-8 (byte {exc.start}); send JSON encoded as UTF-8") from None
        try:
            return clean_json_body(body)
        except UnsafeBody as exc:
            raise _Refused(422, f"invalid request: {exc.detail}") from None
    if "x-www-form-urlencoded" in content_type and (b"%00" in body or b"\x00" in body):
        return body.replace(b"%00", FORM_REPLACEMENT).replace(b"\x00", FORM_REPLACEMENT)
    return body


def _with_length(headers: list[tuple[bytes, bytes]], length: int) -> list[tuple[bytes, bytes]]:
    kept = [(k, v) for k, v in headers if k.lower() != b"content-length"]
    return [*kept, (b"content-length", str(length).encode())]


class BodyLimitMiddleware:
    """Reads request bodies up front: over ``max_bytes`` (by Content-Length or as streamed)
    → 413; a JSON body that is not UTF-8 → 400, else cleaned (:func:`clean_body`). A URL with
    a NUL → 400 (PostgreSQL cannot compare text with one). The body is replayed to the app."""

    def __init__(self, app: ASGIApp, max_bytes: int, larger: tuple[tuple[re.Pattern[str], int], ...] = ()) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.larger = larger  # (path pattern, limit): routes that take more (a task's diff)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if "\x00" in scope.get("path", "") or b"%00" in scope.get("query_string", b""):
            await self._reply(send, 400, "NUL (%00) is not allowed in a URL: remove it")
            return
        if scope["method"] not in BODY_METHODS:
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        limit = next((n for pattern, n in self.larger if pattern.match(scope.get("path", ""))), self.max_bytes)
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            await self._reply(send, 413, self._too_large(limit))
            return
        try:
            read = await self._read(receive, limit)
        except _TooLarge:
            await self._reply(send, 413, self._too_large(limit))
            return
        try:
            body = clean_body(headers.get("content-type", "json"), read)
        except _Refused as exc:
            await self._reply(send, exc.status, exc.detail)
            return
        if body is not read:
            scope = {**scope, "headers": _with_length(scope.get("headers", []), len(body))}
        await self.app(scope, _replay(body, receive), send)

    def _too_large(self, limit: int) -> str:
        return f"request body too large: the limit is {limit} bytes"

    async def _read(self, receive: Receive, limit: int) -> bytes:
        parts: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
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


def unstorable_reason(exc: BaseException) -> str | None:
    """Why the store refused a value, when ``exc`` (a SQLAlchemy error) is about a value that it
    cannot hold (too large for its column, NUL, not encodable, too long), else None."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        state = getattr(current, "sqlstate", None)
        if isinstance(current, (OverflowError, ValueError)) or (isinstance(state, str) and state.startswith("22")):
            text = _CLASS_PREFIX.sub("", " ".join(str(current).split()))
            if text.startswith("invalid input for query argument") and text.endswith(")"):
                text = text[text.rfind("(") + 1 : -1]  # asyncpg: "$3: <the value> (the reason)"
            return clean_text(text)[:300]
        current = getattr(current, "orig", None) or current.__cause__ or current.__context__
    return None


async def _unstorable(request: Request, exc: Exception) -> OrjsonResponse:
    """A value the store cannot hold is the request's fault: 422, and the transaction that
    tried it was rolled back (nothing stored changed). Anything else is a 500."""
    unavailable = store_unavailable(request, exc)  # read-only, disk full, connection lost: 503
    if unavailable is not None:
        return unavailable
    reason = unstorable_reason(exc)
    if reason is None:
        return await _unhandled(request, exc)
    log.warning("%s %s: refused a value the store cannot hold: %s", request.method, request.url.path, reason)
    return OrjsonResponse({"detail": f"invalid request: a value in it cannot be stored ({reason}); nothing was changed"},
                          status_code=422)


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


def install(app: FastAPI, max_body_bytes: int,
            larger: tuple[tuple[re.Pattern[str], int], ...] = ()) -> None:
    app.add_middleware(BodyLimitMiddleware, max_bytes=max_body_bytes, larger=larger)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StatementError, _unstorable)
    # a store that refuses connections (PostgreSQL restarting) raises the driver's bare
    # ConnectionRefusedError from the pool, not a StatementError: a 503 naming the store, handled
    # here rather than by the catch-all, which Starlette re-raises into a second traceback
    app.add_exception_handler(OSError, _unstorable)
    app.add_exception_handler(Exception, _unhandled)
    _publish_error_shape(app)
