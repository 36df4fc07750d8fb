"""The daemon's configuration: the seed's ``config.yaml`` plus our extensions.

``load_config(path)`` reads the file (ruamel.yaml's safe loader), fills defaults for every key but
``hub_url`` and validates it into an :class:`AgentConfig`. Anything invalid raises
:class:`ConfigError` whose message names the key (``claude.max_turns: ...``).
"""

from __future__ import annotations

import os
import socket
import ssl
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from orchestratia.protocol.labels import label_problem
from orchestratia.protocol.policy import POLICY_VALUES, policy_choices

DEFAULT_CONFIG_PATH = "/etc/orchestratia/config.yaml"
SYSTEM_LOG_DIR = "/var/log/orchestratia"
SYSTEM_PID_DIR = "/var/run/orchestratia"
SYSTEM_STATE_DIR = "/var/lib/orchestratia"
RUNNER_NAMES = ("claude", "codex", "gemini", "aider", "shell")


class ConfigError(Exception):
    """The config file is missing, unreadable or invalid. The message names the key."""


class _Section(BaseModel):
    # Unknown keys are ignored (a newer config read by an older daemon must still load).
    model_config = ConfigDict(extra="ignore")


class RepoConfig(_Section):
    path: str
    branch: str | None = None
    #: where its tasks run: their own worktree and branch (default), or the checkout itself
    workspace: Literal["worktree", "in-place", "in_place"] = "worktree"

    @field_validator("path")
    @classmethod
    def _path_not_empty(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the repo path is empty")
        return value


class ClaudeConfig(_Section):
    enabled: bool = True
    binary: str = "claude"
    allowed_tools: str = "Bash,Read,Edit,Write,Grep,Glob"
    max_turns: int | None = Field(default=50, ge=1)
    timeout_minutes: float = Field(default=30, gt=0)
    model: str | None = None
    permission_mode: str | None = None
    extra_args: list[str] = Field(default_factory=list)

    @field_validator("allowed_tools", mode="before")
    @classmethod
    def _tools_list(cls, value: Any) -> Any:
        if isinstance(value, list):  # YAML list form: join as one comma-separated argument
            return ",".join(str(v) for v in value)
        return "" if value is None else value


class CliRunnerConfig(_Section):
    """codex / gemini / aider: enabled by default, usable only when the binary is on PATH."""

    enabled: bool = True
    binary: str = ""
    timeout_minutes: float = Field(default=30, gt=0)
    extra_args: list[str] = Field(default_factory=list)
    #: codex: ``--sandbox workspace-write``; gemini: ``--approval-mode=yolo --skip-trust``; aider:
    #: ``--yes-always`` (always on).
    full_auto: bool = True


class ShellConfig(_Section):
    enabled: bool = False
    binary: str = "bash"
    timeout_minutes: float = Field(default=30, gt=0)


class HumanConfig(_Section):
    """Human in the loop (docs/human-in-the-loop.md): the help relay and, for claude, the
    ``ask_human`` MCP server and the approval hook."""

    enabled: bool = True
    #: none | risky | all - the agent's default; a task's own approval_policy wins
    approval_policy: str = "none"
    approval_rules: list[str] = Field(default_factory=list)
    approval_timeout_s: float = Field(default=600.0, gt=0)

    @field_validator("approval_policy")
    @classmethod
    def _policy(cls, value: str) -> str:
        if value not in POLICY_VALUES:
            raise ValueError(f"must be {policy_choices()}")
        return value


class SessionConfig(_Section):
    backend: Literal["screen", "tmux", "direct"] = "screen"
    log_dir: str = ""
    pid_dir: str = ""
    reconcile_on_start: bool = True
    #: seconds between SIGINT -> SIGTERM -> SIGKILL when stopping a task
    kill_grace_seconds: float = Field(default=10.0, ge=0)
    #: tmux only: a socket path (``tmux -S``); empty = the user's default server
    tmux_socket: str = ""
    #: watch task logs with inotify (Linux); false, or inotify unavailable: stat-poll them
    inotify: bool = True
    #: the stat-poll period of the task logs when not using inotify (milliseconds)
    tail_poll_ms: int = Field(default=20, ge=1, le=5000)


class WorkspaceConfig(_Section):
    """Where task worktrees go and who commits an agent's work (docs/workspaces.md)."""

    root: str = ""  # default: default_workspace_root()
    author: str = ""  # "Name <email>"; default: Orchestratia <orchestratia@HOSTNAME>
    #: a finished task's worktree is removed this long after its last change, once its branch
    #: was pushed (the branch stays); 0 prunes at the next pass
    keep_days: float = Field(default=14, ge=0, le=3650)
    #: keep a spare checkout per worktree repo so a task starts in ~0.2 s instead of ~2 s
    #: (docs/performance.md); false saves one checkout of disk per repo
    spare: bool = True


#: the most labels an agent's config may carry (what ``register`` and ``capabilities`` accept)
AGENT_LABELS_MAX = 200


class AgentConfig(_Section):
    hub_url: str
    registration_token: str = ""
    api_key: str = ""
    agent_name: str = ""
    ca_bundle: str = ""
    labels: list[str] = Field(default_factory=list)
    repos: dict[str, RepoConfig] = Field(default_factory=dict)
    default_runner: str = "claude"
    max_concurrent_tasks: int = Field(default=2, ge=1, le=1000)
    heartbeat_interval: float = Field(default=30.0, gt=0)
    poll_interval: float = Field(default=10.0, gt=0)
    #: while the WebSocket is up and pushes work, poll only this often (a safety net)
    safety_poll_interval: float = Field(default=60.0, gt=0)
    #: how long to wait for the hub to acknowledge a finished task's output before reporting
    report_ack_timeout: float = Field(default=10.0, ge=0)
    claude: ClaudeConfig = Field(default_factory=ClaudeConfig)
    codex: CliRunnerConfig = Field(default_factory=lambda: CliRunnerConfig(binary="codex"))
    gemini: CliRunnerConfig = Field(default_factory=lambda: CliRunnerConfig(binary="gemini"))
    aider: CliRunnerConfig = Field(default_factory=lambda: CliRunnerConfig(binary="aider"))
    shell: ShellConfig = Field(default_factory=ShellConfig)
    session: SessionConfig = Field(default_factory=SessionConfig)
    human: HumanConfig = Field(default_factory=HumanConfig)
    workspace: WorkspaceConfig = Field(default_factory=WorkspaceConfig)
    #: the file this config was read from (not a YAML key)
    config_path: str = ""

    @field_validator("labels")
    @classmethod
    def _labels(cls, value: list[str]) -> list[str]:
        """A label no task could ever ask for (``"GPU fast"``) is an error here, not a silent
        mismatch later: tasks' labels are checked by the same rule (``protocol/labels.py``)."""
        if problems := [p for label in value if (p := label_problem(label)) is not None]:
            raise ValueError("; ".join(problems[:3]))
        if len(value) > AGENT_LABELS_MAX:
            raise ValueError(f"{len(value)} labels: at most {AGENT_LABELS_MAX}")
        return list(dict.fromkeys(value))

    @field_validator("hub_url")
    @classmethod
    def _hub_url(cls, value: str) -> str:
        value = (value or "").strip().rstrip("/")
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL, e.g. https://hub.example.com")
        return value

    def plaintext_warning(self) -> str | None:
        """A warning when the API key would travel unencrypted to another machine: ``http://``
        to a host that is not this one (loopback is fine: ``orchestratia up``, tests)."""
        url = urlsplit(self.hub_url)
        host = (url.hostname or "").lower()
        if url.scheme != "http" or host in ("localhost", "::1") or host.startswith("127."):
            return None
        return (f"hub_url {self.hub_url} is plain http:// to another machine: the API key and task "
                "output travel unencrypted; serve the hub over https:// (docs/hub.md, TLS)")

    @field_validator("repos", mode="before")
    @classmethod
    def _repos(cls, value: Any) -> Any:
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise ValueError("must be a mapping of repo name -> path (or {path, branch})")
        out = {}
        for name, spec in value.items():
            if isinstance(spec, str):
                spec = {"path": spec}
            out[str(name)] = spec
        return out

    @field_validator("default_runner")
    @classmethod
    def _runner_name(cls, value: str) -> str:
        if value not in RUNNER_NAMES:
            raise ValueError(f"unknown runner {value!r}; one of {', '.join(RUNNER_NAMES)}")
        return value

    @field_validator("registration_token", "api_key", "agent_name", "ca_bundle", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return "" if value is None else value

    @model_validator(mode="after")
    def _fill(self) -> AgentConfig:
        if not self.agent_name:
            self.agent_name = socket.gethostname()
        if not self.session.log_dir:
            self.session.log_dir = default_log_dir()
        if not self.session.pid_dir:
            self.session.pid_dir = default_pid_dir()
        if not self.workspace.root:
            self.workspace.root = default_workspace_root()
        if not self.workspace.author:
            self.workspace.author = f"Orchestratia <orchestratia@{socket.gethostname() or 'localhost'}>"
        return self

    # ------------------------------------------------------------------ helpers
    @property
    def log_dir(self) -> Path:
        return Path(self.session.log_dir)

    @property
    def pid_dir(self) -> Path:
        return Path(self.session.pid_dir)

    def repo_paths(self) -> dict[str, str]:
        """v1 ``repos`` for register: name -> path."""
        return {name: repo.path for name, repo in self.repos.items()}

    def register_repos(self) -> dict[str, Any]:
        """``repos`` for register: name -> path, or (extension) ``{"path", "workspace":
        "worktree"}`` for a git checkout whose tasks get their own worktrees, so that the hub
        lets several of them run at once (it keeps one at a time in a checkout otherwise)."""
        return {name: {"path": repo.path, "workspace": "worktree"} if repo.workspace == "worktree" and in_git(repo.path)
                else repo.path for name, repo in self.repos.items()}

    def runner_section(self, name: str) -> Any:
        return getattr(self, name)


def in_git(path: str) -> bool:
    """Whether ``path`` is inside a git checkout (a ``.git`` in it or above it): cheap, no git
    run; the workspace engine decides for real when a task starts (it runs in place otherwise)."""
    p = Path(path).expanduser().resolve()
    return any((d / ".git").exists() for d in (p, *p.parents))


def _writable_or_root(path: str) -> bool:
    if os.geteuid() == 0:
        return True
    p = Path(path)
    if p.exists():
        return os.access(p, os.W_OK | os.X_OK)
    return os.access(p.parent, os.W_OK | os.X_OK)


def _state_home() -> Path:
    return Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state") / "orchestratia"


def default_log_dir() -> str:
    """/var/log/orchestratia for root or when writable, else ~/.local/state/orchestratia/log."""
    if _writable_or_root(SYSTEM_LOG_DIR):
        return SYSTEM_LOG_DIR
    return str(_state_home() / "log")


def default_pid_dir() -> str:
    """/var/run/orchestratia for root or when writable, else $XDG_RUNTIME_DIR/orchestratia or
    ~/.local/state/orchestratia/run. (Not tmpfs-only: state must survive a daemon restart.)"""
    if _writable_or_root(SYSTEM_PID_DIR):
        return SYSTEM_PID_DIR
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and os.access(runtime, os.W_OK):
        return str(Path(runtime) / "orchestratia")
    return str(_state_home() / "run")


def _format_error(err: ValidationError) -> str:
    lines = []
    for item in err.errors():
        loc = ".".join(str(p) for p in item["loc"]) or "(top level)"
        msg = item["msg"]
        if item["type"] == "missing":
            msg = "is required"
        elif msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        lines.append(f"{loc}: {msg}" + ("" if item["type"] == "missing" else f" (got {item.get('input')!r})"))
    return "; ".join(lines)


def check_ca_bundle(path: str) -> None:
    """``ca_bundle`` must be a readable PEM file of CA certificates (checked at load time: a bad
    one would otherwise fail every connection with an obscure SSL error)."""
    if not Path(path).is_file():
        raise ConfigError(f"ca_bundle: file not found: {path}; set it to the PEM file of the CA that signed the hub's "
                          "certificate, or remove the key to trust the default CAs")
    try:
        ssl.create_default_context(cafile=path)
    except ssl.SSLError as err:
        raise ConfigError(f"ca_bundle: {path} holds no usable PEM CA certificate ({err.reason or err}); it must "
                          "contain '-----BEGIN CERTIFICATE-----' blocks") from None
    except OSError as err:
        raise ConfigError(f"ca_bundle: cannot read {path}: {err.strerror or err}; make it readable by the "
                          "daemon's user") from None


def default_workspace_root() -> str:
    """/var/lib/orchestratia/workspaces for root or when writable, else
    ~/.local/state/orchestratia/workspaces: on disk (not the pid dir, often a tmpfs), since a
    worktree is a whole checkout and outlives the daemon."""
    if _writable_or_root(SYSTEM_STATE_DIR):
        return str(Path(SYSTEM_STATE_DIR) / "workspaces")
    return str(_state_home() / "workspaces")


def _resolve_paths(cfg: AgentConfig, base: Path) -> None:
    def fix(p: str) -> str:
        q = Path(os.path.expanduser(p))
        return str(q if q.is_absolute() else (base / q).resolve())

    for repo in cfg.repos.values():
        repo.path = fix(repo.path)
    cfg.session.log_dir = fix(cfg.session.log_dir)
    cfg.session.pid_dir = fix(cfg.session.pid_dir)
    cfg.workspace.root = fix(cfg.workspace.root)
    if cfg.ca_bundle:
        cfg.ca_bundle = fix(cfg.ca_bundle)
        check_ca_bundle(cfg.ca_bundle)
    if cfg.session.tmux_socket:
        cfg.session.tmux_socket = fix(cfg.session.tmux_socket)


def config_from_dict(data: dict[str, Any], base_dir: str | Path = ".", config_path: str = "") -> AgentConfig:
    """Validate an already-parsed mapping (relative paths resolve against ``base_dir``)."""
    if not isinstance(data, dict):
        raise ConfigError("the config must be a YAML mapping (key: value lines)")
    for key in ("claude", "codex", "gemini", "aider", "shell", "session", "human"):
        if key in data and data[key] is None:
            data = {**data, key: {}}
        elif key in data and not isinstance(data[key], dict):
            raise ConfigError(f"{key}: must be a mapping (got {data[key]!r})")
    try:
        cfg = AgentConfig.model_validate({**data, "config_path": config_path})
    except ValidationError as err:
        raise ConfigError(_format_error(err)) from None
    _resolve_paths(cfg, Path(base_dir))
    return cfg


def _safe_yaml() -> YAML:
    """Plain data only (no tags that build objects), read as YAML 1.1: the file means what it
    meant when PyYAML read it (``enabled: yes`` is true, ``0755`` octal). A key given twice is
    an error naming it and its lines (PyYAML silently took the last one)."""
    y = YAML(typ="safe", pure=True)
    y.version = (1, 1)
    return y


def read_raw(path: str | Path) -> dict[str, Any]:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {p} (copy config.yaml.example there)") from None
    except OSError as err:
        raise ConfigError(f"cannot read config file {p}: {err.strerror}") from None
    try:
        data = _safe_yaml().load(text)
    except YAMLError as err:
        # ruamel ends a duplicate-key error with how to switch the check off: not for this file
        problem = str(err).split("\nTo suppress this check")[0].rstrip()
        raise ConfigError(f"{p} is not valid YAML: {problem}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{p}: the config must be a YAML mapping (key: value lines)")
    return data


def load_config(path: str | Path) -> AgentConfig:
    """Read and validate a config file. Raises :class:`ConfigError` naming the bad key."""
    p = Path(path).expanduser().resolve()
    data = read_raw(p)
    try:
        return config_from_dict(data, base_dir=p.parent, config_path=str(p))
    except ConfigError as err:
        raise ConfigError(f"{p}: {err}") from None
