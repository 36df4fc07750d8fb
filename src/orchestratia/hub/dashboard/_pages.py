"""The dashboard's pages and their form posts. Data comes from the admin API (in process)."""

from __future__ import annotations

import functools
import re
from typing import Any, Awaitable, Callable
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, RedirectResponse, Response

from ._changes import changes_tab
from ._internal import ApiError, call
from ._render import STATIC, render
from ._session import SignedOut, csrf_ok, login_redirect, page_base

router = APIRouter()

TASK_FILTERS = ["queued", "assigned", "running", "completed", "failed", "cancelled", "timed_out", "lost", "parked"]
ACTIVE = "queued,assigned,running,parked"
TASK_PATH = re.compile(r"/tasks/[A-Za-z0-9-]{1,64}")
RUNNERS = ["claude", "codex", "gemini", "aider", "shell"]
STATIC_TYPES = {".css": "text/css", ".js": "text/javascript", ".svg": "image/svg+xml", ".png": "image/png",
                ".ico": "image/x-icon"}


def page(fn: Callable[..., Awaitable[Response]]):
    """Signed-out → /login?next=…; a stale form (``checked_form``) → "Please try again" (403);
    API errors → a friendly error page."""

    @functools.wraps(fn)
    async def wrapper(request: Request, *args: Any, **kwargs: Any) -> Response:
        try:
            return await fn(request, *args, **kwargs)
        except SignedOut:
            return login_redirect(request)
        except StaleForm:
            return await bad_csrf(request)
        except ApiError as exc:
            if exc.status == 401:
                return login_redirect(request)
            title = "Not found" if exc.status == 404 else "Something went wrong"
            return await error_page(request, title, exc.detail, exc.status)

    return wrapper


async def error_page(request: Request, title: str, message: str, status: int) -> Response:
    """An error page, with the navigation when the reader is signed in."""
    try:
        base = await page_base(request, "")
    except (SignedOut, ApiError):
        base = {}
    return render(request, "error.html", {**base, "title": title, "message": message}, status=status)


class StaleForm(Exception):
    """A posted form whose CSRF token does not match the session: :func:`page` answers with
    :func:`bad_csrf`."""


async def checked_form(request: Request) -> Any:
    """The posted form, once its CSRF token matched the session (else :class:`StaleForm`)."""
    form = await request.form()
    if not csrf_ok(request, form.get("csrf")):
        raise StaleForm
    return form


async def bad_csrf(request: Request) -> Response:
    return await error_page(request, "Please try again",
                            "This form was out of date (its security token did not match your session). "
                            "Go back, reload the page and submit again.", 403)


def _agents_sorted(agents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    order = {"ONLINE": 0, "OFFLINE": 1, "REVOKED": 2}
    return sorted(agents, key=lambda a: (order.get(str(a.get("status")), 3), str(a.get("name", "")).lower()))


@router.get("/", include_in_schema=False)
async def home() -> RedirectResponse:
    return RedirectResponse("/agents", status_code=303)


@router.get("/dashboard/static/{name:path}", include_in_schema=False)
async def static(name: str) -> Response:
    try:
        path = (STATIC / name).resolve()
        found = STATIC in path.parents and path.is_file() and path.suffix in STATIC_TYPES
    except (ValueError, OSError):  # a NUL byte, a name too long, ...
        found = False
    if not found:
        return Response("not found", status_code=404, media_type="text/plain")
    return FileResponse(path, media_type=STATIC_TYPES[path.suffix], headers={
        "cache-control": "public, max-age=86400", "x-content-type-options": "nosniff"})


@router.get("/agents", include_in_schema=False)
@page
async def agents_page(request: Request) -> Response:
    base = await page_base(request, "agents")
    agents = await call(request, "GET", "/agents")
    tokens = await call(request, "GET", "/tokens")
    active = await call(request, "GET", "/tasks", params={"status": "assigned,running", "limit": 500})
    titles = {t["id"]: t["title"] for t in active}
    return render(request, "agents.html", {**base, "agents": _agents_sorted(agents), "tokens": tokens,
                                           "titles": titles})


@router.post("/agents/{agent_id}/revoke", include_in_schema=False)
@page
async def agent_revoke(request: Request, agent_id: str) -> Response:
    await checked_form(request)  # the CSRF check; the form carries nothing else
    await call(request, "POST", f"/agents/{quote(agent_id, safe='')}/revoke", csrf_checked=True)
    return RedirectResponse("/agents?notice=revoked", status_code=303)


@router.get("/tasks", include_in_schema=False)
@page
async def tasks_page(request: Request) -> Response:
    base = await page_base(request, "tasks")
    status = request.query_params.get("status", "")
    status = status if status in TASK_FILTERS or status == "active" else ""
    api_status = ACTIVE if status == "active" else status
    agent = request.query_params.get("agent", "")
    params: dict[str, Any] = {"limit": 200}
    if api_status:
        params["status"] = api_status
    if agent:
        params["agent"] = agent
    tasks = await call(request, "GET", "/tasks", params=params)
    return render(request, "tasks.html", {**base, "tasks": tasks, "status": status, "api_status": api_status,
                                          "agent": agent, "filters": TASK_FILTERS})


async def _new_task_page(request: Request, values: dict[str, Any], error: str = "", status: int = 200) -> Response:
    base = await page_base(request, "tasks")
    agents = [a for a in await call(request, "GET", "/agents") if a.get("status") != "REVOKED"]
    return render(request, "task_new.html", {
        **base, "agents": _agents_sorted(agents), "values": values, "error": error,
        "runners": offered_runners(agents, values.get("runner", "")),
    }, status=status)


@router.get("/tasks/new", include_in_schema=False)
@page
async def task_new_page(request: Request) -> Response:
    # empty: the agent's default, as with the CLI
    values = {"title": "", "spec": "", "agent": request.query_params.get("agent", ""), "target_repo": "",
              "runner": "", "timeout_minutes": "", "labels": "", "priority": "normal", "group": ""}
    source = request.query_params.get("from", "")
    if source:  # "Run again": the form filled in from an earlier task
        task = await call(request, "GET", f"/tasks/{quote(source, safe='')}")
        values.update({key: str(task.get(key) or "") for key in ("title", "spec", "agent", "target_repo", "runner")})
        values["timeout_minutes"] = str(task.get("timeout_minutes") or "")
        values.update(labels=", ".join(task.get("labels") or []), priority=str(task.get("priority") or "normal"),
                      group=str(task.get("group") or ""))
    return await _new_task_page(request, values)


@router.post("/tasks/new", include_in_schema=False)
@page
async def task_new_submit(request: Request) -> Response:
    form = await checked_form(request)
    values = {k: str(form.get(k) or "").strip() for k in
              ("title", "spec", "agent", "target_repo", "runner", "timeout_minutes", "labels", "priority", "group")}
    # browsers submit a textarea's line breaks as CRLF; a prompt or script wants LF
    values["spec"] = str(form.get("spec") or "").replace("\r\n", "\n")
    body: dict[str, Any] = {"title": values["title"], "spec": values["spec"]}
    for key in ("agent", "target_repo", "runner", "group"):
        if values[key]:
            body[key] = values[key]
    body.update(scheduling_fields(values))
    if values["timeout_minutes"]:
        try:
            minutes = float(values["timeout_minutes"])
            if not minutes > 0:
                raise ValueError(minutes)
            body["timeout_minutes"] = int(minutes) if minutes.is_integer() else minutes
        except (ValueError, OverflowError):
            return await _new_task_page(request, values, "Timeout must be a positive number of minutes.", 400)
    if not values["title"] or not values["spec"].strip():
        return await _new_task_page(request, values, "A task needs a title and a spec.", 400)
    try:
        task = await call(request, "POST", "/tasks", json=body, csrf_checked=True)
    except ApiError as exc:
        if exc.status == 401:
            raise
        return await _new_task_page(request, values, exc.detail, exc.status)
    return RedirectResponse(f"/tasks/{quote(str(task['id']), safe='')}", status_code=303)


@router.get("/tasks/{task_id}", include_in_schema=False)
@page
async def task_page(request: Request, task_id: str) -> Response:
    base = await page_base(request, "tasks")
    task = await call(request, "GET", f"/tasks/{quote(task_id, safe='')}")
    interventions = await call(request, "GET", "/interventions")
    mine = [i for i in interventions if str(i.get("task_id")) == str(task.get("id"))]
    changes = await changes_tab(request, task)
    return render(request, "task.html", {**base, "task": task, "interventions": mine, "changes": changes})


@router.post("/tasks/{task_id}/cancel", include_in_schema=False)
@page
async def task_cancel(request: Request, task_id: str) -> Response:
    await checked_form(request)  # the CSRF check; the form carries nothing else
    target = f"/tasks/{quote(task_id, safe='')}"
    if not await cancel_through_api(request, target):
        return RedirectResponse(target, status_code=303)
    return RedirectResponse(f"{target}?notice=cancelled", status_code=303)


async def cancel_through_api(request: Request, target: str) -> bool:
    """``POST {target}/cancel`` for a form the caller checked; False when the hub answered 409
    (it had ended already: the page then shows how it ended)."""
    try:
        await call(request, "POST", f"{target}/cancel", json={}, csrf_checked=True)
    except ApiError as exc:
        if exc.status != 409:
            raise
        return False
    return True


@router.get("/interventions", include_in_schema=False)
@page
async def interventions_page(request: Request) -> Response:
    base = await page_base(request, "interventions")
    items = await call(request, "GET", "/interventions")
    pending = [i for i in items if i.get("status") == "pending"]
    done = [i for i in items if i.get("status") != "pending"]
    return render(request, "interventions.html", {**base, "pending_items": pending, "done_items": done})


@router.post("/interventions/{intervention_id}/answer", include_in_schema=False)
@page
async def intervention_answer(request: Request, intervention_id: str) -> Response:
    form = await checked_form(request)
    text = str(form.get("response") or "").strip()
    back = str(form.get("back") or "")
    back = back if TASK_PATH.fullmatch(back) else "/interventions"
    if not text:
        return RedirectResponse(back, status_code=303)
    try:
        await call(request, "POST", f"/interventions/{quote(intervention_id, safe='')}/answer",
                   json={"response": text}, csrf_checked=True)
    except ApiError as exc:
        if exc.status != 409:
            raise
        notice = "withdrawn" if exc.detail.startswith("intervention withdrawn") else "already"
        return RedirectResponse(f"{back}?notice={notice}", status_code=303)
    return RedirectResponse(f"{back}?notice=answered", status_code=303)


def scheduling_fields(values: dict[str, str]) -> dict[str, Any]:
    """Labels (comma or space separated) and priority as the API takes them (it checks them)."""
    labels = [label for label in values.get("labels", "").replace(",", " ").split() if label]
    body: dict[str, Any] = {"labels": list(dict.fromkeys(labels))} if labels else {}
    if values.get("priority") and values["priority"] != "normal":
        body["priority"] = values["priority"]
    return body


def offered_runners(agents: list[dict[str, Any]], chosen: str) -> list[str]:
    """The known runners some agent reports it can run, plus ``chosen`` (a task run again
    keeps its runner even if no agent reports it now). Names an agent made up are not offered."""
    reported = {str(r) for a in agents for r in (a.get("runners") or []) if isinstance(a.get("runners"), list)}
    offered = [r for r in RUNNERS if r in reported]
    return offered + [chosen] if chosen and chosen not in offered else offered
