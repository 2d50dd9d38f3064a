"""``kokuho premiums payments import | arrears | refunds | collection-rate``: 収納 (collection),
滞納, 過誤納金 (充当 and 還付) and 収納率 (docs/premiums-collection.md). 督促, 時効 and 不納欠損
are in ``_premiums_prescription``."""

from __future__ import annotations

import csv
import datetime as dt
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click

from kokuho.cli._output import emit_json, fail, json_option, open_engine, shown
from kokuho.cli._params import FISCAL_YEAR, INPUT_FILE_IF_ANY, RECORD_ID
from kokuho.cli._premiums import premiums
from kokuho.cli._staff import municipality_code, option_day, require_municipality
from kokuho.premiums import (
    CATEGORY_NAMES,
    RefundRefused,
    Settlement,
    arrears,
    collection_rates,
    decide_refunds,
    import_payments,
    pay_refund,
    percent,
    settlements,
)
from kokuho.registry import FileRejected

_T = TypeVar("_T")


def on_engine(work: Callable[[Any], _T], municipality: str | None = None) -> _T:
    """``work`` on the configured database, its connections closed afterwards; first, a
    ``municipality`` neither the ledger nor the register knows is refused (exit 1): a typo, or
    the 保険者番号 given for the code, answered "0 世帯" as if there were no arrears."""
    engine = open_engine()
    try:
        if municipality is not None:
            _require_known(engine, municipality)
        return work(engine)
    finally:
        engine.dispose()


def _require_known(engine: Any, code: str) -> None:
    """Passes when the premium ledger has decisions of ``code`` (it may be loaded without the
    register's insurers) or the register has it as a 市町村国保; fails naming it otherwise."""
    import sqlalchemy as sa

    from kokuho.store import metadata

    decisions = metadata.tables["premium_charge_decisions"]
    with engine.connect() as connection:
        found = connection.scalar(
            sa.select(decisions.c.municipality).where(decisions.c.municipality == code).limit(1)
        )
    if found is None:
        require_municipality(engine, code)


_STATUS_NAMES = {"open": "未還付", "paid": "還付済", "lapsed": "時効"}


def csv_option(function: Any) -> Any:
    return click.option("--csv", "as_csv", is_flag=True, help="Print CSV (UTF-8, header).")(
        function
    )


def optional_municipality(value: str | None) -> str | None:
    return None if value is None else municipality_code(value)


def one_format(as_json: bool, as_csv: bool) -> None:
    if as_json and as_csv:
        fail("--json and --csv exclude each other")


def write_csv(header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)


_R = TypeVar("_R")


def import_files(
    files: tuple[Path, ...], importer: Callable[[Any, Path], _R], as_json: bool
) -> list[_R]:
    """``importer`` on each file in turn (one transaction each), stopping at the first file
    rejected: its problems (20 at most, or all in ``--json``) and exit 1."""
    reports: list[_R] = []

    def load(engine: Any) -> FileRejected | None:
        for file in files:
            try:
                reports.append(importer(engine, file))
            except FileRejected as rejected:
                return rejected
        return None

    rejected = on_engine(load)
    if rejected is None:
        return reports
    file = files[len(reports)]
    if as_json:
        errors = [str(e) for e in rejected.errors]
        emit_json({"files": reports, "rejected": {"file": str(file), "errors": errors}})
        raise SystemExit(1)
    for error in rejected.errors[:20]:
        click.echo(str(error), err=True)
    kept = f"; {len(reports)} earlier file(s) stay loaded" if reports else ""
    fail(f"{rejected}; the file changed nothing{kept}")


@premiums.group("payments")
def payments_group() -> None:
    """Payments (収納: 口座振替, コンビニ, 窓口; docs/formats.md, "Premium payments")."""


@payments_group.command("import")
@click.argument("files", nargs=-1, required=True, type=INPUT_FILE_IF_ANY)
@json_option
def payments_import_command(files: tuple[Path, ...], as_json: bool) -> None:
    """Load payments files. Each file is one transaction: a file with any bad row changes
    nothing, and loading a file again adds nothing. Stops at the first rejected file."""
    reports = import_files(files, import_payments, as_json)
    if as_json:
        emit_json({"files": reports})
        return
    for report in reports:
        click.echo(
            f"{shown(report.file)}: {report.rows} rows, {report.added} added "
            f"({report.amount:,}円), {report.already_loaded} already loaded"
        )


@premiums.command("arrears")
@click.option("--municipality", required=True, help="全国地方公共団体コード (6 digits).")
@click.option("--as-of", help="The day (YYYY-MM-DD; default today).")
@json_option
@csv_option
def arrears_command(municipality: str, as_of: str | None, as_json: bool, as_csv: bool) -> None:
    """滞納: instalments past their 納期限 and unpaid, by age, 現年分 and 滞納繰越分."""
    one_format(as_json, as_csv)
    code = optional_municipality(municipality)
    assert code is not None
    day = option_day(as_of, "--as-of")
    report = on_engine(lambda engine: arrears(engine, code, day), code)
    if as_json:
        emit_json(report)
        return
    header = ("household", "fiscal_year", "instalment", "due", "charged", "outstanding")
    rows = [
        (a.household_id, a.fiscal_year, a.instalment, a.due, a.charged, a.outstanding)
        for a in report.arrears
    ]
    if as_csv:
        write_csv((*header, "days_overdue", "category"), [
            (*row, a.days_overdue, a.category) for row, a in zip(rows, report.arrears, strict=True)
        ])  # fmt: skip
        return
    click.echo(
        f"{report.municipality} 滞納 {report.as_of}: {report.households} 世帯, "
        f"現年分 {report.current:,}円, 滞納繰越分 {report.carried_over:,}円"
    )
    bands = ", ".join(f"{band}日 {amount:,}円" for band, amount in report.by_age.items())
    click.echo(f"  経過日数別: {bands}")
    if report.prescribed:
        # Not 滞納 any more (nothing can collect them): shown apart until written off.
        click.echo(
            f"  時効完成 (不納欠損 未処理): {len(report.prescribed)} 件 "
            f"{report.prescribed_total:,}円 (kokuho premiums write-offs run)"
        )
    for a in report.arrears:
        click.echo(
            f"  {a.household_id} {a.fiscal_year}年度 第{a.instalment}期 (納期限 {a.due}): "
            f"未納 {a.outstanding:,}円, {a.days_overdue}日経過, {CATEGORY_NAMES[a.category]}"
        )


@premiums.group("refunds")
def refunds_group() -> None:
    """過誤納金: 充当 to arrears first, then 還付 with the two-year prescription (§110(1))."""


def _settlement_rows(found: list[Settlement], as_of: dt.date) -> list[tuple[object, ...]]:
    return [
        (
            s.refund_id,
            s.household_id,
            s.fiscal_year,
            s.kind,
            s.amount,
            s.decided_on,
            s.target_fiscal_year or "",
            s.target_instalment or "",
            s.last_claim_day or "",
            s.paid_on or "",
            s.status(as_of) or "",
        )
        for s in found
    ]


_SETTLEMENT_HEADER = (
    "refund_id",
    "household",
    "fiscal_year",
    "kind",
    "amount",
    "decided_on",
    "target_fiscal_year",
    "target_instalment",
    "last_claim_day",
    "paid_on",
    "status",
)


def _print_settlements(
    found: list[Settlement], as_of: dt.date, as_json: bool, as_csv: bool
) -> None:
    rows = _settlement_rows(found, as_of)
    if as_json:
        documents = [dict(zip(_SETTLEMENT_HEADER, r, strict=True)) for r in rows]
        emit_json({"as_of": as_of, "settlements": documents})
    elif as_csv:
        write_csv(_SETTLEMENT_HEADER, rows)
    else:
        for s in found:
            if s.kind == "appropriation":
                click.echo(
                    f"  #{s.refund_id} {s.household_id} {s.fiscal_year}年度 過誤納 {s.amount:,}円 "
                    f"→ 充当 {s.target_fiscal_year}年度 第{s.target_instalment}期 ({s.decided_on})"
                )
            else:
                status = _STATUS_NAMES[s.status(as_of) or "open"]
                click.echo(
                    f"  #{s.refund_id} {s.household_id} {s.fiscal_year}年度 還付 {s.amount:,}円 "
                    f"({s.decided_on}, 請求期限 {s.last_claim_day}): {status}"
                )


@refunds_group.command("list")
@click.option("--municipality", required=True, help="全国地方公共団体コード (6 digits).")
@click.option("--as-of", help="The day the status is for (YYYY-MM-DD; default today).")
@json_option
@csv_option
def refunds_list_command(municipality: str, as_of: str | None, as_json: bool, as_csv: bool) -> None:
    """Every 充当 and 還付 decided by --as-of, with the refund's status that day (未還付, 還付済,
    時効)."""
    one_format(as_json, as_csv)
    code = optional_municipality(municipality)
    assert code is not None
    day = option_day(as_of, "--as-of")
    found = on_engine(lambda engine: settlements(engine, code), code)
    # As of the day: a decision made after it did not exist yet (it showed as 未還付).
    _print_settlements([s for s in found if s.decided_on <= day], day, as_json, as_csv)


@refunds_group.command("decide")
@click.option("--municipality", required=True, help="全国地方公共団体コード (6 digits).")
@click.option("--on", "decided_on", help="The day of the decision (YYYY-MM-DD; default today).")
@json_option
@csv_option
def refunds_decide_command(
    municipality: str, decided_on: str | None, as_json: bool, as_csv: bool
) -> None:
    """Settle every unsettled 過誤納金 of the municipality: 充当, then 還付. Idempotent."""
    one_format(as_json, as_csv)
    code = optional_municipality(municipality)
    assert code is not None
    day = option_day(decided_on, "--on", done=True)
    try:
        found = on_engine(lambda engine: decide_refunds(engine, code, day), code)
    except RefundRefused as refused:
        fail(str(refused))
    if not (as_json or as_csv):
        click.echo(f"{code} {day}: {len(found)} decision(s)")
    _print_settlements(found, day, as_json, as_csv)


@refunds_group.command("pay")
@click.argument("refund_id", type=RECORD_ID)
@click.option("--on", "paid_on", help="The day it was paid out (YYYY-MM-DD; default today).")
@json_option
def refunds_pay_command(refund_id: int, paid_on: str | None, as_json: bool) -> None:
    """Record that a refund was paid out (refused once the claim has lapsed)."""
    try:
        day = option_day(paid_on, "--on", done=True)
        paid = on_engine(lambda engine: pay_refund(engine, refund_id, day))
    except RefundRefused as refused:
        fail(str(refused))
    if as_json:
        emit_json(paid)
    else:
        click.echo(f"refund {paid.refund_id}: {paid.amount:,}円 paid on {paid.paid_on}")


@premiums.command("collection-rate")
@click.option("--fiscal-year", type=FISCAL_YEAR, required=True)
@click.option("--municipality", help="Only this 全国地方公共団体コード.")
@click.option(
    "--unknown-whereabouts",
    multiple=True,
    metavar="CODE=YEN",
    help="居所不明者分 調定額 to deduct from 現年分 [UNCONFIRMED rule] (repeatable).",
)
@json_option
@csv_option
def collection_rate_command(
    fiscal_year: int,
    municipality: str | None,
    unknown_whereabouts: tuple[str, ...],
    as_json: bool,
    as_csv: bool,
) -> None:
    """収納率 = 収納額 ÷ 調定額: 現年分, 滞納繰越分 and 過年度分を含む (固有①)."""
    one_format(as_json, as_csv)
    deductions: dict[str, int] = {}
    for item in unknown_whereabouts:
        match = re.fullmatch(r"([0-9]{6})=([0-9]{1,12})", item.strip())
        if match is None:
            fail(f"--unknown-whereabouts: {item!r} is not CODE=YEN, e.g. 372013=120000")
        if match.group(1) in deductions:
            fail(f"--unknown-whereabouts: {match.group(1)} is given twice")
        deductions[match.group(1)] = int(match.group(2))
    try:
        code = optional_municipality(municipality)
        rates = on_engine(
            lambda engine: collection_rates(engine, fiscal_year, code, deductions), code
        )
    except ValueError as error:
        fail(str(error))
    if as_json:
        emit_json({"fiscal_year": fiscal_year, "rates": [r.as_json() for r in rates]})
        return
    rows = [
        (
            r.municipality,
            r.fiscal_year,
            r.current_charged,
            r.current_collected,
            percent(r.current_rate) or "",
            r.carried_charged,
            r.carried_collected,
            percent(r.carried_rate) or "",
            percent(r.total_rate) or "",
            r.unknown_whereabouts,
            r.current_written_off,
            r.carried_written_off,
        )
        for r in rates
    ]
    if as_csv:
        write_csv(
            (
                "municipality",
                "fiscal_year",
                "current_charged",
                "current_collected",
                "current_percent",
                "carried_charged",
                "carried_collected",
                "carried_percent",
                "total_percent",
                "unknown_whereabouts",
                "current_written_off",
                "carried_written_off",
            ),
            rows,
        )
        return
    if not rates:
        click.echo(f"FY{fiscal_year}: no 調定 recorded")
    for r in rates:
        click.echo(
            f"{r.municipality} {r.fiscal_year}年度: 現年分 {percent(r.current_rate) or '-'}% "
            f"({r.current_collected:,} / {r.current_charged:,}円), 滞納繰越分 "
            f"{percent(r.carried_rate) or '-'}% ({r.carried_collected:,} / "
            f"{r.carried_charged:,}円), 過年度分を含む {percent(r.total_rate) or '-'}%"
            + (
                f", 不納欠損 {r.current_written_off + r.carried_written_off:,}円"
                if r.current_written_off or r.carried_written_off
                else ""
            )
        )
