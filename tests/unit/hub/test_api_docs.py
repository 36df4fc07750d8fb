"""/docs and /redoc work offline: the pages and their assets come from the hub itself."""

from __future__ import annotations

import re

import httpx


async def test_api_docs_pages_load_nothing_from_elsewhere(app) -> None:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://hub.test") as client:
        for page in ("/docs", "/redoc"):
            r = await client.get(page)
            assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
            refs = re.findall(r'(?:src|href|url)\s*[:=]\s*["\']([^"\']+)["\']', r.text)
            assert refs, r.text
            assert not [ref for ref in refs if "//" in ref], f"{page} loads from elsewhere: {refs}"
            for ref in refs:
                asset = await client.get(ref)
                assert asset.status_code == 200, f"{page}: {ref} → {asset.status_code}"
        assert "cdn" not in (await client.get("/docs")).text.lower()
        assert (await client.get("/openapi.json")).json()["info"]["title"] == "Orchestratia hub"
