"""``orchestratia up``: the admin password, generated once, saved privately, reused."""

from __future__ import annotations

import json
import os
import stat

from orchestratia.cli.up import credentials


def test_first_password_is_generated_saved_private_and_reused(plan) -> None:
    first = credentials.candidate_passwords(plan)
    assert len(first) == 1 and len(first[0]) >= 16
    assert stat.S_IMODE(os.stat(plan.credentials_file).st_mode) == 0o600
    assert json.loads(plan.credentials_file.read_text())["password"] == first[0]
    assert credentials.candidate_passwords(plan) == first


def test_env_password_comes_first(plan, monkeypatch) -> None:
    saved = credentials.candidate_passwords(plan)[0]
    monkeypatch.setenv("ORCHESTRATIA_ADMIN_PASSWORD", "from-env")
    assert credentials.candidate_passwords(plan) == ["from-env", saved]
