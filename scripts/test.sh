#!/usr/bin/env bash
# The whole test suite: installs what it needs (screen, tmux, chromium, haproxy from Debian; Python
# packages into .venv), checks PostgreSQL and Redis, then runs pytest on ORCHESTRATIA_TEST_WORKERS
# processes (pytest-xdist; default 2: most end-to-end tests wait on their hub, daemon and screen,
# so two workers share the machine's two cores; 0 runs in this process). Extra arguments go to
# pytest (e.g. scripts/test.sh tests/unit -x).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
missing=()
command -v screen >/dev/null 2>&1 || missing+=(screen)
command -v tmux >/dev/null 2>&1 || missing+=(tmux)
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ -x /usr/sbin/haproxy ] || command -v haproxy >/dev/null 2>&1 || missing+=(haproxy)  # /usr/sbin: not on a user's PATH
if [ ${#missing[@]} -gt 0 ]; then
  echo "Installing from Debian: ${missing[*]}" >&2
  sudo_=""; [ "$(id -u)" = 0 ] || sudo_=sudo
  $sudo_ apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_ apt-get install -y -qq "${missing[@]}" >/dev/null
fi
"$root/scripts/bootstrap.sh" hub,test
exec "$root/.venv/bin/python" -m pytest -n "${ORCHESTRATIA_TEST_WORKERS:-2}" "$@"
