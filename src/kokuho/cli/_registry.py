"""``kokuho registry``: load insurers and change feeds, show a member, list overlaps."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import Progress

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
from kokuho.cli._params import DAY, INPUT_FILE, INPUT_FILE_OR_FOLDER, RECORD_ID
from kokuho.cli._registry_reassess import (
    decision_day,
    echo_runs,
    position,
    reassess_feed,
    reassess_options,
    runs_document,
)
from kokuho.cli._staff import ShownAudit
from kokuho.ids import InsuredId, InsurerNumber, InvalidIdentifier, scrub_mynumbers
from kokuho.registry import (
    LOSS_REASONS,
    Coverage,
    FileRejected,
    ImportReport,
    PersonMerge,
    RowError,
    find_overlaps,
    import_feed,
    load_insurers,
    person_merges_of,
    show,
)

_MONTH = re.compile(r"([0-9]{4}-[0-9]{2})")


@click.group(cls=SingleValueGroup)
def registry() -> None:
    """The shared eligibility register (資格情報): insurers, change feeds, members, overlaps."""


@registry.command("insurers")
@click.argument("file", type=INPUT_FILE)
@json_option
def insurers_command(file: Path, as_json: bool) -> None:
    """Load or update insurers (保険者) from FILE (docs/formats.md §1)."""
    engine = open_engine()
    try:
        report = load_insurers(engine, file)
    except FileRejected as rejected:
        _rejected(rejected, as_json)
    if as_json:
        emit_json(report)
    else:
        click.echo(
            f"{shown(file)}: {report.inserted} added, {report.updated} updated, "
            f"{report.unchanged} unchanged"
        )


def feed_files(paths: tuple[Path, ...]) -> list[Path]:
    """Files as given; a folder's CSV files in filing order (the YYYY-MM in their names), of
    which it must hold one."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = searched(path, found_files(path.rglob("*.csv")), "change-feed files (*.csv)")
            files += sorted(found, key=lambda p: (_month(p), str(p)))
        else:
            files.append(path)
    return files


def _month(path: Path) -> str:
    match = _MONTH.search(path.name) or _MONTH.search(str(path))
    return match.group(1) if match else ""


@registry.command("import")
@click.argument("paths", nargs=-1, required=True, type=INPUT_FILE_OR_FOLDER)
@click.option(
    "--load-good-rows",
    is_flag=True,
    help="Apply the good rows of a file that has rejected rows (they are still reported).",
)
@reassess_options
@json_option
def import_command(
    paths: tuple[Path, ...],
    load_good_rows: bool,
    no_reassess: bool,
    decided_on: str | None,
    as_json: bool,
) -> None:
    """Import change-feed files (資格取得・喪失・変更; docs/formats.md §2).

    Each file is applied whole or not at all (consecutive files share a transaction, a
    SAVEPOINT each) and loading a file again changes nothing. Folders are read
    in filing order. The import stops at the first rejected file: files before it stay
    loaded, files after it are not read. Then the fiscal years with 保険料 調定 that the
    loaded acquisitions and losses reach are reassessed (更正, decided on --decided-on or
    today; refusals listed with the reason), unless --no-reassess.
    """
    day = decision_day(no_reassess, decided_on)
    files = feed_files(paths)  # an empty folder is refused before the database is opened
    engine = open_engine()
    try:
        _import(engine, files, load_good_rows, day, as_json)
    finally:
        engine.dispose()


def _import(
    engine: Any, files: list[Path], load_good_rows: bool, day: dt.date | None, as_json: bool
) -> None:
    start = position(engine, day)
    reports: list[ImportReport] = []
    rejected: tuple[Path, FileRejected] | None = None
    console = Console(stderr=True)
    with Progress(console=console, transient=True, disable=as_json) as progress:
        task = progress.add_task("importing", total=len(files))
        # Consecutive files share a transaction (a SAVEPOINT each): a file is reported once
        # its run is committed, and the first rejected one is the file after the last report.
        try:
            for report in import_feed(
                engine, files, load_good_rows=load_good_rows, check=_check_residency_columns
            ):
                reports.append(report)
                progress.advance(task)
        except FileRejected as problem:
            rejected = (files[len(reports)], problem)
    # Files loaded before a rejected one stay loaded: their 更正 is due all the same.
    runs = reassess_feed(engine, start, day, reports)
    if rejected is not None:
        file, refused = rejected
        if as_json:
            emit_json({"files": reports, "rejected": _problem(refused),
                       "reassessed": runs_document(runs)})  # fmt: skip
            raise SystemExit(1)
        echo_runs(runs)
        for row_error in refused.errors[:20]:
            click.echo(str(row_error), err=True)
        loaded = f"{len(reports)} earlier file(s) stay loaded; " if reports else ""
        fail(
            f"{file}: rejected with {len(refused.errors)} error(s), nothing changed; "
            f"{loaded}{len(files) - len(reports) - 1} later file(s) not read"
        )
    if as_json:
        emit_json({"files": reports, "totals": _totals(reports),
                   "reassessed": runs_document(runs)})  # fmt: skip
        return
    totals = _totals(reports)
    click.echo(
        f"{len(reports)} file(s), {totals['rows']} rows: {totals['applied']} applied "
        f"({totals['acquired']} 取得, {totals['lost']} 喪失, {totals['changed']} 変更), "
        f"{totals['duplicates']} already loaded, {totals['rejected']} rejected; "
        f"{totals['persons_created']} new persons"
    )
    for report in reports:
        for row_error in report.errors:
            click.echo(str(row_error), err=True)
    echo_runs(runs)


def _check_residency_columns(file: Path) -> None:
    """A feed that carries the dependants' residency columns (docs/dependants.md) has them
    checked by the boundary room's stage before the import, which cannot import that room: a
    bad value refuses the file like any other bad column. Its 要確認 and 不認定 do not: the
    insurer decided the 認定; ``kokuho dependants check`` reports them."""
    from kokuho.boundary import check_residency_file, feed_has_residency_columns
    from kokuho.store import FileProblemsError

    if not feed_has_residency_columns(file):
        return
    try:
        check_residency_file(file)
    except FileProblemsError as error:
        raise FileRejected(
            [RowError(p.file, p.line, p.field, p.reason) for p in error.problems]
        ) from None


def _totals(reports: list[ImportReport]) -> dict[str, int]:
    names = ("rows", "applied", "duplicates", "rejected", "acquired", "lost", "changed",
             "persons_created")  # fmt: skip
    return {name: sum(getattr(r, name) for r in reports) for name in names}


def _problem(rejected: FileRejected) -> dict[str, Any]:
    return {"errors": [str(e) for e in rejected.errors], "count": len(rejected.errors)}


def _rejected(rejected: FileRejected, as_json: bool) -> None:
    if as_json:
        emit_json({"rejected": _problem(rejected)})
        raise SystemExit(1)
    for error in rejected.errors[:20]:
        click.echo(str(error), err=True)
    fail(f"rejected with {len(rejected.errors)} error(s); nothing changed")


def _coverage_json(coverage: Coverage) -> dict[str, Any]:
    return {
        "insurer_number": coverage.insured.insurer,
        "symbol": coverage.insured.symbol,
        "number": coverage.insured.number,
        "branch": coverage.insured.branch,
        "insurer_name": coverage.insurer_name,
        "insurer_kind": coverage.insurer_kind,
        "acquired_on": coverage.acquired_on,
        "lost_on": coverage.lost_on,
        "loss_reason": coverage.loss_reason,
        "relationship": coverage.relationship,
        "card_class": coverage.card_class,
        "terms": coverage.terms,
    }


def _period(coverage: Coverage) -> str:
    end = f"– {coverage.lost_on - dt.timedelta(days=1)}" if coverage.lost_on else "– (継続中)"
    reason = (
        f" 喪失事由 {LOSS_REASONS.get(coverage.loss_reason or '', '')}" if coverage.lost_on else ""
    )
    return f"{coverage.acquired_on} {end}{reason}"


@registry.command("show")
@click.argument("insurer")
@click.argument("symbol")
@click.argument("number")
@click.argument("branch")
@json_option
def show_command(insurer: str, symbol: str, number: str, branch: str, as_json: bool) -> None:
    """Show the member named by 保険者番号 記号 番号 枝番, with all their coverages.

    Give an empty 記号 as "" (後期高齢者医療 numbers have none).
    """
    try:
        insured = InsuredId.parse(insurer, symbol, number, branch)
    except InvalidIdentifier as error:
        fail(str(error))
    engine = open_engine()
    record = show(engine, insured)
    if record is None:
        # A My Number typed in the 記号's or 番号's place is not repeated (stderr is logged).
        fail(scrub_mynumbers(f"no member with {insured}"))
    # A read of a person's data (name, address, birth date): on the audit log before it is
    # shown, as the staff workflows' commands record theirs (cli:<login>).
    audit = ShownAudit(engine)
    try:
        audit("read_member", "registry show", [record.person_id], {"insurer": insured.insurer})
    finally:
        audit.close()
    if as_json:
        emit_json(
            {
                "person_id": record.person_id,
                "name_kanji": record.name_kanji,
                "name_kana": record.name_kana,
                "birth_date": record.birth_date,
                "sex": record.sex,
                "address": record.address,
                "mynumber_linked": record.mynumber_linked,
                "coverages": [_coverage_json(c) for c in record.coverages],
                "merges": record.merges,
            }
        )
        return
    sex = {1: "男", 2: "女"}[record.sex]
    # Name, address and insurer name came in a sender's file: shown escaped, as its file name.
    click.echo(f"{shown(record.name_kanji)}（{shown(record.name_kana)}） {record.birth_date} {sex}")
    click.echo(f"住所 {shown(record.address)}")
    click.echo(f"マイナンバー紐付け {'済' if record.mynumber_linked else '未'}")
    for coverage in record.coverages:
        mark = "*" if coverage.insured == insured else " "
        family = "本人" if coverage.relationship == 1 else "家族"
        insurer = shown(coverage.insurer_name)
        click.echo(f"{mark} {coverage.insured}  {insurer}  {family}  {_period(coverage)}")
        for terms in coverage.terms:
            extras = [
                f"高齢受給者 {terms.elderly_copay_percent}%" if terms.elderly_copay_percent else "",
                f"限度額 {terms.limit_category}" if terms.limit_category else "",
                f"特定疾病 {terms.specific_disease}" if terms.specific_disease else "",
            ]
            detail = " ".join(x for x in extras if x)
            click.echo(f"      {terms.effective_from}〜 負担 {terms.copay_percent}% {detail}")
    for merge in record.merges:
        click.echo(_merge_line(merge))


def _merge_line(merge: PersonMerge) -> str:
    moved = ", ".join(str(c) for c in merge.coverage_ids) or "-"
    return (
        f"名寄せ {merge.merged_at:%Y-%m-%d %H:%M} person {merge.absorbed_person_id} → "
        f"{merge.into_person_id} (coverages {moved}; request {merge.request_id}): {merge.reason}"
    )


@registry.command("merges")
@click.option("--person", type=RECORD_ID, help="Only merges this person id was in.")
@json_option
def merges_command(person: int | None, as_json: bool) -> None:
    """List the person records merged into another (名寄せ): two records verified to hold
    the same My Number. The record is append-only; nothing is deleted by a merge."""
    found = person_merges_of(open_engine(), person)
    if as_json:
        emit_json({"count": len(found), "merges": found})
        return
    click.echo(f"{len(found)} merge(s)")
    for merge in found:
        click.echo(_merge_line(merge))


@registry.command("overlaps")
@click.option("--insurer", help="Only pairs where one side is this 保険者番号.")
@click.option("--on", "on", type=DAY, help="Only pairs overlapping on this day.")
@json_option
def overlaps_command(insurer: str | None, on: dt.datetime | None, as_json: bool) -> None:
    """List persons covered by two insurers on the same days (資格重複)."""
    if insurer is not None:
        # As the register writes it (full-width digits, a 国保 number's leading 00), as
        # `mynumber review --insurer`: a malformed one matched nothing, exit code 0, and a long
        # one overflowed the listing's audit record (an internal error).
        try:
            insurer = InsurerNumber.parse(insurer).value
        except InvalidIdentifier as error:
            fail(str(error)[:200])
    engine = open_engine()
    found = find_overlaps(engine, insurer=insurer, on=on.date() if on else None)
    # Each person listed is a read of that person's coverages (insured numbers, insurers,
    # periods): on the audit log before it is shown, one record a person, as `registry show`.
    audit = ShownAudit(engine)
    try:
        audit("read_member", "registry overlaps", sorted({o.person_id for o in found}),
              {"list": "overlaps", "insurer": insurer or "*"})  # fmt: skip
    finally:
        audit.close()
    if as_json:
        emit_json(
            {
                "count": len(found),
                "overlaps": [
                    {
                        "person_id": o.person_id,
                        "overlap_from": o.overlap_from,
                        "overlap_until": o.overlap_until,
                        "days": o.days,
                        "first": _coverage_json(o.first),
                        "second": _coverage_json(o.second),
                    }
                    for o in found
                ],
            }
        )
        return
    click.echo(f"{len(found)} overlap(s)")
    for o in found:
        until = o.overlap_until or "(継続中)"
        click.echo(f"person {o.person_id}: {o.overlap_from} – {until}")
        for coverage in (o.first, o.second):
            click.echo(
                f"    {coverage.insured}  {shown(coverage.insurer_name)}  {_period(coverage)}"
            )
