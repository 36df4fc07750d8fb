"""Settings (env + overrides, defaults) and the first-start admin bootstrap."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from orchestratia.hub.app import create_app
from orchestratia.hub.settings import load_settings

from .helpers import ADMIN


def test_defaults_and_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    monkeypatch.setenv("ORCHESTRATIA_PORT", "9100")
    settings = load_settings(host="0.0.0.0", database_url=None)
    assert settings.data_dir == tmp_path / "orchestratia"
    assert settings.port == 9100 and settings.offline_after_s == 90 and settings.max_body_bytes == 1024 * 1024
    assert settings.effective_database_url() == f"sqlite+aiosqlite:///{tmp_path / 'orchestratia' / 'orchestratia.db'}"
    assert settings.effective_public_url() == "http://127.0.0.1:9100"
    assert load_settings(port=1234).port == 1234  # overrides beat the environment
    assert load_settings(public_url="https://hub.example.com/").effective_public_url() == "https://hub.example.com"


def test_invalid_setting_is_refused() -> None:
    with pytest.raises(ValueError):
        load_settings(port=-1)


async def _login(app, password: str) -> int:
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://hub.test") as client:
            r = await client.post(f"{ADMIN}/login", json={"username": "admin", "password": password})
            return r.status_code


async def test_generated_password_printed_once(settings_factory, capsys: pytest.CaptureFixture[str]) -> None:
    settings = settings_factory(admin_password=None)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        pass
    err = capsys.readouterr().err
    shown = re.search(r"password: (\S+)", err)
    password = shown.group(1) if shown else None
    assert password and password in err and "username: admin" in err
    assert await _login(create_app(settings), password) == 200
    assert password not in capsys.readouterr().err  # not printed again


async def test_password_from_settings(settings_factory, capsys: pytest.CaptureFixture[str]) -> None:
    app = create_app(settings_factory(admin_password="s3cret-pw"))
    assert await _login(app, "s3cret-pw") == 200
    err = capsys.readouterr().err
    assert "s3cret-pw" not in err
    assert "password:" not in err  # no password generated


def test_the_dashboard_is_mounted_and_the_factory_builds(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from starlette.testclient import TestClient

    from orchestratia.hub.app import app_factory

    monkeypatch.setenv("ORCHESTRATIA_DATA_DIR", str(tmp_path))
    app = app_factory()
    paths = app.openapi()["paths"]
    assert {"/health", "/ORCHESTRATIA.md", "/api/admin/login", "/api/v1/agents/register"} <= set(paths)
    login_page = TestClient(app).get("/login")  # the dashboard's sign-in page (no lifespan needed)
    assert login_page.status_code == 200 and "text/html" in login_page.headers["content-type"]
