"""Read and check a pipeline file (or the same, already parsed, as JSON).

The file, like a CI workflow::

    name: release            # optional: the file's name otherwise (the CLI sends it)
    tasks:
      build:                 # the node's name: what needs and {{ needs.build.result }} refer to
        spec: "..."
        repo: api            # the task's fields as `tasks create` takes them (repo = target_repo)
      test:
        needs: [build]       # or one name: needs: build
        spec: "Test this build: {{ needs.build.result }}"

YAML is read with ruamel.yaml's safe loader (no tags that build objects). The check refuses,
naming the task and its line: duplicate names, a need that is no task of the file, a task that
needs itself, a cycle (``a -> b -> a``), a placeholder for a task it does not need, unknown keys
and bad field values. On any error nothing is stored (:class:`PipelineError`, the API's 422).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode

from orchestratia.hub.json_safety import clean_text
from orchestratia.protocol.pipelines import PIPELINE_MAX_NODES, PipelineCreate, PipelineNode
from orchestratia.hub.pipelines.substitute import FIELDS, references

TOP_KEYS = ("name", "tasks")


class PipelineError(ValueError):
    """What is wrong with a pipeline file, in words a person can act on."""


@dataclass
class PipelinePlan:
    """A checked pipeline: its nodes in an order where every need comes first."""

    name: str
    nodes: list[PipelineNode]
    depth: dict[str, int] = field(default_factory=dict)


def plan(body: PipelineCreate) -> PipelinePlan:
    """The checked plan of a ``POST /pipelines`` body (YAML text or parsed JSON)."""
    if body.yaml is not None and body.tasks is not None:
        raise PipelineError("give either yaml (the file's text) or tasks (parsed), not both")
    if body.yaml is not None:
        name, nodes, lines = parse_yaml(body.yaml, body.name)
    elif body.tasks is not None:
        name, nodes, lines = body.name or "pipeline", list(body.tasks), {}
    else:
        raise PipelineError("a pipeline needs tasks: send yaml (the file's text) or name and tasks")
    return check(name, nodes, lines)


def _where(name: str, lines: dict[str, int]) -> str:
    return f"task {name!r} (line {lines[name]})" if name in lines else f"task {name!r}"


def _line(node: Node) -> int:
    return node.start_mark.line + 1


def parse_yaml(text: str, default_name: str | None = None) -> tuple[str, list[PipelineNode], dict[str, int]]:
    """The pipeline's name, its nodes and each node's line in ``text``."""
    yaml = YAML(typ="safe", pure=True)
    try:
        root = yaml.compose(text)  # nodes with their lines; nothing constructed yet
    except YAMLError as exc:
        raise _yaml_error(exc) from exc
    except RecursionError as exc:  # [[[[... a few thousand deep
        raise PipelineError("not valid YAML: nested too deeply") from exc
    if not isinstance(root, MappingNode):
        raise PipelineError("a pipeline file is a mapping with 'name' and 'tasks' (see docs/examples/pipeline.yaml)")
    tasks_node, lines = _task_lines(root)
    try:
        data = _storable(yaml.load(text))
    except YAMLError as exc:  # e.g. a tag the safe loader refuses
        raise _yaml_error(exc) from exc
    except RecursionError as exc:
        raise PipelineError("not valid YAML: nested too deeply") from exc
    if unknown := [k for k in data if k not in TOP_KEYS]:
        raise PipelineError(f"unknown key {unknown[0]!r} at the top of the file: use {', '.join(TOP_KEYS)}")
    name = data.get("name", default_name) or "pipeline"
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        raise PipelineError("'name' must be a text of 1 to 200 characters")
    if tasks_node is None or not isinstance(data.get("tasks"), dict) or not data["tasks"]:
        raise PipelineError("'tasks' must be a mapping of task names to tasks, e.g. tasks: {build: {spec: ...}}")
    if bad := [k for k in data["tasks"] if not isinstance(k, str)]:
        raise PipelineError(f"task name {bad[0]!r} is not a name: use letters, digits, '-' and '_'")
    return name.strip(), [_node(k, v, lines) for k, v in data["tasks"].items()], lines


def _storable(value: Any) -> Any:
    """Text the store can keep: a YAML escape (``"\\0"``, ``"\\ud800"``) can make NUL or a lone
    surrogate, which the JSON body check never saw; replaced by U+FFFD as there."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {_storable(k): _storable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_storable(v) for v in value]
    return value


def _yaml_error(exc: YAMLError) -> PipelineError:
    if isinstance(exc, MarkedYAMLError) and exc.problem_mark is not None:
        return PipelineError(f"not valid YAML: {exc.problem} at line {exc.problem_mark.line + 1}")
    return PipelineError(f"not valid YAML: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}")


def _task_lines(root: MappingNode) -> tuple[Node | None, dict[str, int]]:
    """The ``tasks`` node and each task name's line; duplicate names refused here (the
    constructor would refuse them too, without saying which task)."""
    tasks_node = next((v for k, v in root.value if isinstance(k, ScalarNode) and k.value == "tasks"), None)
    lines: dict[str, int] = {}
    if isinstance(tasks_node, MappingNode):
        for key, _value in tasks_node.value:
            name = str(key.value)
            if name in lines:
                raise PipelineError(f"duplicate task name {name!r} at lines {lines[name]} and {_line(key)}: "
                                    "each task needs its own name")
            lines[name] = _line(key)
    return tasks_node, lines


def _node(name: str, value: Any, lines: dict[str, int]) -> PipelineNode:
    where = _where(name, lines)
    if not isinstance(value, dict):
        raise PipelineError(f"{where}: a task is a mapping with at least 'spec'")
    fields = dict(value)
    if "repo" in fields:
        fields["target_repo"] = fields.pop("repo")
    if isinstance(fields.get("needs"), str):
        fields["needs"] = [fields["needs"]]
    try:
        return PipelineNode.model_validate({**fields, "name": name})
    except ValidationError as exc:
        raise PipelineError(f"{where}: {_first_error(exc)}") from exc


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"]) or "task"
    loc = "repo" if loc == "target_repo" else loc
    if err["type"] == "extra_forbidden":
        return f"unknown key {loc!r} (a task takes spec, title, needs, repo, agent, runner, timeout_minutes, ...)"
    if loc == "name":
        return "a name is letters, digits, '-' and '_' (at most 100), starting with a letter or digit"
    return f"{loc}: {err['msg']}"


def check(name: str, nodes: list[PipelineNode], lines: dict[str, int]) -> PipelinePlan:
    """Names unique, needs known, placeholders needed, no cycle; the nodes in need order."""
    if not nodes:
        raise PipelineError("a pipeline needs at least one task")
    if len(nodes) > PIPELINE_MAX_NODES:
        raise PipelineError(f"a pipeline holds at most {PIPELINE_MAX_NODES} tasks ({len(nodes)} given)")
    by_name: dict[str, PipelineNode] = {}
    for node in nodes:
        if node.name in by_name:
            raise PipelineError(f"duplicate task name {node.name!r}: each task needs its own name")
        by_name[node.name] = node
    for node in nodes:
        where = _where(node.name, lines)
        for need in node.needs:
            if need == node.name:
                raise PipelineError(f"{where} needs itself")
            if need not in by_name:
                raise PipelineError(f"{where} needs {need!r}, which is no task of this pipeline "
                                    f"(its tasks: {', '.join(by_name)})")
        for ref, ref_field in references(node.spec):
            if ref_field not in FIELDS:
                raise PipelineError(f"{where}: {{{{ needs.{ref}.{ref_field} }}}}: only "
                                    f"{{{{ needs.NAME.result }}}} is known")
            if ref not in node.needs:
                raise PipelineError(f"{where} uses {{{{ needs.{ref}.result }}}} but does not need {ref!r}: "
                                    f"add it to its needs")
    order, depth = _order(by_name, lines)
    return PipelinePlan(name, [by_name[n] for n in order], depth)


def _order(by_name: dict[str, PipelineNode], lines: dict[str, int]) -> tuple[list[str], dict[str, int]]:
    """Kahn's order (file order among equals) and each node's depth; a cycle is named."""
    waiting = {n: set(node.needs) for n, node in by_name.items()}
    order: list[str] = []
    depth: dict[str, int] = {}
    while waiting:
        ready = [n for n, needs in waiting.items() if not needs - set(order)]
        if not ready:
            raise PipelineError(f"the needs form a cycle: {' -> '.join(_cycle(waiting))}"
                                f" ({_where(_cycle(waiting)[0], lines)})")
        for n in ready:
            depth[n] = 1 + max((depth[p] for p in by_name[n].needs), default=-1)
            order.append(n)
            del waiting[n]
    return order, depth


def _cycle(waiting: dict[str, set[str]]) -> list[str]:
    """One cycle among the nodes left (each of them needs another one left)."""
    path: list[str] = []
    node = next(iter(waiting))
    while node not in path:
        path.append(node)
        node = sorted(n for n in waiting[node] if n in waiting)[0]
    return path[path.index(node):] + [node]
