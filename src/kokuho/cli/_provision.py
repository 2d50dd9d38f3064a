"""``kokuho provision``: data provision (データ提供). The release check (公表物確認) is here; the
workflow (apply, review, extract, requests) comes later (docs/provision.md)."""

from __future__ import annotations

from pathlib import Path

import click

from kokuho.cli._output import emit_json, fail, json_option
from kokuho.cli._params import POPULATION

#: Exit code of a readable table that breaks the rules (1 is a file that cannot be read).
BREAKS_RULES = 3


@click.group(name="provision")
def provision() -> None:
    """データ提供: pseudonymous IDs and safe release (最小集計単位) of result tables
    (docs/provision.md)."""


@provision.command(name="release-check")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--population",
    type=POPULATION,
    help="The table is of one 市区町村 with this many inhabitants (its extra rule applies).",
)
@click.option(
    "--providers",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The same table counting the 医療機関 or 保険者 behind each cell.",
)
@json_option
def release_check(
    file: Path, population: int | None, providers: Path | None, as_json: bool
) -> None:
    """Say which cells of a result table (CSV, UTF-8 or cp932) break the release rules.

    Rules: no shown count from 1 to 9 (最小集計単位), no hidden cell that the shown cells and
    the totals give away (二次秘匿), and the 市区町村 extras of
    data/provision/release_rules.yaml. Exit code 0: fit to publish; 3: breaks the rules;
    1: the file cannot be read as a table of counts.
    """
    from kokuho.provision import check_file, release_rules
    from kokuho.store import FileProblemsError

    try:
        result = check_file(file, release_rules(), population=population, providers=providers)
    except FileProblemsError as error:
        fail(str(error))
    if as_json:
        emit_json(
            {
                "file": result.file,
                "ok": result.ok,
                "minimum_cell": result.minimum_cell,
                "rows": result.rows,
                "columns": result.columns,
                "hidden": result.hidden,
                "findings": list(result.findings),
            }
        )
    else:
        verdict = "fit to publish" if result.ok else f"{len(result.findings)} finding(s)"
        click.echo(
            f"{result.file}: {result.rows} rows × {result.columns} columns, "
            f"{result.hidden} hidden, minimum {result.minimum_cell}: {verdict}"
        )
        for finding in result.findings:
            click.echo(f"  {finding}")
    if not result.ok:
        raise SystemExit(BREAKS_RULES)
