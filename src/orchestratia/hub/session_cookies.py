"""The dashboard's cookies: their names, and the CSRF token bound to the admin session.

* Under HTTPS the cookies are ``__Host-orc_session`` and ``__Host-orc_csrf``: the browser
  accepts a ``__Host-`` cookie only with ``Secure``, ``Path=/`` and no ``Domain``, so neither a
  sibling subdomain nor a plain-HTTP page can plant one. Under HTTPS only those names are read
  (a planted ``orc_session`` / ``orc_csrf`` counts for nothing); on plain HTTP (loopback) the
  names are ``orc_session`` and ``orc_csrf``.
* The CSRF token of a session is ``HMAC-SHA256(session token, CSRF_CONTEXT)``: an unsafe
  request with the session cookie must carry exactly that value in ``X-CSRF-Token``. A cookie
  the attacker planted (with a header that matches it) does not match the victim's session,
  and the value cannot be computed without the session token (an HttpOnly cookie). Keyed by
  the session token itself, it needs no server key, so every hub replica agrees on it and it
  ends with the session. The CSRF cookie only carries this value to the page's scripts.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from fastapi import Request

SESSION_COOKIE = "orc_session"
CSRF_COOKIE = "orc_csrf"
HOST_PREFIX = "__Host-"
CSRF_CONTEXT = b"orchestratia dashboard csrf v1"


def is_https(request: Request) -> bool:
    return request.url.scheme == "https"


def cookie_name(request: Request, base: str) -> str:
    """``__Host-<base>`` under HTTPS, ``<base>`` on plain HTTP."""
    return HOST_PREFIX + base if is_https(request) else base


def read_cookie(request: Request, base: str) -> str:
    """The cookie ``base`` under the name this scheme uses ("" when absent)."""
    return request.cookies.get(cookie_name(request, base), "")


def session_token(request: Request) -> str:
    return read_cookie(request, SESSION_COOKIE)


def csrf_for_session(token: str) -> str:
    """The CSRF token bound to the admin session ``token`` (URL-safe base64, 43 characters)."""
    digest = hmac.new(token.encode("utf-8", "surrogatepass"), CSRF_CONTEXT, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def csrf_matches(token: str, given: str) -> bool:
    """Does ``given`` (a header or form field) carry the CSRF token of session ``token``?"""
    if not token or not given:
        return False
    return hmac.compare_digest(csrf_for_session(token).encode(), given.encode("utf-8", "surrogatepass"))
