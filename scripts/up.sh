#!/usr/bin/env bash
# The quickstart: installs what it needs, then runs a hub on embedded SQLite plus a local
# agent (`orchestratia up`). Extra arguments go to `orchestratia up` (e.g. --port 8800).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
if ! command -v screen >/dev/null 2>&1; then
  echo "Installing screen (the agent runs tasks in detached screen sessions)..." >&2
  if [ "$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq screen >/dev/null
  else sudo apt-get update -qq && sudo apt-get install -y -qq screen >/dev/null; fi
fi
"$root/scripts/bootstrap.sh" hub
exec "$root/.venv/bin/orchestratia" up "$@"
