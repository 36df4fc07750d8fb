"""Sign-in, sign-out, redirects, cookies, CSRF and the login rate limit."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from browser_helpers import ADMIN_PASSWORD, new_context, shoot, sign_in


def test_logged_out_pages_redirect_to_login_and_back(browser: Any, hub: Any) -> None:
    context = new_context(browser, hub)
    page = context.new_page()
    for path in ("/agents", "/tasks", "/tasks/new", "/interventions", "/tasks/00000000-0000-0000-0000-000000000000"):
        page.goto(path)
        expect(page).to_have_url(f"{hub.url}/login?next={path}")
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.goto("/")
    expect(page).to_have_url(f"{hub.url}/login?next=/agents")
    shoot(page, "login")
    page.goto("/login?next=/tasks/new")
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{hub.url}/tasks/new")  # the `next` page

    cookies = {c["name"]: c for c in context.cookies()}
    assert cookies["orc_session"]["httpOnly"] is True and cookies["orc_session"]["sameSite"] == "Lax"
    assert cookies["orc_csrf"]["httpOnly"] is False and cookies["orc_csrf"]["sameSite"] == "Lax"
    assert cookies["orc_session"]["secure"] is False  # plain http on loopback; Secure under https

    # sign out through the user menu: the session is gone server-side too
    page.get_by_label("Account menu for admin").click()
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(f"{hub.url}/login?notice=signed_out")
    expect(page.get_by_role("status")).to_contain_text("You are signed out")
    page.goto("/agents")
    expect(page).to_have_url(f"{hub.url}/login?next=/agents")
    context.close()


def test_no_open_redirect_after_sign_in(browser: Any, hub: Any) -> None:
    context = new_context(browser, hub)
    page = context.new_page()
    page.goto("/login?next=//evil.example/x")
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{hub.url}/agents")
    context.close()


def test_wrong_password_and_rate_limit(browser: Any, hub: Any) -> None:
    context = new_context(browser, hub)
    page = context.new_page()
    sign_in(page, "mallory", "wrong-password")
    expect(page.get_by_role("alert")).to_have_text("Wrong username or password.")
    expect(page.get_by_label("Username")).to_have_value("mallory")
    expect(page.get_by_role("navigation", name="Main")).to_have_count(0)  # still signed out
    shoot(page, "login-error")
    for _ in range(6):  # the hub allows 5 failures a minute per username and address
        sign_in(page, "mallory", "wrong-password")
    expect(page.get_by_role("alert")).to_contain_text("Too many failed sign-in attempts")
    context.close()


def test_csrf_is_required_for_every_change(page: Any, hub: Any) -> None:
    page.goto("/agents")
    # the API with the session cookie but no X-CSRF-Token header
    status = page.evaluate("""() => fetch('/api/admin/tokens', {method: 'POST', credentials: 'same-origin',
        headers: {'Content-Type': 'application/json'}, body: JSON.stringify({label: 'x'})}).then(r => r.status)""")
    assert status == 403
    # ... and with it
    status = page.evaluate("""() => fetch('/api/admin/tokens', {method: 'POST', credentials: 'same-origin',
        headers: {'Content-Type': 'application/json', 'X-CSRF-Token': Orc.csrf()},
        body: JSON.stringify({label: 'csrf-ok', expires_in: '30m'})}).then(r => r.status)""")
    assert status == 201
    # server-side forms: a wrong hidden field is refused, and nothing happens
    response = page.request.post(f"{hub.url}/tasks/new", form={"csrf": "forged", "title": "x", "spec": "y"},
                                 max_redirects=0)
    assert response.status == 403
    response = page.request.post(f"{hub.url}/logout", form={"csrf": "forged"}, max_redirects=0)
    assert response.status == 403
    page.goto("/agents")
    expect(page.get_by_role("heading", name="Agents")).to_be_visible()  # still signed in


def test_cookies_are_secure_behind_tls(hub: Any) -> None:
    """Behind a TLS proxy (X-Forwarded-Proto from a trusted address) both cookies are Secure
    ``__Host-`` cookies (Path=/, no Domain: no sibling subdomain or http:// page can plant them)."""
    import httpx

    headers = {"X-Forwarded-Proto": "https"}
    with httpx.Client(base_url=hub.url, headers=headers, timeout=10) as client:
        login = client.get("/login")
        assert "secure" in login.headers["set-cookie"].lower()
        csrf = login.cookies["__Host-orc_csrf"]
        client.cookies.clear()  # a Secure cookie is not sent over plain http: the proxy's client would send it
        r = client.post("/login", data={"csrf": csrf, "username": "admin", "password": ADMIN_PASSWORD, "next": "/tasks"},
                        headers={"Cookie": f"__Host-orc_csrf={csrf}"})
        assert r.status_code == 303 and r.headers["location"] == "/tasks"
        cookies = r.headers.get_list("set-cookie")
        session = next(c for c in cookies if c.startswith("__Host-orc_session="))
        assert all(flag in session.lower() for flag in ("httponly", "secure", "samesite=lax", "path=/"))
        assert any(c.startswith("__Host-orc_csrf=") and "secure" in c.lower() for c in cookies)
        assert not any("domain=" in c.lower() for c in cookies)


def test_static_files_stay_inside_their_folder(hub: Any) -> None:
    import httpx

    ok = httpx.get(f"{hub.url}/dashboard/static/js/common.js", timeout=10)
    assert ok.status_code == 200 and ok.headers["content-type"].startswith("text/javascript")
    for path in ("%2e%2e/_session.py", "..%2f_session.py", "%2e%2e/templates/base.html", "js/../../_internal.py",
                 "missing.js"):
        r = httpx.get(f"{hub.url}/dashboard/static/{path}", timeout=10)
        assert r.status_code == 404, (path, r.status_code)
    r = httpx.get(f"{hub.url}/dashboard/static/css/base.css%00.js", timeout=10)  # a NUL in any URL: 400
    assert r.status_code == 400 and "NUL" in r.text.upper(), r.text
