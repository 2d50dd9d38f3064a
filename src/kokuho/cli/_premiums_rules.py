"""``kokuho premiums rules``: shows and validates the premium rule files.

The file format is in docs/premiums-rules.md.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path
from typing import Any

import click

from kokuho.cli._output import emit_json, fail, json_option, shown
from kokuho.cli._params import FISCAL_YEAR, INPUT_FILE_IF_ANY
from kokuho.cli._premiums import premiums


@premiums.command("rules")
@click.option(
    "--fiscal-year", "fiscal_year", type=FISCAL_YEAR, help="One fiscal year (default: all)."
)
@click.option("--municipality", help="One municipality (6-digit 団体コード).")
@click.option("--file", "path", type=INPUT_FILE_IF_ANY, help="Check one rule file.")
@click.option("--csv", "as_csv", is_flag=True, help="Print the table as CSV.")
@json_option
def rules_command(
    fiscal_year: int | None,
    municipality: str | None,
    path: Path | None,
    as_csv: bool,
    as_json: bool,
) -> None:
    """The rates, amounts and caps of the premium rule files; every file is validated, and any
    problem (named by file, line and field) makes the command fail."""
    from kokuho.premiums import (
        PremiumRuleError,
        PremiumRules,
        load_premium_rules,
        load_rules_file,
        shipped_municipalities,
        shipped_national_years,
    )

    if as_csv and as_json:
        fail("give --json or --csv, not both")
    if path is not None:
        if as_csv or fiscal_year is not None or municipality is not None:
            fail("--file checks one file: give it alone (or with --json)")
        try:
            single = load_rules_file(path)
        except PremiumRuleError as error:
            _problems(error)
        document = single.model_dump(mode="json")
        if as_json:
            emit_json(document)
        else:
            kind = "municipal" if "municipality" in document else "national"
            click.echo(f"{shown(path)}: a valid {kind} rule file of FY{document['fiscal_year']}")
        return
    years = shipped_national_years()
    if fiscal_year is not None:
        if fiscal_year not in years:
            fail(f"no premium rules for FY{fiscal_year} (have {years})")
        years = [fiscal_year]
    loaded: list[PremiumRules] = []
    problems: list[Any] = []
    for year in years:
        codes = shipped_municipalities(year)
        if municipality is not None:
            if municipality not in codes:
                fail(f"no premium rules for municipality {municipality!r} in FY{year}")
            codes = [municipality]
        for code in codes:
            try:
                loaded.append(load_premium_rules(year, code))
            except PremiumRuleError as error:
                problems += error.problems
    if problems:
        _problems(PremiumRuleError(problems))
    rows = [_row(rules) for rules in loaded]
    if as_json:
        emit_json(rows)
    elif as_csv:
        writer = csv.DictWriter(sys.stdout, fieldnames=list(rows[0]) if rows else ["fiscal_year"])
        writer.writeheader()
        writer.writerows(rows)
    else:
        for row in rows:
            click.echo(
                f"FY{row['fiscal_year']} {row['municipality']} {row['name']} "
                f"{row['method']}方式 医療 {row['medical_income_rate']:.2%}/"
                f"{row['medical_per_capita']:,}/{row['medical_per_household']:,} "
                f"限度 {row['medical_cap']:,}/{row['support_cap']:,}/{row['care_cap']:,}"
                + ("" if row["confirmed"] else " [未確認]")
            )


def _row(rules: Any) -> dict[str, Any]:
    from kokuho.premiums import PARTS

    municipal = rules.municipal
    row: dict[str, Any] = {
        "fiscal_year": rules.fiscal_year,
        "municipality": municipal.municipality,
        "name": municipal.name,
        "method": municipal.method,
        "basic_deduction": rules.national.basic_deduction.value,
    }
    for part in PARTS:
        rates = municipal.parts.of(part)
        row[f"{part}_income_rate"] = float(rates.income_rate)
        row[f"{part}_asset_rate"] = float(rates.asset_rate)
        row[f"{part}_per_capita"] = rates.per_capita
        row[f"{part}_per_household"] = rates.per_household
        row[f"{part}_cap"] = rules.cap(part)
    row["instalment_months"] = " ".join(str(m) for m in municipal.instalments.months)
    row["confirmed"] = municipal.confirmed and rules.national.confirmed
    row["files"] = f"{rules.national_file} {rules.municipal_file}"
    return row


def _problems(error: Any) -> None:
    for problem in error.problems:
        click.echo(str(problem), err=True)
    fail(f"{len(error.problems)} problem(s) in the premium rule files: {error.problems[0]}")
