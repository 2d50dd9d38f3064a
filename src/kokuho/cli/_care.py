"""``kokuho care``: 介護給付費明細書 and 要介護認定 files into the care lake, and their join to
the register."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

import click

from kokuho.cli._commands import SingleValueGroup
from kokuho.cli._output import (
    emit_json,
    fail,
    found_files,
    json_option,
    open_engine,
    searched,
    shown,
)
from kokuho.cli._params import INPUT_FILE_OR_FOLDER
from kokuho.config import Settings


@click.group(cls=SingleValueGroup)
def care() -> None:
    """介護: ingest 介護給付費明細書 and 要介護認定 files, and link them to the register."""


_FILES = INPUT_FILE_OR_FOLDER
#: How a 介護給付費明細書 file begins: its コントロールレコード.
CLAIM_FILE_START = b"1,"


def care_folder(folder: Path, start: bytes = b"") -> list[Path]:
    """The *.csv files under ``folder`` that begin with ``start``, perhaps none (the demo's
    folder of a small population)."""
    found: list[Path] = []
    for file in found_files(sorted(folder.rglob("*.csv"))):
        with file.open("rb") as handle:
            if handle.read(len(start)) == start:
                found.append(file)
    return found


def _care_files(paths: tuple[Path, ...], what: str, start: bytes = b"") -> list[Path]:
    """The files named, and ``care_folder``'s files of the folders named (each must hold one,
    ``what`` naming what was looked for)."""
    found: list[Path] = []
    for path in paths:
        found += searched(path, care_folder(path, start), what) if path.is_dir() else [path]
    return found


def _rejected(rejected: Any, what: str) -> None:
    for problem in rejected.problems[:200]:
        click.echo(str(problem), err=True)
    bad = len({p.file for p in rejected.problems})
    fail(f"{bad} {what} file(s) rejected with {len(rejected.problems)} problem(s); "
         "nothing was loaded")  # fmt: skip


#: What a file's report says beside what it added, when not 0 (docs/care.md §3).
_NOTES: Final = (
    ("repeated", "already in the lake"),
    ("replaced", "replacing an earlier 処理対象年月"),
    ("superseded", "superseded by a later 処理対象年月"),
)


def _report(report: Any, unit: str, as_json: bool) -> None:
    rows = [
        {"file": str(f.path), "sha256": f.digest, "status": "skipped" if f.skipped else "ingested",
         unit: f.rows, "service_months": list(f.service_months), "repeated": f.repeated,
         "replaced": f.replaced, "superseded": f.superseded}
        for f in report.files
    ]  # fmt: skip
    if as_json:
        emit_json({"files": rows, "ingested": report.ingested, "skipped": report.skipped,
                   unit: report.rows})  # fmt: skip
        return
    for row in rows:
        if row["status"] == "skipped":
            click.echo(f"{shown(row['file'])}: skipped (already in the lake)")
            continue
        notes = [f"{row[key]} {note}" for key, note in _NOTES if row[key]]
        click.echo(f"{shown(row['file'])}: " + ", ".join([f"{row[unit]} {unit} ingested", *notes]))
    click.echo(f"{report.ingested} file(s) ingested ({report.rows} {unit}), "
               f"{report.skipped} skipped")  # fmt: skip


@care.command("ingest")
@click.argument("files", nargs=-1, required=True, type=_FILES)
@json_option
def ingest(files: tuple[Path, ...], as_json: bool) -> None:
    """Load 介護給付費明細書 files (国保連 交換情報 CSV, cp932) into the care lake. Folders are
    searched for *.csv files that begin with a コントロールレコード ("1,").

    Every file is checked first: one bad record rejects the whole call, nothing is written, and
    each problem is printed as file:line: (field) name: reason. A file already in the lake is
    skipped; what a killed ingest left is removed first. A claim sent again (same 保険者番号,
    被保険者番号, サービス提供年月, 事業所番号 and 交換情報識別番号) with a later 処理対象年月
    replaces the earlier one, in whatever order the files come; the same claim again with the
    same 処理対象年月 is not added twice, and with other values there it is refused.
    """
    from kokuho.care import CareFileRejected, CareLake

    paths = _care_files(files, '介護給付費明細書 files (*.csv beginning "1,")', CLAIM_FILE_START)
    lake = CareLake.from_settings(Settings.from_env())
    try:
        report = lake.ingest(paths)
    except CareFileRejected as rejected:
        _rejected(rejected, "介護給付費明細書")
    _report(report, "claims", as_json)


@care.command("certifications")
@click.argument("files", nargs=-1, required=True, type=_FILES)
@json_option
def certifications(files: tuple[Path, ...], as_json: bool) -> None:
    """Load 要介護認定 files (UTF-8 CSV, docs/care.md) into the care lake.

    All or nothing, as `kokuho care ingest`: problems are printed as file:line: column: reason.
    A certification already loaded (same 保険者番号, 被保険者番号 and valid_from) is skipped
    when equal and refused when it differs.
    """
    from kokuho.care import CareFileRejected, CareLake

    lake = CareLake.from_settings(Settings.from_env())
    try:
        report = lake.import_certifications(_care_files(files, "要介護認定 files (*.csv)"))
    except CareFileRejected as rejected:
        _rejected(rejected, "要介護認定")
    _report(report, "certifications", as_json)


def _counts(by_reason: dict[str, int]) -> str:
    return ", ".join(f"{reason} {n}" for reason, n in by_reason.items()) or "none"


@care.command("link")
@click.option("--list", "listing", is_flag=True, help="Print every number that is not linked.")
@json_option
def link(listing: bool, as_json: bool) -> None:
    """Link the care lake's 介護 numbers to the register's persons by the five basic items.

    A number is linked when exactly one person agrees on all five items of its latest
    要介護認定; a claim through its number. What is not linked is counted by reason (one item
    differs, no person, several persons, no certification).
    """
    from kokuho.care import CareLake, link_to_register

    lake = CareLake.from_settings(Settings.from_env())
    claims = lake.table("care_claims").select("insurer", "insured").to_pyarrow().to_pylist()
    numbers = [(row["insurer"], row["insured"]) for row in claims]
    engine = open_engine()
    try:
        report = link_to_register(engine, lake.certifications(), numbers)
    finally:
        engine.dispose()
    document = report.as_dict()
    if as_json:
        emit_json(document)
        return
    click.echo(f"{document['numbers_linked']} 介護 number(s) linked; not linked: "
               f"{_counts(document['numbers_unlinked'])}")  # fmt: skip
    click.echo(f"{document['claims_linked']} claim(s) linked; not linked: "
               f"{_counts(document['claims_unlinked'])}")  # fmt: skip
    click.echo(f"{document['persons_with_several_numbers']} person(s) with several 介護 numbers")
    if listing:
        for item in document["unlinked"]:
            items = ",".join(item["items"])
            click.echo(f"{item['insurer_number']} {item['insured_number']}: {item['reason']}"
                       + (f" ({items})" if items else ""))  # fmt: skip
