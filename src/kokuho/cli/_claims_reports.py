"""``kokuho claims generic-share | prescribing | cost | eligibility-errors``: the figures built
on the claims lake. Registered on the ``claims`` group of ``cli/_claims.py``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click

from kokuho.cli._claims import claims
from kokuho.cli._output import emit_json, fail, json_option, open_engine, shown
from kokuho.cli._params import FISCAL_YEAR, INPUT_FILE, MONTH, NameList
from kokuho.config import Settings

F = TypeVar("F", bound=Callable[..., Any])
#: What ``generic-share --by`` groups by: kokuho.claims' GENERIC_GROUPS, named here so that the
#: command's module need not import the engine to check an option
#: (tests/test_cli_hostile_inputs.py checks that the two agree).
GENERIC_GROUPS = ("insurer", "service_month", "kind", "setting")
NO_CLAIMS = "the claims lake has no {what}: load claims with `kokuho claims ingest` first"
#: A master the lake lacks, and the step that loads it.
NO_MASTER = {
    "drug_master": "the claims lake has no drug master (医薬品マスター): load it with "
    "`kokuho claims masters --drugs y_….csv --generic-list …` (or `kokuho claims masters` "
    "for the synthetic sample) first",
    "disease_master": "the claims lake has no disease master (傷病名マスター): load it with "
    "`kokuho claims masters --diseases b_….csv` first",
}


def _months_option(function: F) -> F:
    return click.option(
        "--month", "months", type=MONTH, multiple=True, metavar="YYYY-MM",
        help="Only this 診療年月 (repeatable).",
    )(function)  # fmt: skip


def _lake() -> Any:
    from kokuho.claims import ClaimsLake

    return ClaimsLake.from_settings(Settings.from_env())


def _rows(table: Any) -> list[dict[str, Any]]:
    """Rows of an Ibis table as JSON-ready dicts (months as ``YYYY-MM``)."""
    out = []
    for row in table.to_pyarrow().to_pylist():
        if isinstance(row.get("service_month"), dt.date):
            row["service_month"] = f"{row['service_month']:%Y-%m}"
        out.append(row)
    return out


def _run(compute: Callable[[], Any], what: str) -> Any:
    """Runs a lake computation; a missing table or a bad option ends the command."""
    try:
        return compute()
    except LookupError as error:
        fail(NO_MASTER.get(getattr(error, "table", ""), NO_CLAIMS.format(what=what)))
    except ValueError as error:
        fail(str(error))


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def _number(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


@claims.command("generic-share")
@click.option("--fy", "fiscal_year", type=FISCAL_YEAR, help="Fiscal year (年度) of the 診療年月.")
@_months_option
@click.option(
    # Checked at the edge, as `checkups rates --by`: an unknown name reached the engine after
    # the lake was read, and its refusal echoed the whole value (10,000 characters).
    "--by", "keys", type=NameList(GENERIC_GROUPS), default="insurer,service_month",
    show_default=True, help="Comma-separated: insurer, service_month, kind, setting.",
)  # fmt: skip
@json_option
def generic_share_command(
    fiscal_year: int | None, months: Sequence[str], keys: tuple[str, ...], as_json: bool
) -> None:
    """後発医薬品使用割合 (数量ベース): generic ÷ (originator with a generic + generic).

    Per group: the generic quantity, the quantity of originators that have a generic, and the
    share (empty when both are 0). Originators without a generic count on neither side.
    """
    from kokuho.claims import generic_share

    lake = _lake()
    table = _run(
        lambda: generic_share(lake, fiscal_year=fiscal_year, months=months or None, by=keys),
        "claims",
    )
    rows = _run(lambda: _rows(table), "claims")
    if as_json:
        emit_json({"fiscal_year": fiscal_year, "months": list(months), "by": list(keys),
                   "rows": rows})  # fmt: skip
        return
    click.echo("後発医薬品使用割合 (数量ベース)")
    for row in rows:
        label = " ".join(str(row[k]) for k in keys) or "全体"
        click.echo(
            f"  {label}: {_number(row['generic_quantity'], 1)} / "
            f"({_number(row['originator_quantity'], 1)} + "
            f"{_number(row['generic_quantity'], 1)}) = {_percent(row['share'])}"
        )


@claims.command("prescribing")
@click.option("--fy", "fiscal_year", type=FISCAL_YEAR, required=True, help="Fiscal year (年度).")
@_months_option
@click.option("--list", "show_list", is_flag=True, help="Print the persons, not only counts.")
@json_option
def prescribing_command(
    fiscal_year: int, months: Sequence[str], show_list: bool, as_json: bool
) -> None:
    """重複・多剤投与者: persons per insurer (per 10,000 insured) and, with --list or --json,
    each person-month with the institutions, 薬効 and drugs behind it.

    重複 is the KDB definition (≥3 institutions with ≥1 duplicated 薬効, or ≥2 with ≥2);
    多剤 follows data/prescribing_rules.yaml (UNCONFIRMED thresholds).
    """
    import ibis

    from kokuho.claims import (
        claim_insurers,
        duplicate_prescribing,
        insured_months,
        load_prescribing_rules,
        load_reference_population,
        multi_drug,
        person_counts,
    )

    lake = _lake()
    chosen = months or None
    duplicates = _run(
        lambda: duplicate_prescribing(lake, fiscal_year=fiscal_year, months=chosen), "claims"
    )
    multi = _run(lambda: multi_drug(lake, fiscal_year=fiscal_year, months=chosen), "claims")
    age_day = load_reference_population().age_day(fiscal_year)
    insured = ibis.memtable(insured_months(open_engine(), fiscal_year, age_day=age_day))
    people = {
        r["insurer"]: r["insured"]
        for r in _rows(insured.group_by("insurer").aggregate(insured=insured.persons.sum() / 12))
    }
    # Every insurer with claims, those with nobody listed too (0 is a figure of the year).
    present = _run(lambda: claim_insurers(lake, fiscal_year=fiscal_year, months=chosen), "claims")
    counts: dict[str, dict[str, Any]] = {insurer: {"insurer": insurer} for insurer in present}
    for name, listing in (("duplicate", duplicates), ("multi_drug", multi)):
        rows: list[dict[str, Any]] = _run(lambda: _rows(person_counts(listing)), "claims")  # noqa: B023
        for row in rows:
            entry = counts.setdefault(row["insurer"], {"insurer": row["insurer"]})
            entry[f"{name}_persons"] = row["persons"]
    summary = []
    for insurer in sorted(counts):
        entry = {"duplicate_persons": 0, "multi_drug_persons": 0, **counts[insurer]}
        average = people.get(insurer, 0.0)
        entry["insured"] = average
        for name in ("duplicate", "multi_drug"):
            persons = entry[f"{name}_persons"]
            entry[f"{name}_per_10k"] = persons / average * 10_000 if average else None
        summary.append(entry)
    rules = load_prescribing_rules()
    if as_json:
        emit_json(
            {
                "fiscal_year": fiscal_year,
                "months": list(months),
                "insurers": summary,
                "duplicates": _rows(duplicates),
                "multi_drug": _rows(multi),
                "unconfirmed": list(rules.unconfirmed),
            }
        )
        return
    click.echo(f"{fiscal_year}年度 重複・多剤投与者 (人, 被保険者1万人当たり)")
    for entry in summary:
        click.echo(
            f"  {entry['insurer']}: 重複 {entry['duplicate_persons']} "
            f"({_number(entry['duplicate_per_10k'], 1)}), 多剤 {entry['multi_drug_persons']} "
            f"({_number(entry['multi_drug_per_10k'], 1)})"
        )
    if show_list:
        for row in _rows(duplicates):
            click.echo(
                f"  重複 {row['service_month']} {row['insurer']} {row['symbol']} "
                f"{row['number']} {row['branch']}: 医療機関 {','.join(row['institutions'])}; "
                f"薬効 {','.join(row['efficacies'])}"
            )
        for row in _rows(multi):
            click.echo(
                f"  多剤 {row['service_month']} {row['insurer']} {row['symbol']} "
                f"{row['number']} {row['branch']}: {row['drug_count']} 剤"
            )


@claims.command("cost")
@click.option("--fy", "fiscal_year", type=FISCAL_YEAR, required=True, help="Fiscal year (年度).")
@click.option(
    "--reference", type=INPUT_FILE,
    help="The national reference for 年齢調整 and the 地域差指数 (the format of "
    "data/reference_population.yaml; default: its local copy in $KOKUHO_HOME/data, else the "
    "packaged PLACEHOLDER one).",
)  # fmt: skip
@json_option
def cost_command(fiscal_year: int, reference: Path | None, as_json: bool) -> None:
    """医療費: cost per insured, 年齢調整後一人当たり医療費 (direct standardisation) and the
    地域差指数, per insurer and for the prefecture (insurer "").

    The packaged national reference (data/reference_population.yaml) holds PLACEHOLDER
    figures: give MHLW's with --reference FILE (checked whole; a problem is reported as
    file:line: field). Fails when the year has no claims or the register no insured.
    """
    from kokuho.claims import ReferenceRejected, cost, load_reference_population

    try:
        ref = load_reference_population(reference)
    except ReferenceRejected as error:
        fail(str(error))
    lake = _lake()
    rows = _run(
        lambda: _rows(cost(lake, open_engine(), fiscal_year=fiscal_year, reference=ref)),
        "claims",
    )
    if not [row for row in rows if row["insurer"]]:
        fail(
            f"the claims lake has no claims of {fiscal_year}年度 (診療年月 {fiscal_year}-04 … "
            f"{fiscal_year + 1}-03): load them with `kokuho claims ingest` first"
        )
    if not any(row["insured"] for row in rows):
        fail(
            f"the register has no insured person in {fiscal_year}年度, so there is no cost per "
            "insured: load it with `kokuho registry insurers` and `kokuho registry import` first"
        )
    source = ref.source
    if as_json:
        emit_json({"fiscal_year": fiscal_year, "rows": rows, "reference": source,
                   "unconfirmed": list(ref.unconfirmed)})  # fmt: skip
        return
    click.echo(f"{fiscal_year}年度 医療費 (円)")
    for row in rows:
        click.echo(
            f"  {row['insurer'] or '都道府県'}: 被保険者 {_number(row['insured'], 1)}, "
            f"一人当たり {_number(row['cost_per_insured'])}, "
            f"年齢調整後 {_number(row['age_adjusted_cost'])}, "
            f"地域差指数 {_number(row['regional_index'], 3)}"
        )
    if ref.unconfirmed:
        click.echo(
            f"  ※ 全国の基準人口・一人当たり医療費は仮の値 ({source}: "
            f"{', '.join(ref.unconfirmed)} not confirmed)"
        )


@claims.command("eligibility-errors")
@_months_option
@json_option
def eligibility_errors_command(months: Sequence[str], as_json: bool) -> None:
    """資格過誤: claims whose insured number was not valid on a day of service, as 返戻
    candidates, with the reason (not_found, lost_before_service, superseded,
    not_yet_acquired) and the insurer responsible on that day where the register knows it.

    Each names the レセ電 file (its name as ingested), the line of the RE record, the
    レセプト番号 and the 10-digit 医療機関コード, so the レセプト can be found and sent back."""
    from kokuho.claims import eligibility_errors

    lake = _lake()
    errors = _run(lambda: eligibility_errors(lake, open_engine(), months or None), "claims")
    if as_json:
        emit_json({"months": list(months), "errors": [_error_row(e) for e in errors]})
        return
    reasons: dict[str, int] = {}
    for error in errors:
        reasons[error.reason] = reasons.get(error.reason, 0) + 1
    summary = ", ".join(f"{reason} {count}" for reason, count in sorted(reasons.items()))
    click.echo(
        f"{len(errors)} claim(s) with an eligibility error" + (f": {summary}" if summary else "")
    )
    for error in errors[:50]:
        where = shown(error.file_name or error.file)
        click.echo(
            f"  {where}:{error.line} レセプト番号 {error.receipt_number} "
            f"医療機関 {error.institution_code}: {error.service_month:%Y-%m} {error.insurer} "
            f"{error.symbol} {error.number} {error.branch}: {error.reason}"
            + (f", 喪失 {error.lost_on}" if error.lost_on else "")
            + (f", 資格 {error.responsible_insurer}" if error.responsible_insurer else "")
        )
    if len(errors) > 50:
        click.echo(f"  … and {len(errors) - 50} more (--json lists them all)")


def _error_row(error: Any) -> dict[str, Any]:
    """An error as a clerk looks it up: file name, line, レセプト番号, 10-digit code first."""
    return {
        "file": error.file_name, "line": error.line, "receipt_number": error.receipt_number,
        "institution": error.institution_code, "sha256": error.file,
        "claim_id": error.claim_id, "insurer": error.insurer, "symbol": error.symbol,
        "number": error.number, "branch": error.branch,
        "service_month": error.service_month, "first_day": error.first_day,
        "reason": error.reason, "lost_on": error.lost_on,
        "responsible_insurer": error.responsible_insurer,
    }  # fmt: skip
