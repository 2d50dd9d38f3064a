"""``kokuho premiums levy``: the prefecture's 納付金 and each municipality's 標準保険料率 from a
levy input file (docs/premiums-levy.md). Registered on the ``premiums`` group."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import click

from kokuho.cli._output import emit_json, fail, json_option
from kokuho.cli._params import FISCAL_YEAR, INPUT_FILE_IF_ANY
from kokuho.cli._premiums import premiums


@premiums.command("levy")
@click.option(
    "--fiscal-year", "fiscal_year", type=FISCAL_YEAR, required=True, help="年度 (FY), e.g. 2020."
)
@click.option(
    "--inputs",
    "inputs_file",
    type=INPUT_FILE_IF_ANY,
    help="The levy input file (YAML: totals per part, municipalities' bases).",
)
@click.option("--example", is_flag=True, help="Use the shipped synthetic example inputs.")
@click.option(
    "--rules",
    "rules_file",
    type=INPUT_FILE_IF_ANY,
    help="A levy rule file instead of the shipped one of the fiscal year.",
)
@click.option("--csv", "as_csv", is_flag=True, help="Print one CSV row per municipality and part.")
@json_option
def levy_command(
    fiscal_year: int,
    inputs_file: Path | None,
    example: bool,
    rules_file: Path | None,
    as_csv: bool,
    as_json: bool,
) -> None:
    """納付金 and 標準保険料率 per municipality and part (医療, 支援, 介護), beside actual rates."""
    from kokuho.premiums import (
        LEVY_COLUMNS,
        LevyError,
        LevyFileError,
        example_levy_inputs,
        levy,
        levy_document,
        levy_rows,
        load_levy_inputs,
        load_levy_rules,
    )

    if as_csv and as_json:
        fail("--csv and --json exclude each other")
    if (inputs_file is None) == (not example):
        fail("give either --inputs FILE or --example")
    try:
        rules = load_levy_rules(rules_file if rules_file is not None else fiscal_year)
        if rules.fiscal_year != fiscal_year:
            fail(f"{rules.path}: fiscal_year: {rules.fiscal_year}, not {fiscal_year}")
        inputs = example_levy_inputs() if inputs_file is None else load_levy_inputs(inputs_file)
        if inputs.fiscal_year != fiscal_year:
            fail(f"{inputs.path}: fiscal_year: {inputs.fiscal_year}, not {fiscal_year}")
        result = levy(inputs, rules)
    except (LevyFileError, LevyError) as error:
        fail(str(error))
    if as_json:
        emit_json(levy_document(result))
        return
    rows = levy_rows(result)
    if as_csv:
        buffer = io.StringIO()
        from kokuho.store import spreadsheet_text

        writer = csv.DictWriter(buffer, fieldnames=LEVY_COLUMNS, lineterminator="\n")
        writer.writeheader()
        # The names come from the inputs file: none may reach a spreadsheet as a formula (the
        # other columns are codes and numbers, a negative difference among them).
        writer.writerows({**row, "name": spreadsheet_text(row["name"])} for row in rows)
        click.echo(buffer.getvalue(), nl=False)
        return
    for summary in result.parts:
        click.echo(
            f"{summary.part}: total {summary.total:,} yen  α {summary.alpha}  β {summary.beta}"
            f"  γ {summary.gamma}"
        )
    header = ("code", "name", "part", "納付金", "所得割率%", "均等割", "平等割")
    click.echo("{:6} {:10} {:7} {:>15} {:>9} {:>8} {:>8}".format(*header))
    for row in rows:
        click.echo(
            f"{row['code']!s:6} {row['name']!s:10} {row['part']!s:7} {row['levy']:>15,} "
            f"{row['income_rate']!s:>9} {row['per_capita']:>8,} {row['per_household']:>8,}"
            + (
                f"  actual−standard: {_signed(row['diff_income_rate'])} % /"
                f" {row['diff_per_capita']:+,}"
                f" / {row['diff_per_household']:+,}"
                if row["diff_per_capita"] is not None
                else ""
            )
        )
    if result.unconfirmed:
        click.echo(f"unconfirmed rule values: {', '.join(result.unconfirmed)}")


def _signed(text: object) -> str:
    return str(text) if str(text).startswith("-") else f"+{text}"
