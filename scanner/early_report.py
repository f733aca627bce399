"""The JSON report's findings written while the scan works out compliance and posture.

At 100,000 resources the findings are most of the JSON report (440 MB, about 2 s to write) and
are final before compliance and posture are worked out (about 0.6 s in the scanning process, with
the other core mostly idle then). A scan whose checks ran in several processes therefore begins
the report in a forked child as soon as the findings are final (`Outputs.begin_report`), and its
remaining keys are written after them when the reports are staged. The bytes are what
`json_report.write` gives: the remaining keys are written from the result, and a result that does
not begin with what was written (the same checks, threshold and finding objects) has the report
written whole instead.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import IO

from reports import RENDERERS, Streamed, json_report
from scanner.models import CheckMeta, Finding, ScanResult, Severity
from scanner.outputs import Outputs


class EarlyJson:
    """Begins report `name` (the plain JSON format, or None: none asked for) once the findings are ready."""

    def __init__(self, outputs: Outputs, name: str | None, fail_on: Severity | None) -> None:
        self.outputs, self.name, self.fail_on = outputs, name, fail_on
        self.head: json_report.Head | None = None

    def findings_ready(self, checks: tuple[CheckMeta, ...], findings: Sequence[Finding], processes: int) -> None:
        """`engine.FindingsReady`: begin the report when the checks had the cores for it."""
        if self.name is None or processes < 2 or RENDERERS.get("json") != Streamed(json_report.write):
            return
        self.head = json_report.Head(checks, self.fail_on, findings)
        self.outputs.begin_report(self.name, partial(json_report.write_head, self.head))

    def rest(self, name: str, result: ScanResult) -> Callable[[IO[bytes]], tuple[str, ...]] | None:
        """The writer of what follows the begun part of report `name`, or None: write it whole."""
        if name != self.name or not self.outputs.begun(name):
            return None
        if self.head is None or not self.head.begins(result):
            self.outputs.abandon(name)
            return None
        return partial(_tail, result)


def _tail(result: ScanResult, handle: IO[bytes]) -> tuple[str, ...]:
    json_report.write_tail(result, handle)
    return ()
