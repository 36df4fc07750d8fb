"""Admin API: log in (rate limited per username and client IP), log out, who am I."""

from __future__ import annotations

from typing import Any

from fastapi import Depends, HTTPException, Request, Response

from orchestratia.protocol.admin import LoginRequest
from orchestratia.hub.api.deps import get_hub
from orchestratia.hub.auth import authenticate, create_admin_session, current_admin, delete_admin_session
from orchestratia.hub.runtime import Runtime
from orchestratia.hub.session_cookies import csrf_for_session, session_token
from orchestratia.hub.store.models import Admin
from orchestratia.hub.views import iso


async def login(body: LoginRequest, request: Request, hub: Runtime = Depends(get_hub)) -> Any:
    ip = request.client.host if request.client else "?"
    if hub.limiter.blocked(body.username, ip):
        retry = hub.limiter.retry_after(body.username, ip)
        raise HTTPException(
            429,
            detail=f"too many failed logins for {body.username!r}: wait {retry} s and try again",
            headers={"Retry-After": str(retry)},
        )
    async with hub.store.read() as session:  # argon2 runs outside the (SQLite) write lock
        admin = await authenticate(session, body.username, body.password)
    if admin is None:
        hub.limiter.failed(body.username, ip)
        raise HTTPException(401, detail="wrong username or password")
    async with hub.store.write() as session:
        token, expires_at = await create_admin_session(session, admin, hub.settings.session_ttl_s)
    return {"token": token, "username": admin.username, "expires_at": iso(expires_at),
            "csrf_token": csrf_for_session(token)}


async def logout(request: Request, hub: Runtime = Depends(get_hub)) -> Response:
    header = request.headers.get("authorization", "")
    token = header[7:].strip() if header.lower().startswith("bearer ") else session_token(request)
    if token:
        async with hub.store.write() as session:
            await delete_admin_session(session, token)
    return Response(status_code=204)


async def me(admin: Admin = Depends(current_admin)) -> dict[str, str]:
    return {"username": admin.username}
