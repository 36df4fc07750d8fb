"""First start: create the ``admin`` account when the admin table is empty."""

from __future__ import annotations

import asyncio
import functools
import logging
import secrets
import sys

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from orchestratia.hub.auth import hash_password
from orchestratia.hub.runtime import Runtime
from orchestratia.hub.store.models import Admin

log = logging.getLogger(__name__)
ADMIN_USERNAME = "admin"


async def bootstrap_admin(hub: Runtime) -> str | None:
    """Create ``admin`` if there is no admin yet. Returns the generated password (or None when
    the password came from ``ORCHESTRATIA_ADMIN_PASSWORD`` or an admin already existed)."""
    async with hub.store.read() as session:
        if (await session.execute(select(func.count()).select_from(Admin))).scalar_one():
            return None
    given = hub.settings.admin_password.get_secret_value() if hub.settings.admin_password else ""
    password = given or secrets.token_urlsafe(15)
    cost = {
        "time_cost": hub.settings.argon2_time_cost,
        "memory_cost": hub.settings.argon2_memory_kib,
        "parallelism": hub.settings.argon2_parallelism,
    }
    digest = await asyncio.to_thread(functools.partial(hash_password, password, **cost))
    try:
        async with hub.store.write() as session:
            if (await session.execute(select(func.count()).select_from(Admin))).scalar_one():
                return None
            session.add(Admin(username=ADMIN_USERNAME, password_hash=digest))
    except IntegrityError:
        return None  # another replica created it first
    if given:
        log.info("created admin account %r with the password from ORCHESTRATIA_ADMIN_PASSWORD", ADMIN_USERNAME)
        return None
    print_credentials_box(ADMIN_USERNAME, password)
    return password


def print_credentials_box(username: str, password: str) -> None:
    """Shown once, on stderr: the generated password is not stored anywhere in plain text."""
    lines = [
        "Orchestratia: first start, an admin account was created.",
        f"  username: {username}",
        f"  password: {password}",
        "Save this password now: it is shown only once.",
    ]
    width = max(len(line) for line in lines) + 2
    border = "+" + "-" * width + "+"
    body = "\n".join(f"| {line.ljust(width - 1)}|" for line in lines)
    sys.stderr.write(f"\n{border}\n{body}\n{border}\n\n")
    sys.stderr.flush()
