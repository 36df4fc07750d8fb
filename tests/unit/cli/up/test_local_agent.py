"""``orchestratia up``: the local agent's config (no processes started)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from orchestratia.cli.up import local_agent


def load(path: Path) -> dict:
    return YAML(typ="safe", pure=True).load(path.read_text())


def dump(data: dict, path: Path) -> None:
    YAML(typ="safe", pure=True).dump(data, path)


def test_agent_config_repos_runner_and_privacy(plan, tmp_path, monkeypatch) -> None:
    project = tmp_path / "My Project"
    project.mkdir()
    monkeypatch.chdir(project)
    monkeypatch.setattr(local_agent.shutil, "which", lambda name: None)
    written = local_agent.write_agent_config(plan, keep_key=False)
    assert written["repos"] == {"My-Project": str(project), "scratch": str(plan.data_dir / "scratch")}
    assert written["default_runner"] == "shell" and written["shell"]["enabled"] is True
    assert written["session"]["backend"] == "direct"
    assert stat.S_IMODE(os.stat(plan.agent_config).st_mode) == 0o600
    on_disk = load(plan.agent_config)
    assert on_disk["hub_url"] == "http://127.0.0.1:8123" and on_disk["api_key"] == ""

    monkeypatch.setattr(local_agent.shutil, "which", lambda name: f"/usr/bin/{name}")
    on_disk["api_key"] = "orc_keep"
    dump(on_disk, plan.agent_config)
    again = local_agent.write_agent_config(plan, keep_key=True)
    assert again["api_key"] == "orc_keep" and again["default_runner"] == "claude" and again["session"]["backend"] == "screen"


@pytest.mark.parametrize("name,expected", [("proj", "proj"), ("scratch", "cwd"), ("", "cwd"), ("a b", "a-b"), (".hidden", "hidden")])
def test_repo_names(name, expected) -> None:
    assert local_agent.repo_name(Path("/x") / name if name else Path("/")) == expected
