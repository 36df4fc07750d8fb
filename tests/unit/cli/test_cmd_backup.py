"""`orchestratia hub backup` / `hub restore`: every refusal is one `error:` line saying what to do
(the round trip through a real hub is tests/integration/test_backup.py)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from .stand_in import run

PG = "postgresql+asyncpg://nobody@127.0.0.1:1/x"


def one_line_error(result) -> str:
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr
    return result.stderr


def fake_store(path: Path, revision: str) -> Path:
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)")
        conn.execute("INSERT INTO alembic_version VALUES (?)", (revision,))
    conn.close()
    return path


def test_backup_without_a_store_says_where_it_looked(tmp_path: Path) -> None:
    err = one_line_error(run("hub", "backup", str(tmp_path / "b.db"), "--data-dir", str(tmp_path / "none")))
    assert "there is no SQLite store at" in err and "--data-dir" in err
    assert not (tmp_path / "b.db").exists()


def test_backup_and_restore_take_one_store(tmp_path: Path) -> None:
    err = one_line_error(run("hub", "backup", str(tmp_path / "b"), "--data-dir", str(tmp_path), "--database-url", PG))
    assert "either --data-dir (SQLite) or --database-url" in err


def test_postgres_without_pg_dump_is_a_clear_error(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no pg_dump here
    err = one_line_error(run("hub", "backup", str(tmp_path / "b.pgdump"), "--database-url", PG))
    assert "pg_dump is not on PATH" in err and "postgresql-client" in err


def test_restore_refuses_the_wrong_kind_and_a_newer_schema(tmp_path: Path) -> None:
    current = fake_store(tmp_path / "current.db", "0001")
    err = one_line_error(run("hub", "restore", str(current), "--database-url", PG))
    assert "is a sqlite backup but the target store is PostgreSQL" in err
    newer = fake_store(tmp_path / "newer.db", "9999_from_the_future")
    err = one_line_error(run("hub", "restore", str(newer), "--data-dir", str(tmp_path / "data")))
    assert "newer Orchestratia" in err and "upgrade orchestratia first" in err
    assert not (tmp_path / "data" / "orchestratia.db").exists()


def test_restore_of_a_store_backup_fills_an_empty_data_dir_0600(tmp_path: Path) -> None:
    backup = fake_store(tmp_path / "b.db", "0001")
    result = run("hub", "restore", str(backup), "--data-dir", str(tmp_path / "data"))
    assert result.exit_code == 0, result.stderr
    db = tmp_path / "data" / "orchestratia.db"
    assert db.stat().st_mode & 0o777 == 0o600 and (tmp_path / "data").stat().st_mode & 0o777 == 0o700
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchone() == ("0001",)
    conn.close()
