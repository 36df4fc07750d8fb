"""A question whose asker stopped waiting (``orchestratia ask --timeout``) is withdrawn on the
real hub by the real daemon's relay: the human sees it closed, and a late answer is refused with
a 409 that says why (admin API and CLI)."""

from __future__ import annotations

import shlex

import pytest

from integration_harness import ORCHESTRATIA, Agent, Cli, Hub, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

ASK = shlex.quote(ORCHESTRATIA) + " ask"


def test_a_question_nobody_answered_in_time_is_withdrawn(hub: Hub, cli: Cli, agent: Agent) -> None:
    spec = f'{ASK} "Anyone there?" --timeout 0.02; echo "rc=$?"'  # 1.2 s
    task_id = cli.create_task(spec, agent.name, "work", "withdraw", "--runner", "shell")["id"]
    task = hub.wait_final(task_id, timeout=60)
    assert task["status"] == "completed" and "rc=4" in hub.output(task_id).decode()  # 4: no answer in time

    def withdrawn() -> list[dict]:
        items = [i for i in hub.api("GET", "/interventions").json() if i["task_id"] == task_id]
        return items if items and all(i["status"] == "withdrawn" for i in items) else []

    (item,) = wait_for(withdrawn, 30, "the question withdrawn on the hub")
    assert item["question"] == "Anyone there?" and item["withdrawn_at"] and item["response"] is None
    assert not [i for i in hub.api("GET", "/interventions", params={"status": "pending"}).json()
                if i["task_id"] == task_id]
    late = hub.api("POST", f"/interventions/{item['id']}/answer", json={"response": "me, too late"})
    assert late.status_code == 409 and "stopped waiting" in late.json()["detail"]
    again = cli.run("interventions", "answer", item["id"], "late", check=False)
    assert again.returncode != 0 and "stopped waiting" in (again.stderr + again.stdout)
