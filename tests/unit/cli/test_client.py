"""The admin API client: every failure is one line saying what was wrong and what to do."""

from __future__ import annotations

import httpx

from orchestratia.cli import client as client_mod

from .stand_in import run


def test_errors_are_one_line_with_advice(hub) -> None:
    hub(lambda r: httpx.Response(401, json={"detail": "invalid or expired token"}))
    result = run("agents", "list")
    assert result.exit_code == 1
    assert result.stderr.startswith("error: the hub at http://hub.test refused the credentials (invalid or expired token)")
    assert "orchestratia login" in result.stderr and result.stderr.count("\n") == 1


def test_connection_refused_message(hub) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    hub(refuse)
    result = run("tokens", "list")
    assert result.exit_code == 1 and result.stderr.startswith("error: cannot reach the hub at http://hub.test: [Errno 111]")


def test_validation_errors_are_readable(hub) -> None:
    detail = [{"loc": ["body", "title"], "msg": "String should have at least 1 character", "type": "x"}]
    hub(lambda r: httpx.Response(422, json={"detail": detail}))
    result = run("tasks", "create", "--title", " ", "--spec", "x")
    assert "title: String should have at least 1 character" in result.stderr


def test_bad_ca_bundle_is_one_line(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.setenv("ORCHESTRATIA_HUB_URL", "https://hub.test")
    monkeypatch.setenv("ORCHESTRATIA_TOKEN", "tok")
    result = run("--ca-bundle", str(tmp_path / "missing.pem"), "tasks", "list")
    assert result.exit_code == 1 and result.stderr.startswith("error: cannot use the CA bundle")


def test_tls_is_verified_by_default() -> None:
    assert client_mod.tls_verify(None) is True
