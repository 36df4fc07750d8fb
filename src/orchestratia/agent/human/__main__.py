"""``python -m orchestratia.agent.human mcp | approval-hook | ask``: see :mod:`.commands`."""

import sys

from orchestratia.agent.human.commands import main

if __name__ == "__main__":
    sys.exit(main())
