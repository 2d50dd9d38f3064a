"""How commands report: a table or lines for people, one JSON document with ``--json``."""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import json
import re
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


def json_option(function: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")(
        function
    )


def _default(value: object) -> object:
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")


# json.dumps(ensure_ascii=False) escapes only the C0 controls. A terminal also acts on DEL, the
# C1 controls and the bidi controls, and an output stream refuses lone surrogates. In a JSON
# document these can only stand inside strings, where the escape \uXXXX reads back as the
# same character: the document keeps its values and is safe to print. Built on first use:
# kokuho.store is imported lazily here (the CLI's start-up).
@functools.cache
def _raw_in_json() -> re.Pattern[str]:
    from kokuho.store import BIDI_CLASS

    return re.compile(f"[\x7f-\x9f{BIDI_CLASS}\ud800-\udfff]")


def emit_json(document: object) -> None:
    text = json.dumps(document, ensure_ascii=False, indent=2, default=_default)
    click.echo(_raw_in_json().sub(lambda match: f"\\u{ord(match.group()):04x}", text))


def shown(value: object) -> str:
    """``value`` as text safe on a terminal (``kokuho.store.shown_text``): a file name a sender
    chose, or a value read from a file, cannot move the cursor, retitle the window or forge a
    line. Printable ASCII is as it is, without importing the store (and SQLAlchemy)."""
    text = str(value)
    if text.isascii() and text.isprintable():
        return text
    from kokuho.store import shown_text

    return shown_text(text)


def fail(message: str, *, code: int = 1) -> NoReturn:
    """Exits with ``code`` and a one-line reason on standard error. The reason is shown
    escaped (``shown``): many name a file, or quote what it holds."""
    click.echo(f"error: {shown(message)}", err=True)
    sys.exit(code)


def found_files(matches: Iterable[Path]) -> list[Path]:
    """The files among what a folder search matched (``rglob``): a folder whose name matches
    (``x.csv/``) is left out, its files being searched themselves; an entry that is neither
    (a symbolic link to nothing, a named pipe, a socket, a device) ends the command before
    anything is read, naming it, instead of an internal error when the import opens it, a
    wait for ever on a pipe nobody writes to, or a device read until memory runs out."""
    files: list[Path] = []
    for path in matches:
        if path.is_file():
            files.append(path)
        elif not path.exists():
            fail(f"{path}: cannot be read (a link to nothing)")
        elif not path.is_dir():
            fail(f"{path}: cannot be read (not a regular file: a pipe, socket or device)")
    return files


def searched(folder: Path, found: list[Path], what: str) -> list[Path]:
    """``found``, the files to read that a search of ``folder`` turned up. None ends the command
    (exit 1) naming the folder and ``what`` was looked for: a mistyped or unmounted folder must
    not read to a cron job as an import that had nothing to do."""
    if not found:
        fail(f"{folder}: no {what} in the folder or its subfolders")
    return found


def open_engine() -> Any:
    """The configured database, migrated to the current schema."""
    from kokuho.config import Settings
    from kokuho.store import connect

    return connect(Settings.from_env().database_url)
