"""Admin API: registration tokens (create with the agent's config snippet, list, revoke)."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

from fastapi import Depends, HTTPException, Request
from sqlalchemy import select

from orchestratia.protocol import new_registration_token
from orchestratia.protocol.admin import TokenCreate
from orchestratia.protocol.events import TokenEvent, TokenStatus
from orchestratia.protocol.shared import is_uuid
from orchestratia.hub.api.deps import get_hub
from orchestratia.hub.auth import hash_secret
from orchestratia.hub.runtime import Runtime
from orchestratia.hub.states import emit
from orchestratia.hub.store.models import RegistrationToken, utcnow
from orchestratia.hub.views import token_view

_DURATION = re.compile(r"^\s*(\d{1,6})\s*([smhdw])\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
MAX_TOKEN_LIFETIME_S = 365 * 86400


def parse_duration(text: str) -> timedelta:
    match = _DURATION.match(text or "")
    if not match:
        raise HTTPException(422, detail=f"expires_in {text!r} is not a duration: use e.g. 30m, 24h or 7d")
    seconds = int(match.group(1)) * _UNITS[match.group(2)]
    if seconds <= 0 or seconds > MAX_TOKEN_LIFETIME_S:
        raise HTTPException(422, detail="expires_in must be more than 0 and at most 365d")
    return timedelta(seconds=seconds)


def public_url(hub: Runtime, request: Request) -> str:
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


async def create_token(body: TokenCreate, request: Request, hub: Runtime = Depends(get_hub)) -> dict[str, Any]:
    lifetime = parse_duration(body.expires_in)
    url = public_url(hub, request)
    token = new_registration_token(url)
    async with hub.store.write() as session:
        row = RegistrationToken(label=body.label, token_hash=hash_secret(token), expires_at=utcnow() + lifetime)
        session.add(row)
        await session.flush()
        emit(session, TokenEvent(id=row.id, status=TokenStatus.ACTIVE))
    return {
        **token_view(row),
        "token": token,
        "hub_url": url,
        "config_snippet": config_snippet(url, token, body.label),
        "register_command": f"orchestratia agent register {token}",
    }


async def list_tokens(hub: Runtime = Depends(get_hub)) -> list[dict[str, Any]]:
    async with hub.store.read() as session:
        rows = (await session.execute(select(RegistrationToken).order_by(RegistrationToken.created_at.desc()))).scalars()
        return [token_view(row) for row in rows]


async def revoke_token(token_id: str, hub: Runtime = Depends(get_hub)) -> dict[str, Any]:
    async with hub.store.write() as session:
        row = await session.get(RegistrationToken, token_id) if is_uuid(token_id) else None
        if row is None:
            raise HTTPException(404, detail=f"registration token {token_id} not found")
        if row.revoked_at is None and row.used_at is None:  # a used token stays "used"
            row.revoked_at = utcnow()
            await session.flush()
        emit(session, TokenEvent(id=row.id, status=TokenStatus.REVOKED))
    return token_view(row)
