"""What every admin command shares: the global options and a ready client."""

from __future__ import annotations

from typing import Any

from .client import HubClient
from .errors import CliError
from .settings import resolve_connection

_options: dict[str, Any] = {"ca_bundle": None}


def set_ca_bundle(path: str | None) -> None:
    _options["ca_bundle"] = path


def ca_bundle() -> str | None:
    return _options["ca_bundle"]


def client(timeout: float = 30.0) -> HubClient:
    """A client for the hub we are logged in to (``cli.json`` or the environment)."""
    return HubClient.from_connection(resolve_connection(ca_bundle()), timeout=timeout)


def is_uuid(value: str) -> bool:
    # imported here, not at the top: ``orchestratia.protocol`` loads its pydantic wire models
    # (0.5 s of a 1.5 s start on this machine), which `--version` and the list commands skip
    from orchestratia.protocol.shared import is_uuid as shared_is_uuid

    return shared_is_uuid(value)


def _unique(ids: list[str], value: str, what: str, listing: str) -> str:
    """The one id in ``ids`` that starts with ``value``; else an error naming the command that
    lists them."""
    matches = [i for i in ids if i.startswith(value.lower())]
    if not matches:
        raise CliError(f"no {what} id starts with {value!r}: see `{listing}`")
    if len(matches) > 1:
        raise CliError(f"{len(matches)} {what}s have ids starting with {value!r}: give more characters (see `{listing}`)")
    return matches[0]


def _check_prefix(value: str, what: str, listing: str) -> None:
    if len(value) < 4:
        raise CliError(f"{what} id {value!r} is too short: give at least 4 characters (see `{listing}`)")


def resolve_task_id(hub: HubClient, value: str) -> str:
    """A full task id, from a full id or a unique prefix of one (as tables show them)."""
    value = value.strip()
    if is_uuid(value):
        return value
    _check_prefix(value, "task", "orchestratia tasks list")
    ids = [str(t.get("id", "")) for t in hub.list_tasks(limit=1000)]
    return _unique(ids, value, "task", "orchestratia tasks list")


def find_agent(hub: HubClient, value: str) -> dict[str, Any]:
    """The agent named ``value``, or whose id is ``value`` or starts with it (as `agents list`
    shows ids: their first 8 characters). A name wins over an id prefix."""
    value = value.strip()
    try:
        return hub.get_agent(value)
    except CliError as exc:
        if exc.status != 404 or is_uuid(value) or len(value) < 4:
            raise
    agents = hub.list_agents()
    ids = [str(a.get("id", "")) for a in agents]
    if not any(i.startswith(value.lower()) for i in ids):
        raise CliError(f"not found: no agent is named {value!r} or has an id starting with it: see `orchestratia agents list`",
                       status=404)
    full = _unique(ids, value, "agent", "orchestratia agents list")
    return next(a for a in agents if a.get("id") == full)


def resolve_agent_id(hub: HubClient, value: str) -> str:
    """An agent id from an id, a unique id prefix or a name."""
    if is_uuid(value.strip()):
        return value.strip()
    return str(find_agent(hub, value)["id"])


def resolve_token_id(hub: HubClient, value: str) -> str:
    if is_uuid(value):
        return value
    ids = [str(t.get("id", "")) for t in hub.list_tokens()]
    return _unique(ids, value, "registration token", "orchestratia tokens list")


def short_id(value: Any) -> str:
    return str(value or "")[:8]
