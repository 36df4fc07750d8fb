"""``orchestratia up``: where a run keeps its state."""

from __future__ import annotations

from orchestratia.cli.up.plan import state_dir_for


def test_state_lives_in_the_config_dir_per_data_dir(plan, tmp_path) -> None:
    assert plan.state_dir.parent == tmp_path / "cfg" / "orchestratia" / "up"
    assert state_dir_for(tmp_path / "other") != plan.state_dir
