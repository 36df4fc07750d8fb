"""The hub's ASGI application, built by :func:`create_app` (never at import time).

For uvicorn: ``uvicorn --factory orchestratia.hub.app:app_factory`` (settings from the
environment).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from importlib import resources

from fastapi import FastAPI, Request
from orchestratia.hub.api.responses import MarkdownResponse, OrjsonResponse

from orchestratia import __version__
from orchestratia.hub import api_docs, dashboard, health, metrics
from orchestratia.hub.api import middleware
from orchestratia.hub.api.admin import router as admin_api
from orchestratia.hub.api.agent import http as agent_api
from orchestratia.hub.api.agent import capabilities as agent_capabilities
from orchestratia.hub.api.agent import workspace as workspace_route
from orchestratia.hub.api.agent import workspace_actions as agent_workspace_actions
from orchestratia.hub.api.agent import ws as agent_ws
from orchestratia.hub.events.bus import EventBus
from orchestratia.hub.lifecycle import running
from orchestratia.hub.settings import HubSettings, load_settings
from orchestratia.hub.store.guard import open_sqlite_store
from orchestratia.protocol.json_logs import use_json_logs
from orchestratia.protocol.redact import install_redaction
from orchestratia.protocol.workspace import WORKSPACE_BODY_MAX

log = logging.getLogger(__name__)
GUIDE_PLACEHOLDER = "{{HUB_URL}}"


def create_app(settings: HubSettings | None = None, *, bus: EventBus | None = None) -> FastAPI:
    """The hub app. ``bus`` overrides the event bus chosen from ``settings.redis_url``."""
    settings = settings or load_settings()
    configure_logging(settings.log_level, settings.log_format)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with running(settings, bus) as hub:
            app.state.hub = hub
            yield

    app = FastAPI(
        title="Orchestratia hub",
        version=__version__,
        lifespan=lifespan,
        default_response_class=OrjsonResponse,
        docs_url=None,  # api_docs serves /docs and /redoc without a CDN
        redoc_url=None,
    )
    app.state.settings = settings
    metrics.install(app, settings)  # /metrics, and the request counter inside the body limit
    # a task's workspace report carries its diff (up to 5 MB, more once escaped as JSON)
    larger = ((workspace_route.PATH, max(settings.max_body_bytes, WORKSPACE_BODY_MAX)),)
    middleware.install(app, settings.max_body_bytes, larger)
    app.include_router(agent_api.router())
    app.include_router(agent_capabilities.router())
    app.include_router(agent_workspace_actions.router())
    app.include_router(admin_api.router())
    app.include_router(agent_ws.router())
    health.install(app)  # /health, /healthz, /readyz
    app.add_api_route("/ORCHESTRATIA.md", guide, methods=["GET"], tags=["hub"], response_class=MarkdownResponse)
    api_docs.install(app)
    app.include_router(dashboard.router)
    return app


def configure_logging(level: str, log_format: str = "text") -> None:
    """Hub log lines to stderr, unless the embedding program configured logging itself; as
    JSON lines (every handler's, uvicorn's too) when ``log_format`` is "json"."""
    logger = logging.getLogger("orchestratia.hub")
    if not logging.getLogger().handlers and not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logger.addHandler(handler)
    if log_format == "json":
        use_json_logs()
    known = isinstance(logging.getLevelName(level.upper()), int)
    logger.setLevel(level.upper() if known else "INFO")
    # aiosqlite logs every statement's parameters at debug: a password typed as a user name
    logging.getLogger("aiosqlite").setLevel(logging.INFO)
    install_redaction()  # no level logs a secret (uvicorn's handshake lines at debug did)


def guide_text(hub_url: str) -> str:
    text = resources.files("orchestratia.hub.guide").joinpath("ORCHESTRATIA.md").read_text(encoding="utf-8")
    return text.replace(GUIDE_PLACEHOLDER, hub_url.rstrip("/"))


async def guide(request: Request) -> MarkdownResponse:
    settings: HubSettings = request.app.state.settings
    url = settings.public_url.rstrip("/") if settings.public_url else str(request.base_url).rstrip("/")
    return MarkdownResponse(guide_text(url))


def app_factory() -> FastAPI:
    """For ``uvicorn --factory orchestratia.hub.app:app_factory``."""
    settings = load_settings()
    app = create_app(settings)
    app.state.store_lock = open_sqlite_store(settings.effective_database_url())  # one hub per SQLite file
    return app
