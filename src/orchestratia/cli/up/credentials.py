"""The admin password ``up`` gives its hub (saved 0600, reused on every run) and the CLI login."""

from __future__ import annotations

import os
import secrets

from ..client import HubClient
from ..errors import CliError
from ..paths import read_json, write_json
from ..settings import save_cli_config
from .plan import ADMIN_USER, UpPlan


def candidate_passwords(plan: UpPlan) -> list[str]:
    """The admin passwords to try, best first: ORCHESTRATIA_ADMIN_PASSWORD, the saved one,
    else a new one (saved before the hub first starts, so it is never lost)."""
    saved = read_json(plan.credentials_file).get("password")
    env = os.environ.get("ORCHESTRATIA_ADMIN_PASSWORD")
    found = [p for p in (env, saved) if p]
    if not found:
        found = [secrets.token_urlsafe(16)]
        save_credentials(plan, found[0])
    return list(dict.fromkeys(found))


def save_credentials(plan: UpPlan, password: str) -> None:
    write_json(plan.credentials_file, {"username": ADMIN_USER, "password": password, "data_dir": str(plan.data_dir)})


def login_admin(plan: UpPlan, passwords: list[str]) -> str:
    """Log in as admin with the first password that works; save it and the CLI login."""
    with HubClient(plan.hub_url) as anonymous:
        for password in passwords:
            try:
                token = anonymous.login(ADMIN_USER, password)["token"]
            except CliError as exc:
                if exc.status == 401:
                    continue
                raise
            plan.password = password
            save_credentials(plan, password)
            save_cli_config(plan.hub_url, token, ADMIN_USER)
            return token
    raise CliError(
        f"the admin password of the hub in {plan.data_dir} is not the saved one ({plan.credentials_file}); "
        "run again with ORCHESTRATIA_ADMIN_PASSWORD set to it, or use a new --data-dir"
    )
