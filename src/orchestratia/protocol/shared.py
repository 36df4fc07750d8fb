"""Helpers both hub, agent and CLI need, kept here so that neither side copies the other's.

Standard library only (no pydantic, no httpx): the agent's launcher-adjacent code and the CLI
import it cheaply. Hub and agent still never import each other.
"""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from typing import Any, Protocol


def write_atomic(path: str | os.PathLike[str], data: bytes, mode: int = 0o600) -> None:
    """Write ``data`` to ``path`` atomically (temp file, fsync, rename) with exactly ``mode``
    (default 0600: private): readers see the old file or the new one, never a part."""
    path = os.fspath(path)
    tmp = f"{path}.tmp.{os.getpid()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.fchmod(fd, mode)  # the umask may have taken bits away; a private file is 0600 exactly
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


async def wait_set(event: asyncio.Event, timeout: float) -> bool:
    """Wait until ``event`` is set (True) or ``timeout`` seconds pass (False).

    A cancel always propagates, also one that arrives as the event is set: before Python 3.12
    ``asyncio.wait_for(event.wait(), t)`` returns instead of raising in that case, and a loop
    built on it goes round once more (the hub's scheduler hung a whole period at shutdown)."""
    if event.is_set():
        return True
    waiter = asyncio.ensure_future(event.wait())
    try:
        done, _ = await asyncio.wait({waiter}, timeout=max(0.0, timeout))
    finally:
        waiter.cancel()
    return bool(done)


class _Response(Protocol):  # what an httpx.Response offers; no httpx import here
    status_code: int
    text: str


def response_detail(response: _Response) -> str:
    """The human message of an error response: the ``detail`` of a ``{"detail": ...}`` body
    (FastAPI's validation list joined as ``field: message``), else the body text, else the
    status code."""
    try:
        body: Any = json.loads(response.text)
    except (ValueError, TypeError):
        body = None
    if isinstance(body, dict) and "detail" in body:
        detail = body["detail"]
        if isinstance(detail, list):
            parts = []
            for item in detail:
                if isinstance(item, dict):
                    where = ".".join(str(p) for p in item.get("loc", ()) if p != "body")
                    parts.append(f"{where}: {item.get('msg', '')}" if where else str(item.get("msg", "")))
                else:
                    parts.append(str(item))
            return "; ".join(parts)
        return str(detail)
    text = (response.text or "").strip()
    return text[:500] if text else f"HTTP {response.status_code}"


def is_uuid(value: str) -> bool:
    """True when ``value`` is a UUID in any of its usual spellings."""
    try:
        uuid.UUID(str(value))
    except (ValueError, AttributeError, TypeError):
        return False
    return True
