"""Secrets and admin authentication.

* Registration tokens and agent API keys are ≥ 256-bit random strings: the hub stores their
  SHA-256. A slow hash (argon2) adds nothing against guessing such secrets and would cost
  every agent request tens of milliseconds of CPU.
* Admin passwords are chosen by people: argon2id (``argon2-cffi``), verified in a thread.
* Admin sessions: random bearer tokens, stored as SHA-256, with an expiry. The dashboard
  uses the same session in cookie ``orc_session`` (``__Host-orc_session`` under HTTPS); an
  unsafe method with it needs header ``X-CSRF-Token`` carrying the CSRF token bound to that
  session (:mod:`orchestratia.hub.session_cookies`), which cookie ``orc_csrf`` holds.
* Login failures are rate limited per username + client IP (:class:`LoginLimiter`).

Functions the dashboard calls: :func:`authenticate`, :func:`create_admin_session`,
:func:`delete_admin_session`, and the dependency :func:`current_admin`.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import time
from datetime import datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from fastapi import HTTPException, Request
from limits import parse as parse_limit
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from orchestratia.hub.session_cookies import CSRF_COOKIE, SESSION_COOKIE, csrf_matches, session_token  # noqa: F401
from orchestratia.hub.store.models import Admin, AdminSession, utcnow

CSRF_HEADER = "X-CSRF-Token"
DEFAULT_SESSION_TTL_S = 7 * 24 * 3600
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_DUMMY_HASH: list[str] = []


def hash_secret(secret: str) -> str:
    """SHA-256 hex of a high-entropy secret (token, API key, session token)."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def _hasher(**cost: int) -> PasswordHasher:
    return PasswordHasher(**cost)


def hash_password(password: str, *, time_cost: int = 3, memory_cost: int = 65536, parallelism: int = 4) -> str:
    """argon2id hash (``memory_cost`` in KiB). Verification reads the cost from the hash."""
    return _hasher(time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism).hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher().verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


async def authenticate(session: AsyncSession, username: str, password: str) -> Admin | None:
    """The admin with these credentials, or None. Constant work whether or not the user exists."""
    admin = (await session.execute(select(Admin).where(Admin.username == username))).scalar_one_or_none()
    if admin is None:
        if not _DUMMY_HASH:
            _DUMMY_HASH.append(await asyncio.to_thread(hash_password, secrets.token_hex(8)))
        await asyncio.to_thread(verify_password, _DUMMY_HASH[0], password)
        return None
    ok = await asyncio.to_thread(verify_password, admin.password_hash, password)
    return admin if ok else None


async def create_admin_session(
    session: AsyncSession, admin: Admin, ttl_s: int = DEFAULT_SESSION_TTL_S
) -> tuple[str, datetime]:
    """A new session for ``admin``: returns ``(bearer token, expires_at)``; the caller commits."""
    token = "orcs_" + secrets.token_urlsafe(32)
    expires_at = utcnow() + timedelta(seconds=ttl_s)
    session.add(AdminSession(admin_id=admin.id, token_hash=hash_secret(token), expires_at=expires_at))
    await session.flush()
    return token, expires_at


async def delete_admin_session(session: AsyncSession, token: str) -> None:
    await session.execute(delete(AdminSession).where(AdminSession.token_hash == hash_secret(token)))


async def admin_for_token(session: AsyncSession, token: str) -> Admin | None:
    """The admin of a live session token, or None (unknown or expired)."""
    row = (
        await session.execute(
            select(Admin, AdminSession.expires_at)
            .join(AdminSession, AdminSession.admin_id == Admin.id)
            .where(AdminSession.token_hash == hash_secret(token))
        )
    ).first()
    if row is None or row[1] <= utcnow():
        return None
    return row[0]


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(401, detail=detail, headers={"WWW-Authenticate": "Bearer"})


async def current_admin(request: Request) -> Admin:
    """FastAPI dependency: the logged-in admin (Bearer token, or cookie + CSRF header)."""
    token = _bearer(request)
    via_cookie = token is None
    if via_cookie:
        token = session_token(request)
    if not token:
        raise _unauthorized("not logged in: send 'Authorization: Bearer <token>' from POST /api/admin/login")
    if via_cookie and request.method not in SAFE_METHODS:
        if not csrf_matches(token, request.headers.get(CSRF_HEADER) or ""):
            raise HTTPException(403, detail="CSRF check failed: send header X-CSRF-Token with this session's CSRF "
                                            "token (the value of the orc_csrf cookie the hub set at sign-in)")
    hub = request.app.state.hub
    async with hub.db.read() as session:
        admin = await admin_for_token(session, token)
    if admin is None:
        raise _unauthorized("session expired or unknown: log in again (POST /api/admin/login)")
    request.state.admin = admin
    request.state.admin_token = token
    return admin


class SessionWatch:
    """For a long response (an SSE stream): is the admin session that opened it still live?
    Asks the store at most every ``every_s`` seconds (logout, expiry and a deleted session
    all end it)."""

    def __init__(self, hub: Any, token: str, every_s: float) -> None:
        self.hub, self.token, self.every_s = hub, token, every_s
        self._next = time.monotonic() + every_s

    async def ended(self) -> bool:
        now = time.monotonic()
        if now < self._next:
            return False
        self._next = now + self.every_s
        async with self.hub.db.read() as session:
            return await admin_for_token(session, self.token) is None

    @classmethod
    def of(cls, request: Request, every_s: float) -> "SessionWatch":
        """The watch for the session :func:`current_admin` accepted on ``request``."""
        return cls(request.app.state.hub, request.state.admin_token, every_s)


class LoginLimiter:
    """At most ``per_minute`` failed logins per (username, client IP) in a moving minute."""

    def __init__(self, per_minute: int = 5) -> None:
        self._limit = parse_limit(f"{per_minute}/minute")
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    def blocked(self, username: str, ip: str) -> bool:
        return not self._limiter.test(self._limit, "login", username, ip)

    def failed(self, username: str, ip: str) -> None:
        self._limiter.hit(self._limit, "login", username, ip)

    def retry_after(self, username: str, ip: str) -> int:
        stats: Any = self._limiter.get_window_stats(self._limit, "login", username, ip)
        return max(1, int(stats.reset_time - time.time()) + 1)
