"""Input the store cannot hold, on SQLite and PostgreSQL: never a 500, nothing stored is lost.

Each test is a bug found by probing a live hub (all answered 500 before, some also broke every
later read): NUL (PostgreSQL text cannot hold it), lone surrogates (no store can encode them,
orjson cannot write them back), integers past 64 bits, NaN / 1e400, deep nesting, a NUL in a
URL, and a value too large for its column (``exit_code`` past int32, a hostname past
varchar(500) on PostgreSQL)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import update

from orchestratia.hub.task_output import sse
from orchestratia.hub.api.middleware import clean_body
from orchestratia.hub.store.models import Task

from .helpers import V1, Api

FFFD = "\ufffd"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


async def post_raw(api: Api, path: str, raw: str, headers: dict[str, str]) -> Any:
    return await api.client.post(path, content=raw.encode(), headers={**headers, "content-type": "application/json"})


async def test_nul_and_lone_surrogates_in_a_report_are_stored_as_replacement_characters(api: Api) -> None:
    agent = await api.online()
    task_id = await api.running_task(agent)
    raw = '{"error": "boom\\u0000\\ud800!", "result": {"k\\u0000": ["\\udfff", "ok \\ud83d\\ude00"]}}'
    r = await post_raw(api, f"{V1}/tasks/{task_id}/fail", raw, agent["headers"])
    assert r.status_code == 200, r.text
    task = await api.admin("GET", f"/tasks/{task_id}")
    assert task["status"] == "failed"
    assert task["error"] == f"boom{FFFD}{FFFD}!"
    assert task["result"] == {f"k{FFFD}": [FFFD, "ok \U0001F600"]}  # a valid pair is kept


async def test_nul_in_help_heartbeat_registration_and_admin_text(api: Api) -> None:
    agent = await api.online()
    task_id = await api.running_task(agent)
    r = await post_raw(api, f"{V1}/tasks/{task_id}/help", '{"question": "a\\u0000b", "context": "\\u0000"}', agent["headers"])
    assert r.status_code == 201, r.text
    r = await post_raw(api, f"{V1}/heartbeat", '{"system_info": {"\\u0000": "\\ud800"}, "agent_version": "1\\u0000"}',
                       agent["headers"])
    assert r.status_code == 200, r.text
    shown = await api.admin("GET", f"/agents/{agent['name']}")
    assert shown["system_info"] == {FFFD: FFFD} and shown["agent_version"] == f"1{FFFD}"
    token = await api.token("x")
    raw = f'{{"name": "n\\u0000", "hostname": "h\\u0000", "registration_token": "{token}"}}'
    assert (await post_raw(api, f"{V1}/register", raw, {})).json()["name"] == f"n{FFFD}"
    created = await post_raw(api, "/api/admin/tasks", '{"title": "t\\u0000", "spec": "\\ud800"}', api.headers)
    assert created.status_code == 201 and created.json()["title"] == f"t{FFFD}" and created.json()["spec"] == FFFD
    items = await api.admin("GET", "/interventions")
    assert any(i["question"] == f"a{FFFD}b" for i in items)


@pytest.mark.parametrize(
    "raw, says",
    [
        ('{"error": "x", "exit_code": 9223372036854775808}', "does not fit in 64 bits"),
        ('{"error": "x", "exit_code": -9223372036854775809}', "does not fit in 64 bits"),
        ('{"error": "x", "result": {"n": 100000000000000000000000000000}}', "does not fit in 64 bits"),
        ('{"error": "x", "result": {"n": NaN}}', "NaN is not a JSON number"),
        ('{"error": "x", "result": {"n": -Infinity}}', "Infinity is not a JSON number"),
        ('{"error": "x", "result": {"n": 1e400}}', "too large for a 64-bit float"),
        ('{"error": "x", "result": {"n": ' + "[" * 200 + "]" * 200 + "}}", "nested deeper than 128 levels"),
    ],
)
async def test_numbers_and_nesting_the_store_cannot_hold_are_422_and_change_nothing(api: Api, raw: str, says: str) -> None:
    agent = await api.online()
    task_id = await api.running_task(agent)
    r = await post_raw(api, f"{V1}/tasks/{task_id}/fail", raw, agent["headers"])
    assert r.status_code == 422 and says in r.json()["detail"], r.text
    assert (await api.admin("GET", f"/tasks/{task_id}"))["status"] == "running"
    r = await post_raw(api, f"{V1}/tasks/{task_id}/fail", '{"error": "x", "exit_code": 3}', agent["headers"])
    assert r.status_code == 200 and (await api.admin("GET", f"/tasks/{task_id}"))["exit_code"] == 3


async def test_an_exit_code_past_int32_is_never_a_500(api: Api, backend: str) -> None:
    """PostgreSQL's ``exit_code`` column is int32: there the report is refused (422, the
    database's reason, or the route's own check naming ``exit_code``) and the task is
    unchanged; SQLite may store it."""
    agent = await api.online()
    task_id = await api.running_task(agent)
    r = await post_raw(api, f"{V1}/tasks/{task_id}/fail", '{"error": "x", "exit_code": 2147483648}', agent["headers"])
    task = await api.admin("GET", f"/tasks/{task_id}")
    if r.status_code == 422:
        detail = r.json()["detail"]
        assert "cannot be stored" in detail and "nothing was changed" in detail or "exit_code" in detail, detail
        assert task["status"] == "running"
    else:
        assert r.status_code == 200 and task["exit_code"] == 2147483648 and backend == "sqlite", r.text


async def test_a_value_longer_than_its_column_is_never_a_500(api: Api, backend: str) -> None:
    token = await api.token("long")
    r = await api.client.post(f"{V1}/register", json={"name": "long-host", "hostname": "h" * 600, "registration_token": token})
    if backend == "postgres" or r.status_code == 422:
        assert r.status_code == 422 and ("value too long" in r.text or "hostname" in r.text), r.text
        assert all(a["name"] != "long-host" for a in await api.admin("GET", "/agents"))
    else:
        assert r.status_code == 200, r.text


@pytest.mark.parametrize("path", ["/api/admin/agents/%00", "/api/admin/tasks?agent=a%00", "/api/admin/interventions?status=%00"])
async def test_a_nul_in_the_url_is_400(api: Api, path: str) -> None:
    r = await api.client.get(path, headers=api.headers)
    assert r.status_code == 400 and "NUL" in r.json()["detail"]


def test_a_nul_in_a_form_becomes_a_replacement_character() -> None:
    """The dashboard's forms (PostgreSQL cannot store NUL): ``%00`` or a raw NUL -> U+FFFD."""
    form = "application/x-www-form-urlencoded"
    assert clean_body(form, b"title=a%00b&spec=\x00") == b"title=a%EF%BF%BDb&spec=%EF%BF%BD"
    assert clean_body(form, b"title=a%2500") == b"title=a%2500"  # a literal "%00" typed in the form is text
    assert clean_body(form, b"title=ok") == b"title=ok"


async def test_rows_stored_before_these_rules_can_still_be_read(api: Api, hub, backend: str) -> None:
    """A result with an integer past 64 bits (and, on SQLite, a lone surrogate) stored by an
    older hub made every task list a 500 (orjson refuses both): now they are written back."""
    agent = await api.online()
    task_id = await api.running_task(agent)
    result: dict[str, Any] = {"big": 10**30, "deep": [[[1]]]}
    if backend == "sqlite":  # PostgreSQL's json type itself refuses a lone surrogate
        result["odd\ud800"] = "\udfff"
    async with hub.store.write() as session:
        await session.execute(update(Task).where(Task.id == task_id).values(result=result))
    shown = await api.admin("GET", f"/tasks/{task_id}")
    assert shown["result"]["big"] == 10**30 and shown["result"]["deep"] == [[[1]]]
    if backend == "sqlite":
        assert shown["result"][f"odd{FFFD}"] == FFFD
    assert any(t["id"] == task_id for t in await api.admin("GET", "/tasks"))
    assert b'"big":1000000000000000000000000000000' in sse("status", shown)
