"""Dependencies and pipelines end to end: a real hub of its own, a real daemon running the
shell runner in screen, and the CLI as a user runs it (``tasks create --after``, ``pipelines
run/show/cancel``)."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any, Iterator

import pytest

from integration_harness import Agent, Cli, Hub, kill_screen_sessions, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]


@pytest.fixture(scope="module")
def own_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    hub = Hub(tmp_path_factory.mktemp("pipe-hub"))
    try:
        yield hub.start()
    finally:
        hub.stop()


@pytest.fixture(scope="module")
def worker(own_hub: Hub, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Agent]:
    agent = Agent(own_hub, tmp_path_factory.mktemp("pipe-agent"), f"pipe-{uuid.uuid4().hex[:6]}",
                  overrides={"max_concurrent_tasks": 4}).register().start()
    try:
        yield agent
    finally:
        agent.stop()


def gated(gate: Path, then: str) -> str:
    """A shell script that waits (at most 60 s) for ``gate`` to exist, then runs ``then``."""
    return f"for i in $(seq 600); do [ -e '{gate}' ] && break; sleep 0.1; done\n{then}\n"


def shell_task(cli: Cli, title: str, script: str, *extra: str) -> dict[str, Any]:
    return cli.json("tasks", "create", "--title", title, "--spec", script, "--runner", "shell", *extra)


def test_after_waits_for_its_parent_then_runs(own_hub: Hub, worker: Agent, tmp_path: Path) -> None:
    cli, gate = Cli(own_hub, tmp_path / "cli"), tmp_path / "gate"
    parent = shell_task(cli, "parent", gated(gate, "echo PARENT-DONE"))
    child = shell_task(cli, "child", "echo CHILD-RAN", "--after", parent["id"][:8])  # a prefix, as tables show ids
    try:
        assert child["depends_on"] == [parent["id"]] and child["status"] == "queued"
        own_hub.wait_status(parent["id"], "running")
        shown = cli.json("tasks", "show", child["id"])
        assert shown["status"] == "queued"
        assert shown["queue_reason"] == f"waiting for task {parent['id'][:8]} (running)"
        human = cli.run("tasks", "show", child["id"]).stdout
        assert f"waiting for task {parent['id'][:8]} (running)" in human
        assert re.search(rf"after\s+{parent['id'][:8]}", human), human
        gate.touch()
        done = own_hub.wait_final(child["id"], timeout=60)
        first = own_hub.task(parent["id"])
        assert (first["status"], done["status"]) == ("completed", "completed")
        assert done["started_at"] >= first["finished_at"]  # it ran only after its parent ended
        assert b"CHILD-RAN" in own_hub.output(child["id"])
    finally:
        gate.touch()
        kill_screen_sessions([parent["id"], child["id"]])


def test_a_failed_parent_cancels_its_children_and_theirs(own_hub: Hub, worker: Agent, tmp_path: Path) -> None:
    cli, gate = Cli(own_hub, tmp_path / "cli"), tmp_path / "gate"
    parent = shell_task(cli, "builds", gated(gate, "echo broken >&2; exit 3"))
    child = shell_task(cli, "tests", "echo never", "--after", parent["id"])
    grandchild = shell_task(cli, "ships", "echo never", "--after", child["id"])
    other = shell_task(cli, "unrelated", "echo fine")
    try:
        own_hub.wait_status(parent["id"], "running")
        gate.touch()
        assert own_hub.wait_final(parent["id"], timeout=60)["status"] == "failed"
        first = own_hub.wait_final(child["id"])
        second = own_hub.wait_final(grandchild["id"])
        assert (first["status"], first["failure_cause"]) == ("cancelled", "dependency_failed")
        assert first["cancel_reason"] == f"dependency {parent['id'][:8]} (builds) failed"
        assert (second["status"], second["failure_cause"]) == ("cancelled", "dependency_failed")
        assert second["cancel_reason"] == f"dependency {child['id'][:8]} (tests) cancelled"
        assert first["started_at"] is None and own_hub.output(child["id"]) == b""  # never ran
        assert own_hub.wait_final(other["id"])["status"] == "completed"
        refused = cli.run("tasks", "create", "--title", "late", "--spec", "x", "--after", parent["id"], check=False)
        assert refused.returncode != 0 and "is failed: a task after it would never run" in refused.stderr
    finally:
        gate.touch()
        kill_screen_sessions([parent["id"], child["id"], grandchild["id"], other["id"]])


PIPELINE = """\
name: release-{tag}
tasks:
  build:
    runner: shell
    spec: echo BUILD-{tag}
  lint:
    needs: build
    runner: shell
    spec: echo "lint saw {{{{ needs.build.result }}}}"
  test:
    needs: [build]
    runner: shell
    spec: echo "test saw {{{{ needs.build.result }}}}"
  package:
    needs: [lint, test]
    runner: shell
    spec: echo "package of [{{{{ needs.lint.result }}}}] and [{{{{ needs.test.result }}}}]"
  publish:
    needs: [package]
    runner: shell
    title: Publish the package
    spec: echo "published {{{{ needs.package.result }}}}"
"""


def test_a_pipeline_passes_results_down_a_diamond_and_a_tail(own_hub: Hub, worker: Agent, tmp_path: Path) -> None:
    cli, tag = Cli(own_hub, tmp_path / "cli"), uuid.uuid4().hex[:6]
    source = tmp_path / "release.yaml"
    source.write_text(PIPELINE.format(tag=tag))
    made = cli.json("pipelines", "run", str(source))
    nodes = {n["name"]: n for n in made["nodes"]}
    try:
        assert made["name"] == f"release-{tag}" and set(nodes) == {"build", "lint", "test", "package", "publish"}
        assert [nodes[n]["depth"] for n in ("build", "lint", "test", "package", "publish")] == [0, 1, 1, 2, 3]
        for name in nodes:
            assert own_hub.wait_final(nodes[name]["task_id"], timeout=90)["status"] == "completed", name
        package = own_hub.task(nodes["package"]["task_id"])
        want = f"package of [lint saw BUILD-{tag}] and [test saw BUILD-{tag}]"
        assert package["spec"] == f'echo "{want}"'
        assert package["pipeline_id"] == made["id"] and package["pipeline_node"] == "package"
        assert want.encode() in own_hub.output(nodes["package"]["task_id"])
        assert f"published {want}".encode() in own_hub.output(nodes["publish"]["task_id"])
        lint, test = (own_hub.task(nodes[n]["task_id"]) for n in ("lint", "test"))
        assert package["started_at"] >= max(lint["finished_at"], test["finished_at"])
        shown = cli.json("pipelines", "show", made["id"][:8])
        assert shown["status"] == "completed" and shown["counts"] == {"completed": 5}
        listing = cli.run("pipelines", "list").stdout
        assert f"release-{tag}" in listing and "5 completed" in listing
    finally:
        kill_screen_sessions([n["task_id"] for n in nodes.values()])


def test_cancelling_a_pipeline_stops_what_has_not_ended(own_hub: Hub, worker: Agent, tmp_path: Path) -> None:
    cli, gate = Cli(own_hub, tmp_path / "cli"), tmp_path / "never"
    source = tmp_path / "slow.yaml"
    source.write_text(json.dumps({"name": "slow", "tasks": {
        "quick": {"runner": "shell", "spec": "echo quick"},
        "long": {"runner": "shell", "needs": ["quick"], "spec": gated(gate, "echo too late")},
        "after-long": {"runner": "shell", "needs": ["long"], "spec": "echo never"},
    }}))  # JSON is YAML too
    made = cli.json("pipelines", "run", str(source))
    ids = {n["name"]: n["task_id"] for n in made["nodes"]}
    try:
        assert own_hub.wait_final(ids["quick"], timeout=60)["status"] == "completed"
        own_hub.wait_status(ids["long"], "running", timeout=60)
        out = cli.run("pipelines", "cancel", made["id"][:8], "--reason", "wrong branch")
        assert "is cancelled" in out.stdout
        for name in ("long", "after-long"):
            ended = own_hub.wait_final(ids[name], timeout=60)
            assert (ended["status"], ended["cancel_reason"]) == ("cancelled", "wrong branch"), name
        assert own_hub.task(ids["quick"])["status"] == "completed"
        wait_for(lambda: b"too late" not in own_hub.output(ids["long"]) and not _session_alive(ids["long"]), 30,
                 "the running member's session stopped")
        again = cli.run("pipelines", "cancel", made["id"], check=False)
        assert again.returncode != 0 and "already cancelled" in again.stderr
    finally:
        gate.touch()
        kill_screen_sessions(list(ids.values()))


def _session_alive(task_id: str) -> bool:
    from integration_harness import screen_sessions

    return any(task_id in s for s in screen_sessions())


@pytest.mark.parametrize(("text", "message"), [
    ("tasks:\n  a:\n    spec: x\n  a:\n    spec: y\n", "duplicate task name 'a' at lines 2 and 4"),
    ("tasks:\n  a:\n    spec: x\n  b:\n    needs: [c]\n    spec: y\n", "task 'b' (line 4) needs 'c', which is no task of this pipeline"),
    ("tasks:\n  a: {spec: x, needs: [b]}\n  b: {spec: y, needs: [a]}\n", "the needs form a cycle: a -> b -> a"),
    ("tasks:\n  a: {spec: x\n", "not valid YAML"),
    ("tasks:\n  a: {spec: x}\n  b: {spec: 'use {{ needs.a.result }}'}\n", "does not need 'a': add it to its needs"),
    ("tasks:\n  a: {spec: x, need: [b]}\n", "unknown key 'need'"),
])
def test_bad_pipeline_files_say_what_is_wrong_and_store_nothing(own_hub: Hub, tmp_path: Path, text: str,
                                                                 message: str) -> None:
    cli = Cli(own_hub, tmp_path / "cli")
    before = own_hub.api("GET", "/tasks?limit=1000").json()
    source = tmp_path / "bad.yaml"
    source.write_text(text)
    proc = cli.run("pipelines", "run", str(source), check=False)
    assert proc.returncode != 0
    assert message in proc.stderr and str(source) in proc.stderr, proc.stderr
    assert own_hub.api("GET", "/tasks?limit=1000").json() == before
    assert not any(p["name"] == "bad" for p in cli.json("pipelines", "list"))
