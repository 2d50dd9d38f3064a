"""``kokuho premiums grounds import|list``: the 旧被扶養者 and 非自発的失業 grounds of the special
reductions (docs/formats.md §8a).

No command prints a person's data: the import reports counts and file:line:field errors, the
list counts persons per ground and fiscal year.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import click

from kokuho.cli._output import emit_json, json_option, open_engine
from kokuho.cli._params import INPUT_FILE
from kokuho.cli._premiums import premiums

_FILE = INPUT_FILE
_NAMES = {"former_dependant": "旧被扶養者", "involuntary_unemployment": "非自発的失業"}


@premiums.group("grounds")
def grounds() -> None:
    """Reduction grounds: 旧被扶養者 and 非自発的失業 per person (docs/formats.md §8a)."""


@grounds.command("import")
@click.argument("files", nargs=-1, required=True, type=_FILE)
@json_option
def import_command(files: tuple[Path, ...], as_json: bool) -> None:
    """Import reduction-grounds FILES, each all or nothing; a file loaded before is skipped.

    Exits 1 if any file is rejected (that file changed nothing; the others are kept).
    """
    from kokuho.cli._file_imports import import_each
    from kokuho.premiums import load_grounds

    import_each(files, load_grounds, as_json=as_json, what="reduction grounds")


@grounds.command("list")
@json_option
def list_command(as_json: bool) -> None:
    """Count the persons holding each ground by the fiscal year of its date."""
    from kokuho.premiums import ground_counts

    engine = open_engine()
    try:
        counts = ground_counts(engine)
    finally:
        engine.dispose()
    if as_json:
        emit_json({"grounds": [dataclasses.asdict(count) for count in counts]})
        return
    if not counts:
        click.echo("no reduction grounds loaded")
    for count in counts:
        name = _NAMES.get(count.ground, count.ground)
        click.echo(f"FY{count.fiscal_year}  {name} ({count.ground})  {count.persons:,} persons")
