"""Jinja2 rendering with autoescape on, plus the security headers every page carries."""

from __future__ import annotations

import secrets
from functools import lru_cache
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from orchestratia.hub.session_cookies import CSRF_COOKIE, csrf_for_session, read_cookie, session_token

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"

# No inline script or style anywhere: user data can never become code, even if escaping failed.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
    "cache-control": "no-store",
}

NOTICES = {
    "answered": "Answer sent. The agent receives it right away.",
    "already": "That intervention was already answered or cancelled; the first answer wins.",
    "withdrawn": "The agent stopped waiting for that answer; your answer was not delivered.",
    "revoked": "Agent revoked. Its API key no longer works.",
    "cancelled": "Cancel requested. The agent stops the task and reports it.",
    "signed_out": "You are signed out.",
    "expired": "Your session has ended. Sign in again.",
}


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=True,  # every {{ value }} is HTML-escaped, in every template
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["asset"] = asset_url
    env.filters["pill"] = pill_class
    return env


@lru_cache(maxsize=64)
def _asset_version(name: str) -> str:
    path = STATIC / name
    try:
        return str(int(path.stat().st_mtime))
    except OSError:
        return "0"


def asset_url(name: str) -> str:
    return f"/dashboard/static/{name}?v={_asset_version(name)}"


def pill_class(status: Any) -> str:
    value = str(status or "unknown").lower()
    safe = "".join(ch for ch in value if ch.isalnum() or ch == "_")
    return f"pill pill-{safe or 'unknown'}"


def csrf_token(request: Request) -> str:
    """The CSRF token forms carry: the signed-in session's, else the sign-in form's cookie."""
    token = session_token(request)
    return csrf_for_session(token) if token else read_cookie(request, CSRF_COOKIE)


def new_csrf() -> str:
    return secrets.token_urlsafe(32)


def render(request: Request, template: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
    notice = NOTICES.get(request.query_params.get("notice", ""), "")
    base = {
        "request_path": request.url.path,
        "csrf": csrf_token(request),
        "notice": notice,
        "username": "",
        "pending": 0,
        "active": "",
    }
    base.update(context)
    html = environment().get_template(template).render(**base)
    return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)
