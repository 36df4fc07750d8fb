"""Health and readiness, and what a client sees when the store fails.

* ``GET /healthz``: the process is alive (always 200; for a liveness probe that restarts).
* ``GET /health``: 200 ``{"status": "ok", "version"}`` while the store can write, else 503
  ``{"status": "error", "detail", "version"}``. Cheap: it reads the outcome of the latest
  write (every write transaction records it) and writes a rolled-back probe only when nothing
  was learnt for :data:`HEALTH_MAX_AGE_S` (or a failure is :attr:`WriteHealth.recheck_failed_s` old).
* ``GET /readyz``: the store reachable and writable (probed when the last outcome is older
  than :data:`READY_MAX_AGE_S`), and Redis answering when configured; 200 or 503 with each check.
* A store failure inside a request (read-only, disk full, connection lost) answers 503 with
  the cause, instead of an opaque 500.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request

from orchestratia import __version__
from orchestratia.hub.api.responses import OrjsonResponse
from orchestratia.hub.store.probe import probe_write
from orchestratia.hub.store.writable import store_failure

log = logging.getLogger("orchestratia.hub.health")

#: without a write for this long, /health probes the store (a rolled-back write, ~1 ms on SQLite)
HEALTH_MAX_AGE_S = 30.0
READY_MAX_AGE_S = 5.0


async def store_error(request: Request, max_age_s: float) -> str | None:
    """The store's write failure, or None while it writes (probing when the news is old)."""
    hub = getattr(request.app.state, "hub", None)
    if hub is None:
        return "the hub is starting"
    health = hub.db.write_health
    if health.stale(max_age_s):
        await probe_write(hub.db)
    return health.error


def _unwritable(cause: str) -> str:
    return f"the hub's store cannot write: {cause}"


async def health(request: Request) -> OrjsonResponse:
    error = await store_error(request, HEALTH_MAX_AGE_S)
    if error is None:
        return OrjsonResponse({"status": "ok", "version": __version__})
    return OrjsonResponse({"status": "error", "detail": _unwritable(error), "version": __version__}, status_code=503)


async def healthz() -> dict[str, str]:
    return {"status": "ok"}


async def readyz(request: Request) -> OrjsonResponse:
    checks: dict[str, str] = {}
    error = await store_error(request, READY_MAX_AGE_S)
    checks["store"] = "ok" if error is None else _unwritable(error)
    hub = getattr(request.app.state, "hub", None)
    ping = getattr(getattr(hub, "bus", None), "ping", None)
    if hub is not None and hub.settings.redis_url and ping is not None:
        try:
            checks["redis"] = "ok" if await ping() else "Redis did not answer PING"
        except Exception as exc:  # noqa: BLE001 - any failure is the answer
            checks["redis"] = f"Redis is unreachable: {' '.join(str(exc).split())[:200]}"
    failed = {name: state for name, state in checks.items() if state != "ok"}
    if not failed:
        return OrjsonResponse({"status": "ok", "checks": checks})
    return OrjsonResponse({"status": "error", "detail": "; ".join(failed.values()), "checks": checks}, status_code=503)


def store_unavailable(request: Request, exc: BaseException) -> OrjsonResponse | None:
    """A 503 naming the cause when ``exc`` is a store failure; None for anything else."""
    cause = store_failure(exc)
    if cause is None:
        return None
    log.error("%s %s: the store failed: %s", request.method, request.url.path, cause)
    detail = f"the hub's store is failing ({cause}); nothing was changed: try again later"
    return OrjsonResponse({"detail": detail}, status_code=503, headers={"Retry-After": "5"})


def install(app: FastAPI) -> None:
    """The three routes (tagged ``hub``)."""
    kw: dict[str, Any] = {"methods": ["GET"], "tags": ["hub"]}
    app.add_api_route("/health", health, response_model=None, **kw)
    app.add_api_route("/healthz", healthz, **kw)
    app.add_api_route("/readyz", readyz, **kw)
