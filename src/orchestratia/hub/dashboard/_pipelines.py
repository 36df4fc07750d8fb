"""The dashboard's pipeline pages: the list, and one pipeline as a graph.

The graph is an SVG drawn here, on the server: one column per depth (a task that needs nothing
is in the first; any other one column right of its deepest need), members in file order within
a column, an edge from each need to its task. Every text in it comes from the API and goes
through Jinja's autoescape; ``pipeline.js`` patches statuses live (textContent, classes) from
the hub's event stream.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from ._internal import call
from ._pages import cancel_through_api, checked_form, page
from ._render import render
from ._session import page_base

router = APIRouter()

NODE_W, NODE_H, GAP_X, GAP_Y, PAD = 200, 58, 70, 22, 16
#: a title longer than this is cut in the box (the full one is its tooltip and on the task page)
LABEL_CHARS = 22


@dataclass
class Box:
    node: dict[str, Any]
    x: int
    y: int

    @property
    def label(self) -> str:
        title = str(self.node.get("title") or self.node.get("name") or "")
        return title if len(title) <= LABEL_CHARS else title[: LABEL_CHARS - 1] + "…"


def layout(nodes: list[dict[str, Any]]) -> dict[str, Any]:
    """Boxes by depth level, edges as cubic curves from a need's right side to its task's left."""
    columns: dict[int, list[dict[str, Any]]] = {}
    for node in nodes:
        columns.setdefault(int(node.get("depth") or 0), []).append(node)
    boxes: dict[str, Box] = {}
    for depth, members in sorted(columns.items()):
        for row, node in enumerate(members):
            boxes[str(node["name"])] = Box(node, PAD + depth * (NODE_W + GAP_X), PAD + row * (NODE_H + GAP_Y))
    edges = []
    for box in boxes.values():
        for need in box.node.get("needs") or []:
            if (src := boxes.get(str(need))) is None:
                continue
            x1, y1, x2, y2 = src.x + NODE_W, src.y + NODE_H // 2, box.x, box.y + NODE_H // 2
            mid = (x1 + x2) // 2
            edges.append({"d": f"M{x1},{y1} C{mid},{y1} {mid},{y2} {x2},{y2}", "from": need, "to": box.node["name"]})
    width = PAD * 2 + (max(columns, default=0) + 1) * (NODE_W + GAP_X) - GAP_X
    height = PAD * 2 + max((len(m) for m in columns.values()), default=1) * (NODE_H + GAP_Y) - GAP_Y
    return {"boxes": list(boxes.values()), "edges": edges, "width": width, "height": height,
            "node_w": NODE_W, "node_h": NODE_H}


@router.get("/pipelines", include_in_schema=False)
@page
async def pipelines_page(request: Request) -> Response:
    base = await page_base(request, "pipelines")
    found = await call(request, "GET", "/pipelines?limit=200")
    return render(request, "pipelines.html", {**base, "pipelines": found})


@router.get("/pipelines/{pipeline_id}", include_in_schema=False)
@page
async def pipeline_page(request: Request, pipeline_id: str) -> Response:
    base = await page_base(request, "pipelines")
    found = await call(request, "GET", f"/pipelines/{quote(pipeline_id, safe='')}")
    return render(request, "pipeline.html", {**base, "pipeline": found, "graph": layout(found.get("nodes") or [])})


@router.post("/pipelines/{pipeline_id}/cancel", include_in_schema=False)
@page
async def pipeline_cancel(request: Request, pipeline_id: str) -> Response:
    await checked_form(request)  # the CSRF check; the form carries nothing else
    target = f"/pipelines/{quote(pipeline_id, safe='')}"
    await cancel_through_api(request, target)  # a 409 (it had ended): the page shows how
    return RedirectResponse(target, status_code=303)
