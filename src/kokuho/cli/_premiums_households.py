"""``kokuho premiums incomes import`` and ``kokuho premiums households``: the incomes (所得)
and households (世帯) premiums are assessed on (docs/premiums-households.md).

No command prints a person's data: imports report counts and file:line:field errors (an error
names a resident_id and a column, never an amount); households are listed as counts.
"""

from __future__ import annotations

import csv
import dataclasses
import re
import sys
from pathlib import Path
from typing import Any

import click

from kokuho.cli._output import emit_json, fail, json_option, open_engine
from kokuho.cli._params import INPUT_FILE, OUTPUT_FILE
from kokuho.cli._premiums import premiums
from kokuho.cli._staff import option_day

_FILE = INPUT_FILE
_MUNICIPALITY = re.compile(r"[0-9]{6}")


@premiums.group("incomes")
def incomes() -> None:
    """Incomes (所得) per person and fiscal year from 市町村民税 data (docs/formats.md §8)."""


@incomes.command("import")
@click.argument("files", nargs=-1, required=True, type=_FILE)
@json_option
def import_command(files: tuple[Path, ...], as_json: bool) -> None:
    """Import income FILES, each all or nothing; a file loaded before is skipped.

    Exits 1 if any file is rejected (that file changed nothing; the others are kept).
    """
    from kokuho.cli._file_imports import import_each
    from kokuho.premiums import load_incomes

    import_each(files, load_incomes, as_json=as_json, what="incomes")


def _write_csv(row: dict[str, Any], target: Path) -> None:
    """One header and one row; ``-`` is standard output."""
    handle = sys.stdout if str(target) == "-" else target.open("w", encoding="utf-8", newline="")
    try:
        writer = csv.DictWriter(handle, fieldnames=list(row), lineterminator="\n")
        writer.writeheader()
        writer.writerow(row)
    finally:
        if handle is not sys.stdout:
            handle.close()


@premiums.command("households")
@click.option("--municipality", required=True, help="6-digit 全国地方公共団体コード.")
@click.option("--on", "on_text", required=True, help="The date (YYYY-MM-DD).")
@click.option(
    "--csv",
    "csv_file",
    type=OUTPUT_FILE,
    help="Write the counts as CSV ('-': stdout).",
)
@json_option
def households_command(
    municipality: str, on_text: str, csv_file: Path | None, as_json: bool
) -> None:
    """Count the municipality's 国保 households (世帯) on a date: members, 擬制世帯主,
    特定同一世帯所属者, 特定世帯, and members the register cannot place in a household."""
    from kokuho.premiums import UnknownMunicipality, household_summary

    code = municipality.strip()
    if not _MUNICIPALITY.fullmatch(code):
        fail(f"--municipality {municipality!r}: must be a 6-digit 全国地方公共団体コード")
    on = option_day(on_text, "--on")
    engine = open_engine()
    try:
        summary = household_summary(engine, code, on)
    except UnknownMunicipality as error:
        fail(str(error))
    finally:
        engine.dispose()
    if csv_file is not None:
        _write_csv(dataclasses.asdict(summary), csv_file)
    if as_json:
        emit_json(summary)
        return
    if csv_file is not None and str(csv_file) == "-":
        return
    click.echo(f"{summary.municipality} (国保 {summary.insurer_number}) on {summary.on}")
    rows = [
        ("世帯 households", summary.households),
        ("被保険者 members", summary.members),
        ("擬制世帯主 households", summary.nominal_heads),
        ("特定同一世帯所属者", summary.specified_persons),
        ("特定世帯 households", summary.specified_households),
        ("世帯主 not recorded", summary.without_head),
    ]
    for label, value in rows:
        click.echo(f"  {value:>10,}  {label}")
    if summary.unplaced_members:
        click.echo(
            f"note: {summary.unplaced_members:,} members are in no household: their resident "
            "record has no 世帯番号, or differs from the insurer's in one of the five items "
            "(a verified My Number link places them)"
        )
    if summary.residents_without_household:
        click.echo(
            f"note: {summary.residents_without_household:,} residents have no 世帯番号: load a "
            "resident file with household_id and relationship (docs/formats.md §3)"
        )
