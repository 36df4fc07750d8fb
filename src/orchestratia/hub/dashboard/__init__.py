"""The admin dashboard: server-rendered Jinja2 pages with a little plain JS and CSS.

``router`` is included by :func:`orchestratia.hub.app.create_app`. Everything it shows comes
from the admin API (docs/architecture.md), called in process; see docs/dashboard.md.
"""

from __future__ import annotations

from fastapi import APIRouter

from ._costs_page import router as _costs_router
from ._pages import router as _pages_router
from ._replies import router as _replies_router
from ._push_pages import router as _push_router
from ._pipelines import router as _pipelines_router
from ._session import router as _session_router

router = APIRouter()
router.include_router(_session_router)
router.include_router(_pages_router)
router.include_router(_replies_router)
router.include_router(_push_router)
router.include_router(_pipelines_router)
router.include_router(_costs_router)

__all__ = ["router"]
