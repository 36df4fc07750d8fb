#!/usr/bin/env python3
"""Orchestratia agent daemon - the entry point of the setup guide (ORCHESTRATIA.md).

    python3 /opt/orchestratia-agent/daemon.py --config /etc/orchestratia/config.yaml

Runs from a clone of this repository after `pip3 install -r requirements.txt`: it puts ./src on
sys.path and starts `orchestratia.agent.daemon.run_daemon`. SIGTERM / Ctrl+C stop the daemon and
leave running task sessions alone (they are adopted again on the next start).
"""

import argparse
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "src"))


def main() -> int:
    parser = argparse.ArgumentParser(description="Orchestratia agent daemon")
    parser.add_argument("--config", default=os.environ.get("ORCHESTRATIA_AGENT_CONFIG", "/etc/orchestratia/config.yaml"),
                        help="path to config.yaml (default: /etc/orchestratia/config.yaml)")
    args = parser.parse_args()
    try:
        from orchestratia.agent.daemon import run_daemon
    except ImportError as err:
        print(f"error: {err}. Install the daemon's dependencies for this Python ({sys.executable}):\n"
              f"  {sys.executable} -m pip install -r {os.path.join(HERE, 'requirements.txt')}", file=sys.stderr)
        return 1

    return run_daemon(args.config)


if __name__ == "__main__":
    sys.exit(main())
