"""Live capabilities and queue reasons through a real hub of its own (a fleet this module
controls), real daemons, the fake CLIs and the CLI as a user runs it."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import uuid
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml

from integration_harness import ORCHESTRATIA, ROOT, Agent, Cli, Hub, kill_screen_sessions, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.timeout(150)]
FAKE_CODEX = ROOT / "tests" / "fakes" / "codex"


@pytest.fixture(scope="module")
def own_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    hub = Hub(tmp_path_factory.mktemp("sched-hub"))
    try:
        yield hub.start()
    finally:
        hub.stop()


def _create(cli: Cli, *args: str) -> tuple[dict[str, Any], str]:
    """``tasks create --json``: the task and what went to stderr (exit 0 either way)."""
    proc = cli.run("tasks", "create", "--title", "sched", "--spec", "hello FAKE_LINES=1", *args, "--json")
    return json.loads(proc.stdout), proc.stderr


def _reason(cli: Cli, task_id: str) -> str | None:
    return cli.json("tasks", "show", task_id).get("queue_reason")


def _edit(agent: Agent, change: dict[str, Any]) -> None:
    config = yaml.safe_load(agent.config.read_text())
    config.update(change)
    agent.config.write_text(yaml.safe_dump(config, sort_keys=False))


def _first_status(proc: subprocess.Popen, timeout: float) -> str:
    """The first line ``tasks watch`` writes on stderr (its status lines), waiting at most
    ``timeout`` seconds for it."""
    ready, _, _ = select.select([proc.stderr], [], [], timeout)
    assert ready, f"no status line within {timeout:g} s"
    return proc.stderr.readline()


def test_capabilities_and_queue_reasons(own_hub: Hub, tmp_path: Path) -> None:
    hub, cli = own_hub, Cli(own_hub, tmp_path / "cli")
    tag = uuid.uuid4().hex[:6]
    web = Agent(hub, tmp_path / "web", f"web-{tag}", overrides={"codex": {"enabled": False}}).register()
    made: list[str] = []
    try:
        # registered, never started: nothing is online
        task, err = _create(cli, "--repo", "work")
        made.append(task["id"])
        assert err == "" and _reason(cli, task["id"]) == "no agent is online"
        # impossible tasks are accepted (exit 0) with a warning at once
        task, err = _create(cli, "--repo", f"nope-{tag}")
        made.append(task["id"])
        assert f"no agent has repo nope-{tag}" in err and "warning" in err
        assert _reason(cli, task["id"]) == f"no agent has repo nope-{tag}"
        codex_task, err = _create(cli, "--repo", "work", "--runner", "codex")
        made.append(codex_task["id"])
        assert "has runner codex" in err
        assert _reason(cli, codex_task["id"]) == "no agent with repo work has runner codex"

        # another agent online: web's own tasks wait for web by name
        solo = Agent(hub, tmp_path / "solo", f"solo-{tag}", repos={"other": tmp_path / "other"},
                     overrides={"max_concurrent_tasks": 1}).register().start()
        try:
            waiting, _ = _create(cli, "--repo", "work", "--agent", web.name)
            made.append(waiting["id"])
            assert _reason(cli, waiting["id"]) == f"agent {web.name} offline"
            busy, _ = _create(cli, "--repo", "other", "--agent", solo.name, "--spec", "slow FAKE_LINES=1 FAKE_SLEEP=60")
            made.append(busy["id"])
            hub.wait_status(busy["id"], "running")
            full, _ = _create(cli, "--repo", "other", "--agent", solo.name)
            made.append(full["id"])
            assert _reason(cli, full["id"]) == f"agent {solo.name} at capacity (1/1)"
            watch = subprocess.Popen([ORCHESTRATIA, "tasks", "watch", full["id"]], env=cli.env(), text=True,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
            # the watcher's first line, before the slot frees (else it may first see the task running)
            first = _first_status(watch, 20)
            assert first == f"[task assigned on {solo.name}: agent {solo.name} at capacity (1/1)]\n", first
            cli.run("tasks", "cancel", busy["id"])
            assert hub.wait_final(full["id"])["status"] == "completed"
            _, watched = watch.communicate(timeout=30)
            assert f"[task {full['id']} completed]" in watched, watched
            assert watch.returncode == 0
        finally:
            solo.stop()

        # restart with a repo added: the hub has it at once and the queued task runs
        late = tmp_path / "late"
        late.mkdir()
        late_task, _ = _create(cli, "--repo", "late")
        made.append(late_task["id"])
        _edit(web, {"repos": {"work": str(web.repos["work"]), "late": str(late)}})
        web.repos["late"] = late
        web.start()
        wait_for(lambda: "late" in hub.agent(web.name)["repos"], 20, "the restarted agent's new repo at the hub")
        assert hub.wait_final(late_task["id"])["status"] == "completed"

        # reload: codex enabled, SIGHUP through `agent reload`; the queued codex task then runs
        assert "codex" not in (hub.agent(web.name)["runners"] or [])
        _edit(web, {"codex": {"enabled": True, "binary": str(FAKE_CODEX)}, "labels": ["gpu"]})
        out = cli.run("agent", "reload", "--config", str(web.config))
        assert "reload" in out.stdout
        wait_for(lambda: "codex" in (hub.agent(web.name)["runners"] or []), 20, "codex in the agent's runners")
        assert hub.agent(web.name)["labels"] == ["gpu"]
        assert hub.wait_final(codex_task["id"])["status"] == "completed"

        # a bad config: the CLI names the key; a SIGHUP anyway keeps the running config
        _edit(web, {"max_concurrent_tasks": "lots"})
        bad = cli.run("agent", "reload", "--config", str(web.config), check=False)
        assert bad.returncode != 0 and "max_concurrent_tasks" in bad.stderr
        pid = int((web.workdir / "run" / "daemon.pid").read_text())
        assert oct(os.stat(web.workdir / "run" / "daemon.pid").st_mode & 0o777) == "0o600"
        os.kill(pid, signal.SIGHUP)
        wait_for(lambda: b"keeping the running config" in web.daemon_log.read_bytes(), 20, "the refused reload logged")
        assert b"max_concurrent_tasks" in web.daemon_log.read_bytes().split(b"keeping the running config")[-1][:400]
        assert hub.agent(web.name)["status"] == "ONLINE" and "codex" in hub.agent(web.name)["runners"]
        _edit(web, {"max_concurrent_tasks": 4})
        web.stop()
        gone = cli.run("agent", "reload", "--config", str(web.config), check=False)
        assert gone.returncode != 0 and "no agent daemon is running" in gone.stderr, gone.stderr
    finally:
        web.stop()
        for task_id in made:
            if hub.task(task_id)["status"] not in {"completed", "failed", "cancelled", "timed_out", "lost"}:
                hub.api("POST", f"/tasks/{task_id}/cancel", json={})
        kill_screen_sessions(made)
