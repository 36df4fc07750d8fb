"""deploy/grafana-dashboard.json is valid JSON, takes its Prometheus datasource from a variable,
and queries only metrics the hub's /metrics serves (after a task ran, so every histogram has
its labelled series)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from .helpers import Api

DASHBOARD = Path(__file__).resolve().parents[3] / "deploy" / "grafana-dashboard.json"
METRIC = re.compile(r"\b(orchestratia_[a-z0-9_]+)\b")


def targets(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    return [t for panel in dashboard["panels"] for t in panel.get("targets", [])]


async def test_every_metric_the_dashboard_queries_is_served(api: Api) -> None:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    agent = await api.online("dev-1")
    task_id = await api.running_task(agent)
    await api.agent(agent, "POST", f"/tasks/{task_id}/complete", json={"result": {}})
    text = (await api.client.get("/metrics")).text
    served = {s.name for family in text_string_to_metric_families(text) for s in family.samples}
    queried = {name for t in targets(dashboard) for name in METRIC.findall(t["expr"])}
    assert queried, "the dashboard queries nothing"
    assert queried <= served, f"queried but not served: {sorted(queried - served)}"


def test_the_datasource_is_a_variable() -> None:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    for panel in dashboard["panels"]:
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        assert all(t["datasource"]["uid"] == "${datasource}" for t in panel["targets"]), panel["title"]
    assert len({p["id"] for p in dashboard["panels"]}) == len(dashboard["panels"])
    titles = " ".join(p["title"].lower() for p in dashboard["panels"])
    for topic in ("agents", "queue", "dispatch latency", "run duration", "output", "websockets", "errors"):
        assert topic in titles, topic
