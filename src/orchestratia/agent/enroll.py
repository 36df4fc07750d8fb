"""``orchestratia agent register``: register this server and leave a config that can run tasks.

Besides the API key, the config gets the repos given with ``--repo NAME=PATH`` (checked: the
path must be an existing directory) and the agent CLIs found on PATH (``detect``). The hub is
told the same repos and runners. Nothing is written when any of it is refused.
"""

from __future__ import annotations

import asyncio
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config import ConfigError, read_raw
from .detect import AGENT_CLIS, find_runners, runner_settings
from .register import register_config_async
from .runners import available_runners, make_runners

#: what a task's ``--repo`` can name (the hub stores up to 200 characters)
REPO_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")


@dataclass
class Enrollment:
    """What registration did, for the operator."""

    agent_id: str
    name: str
    hub_url: str
    config_path: Path
    replaced: bool
    repos: dict[str, str] = field(default_factory=dict)
    #: runners the daemon can run with this config, and the default one
    runners: list[str] = field(default_factory=list)
    default_runner: str = ""
    #: agent CLIs found on PATH: name -> absolute path
    found: dict[str, str] = field(default_factory=dict)


def parse_repos(specs: list[str] | tuple[str, ...]) -> dict[str, str]:
    """``["app=/srv/app", ...]`` -> ``{"app": "/srv/app"}`` with absolute paths. Raises
    :class:`ConfigError` saying which option is wrong and how to write it."""
    repos: dict[str, str] = {}
    for spec in specs:
        name, sep, raw_path = spec.partition("=")
        name, raw_path = name.strip(), raw_path.strip()
        if not sep or not name or not raw_path:
            raise ConfigError(f"--repo {spec!r}: expected NAME=PATH, e.g. --repo app=/srv/app")
        if not REPO_NAME.fullmatch(name):
            raise ConfigError(f"--repo {spec!r}: the name may hold letters, digits, '.', '_' and '-' "
                              "(at most 200, starting with a letter or digit)")
        if name in repos:
            raise ConfigError(f"--repo {name}: given twice; give each repo once")
        path = Path(raw_path).expanduser().absolute()
        if not path.exists():
            raise ConfigError(f"--repo {spec!r}: {path} does not exist; give the directory of the repository's "
                              "checkout on this server")
        if not path.is_dir():
            raise ConfigError(f"--repo {spec!r}: {path} is not a directory; give the directory of the repository's "
                              "checkout on this server")
        repos[name] = os.path.normpath(str(path))
    return repos


async def enroll_async(token: str, config_path: str | Path, name: str | None = None,
                       repo_specs: list[str] | tuple[str, ...] = (), replace: bool = False,
                       path: str | None = None) -> Enrollment:
    """Register with ``token``, adding ``repo_specs`` and the runners found on ``path``
    (default ``$PATH``) to the config at ``config_path`` (created 0600 when missing)."""
    repos = parse_repos(repo_specs)
    p = Path(config_path).expanduser().absolute()
    raw = read_raw(p) if p.exists() else {}
    found = find_runners(raw, path)
    settings: dict[str, Any] = runner_settings(raw, found)
    if repos:
        settings["repos"] = dict(repos)
    resp, cfg = await register_config_async(token, p, name, settings, replace)
    runners = await asyncio.to_thread(lambda: available_runners(make_runners(cfg)))
    return Enrollment(agent_id=resp.id, name=resp.name, hub_url=cfg.hub_url, config_path=p, replaced=resp.replaced,
                      repos=cfg.repo_paths(), runners=runners, default_runner=cfg.default_runner, found=found)


def enroll(token: str, config_path: str | Path, name: str | None = None,
           repo_specs: list[str] | tuple[str, ...] = (), replace: bool = False) -> Enrollment:
    """:func:`enroll_async`, synchronous (runs its own event loop)."""
    return asyncio.run(enroll_async(token, config_path, name, repo_specs, replace))


def summary(done: Enrollment, why: str, executable: str) -> list[str]:
    """The lines ``agent register`` prints: what was written where, what it can run, what next.
    ``why`` says how the config path was chosen; ``executable`` is the ``orchestratia`` program."""
    lines = [f"Registered as {done.name} ({done.agent_id}) with the hub at {done.hub_url}."]
    if done.replaced:
        lines.append(f"Replaced the agent {done.name}: its previous API key is revoked; a daemon still using it "
                     "is refused from now on.")
    lines.append(f"Config: {done.config_path} ({why}); API key saved there (mode 0600).")
    if done.repos:
        lines += ["Repos:"] + [f"  {repo} = {path}" for repo, path in done.repos.items()]
    else:
        lines.append("Repos: none. Tasks that name a repo need it here: register again with a new token and "
                     "--repo NAME=PATH (add --replace once this agent's daemon runs); the hub learns repos only "
                     "from registration.")
    if done.runners:
        shown = [f"{r} ({done.found[r]})" if r in done.found else r for r in done.runners]
        lines.append(f"Runners: {', '.join(shown)}; default: {done.default_runner}")
        if done.default_runner not in done.runners:
            lines.append(f"  warning: default_runner {done.default_runner} cannot run here; tasks that name no "
                         f"runner will fail. Set default_runner in {done.config_path}.")
    else:
        lines.append(f"Runners: none. No agent CLI ({', '.join(AGENT_CLIS)}) was found on PATH: install one (and "
                     f"log in to it), then register again, or set <runner>.binary in {done.config_path}.")
    lines += [f"Next: orchestratia agent run --config {done.config_path}",
              f"  or as a systemd service: ExecStart={executable} agent run --config {done.config_path}",
              "  (orchestratia-agent.service; README.md, \"Add a dev server\")"]
    return lines
