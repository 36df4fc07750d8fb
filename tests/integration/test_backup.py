"""``orchestratia hub backup`` / ``hub restore`` on SQLite and PostgreSQL: a hub that ran tasks
with output is backed up while it runs, restored into a fresh store, and a hub started on that
store shows the same tasks and the same output, byte for byte."""

from __future__ import annotations

import asyncio
import stat
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Iterator

import pytest

from integration_harness import ORCHESTRATIA, Agent, Hub, base_env, retire_agent

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "faults"))
from fault_harness import drop_schema  # noqa: E402


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_env(request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    """The environment selecting the store: none (SQLite in the hub's --data-dir) or a fresh
    PostgreSQL schema, dropped afterwards."""
    if request.param == "sqlite":
        yield {}
        return
    url = request.getfixturevalue("postgres_url")
    schema = f"backup_{uuid.uuid4().hex[:12]}"
    try:
        yield {"ORCHESTRATIA_DATABASE_URL": url, "ORCHESTRATIA_DATABASE_SCHEMA": schema}
    finally:
        asyncio.run(drop_schema(url, schema))


def hub_cli(home: Path, store_env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    env = {**base_env(home), **store_env}
    return subprocess.run([ORCHESTRATIA, "hub", *args], env=env, capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL)


def data_args(hub: Hub, store_env: dict[str, str]) -> list[str]:
    return [] if store_env else ["--data-dir", str(hub.workdir / "data")]


def run_tasks(hub: Hub, tmp_path: Path) -> dict[str, bytes]:
    """Two finished shell tasks with output: {task id: stored output}."""
    agent = Agent(hub, tmp_path / "agent", f"bk-{uuid.uuid4().hex[:8]}").register().start()
    try:
        ids = []
        for spec in ("for i in $(seq 1 400); do echo \"line $i é\"; done", "echo to-stderr >&2; exit 3"):
            r = hub.api("POST", "/tasks", json={"title": "backup", "spec": spec, "agent": agent.name,
                                                "target_repo": "work", "runner": "shell"})
            assert r.status_code == 201, r.text
            ids.append(r.json()["id"])
        for task_id in ids:
            hub.wait_final(task_id, timeout=30)
    finally:
        retire_agent(hub, agent.name, agent.stop)
    return {task_id: hub.output(task_id) for task_id in ids}


def test_backup_then_restore_into_a_fresh_store(tmp_path: Path, store_env: dict[str, str]) -> None:
    first = Hub(tmp_path / "hub1", extra_env=store_env).start()
    try:
        outputs = run_tasks(first, tmp_path)
        before = {task_id: first.task(task_id) for task_id in outputs}
        backup = tmp_path / "backups" / "hub.backup"
        made = hub_cli(tmp_path, store_env, "backup", str(backup), *data_args(first, store_env))  # the hub runs
        assert made.returncode == 0, made.stderr
        assert stat.S_IMODE(backup.stat().st_mode) == 0o600
        again = hub_cli(tmp_path, store_env, "backup", str(backup), *data_args(first, store_env))
        assert again.returncode == 1 and "exists" in again.stderr and "--force" in again.stderr
    finally:
        first.stop()

    second = Hub(tmp_path / "hub2", extra_env=store_env)
    if store_env:  # PostgreSQL: a dump restores into its own schema; an occupied one is refused
        refused = hub_cli(tmp_path, store_env, "restore", str(backup))
        assert refused.returncode == 1 and "already holds" in refused.stderr, refused.stderr
        asyncio.run(drop_schema(store_env["ORCHESTRATIA_DATABASE_URL"], store_env["ORCHESTRATIA_DATABASE_SCHEMA"]))
    done = hub_cli(tmp_path, store_env, "restore", str(backup), *data_args(second, store_env))
    assert done.returncode == 0, done.stderr
    if not store_env:
        assert stat.S_IMODE((second.workdir / "data" / "orchestratia.db").stat().st_mode) == 0o600
        twice = hub_cli(tmp_path, store_env, "restore", str(backup), *data_args(second, store_env))
        assert twice.returncode == 1 and "exists" in twice.stderr and "--force" in twice.stderr

    second.start()
    try:
        for task_id, output in outputs.items():
            after = second.task(task_id)
            assert {k: after[k] for k in ("status", "exit_code", "finished_at", "output_size")} == {
                k: before[task_id][k] for k in ("status", "exit_code", "finished_at", "output_size")}
            assert second.output(task_id) == output
        assert b"line 400 \xc3\xa9" in outputs[next(iter(outputs))]
        if not store_env:  # a running hub's store is never replaced, even with --force
            busy = hub_cli(tmp_path, store_env, "restore", "--force", str(backup), *data_args(second, store_env))
            assert busy.returncode == 1 and ("running" in busy.stderr), busy.stderr
    finally:
        second.stop()


def test_restore_refuses_what_is_not_a_backup(tmp_path: Path) -> None:
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"hello, not a backup")
    result = hub_cli(tmp_path, {}, "restore", str(junk), "--data-dir", str(tmp_path / "data"))
    assert result.returncode == 1
    assert result.stderr.startswith("error: ") and "is not an Orchestratia backup" in result.stderr
    assert not (tmp_path / "data" / "orchestratia.db").exists()
