"""``orchestratia up``: credentials and the local agent's config (no processes started)."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
import yaml

from orchestratia.cli import up


@pytest.fixture
def plan(tmp_path, monkeypatch) -> up.UpPlan:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    monkeypatch.delenv("ORCHESTRATIA_ADMIN_PASSWORD", raising=False)
    data = tmp_path / "data"
    p = up.UpPlan(data_dir=data, host="127.0.0.1", port=8123, state_dir=up.state_dir_for(data))
    p.hub_url = "http://127.0.0.1:8123"
    return p


def test_state_lives_in_the_config_dir_per_data_dir(plan, tmp_path) -> None:
    assert plan.state_dir.parent == tmp_path / "cfg" / "orchestratia" / "up"
    assert up.state_dir_for(tmp_path / "other") != plan.state_dir


def test_first_password_is_generated_saved_private_and_reused(plan) -> None:
    first = up.candidate_passwords(plan)
    assert len(first) == 1 and len(first[0]) >= 16
    assert stat.S_IMODE(os.stat(plan.credentials_file).st_mode) == 0o600
    assert json.loads(plan.credentials_file.read_text())["password"] == first[0]
    assert up.candidate_passwords(plan) == first


def test_env_password_comes_first(plan, monkeypatch) -> None:
    saved = up.candidate_passwords(plan)[0]
    monkeypatch.setenv("ORCHESTRATIA_ADMIN_PASSWORD", "from-env")
    assert up.candidate_passwords(plan) == ["from-env", saved]


def test_agent_config_repos_runner_and_privacy(plan, tmp_path, monkeypatch) -> None:
    project = tmp_path / "My Project"
    project.mkdir()
    monkeypatch.chdir(project)
    monkeypatch.setattr(up.shutil, "which", lambda name: None)
    written = up.write_agent_config(plan, keep_key=False)
    assert written["repos"] == {"My-Project": str(project), "scratch": str(plan.data_dir / "scratch")}
    assert written["default_runner"] == "shell" and written["shell"]["enabled"] is True
    assert written["session"]["backend"] == "direct"
    assert stat.S_IMODE(os.stat(plan.agent_config).st_mode) == 0o600
    on_disk = yaml.safe_load(plan.agent_config.read_text())
    assert on_disk["hub_url"] == "http://127.0.0.1:8123" and on_disk["api_key"] == ""

    monkeypatch.setattr(up.shutil, "which", lambda name: f"/usr/bin/{name}")
    on_disk["api_key"] = "orc_keep"
    plan.agent_config.write_text(yaml.safe_dump(on_disk))
    again = up.write_agent_config(plan, keep_key=True)
    assert again["api_key"] == "orc_keep" and again["default_runner"] == "claude" and again["session"]["backend"] == "screen"


@pytest.mark.parametrize("name,expected", [("proj", "proj"), ("scratch", "cwd"), ("", "cwd"), ("a b", "a-b"), (".hidden", "hidden")])
def test_repo_names(name, expected) -> None:
    assert up.repo_name(Path("/x") / name if name else Path("/")) == expected
