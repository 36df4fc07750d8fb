"""The pass's choices (planner.py) and the label rules (protocol/labels.py), pure."""

from __future__ import annotations

from types import SimpleNamespace

from orchestratia.protocol.labels import agent_label_set, auto_labels, label_problem
from orchestratia.hub.scheduler.planner import Planner, Slot


def slot(name: str, *, labels: tuple[str, ...] = (), cap: int = 2, load: int = 0, repos: dict | None = None,
         runners: list[str] | None = None) -> Slot:
    row = SimpleNamespace(id=name, name=name, os="Linux 6.1", repos=repos or {}, runners=runners, labels=list(labels),
                          max_concurrent_tasks=cap)
    made = Slot.of(row)
    made.load = load
    return made


def task(tid: str, *, labels: tuple[str, ...] = (), repo: str = "", runner: str | None = None,
         group: str | None = None, agent: str | None = None) -> SimpleNamespace:
    return SimpleNamespace(id=tid, target_repo=repo, runner=runner, labels=list(labels), group_name=group,
                           workspace_request=None, agent_id=agent)


def test_label_syntax() -> None:
    assert label_problem("gpu") is None and label_problem("zone=eu-1") is None and label_problem("os:linux") is None
    for bad in ("", "-gpu", "has space", "x" * 101, "ünï"):
        assert "is not a label" in (label_problem(bad) or ""), bad


def test_automatic_labels() -> None:
    assert auto_labels("Linux 6.1.0-18-amd64", ["claude", "shell"], {"web": "/srv/web"}) == {
        "os:linux", "runner:claude", "runner:shell", "repo:web"}
    assert auto_labels("Darwin 23.1", None, {}) == {"os:darwin", "runner:claude"}  # v1: Claude only
    assert auto_labels("", [], {"bad name": "/x"}) == set()  # names that are no label are left out
    assert agent_label_set(["gpu", 7], "Linux", [], {}) == frozenset({"gpu", "os:linux"})  # hostile v1 labels


def test_least_loaded_agent_with_all_labels() -> None:
    planner = Planner([slot("a-gpu", labels=("gpu",), load=1), slot("b-gpu", labels=("gpu", "big")),
                       slot("c-cpu")])
    chosen = planner.plan([task("1", labels=("gpu",)), task("2", labels=("gpu",)), task("3", labels=("gpu", "big")),
                           task("4", labels=("tpu",)), task("5")])
    assert [(t.id, s.name) for t, s in chosen] == [("1", "b-gpu"), ("2", "a-gpu"), ("3", "b-gpu"), ("5", "c-cpu")]


def test_runner_labels_and_v1_agents() -> None:
    planner = Planner([slot("v1"), slot("new", runners=["codex"])])
    chosen = planner.plan([task("1", runner="codex"), task("2", labels=("runner:claude",)), task("3", runner="gemini")])
    assert [(t.id, s.name) for t, s in chosen] == [("1", "new"), ("2", "v1")]


def test_group_limits_count_active_and_planned_tasks() -> None:
    planner = Planner([slot("a"), slot("b")], group_active={"team": 1}, group_limits={"team": 2, "solo": 1})
    chosen = planner.plan([task("1", group="team"), task("2", group="team"), task("3", group="solo"),
                           task("4", group="solo"), task("5", group="nolimit"), task("6", group="nolimit")])
    assert [t.id for t, _ in chosen] == ["1", "3", "5", "6"]


def test_named_agent_and_a_full_fleet() -> None:
    planner = Planner([slot("a", cap=1), slot("b", cap=1, load=1)])
    assert planner.plan([task("1", agent="b"), task("2", agent="a"), task("3")]) and planner.free == 0
    assert Planner([slot("x", cap=1, load=1)]).free == 0  # nothing to read: the caller stops


def test_one_task_per_checkout_directory() -> None:
    planner = Planner([slot("a", cap=3, repos={"r": "/srv/r"})])
    chosen = planner.plan([task("1", repo="r"), task("2", repo="r"), task("3")])
    assert [t.id for t, _ in chosen] == ["1", "3"]
