"""Calls from dashboard pages into the hub's own admin API, in process.

The dashboard renders from exactly the JSON the admin API contract promises
(docs/architecture.md), so the pages and the CLI see the same data. A request goes through
the whole ASGI app (auth, CSRF, rate limits apply), never over the network: the transport
hands it to ``request.app`` with the browser's own client address, cookies and, for unsafe
methods, the CSRF header the API wants (only after the dashboard checked the form's field).
"""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import Request

from orchestratia.hub.session_cookies import CSRF_COOKIE, SESSION_COOKIE, csrf_for_session, session_token  # noqa: F401

ADMIN = "/api/admin"


class ApiError(Exception):
    """The admin API answered with an error: its status and its ``detail`` message."""

    def __init__(self, status: int, detail: str, headers: httpx.Headers | None = None):
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = headers or httpx.Headers()


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()[:300] or response.reason_phrase
    detail = body.get("detail") if isinstance(body, dict) else None
    if isinstance(detail, list):  # FastAPI validation errors
        parts = []
        for item in detail:
            if isinstance(item, dict):
                loc = ".".join(str(x) for x in item.get("loc", []) if x != "body")
                parts.append(f"{loc}: {item.get('msg')}" if loc else str(item.get("msg")))
        return "; ".join(parts) or "invalid input"
    return str(detail) if detail is not None else response.reason_phrase


def _client(request: Request) -> httpx.AsyncClient:
    client = request.client
    peer = (client.host, client.port) if client else ("127.0.0.1", 0)
    transport = httpx.ASGITransport(app=request.app, client=peer)
    base = f"{request.url.scheme}://{request.url.netloc}"
    headers = {"accept": "application/json"}
    cookie = request.headers.get("cookie")
    if cookie:
        headers["cookie"] = cookie
    for name in ("x-forwarded-for", "x-forwarded-proto", "x-real-ip", "user-agent"):
        if name in request.headers:
            headers[name] = request.headers[name]
    return httpx.AsyncClient(transport=transport, base_url=base, headers=headers, timeout=30.0)


async def call(
    request: Request,
    method: str,
    path: str,
    *,
    json: Any = None,
    params: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
    csrf_checked: bool = False,
) -> Any:
    """``method`` ``/api/admin{path}``; returns the decoded JSON (None for 204) or raises
    :class:`ApiError`.

    A change (unsafe method) is only forwarded with ``csrf_checked=True``: the caller has
    compared the form's CSRF field with the session's CSRF token. Only then does the request
    carry the ``X-CSRF-Token`` header that the admin API demands for cookie sessions."""
    extra = dict(headers or {})
    if method.upper() not in ("GET", "HEAD", "OPTIONS"):
        if not csrf_checked:
            raise RuntimeError(f"{method} {path}: check the form's CSRF field before changing anything")
        extra["x-csrf-token"] = csrf_for_session(session_token(request))
    async with _client(request) as client:
        response = await client.request(method, ADMIN + path, json=json, params=params, headers=extra)
    if response.status_code >= 400:
        raise ApiError(response.status_code, _detail(response), response.headers)
    if response.status_code == 204 or not response.content:
        return None
    return response.json()


async def get_text(request: Request, path: str, params: dict[str, Any] | None = None) -> str:
    """``GET /api/admin{path}`` for a text body (a task's unified diff); raises :class:`ApiError`."""
    async with _client(request) as client:
        response = await client.get(ADMIN + path, params=params, headers={"accept": "text/x-diff, */*"})
    if response.status_code >= 400:
        raise ApiError(response.status_code, _detail(response), response.headers)
    return response.content.decode("utf-8", "replace")
