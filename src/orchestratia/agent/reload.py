"""Config reload (SIGHUP, ``orchestratia agent reload``) and what the daemon tells the hub it
can do (runners on PATH, repos, labels).

- ``capabilities(cfg, runners)``: the body of ``POST /capabilities`` (sent on every start and
  after every reload; a hub without the endpoint answers 404 and keeps the registration's).
- ``reload_into(cfg, runners)``: re-read ``cfg.config_path``; the keys in :data:`RELOADABLE`
  replace the running ones in place (the starter and supervisor hold these very objects), the
  runners are rebuilt (a CLI installed since is found). A bad config changes nothing and raises
  :class:`ConfigError` naming the key.
- The pid file ``daemon.pid`` (0600, in ``pid_dir``) names the running daemon for
  ``agent reload``: :func:`write_pid_file`, :func:`remove_pid_file`, :func:`signal_reload`.
"""

from __future__ import annotations

import logging
import os
import signal
from pathlib import Path
from typing import Any

from orchestratia.protocol.shared import write_atomic
from orchestratia.protocol.wire import CapabilitiesRequest
from orchestratia.protocol.workspace_actions import FEATURE_WORKSPACE_ACTIONS

from .config import AgentConfig, ConfigError, load_config
from .runners import Runner, available_runners, make_runners

log = logging.getLogger("orchestratia.agent")

#: what a reload changes; the rest (hub_url, api_key, session, max_concurrent_tasks, ...) needs
#: a restart, and a reload that changes it says so
RELOADABLE = ("repos", "labels", "default_runner", "claude", "codex", "gemini", "aider", "shell")
RESTART_KEYS = ("hub_url", "api_key", "agent_name", "ca_bundle", "max_concurrent_tasks", "session", "human")
PID_FILE = "daemon.pid"


def capabilities(cfg: AgentConfig, runners: dict[str, Runner]) -> CapabilitiesRequest:
    # the same shape as registration: a git checkout is {"path", "workspace": "worktree"}, so the
    # hub keeps letting several of its tasks run at once after a start or a reload
    return CapabilitiesRequest(runners=available_runners(runners), repos=cfg.register_repos(), labels=cfg.labels,
                               max_concurrent_tasks=cfg.max_concurrent_tasks, features=[FEATURE_WORKSPACE_ACTIONS])


def read_again(cfg: AgentConfig) -> AgentConfig:
    """The config file as it is now (blocking I/O: call it in a thread). Raises ConfigError."""
    if not cfg.config_path:
        raise ConfigError("this daemon was started without a config file: nothing to reload")
    return load_config(cfg.config_path)


def reload_into(cfg: AgentConfig, runners: dict[str, Runner], new: AgentConfig | None = None) -> list[str]:
    """Apply the reloadable keys of ``new`` (default: the file read again) to ``cfg`` and
    ``runners``, in place (in the event loop's thread: the loops read both). Returns the keys
    that changed but need a restart. Raises :class:`ConfigError` (nothing applied)."""
    new = new if new is not None else read_again(cfg)
    restart = [k for k in RESTART_KEYS if _dump(getattr(new, k)) != _dump(getattr(cfg, k))]
    for key in RELOADABLE:
        setattr(cfg, key, getattr(new, key))
    fresh = make_runners(cfg)
    runners.clear()
    runners.update(fresh)
    return restart


def _dump(value: Any) -> Any:
    return value.model_dump() if hasattr(value, "model_dump") else value


def pid_path(cfg: AgentConfig) -> Path:
    return cfg.pid_dir / PID_FILE


def write_pid_file(cfg: AgentConfig) -> None:
    write_atomic(str(pid_path(cfg)), f"{os.getpid()}\n".encode(), 0o600)


def remove_pid_file(cfg: AgentConfig) -> None:
    """Remove the pid file if it is still this process's (a newer daemon may have taken it)."""
    path = pid_path(cfg)
    try:
        if path.read_text(encoding="ascii").strip() == str(os.getpid()):
            path.unlink()
    except (OSError, ValueError):
        pass


def _is_daemon(pid: int) -> bool:
    """The process exists and (where /proc tells) runs orchestratia: a stale pid file whose
    number was reused by another program must not get our SIGHUP."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: the kill below says so
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True
    return b"orchestratia" in cmdline


def signal_reload(cfg: AgentConfig) -> int:
    """Send SIGHUP to the daemon named by the pid file; its pid. ConfigError when none runs."""
    path = pid_path(cfg)
    try:
        pid = int(path.read_text(encoding="ascii").strip())
    except FileNotFoundError:
        raise ConfigError(f"no agent daemon is running for this config (no {path}): "
                          "start it (orchestratia agent run, or systemctl start orchestratia-agent)") from None
    except (OSError, ValueError) as err:
        raise ConfigError(f"cannot read the daemon's pid file {path}: {err}") from None
    if pid <= 0 or not _is_daemon(pid):
        raise ConfigError(f"no agent daemon is running for this config ({path} names process {pid}, "
                          "which is gone): start it")
    try:
        os.kill(pid, signal.SIGHUP)
    except PermissionError:
        raise ConfigError(f"the daemon (pid {pid}) belongs to another user: run this as that user "
                          "(or sudo)") from None
    return pid
