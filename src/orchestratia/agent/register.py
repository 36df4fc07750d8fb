"""Registration with a one-time token, and writing the API key back into the config.

- ``register_with_token(token, config_path, name=None)``: ``orchestratia agent register TOKEN``.
  The hub URL comes from the token (``protocol.hub_url_from_token``), else from the config.
- ``register_from_config(cfg)``: the seed's flow (token in config.yaml, empty api_key).
- ``register_config_async(token, config_path, ...)``: the step both share with ``enroll`` (repos
  and runners): register, then write the key (and any other settings) into the config.

A name held by a live agent is refused by the hub (409, its ``detail`` says which agent and what
to do); ``replace=True`` asks the hub to revoke that agent's key and take the name.

The config is rewritten with ruamel.yaml (comments and order kept), atomically, mode 0600.
"""

from __future__ import annotations

import asyncio
import io
import logging
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap

from orchestratia import __version__
from orchestratia.protocol import RegisterRequest, RegisterResponse, hub_url_from_token
from orchestratia.protocol.shared import write_atomic

from .client import AuthError, ConflictError, HubClient, HubError
from .config import AgentConfig, ConfigError, config_from_dict, read_raw
from .runners import available_runners, make_runners
from .stats import host_identity, system_info

log = logging.getLogger("orchestratia.agent")


class RegistrationError(Exception):
    """Registration failed; the message says why (the hub's detail for a bad token)."""


def _yaml() -> YAML:
    y = YAML()  # round-trip: keeps comments, order and quoting
    y.preserve_quotes = True
    y.indent(mapping=2, sequence=4, offset=2)
    return y


def update_config_file(path: str | Path, updates: dict[str, Any], remove: tuple[str, ...] = ()) -> None:
    """Set top-level keys in the YAML file (created when missing), keeping its comments.
    Written atomically with mode 0600 (it holds the API key)."""
    p = Path(path)
    y = _yaml()
    if p.exists():
        data = y.load(p.read_text(encoding="utf-8")) or CommentedMap()
        if not isinstance(data, dict):
            raise ConfigError(f"{p}: the config must be a YAML mapping")
    else:
        data = CommentedMap()
    _merge(data, updates)
    for key in remove:
        if key in data:
            del data[key]
    buf = io.StringIO()
    y.dump(data, buf)
    p.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    write_atomic(str(p), buf.getvalue().encode("utf-8"), 0o600)


def _merge(data: Any, updates: dict[str, Any]) -> None:
    """Set ``updates`` in ``data``; a mapping value is merged into an existing mapping (so
    ``{"repos": {"app": path}}`` adds a repo and keeps the others, with their comments)."""
    for key, value in updates.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            _merge(data[key], value)
        else:
            data[key] = value


def build_register_request(cfg: AgentConfig, token: str, name: str | None = None,
                           replace: bool = False) -> RegisterRequest:
    ident = host_identity()
    return RegisterRequest(
        name=name or cfg.agent_name,
        hostname=ident["hostname"],
        ip=ident["ip"],
        os=ident["os"],
        repos=cfg.register_repos(),
        system_info=system_info(),
        registration_token=token,
        agent_version=__version__,
        labels=cfg.labels,
        runners=available_runners(make_runners(cfg)),
        max_concurrent_tasks=cfg.max_concurrent_tasks,
        replace=replace,
    )


async def register_async(cfg: AgentConfig, token: str, name: str | None = None,
                         replace: bool = False) -> RegisterResponse:
    req = await asyncio.to_thread(build_register_request, cfg, token, name, replace)
    body = req.model_dump(exclude_none=True)
    if not replace:
        del body["replace"]  # the v1 body, unchanged
    async with HubClient(cfg.hub_url, ca_bundle=cfg.ca_bundle) as client:
        try:
            data = await client.register(body)
        except ConflictError as err:  # the name is held by a live agent; the token was not used
            raise RegistrationError(f"the hub refused the name {req.name!r}: {err.detail}") from None
        except AuthError as err:
            raise RegistrationError(
                f"the hub refused the registration token: {err.detail}. "
                "Create a new one on the hub (Agents > Register Agent, or `orchestratia tokens create`)."
            ) from None
        except HubError as err:
            raise RegistrationError(f"registration failed: {err}") from None
        except Exception as err:  # network errors after retries
            raise RegistrationError(f"cannot reach the hub at {cfg.hub_url}: {err}") from None
    return RegisterResponse.model_validate(data)


async def register_from_config(cfg: AgentConfig) -> RegisterResponse:
    """The setup guide's flow: ``registration_token`` in the config and no ``api_key``.

    Registers, prints exactly ``SAVE THIS API KEY to your config.yaml: orc_...`` on stdout, sets
    ``cfg.api_key`` and writes it into the config file (dropping the consumed token) when the
    file is writable; otherwise the operator copies it, as the guide says."""
    if not cfg.registration_token:
        where = cfg.config_path or "the config"
        raise RegistrationError(
            f"{where}: api_key is empty and there is no registration_token; get a token from the hub and run "
            f"`orchestratia agent register TOKEN --config {where}`"
        )
    resp = await register_async(cfg, cfg.registration_token)
    print(f"SAVE THIS API KEY to your config.yaml: {resp.api_key}", flush=True)
    cfg.api_key, cfg.registration_token = resp.api_key, ""
    if cfg.config_path:
        try:
            update_config_file(cfg.config_path, {"api_key": resp.api_key}, remove=("registration_token",))
            log.info("registered as %s (id %s); api_key saved in %s", resp.name, resp.id, cfg.config_path)
        except (OSError, ConfigError) as err:
            log.warning("could not write the api_key into %s (%s): copy it there yourself", cfg.config_path, err)
    return resp


def register_with_token(token: str, config_path: str | Path, name: str | None = None,
                        replace: bool = False) -> tuple[str, str]:
    """Register this machine with ``token`` and store the API key in ``config_path``.

    Returns ``(agent_id, api_key)``. Creates the config (0600) when missing; sets ``hub_url``
    (from the token), ``api_key`` and ``agent_name`` (when ``name`` is given); removes the
    consumed ``registration_token``. ``replace`` takes the name even from a live agent (the hub
    revokes its key). Raises :class:`RegistrationError` / ``ConfigError``.
    Synchronous (runs its own event loop); in async code use :func:`register_with_token_async`.
    """
    return asyncio.run(register_with_token_async(token, config_path, name, replace))


async def register_with_token_async(token: str, config_path: str | Path, name: str | None = None,
                                    replace: bool = False) -> tuple[str, str]:
    """:func:`register_with_token` for callers that already run an event loop."""
    resp, _ = await register_config_async(token, config_path, name, replace=replace)
    return resp.id, resp.api_key


async def register_config_async(token: str, config_path: str | Path, name: str | None = None,
                                settings: dict[str, Any] | None = None,
                                replace: bool = False) -> tuple[RegisterResponse, AgentConfig]:
    """Register with ``settings`` (config keys; mappings merge) applied to the config as read,
    then write them into the file with ``hub_url``, ``api_key`` (and ``agent_name`` for
    ``name``). The file is not touched when the hub refuses. Returns the response and the
    config the hub was told about."""
    token = token.strip()
    p = Path(config_path).expanduser()
    raw = read_raw(p) if p.exists() else {}
    hub_url = hub_url_from_token(token) or raw.get("hub_url")
    if not hub_url:
        raise RegistrationError(
            "the token carries no hub URL and the config has no hub_url; set hub_url in the config first"
        )
    merged: dict[str, Any] = dict(raw)
    _merge(merged, {**(settings or {}), "hub_url": hub_url, "registration_token": ""})
    cfg = config_from_dict(merged, base_dir=p.parent.resolve(), config_path=str(p))
    resp = await register_async(cfg, token, name, replace)
    updates: dict[str, Any] = {**(settings or {}), "hub_url": cfg.hub_url, "api_key": resp.api_key}
    if name:
        updates["agent_name"] = name
    update_config_file(p, updates, remove=("registration_token",))
    return resp, cfg
