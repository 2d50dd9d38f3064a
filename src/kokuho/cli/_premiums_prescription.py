"""``kokuho premiums reminders import | write-offs run|decide|list | prescription``: 督促,
時効 of the 徴収権 and 不納欠損 (docs/premiums-collection.md, "時効 and 不納欠損")."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import click

from kokuho.cli._output import emit_json, fail, json_option, shown
from kokuho.cli._params import FISCAL_YEAR, HOUSEHOLD, INPUT_FILE_IF_ANY
from kokuho.cli._premiums import premiums
from kokuho.cli._premiums_collection import (
    csv_option,
    import_files,
    on_engine,
    one_format,
    optional_municipality,
    write_csv,
)
from kokuho.cli._staff import option_day
from kokuho.premiums import (
    STATUS_NAMES,
    HouseholdPrescription,
    PrescriptionRuleError,
    UnknownHousehold,
    WriteOff,
    WriteOffRefused,
    decide_write_off,
    explain_prescription,
    import_reminders,
    list_write_offs,
    load_prescription_rules,
    run_write_offs,
)


@premiums.group("reminders")
def reminders_group() -> None:
    """督促 (reminders; docs/formats.md §9a): they renew the 時効 of the 徴収権."""


@reminders_group.command("import")
@click.argument("files", nargs=-1, required=True, type=INPUT_FILE_IF_ANY)
@json_option
def reminders_import_command(files: tuple[Path, ...], as_json: bool) -> None:
    """Load reminders files (督促状: 発付日 and 指定期限 per 期). Each file is one transaction:
    a file with any bad row changes nothing, and loading a file again adds nothing."""
    reports = import_files(files, import_reminders, as_json)
    if as_json:
        emit_json({"files": reports})
        return
    for report in reports:
        click.echo(
            f"{shown(report.file)}: {report.rows} rows, {report.added} added, "
            f"{report.already_loaded} already loaded"
        )


@premiums.group("write-offs")
def write_offs_group() -> None:
    """不納欠損: instalments whose 徴収権 prescribed (時効), or written off on another ground."""


_HEADER = (
    "write_off_id",
    "household",
    "fiscal_year",
    "instalment",
    "decided_on",
    "ground",
    "amount",
    "ground_day",
)


def _print(found: list[WriteOff], as_json: bool, as_csv: bool, head: str | None) -> None:
    rows = [
        (w.write_off_id, w.household_id, w.fiscal_year, w.instalment, w.decided_on, w.ground,
         w.amount, w.ground_day)
        for w in found
    ]  # fmt: skip
    if as_json:
        emit_json({"write_offs": [dict(zip(_HEADER, r, strict=True)) for r in rows]})
        return
    if as_csv:
        write_csv(_HEADER, rows)
        return
    if head is not None:
        click.echo(head)
    grounds = load_prescription_rules().grounds
    for w in found:
        label = grounds[w.ground].label if w.ground in grounds else w.ground
        click.echo(
            f"  #{w.write_off_id} {w.household_id} {w.fiscal_year}年度 第{w.instalment}期 "
            f"不納欠損 {w.amount:,}円 ({w.decided_on}; {label} {w.ground_day})"
        )


@write_offs_group.command("run")
@click.option("--municipality", required=True, help="全国地方公共団体コード (6 digits).")
@click.option("--on", "on", help="The 基準日 of the write-off (YYYY-MM-DD; default today).")
@json_option
@csv_option
def write_offs_run_command(municipality: str, on: str | None, as_json: bool, as_csv: bool) -> None:
    """Write off (不納欠損) every instalment whose 徴収権 has prescribed by --on. One
    transaction; running it again writes nothing new (idempotent)."""
    one_format(as_json, as_csv)
    code = optional_municipality(municipality)
    assert code is not None
    day = option_day(on, "--on", done=True)
    try:
        found = on_engine(lambda engine: run_write_offs(engine, code, day), code)
    except (WriteOffRefused, PrescriptionRuleError) as refused:
        fail(str(refused))
    total = sum(w.amount for w in found)
    _print(found, as_json, as_csv, f"{code} {day}: 不納欠損 {len(found)} 件 {total:,}円 (時効完成)")


@write_offs_group.command("decide")
@click.argument("household", type=HOUSEHOLD)
@click.option("--municipality", required=True, help="全国地方公共団体コード (6 digits).")
@click.option("--fiscal-year", type=FISCAL_YEAR, required=True)
@click.option("--instalment", type=click.IntRange(1, 99), required=True, help="期 (納期 number).")
@click.option("--ground", required=True, help="A ground of data/premiums/prescription.yaml.")
@click.option("--since", help="The day the ground began (執行停止; YYYY-MM-DD).")
@click.option("--on", "on", help="The day of the decision (YYYY-MM-DD; default today).")
@json_option
def write_offs_decide_command(
    household: str,
    municipality: str,
    fiscal_year: int,
    instalment: int,
    ground: str,
    since: str | None,
    on: str | None,
    as_json: bool,
) -> None:
    """Write off one instalment on a ground the municipality decided (執行停止 …)."""
    code = optional_municipality(municipality)
    assert code is not None
    day = option_day(on, "--on", done=True)
    began = None if since is None else option_day(since, "--since", done=True)
    try:
        done = on_engine(
            lambda engine: decide_write_off(
                engine, code, household, (fiscal_year, instalment), ground, day, since=began
            ),
            code,
        )
    except (WriteOffRefused, PrescriptionRuleError) as refused:
        fail(str(refused))
    _print([done], as_json, False, None)


@write_offs_group.command("list")
@click.option("--municipality", required=True, help="全国地方公共団体コード (6 digits).")
@click.option("--as-of", help="The day (YYYY-MM-DD; default today).")
@json_option
@csv_option
def write_offs_list_command(
    municipality: str, as_of: str | None, as_json: bool, as_csv: bool
) -> None:
    """Every 不納欠損 decided by --as-of."""
    one_format(as_json, as_csv)
    code = optional_municipality(municipality)
    assert code is not None
    day = option_day(as_of, "--as-of")
    found = on_engine(lambda engine: list_write_offs(engine, code, day), code)
    total = sum(w.amount for w in found)
    _print(found, as_json, as_csv, f"{code} {day}: 不納欠損 {len(found)} 件 {total:,}円")


@premiums.command("prescription")
@click.argument("household", type=HOUSEHOLD)
@click.option("--municipality", required=True, help="全国地方公共団体コード (6 digits).")
@click.option("--as-of", help="The day (YYYY-MM-DD; default today).")
@json_option
def prescription_command(
    household: str, municipality: str, as_of: str | None, as_json: bool
) -> None:
    """Why each instalment of a household is or is not prescribed (時効) on --as-of: 納期限,
    督促 and payments that renewed the period, the last day it can be collected, 不納欠損."""
    code = optional_municipality(municipality)
    assert code is not None
    day = option_day(as_of, "--as-of")
    try:
        found = on_engine(lambda engine: explain_prescription(engine, code, household, day), code)
    except (UnknownHousehold, PrescriptionRuleError) as error:
        fail(str(error))
    if as_json:
        emit_json(dataclasses.asdict(found))
        return
    _explain(found)


def _explain(found: HouseholdPrescription) -> None:
    click.echo(
        f"{found.municipality} {found.household_id} {found.as_of} 現在 "
        f"({found.form}: 徴収権の時効 {found.years}年)"
    )
    for i in found.instalments:
        click.echo(
            f"  {i.fiscal_year}年度 第{i.instalment}期 納期限 {i.due}: 調定 {i.charged:,}円, "
            f"収納 {i.paid:,}円, 不納欠損 {i.written_off:,}円, 未納 {i.outstanding:,}円 "
            f"— {STATUS_NAMES[i.status]}"
        )
        if i.status in ("paid", "not_due"):
            click.echo(f"    {i.reason}")
            continue
        click.echo(f"    起算日 {i.counted_from} (納期限の翌日)")
        for r in i.renewals:
            what = "督促" if r.kind == "reminder" else "一部納付"
            deadline = next(
                (f" 指定期限 {m.deadline}" for m in i.reminders if m.issued_on == r.occurred_on),
                "",
            )
            click.echo(f"    {what} {r.occurred_on}{deadline}: {r.effect}")
        click.echo(f"    {i.reason}")
