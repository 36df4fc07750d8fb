"""The task page's reply box: ``POST /tasks/{id}/reply`` (a form; no JS needed) makes a reply
through the admin API (``POST /api/admin/tasks/{id}/replies``) and opens the new task's page.
The thread above the box is drawn by static/js/reply.js from ``GET /api/admin/tasks/{id}/thread``."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from ._internal import ApiError, call
from ._pages import checked_form, error_page, page

router = APIRouter()


@router.post("/tasks/{task_id}/reply", include_in_schema=False)
@page
async def task_reply(request: Request, task_id: str) -> Response:
    form = await checked_form(request)
    message = str(form.get("message") or "")
    target = f"/tasks/{quote(task_id, safe='')}"
    if not message.strip():
        return RedirectResponse(target, status_code=303)
    try:
        task = await call(request, "POST", f"{target}/replies", json={"message": message}, csrf_checked=True)
    except ApiError as exc:
        if exc.status not in (409, 422):
            raise
        return await error_page(request, "Reply not sent", exc.detail, exc.status)
    return RedirectResponse(f"/tasks/{quote(str(task['id']), safe='')}", status_code=303)
