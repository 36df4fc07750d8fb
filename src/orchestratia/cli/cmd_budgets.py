"""``orchestratia budgets`` (set, list, delete daily budgets) and ``orchestratia costs``
(cost and tokens by agent, day and label). docs/cli.md, docs/scheduling.md "Budgets"."""

from __future__ import annotations

from typing import Annotated, Any, Optional

import typer

from . import render
from .common import client
from .errors import CliError, guard
from .task_retries import money

app = typer.Typer(help="Daily budgets: set, list, delete.", no_args_is_help=True)
ADMIN = "/api/admin"


def _row(b: dict[str, Any]) -> list[Any]:
    reached = render.text("reached", "red") if b.get("reached") else render.text("ok", "green")
    return [b.get("label") or "(hub-wide)", money(b.get("daily_usd")), money(b.get("spent_today_usd")), reached]


@app.command("set")
@guard
def set_(
    daily: Annotated[float, typer.Option("--daily", help="The limit in USD per UTC day")],
    label: Annotated[Optional[str], typer.Option("--label", "-l", help="Only tasks with this label (default: hub-wide)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Set a daily budget: once today's runs cost that much, new tasks wait until tomorrow (UTC)."""
    if not daily > 0:
        raise CliError("--daily must be a positive amount in USD, e.g. --daily 50")
    with client() as hub:
        budget = hub.json("PUT", f"{ADMIN}/budgets", json={"daily_usd": daily, "label": label or ""})
    if as_json:
        render.print_json(budget)
        return
    render.table(["LABEL", "DAILY", "SPENT TODAY", "STATE"], [_row(budget)])


@app.command("list")
@guard
def list_(as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False) -> None:
    """List the daily budgets with today's spend."""
    with client() as hub:
        budgets = hub.json("GET", f"{ADMIN}/budgets")
    if as_json:
        render.print_json(budgets)
        return
    if not budgets:
        render.info("No budget set (orchestratia budgets set --daily 50 [--label L]).")
        return
    render.table(["LABEL", "DAILY", "SPENT TODAY", "STATE"], (_row(b) for b in budgets))


@app.command("delete")
@guard
def delete(label: Annotated[Optional[str], typer.Option("--label", "-l", help="The label's budget (default: the hub-wide one)")] = None) -> None:
    """Delete a daily budget."""
    with client() as hub:
        hub.json("DELETE", f"{ADMIN}/budgets", params={"label": label or ""})
    render.success(f"Budget {'for label ' + label if label else 'hub-wide'} deleted.")


def _sum_rows(rows: list[dict[str, Any]]) -> list[list[Any]]:
    return [[r.get("key"), money(r.get("cost_usd")), str(r.get("input_tokens")), str(r.get("output_tokens")),
             str(r.get("runs"))] for r in rows]


@guard
def costs(
    days: Annotated[int, typer.Option("--days", help="The last N UTC days, today included")] = 7,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Cost and tokens the runs reported, by agent, day and label."""
    if days < 1:
        raise CliError("--days must be at least 1")
    with client() as hub:
        data = hub.json("GET", f"{ADMIN}/costs", params={"days": days})
    if as_json:
        render.print_json(data)
        return
    head = ["", "COST", "TOKENS IN", "TOKENS OUT", "RUNS"]
    render.console().print(render.text(f"Total for the last {days} days: {money(data.get('total_usd'))}", "bold"))
    for title, key in (("by agent", "by_agent"), ("by day", "by_day"), ("by label", "by_label")):
        if data.get(key):
            render.table(head, _sum_rows(data[key]), title=title)
