"""Sign-in, sign-out and the per-page session check (cookies + CSRF)."""

from __future__ import annotations

import asyncio
import hmac
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from orchestratia.hub.session_cookies import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    cookie_name,
    csrf_for_session,
    csrf_matches,
    read_cookie,
    session_token,
)

from ._internal import ApiError, call
from ._render import SECURITY_HEADERS, new_csrf, render

router = APIRouter()
DEFAULT_AGE = 12 * 3600


class SignedOut(Exception):
    """Raised by page handlers; the router turns it into a redirect to /login."""


def safe_next(value: Any) -> str:
    """Only a local absolute path is a valid place to go after sign-in (no open redirect)."""
    text = str(value or "")
    if not text.startswith("/") or text.startswith("//") or "\\" in text or any(ord(c) < 32 for c in text):
        return "/agents"
    if text.startswith(("/login", "/logout")):
        return "/agents"
    return text


def login_redirect(request: Request) -> RedirectResponse:
    target = request.url.path
    if request.url.query:
        target += "?" + request.url.query
    response = RedirectResponse(f"/login?next={quote(target, safe='/')}", status_code=303)
    if session_token(request):  # a stale cookie: drop it
        _delete(request, response, SESSION_COOKIE)
        response.headers["location"] += "&notice=expired"
    return response


def csrf_ok(request: Request, form_value: Any) -> bool:
    """A signed-in form's CSRF field must be the token bound to the reader's session (a
    planted CSRF cookie does not make a forged form pass)."""
    return csrf_matches(session_token(request), str(form_value or ""))


def login_csrf_ok(request: Request, form_value: Any) -> bool:
    """The sign-in form has no session yet: its field must equal its CSRF cookie."""
    cookie = read_cookie(request, CSRF_COOKIE)
    value = str(form_value or "")
    return bool(cookie) and hmac.compare_digest(cookie.encode(), value.encode("utf-8", "surrogatepass"))


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def _set_cookie(request: Request, response: Response, base: str, value: str, max_age: int, httponly: bool) -> None:
    """``__Host-`` names under HTTPS (Secure, Path=/, no Domain: nothing else can set them)."""
    response.set_cookie(cookie_name(request, base), value, max_age=max_age, path="/", secure=_secure(request),
                        httponly=httponly, samesite="lax")


def _set_csrf(request: Request, response: Response, value: str, max_age: int = DEFAULT_AGE) -> None:
    _set_cookie(request, response, CSRF_COOKIE, value, max_age, httponly=False)


def _delete(request: Request, response: Response, base: str) -> None:
    response.delete_cookie(cookie_name(request, base), path="/", secure=_secure(request), samesite="lax")


def _max_age(expires_at: Any) -> int:
    try:
        when = datetime.fromisoformat(str(expires_at).replace("Z", "+00:00"))
    except ValueError:
        return DEFAULT_AGE
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(60, int((when - datetime.now(timezone.utc)).total_seconds()))


async def page_base(request: Request, active: str) -> dict[str, Any]:
    """The nav's data for a signed-in page; raises :class:`SignedOut` otherwise."""
    if not session_token(request):
        raise SignedOut()
    try:
        me, pending = await asyncio.gather(
            call(request, "GET", "/me"),
            call(request, "GET", "/interventions", params={"status": "pending"}),
        )
    except ApiError as exc:
        if exc.status == 401:
            raise SignedOut() from exc
        raise
    count = sum(1 for item in pending or [] if item.get("status", "pending") == "pending")
    return {"username": (me or {}).get("username", ""), "pending": count, "active": active}


def _login_page(request: Request, *, error: str = "", username: str = "", next_: str = "", status: int = 200):
    csrf = read_cookie(request, CSRF_COOKIE) or new_csrf()
    response = render(
        request,
        "login.html",
        {"error": error, "form_username": username, "next": safe_next(next_), "csrf": csrf},
        status=status,
    )
    if read_cookie(request, CSRF_COOKIE) != csrf:
        _set_csrf(request, response, csrf)
    return response


@router.get("/login", include_in_schema=False)
async def login_form(request: Request):
    next_ = request.query_params.get("next", "")
    if session_token(request):  # already signed in: go on
        try:
            await call(request, "GET", "/me")
            return RedirectResponse(safe_next(next_), status_code=303)
        except ApiError:
            pass
    return _login_page(request, next_=next_)


@router.post("/login", include_in_schema=False)
async def login_submit(request: Request):
    form = await request.form()
    username = str(form.get("username") or "").strip()
    password = str(form.get("password") or "")
    next_ = str(form.get("next") or "")
    if not login_csrf_ok(request, form.get("csrf")):
        return _login_page(
            request, error="The sign-in form had expired. Please sign in again.", username=username,
            next_=next_, status=400,
        )
    if not username or not password:
        return _login_page(request, error="Enter your username and password.", username=username, next_=next_, status=400)
    try:
        data = await call(request, "POST", "/login", json={"username": username, "password": password},
                          csrf_checked=True)
    except ApiError as exc:
        if exc.status == 429:
            wait = exc.headers.get("retry-after")
            when = f"in {wait} seconds" if wait and wait.isdigit() else "in a minute"
            message = f"Too many failed sign-in attempts. For your safety sign-in is paused; try again {when}."
        elif exc.status == 401:
            message = "Wrong username or password."
        else:
            message = exc.detail
        return _login_page(request, error=message, username=username, next_=next_, status=exc.status)
    age = _max_age(data.get("expires_at"))
    response = RedirectResponse(safe_next(next_), status_code=303)
    _set_cookie(request, response, SESSION_COOKIE, data["token"], age, httponly=True)
    _set_csrf(request, response, csrf_for_session(data["token"]), age)  # bound to the new session
    return response


@router.post("/logout", include_in_schema=False)
async def logout(request: Request):
    form = await request.form()
    if not csrf_ok(request, form.get("csrf")):
        return render(request, "error.html", {"title": "Sign-out failed",
                      "message": "The page was out of date. Reload it and try again."}, status=403)
    try:
        await call(request, "POST", "/logout", csrf_checked=True)
    except ApiError:
        pass  # the session may already be gone; the cookies go either way
    response = RedirectResponse("/login?notice=signed_out", status_code=303, headers=SECURITY_HEADERS)
    _delete(request, response, SESSION_COOKIE)
    _delete(request, response, CSRF_COOKIE)
    return response
