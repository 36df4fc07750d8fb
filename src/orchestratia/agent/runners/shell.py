"""``shell``: the task spec is a bash script (off unless ``shell.enabled: true``)."""

from __future__ import annotations

from .base import SCRIPT_PLACEHOLDER, LaunchPlan, Runner, RunReport, last_text_line, tail_text, with_line


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
        rep = RunReport(ok=exit_code == 0, summary=summary, last_line=last_text_line(log, skip_json=False))
        if not rep.ok:
            rep.error = with_line(f"shell script exited with status {exit_code}", rep.last_line)
        return rep
