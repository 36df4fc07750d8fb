"""config.py: the seed's config loads unchanged, defaults, errors that name the key."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from orchestratia.agent.config import ConfigError, config_from_dict, default_log_dir, default_pid_dir, load_config

ROOT = Path(__file__).resolve().parents[3]

SEED = """\
hub_url: "https://staging.orchestratia.com"
registration_token: "orcreg_xxx"  # One-time token from dashboard
api_key: ""                        # Auto-set after registration
agent_name: "your-server-name"

repos:
  # List the repos on this server that you work on
  your-repo-name:
    path: /home/ubuntu/your-repo
    branch: main

claude:
  binary: claude
  allowed_tools: "Bash,Read,Edit,Write,Grep,Glob"
  max_turns: 50
  timeout_minutes: 30

session:
  backend: screen
  log_dir: /var/log/orchestratia
  pid_dir: /var/run/orchestratia
  reconcile_on_start: true
"""


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "config.yaml"
    p.write_text(text)
    return p


def test_seed_config_loads_unchanged(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, SEED))
    assert cfg.hub_url == "https://staging.orchestratia.com"
    assert cfg.registration_token == "orcreg_xxx" and cfg.api_key == ""
    assert cfg.agent_name == "your-server-name"
    assert cfg.repos["your-repo-name"].path == "/home/ubuntu/your-repo"
    assert cfg.repos["your-repo-name"].branch == "main"
    assert cfg.claude.binary == "claude" and cfg.claude.max_turns == 50 and cfg.claude.timeout_minutes == 30
    assert cfg.claude.allowed_tools == "Bash,Read,Edit,Write,Grep,Glob"
    assert cfg.session.backend == "screen" and cfg.session.reconcile_on_start is True
    assert cfg.session.log_dir == "/var/log/orchestratia" and cfg.session.pid_dir == "/var/run/orchestratia"


def test_repo_example_file_loads() -> None:
    cfg = load_config(ROOT / "config.yaml.example")
    assert cfg.shell.enabled is False and cfg.max_concurrent_tasks == 2


def test_defaults_with_only_hub_url(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, "hub_url: http://127.0.0.1:8000/\n"))
    assert cfg.hub_url == "http://127.0.0.1:8000"
    assert cfg.agent_name  # the hostname
    assert cfg.heartbeat_interval == 30 and cfg.poll_interval == 10 and cfg.max_concurrent_tasks == 2
    assert cfg.default_runner == "claude" and cfg.shell.enabled is False
    assert cfg.session.backend == "screen" and cfg.session.log_dir and cfg.session.pid_dir


def test_repo_as_plain_path_and_relative(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, "hub_url: http://h\nrepos:\n  a: /srv/a\n  b: rel/b\n  c: ~/c\n"))
    assert cfg.repos["a"].path == "/srv/a" and cfg.repos["a"].branch is None
    assert cfg.repos["b"].path == str(tmp_path / "rel" / "b")
    assert cfg.repos["c"].path == os.path.expanduser("~/c")
    assert cfg.repo_paths() == {"a": "/srv/a", "b": str(tmp_path / "rel" / "b"), "c": os.path.expanduser("~/c")}


@pytest.mark.parametrize(
    "text, key",
    [
        ("agent_name: x\n", "hub_url"),
        ("hub_url: ftp://x\n", "hub_url"),
        ("hub_url: http://h\nclaude:\n  max_turns: lots\n", "claude.max_turns"),
        ("hub_url: http://h\nclaude:\n  timeout_minutes: -1\n", "claude.timeout_minutes"),
        ("hub_url: http://h\nsession:\n  backend: zellij\n", "session.backend"),
        ("hub_url: http://h\nsession: yes\n", "session"),
        ("hub_url: http://h\nrepos: [a, b]\n", "repos"),
        ("hub_url: http://h\nrepos:\n  a: {branch: main}\n", "repos.a.path"),
        ("hub_url: http://h\nmax_concurrent_tasks: 0\n", "max_concurrent_tasks"),
        ("hub_url: http://h\ndefault_runner: cursor\n", "default_runner"),
        ("hub_url: http://h\nshell:\n  enabled: maybe\n", "shell.enabled"),
        ("hub_url: http://h\nca_bundle: /nonexistent/ca.pem\n", "ca_bundle"),
        ("hub_url: http://h\nlabels: [gpu, GPU fast]\n", "labels"),
    ],
)
def test_invalid_values_name_the_key(tmp_path: Path, text: str, key: str) -> None:
    with pytest.raises(ConfigError) as exc:
        load_config(write(tmp_path, text))
    assert f"{key}:" in str(exc.value)


def test_a_label_no_task_could_ask_for_is_refused_with_the_rule(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as exc:
        load_config(write(tmp_path, "hub_url: http://h\nlabels: [gpu, 'GPU fast', -x]\n"))
    assert "'GPU fast' is not a label" in str(exc.value) and "'-x' is not a label" in str(exc.value)
    assert "letters, digits" in str(exc.value)
    assert load_config(write(tmp_path, "hub_url: http://h\nlabels: [gpu, zone=eu-1, gpu]\n")).labels == ["gpu", "zone=eu-1"]


def test_missing_file_and_bad_yaml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(write(tmp_path, "hub_url: [unclosed\n"))
    with pytest.raises(ConfigError, match="mapping"):
        load_config(write(tmp_path, "- a\n- b\n"))


def test_empty_sections_and_nulls(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, "hub_url: http://h\napi_key:\nclaude:\nsession:\nrepos:\n"))
    assert cfg.api_key == "" and cfg.claude.binary == "claude" and cfg.repos == {}


def test_allowed_tools_list_form() -> None:
    cfg = config_from_dict({"hub_url": "http://h", "claude": {"allowed_tools": ["Bash", "Read"]}})
    assert cfg.claude.allowed_tools == "Bash,Read"


def test_unknown_keys_are_ignored() -> None:
    cfg = config_from_dict({"hub_url": "http://h", "future_option": 1, "claude": {"future": 2}})
    assert cfg.hub_url == "http://h"


def test_default_dirs_for_a_non_root_user(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    monkeypatch.setattr(os, "access", lambda p, mode: str(p).startswith(str(tmp_path)))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("XDG_STATE_HOME", raising=False)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "xdg"))
    assert default_log_dir() == str(tmp_path / "home" / ".local" / "state" / "orchestratia" / "log")
    assert default_pid_dir() == str(tmp_path / "xdg" / "orchestratia")
    monkeypatch.delenv("XDG_RUNTIME_DIR")
    assert default_pid_dir() == str(tmp_path / "home" / ".local" / "state" / "orchestratia" / "run")


def test_default_dirs_for_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    assert default_log_dir() == "/var/log/orchestratia" and default_pid_dir() == "/var/run/orchestratia"


@pytest.mark.parametrize("url, warns", [
    ("http://hub.example.com:8000", True),
    ("http://10.0.0.5", True),
    ("https://hub.example.com", False),
    ("http://127.0.0.1:8000", False),
    ("http://localhost:8000", False),
    ("http://[::1]:8000", False),
])
def test_plain_http_to_another_machine_is_warned_about(url: str, warns: bool) -> None:
    warning = config_from_dict({"hub_url": url}).plaintext_warning()
    assert (warning is not None) == warns
    if warns:
        assert "unencrypted" in warning and "https://" in warning
