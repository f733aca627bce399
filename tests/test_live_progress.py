"""Progress while collecting: live bars on a terminal, a plain line per interval in a CI log, silence with --quiet.

The fake's slow-response fault keeps the collection busy; `MLWARDEN_PROGRESS_INTERVAL` shortens
the 10-second interval so no test waits for it.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from rich.console import Console

from scanner.azure.collect import collect
from scanner.azure.progress import DEFAULT_INTERVAL, INTERVAL_ENV, Progress, interval_from_env
from scanner.errors import InputError
from tests.azure_fake import AzureFake
from tests.azure_fake.harness import env, options
from tests.azure_fake.sample import SUB_A, SUB_B, sample_inventory

LINE = re.compile(r"^mlwarden: progress: (?P<counts>.+); elapsed \d{2}:\d{2}$")
COUNT = re.compile(r"(?P<phase>[A-Za-z ]+) (?P<done>\d+)/(?P<total>\d+|\?)")


@pytest.fixture
def fake() -> Iterator[AzureFake]:
    with AzureFake(sample_inventory()) as server:
        yield server


def _collect_cli(fake: AzureFake, tmp_path: Path, *extra: str, interval: str = "0.05") -> Result:
    from scanner.cli import cli

    args = [
        "collect", "--arm-endpoint", fake.url, "--authority-host", fake.url, "--ca-bundle", str(fake.ca_path),
        "--no-keyvault", "--out", str(tmp_path / "estate.jsonl"), *extra,
    ]  # fmt: skip
    return CliRunner().invoke(cli, args, env={**env(fake, tmp_path), INTERVAL_ENV: interval})


def test_off_a_terminal_a_plain_line_with_counts_every_interval(fake: AzureFake, tmp_path: Path) -> None:
    fake.faults.delay = 0.03  # every response is slow: the collection spans many intervals
    result = _collect_cli(fake, tmp_path, "--diagnostics")
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stderr.splitlines() if line.startswith("mlwarden: progress:")]
    assert len(lines) >= 3, result.stderr
    phases = set()
    for line in lines:
        match = LINE.match(line)
        assert match, line
        counts = COUNT.findall(match["counts"])
        assert counts, line
        phases |= {phase.strip() for phase, _, _ in counts}
    assert "ARM reads" in phases  # the per-resource reads show, not only Resource Graph paging
    assert "\x1b[" not in result.stderr  # plain text for a log, no terminal control sequences


def test_quiet_silences_every_progress_line(fake: AzureFake, tmp_path: Path) -> None:
    fake.faults.delay = 0.02
    result = _collect_cli(fake, tmp_path, "--quiet")
    assert result.exit_code == 0, result.output
    assert result.stderr == "" and result.stdout == ""


class _Recorder(Progress):
    """Notes, when a subscription is said to be done, how many requests touching it the fake had seen."""

    def __init__(self, fake: AzureFake) -> None:
        super().__init__(quiet=True)
        self.fake = fake
        self.seen_at_done: dict[str, int] = {}

    def subscription(self, subscription_id: str, total: int | None = None) -> None:
        self.seen_at_done[subscription_id] = _touching(self.fake, subscription_id)
        super().subscription(subscription_id, total)


def _touching(fake: AzureFake, subscription: str) -> int:
    return sum(1 for _, _, path in list(fake.requests) if f"/subscriptions/{subscription}/" in path.lower() + "/")


def test_a_subscription_is_done_only_when_its_reads_are(fake: AzureFake, tmp_path: Path) -> None:
    fake.faults.delay = 0.02
    recorder = _Recorder(fake)
    collect(options(fake, tmp_path, max_concurrency=2), recorder)
    assert set(recorder.seen_at_done) == {SUB_A, SUB_B}
    for subscription, seen in recorder.seen_at_done.items():
        assert seen == _touching(fake, subscription) > 1  # no read of it came after "done"


def test_on_a_terminal_a_live_display_with_phases_counts_rate_and_eta(fake: AzureFake, tmp_path: Path) -> None:
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=140, color_system=None)
    fake.faults.delay = 0.01
    collect(options(fake, tmp_path, quiet=False), Progress(console=console))
    text = screen.getvalue()
    for phase in ("subscriptions", "resources", "ARM reads", "Key Vault reads"):
        assert re.search(rf"{phase}\b.*\b(\d+)/\1\b", text), phase  # each phase ends complete, done == total
    assert re.search(r"\d[\d,]*\.\d/s", text)  # a rate
    assert re.search(r"\d:\d\d:\d\d", text)  # elapsed / remaining time columns
    assert f"mlwarden: subscription {SUB_A} done" in text
    assert re.findall(r"subscription \S+ done \((\d) of 2\)", text) == ["1", "2"]  # how far, out of how many
    assert "mlwarden: collected " in text


def test_collect_and_scan_print_the_same_incomplete_line(fake: AzureFake, tmp_path: Path) -> None:
    from scanner.cli import cli

    fake.faults.forbidden_subscription = SUB_B
    common = [
        "--arm-endpoint", fake.url, "--authority-host", fake.url, "--ca-bundle", str(fake.ca_path), "--quiet",
        "--no-keyvault",
    ]  # fmt: skip
    runner = CliRunner()
    scanned = runner.invoke(cli, ["scan", *common, "--out", str(tmp_path / "r")], env=env(fake, tmp_path))
    collected = runner.invoke(cli, ["collect", *common, "--out", str(tmp_path / "e.jsonl")], env=env(fake, tmp_path))
    assert scanned.exit_code == collected.exit_code == 3
    [scan_line] = [line for line in scanned.stderr.splitlines() if "scan incomplete" in line]
    [collect_line] = [line for line in collected.stderr.splitlines() if "scan incomplete" in line]
    assert scan_line == collect_line and scan_line.startswith("mlwarden: warning: scan incomplete: ")
    assert SUB_B in collect_line


@pytest.mark.parametrize(
    ("value", "expected"), [("2.5", 2.5), ("", DEFAULT_INTERVAL), ("  ", DEFAULT_INTERVAL), ("30", 30.0)]
)
def test_interval_from_the_environment(monkeypatch: pytest.MonkeyPatch, value: str, expected: float) -> None:
    monkeypatch.setenv(INTERVAL_ENV, value)
    assert interval_from_env() == expected


@pytest.mark.parametrize(
    "value", ["0", "soon", "10s", "nan", "-1", "3601", "inf", " 30 ", "1_0", "\uff11\uff10", "1e1"]
)
def test_an_interval_that_is_no_number_of_seconds_is_refused_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv(INTERVAL_ENV, value)
    with pytest.raises(InputError, match=INTERVAL_ENV):
        interval_from_env()
