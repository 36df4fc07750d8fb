"""The CLI's connection to a hub: ``cli.json`` in the config dir, overridden by the
environment (``ORCHESTRATIA_HUB_URL``, ``ORCHESTRATIA_TOKEN``, ``ORCHESTRATIA_CA_BUNDLE``)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import CliError
from .paths import config_dir, read_json, write_json

ENV_HUB_URL = "ORCHESTRATIA_HUB_URL"
ENV_TOKEN = "ORCHESTRATIA_TOKEN"
ENV_CA_BUNDLE = "ORCHESTRATIA_CA_BUNDLE"

LOGIN_HINT = "run `orchestratia login --hub URL --username admin` (or set ORCHESTRATIA_HUB_URL and ORCHESTRATIA_TOKEN)"


def cli_config_path() -> Path:
    return config_dir() / "cli.json"


def load_cli_config() -> dict[str, Any]:
    return read_json(cli_config_path())


def save_cli_config(hub_url: str, token: str, username: str, ca_bundle: str | None = None) -> Path:
    data: dict[str, Any] = {"hub_url": normalize_url(hub_url), "token": token, "username": username}
    if ca_bundle:
        data["ca_bundle"] = str(Path(ca_bundle).expanduser().resolve())
    path = cli_config_path()
    write_json(path, data)
    return path


def forget_cli_config() -> bool:
    """Delete ``cli.json``; True when there was one."""
    try:
        cli_config_path().unlink()
        return True
    except FileNotFoundError:
        return False


def normalize_url(url: str) -> str:
    url = url.strip().rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise CliError(f"the hub URL must start with http:// or https:// (got {url!r})")
    return url


@dataclass(frozen=True)
class Connection:
    hub_url: str
    token: str | None
    ca_bundle: str | None


def resolve_connection(ca_bundle: str | None = None, need_token: bool = True) -> Connection:
    """Hub URL, bearer token and CA bundle: the environment wins over ``cli.json``."""
    saved = load_cli_config()
    hub_url = os.environ.get(ENV_HUB_URL) or saved.get("hub_url")
    token = os.environ.get(ENV_TOKEN) or saved.get("token")
    bundle = ca_bundle or os.environ.get(ENV_CA_BUNDLE) or saved.get("ca_bundle") or None
    if not hub_url:
        raise CliError(f"not logged in: {LOGIN_HINT}")
    if need_token and not token:
        raise CliError(f"not logged in to {hub_url}: {LOGIN_HINT}")
    return Connection(hub_url=normalize_url(hub_url), token=token, ca_bundle=bundle)
