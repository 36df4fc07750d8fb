"""The task page's Push / Open PR / Discard forms without JavaScript (``_push.html``; with
JS, ``push.js`` calls the admin API directly and shows the agent's answer as it comes)."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from ._internal import call
from ._pages import checked_form, page

router = APIRouter()


@router.post("/tasks/{task_id}/push", include_in_schema=False)
@page
async def task_push(request: Request, task_id: str) -> Response:
    form = await checked_form(request)
    target = f"/tasks/{quote(task_id, safe='')}"
    body = {"remote": None, "pr": form.get("pr") == "1", "title": None}
    await call(request, "POST", f"{target}/push", json=body, csrf_checked=True)  # a refusal: the error page says why
    return RedirectResponse(target, status_code=303)


@router.post("/tasks/{task_id}/discard", include_in_schema=False)
@page
async def task_discard(request: Request, task_id: str) -> Response:
    await checked_form(request)  # the CSRF check; the form carries nothing else
    target = f"/tasks/{quote(task_id, safe='')}"
    await call(request, "POST", f"{target}/discard", json={"force": False}, csrf_checked=True)
    return RedirectResponse(target, status_code=303)
