"""``/docs`` (Swagger UI) and ``/redoc`` (ReDoc) served with their assets from the package.

FastAPI's own pages load Swagger UI, ReDoc, a favicon and Google Fonts from CDNs, so an
offline hub showed a blank page. The assets come from the ``fastapi-offline`` wheel (MIT; it
ships ``swagger-ui-bundle.js``, ``swagger-ui.css`` and ``redoc.standalone.js``); the pages are
FastAPI's, pointed at them, with a Content-Security-Policy that keeps them on the hub. Swagger
UI's online validator badge is turned off: no page of the hub asks anything of the internet.
"""

from __future__ import annotations

import base64
import hashlib
import re
from importlib import resources

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS = "/docs-assets"
FAVICON = "/dashboard/static/favicon.svg"
_INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.S)


def _offline(page: HTMLResponse) -> HTMLResponse:
    """A Content-Security-Policy that lets the page load only from the hub: the browser then
    never asks elsewhere (ReDoc's sidebar shows a Redocly logo from cdn.redoc.ly otherwise).
    The page's own inline script is allowed by its hash; ReDoc and Swagger UI inject styles."""
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(body).digest()).decode() + "'"
        for body in _INLINE_SCRIPT.findall(bytes(page.body))
    )
    page.headers["content-security-policy"] = (
        f"default-src 'self'; script-src 'self' {hashes}; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; font-src 'self' data:; worker-src 'self' blob:; connect-src 'self'; "
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
    )
    page.headers["x-content-type-options"] = "nosniff"
    return page


def install(app: FastAPI) -> None:
    """Mount the assets and add ``/docs`` and ``/redoc`` (create the app with
    ``docs_url=None, redoc_url=None`` so FastAPI's CDN pages are not added)."""
    static = resources.files("fastapi_offline").joinpath("static")
    app.mount(ASSETS, StaticFiles(directory=str(static)), name="docs-assets")
    app.add_api_route("/docs", swagger_ui, methods=["GET"], include_in_schema=False, response_class=HTMLResponse)
    app.add_api_route("/redoc", redoc, methods=["GET"], include_in_schema=False, response_class=HTMLResponse)


def _root(request: Request) -> str:
    return str(request.scope.get("root_path") or "")


async def swagger_ui(request: Request) -> HTMLResponse:
    root = _root(request)
    return _offline(get_swagger_ui_html(
        openapi_url=f"{root}{request.app.openapi_url}",
        title=f"{request.app.title} · API docs",
        swagger_js_url=f"{root}{ASSETS}/swagger-ui-bundle.js",
        swagger_css_url=f"{root}{ASSETS}/swagger-ui.css",
        swagger_favicon_url=f"{root}{FAVICON}",
        swagger_ui_parameters={"validatorUrl": None},
    ))


async def redoc(request: Request) -> HTMLResponse:
    root = _root(request)
    return _offline(get_redoc_html(
        openapi_url=f"{root}{request.app.openapi_url}",
        title=f"{request.app.title} · API reference",
        redoc_js_url=f"{root}{ASSETS}/redoc.standalone.js",
        redoc_favicon_url=f"{root}{FAVICON}",
        with_google_fonts=False,
    ))
