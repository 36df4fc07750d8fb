"""The dashboard's new-task form sends labels, priority and group; the Agents page has the
Labels column (its rows are built in agents.js from the API's labels and auto_labels)."""

from __future__ import annotations

import re

from orchestratia.hub.session_cookies import csrf_for_session

from .helpers import Api


async def test_new_task_form_labels_priority_group(api: Api) -> None:
    token = api.headers["Authorization"].split()[1]
    api.client.cookies.set("orc_session", token)
    try:
        page = await api.client.get("/tasks/new")
        assert 'name="labels"' in page.text and 'name="priority"' in page.text and 'name="group"' in page.text
        form = {"csrf": csrf_for_session(token), "title": "gpu job", "spec": "train", "labels": "gpu, zone=eu gpu",
                "priority": "high", "group": "claude-team"}
        made = await api.client.post("/tasks/new", data=form)
        assert made.status_code == 303, made.text
        bad = await api.client.post("/tasks/new", data={**form, "labels": "gpu <b>x</b>"})
        assert bad.status_code == 422 and "is not a label" in bad.text and "<b>x</b>" not in bad.text
        shown = await api.client.get(made.headers["location"])
        assert "high priority" in shown.text and "gpu, zone=eu" in shown.text and "claude-team" in shown.text
        again = await api.client.get(f"{made.headers['location'].replace('/tasks/', '/tasks/new?from=')}")
        assert re.search(r'name="labels"[^>]*value="gpu, zone=eu"', again.text)
        agents = await api.client.get("/agents")
        assert '<th scope="col">Labels</th>' in agents.text
    finally:
        api.client.cookies.clear()
    task = (await api.admin("GET", "/tasks"))[0]
    assert (task["labels"], task["priority"], task["group"]) == (["gpu", "zone=eu"], "high", "claude-team")
