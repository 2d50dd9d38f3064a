"""``kokuho claims``: レセ電 files into the lake, and the figures built on them."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

import click

from kokuho.cli._commands import SingleValueGroup
from kokuho.cli._output import emit_json, fail, found_files, json_option, searched, shown
from kokuho.cli._params import INPUT_FILE, INPUT_FILE_OR_FOLDER, WORKERS
from kokuho.config import Settings


@click.group(cls=SingleValueGroup)
def claims() -> None:
    """Claims (レセプト): ingest レセ電 files and report generic share, prescribing, cost and
    資格過誤."""


_FILES = INPUT_FILE_OR_FOLDER
_SUFFIXES = (".uke", ".csv")


def _claim_files(paths: tuple[Path, ...]) -> list[Path]:
    """The files named, and the *.UKE / *.csv files under the folders named (each must hold
    one)."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            matches = sorted(p for p in path.rglob("*") if p.suffix.lower() in _SUFFIXES)
            found += searched(path, found_files(matches), "レセ電 files (*.UKE, *.csv)")
        else:
            found.append(path)
    return found


#: What a file's report says beside what it added, when not 0 (docs/formats.md §7, "A claim
#: sent again").
_NOTES: Final = (
    ("repeated", "already in the lake"),
    ("replaced", "replacing an earlier 請求年月"),
    ("superseded", "superseded by a later 請求年月"),
)


@claims.command("ingest")
@click.argument("files", nargs=-1, required=True, type=_FILES)
@click.option(
    "--workers", type=WORKERS,
    help="Worker processes (default: one per CPU, up to 4, above 128 MB of files; 1 = none).",
)  # fmt: skip
@json_option
def ingest(files: tuple[Path, ...], workers: int | None, as_json: bool) -> None:
    """Load レセ電 files (医科 IR…GO, 調剤 YK…GO; cp932) into the claims lake. Folders are
    searched for *.UKE and *.csv.

    Every file is checked first: one bad record rejects the whole call, nothing is written, and
    each problem is printed as file:line: (field) name: reason. A file already in the lake is
    skipped. What a killed ingest left (uncommitted and temporary files) is removed first,
    as by `kokuho lake vacuum`. A claim sent again (same institution, 診療年月, レセプト種別,
    insured number, 生年月日 and 男女区分) with a later 請求年月 replaces the earlier one, in
    whatever order the files come; the same claim from another file under the same 請求年月 is
    not added twice, and with other values there it is refused (a 重複請求).
    """
    from kokuho.claims import ClaimFileRejected, ClaimsLake

    paths = _claim_files(files)
    lake = ClaimsLake.from_settings(Settings.from_env())
    try:
        report = lake.ingest(paths, workers=workers)
    except ClaimFileRejected as rejected:
        for problem in rejected.problems:
            click.echo(str(problem), err=True)
        if rejected.total > len(rejected.problems):
            click.echo(f"… and {rejected.total - len(rejected.problems)} more", err=True)
        bad = len({p.file for p in rejected.problems})
        fail(f"{bad} file(s) rejected with {rejected.total} problem(s); nothing was loaded")
    rows = [
        {
            "file": str(f.path),
            "sha256": f.digest,
            "status": "skipped" if f.skipped else "ingested",
            "kind": f.kind,
            "institution": f.institution,
            "claims": f.claims,
            "lines": f.lines,
            "service_months": list(f.service_months),
            "repeated": f.repeated,
            "replaced": f.replaced,
            "superseded": f.superseded,
        }
        for f in report.files
    ]
    if as_json:
        emit_json(
            {
                "files": rows,
                "ingested": report.ingested,
                "skipped": report.skipped,
                "claims": report.claims,
                "lines": report.lines,
            }
        )
        return
    for row in rows:
        if row["status"] == "skipped":
            click.echo(f"{shown(row['file'])}: skipped (already in the lake)")
        else:
            notes = [f"{row[key]} {note}" for key, note in _NOTES if row[key]]
            done = f"{row['claims']} claims, {row['lines']} lines ingested"
            click.echo(f"{shown(row['file'])}: " + ", ".join([done, *notes]))
    click.echo(
        f"{report.ingested} file(s) ingested ({report.claims} claims, {report.lines} lines), "
        f"{report.skipped} skipped"
    )


_MASTER = INPUT_FILE


@claims.command("masters")
@click.option("--drugs", type=_MASTER, help="医薬品マスター (y_*.csv).")
@click.option(
    "--generic-list",
    type=_MASTER,
    help="MHLW 後発医薬品 list (.xlsx or .csv).",
)
@click.option("--diseases", type=_MASTER, help="傷病名マスター (b_*.csv).")
@json_option
def masters(
    drugs: Path | None, generic_list: Path | None, diseases: Path | None, as_json: bool
) -> None:
    """Load the masters into the claims lake (drug_master, disease_master).

    Without options, loads kokuho's synthetic sample (not real drugs: see
    src/kokuho/data/masters/README.md). --drugs and --generic-list go together; --diseases
    may be given alone.
    """
    from kokuho.claims import (
        ClaimProblem,
        ClaimsLake,
        MasterFileRejected,
        read_disease_master,
        read_drug_master,
        read_generic_list,
        sample_masters,
    )

    if (drugs is None) != (generic_list is None):
        fail("--drugs and --generic-list go together (drug_master joins the two)")
    sample = drugs is None and diseases is None
    if sample:
        files = sample_masters()
        drugs, generic_list, diseases = files.drugs, files.generic_list, files.diseases
    lake = ClaimsLake.from_settings(Settings.from_env())
    loaded: dict[str, Any] = {"sample": sample}
    try:
        # Every file is read before any master is replaced: a bad --diseases must not leave
        # the drug_master of the same call loaded ("the lake is unchanged").
        readers = [(read_drug_master, drugs), (read_generic_list, generic_list)]
        problems: list[ClaimProblem] = []
        total = 0
        for read, path in [*readers, (read_disease_master, diseases)]:
            try:
                if path is not None:
                    read(path)
            except MasterFileRejected as rejected:
                problems.extend(rejected.problems)
                total += rejected.total
        if problems:
            raise MasterFileRejected(problems, total)
        if drugs is not None and generic_list is not None:
            loaded["drug_master"] = lake.load_masters(drugs, generic_list)
        if diseases is not None:
            loaded["disease_master"] = lake.load_disease_master(diseases)
    except MasterFileRejected as rejected:
        for problem in rejected.problems:
            click.echo(str(problem), err=True)
        fail(f"master file rejected with {rejected.total} problem(s); the lake is unchanged")
    if as_json:
        emit_json(loaded)
        return
    what = "the synthetic sample masters" if sample else "masters"
    parts = [f"{name} {rows} rows" for name, rows in loaded.items() if name != "sample"]
    click.echo(f"loaded {what}: " + ", ".join(parts))
