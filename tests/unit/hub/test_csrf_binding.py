"""The dashboard's CSRF token is bound to the admin session: a CSRF cookie planted by a sibling
subdomain or over plain HTTP (with a header or form field that matches it) forges nothing.
Under HTTPS the cookies are ``__Host-`` cookies, and only those are read."""

from __future__ import annotations

import re
from http.cookies import SimpleCookie

import httpx

from orchestratia.hub.session_cookies import csrf_for_session

from .helpers import ADMIN, ADMIN_PASSWORD, Api

PLANTED = "planted-by-evil.example.com"


def _token(api: Api) -> str:
    return api.headers["Authorization"].split()[1]


async def _tasks(api: Api) -> list[str]:
    return [t["title"] for t in await api.admin("GET", "/tasks")]


async def test_a_planted_csrf_cookie_with_a_matching_header_is_refused(api: Api) -> None:
    api.client.cookies.set("orc_session", _token(api))
    api.client.cookies.set("orc_csrf", PLANTED)
    try:
        r = await api.client.post(f"{ADMIN}/tokens", json={"label": "forged"}, headers={"X-CSRF-Token": PLANTED})
        assert r.status_code == 403, r.text
        assert "CSRF" in r.json()["detail"] and "session" in r.json()["detail"]
        # the token bound to the session passes, whatever the CSRF cookie says
        r = await api.client.post(f"{ADMIN}/tokens", json={"label": "real"},
                                  headers={"X-CSRF-Token": csrf_for_session(_token(api))})
        assert r.status_code == 201, r.text
        # a header that is not ASCII is refused like any wrong value (not a 500)
        r = await api.client.post(f"{ADMIN}/tokens", json={"label": "x"}, headers={"X-CSRF-Token": "é".encode("latin-1")})
        assert r.status_code == 403
    finally:
        api.client.cookies.clear()
    assert [t["label"] for t in await api.admin("GET", "/tokens")].count("forged") == 0


async def test_a_planted_csrf_cookie_does_not_pass_a_dashboard_form(api: Api) -> None:
    api.client.cookies.set("orc_session", _token(api))
    api.client.cookies.set("orc_csrf", PLANTED)
    try:
        forged = await api.client.post("/tasks/new", data={"csrf": PLANTED, "title": "forged", "spec": "rm -rf /"})
        assert forged.status_code == 403 and "security token" in forged.text
        page = await api.client.get("/tasks/new")  # the form carries the session's token ...
        field = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert field is not None and field.group(1) == csrf_for_session(_token(api)) != PLANTED
        made = await api.client.post("/tasks/new", data={"csrf": field.group(1), "title": "real", "spec": "echo"})
        assert made.status_code == 303, made.text  # ... which passes
    finally:
        api.client.cookies.clear()
    assert await _tasks(api) == ["real"]


def _set_cookies(response: httpx.Response) -> dict[str, str]:
    """Each Set-Cookie header by cookie name (the raw header, attributes included)."""
    found = {}
    for header in response.headers.get_list("set-cookie"):
        found[next(iter(SimpleCookie(header)))] = header
    return found


async def test_under_https_the_cookies_are_host_cookies_and_only_they_count(app) -> None:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://hub.test") as client:
        form = await client.get("/login")
        csrf = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)
        assert set(_set_cookies(form)) == {"__Host-orc_csrf"}
        signed_in = await client.post("/login", data={"csrf": csrf, "username": "admin", "password": ADMIN_PASSWORD})
        assert signed_in.status_code == 303, signed_in.text
        cookies = _set_cookies(signed_in)
        assert set(cookies) == {"__Host-orc_session", "__Host-orc_csrf"}
        for header in cookies.values():
            lowered = header.lower()
            assert "secure" in lowered and "path=/" in lowered and "domain" not in lowered
        assert "httponly" in cookies["__Host-orc_session"].lower()
        session = client.cookies["__Host-orc_session"]
        assert client.cookies["__Host-orc_csrf"] == csrf_for_session(session)
        assert (await client.get(f"{ADMIN}/me")).status_code == 200
        r = await client.post(f"{ADMIN}/tokens", json={"label": "ok"}, headers={"X-CSRF-Token": csrf_for_session(session)})
        assert r.status_code == 201

    # plain names (what a sibling subdomain or an http:// page can plant) are not read under HTTPS
    async with httpx.AsyncClient(transport=transport, base_url="https://hub.test") as client:
        client.cookies.set("orc_session", session)
        assert (await client.get(f"{ADMIN}/me")).status_code == 401
        page = await client.get("/agents")
        assert page.status_code == 303 and page.headers["location"].startswith("/login")


async def test_every_dashboard_form_refuses_a_stale_token_and_changes_nothing(api: Api) -> None:
    agent = await api.register("dev-1")
    task = await api.task(agent="dev-1")
    forms = [f"/agents/{agent['id']}/revoke", "/tasks/new", f"/tasks/{task['id']}/cancel",
             "/interventions/00000000-0000-4000-8000-000000000000/answer",
             "/pipelines/00000000-0000-4000-8000-000000000000/cancel", f"/tasks/{task['id']}/push",
             f"/tasks/{task['id']}/discard", f"/tasks/{task['id']}/reply"]
    api.client.cookies.set("orc_session", _token(api))
    try:
        for path in forms:
            r = await api.client.post(path, data={"csrf": "stale", "title": "x", "spec": "y", "message": "z",
                                                  "response": "ok"})
            assert r.status_code == 403 and "Please try again" in r.text and "reload the page" in r.text, path
    finally:
        api.client.cookies.clear()
    assert await _tasks(api) == ["t"] and await api.status(task["id"]) == "assigned"
    assert (await api.admin("GET", f"/agents/{agent['id']}"))["status"] != "REVOKED"
