"""The plan of an ``up`` run in a tmp dir (fixture ``plan``), for the ``up`` unit tests."""

from __future__ import annotations

import pytest

from orchestratia.cli.up.plan import UpPlan, state_dir_for


@pytest.fixture
def plan(tmp_path, monkeypatch) -> UpPlan:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    monkeypatch.delenv("ORCHESTRATIA_ADMIN_PASSWORD", raising=False)
    data = tmp_path / "data"
    p = UpPlan(data_dir=data, host="127.0.0.1", port=8123, state_dir=state_dir_for(data))
    p.hub_url = "http://127.0.0.1:8123"
    return p
