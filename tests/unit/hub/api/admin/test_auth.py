"""The admin API contract of docs/architecture.md."""

from __future__ import annotations

import pytest

from orchestratia.hub.session_cookies import csrf_for_session

from ...helpers import ADMIN, ADMIN_PASSWORD, Api


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


async def test_login_logout_me(api: Api) -> None:
    assert await api.admin("GET", "/me") == {"username": "admin"}
    r = await api.client.post(f"{ADMIN}/login", json={"username": "admin", "password": ADMIN_PASSWORD})
    body = r.json()
    assert r.status_code == 200 and set(body) == {"token", "username", "expires_at", "csrf_token"}
    headers = {"Authorization": f"Bearer {body['token']}"}
    assert (await api.client.post(f"{ADMIN}/logout", headers=headers)).status_code == 204
    r = await api.client.get(f"{ADMIN}/me", headers=headers)
    assert r.status_code == 401 and "log in" in r.json()["detail"]
    r = await api.client.get(f"{ADMIN}/agents")
    assert r.status_code == 401


async def test_wrong_password_then_rate_limited(api: Api) -> None:
    for _ in range(5):
        r = await api.client.post(f"{ADMIN}/login", json={"username": "admin", "password": "nope"})
        assert r.status_code == 401 and r.json()["detail"] == "wrong username or password"
    r = await api.client.post(f"{ADMIN}/login", json={"username": "admin", "password": ADMIN_PASSWORD})
    assert r.status_code == 429 and "too many" in r.json()["detail"] and int(r.headers["Retry-After"]) >= 1
    r = await api.client.post(f"{ADMIN}/login", json={"username": "someone", "password": "x"})
    assert r.status_code == 401  # another username is not blocked


async def test_cookie_session_needs_csrf_for_unsafe_methods(api: Api) -> None:
    token = api.headers["Authorization"].split()[1]
    csrf = csrf_for_session(token)
    api.client.cookies.set("orc_session", token)
    api.client.cookies.set("orc_csrf", csrf)
    try:
        assert (await api.client.get(f"{ADMIN}/me")).json() == {"username": "admin"}
        r = await api.client.post(f"{ADMIN}/tokens", json={"label": "x"})
        assert r.status_code == 403 and "CSRF" in r.json()["detail"]
        r = await api.client.post(f"{ADMIN}/tokens", json={"label": "x"}, headers={"X-CSRF-Token": csrf})
        assert r.status_code == 201
    finally:
        api.client.cookies.clear()


async def test_expired_sessions_are_refused_and_purged(api: Api, hub) -> None:
    from datetime import timedelta

    from sqlalchemy import func, select, update

    from orchestratia.hub.store.models import AdminSession, utcnow

    async with hub.store.write() as session:
        await session.execute(update(AdminSession).values(expires_at=utcnow() - timedelta(seconds=1)))
    r = await api.client.get(f"{ADMIN}/me", headers=api.headers)
    assert r.status_code == 401 and "expired" in r.json()["detail"]
    await hub.scheduler.tick()
    async with hub.store.read() as session:
        assert (await session.execute(select(func.count()).select_from(AdminSession))).scalar_one() == 0
