"""The pipeline file's checks (what a person is told, and that it names the task and line) and
the ``{{ needs.NAME.result }}`` substitution."""

from __future__ import annotations

import pytest

from orchestratia.protocol.pipelines import PipelineCreate, PipelineNode
from orchestratia.hub.pipelines.spec import PipelineError, plan
from orchestratia.hub.pipelines.substitute import references, result_text, substitute

GOOD = """\
name: release
tasks:
  build:
    spec: build
    repo: api
    runner: shell
    timeout_minutes: 5
  lint:
    needs: build
    spec: "lint {{ needs.build.result }}"
  test: {needs: [build], spec: test}
  package:
    needs: [test, lint]
    spec: "{{needs.lint.result}} / {{ needs.test.result }}"
  publish: {needs: [package], spec: publish, title: Publish it}
"""


def _error(yaml_text: str) -> str:
    with pytest.raises(PipelineError) as caught:
        plan(PipelineCreate(yaml=yaml_text))
    return str(caught.value)


def test_a_good_file_gives_nodes_in_need_order_with_depths() -> None:
    checked = plan(PipelineCreate(yaml=GOOD))
    assert checked.name == "release"
    assert [n.name for n in checked.nodes] == ["build", "lint", "test", "package", "publish"]
    assert checked.depth == {"build": 0, "lint": 1, "test": 1, "package": 2, "publish": 3}
    build = checked.nodes[0]
    assert (build.target_repo, build.runner, build.timeout_minutes, build.title) == ("api", "shell", 5, None)
    assert checked.nodes[1].needs == ["build"]  # one name is a list of one
    assert checked.nodes[-1].title == "Publish it"


def test_the_name_defaults_to_the_one_the_cli_sends() -> None:
    assert plan(PipelineCreate(yaml="tasks: {a: {spec: x}}", name="from-file")).name == "from-file"
    assert plan(PipelineCreate(yaml="name: inside\ntasks: {a: {spec: x}}", name="from-file")).name == "inside"


def test_parsed_json_is_checked_the_same_way() -> None:
    nodes = [PipelineNode(name="b", spec="y", needs=["a"]), PipelineNode(name="a", spec="x")]
    assert [n.name for n in plan(PipelineCreate(name="p", tasks=nodes)).nodes] == ["a", "b"]
    dup = [PipelineNode(name="a", spec="x"), PipelineNode(name="a", spec="y")]
    with pytest.raises(PipelineError, match="duplicate task name 'a'"):
        plan(PipelineCreate(name="p", tasks=dup))


@pytest.mark.parametrize(("text", "message"), [
    ("tasks:\n  a: {spec: x}\n  b: {spec: y}\n  a: {spec: z}\n",
     "duplicate task name 'a' at lines 2 and 4: each task needs its own name"),
    ("tasks:\n  a: {spec: x}\n  b: {spec: y, needs: [a, c]}\n",
     "task 'b' (line 3) needs 'c', which is no task of this pipeline (its tasks: a, b)"),
    ("tasks:\n  a: {spec: x, needs: a}\n", "task 'a' (line 2) needs itself"),
    ("tasks:\n  a: {spec: x, needs: c}\n  b: {spec: y, needs: a}\n  c: {spec: z, needs: b}\n  d: {spec: w}\n",
     "the needs form a cycle: a -> c -> b -> a (task 'a' (line 2))"),
    ("tasks:\n  a: {spec: x}\n  b: {spec: '{{ needs.a.result }}'}\n",
     "task 'b' (line 3) uses {{ needs.a.result }} but does not need 'a': add it to its needs"),
    ("tasks:\n  a: {spec: x}\n  b: {needs: a, spec: '{{ needs.a.output }}'}\n",
     "task 'b' (line 3): {{ needs.a.output }}: only {{ needs.NAME.result }} is known"),
    ("tasks:\n  a: {spec: x, need: [b]}\n", "task 'a' (line 2): unknown key 'need'"),
    ("tasks:\n  a: {spec: x, after: [b]}\n", "task 'a' (line 2): after:"),
    ("tasks:\n  a: {title: no spec}\n", "task 'a' (line 2): spec: Field required"),
    ("tasks:\n  a: {spec: x, timeout_minutes: 0}\n", "task 'a' (line 2): timeout_minutes: Input should be greater than 0"),
    ("tasks:\n  a b: {spec: x}\n", "task 'a b' (line 2): a name is letters, digits"),
    ("tasks:\n  a: just text\n", "task 'a' (line 2): a task is a mapping with at least 'spec'"),
    ("tasks: {a: {spec: x}\n", "not valid YAML: "),
    ("tasks:\n  a: !!python/object/apply:os.system [echo hi]\n", "not valid YAML: could not determine a constructor"),
    ("- a\n- b\n", "a pipeline file is a mapping with 'name' and 'tasks'"),
    ("name: x\n", "'tasks' must be a mapping of task names to tasks"),
    ("tasks: []\n", "'tasks' must be a mapping"),
    ("name: x\njobs: {a: {spec: x}}\n", "unknown key 'jobs' at the top of the file: use name, tasks"),
    ("name: [1]\ntasks: {a: {spec: x}}\n", "'name' must be a text"),
    ("tasks: {null: {spec: x}}\n", "task name None is not a name"),
    ("tasks: {a: {spec: x, 1: y}}\n", "task 'a' (line 1): 1: Keys should be strings"),
    ("[" * 5000 + "]" * 5000, "not valid YAML: nested too deeply"),
])
def test_bad_files_are_refused_with_what_to_fix(text: str, message: str) -> None:
    assert message in _error(text)


def test_text_the_store_cannot_hold_is_replaced() -> None:
    checked = plan(PipelineCreate(yaml='tasks: {a: {spec: "nul \\0 and \\ud800 here"}}'))
    assert checked.nodes[0].spec == "nul \ufffd and \ufffd here"


def test_the_yaml_error_names_its_line() -> None:
    assert _error("tasks:\n  a: {spec: x}\n  b: [unclosed\n").endswith("at line 4")


def test_both_or_neither_form_is_refused() -> None:
    with pytest.raises(PipelineError, match="either yaml"):
        plan(PipelineCreate(yaml="tasks: {a: {spec: x}}", tasks=[PipelineNode(name="a", spec="x")]))
    with pytest.raises(PipelineError, match="a pipeline needs tasks"):
        plan(PipelineCreate())


def test_substitution_is_plain_replacement_once() -> None:
    spec = "a={{ needs.a.result }} b={{needs.b.result}} again={{  needs.a.result  }} other={{ needs.c.result }}"
    out = substitute(spec, {"a": "ALPHA {{ needs.b.result }}", "b": "$(rm -rf /) {% x %}"})
    assert out == ("a=ALPHA {{ needs.b.result }} b=$(rm -rf /) {% x %} again=ALPHA {{ needs.b.result }} "
                   "other={{ needs.c.result }}")  # inserted text is never expanded; unknown names stay
    assert references(spec) == [("a", "result"), ("b", "result"), ("a", "result"), ("c", "result")]


def test_result_text_is_the_summary() -> None:
    assert result_text({"summary": "done", "exit_code": 0}) == "done"
    assert result_text({"output_lines": 3}) == ""  # a v1 daemon's result
    assert result_text(None) == ""
    assert result_text({"summary": 42}) == ""


def test_the_documented_example_is_a_valid_pipeline() -> None:
    from pathlib import Path

    example = Path(__file__).resolve().parents[4] / "docs" / "examples" / "pipeline.yaml"
    checked = plan(PipelineCreate(yaml=example.read_text()))
    assert checked.depth == {"build": 0, "lint": 1, "test": 1, "package": 2, "notes": 3}
