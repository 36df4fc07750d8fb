"""hypothesis: what the store cannot hold, on SQLite and PostgreSQL. JSON bodies whose text has
NUL and lone surrogates, and whose numbers run past int32 and int64, go to every endpoint that
stores client text or JSON (an agent's fail / complete / help / heartbeat / register, the
admin's task and token creation). The hub never answers 5xx; what it accepts it stores with NUL
and lone surrogates as U+FFFD and reads back; what it refuses (422) changed nothing; and every
list stays readable. (schemathesis, in ``test_schemathesis.py``, only sends valid Unicode and
runs on SQLite.)"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from pathlib import Path
from typing import Any, Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hubapp import V1, World, build_world, make_client
from orchestratia.hub.json_safety import UnsafeBody, clean_parsed, suspect

pytestmark = pytest.mark.timeout(300)

FUZZ = settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
ODD = ["\x00", "\ud800", "\udbff", "\udc00", "\udfff"]
BIG = [2**31 - 1, 2**31, -(2**31) - 1, 2**63 - 1, 2**63, -(2**63) - 1, 10**30]

chars = st.one_of(st.characters(), st.sampled_from(ODD))
texts = st.lists(chars, max_size=12).map("".join)
ints = st.one_of(st.integers(), st.sampled_from(BIG))
floats = st.one_of(st.floats(allow_nan=False, allow_infinity=False), st.sampled_from([1e308, -1e308, 5e-324, 1e-300]))
scalars = st.one_of(st.none(), st.booleans(), ints, floats, texts)
values = st.recursive(scalars, lambda kids: st.lists(kids, max_size=4) | st.dictionaries(texts, kids, max_size=4),
                      max_leaves=12)
objects = st.dictionaries(texts, values, max_size=5)


def stored_as(text: str) -> str:
    """What the hub should keep of ``text`` sent as JSON: the JSON parser joins an escaped
    surrogate pair into one character; NUL and lone surrogates left become U+FFFD."""
    return re.sub("[\x00\ud800-\udfff]", "\ufffd", json.loads(json.dumps(text)))


def fits_int64(value: Any) -> bool:
    if isinstance(value, bool) or value is None or isinstance(value, (str, float)):
        return True
    if isinstance(value, int):
        return -(2**63) <= value < 2**63
    items = value.items() if isinstance(value, dict) else enumerate(value)
    return all(fits_int64(v) for _, v in items)


def _drop_schema(url: str, schema: str) -> None:
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    async def drop() -> None:
        engine = create_async_engine(url)
        try:
            async with engine.begin() as conn:
                await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        finally:
            await engine.dispose()

    asyncio.run(drop())


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    overrides: dict[str, Any] = {}
    if request.param == "postgres":
        url = request.getfixturevalue("postgres_url")
        overrides = {"database_url": url, "database_schema": "fz_" + uuid.uuid4().hex[:12]}
    try:
        with make_client(Path(tmp_path_factory.mktemp("unstorable")), **overrides) as client:
            yield build_world(client)
    finally:
        if overrides:
            _drop_schema(overrides["database_url"], overrides["database_schema"])


def post_json(w: World, path: str, body: Any, headers: dict[str, str]) -> Any:
    r = w.client.post(path, content=json.dumps(body), headers={**headers, "content-type": "application/json"})
    assert r.status_code < 500, f"{path} {json.dumps(body)[:300]} -> {r.status_code} {r.text[:300]}"
    return r


def running_task(w: World) -> str:
    task_id = w.create_task("fz-" + uuid.uuid4().hex[:8], "alice")
    assert w.agent("POST", f"/tasks/{task_id}/start", "alice", json={}).status_code == 200
    return task_id


def lists_still_read(w: World) -> None:
    for path in ("/tasks?limit=1000", "/agents", "/interventions", "/tokens"):
        r = w.admin("GET", path)
        assert r.status_code == 200, f"GET {path} -> {r.status_code} {r.text[:300]}"


@given(value=values, ensure_ascii=st.booleans(), deep=st.integers(0, 140),
       constant=st.sampled_from(["", "NaN", "Infinity", "-Infinity", "1e400", "-1E+999"]))
@settings(max_examples=300, deadline=None, database=None)
def test_the_fast_path_misses_nothing(value: Any, ensure_ascii: bool, deep: int, constant: str) -> None:
    """A body that ``suspect`` lets through unread is one the full check would pass unchanged."""
    if constant:
        value = [value, "@"]
    text = json.dumps(value, ensure_ascii=ensure_ascii)
    if constant:
        text = text.replace('"@"', constant)
    try:
        body = ("[" * deep + text + "]" * deep).encode("utf-8")
    except UnicodeEncodeError:  # a raw surrogate: not UTF-8, refused before this check (400)
        return
    if suspect(body):
        return
    try:
        assert clean_parsed(body) == body
    except UnsafeBody as exc:
        raise AssertionError(f"not suspected, but refused: {exc.detail}") from None


@given(error=texts, exit_code=st.one_of(st.none(), ints), result=st.one_of(st.none(), objects))
@FUZZ
def test_a_fail_report(world: World, error: str, exit_code: int | None, result: dict | None) -> None:
    task_id = running_task(world)
    body = {"error": error, "exit_code": exit_code, "result": result}
    r = post_json(world, f"{V1}/tasks/{task_id}/fail", body, {"X-API-Key": world.keys["alice"]})
    task = world.admin("GET", f"/tasks/{task_id}").json()
    if r.status_code == 200:
        assert task["status"] == "failed" and task["error"] == (stored_as(error) or task["error"])
        assert task["exit_code"] == exit_code
    else:
        assert r.status_code == 422 and task["status"] == "running", r.text
        past_int32 = exit_code is not None and not -(2**31) <= exit_code < 2**31  # PostgreSQL's column
        assert not fits_int64(body) or past_int32, r.text
    lists_still_read(world)


@given(result=objects)
@FUZZ
def test_a_complete_report(world: World, result: dict) -> None:
    task_id = running_task(world)
    r = post_json(world, f"{V1}/tasks/{task_id}/complete", {"result": result}, {"X-API-Key": world.keys["alice"]})
    task = world.admin("GET", f"/tasks/{task_id}").json()
    assert task["status"] == ("completed" if r.status_code == 200 else "running"), r.text
    if r.status_code == 200:
        assert set(task["result"]) == {stored_as(k) for k in result}
    else:
        assert r.status_code == 422 and not fits_int64(result), r.text
    lists_still_read(world)


@given(question=texts.filter(bool), context=texts, tool_input=values)
@FUZZ
def test_a_help_request(world: World, question: str, context: str, tool_input: Any) -> None:
    task_id = running_task(world)
    body = {"question": question, "context": context, "kind": "approval", "tool_name": "Bash", "tool_input": tool_input}
    r = post_json(world, f"{V1}/tasks/{task_id}/help", body, {"X-API-Key": world.keys["alice"]})
    if r.status_code == 201:
        shown = world.admin("GET", "/interventions").json()
        assert any(i["id"] == r.json()["id"] and i["question"] == stored_as(question) for i in shown)
    else:
        assert r.status_code == 422 and not fits_int64(tool_input), r.text
    lists_still_read(world)


@given(system_info=objects, agent_version=texts)
@FUZZ
def test_a_heartbeat_then_another_agents_contact_is_still_stored(world: World, system_info: dict, agent_version: str) -> None:
    r = post_json(world, f"{V1}/heartbeat", {"system_info": system_info, "agent_version": agent_version[:100]},
                  {"X-API-Key": world.keys["alice"]})
    assert r.status_code == 200 or (r.status_code == 422 and not fits_int64(system_info)), r.text
    marker = uuid.uuid4().hex
    assert post_json(world, f"{V1}/heartbeat", {"system_info": {"m": marker}}, {"X-API-Key": world.keys["bob"]}).status_code == 200
    bob = world.admin("GET", "/agents/bob")  # an admin read writes the pending contacts first
    assert bob.status_code == 200 and bob.json()["system_info"] == {"m": marker}, bob.text
    lists_still_read(world)


@given(title=texts.filter(bool), spec=texts.filter(bool), repo=texts, label=texts)
@FUZZ
def test_admin_text(world: World, title: str, spec: str, repo: str, label: str) -> None:
    headers = {"Authorization": f"Bearer {world.admin_token}"}
    r = post_json(world, "/api/admin/tasks", {"title": title, "spec": spec, "target_repo": repo}, headers)
    assert r.status_code == 201 and r.json()["title"] == stored_as(title) and r.json()["spec"] == stored_as(spec), r.text
    r = post_json(world, "/api/admin/tokens", {"label": label, "expires_in": "30m"}, headers)
    assert r.status_code == 201 and r.json()["label"] == stored_as(label), r.text
    lists_still_read(world)


@given(hostname=texts, labels=st.lists(texts, max_size=3), repos=st.dictionaries(texts, texts, max_size=3))
@FUZZ
def test_a_registration(world: World, hostname: str, labels: list[str], repos: dict[str, str]) -> None:
    token = world.new_token("fz")
    body = {"name": "fz-" + uuid.uuid4().hex[:8], "hostname": hostname, "labels": labels, "repos": repos,
            "registration_token": token}
    r = post_json(world, f"{V1}/register", body, {})
    assert r.status_code == 200, r.text
    shown = world.admin("GET", f"/agents/{body['name']}").json()
    assert shown["hostname"] == stored_as(hostname) and shown["labels"] == [stored_as(x) for x in labels]
    lists_still_read(world)
