"""The admin API (prefix ``/api/admin``): login, registration tokens, and the router that
gathers the other admin modules (agents, tasks, interventions, streams)."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from orchestratia.protocol import new_registration_token
from orchestratia.hub import admin_agents, admin_interventions, admin_stream, admin_tasks
from orchestratia.hub.auth import (
    SESSION_COOKIE,
    authenticate,
    create_admin_session,
    current_admin,
    delete_admin_session,
    hash_secret,
)
from orchestratia.hub.core import Hub
from orchestratia.hub.deps import get_hub
from orchestratia.hub.responses import OrjsonResponse
from orchestratia.hub.states import emit
from orchestratia.hub.store.models import Admin, RegistrationToken, utcnow
from orchestratia.hub.store.queries import is_uuid
from orchestratia.hub.views import iso, token_view

PREFIX = "/api/admin"
_DURATION = re.compile(r"^\s*(\d{1,6})\s*([smhdw])\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
MAX_TOKEN_LIFETIME_S = 365 * 86400


class LoginBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    username: str = Field(min_length=1, max_length=200)
    password: str = Field(min_length=1, max_length=1000)


class TokenBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    label: str = Field(default="", max_length=200)
    expires_in: str = "24h"


def router() -> APIRouter:
    api = APIRouter(prefix=PREFIX, tags=["admin"], default_response_class=OrjsonResponse)
    api.add_api_route("/login", login, methods=["POST"])
    authed = APIRouter(dependencies=[Depends(current_admin)], default_response_class=OrjsonResponse)
    authed.add_api_route("/logout", logout, methods=["POST"], status_code=204, response_class=Response)
    authed.add_api_route("/me", me, methods=["GET"])
    authed.add_api_route("/tokens", create_token, methods=["POST"], status_code=201)
    authed.add_api_route("/tokens", list_tokens, methods=["GET"])
    authed.add_api_route("/tokens/{token_id}/revoke", revoke_token, methods=["POST"])
    for module in (admin_agents, admin_tasks, admin_interventions, admin_stream):
        module.add_routes(authed)
    api.include_router(authed)
    return api


# ---------------------------------------------------------------------------- sessions


async def login(body: LoginBody, request: Request, hub: Hub = Depends(get_hub)) -> Any:
    ip = request.client.host if request.client else "?"
    if hub.limiter.blocked(body.username, ip):
        retry = hub.limiter.retry_after(body.username, ip)
        raise HTTPException(
            429,
            detail=f"too many failed logins for {body.username!r}: wait {retry} s and try again",
            headers={"Retry-After": str(retry)},
        )
    async with hub.read() as session:  # argon2 runs outside the (SQLite) write lock
        admin = await authenticate(session, body.username, body.password)
    if admin is None:
        hub.limiter.failed(body.username, ip)
        raise HTTPException(401, detail="wrong username or password")
    async with hub.write() as session:
        token, expires_at = await create_admin_session(session, admin, hub.settings.session_ttl_s)
    return {"token": token, "username": admin.username, "expires_at": iso(expires_at)}


async def logout(request: Request, hub: Hub = Depends(get_hub)) -> Response:
    header = request.headers.get("authorization", "")
    token = header[7:].strip() if header.lower().startswith("bearer ") else request.cookies.get(SESSION_COOKIE)
    if token:
        async with hub.write() as session:
            await delete_admin_session(session, token)
    return Response(status_code=204)


async def me(admin: Admin = Depends(current_admin)) -> dict[str, str]:
    return {"username": admin.username}


# ---------------------------------------------------------------------------- tokens


def parse_duration(text: str) -> timedelta:
    match = _DURATION.match(text or "")
    if not match:
        raise HTTPException(422, detail=f"expires_in {text!r} is not a duration: use e.g. 30m, 24h or 7d")
    seconds = int(match.group(1)) * _UNITS[match.group(2)]
    if seconds <= 0 or seconds > MAX_TOKEN_LIFETIME_S:
        raise HTTPException(422, detail="expires_in must be more than 0 and at most 365d")
    return timedelta(seconds=seconds)


def public_url(hub: Hub, request: Request) -> str:
    """The hub URL for tokens and snippets: ``public_url`` when set, else the request's base URL."""
    if hub.settings.public_url:
        return hub.settings.public_url.rstrip("/")
    return str(request.base_url).rstrip("/")


def config_snippet(hub_url: str, token: str, label: str) -> str:
    """The seed's ``config.yaml`` with this hub's URL and the new token."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", label).strip("-") or "your-server-name"
    return (
        f"hub_url: {json.dumps(hub_url)}\n"
        f"registration_token: {json.dumps(token)}  # one-time token (consumed on first run)\n"
        'api_key: ""                        # set automatically after registration\n'
        f"agent_name: {json.dumps(name)}\n"
        "\n"
        "repos:\n"
        "  # the repos on this server that tasks may target\n"
        "  your-repo-name:\n"
        "    path: /home/ubuntu/your-repo\n"
        "    branch: main\n"
        "\n"
        "claude:\n"
        "  binary: claude\n"
        '  allowed_tools: "Bash,Read,Edit,Write,Grep,Glob"\n'
        "  max_turns: 50\n"
        "  timeout_minutes: 30\n"
        "\n"
        "session:\n"
        "  backend: screen\n"
        "  log_dir: /var/log/orchestratia\n"
        "  pid_dir: /var/run/orchestratia\n"
        "  reconcile_on_start: true\n"
    )


async def create_token(body: TokenBody, request: Request, hub: Hub = Depends(get_hub)) -> dict[str, Any]:
    lifetime = parse_duration(body.expires_in)
    url = public_url(hub, request)
    token = new_registration_token(url)
    async with hub.write() as session:
        row = RegistrationToken(label=body.label, token_hash=hash_secret(token), expires_at=utcnow() + lifetime)
        session.add(row)
        await session.flush()
        emit(session, "hub", {"kind": "token", "id": row.id, "status": "active"})
    return {
        **token_view(row),
        "token": token,
        "hub_url": url,
        "config_snippet": config_snippet(url, token, body.label),
        "register_command": f"orchestratia agent register {token}",
    }


async def list_tokens(hub: Hub = Depends(get_hub)) -> list[dict[str, Any]]:
    async with hub.read() as session:
        rows = (await session.execute(select(RegistrationToken).order_by(RegistrationToken.created_at.desc()))).scalars()
        return [token_view(row) for row in rows]


async def revoke_token(token_id: str, hub: Hub = Depends(get_hub)) -> dict[str, Any]:
    async with hub.write() as session:
        row = await session.get(RegistrationToken, token_id) if is_uuid(token_id) else None
        if row is None:
            raise HTTPException(404, detail=f"registration token {token_id} not found")
        if row.revoked_at is None and row.used_at is None:  # a used token stays "used"
            row.revoked_at = utcnow()
            await session.flush()
        emit(session, "hub", {"kind": "token", "id": row.id, "status": "revoked"})
    return token_view(row)
