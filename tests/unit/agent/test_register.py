"""register.py without a hub: config write-back keeps comments, is private, drops the token."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from orchestratia.agent.config import load_config
from orchestratia.agent.register import RegistrationError, build_register_request, register_with_token, update_config_file
from orchestratia.protocol import new_registration_token

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
"""


def test_update_keeps_comments_and_order(tmp_path: Path) -> None:
    p = tmp_path / "config.yaml"
    p.write_text(SEED)
    p.chmod(0o644)
    update_config_file(p, {"api_key": "orc_abc"}, remove=("registration_token",))
    text = p.read_text()
    assert "# List the repos on this server that you work on" in text
    assert "# Auto-set after registration" in text and "registration_token" not in text
    assert text.index("hub_url") < text.index("api_key") < text.index("agent_name") < text.index("repos")
    assert yaml.safe_load(text)["api_key"] == "orc_abc"
    assert oct(p.stat().st_mode & 0o777) == "0o600"
    assert load_config(p).repos["your-repo-name"].branch == "main"


def test_update_creates_a_private_file_and_dirs(tmp_path: Path) -> None:
    p = tmp_path / "new" / "dir" / "config.yaml"
    update_config_file(p, {"hub_url": "http://h:1", "api_key": "orc_k"})
    assert yaml.safe_load(p.read_text()) == {"hub_url": "http://h:1", "api_key": "orc_k"}
    assert oct(p.stat().st_mode & 0o777) == "0o600"
    assert not list(p.parent.glob(".*tmp*"))


def test_register_request_carries_v1_fields_and_extensions(tmp_path: Path) -> None:
    p = tmp_path / "config.yaml"
    p.write_text(SEED)
    req = build_register_request(load_config(p), "orcreg_tok")
    body = req.model_dump(exclude_none=True)
    assert body["name"] == "your-server-name" and body["registration_token"] == "orcreg_tok"
    assert body["repos"] == {"your-repo-name": "/home/ubuntu/your-repo"}
    assert body["hostname"] and body["os"] and "cpu_count" in body["system_info"]
    assert body["max_concurrent_tasks"] == 2 and isinstance(body["runners"], list)


def test_register_unreachable_hub_is_a_clear_error(tmp_path: Path) -> None:
    token = new_registration_token("http://127.0.0.1:9")  # nothing listens on port 9
    with pytest.raises(RegistrationError, match="cannot reach the hub at http://127.0.0.1:9"):
        register_with_token(token, tmp_path / "c.yaml")
    assert not (tmp_path / "c.yaml").exists()


def test_token_without_url_and_no_config(tmp_path: Path) -> None:
    with pytest.raises(RegistrationError, match="no hub URL"):
        register_with_token("orcreg_opaque", tmp_path / "c.yaml")
