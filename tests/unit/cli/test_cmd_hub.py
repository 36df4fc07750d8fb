"""`orchestratia hub serve`: bad settings and a failed preflight are one line."""

from __future__ import annotations

from .stand_in import run


def test_hub_settings_errors_are_one_line(monkeypatch) -> None:
    result = run("hub", "serve", "--port", "99999")
    assert result.exit_code == 1
    assert result.stderr.startswith("error: invalid hub settings: port:") and result.stderr.count("\n") == 1


def test_hub_serve_preflight_is_one_line(tmp_path) -> None:
    closed = run("hub", "serve", "--database-url", "postgresql+asyncpg://nobody@127.0.0.1:1/x")
    assert closed.exit_code == 1 and closed.stderr.startswith("error: cannot reach the database at 127.0.0.1:1")
    (tmp_path / "file").write_text("")
    bad_dir = run("hub", "serve", "--data-dir", str(tmp_path / "file" / "sub"))
    assert bad_dir.exit_code == 1 and bad_dir.stderr.startswith("error: cannot create the data dir")
