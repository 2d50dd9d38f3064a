"""The bounded integer types every ``kokuho`` option and argument uses (issue 11).

click's plain ``int`` accepts any size, and a year of twenty digits reached ``datetime``
(OverflowError) or the database (an id beyond BIGINT: DataError on PostgreSQL, OverflowError
on SQLite) as a traceback. Each type here is a closed range, so bad input stops at the edge
with click's one-line reason and exit code 2. tests/test_cli_inputs.py walks every command
and fails on an integer parameter that is not one of these. The names of a report's ``--by``
and the files and folders a command writes are closed here too (a fuzz run of every command).

An option that takes one value, given twice, is a usage error naming it: every command is a
:class:`~kokuho.cli._commands.SingleValueOptions` (in ``_commands``, which ``kokuho --help``
imports; this module it must not).
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any

import click

#: 年度: what :class:`kokuho.ids.FiscalYear` and ``datetime`` handle with room to spare; no
#: data kokuho reads is older than 1900.
FISCAL_YEAR = click.IntRange(1900, 2100)
#: A database id (request, person, refund): SQL BIGINT, from 1.
RECORD_ID = click.IntRange(1, 2**63 - 1)
#: An X.509 certificate serial: positive, at most 20 octets (RFC 5280 §4.1.2.2).
CERT_SERIAL = click.IntRange(1, 2**159 - 1)
#: A random seed (numpy takes 0 … 2^32 - 1 as one word).
SEED = click.IntRange(0, 2**32 - 1)
#: How many persons a synthetic prefecture has (kokuho.synth.MIN_PERSONS at least: a smaller
#: one passed the option and failed once generating).
PERSONS = click.IntRange(10, 2_000_000)
#: Simulated years.
YEARS = click.IntRange(1, 50)
#: How many rows a report prints.
TOP = click.IntRange(1, 100_000)
#: A TCP port.
PORT = click.IntRange(1, 65_535)
#: Worker processes.
WORKERS = click.IntRange(1, 64)
#: Inhabitants of one 市区町村 (the largest, 横浜市, has under 4 million).
POPULATION = click.IntRange(1, 100_000_000)
#: A window in days (a re-check list's look-ahead): up to ten years.
DAYS = click.IntRange(0, 3660)
#: The days an option may name: the fiscal years' range. 0001-01-01 and 9999-12-31 parse, and
#: then overflowed the date arithmetic of a report (OverflowError, an internal error) or were
#: recorded as a step's day.
FIRST_DAY, LAST_DAY = dt.date(1900, 1, 1), dt.date(2100, 12, 31)


def day_outside(day: dt.date) -> str | None:
    """Why ``day`` may not be named by an option, or None."""
    if FIRST_DAY <= day <= LAST_DAY:
        return None
    return f"{day.isoformat()} is outside {FIRST_DAY.isoformat()}–{LAST_DAY.isoformat()}"


class Day(click.DateTime):
    """A day YYYY-MM-DD (a ``datetime`` at midnight, as click.DateTime) within the range."""

    def __init__(self) -> None:
        super().__init__(["%Y-%m-%d"])

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        converted = super().convert(value, param, ctx)
        problem = day_outside(converted.date())
        if problem is not None:
            self.fail(problem, param, ctx)
        return converted


DAY = Day()


class Month(click.ParamType[str]):
    """A 診療年月 written YYYY-MM within the fiscal years' range (kept as that text, which
    names the lake's partitions). '2024-4' or other scripts' digits were taken, matched no
    partition and the report came back empty; '2024-13' ended with exit status 1."""

    name = "YYYY-MM"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        text = str(value)
        year = text[:4]
        if (
            len(text) != 7
            or text[4] != "-"
            or not (text.isascii() and (year + text[5:]).isdigit())
            or not 1 <= int(text[5:]) <= 12
            or not FIRST_DAY.year <= int(year) <= LAST_DAY.year
        ):
            shown = text if len(text) <= 40 else text[:40] + "…"
            self.fail(f"{shown!r} is not a month YYYY-MM ({FIRST_DAY.year}–{LAST_DAY.year})")
        return text


MONTH = Month()


class HouseholdId(click.ParamType[str]):
    """A 世帯番号 read as the register reads it (``kokuho.ids.parse_household_id``, docs/
    formats.md "世帯番号"): 「Ｗ１」 typed with a Japanese input method names the household
    stored as W1, and an id the register could never hold (longer than 20 characters, a '-')
    is a usage error naming the argument, not "no 国保 member" after a look-up."""

    name = "household"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        from kokuho.ids import HOUSEHOLD_ID_RULE, InvalidIdentifier, parse_household_id

        try:
            return parse_household_id(str(value))
        except InvalidIdentifier:
            raw = str(value)
            shown = raw if len(raw) <= 40 else raw[:40] + "…"
            self.fail(f"{shown!r} is not a 世帯番号 ({HOUSEHOLD_ID_RULE})", param, ctx)


HOUSEHOLD = HouseholdId()


class NameList(click.ParamType[tuple[str, ...]]):
    """Comma-separated names, each from a closed set and none twice (a report's ``--by``).

    Checked at the edge: a name the report does not know reached the engine, whose
    ValueError ended the command as an internal error after the work before it was done.
    """

    name = "names"

    def __init__(self, choices: tuple[str, ...]) -> None:
        self.choices = choices

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> tuple[str, ...]:
        if isinstance(value, tuple):
            return value
        text = str(value)
        names = tuple(part.strip() for part in text.split(",") if part.strip())
        if any(n not in self.choices for n in names) or len(set(names)) != len(names):
            shown = text if len(text) <= 40 else text[:40] + "…"
            self.fail(
                f"{shown!r}: choose distinct names from {', '.join(self.choices)}", param, ctx
            )
        return names


def output_problem(value: str, *, folder: bool) -> str | None:
    """Why ``value`` cannot be written to, as a file or (``folder``) as a folder made with its
    parents; None when it can: not a file where a folder goes, a folder where a file goes, a
    parent that is no folder, a link to nothing, a pipe or device where a file goes, a path
    the file system cannot take (too long), or a folder the user may not write in."""
    if not value:
        return "an empty path"
    try:
        return _output_problem(value, Path(value).absolute(), folder=folder)
    except OSError as error:  # ENAMETOOLONG and the like, from the checks' own stat calls
        shown = value if len(value) <= 80 else value[:80] + "…"
        return f"{shown} cannot be used ({error.strerror or type(error).__name__})"


def _output_problem(value: str, path: Path, *, folder: bool) -> str | None:
    if path.is_symlink() and not path.exists():
        return f"{value} is a link to nothing"
    if folder:
        if path.exists() and not path.is_dir():
            return f"{value} is a file, not a folder"
        ancestor = next(p for p in (path, *path.parents) if p.exists())
        if not ancestor.is_dir():
            return f"{ancestor} is a file, not a folder"
        writes_in = ancestor
    else:
        if path.is_dir():
            return f"{value} is a folder, not a file"
        # Files are put in place by a rename: a named pipe, a socket or a device (/dev/null
        # given to throw the output away) would be replaced by a regular file of names.
        if path.exists() and not path.is_file():
            return f"{value} is not a regular file (a pipe, socket or device); name a file"
        if not path.parent.is_dir():
            missing = "is a file, not a folder" if path.parent.exists() else "does not exist"
            return f"the folder {path.parent} {missing}"
        writes_in = path.parent
    if not os.access(writes_in, os.W_OK | os.X_OK):  # always yes for root
        return f"cannot write in the folder {writes_in} (its permissions)"
    return None


class OutputPath(click.Path):
    """A file or folder a command writes, checked at the edge: a wrong one ended in an
    OSError (an internal error) once the work before the write was done, some of it audited.
    A file is written into an existing folder; a folder is made with its parents."""

    def __init__(self, *, folder: bool, allow_dash: bool = False) -> None:
        super().__init__(
            file_okay=not folder, dir_okay=folder, allow_dash=allow_dash, path_type=Path
        )
        self.folder = folder

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, Path):
            return value
        text = str(value)
        if not (self.allow_dash and text == "-"):
            problem = output_problem(text, folder=self.folder)
            if problem is not None:
                self.fail(problem, param, ctx)
        return super().convert(value, param, ctx)


#: A file a command writes ('-' where the command says so: standard output).
OUTPUT_FILE = OutputPath(folder=False, allow_dash=True)
#: A folder a command writes into (made when missing).
OUTPUT_FOLDER = OutputPath(folder=True)


def service_url(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """A service's base URL: http(s)://HOST[:PORT][/PATH]. A malformed one reached the HTTP
    client (InvalidURL, an internal error) or, unreachable, was answered with error files
    and exit code 0; the dashboard's screenshots gave the browser's traceback."""
    if value is None:
        return None
    import httpx2

    try:
        parsed = httpx2.URL(value)
    except httpx2.InvalidURL as error:
        raise click.BadParameter(f"{value[:80]!r}: {error}") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise click.BadParameter(f"{value[:80]!r}: give http(s)://HOST[:PORT]")
    return value


class InputPath(click.Path):
    """A file a command reads (or, ``folder``, a folder it searches), which must exist and be a
    regular file: a named pipe no program writes to made the command wait for ever, and a
    device such as /dev/zero was read until memory ran out (an internal MemoryError)."""

    def __init__(self, *, folder: bool = False, exists: bool = True) -> None:
        # exists=False: the command says itself that a file is missing; a pipe is refused.
        super().__init__(exists=exists, dir_okay=folder, path_type=Path)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        path = Path(os.fsdecode(super().convert(value, param, ctx)))
        if path.exists() and not (path.is_file() or path.is_dir()):
            self.fail(f"{path} {NOT_REGULAR}; name a file", param, ctx)
        return path


#: Why a pipe, socket or device is not read as a file.
NOT_REGULAR = "is not a regular file (a pipe, socket or device)"
#: A file a command reads.
INPUT_FILE = InputPath()
#: A file a command reads, or a folder it searches for its files.
INPUT_FILE_OR_FOLDER = InputPath(folder=True)
#: A file a command reads and whose absence it reports itself.
INPUT_FILE_IF_ANY = InputPath(exists=False)
