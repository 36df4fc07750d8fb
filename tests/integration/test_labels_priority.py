"""Labels, priority and concurrency groups through a real hub of its own, real daemons, the fake
CLIs and the CLI as a user runs it (docs/scheduling.md)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any, Iterator

import pytest

from integration_harness import Agent, Cli, Hub, kill_screen_sessions, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]
FINAL = {"completed", "failed", "cancelled", "timed_out", "lost"}


@pytest.fixture(scope="module")
def own_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    hub = Hub(tmp_path_factory.mktemp("labels-hub"))
    try:
        yield hub.start()
    finally:
        hub.stop()


def _create(cli: Cli, *args: str, spec: str = "hello FAKE_LINES=1") -> tuple[dict[str, Any], str]:
    proc = cli.run("tasks", "create", "--title", "sched", "--spec", spec, *args, "--json")
    return json.loads(proc.stdout), proc.stderr


def _gated(gate: Path) -> str:
    """A prompt whose run holds its place until ``gate`` exists (the fake claude's gate)."""
    return f'work FAKE_LINES=1 FAKE_WAIT_FOR_FILE="{gate}"'


def _cleanup(hub: Hub, agents: list[Agent], made: list[str]) -> None:
    for agent in agents:
        agent.stop()
    for task_id in made:
        if hub.task(task_id)["status"] not in FINAL:
            hub.api("POST", f"/tasks/{task_id}/cancel", json={})
    kill_screen_sessions(made)


def test_labels_route_tasks_and_the_least_loaded_agent_takes_one(own_hub: Hub, tmp_path: Path) -> None:
    hub, cli = own_hub, Cli(own_hub, tmp_path / "cli")
    tag = uuid.uuid4().hex[:6]
    gpu = Agent(hub, tmp_path / "gpu", f"a-gpu-{tag}", overrides={"labels": ["gpu", f"fleet-{tag}"],
                                                                   "shell": {"enabled": False}}).register().start()
    plain = Agent(hub, tmp_path / "plain", f"b-plain-{tag}", overrides={"labels": [f"fleet-{tag}"]}).register().start()
    made: list[str] = []
    gate = tmp_path / "gate"
    try:
        shown = cli.json("agents", "show", gpu.name)
        assert shown["labels"] == ["gpu", f"fleet-{tag}"] and "runner:claude" in shown["auto_labels"]
        assert "os:linux" in shown["auto_labels"] and "runner:shell" not in shown["auto_labels"]
        for labels, where in ((["gpu"], gpu), (["runner:shell"], plain), ([f"fleet-{tag}", "gpu"], gpu)):
            task, err = _create(cli, *[a for label in labels for a in ("--label", label)])
            made.append(task["id"])
            assert err == "" and hub.wait_final(task["id"])["agent"] == where.name, labels
        # the least loaded: gpu runs a task (held open), so an unlabeled task goes to plain
        held, _ = _create(cli, "--agent", gpu.name, spec=_gated(gate))
        made.append(held["id"])
        hub.wait_status(held["id"], "running")
        free, _ = _create(cli, "--label", f"fleet-{tag}")
        made.append(free["id"])
        assert hub.wait_final(free["id"])["agent"] == plain.name
        # nobody has the label: a warning at once, and the reason while it waits
        never, err = _create(cli, "--label", f"tpu-{tag}")
        made.append(never["id"])
        assert f"no agent has labels tpu-{tag}" in err and "warning" in err
        assert cli.json("tasks", "show", never["id"])["queue_reason"] == f"no agent has labels tpu-{tag}"
        bad = cli.run("tasks", "create", "--title", "x", "--spec", "y", "--label", "has space", check=False)
        assert bad.returncode != 0 and "is not a label" in bad.stderr
        gate.touch()
        assert hub.wait_final(held["id"])["status"] == "completed"
    finally:
        gate.touch()
        _cleanup(hub, [gpu, plain], made)


def test_high_priority_runs_first_on_a_busy_agent(own_hub: Hub, tmp_path: Path) -> None:
    hub, cli = own_hub, Cli(own_hub, tmp_path / "cli")
    tag = uuid.uuid4().hex[:6]
    solo = Agent(hub, tmp_path / "solo", f"solo-{tag}",
                 overrides={"labels": [f"prio-{tag}"], "max_concurrent_tasks": 1}).register().start()
    made: list[str] = []
    gate = tmp_path / "gate"
    try:
        busy, _ = _create(cli, "--agent", solo.name, spec=_gated(gate))
        made.append(busy["id"])
        hub.wait_status(busy["id"], "running")
        queued = {}
        for priority in ("low", "normal", "high"):
            task, _ = _create(cli, "--label", f"prio-{tag}", "--priority", priority)
            made.append(task["id"])
            queued[priority] = task["id"]
        shown = cli.json("tasks", "show", queued["high"])
        assert (shown["status"], shown["priority"]) == ("queued", "high")
        assert shown["queue_reason"] == f"agent {solo.name} at capacity (1/1)"
        gate.touch()
        done = {p: hub.wait_final(t, timeout=60) for p, t in queued.items()}
        assert all(d["status"] == "completed" for d in done.values())
        order = sorted(done, key=lambda p: done[p]["started_at"])
        assert order == ["high", "normal", "low"], {p: d["started_at"] for p, d in done.items()}
    finally:
        gate.touch()
        _cleanup(hub, [solo], made)


def test_a_group_limit_holds_across_two_free_agents(own_hub: Hub, tmp_path: Path) -> None:
    hub, cli = own_hub, Cli(own_hub, tmp_path / "cli")
    tag = uuid.uuid4().hex[:6]
    group = f"claude-team-{tag}"
    agents = [Agent(hub, tmp_path / n, f"{n}-{tag}", overrides={"labels": [f"grp-{tag}"]}).register().start()
              for n in ("g1", "g2")]
    made: list[str] = []
    gate = tmp_path / "gate"
    try:
        out = cli.run("groups", "set", group, "--max", "1")
        assert f"Group {group}: at most 1 at once" in out.stdout
        first, _ = _create(cli, "--label", f"grp-{tag}", "--group", group, spec=_gated(gate))
        second, _ = _create(cli, "--label", f"grp-{tag}", "--group", group, spec=_gated(gate))
        made += [first["id"], second["id"]]
        hub.wait_status(first["id"], "running")
        # both agents are free, yet the second waits for the group
        wait_for(lambda: cli.json("tasks", "show", second["id"])["queue_reason"]
                 == f"group {group} at its limit (1/1)", 30, "the group's reason")
        assert hub.task(second["id"])["status"] == "queued"
        listed = {g["name"]: g for g in cli.json("groups", "list")}
        assert (listed[group]["max_active"], listed[group]["active"], listed[group]["queued"]) == (1, 1, 1)
        gate.touch()
        one, two = hub.wait_final(first["id"], timeout=60), hub.wait_final(second["id"], timeout=60)
        assert one["status"] == two["status"] == "completed"
        assert two["started_at"] >= one["finished_at"]  # never both at once
        cli.run("groups", "delete", group)
        assert group not in {g["name"] for g in cli.json("groups", "list")}
    finally:
        gate.touch()
        _cleanup(hub, agents, made)
