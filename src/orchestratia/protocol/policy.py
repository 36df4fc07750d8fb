"""The approval policies (stdlib only): the claude approval hook imports this on every tool call
it is asked about, and pydantic would add about 0.3-0.5 s to each (the hook imports in 27 ms).
``protocol.admin`` re-exports :class:`ApprovalPolicy` with the admin API's objects."""

from __future__ import annotations

from enum import Enum


class ApprovalPolicy(str, Enum):
    """Which tool calls of a claude task a human approves (docs/human-in-the-loop.md)."""

    NONE = "none"  # none: the agent runs every tool call
    RISKY = "risky"  # edits, and shell commands that are not plainly read-only
    ALL = "all"  # every tool call

    def __str__(self) -> str:  # "risky", not "ApprovalPolicy.RISKY", in f-strings and logs
        return self.value


#: the values, in order
POLICY_VALUES: tuple[str, ...] = tuple(p.value for p in ApprovalPolicy)


def policy_choices() -> str:
    """``none, risky or all``: the values as an error message lists them."""
    return f"{', '.join(POLICY_VALUES[:-1])} or {POLICY_VALUES[-1]}"
