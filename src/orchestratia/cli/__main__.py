"""``python -m orchestratia.cli`` = the ``orchestratia`` command."""

from orchestratia.cli.main import main

if __name__ == "__main__":
    main()
