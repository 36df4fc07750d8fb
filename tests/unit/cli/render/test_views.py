"""Tables and detail views: status colours."""

from __future__ import annotations


def test_every_intervention_status_has_a_colour() -> None:
    from orchestratia.cli import render
    from orchestratia.protocol import InterventionStatus

    styles = {s.value: render.status_text(s.value).style for s in InterventionStatus}
    assert all(styles.values()), styles
    assert styles["withdrawn"] not in (styles["pending"], styles["answered"])  # closed, not waiting, not answered
