"""The Costs page: daily budgets with today's spend, and cost and tokens by agent, day and label
(docs/dashboard.md). Read only; budgets are set with ``orchestratia budgets set``."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ._internal import call
from ._pages import page
from ._render import render
from ._session import page_base

router = APIRouter()
DAYS = (1, 7, 30, 90)


@router.get("/costs", include_in_schema=False)
@page
async def costs_page(request: Request) -> Response:
    base = await page_base(request, "costs")
    raw = request.query_params.get("days", "7")
    days = int(raw) if raw.isdigit() and int(raw) in DAYS else 7
    costs = await call(request, "GET", "/costs", params={"days": days})
    budgets = await call(request, "GET", "/budgets")
    return render(request, "costs.html", {**base, "costs": costs, "budgets": budgets, "days": days,
                                          "choices": DAYS})
