from __future__ import annotations

import pytest

from .stand_in import stand_in_hub


@pytest.fixture
def hub(monkeypatch, tmp_path):
    """``hub(handler)``: the CLI talks to a stand-in hub answering with ``handler``."""
    return stand_in_hub(monkeypatch, tmp_path)


@pytest.fixture(scope="session")
def real_hub(tmp_path_factory):
    """One real hub (``hub serve``, SQLite) for the session's end-to-end CLI tests."""
    from .real_hub import RealHub

    server = RealHub(tmp_path_factory.mktemp("real-hub"))
    try:
        yield server.start()
    finally:
        server.stop()
