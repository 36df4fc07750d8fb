"""The task page's reply box (templates/_reply.html, POST /tasks/{id}/reply): shown once the
task has ended, a reply opens the new task's page, a refused one says why."""

from __future__ import annotations

import re

from orchestratia.hub.session_cookies import csrf_for_session

from .helpers import Api, agent_and_running_task


async def test_reply_box_posts_a_reply_and_opens_it(api: Api) -> None:
    agent, task = await agent_and_running_task(api)
    token = api.headers["Authorization"].split()[1]
    api.client.cookies.set("orc_session", token)
    csrf = csrf_for_session(token)
    try:
        page = await api.client.get(f"/tasks/{task['id']}")
        assert 'id="reply-form"' in page.text and re.search(r'id="reply-form"[^>]*hidden', page.text)
        assert "js/reply.js" in page.text
        refused = await api.client.post(f"/tasks/{task['id']}/reply", data={"csrf": csrf, "message": "more"})
        assert refused.status_code == 409 and "Reply not sent" in refused.text and "is running" in refused.text
        await api.agent(agent, "POST", f"/tasks/{task['id']}/complete", json={"result": {}})
        page = await api.client.get(f"/tasks/{task['id']}")
        assert not re.search(r'id="reply-form"[^>]*hidden', page.text)
        forged = await api.client.post(f"/tasks/{task['id']}/reply", data={"csrf": "nope", "message": "x"})
        assert forged.status_code == 403
        sent = await api.client.post(f"/tasks/{task['id']}/reply", data={"csrf": csrf, "message": "<b>more</b>"})
        assert sent.status_code == 303
        reply_id = sent.headers["location"].rsplit("/", 1)[1]
        reply = await api.admin("GET", f"/tasks/{reply_id}")
        assert reply["parent_id"] == task["id"] and reply["spec"] == "<b>more</b>"
        shown = await api.client.get(f"/tasks/{reply_id}")
        assert "&lt;b&gt;more&lt;/b&gt;" in shown.text and "<b>more</b>" not in shown.text
    finally:
        api.client.cookies.clear()
