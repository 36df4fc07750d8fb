"""No page of the hub loads anything from the internet: with every request off loopback
blocked, /docs renders Swagger UI, /redoc renders ReDoc, and the dashboard's pages load
nothing from elsewhere (they link the API docs)."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlparse

from playwright.sync_api import expect

from browser_helpers import SHOTS, new_context, sign_in

LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}


def _offline_context(browser: Any, hub: Any, outside: list[str]) -> Any:
    context = new_context(browser, hub)

    def route(route: Any) -> None:
        url = route.request.url
        if url.startswith(("data:", "blob:")) or urlparse(url).hostname in LOOPBACK:
            route.continue_()
        else:
            outside.append(url)
            route.abort("internetdisconnected")

    context.route("**/*", route)
    return context


def test_api_docs_render_offline_and_the_dashboard_links_them(browser: Any, hub: Any) -> None:
    outside: list[str] = []
    context = _offline_context(browser, hub, outside)
    errors: list[str] = []
    try:
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto("/docs")
        expect(page.locator(".swagger-ui .info .title")).to_contain_text("Orchestratia hub", timeout=20_000)
        expect(page.locator(".opblock-summary-path", has_text="/api/admin/tasks/{task_id}/output").first).to_be_visible()
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "api-docs-offline.png"))

        page.goto("/redoc")
        expect(page.get_by_role("heading", name=re.compile("Orchestratia hub")).first).to_be_visible(timeout=20_000)
        expect(page.get_by_text("/api/admin/tasks/{task_id}/output").first).to_be_attached()
        page.screenshot(path=str(SHOTS / "api-redoc-offline.png"))

        sign_in(page)
        page.wait_for_url("**/agents")
        for path in ("/agents", "/tasks", "/tasks/new", "/interventions"):
            page.goto(path)
            page.wait_for_load_state("load")
        footer = page.get_by_role("contentinfo", name="Reference")
        expect(footer.get_by_role("link", name="API docs")).to_have_attribute("href", "/docs")
        expect(footer.get_by_role("link", name="API reference")).to_have_attribute("href", "/redoc")
        footer.get_by_role("link", name="API docs").click()
        expect(page.locator(".swagger-ui .info .title")).to_contain_text("Orchestratia hub")
    finally:
        context.close()
    assert outside == [], f"pages of the hub asked the internet for: {outside}"
    assert not errors, errors
