"""An option that takes one value, given twice, is a usage error naming it (exit 2): the last
value was used silently (``--municipality 37201 --municipality 37202`` reported 37202).
Options meant to repeat (``multiple=True``) and counters still take every occurrence."""

from __future__ import annotations

from collections.abc import Iterator

import click
import pytest
from click.testing import CliRunner

from kokuho.cli import COMMANDS, load, main
from kokuho.cli._commands import SingleValueOptions
from tests.test_cli_inputs import home  # noqa: F401  (the fixture)

pytestmark = pytest.mark.usefixtures("home")  # each command runs in an empty KOKUHO_HOME


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["premiums", "collection-rate", "--fiscal-year", "2024", "--municipality", "372013",
          "--municipality", "372021"], "--municipality"),
        (["premiums", "collection-rate", "--fiscal-year", "2024", "--fiscal-year", "2023"],
         "--fiscal-year"),
        (["ids", "check", "institution", "3710112347", "--table", "1", "--table", "3"],
         "--table"),
        (["ids", "wareki", "5060401", "--json", "--json"], "--json"),
        (["credentials", "issue", "--institution", "3710112347", "--label", "a",
          "--label", "b"], "--label"),
        (["serve", "--port", "20001", "--port", "20002"], "--port"),
    ],
)  # fmt: skip
def test_a_single_valued_option_given_twice_is_a_usage_error(args: list[str], named: str) -> None:
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2, result.output
    assert "Error:" in result.output and named in result.output
    assert "more than once" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_the_check_is_not_fooled_by_another_spelling_of_the_same_option() -> None:
    result = CliRunner().invoke(main, ["ids", "wareki", "5060401", "--json", "--json=true"])
    assert result.exit_code == 2 and "--json" in result.output, result.output


def test_options_meant_to_repeat_take_every_value() -> None:
    """``--unknown-whereabouts`` is repeatable: given twice, both are read (the command then
    goes on to find no database, not a usage error)."""
    result = CliRunner().invoke(main, [
        "premiums", "collection-rate", "--fiscal-year", "2024", "--municipality", "372013",
        "--unknown-whereabouts", "372013=1", "--unknown-whereabouts", "372021=2",
    ])  # fmt: skip
    assert "more than once" not in result.output
    assert result.exit_code != 2, result.output


def test_once_is_still_fine() -> None:
    result = CliRunner().invoke(main, ["ids", "wareki", "5060401", "--json"])
    assert result.exit_code == 0, result.output


def _walk(command: click.Command) -> Iterator[click.Command]:
    yield command
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            yield from _walk(sub)


def test_every_command_refuses_repeated_single_valued_options() -> None:
    """Central: every command of the tree parses with the check, however it was declared."""
    assert isinstance(main, SingleValueOptions)
    for entry in COMMANDS.values():
        for command in _walk(load(entry)):
            assert isinstance(command, SingleValueOptions), command.name
