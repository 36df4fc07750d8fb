"""One kind of error for the whole CLI: a message for the user and an exit code.

Commands raise :class:`CliError`; :func:`guard` turns it into one line on stderr and a
non-zero exit, never a traceback.
"""

from __future__ import annotations

import functools
import os
import sys
from typing import Any, Callable, TypeVar

import typer

from .render.safe import visible

F = TypeVar("F", bound=Callable[..., Any])

#: Exit status of a command that failed (hub unreachable, not logged in, request refused).
EXIT_ERROR = 1
#: Exit status of a command stopped with Ctrl+C.
EXIT_INTERRUPTED = 130


class CliError(Exception):
    """An error the user can act on. ``str(error)`` is the whole message."""

    def __init__(self, message: str, exit_code: int = EXIT_ERROR, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code
        #: the hub's HTTP status when the hub refused the request (404, 409, ...), else None
        self.status = status


def print_error(message: str) -> None:
    """One line on stderr, prefixed so it stands out in scripts' logs; the message may quote
    the hub or an agent, so its control characters are made visible."""
    text = visible(" ".join(message.split("\n")))
    sys.stderr.write(f"error: {text}\n")
    sys.stderr.flush()


def guard(fn: F) -> F:
    """Decorator for command functions: CliError → one line on stderr + exit code;
    Ctrl+C → exit 130; an unexpected exception → one line naming it (set
    ORCHESTRATIA_DEBUG=1 for the traceback)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except CliError as exc:
            print_error(exc.message)
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            sys.stderr.write("\ninterrupted\n")
            raise typer.Exit(EXIT_INTERRUPTED) from None
        except (typer.Exit, typer.Abort, SystemExit):
            raise
        except Exception as exc:  # noqa: BLE001 - the last line of defence against tracebacks
            if os.environ.get("ORCHESTRATIA_DEBUG"):
                raise
            print_error(
                f"unexpected {type(exc).__name__}: {exc} "
                "(run again with ORCHESTRATIA_DEBUG=1 for the traceback, and please report it)"
            )
            raise typer.Exit(EXIT_ERROR) from None

    return wrapper  # type: ignore[return-value]
