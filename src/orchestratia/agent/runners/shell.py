"""``shell``: the task spec is a bash script (off unless ``shell.enabled: true``)."""

from __future__ import annotations

from .base import SCRIPT_PLACEHOLDER, LaunchPlan, Runner, RunReport, tail_text


class ShellRunner(Runner):
    name = "shell"

    @property
    def enabled(self) -> bool:
        return bool(self.section.enabled)

    def build(self, prompt: str) -> LaunchPlan:
        # the script goes to a 0600 file; never onto a command line, never through `-c`
        return LaunchPlan(argv=[self.find_binary() or self.binary, SCRIPT_PLACEHOLDER], script=prompt)

    def report(self, exit_code: int, log: bytes) -> RunReport:
        summary = tail_text(log)
        rep = RunReport(ok=exit_code == 0, summary=summary)
        if not rep.ok:
            rep.error = f"shell script exited with status {exit_code}"
        return rep
