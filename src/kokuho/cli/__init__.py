"""The one ``kokuho`` command. Every sub-command is a thin call into a context.

The sub-commands are imported on first use (issue 11): their modules pull in SQLAlchemy, Ibis,
pandas and the web app, which took about 2.6 s before ``kokuho --help`` or ``kokuho ids check``
could print a line. ``COMMANDS`` names each command's module and its short help, so ``--help``
lists every command without importing any of them; tests/test_cli_startup.py checks that the
table agrees with the commands it names.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Mapping
from typing import Any

import click

from kokuho import __version__
from kokuho.cli._commands import COMMANDS, LazyCommand, SingleValueGroup, SingleValueOptions

__all__ = ["COMMANDS", "LazyCommand", "LazyGroup", "load", "main"]


def load(entry: LazyCommand) -> click.Command:
    """Imports the module of ``entry`` and returns its command."""
    command = getattr(importlib.import_module(f"kokuho.cli.{entry.module}"), entry.attribute)
    if not isinstance(command, click.Command):
        raise TypeError(f"kokuho.cli.{entry.module}.{entry.attribute} is not a click command")
    _check_tree(command, entry.module)
    return command


def _check_tree(command: click.Command, module: str) -> None:
    """Every command refuses a single-valued option given twice (``_params``): one declared
    with plain ``@click.command()`` / ``@click.group()`` would not, and is refused here."""
    if not isinstance(command, SingleValueOptions):
        raise TypeError(
            f"kokuho.cli.{module}: command {command.name!r} must be declared with "
            "cls=SingleValueOptions (or SingleValueGroup)"
        )
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            _check_tree(sub, module)


class LazyGroup(SingleValueGroup):
    """A click group whose sub-commands are imported when one is run or asked for its help."""

    def __init__(self, *args: Any, lazy: Mapping[str, LazyCommand], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = lazy

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in self.lazy:
            self.add_command(load(self.lazy[cmd_name]), cmd_name)
        return super().get_command(ctx, cmd_name)

    def main(self, *args: Any, **kwargs: Any) -> Any:
        """Runs the command; an exception no command expected (a defect, not bad input: that
        is refused with its own reason) ends in one line and exit code 1, not a traceback.
        ``KOKUHO_DEBUG=1`` lets the traceback through, to report it."""
        if not kwargs.get("standalone_mode", True) or os.environ.get("KOKUHO_DEBUG") == "1":
            return super().main(*args, **kwargs)
        from kokuho.config import SettingError

        try:
            return super().main(*args, **kwargs)
        except SettingError as error:
            # A setting the operator gave: its text names the variable and what it accepts.
            from kokuho.cli._output import shown

            click.echo(f"error: {shown(error)}", err=True)
            sys.exit(1)
        except Exception as error:  # noqa: BLE001  (the last resort, see the docstring)
            # Imported here, not above: kokuho.store pulls in SQLAlchemy, which `kokuho --help`
            # must not wait for (issue 11), and here only a failed command pays for it.
            from kokuho.store import DataFileError, WriteBusy, busy_refusal

            # SQLite's "database is locked" met by a write outside write_transaction (an
            # import's own BEGIN IMMEDIATE, a credential's insert): the same refusal.
            error = busy_refusal(error) or error
            # A data file or its local copy ($KOKUHO_HOME/data) that does not read, from
            # whichever loader met it first: its text names the file and the line and holds no
            # personal data (docs/data.md). Or another command held the database's write lock
            # longer than the wait: not a defect; the text names what was to be written and
            # says nothing was.
            if isinstance(error, DataFileError | WriteBusy):
                from kokuho.cli._output import shown

                click.echo(f"error: {shown(error)}", err=True)
                sys.exit(1)
            # The type only: a database error's text carries the statement's parameters,
            # which may be personal data.
            click.echo(
                f"error: internal error ({type(error).__name__}); please report it with the "
                "output of the same command run with KOKUHO_DEBUG=1",
                err=True,
            )
            sys.exit(1)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # click's own listing would call get_command and so import every module. A stand-in
        # carrying the table's text is shortened to the terminal by click's own rule, so the
        # listing is the one the real commands would give.
        commands = [
            (name, self.commands.get(name) or click.Command(name, help=self.lazy[name].short_help))
            for name in self.list_commands(ctx)
        ]
        shown = [(name, command) for name, command in commands if not command.hidden]
        if not shown:
            return
        limit = formatter.width - 6 - max(len(name) for name, _ in shown)
        with formatter.section("Commands"):
            formatter.write_dl(
                [(name, command.get_short_help_str(limit)) for name, command in shown]
            )


@click.group(cls=LazyGroup, lazy=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="kokuho")
def main() -> None:
    """kokuho: the shared eligibility register and what is built on it (国民健康保険).

    Settings come from the environment: KOKUHO_HOME (default ./var), KOKUHO_DATABASE_URL
    (default SQLite under KOKUHO_HOME), KOKUHO_MYNUMBER_KEY_FILE.
    """
