"""Admin API: daily budgets (``GET``/``PUT``/``DELETE /budgets``) and cost sums (``GET /costs``).
docs/admin-api.md; the rules are in ``hub/budgets.py``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, Response
from sqlalchemy import select

from orchestratia.protocol.admin import BudgetSet
from orchestratia.hub.api.deps import get_hub
from orchestratia.hub.budgets import budget_rows, cost_items, days_since, spent_today
from orchestratia.hub.costs import Sum, sum_costs
from orchestratia.hub.runtime import Runtime
from orchestratia.hub.states import kick
from orchestratia.hub.store.models import Budget, utcnow

#: the longest window ``GET /costs`` sums (runs are read whole for it)
COSTS_MAX_DAYS = 366


def add_routes(api: APIRouter) -> None:
    api.add_api_route("/budgets", list_budgets, methods=["GET"])
    api.add_api_route("/budgets", set_budget, methods=["PUT"])
    api.add_api_route("/budgets", delete_budget, methods=["DELETE"], status_code=204, response_class=Response)
    api.add_api_route("/costs", get_costs, methods=["GET"])


def _view(budget: Budget, spent: dict[str, float]) -> dict[str, Any]:
    used = round(spent.get(budget.label, 0.0), 6)
    return {"label": budget.label, "daily_usd": budget.daily_usd, "spent_today_usd": used,
            "reached": used >= budget.daily_usd}


async def list_budgets(hub: Runtime = Depends(get_hub)) -> list[dict[str, Any]]:
    async with hub.store.read() as session:
        rows = await budget_rows(session)
        spent = await spent_today(session, utcnow()) if rows else {}
    return [_view(b, spent) for b in rows]


async def set_budget(body: BudgetSet, hub: Runtime = Depends(get_hub)) -> dict[str, Any]:
    """Create or change the budget of ``label`` ('' hub-wide). A higher limit lets waiting tasks
    go (the scheduler runs a pass after the commit); the admin is told again if it is reached."""
    now = utcnow()
    async with hub.store.write() as session:
        budget = (await session.execute(select(Budget).where(Budget.label == body.label))).scalar_one_or_none()
        if budget is None:
            budget = Budget(label=body.label, created_at=now)
            session.add(budget)
        budget.daily_usd, budget.updated_at, budget.notified_on = body.daily_usd, now, None
        await session.flush()
        kick(session)
        view = _view(budget, await spent_today(session, now))
    return view


async def delete_budget(label: str = Query(default="", max_length=200), hub: Runtime = Depends(get_hub)) -> None:
    async with hub.store.write() as session:
        budget = (await session.execute(select(Budget).where(Budget.label == label))).scalar_one_or_none()
        if budget is None:
            what = f"for label {label!r}" if label else "hub-wide"
            raise HTTPException(404, detail=f"no budget {what}: see GET /api/admin/budgets")
        await session.delete(budget)
        kick(session)


def _rows(sums: dict[str, Sum]) -> list[dict[str, Any]]:
    return [{"key": key, "cost_usd": round(s.cost_usd, 6), "input_tokens": s.input_tokens,
             "output_tokens": s.output_tokens, "runs": s.runs}
            for key, s in sorted(sums.items(), key=lambda kv: (-kv[1].cost_usd, kv[0]))]


async def get_costs(days: int = Query(default=7, ge=1, le=COSTS_MAX_DAYS),
                    hub: Runtime = Depends(get_hub)) -> dict[str, Any]:
    """Cost and tokens of the runs that ended in the last ``days`` UTC days (today included),
    summed by agent, by day (newest first) and by label."""
    async with hub.store.read() as session:
        sums = sum_costs(await cost_items(session, days_since(utcnow(), days)))
    by_day = sorted(_rows(sums.by_day), key=lambda r: r["key"], reverse=True)
    return {"days": days, "total_usd": round(sums.total.cost_usd, 6), "by_agent": _rows(sums.by_agent),
            "by_day": by_day, "by_label": _rows(sums.by_label)}
