"""Config reload (the keys it changes, a bad config changes nothing), the capabilities body, and
the pid file `agent reload` signals."""

from __future__ import annotations

import os
import signal
import stat
from pathlib import Path

import pytest
import yaml

from orchestratia.agent.config import ConfigError, load_config
from orchestratia.agent.reload import (capabilities, pid_path, reload_into, remove_pid_file, signal_reload,
                                       write_pid_file)
from orchestratia.agent.runners import make_runners


def _config(tmp_path: Path, **extra: object) -> Path:
    (tmp_path / "app").mkdir(exist_ok=True)
    data = {"hub_url": "http://127.0.0.1:9", "api_key": "orc_x", "repos": {"app": str(tmp_path / "app")},
            "codex": {"enabled": False}, "gemini": {"enabled": False}, "aider": {"enabled": False},
            "claude": {"binary": "/bin/true"}, "session": {"pid_dir": str(tmp_path / "run"), "log_dir": str(tmp_path / "log")},
            **extra}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_reload_applies_repos_runners_labels_in_place(tmp_path: Path) -> None:
    path = _config(tmp_path)
    cfg = load_config(path)
    runners = make_runners(cfg)
    before = capabilities(cfg, runners)
    assert before.runners == ["claude"] and list(before.repos) == ["app"] and before.labels == []
    (tmp_path / "web").mkdir()
    _config(tmp_path, labels=["gpu"], shell={"enabled": True, "binary": "/bin/sh"},
            repos={"app": str(tmp_path / "app"), "web": str(tmp_path / "web")}, max_concurrent_tasks=7)
    restart = reload_into(cfg, runners)
    after = capabilities(cfg, runners)
    assert after.runners == ["claude", "shell"] and sorted(after.repos) == ["app", "web"] and after.labels == ["gpu"]
    assert restart == ["max_concurrent_tasks"] and cfg.max_concurrent_tasks == 2  # needs a restart


def test_bad_config_changes_nothing_and_names_the_key(tmp_path: Path) -> None:
    path = _config(tmp_path)
    cfg = load_config(path)
    runners = make_runners(cfg)
    _config(tmp_path, labels="not-a-list", repos={})
    with pytest.raises(ConfigError, match="labels"):
        reload_into(cfg, runners)
    assert list(cfg.repos) == ["app"] and set(runners) >= {"claude"}


def test_pid_file_and_signal(tmp_path: Path) -> None:
    cfg = load_config(_config(tmp_path))
    with pytest.raises(ConfigError, match="no agent daemon is running"):
        signal_reload(cfg)
    cfg.pid_dir.mkdir()
    pid_path(cfg).write_text("999999999\n")  # gone
    with pytest.raises(ConfigError, match="which is gone"):
        signal_reload(cfg)
    write_pid_file(cfg)
    assert stat.S_IMODE(os.stat(pid_path(cfg)).st_mode) == 0o600
    got: list[int] = []
    old = signal.signal(signal.SIGHUP, lambda *_: got.append(1))
    try:
        if b"orchestratia" in Path(f"/proc/{os.getpid()}/cmdline").read_bytes():
            assert signal_reload(cfg) == os.getpid() and got == [1]
        else:  # pytest under a name without "orchestratia": our own pid looks like a stranger's
            with pytest.raises(ConfigError, match="gone"):
                signal_reload(cfg)
    finally:
        signal.signal(signal.SIGHUP, old)
    remove_pid_file(cfg)
    assert not pid_path(cfg).exists()
