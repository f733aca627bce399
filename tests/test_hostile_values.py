"""Option values that parse as numbers but mean nothing: each is one `mlwarden: error:` line and
exit 2 before anything runs, never a silent 'no limit'.

`--check-timeout inf` (and `1e309`, which Python reads as inf, and `-0`) passed `FloatRange(min=0)`
and reached the check supervisor as 'no limit'; the same for every other option and environment
variable of seconds whose range has no upper bound.
"""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from scanner.cli import cli

NOT_FINITE = ["inf", "-inf", "+Infinity", "INF", "nan", "-NaN", "1e309", "-1e400", "  inf  "]
NEGATIVE_ZERO = ["-0", "-0.0", "-0e5", "-.0"]


def _refused(args: list[str], env: dict[str, str] | None = None) -> str:
    result = CliRunner().invoke(cli, ["scan", "--demo", "--fail-on", "none", "-q", *args], env=env)
    assert result.exit_code == 2, (result.exit_code, result.output)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("mlwarden: error: "), result.stderr
    assert "Traceback" not in result.output and not result.stdout
    return lines[0]


@pytest.mark.parametrize("value", NOT_FINITE)
def test_a_check_timeout_that_is_no_finite_number_is_refused(value: str) -> None:
    message = _refused(["--check-timeout", value])
    assert "--check-timeout" in message and "is not a finite number of seconds" in message, message


@pytest.mark.parametrize("value", NEGATIVE_ZERO)
def test_a_negative_zero_is_negative(value: str) -> None:
    message = _refused(["--check-timeout", value])
    assert f"{value!r} is negative" in message, message


@pytest.mark.parametrize("value", ["86400.5", "1e18", "-1"])
def test_a_check_timeout_beyond_a_day_or_below_zero_is_out_of_range(value: str) -> None:
    assert "is not in the range 0<=x<=86400" in _refused(["--check-timeout", value])


@pytest.mark.parametrize("variable", ["MLWARDEN_CONNECT_TIMEOUT", "MLWARDEN_READ_TIMEOUT"])
@pytest.mark.parametrize("value", ["inf", "1e309", "nan", "-0"])
def test_timeouts_from_the_environment_are_held_to_the_same_rule(variable: str, value: str) -> None:
    message = _refused([], env={variable: value})
    assert f"invalid value for {variable}" in message, message


@pytest.mark.parametrize("value", ["0", "0.5", "86400", "30"])
def test_finite_timeouts_still_run(value: str) -> None:
    result = CliRunner().invoke(cli, ["scan", "--demo", "--fail-on", "none", "-q", "--check-timeout", value])
    assert result.exit_code == 0, result.output
