"""``kokuho checkups``: ingest V08 archives, stratify, rates, programme lists."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
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
from kokuho.cli._params import FISCAL_YEAR, INPUT_FILE, INPUT_FILE_OR_FOLDER, NameList
from kokuho.config import Settings
from kokuho.ids import FiscalYear

_ARCHIVES = INPUT_FILE_OR_FOLDER
#: What ``checkups rates --by`` groups by: kokuho.checkups' GROUPS, named here so that the
#: command's module need not import the engine to check an option
#: (tests/test_cli_hostile_inputs.py checks that the two agree).
RATE_GROUPS = ("insurer", "municipality", "sex", "band")


def _archives(paths: tuple[Path, ...]) -> list[Path]:
    """The archives named, and the *.zip files under the folders named (each must hold one)."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += searched(
                path, found_files(sorted(path.rglob("*.zip"))), "V08 archives (*.zip)"
            )
        else:
            found.append(path)
    return found


@click.group(cls=SingleValueGroup)
def checkups() -> None:
    """特定健診・特定保健指導: V08 archives, 階層化, rates, programmes."""


@checkups.command("ingest")
@click.argument("archives", nargs=-1, required=True, type=_ARCHIVES)
@click.option(
    "--load-good-documents",
    is_flag=True,
    help="Load the good documents of an archive that has bad ones (they are reported).",
)
@json_option
def ingest(archives: tuple[Path, ...], load_good_documents: bool, as_json: bool) -> None:
    """Ingest V08 archives (zip) into the lake; folders are searched for *.zip.

    Each archive is checked against its index and summary; a bad document rejects the archive
    unless --load-good-documents. A rejected archive loads nothing; the others are loaded, and
    the command ends with exit code 1 naming it. Loading an archive again changes nothing.
    """
    from kokuho.checkups import ArchiveRejected, Lake, read_archive

    lake = Lake.from_settings(Settings.from_env())
    paths = _archives(archives)
    loaded: list[Path] = []  # the archives read and checked, in order
    read: list[Any] = []  # their contents
    rejected: list[tuple[Path, list[str]]] = []  # the others, with their problems
    echoed = 0  # how many of ``read`` had their problems shown

    def each() -> Iterator[Any]:
        nonlocal echoed
        for path in paths:
            # The lake reads every archive of a batch before it takes its lock to add them
            # (Lake.ingest_archives): an archive's problems are reported once it is read
            # and checked, in the archives' order, before the next one is read.
            echoed = _echo_pending(read, echoed)
            try:
                contents = read_archive(path, strict=not load_good_documents)
            except ArchiveRejected as refused:
                # Nothing of it is loaded; the archives before and after it are (one bad
                # archive of a provider's batch does not hold the others back).
                for problem in refused.problems[:20]:
                    click.echo(shown(problem), err=True)
                click.echo(
                    f"{shown(str(path))}: rejected with {len(refused.problems)} problem(s); "
                    "nothing of it loaded",
                    err=True,
                )
                rejected.append((path, [str(p) for p in refused.problems]))
                continue
            loaded.append(path)
            read.append(contents)
            yield contents

    # One lock and one manifest write per batch of archives, not one per archive.
    done = lake.ingest_archives(each()) if paths else []
    _echo_pending(read, echoed)
    _echo_duplicates(lake, done)
    reports: list[dict[str, Any]] = [
        {
            "archive": path.name,
            "already_ingested": report.already_ingested,
            "checkups": report.checkups,
            "guidance": report.guidance,
            "duplicates": len(report.duplicates),
            "problems": [str(p) for p in contents.problems],
        }
        for path, contents, report in zip(loaded, read, done, strict=True)
    ]
    if as_json:
        refusals = [{"archive": path.name, "problems": found} for path, found in rejected]
        emit_json({"archives": reports, "rejected": refusals})
    else:
        added = sum(r["checkups"] for r in reports)
        again = sum(1 for r in reports if r["already_ingested"])
        duplicates = sum(r["duplicates"] for r in reports)
        click.echo(
            f"{len(reports)} archive(s): {added} checkups and "
            f"{sum(r['guidance'] for r in reports)} guidance records added, "
            f"{again} already ingested" + (f", {duplicates} duplicate(s)" if duplicates else "")
        )
    if rejected:
        names = ", ".join(str(path) for path, _ in rejected[:10])
        more = f" and {len(rejected) - 10} more" if len(rejected) > 10 else ""
        fail(f"{len(rejected)} of {len(paths)} archive(s) rejected and not loaded: {names}{more}")


def _echo_pending(read: Sequence[Any], echoed: int) -> int:
    """Shows the problems of the archives of ``read`` from ``echoed`` on; how many are shown."""
    for contents in read[echoed:]:
        _echo_problems(contents)
    return len(read)


def _echo_problems(contents: Any) -> None:
    for problem in contents.problems:
        click.echo(shown(problem), err=True)


#: What makes a document the same as one the lake holds (checkups/_lake_keys.py).
_SAME: Final = {
    "checkups": "checkup (保険者番号・番号・枝番・実施日・健診機関)",
    "guidance": "guidance record (保険者番号・番号・枝番・初回面接日・実施機関・評価日)",
}


def _echo_duplicates(lake: Any, reports: Sequence[Any]) -> None:
    """Each document not added because the lake holds it (a re-sent or corrected one too),
    with the archive that holds it: a silent count would hide a corrected checkup."""
    if not any(report.duplicates for report in reports):
        return
    names = {digest: entry["name"] for digest, entry in lake.archives().items()}
    for report in reports:
        for duplicate in report.duplicates:
            digest = duplicate.existing_archive
            held = (
                f"the lake holds this {_SAME[duplicate.table]} from "
                f"{names.get(digest, '')} (sha256 {digest[:12]}…)"
                if digest
                else f"an earlier document of this archive is this {_SAME[duplicate.table]}"
            )
            line = f"{report.name}: {duplicate.document}: not added: {held}"
            click.echo(shown(line), err=True)


@checkups.command("stratify")
@click.argument("archives", nargs=-1, type=_ARCHIVES)
@json_option
def stratify_command(archives: tuple[Path, ...], as_json: bool) -> None:
    """階層化 and メタボ判定 of every checkup in ARCHIVES, with the reasons.

    --json gives one object per checkup: the insured number, exam date, level (9N506 code:
    1 積極的支援, 2 動機付け支援, 3 なし, 4 判定不能), metabolic (9N501 code: 1 基準該当,
    2 予備群, 3 非該当, 4 判定不能), the reasons, and what the institution reported.
    """
    from kokuho.checkups import (
        ArchiveRejected,
        measures,
        metabolic,
        read_archive,
        stratify,
        term_for,
    )

    if not archives:
        fail("give V08 archives (or folders of them) to stratify")
    out: list[dict[str, Any]] = []
    for path in _archives(archives):
        try:
            contents = read_archive(path)
        except ArchiveRejected as rejected:
            fail(f"{path}: {rejected.problems[0]} ({len(rejected.problems)} problem(s))")
        for checkup in contents.checkups:
            m = measures(checkup)
            s = stratify(m, term=term_for(FiscalYear.of(checkup.exam_date).year))
            meta = metabolic(m)
            out.append(
                {
                    "insurer_number": checkup.insurer,
                    "symbol": checkup.symbol,
                    "number": checkup.number,
                    "branch": checkup.branch,
                    "exam_date": checkup.exam_date.isoformat(),
                    "level": int(s.level),
                    "metabolic": int(meta.result),
                    "risks": list(s.risks),
                    "reasons": list(s.reasons) + list(meta.reasons),
                    "reported_level": m.reported_level,
                    "reported_metabolic": m.reported_metabolic,
                }
            )
    if as_json:
        emit_json({"checkups": out})
        return
    labels = {1: "積極的支援", 2: "動機付け支援", 3: "なし", 4: "判定不能"}
    counts: dict[str, int] = {}
    for row in out:
        counts[labels[row["level"]]] = counts.get(labels[row["level"]], 0) + 1
    click.echo(f"{len(out)} checkups: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    disagree = [r for r in out if r["reported_level"] and int(r["reported_level"]) != r["level"]]
    click.echo(f"{len(disagree)} where the institution's 保健指導レベル differs from kokuho's")


@checkups.command("rates")
@click.option("--fy", "fiscal_year", type=FISCAL_YEAR, required=True, help="Fiscal year (年度).")
@click.option(
    "--by",
    "by",
    type=NameList(RATE_GROUPS),
    default="insurer",
    show_default=True,
    help="Comma-separated: insurer, municipality, sex, band.",
)
@click.option(
    "--exclusions",
    type=INPUT_FILE,
    help="Per-person exclusions file (妊産婦, 施設入所 …).",
)
@json_option
def rates_command(
    fiscal_year: int, by: tuple[str, ...], exclusions: Path | None, as_json: bool
) -> None:
    """特定健診実施率 and 特定保健指導実施率 with the official denominator, and progress
    against the targets. Exports the register's snapshot of the year first."""
    from kokuho.checkups import Lake, export_snapshot, lake_rate_tables, progress, read_exclusions
    from kokuho.store import FileProblemsError

    excluded = None
    if exclusions is not None:
        # Read and checked before any work: a bad file is the user's input, refused with the
        # file, line and column of each problem, not an error of the rates.
        try:
            excluded = read_exclusions(exclusions)
        except FileProblemsError as error:
            for problem in error.problems[:200]:
                click.echo(shown(problem), err=True)
            fail(f"{exclusions}: refused with {len(error.problems)} problem(s)")
    settings = Settings.from_env()
    lake = Lake.from_settings(settings)
    export_snapshot(open_engine(), lake, fiscal_year)
    keys = by
    # Both rates from one member-checkup match (the same rows as checkup_rates and
    # guidance_rates, for half the work).
    both = lake_rate_tables(lake, fiscal_year, keys, exclusions=excluded)
    checkup, guidance = both[0].to_pyarrow(), both[1].to_pyarrow()
    checkup_rows, guidance_rows = checkup.to_pylist(), guidance.to_pylist()
    gaps = progress(checkup) + progress(guidance)
    if as_json:
        emit_json(
            {
                "fiscal_year": fiscal_year,
                "checkup": checkup_rows,
                "guidance": guidance_rows,
                "progress": gaps,
            }
        )
        return
    click.echo(f"{fiscal_year}年度 特定健診実施率")
    for row in checkup_rows:
        label = " ".join(str(row[k]) for k in keys)
        rate = "-" if row["rate"] is None else f"{row['rate'] * 100:.1f}%"
        click.echo(f"  {label}: {row['examined']}/{row['eligible']} = {rate}")
    click.echo(f"{fiscal_year}年度 特定保健指導実施率")
    for row in guidance_rows:
        label = " ".join(str(row[k]) for k in keys)
        rate = "-" if row["rate"] is None else f"{row['rate'] * 100:.1f}%"
        click.echo(f"  {label}: {row['completed']}/{row['targets']} = {rate}")


@checkups.command("disagreements")
@click.option("--fy", "fiscal_year", type=FISCAL_YEAR, help="Only this fiscal year.")
@json_option
def disagreements_command(fiscal_year: int | None, as_json: bool) -> None:
    """Checkups where the institution's 9N501/9N506 differ from kokuho's judgement."""
    from kokuho.checkups import Lake, LakeTableMissing, disagreements

    lake = Lake.from_settings(Settings.from_env())
    try:
        table = lake.table("checkups", years=[fiscal_year] if fiscal_year else None)
    except LakeTableMissing:
        which = f" of FY{fiscal_year}" if fiscal_year else ""
        fail(f"no checkups{which} in the lake: load V08 archives with `kokuho checkups ingest`")
    rows = disagreements(table).to_pyarrow().to_pylist()
    if as_json:
        emit_json({"disagreements": rows})
        return
    click.echo(f"{len(rows)} disagreement(s)")
    for row in rows[:50]:
        click.echo(
            f"  {row['insurer']} {row['number']} {row['exam_date']}: "
            f"level {row['reported_level']}→{row['level']}, "
            f"metabolic {row['reported_metabolic']}→{row['metabolic']}"
        )


@checkups.command("targets")
@click.option("--fy", "fiscal_year", type=FISCAL_YEAR, required=True, help="Fiscal year (年度).")
@click.argument("archives", nargs=-1, type=_ARCHIVES)
@click.option(
    "--questionnaires",
    type=INPUT_FILE,
    help="後期高齢者の質問票 answers (docs/formats.md §6) for the 一体的実施 lists.",
)
@json_option
def targets_command(
    fiscal_year: int, archives: tuple[Path, ...], questionnaires: Path | None, as_json: bool
) -> None:
    """Programme lists: 糖尿病性腎症重症化予防 受診勧奨 from the checkups in ARCHIVES, and with
    --questionnaires the 一体的実施 high-risk lists (低栄養, 口腔, 服薬, 身体的フレイル,
    健康状態不明者) of the 後期高齢者 in the register.

    The 要介護認定 and 介護 claims of the care lake (`kokuho care ingest`, `kokuho care
    certifications`) are used when loaded: they remove those known to 介護 from 健康状態不明者
    and show the 区分 (要支援・要介護) on 低栄養, 口腔 and 身体的フレイル. Conditions that need
    claims or care data not loaded (未治療・治療中断, 歯科受診, 処方, 要介護認定) are listed as
    unverified. Names are never printed: persons appear by their insured-number key, for the
    staff of the insurer that holds the data.
    """
    from kokuho.checkups import ArchiveRejected, nephropathy_referrals, read_archive

    found = []
    for path in _archives(archives):
        try:
            found += read_archive(path).checkups
        except ArchiveRejected as rejected:
            fail(f"{path}: {rejected.problems[0]} ({len(rejected.problems)} problem(s))")
    lists: list[Any] = [nephropathy_referrals(found, fiscal_year=fiscal_year)]
    if questionnaires is not None:
        lists += list(_integrated(fiscal_year, found, questionnaires).values())
    if as_json:
        documents = [_list_json(item) for item in lists]
        emit_json({**documents[0], "lists": documents})
        return
    for item in lists:
        click.echo(f"{item.title} ({fiscal_year}年度): {len(item.candidates)} 人")
        for note in item.notes:
            click.echo(f"  ※ {note}")


def _list_json(listing: Any) -> dict[str, Any]:
    return {
        "programme": listing.programme,
        "title": listing.title,
        "fiscal_year": listing.fiscal_year,
        "count": len(listing.candidates),
        "candidates": [
            {
                "person": c.person_key,
                "reasons": [r.text for r in c.reasons],
                "unverified": list(c.unverified),
                "action": c.action,
            }
            for c in listing.candidates
        ],
        "notes": list(listing.notes),
        "unconfirmed": list(listing.unconfirmed),
    }


def _integrated(fiscal_year: int, checkups: list[Any], path: Path) -> dict[str, Any]:
    """The 一体的実施 lists for the register's 後期高齢者 members of the year."""
    import sqlalchemy as sa

    from kokuho.care import CareLake, care_status
    from kokuho.checkups import insured_key, integrated_lists, person_key, read_questionnaires
    from kokuho.ids import FiscalYear
    from kokuho.registry import FileRejected
    from kokuho.registry import tables as r

    try:
        records = read_questionnaires(path)
    except FileRejected as rejected:
        for error in rejected.errors[:20]:
            click.echo(shown(error), err=True)
        fail(f"{path}: rejected with {len(rejected.errors)} error(s)")
    fy = FiscalYear(fiscal_year)
    c = r.coverages.c
    engine = open_engine()
    care = care_status(engine, CareLake.from_settings(Settings.from_env()), person_key)
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(c.insurer_number, c.symbol, c.number, c.branch)
            .join(r.insurers, r.insurers.c.insurer_number == c.insurer_number)
            .where(
                r.insurers.c.kind == "koki",
                c.acquired_on <= fy.last_day,
                sa.or_(c.lost_on.is_(None), c.lost_on > fy.first_day),
            )
        ).all()
    persons = [person_key(*row) for row in rows]
    examined: dict[str, set[int]] = {}
    for checkup in checkups:
        key = insured_key(checkup)
        examined.setdefault(key, set()).add(FiscalYear.of(checkup.exam_date).year)
    lists: dict[str, Any] = integrated_lists(
        records, persons, fiscal_year=fiscal_year, examined=examined, care=care
    )
    return lists
