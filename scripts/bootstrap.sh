#!/usr/bin/env bash
# Creates .venv (if missing) and installs Orchestratia into it with the given extras.
# Usage: scripts/bootstrap.sh EXTRAS   e.g.  scripts/bootstrap.sh hub   or   hub,test
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
extras="${1:-hub}"
py="${PYTHON:-python3}"
if [ ! -x "$root/.venv/bin/python" ]; then
  "$py" -m venv "$root/.venv"
  "$root/.venv/bin/python" -m pip install -q --upgrade pip
fi
stamp="$root/.venv/.installed-$extras"
if [ ! -f "$stamp" ] || [ "$root/pyproject.toml" -nt "$stamp" ]; then
  "$root/.venv/bin/python" -m pip install -q -e "$root[$extras]"
  touch "$stamp"
fi
