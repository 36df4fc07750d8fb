"""The root command: version, and what the admin commands import."""

from __future__ import annotations

from .stand_in import run


def test_version() -> None:
    result = run("--version")
    assert result.exit_code == 0 and result.stdout.startswith("orchestratia ")


def test_admin_commands_do_not_import_the_hub_or_the_agent() -> None:
    import subprocess
    import sys

    code = (
        "import sys; from orchestratia.cli import main; "
        "print([m for m in sys.modules if m.startswith(('fastapi', 'sqlalchemy', 'uvicorn', 'orchestratia.hub', "
        "'orchestratia.agent'))])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"
