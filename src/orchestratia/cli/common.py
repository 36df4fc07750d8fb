"""What every admin command shares: the global options and a ready client."""

from __future__ import annotations

import re
from typing import Any

from .client import HubClient
from .errors import CliError
from .settings import resolve_connection

_options: dict[str, Any] = {"ca_bundle": None}

UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def set_ca_bundle(path: str | None) -> None:
    _options["ca_bundle"] = path


def ca_bundle() -> str | None:
    return _options["ca_bundle"]


def client(timeout: float = 30.0) -> HubClient:
    """A client for the hub we are logged in to (``cli.json`` or the environment)."""
    return HubClient.from_connection(resolve_connection(ca_bundle()), timeout=timeout)


def is_uuid(value: str) -> bool:
    return bool(UUID_RE.match(value))


def resolve_task_id(hub: HubClient, value: str) -> str:
    """A full task id, from a full id or a unique prefix of one (as tables show them)."""
    value = value.strip()
    if is_uuid(value):
        return value
    if len(value) < 4:
        raise CliError(f"task id {value!r} is too short: give at least 4 characters (see `orchestratia tasks list`)")
    matches = [t["id"] for t in hub.list_tasks(limit=1000) if str(t.get("id", "")).startswith(value.lower())]
    if not matches:
        raise CliError(f"no task id starts with {value!r}: see `orchestratia tasks list`")
    if len(matches) > 1:
        raise CliError(f"{len(matches)} tasks have ids starting with {value!r}: give more characters")
    return matches[0]


def resolve_agent_id(hub: HubClient, value: str) -> str:
    """An agent id from an id or a name."""
    if is_uuid(value):
        return value
    return str(hub.get_agent(value)["id"])


def resolve_token_id(hub: HubClient, value: str) -> str:
    if is_uuid(value):
        return value
    matches = [t["id"] for t in hub.list_tokens() if str(t.get("id", "")).startswith(value.lower())]
    if len(matches) != 1:
        what = "no" if not matches else f"{len(matches)}"
        raise CliError(f"{what} registration tokens have an id starting with {value!r}: see `orchestratia tokens list`")
    return matches[0]


def short_id(value: Any) -> str:
    return str(value or "")[:8]
