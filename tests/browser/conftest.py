"""Browser tests: Playwright (Python) driving Debian's Chromium against the REAL hub
(`orchestratia hub serve` as a subprocess on loopback), a real daemon and the fake claude.

Reuses the integration harness (tests/integration/integration_harness.py) for the hub
subprocess, waits with deadlines and cleanup. Screenshots go to artifacts/screenshots/.
"""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from browser_helpers import (  # noqa: E402
    CHROMIUM,
    CHROMIUM_ARGS,
    ORCHESTRATIA,
    Daemon,
    Hub,
    new_context,
    shoot,
    sign_in,
)
from integration_harness import retire_agent  # noqa: E402  (on sys.path via browser_helpers)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    if not Path(ORCHESTRATIA).exists():
        pytest.fail(f"{ORCHESTRATIA} is missing: run scripts/bootstrap.sh hub,test")
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: sudo apt install -y chromium (scripts/test.sh does it)")
    if shutil.which("screen") is None:
        pytest.fail("screen is not installed: sudo apt install -y screen")
    # 5 failed logins a minute per (username, address): the rate-limit test uses its own username.
    # An agent is OFFLINE after 8 s without contact (daemons here heartbeat every 2 s).
    server = Hub(tmp_path_factory.mktemp("hub"), extra_env={"ORCHESTRATIA_LOGIN_FAILURES_PER_MINUTE": "5",
                                                             "ORCHESTRATIA_SSE_KEEPALIVE_S": "2",
                                                             "ORCHESTRATIA_OFFLINE_AFTER_S": "8"})
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="session")
def admin_context(browser: Any, hub: Hub) -> Iterator[Any]:
    """One signed-in browser context for the session (its pages share the cookies)."""
    context = new_context(browser, hub)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=hub.url)
    page = context.new_page()
    sign_in(page)
    page.wait_for_url("**/agents")
    page.close()
    try:
        yield context
    finally:
        context.close()


@pytest.fixture
def page(admin_context: Any) -> Iterator[Any]:
    page = admin_context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        yield page
    finally:
        page.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


@pytest.fixture(scope="session")
def daemons(hub: Hub) -> Iterator[list[Daemon]]:
    started: list[Daemon] = []
    yield started
    for daemon in started:
        retire_agent(hub, daemon.name, daemon.stop)


@pytest.fixture(scope="session")
def agent(admin_context: Any, hub: Hub, daemons: list[Daemon], tmp_path_factory: pytest.TempPathFactory) -> Daemon:
    """An agent registered THROUGH THE DASHBOARD: the Register Agent dialog's token, config
    snippet and command; a real daemon started from that snippet; its row turns ONLINE live."""
    from playwright.sync_api import expect

    page = admin_context.new_page()
    page.goto("/agents")
    page.get_by_role("button", name="Register agent").click()
    dialog = page.get_by_role("dialog", name="Register an agent")
    expect(dialog).to_be_visible()
    dialog.get_by_label("Label").fill("web-1")
    dialog.get_by_label("Expires in").select_option("30m")
    dialog.get_by_role("button", name="Generate token").click()
    token_box = dialog.locator("#reg-token")
    expect(token_box).to_have_text(re.compile(r"^orcreg_[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{32,}$"))
    token = token_box.inner_text().strip()
    snippet = dialog.locator("#reg-snippet").inner_text()
    command = dialog.locator("#reg-cmd").inner_text().strip()
    assert command == f"orchestratia agent register {token}"
    assert f'registration_token: "{token}"' in snippet and f'hub_url: "{hub.url}"' in snippet
    dialog.get_by_role("button", name="Copy token").click()
    expect(dialog.get_by_role("button", name="Copied ✓ token")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == token
    dialog.get_by_role("button", name="Copy config snippet").click()
    expect(dialog.get_by_role("button", name="Copied ✓ config snippet")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == snippet
    shoot(page, "agents-register-dialog")
    dialog.get_by_role("button", name="Done").click()
    expect(dialog).to_be_hidden()
    assert page.locator("#reg-token").inner_text() == ""  # shown once: gone after closing

    daemon = Daemon(hub, tmp_path_factory.mktemp("web-1"), "web-1")
    daemon.write_config(snippet)
    daemon.start()
    daemons.append(daemon)
    row = page.locator("#agents-body tr", has=page.get_by_text("web-1", exact=True))
    expect(row.locator(".pill")).to_have_text("online", timeout=30_000)  # live, without a reload
    daemon.api_key()
    page.close()
    return daemon
