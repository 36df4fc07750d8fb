from __future__ import annotations

import pytest

from .stand_in import stand_in_hub


@pytest.fixture
def hub(monkeypatch, tmp_path):
    """``hub(handler)``: the CLI talks to a stand-in hub answering with ``handler``."""
    return stand_in_hub(monkeypatch, tmp_path)
