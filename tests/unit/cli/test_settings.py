import json
import os
import stat

import pytest

from orchestratia.cli import settings
from orchestratia.cli.errors import CliError


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    for name in ("ORCHESTRATIA_HUB_URL", "ORCHESTRATIA_TOKEN", "ORCHESTRATIA_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)


def test_saved_login_is_private_and_used(tmp_path) -> None:
    path = settings.save_cli_config("http://hub.example:8000/", "tok", "admin")
    assert path == tmp_path / "cfg" / "orchestratia" / "cli.json"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert json.loads(path.read_text())["hub_url"] == "http://hub.example:8000"
    conn = settings.resolve_connection()
    assert (conn.hub_url, conn.token, conn.ca_bundle) == ("http://hub.example:8000", "tok", None)


def test_environment_wins(monkeypatch) -> None:
    settings.save_cli_config("http://saved:1", "saved-token", "admin")
    monkeypatch.setenv("ORCHESTRATIA_HUB_URL", "https://env.example")
    monkeypatch.setenv("ORCHESTRATIA_TOKEN", "env-token")
    monkeypatch.setenv("ORCHESTRATIA_CA_BUNDLE", "/tmp/ca.pem")
    conn = settings.resolve_connection()
    assert (conn.hub_url, conn.token, conn.ca_bundle) == ("https://env.example", "env-token", "/tmp/ca.pem")


def test_not_logged_in_says_what_to_do() -> None:
    with pytest.raises(CliError, match="not logged in: run `orchestratia login --hub URL --username admin`"):
        settings.resolve_connection()


def test_bad_url() -> None:
    with pytest.raises(CliError, match="http:// or https://"):
        settings.normalize_url("hub.example")


def test_forget() -> None:
    settings.save_cli_config("http://a:1", "t", "admin")
    assert settings.forget_cli_config() is True
    assert settings.forget_cli_config() is False
