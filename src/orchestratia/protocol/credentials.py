"""The formats of the agent's secrets (PROTOCOL.md): a registration token carries the hub's URL,
an API key is random. Stdlib only: no pydantic import."""

from __future__ import annotations

import base64
import binascii
import secrets

API_KEY_PREFIX = "orc_"
REGISTRATION_TOKEN_PREFIX = "orcreg_"


def _b64url_encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def new_registration_token(hub_url: str) -> str:
    """``orcreg_`` + base64url(hub URL, no padding) + ``.`` + 43 random url-safe chars."""
    return f"{REGISTRATION_TOKEN_PREFIX}{_b64url_encode(hub_url.rstrip('/').encode())}.{secrets.token_urlsafe(32)}"


def hub_url_from_token(token: str) -> str | None:
    """The hub URL carried by a registration token, or None when the token carries none."""
    if not token.startswith(REGISTRATION_TOKEN_PREFIX) or "." not in token:
        return None
    encoded = token[len(REGISTRATION_TOKEN_PREFIX) :].split(".", 1)[0]
    try:
        url = _b64url_decode(encoded).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    return url if url.startswith(("http://", "https://")) else None


def new_api_key() -> str:
    return API_KEY_PREFIX + secrets.token_urlsafe(32)
