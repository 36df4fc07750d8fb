"""The hub's ASGI application, built by :func:`create_app` (never at import time).

For uvicorn: ``uvicorn --factory orchestratia.hub.app:app_factory`` (settings from the
environment).
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import logging
from collections.abc import AsyncIterator
from importlib import resources

from fastapi import FastAPI, Request
from orchestratia.hub.responses import MarkdownResponse, OrjsonResponse

from orchestratia import __version__
from orchestratia.hub import api_admin, api_agent, health, middleware, ws_agent
from orchestratia.hub.bootstrap import bootstrap_admin
from orchestratia.hub.access_log import quiet_liveness
from orchestratia.hub.core import Hub, tune_gc
from orchestratia.hub.events import EventBus
from orchestratia.hub.gc_pacer import GcPacer
from orchestratia.hub.integrations import start_webhooks
from orchestratia.hub.settings import HubSettings, load_settings
from orchestratia.hub.shutdown import chain_exit_signals
from orchestratia.hub.store.guard import open_sqlite_store, secure_store
from orchestratia.hub.store.migrate import upgrade
from orchestratia.hub.store.writable import require_writable
from orchestratia.protocol.redact import install_redaction

log = logging.getLogger(__name__)
GUIDE_PLACEHOLDER = "{{HUB_URL}}"


def create_app(settings: HubSettings | None = None, *, bus: EventBus | None = None) -> FastAPI:
    """The hub app. ``bus`` overrides the event bus chosen from ``settings.redis_url``."""
    settings = settings or load_settings()
    configure_logging(settings.log_level)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        hub = Hub(settings, bus=bus)
        app.state.hub = hub
        webhooks = None
        pacer: GcPacer | None = None
        unchain = chain_exit_signals(hub.stopping)
        try:
            install_redaction()  # again: the server (uvicorn) configured its handlers since
            secure_store(settings.effective_database_url(), settings.data_dir)  # SQLite: 0700/0600
            await upgrade(hub.db)
            await require_writable(hub.db)  # a read-only store fails here, naming the cause
            await hub.start_assigned_index()
            hub.bootstrap_password = await bootstrap_admin(hub)
            await hub.scheduler.start()
            if settings.gc_pacing:
                pacer = GcPacer()
                pacer.start()
            else:
                tune_gc()
            quiet_liveness(not settings.log_liveness)
            webhooks = await start_webhooks(hub)
            yield
        finally:
            unchain()
            if webhooks is not None:
                await webhooks.close()
            if pacer is not None:
                await pacer.stop()
            await hub.close()

    app = FastAPI(
        title="Orchestratia hub",
        version=__version__,
        lifespan=lifespan,
        default_response_class=OrjsonResponse,
    )
    app.state.settings = settings
    middleware.install(app, settings.max_body_bytes)
    app.include_router(api_agent.router())
    app.include_router(api_admin.router())
    app.include_router(ws_agent.router())
    health.install(app)  # /health, /healthz, /readyz
    app.add_api_route("/ORCHESTRATIA.md", guide, methods=["GET"], tags=["hub"], response_class=MarkdownResponse)
    include_dashboard(app)
    return app


def configure_logging(level: str) -> None:
    """Hub log lines to stderr, unless the embedding program configured logging itself."""
    logger = logging.getLogger("orchestratia.hub")
    if not logging.getLogger().handlers and not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logger.addHandler(handler)
    known = isinstance(logging.getLevelName(level.upper()), int)
    logger.setLevel(level.upper() if known else "INFO")
    # aiosqlite logs every statement's parameters at debug: a password typed as a user name
    logging.getLogger("aiosqlite").setLevel(logging.INFO)
    install_redaction()  # no level logs a secret (uvicorn's handshake lines at debug did)


def include_dashboard(app: FastAPI) -> bool:
    """Mount ``orchestratia.hub.dashboard.router`` when that module exists (issue 3)."""
    if importlib.util.find_spec("orchestratia.hub.dashboard") is None:
        return False
    module = importlib.import_module("orchestratia.hub.dashboard")
    router = getattr(module, "router", None)
    if router is None:
        return False
    if callable(router) and not hasattr(router, "routes"):
        router = router()
    app.include_router(router)
    return True


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
