"""The task page's Branch card (_push.html): shown for a finished task on its own branch, with
the agent's (hostile) message as inert text; its no-JS forms queue the push through the admin
API with the session's CSRF token, and a refusal shows the reason."""

from __future__ import annotations

import re

from orchestratia.hub.session_cookies import csrf_for_session

from .api.admin.test_task_actions import WS, capable, finished_task
from .helpers import Api

HOSTILE = '<script>alert(1)</script> rejected'


async def test_the_branch_card_pushes_and_shows_the_outcome_as_text(api: Api) -> None:
    dev = await capable(api)
    task_id = await finished_task(api, dev)
    token = api.headers["Authorization"].split()[1]
    api.client.cookies.set("orc_session", token)
    try:
        page = (await api.client.get(f"/tasks/{task_id}")).text
        assert 'id="push-card"' in page and "Open PR" in page and WS["branch"] in page and "js/push.js" in page
        csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
        assert csrf == csrf_for_session(token)
        sent = await api.client.post(f"/tasks/{task_id}/push", data={"csrf": csrf, "pr": "1"})
        assert sent.status_code == 303
        action = (await api.admin("GET", f"/tasks/{task_id}"))["workspace_action"]
        assert action["kind"] == "push" and action["pr"] is True and action["status"] == "pending"
        await api.agent(dev, "POST", f"/workspace-actions/{action['id']}", json={"ok": False, "message": HOSTILE})
        page = (await api.client.get(f"/tasks/{task_id}")).text
        assert "Push failed: &lt;script&gt;alert(1)&lt;/script&gt; rejected" in page and HOSTILE not in page
        again = await api.client.post(f"/tasks/{task_id}/discard", data={"csrf": "wrong"})
        assert again.status_code == 403
    finally:
        api.client.cookies.clear()


async def test_no_branch_card_for_a_task_without_its_own_branch(api: Api) -> None:
    dev = await capable(api)
    task_id = await finished_task(api, dev, workspace=None)
    api.client.cookies.set("orc_session", api.headers["Authorization"].split()[1])
    try:
        assert 'id="push-card"' not in (await api.client.get(f"/tasks/{task_id}")).text
    finally:
        api.client.cookies.clear()
